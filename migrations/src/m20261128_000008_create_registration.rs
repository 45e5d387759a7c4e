//! Dynamic client registration (RFC 7591, RFC 7592): the tenant's initial access tokens (who may
//! register, RFC 7591 §3) and the registration access token of each dynamically registered
//! client (RFC 7592 §3). Both tokens are stored only as SHA-256 hex hashes.

use sea_orm_migration::prelude::*;

/// Creates the `initial_access_tokens` and `registration_access_tokens` tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InitialAccessTokens {
    Table,
    TenantId,
    Id,
    TokenHash,
    Description,
    ExpiresAt,
    MaxUses,
    Uses,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RegistrationAccessTokens {
    Table,
    TenantId,
    ClientId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InitialAccessTokens::Table)
                    .col(
                        ColumnDef::new(InitialAccessTokens::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(InitialAccessTokens::Id).uuid().not_null())
                    .col(
                        ColumnDef::new(InitialAccessTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InitialAccessTokens::Description)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InitialAccessTokens::ExpiresAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InitialAccessTokens::MaxUses)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InitialAccessTokens::Uses)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InitialAccessTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(InitialAccessTokens::TenantId)
                            .col(InitialAccessTokens::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InitialAccessTokens::Table, InitialAccessTokens::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_initial_access_tokens_hash")
                    .table(InitialAccessTokens::Table)
                    .col(InitialAccessTokens::TenantId)
                    .col(InitialAccessTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistrationAccessTokens::Table)
                    .col(
                        ColumnDef::new(RegistrationAccessTokens::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RegistrationAccessTokens::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RegistrationAccessTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RegistrationAccessTokens::ExpiresAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RegistrationAccessTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RegistrationAccessTokens::TenantId)
                            .col(RegistrationAccessTokens::ClientId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RegistrationAccessTokens::Table,
                                RegistrationAccessTokens::TenantId,
                            )
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RegistrationAccessTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(InitialAccessTokens::Table).to_owned())
            .await
    }
}
