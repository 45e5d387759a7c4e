//! The mail outbox: one row per e-mail, rendered when it is queued (often in the transaction of
//! the change that causes it), addressed by `(tenant_id, id)`. Delivery workers on every node
//! claim due rows (`status`, `next_attempt_at`; on PostgreSQL `FOR UPDATE SKIP LOCKED`), send
//! them and record the outcome. Bodies are wiped once a mail is settled; the metadata stays until
//! the worker's sweep removes it.

use sea_orm_migration::prelude::*;

/// Creates the `mail_outbox` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    TenantId,
    Id,
    Template,
    FromAddress,
    ToAddress,
    Subject,
    TextBody,
    HtmlBody,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
    SettledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(ColumnDef::new(MailOutbox::TenantId).uuid().not_null())
                    .col(ColumnDef::new(MailOutbox::Id).uuid().not_null())
                    .col(
                        ColumnDef::new(MailOutbox::Template)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::FromAddress)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::ToAddress)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MailOutbox::Subject).text().not_null())
                    .col(ColumnDef::new(MailOutbox::TextBody).text().null())
                    .col(ColumnDef::new(MailOutbox::HtmlBody).text().null())
                    .col(ColumnDef::new(MailOutbox::Status).string_len(16).not_null())
                    .col(ColumnDef::new(MailOutbox::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(MailOutbox::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MailOutbox::LastError).text().null())
                    .col(
                        ColumnDef::new(MailOutbox::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MailOutbox::SettledAt).big_integer().null())
                    .primary_key(
                        Index::create()
                            .col(MailOutbox::TenantId)
                            .col(MailOutbox::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MailOutbox::Table, MailOutbox::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The claim: pending rows in due order.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_due")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::Status)
                    .col(MailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // The sweep of settled rows.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_settled")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::SettledAt)
                    .to_owned(),
            )
            .await?;
        // A tenant's listing, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_tenant_created")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::TenantId)
                    .col(MailOutbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}
