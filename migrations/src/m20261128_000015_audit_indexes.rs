//! Indexes for the audit log's filters (action, actor, user) and its `(occurred_at, id)` keyset
//! order. Additive: only indexes, so older nodes keep working unchanged.

use sea_orm_migration::prelude::*;

/// Adds the audit log's query indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TenantId,
    OccurredAt,
    Id,
    Action,
    Actor,
    UserId,
}

/// The indexes: name and columns after `tenant_id`.
fn indexes() -> Vec<(&'static str, Vec<AuditEvents>)> {
    vec![
        (
            "idx_audit_events_tenant_time_id",
            vec![AuditEvents::OccurredAt, AuditEvents::Id],
        ),
        (
            "idx_audit_events_tenant_action",
            vec![AuditEvents::Action, AuditEvents::OccurredAt],
        ),
        (
            "idx_audit_events_tenant_actor",
            vec![AuditEvents::Actor, AuditEvents::OccurredAt],
        ),
        (
            "idx_audit_events_tenant_user",
            vec![AuditEvents::UserId, AuditEvents::OccurredAt],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in indexes() {
            let mut index = Index::create();
            index
                .name(name)
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .if_not_exists();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in indexes() {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(AuditEvents::Table)
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
