//! Pushed authorization requests (RFC 9126): the validated parameters a client pushed, addressed
//! by `(tenant_id, SHA-256 hex of the random part of the request_uri)`, single use and short
//! lived.

use sea_orm_migration::prelude::*;

/// Creates the `pushed_requests` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PushedRequests {
    Table,
    TenantId,
    Handle,
    ClientId,
    Params,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PushedRequests::Table)
                    .col(ColumnDef::new(PushedRequests::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(PushedRequests::Handle)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushedRequests::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PushedRequests::Params).text().not_null())
                    .col(
                        ColumnDef::new(PushedRequests::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushedRequests::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PushedRequests::TenantId)
                            .col(PushedRequests::Handle),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PushedRequests::Table, PushedRequests::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pushed_requests_expires")
                    .table(PushedRequests::Table)
                    .col(PushedRequests::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PushedRequests::Table).to_owned())
            .await
    }
}
