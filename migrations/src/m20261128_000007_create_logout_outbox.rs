//! The logout outbox (OpenID Connect Back-Channel Logout 1.0 §2.5): one row per client to notify
//! of one ended session, addressed by `(tenant_id, id)`. Delivery workers claim due rows
//! (`next_attempt_at`), sign a fresh logout token at each attempt, and record the outcome; rows
//! end `delivered` or `given_up` and are deleted by the janitor after a while.

use sea_orm_migration::prelude::*;

/// Creates the `logout_outbox` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LogoutOutbox {
    Table,
    TenantId,
    Id,
    ClientId,
    Subject,
    Sid,
    State,
    Attempts,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LogoutOutbox::Table)
                    .col(ColumnDef::new(LogoutOutbox::TenantId).uuid().not_null())
                    .col(ColumnDef::new(LogoutOutbox::Id).uuid().not_null())
                    .col(
                        ColumnDef::new(LogoutOutbox::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LogoutOutbox::Subject)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LogoutOutbox::Sid).string_len(255).null())
                    .col(
                        ColumnDef::new(LogoutOutbox::State)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LogoutOutbox::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(LogoutOutbox::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LogoutOutbox::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LogoutOutbox::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(LogoutOutbox::TenantId)
                            .col(LogoutOutbox::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LogoutOutbox::Table, LogoutOutbox::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_logout_outbox_due")
                    .table(LogoutOutbox::Table)
                    .col(LogoutOutbox::State)
                    .col(LogoutOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LogoutOutbox::Table).to_owned())
            .await
    }
}
