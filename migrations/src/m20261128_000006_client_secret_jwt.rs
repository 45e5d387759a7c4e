//! `client_secret_jwt` (RFC 7523 §2.2, OIDC Core §9): the server needs the plain client secret
//! to check an assertion's HMAC, so clients registered for that method also keep their secret
//! sealed under the master key (AES-256-GCM) in `clients.sealed_secret`; every other client has
//! `NULL` there and only the SHA-256 hash of its secret.

use sea_orm_migration::prelude::*;

/// Adds `clients.sealed_secret`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    SealedSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(ColumnDef::new(Clients::SealedSecret).blob().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::SealedSecret)
                    .to_owned(),
            )
            .await
    }
}
