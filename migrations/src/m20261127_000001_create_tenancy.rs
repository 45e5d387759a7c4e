//! Tenants, their signing keys, clients and scope definitions, and the change feed through which
//! every node (and a running server after a CLI command) learns that a tenant snapshot is stale.
//! Times are whole Unix seconds (`BIGINT`), identical on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// Creates the tenancy tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Status,
    SigningAlg,
    IsSystem,
    AccessTokenTtl,
    KeyRotationInterval,
    KeysRotateAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    TenantId,
    Kid,
    Alg,
    State,
    PublicJwk,
    PrivateKey,
    KekId,
    CreatedAt,
    ActivatedAt,
    RetiredAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    TenantId,
    ClientId,
    Name,
    ClientType,
    SecretHash,
    GrantTypes,
    RedirectUris,
    Scopes,
    TokenFormat,
    AdminRole,
    AdminTenantId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Scopes {
    Table,
    TenantId,
    Name,
    Description,
    Claims,
    IsStandard,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ChangeFeed {
    Table,
    Seq,
    TenantId,
    TenantSlug,
    What,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Tenants::Slug)
                            .string_len(63)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Tenants::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Tenants::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Tenants::SigningAlg)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::IsSystem)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Tenants::AccessTokenTtl)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::KeyRotationInterval)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::KeysRotateAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tenants::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Tenants::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        // The rotation scheduler asks for the tenants whose keys are due, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_keys_rotate_at")
                    .table(Tenants::Table)
                    .col(Tenants::KeysRotateAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(ColumnDef::new(SigningKeys::TenantId).uuid().not_null())
                    .col(ColumnDef::new(SigningKeys::Kid).string_len(64).not_null())
                    .col(ColumnDef::new(SigningKeys::Alg).string_len(16).not_null())
                    .col(ColumnDef::new(SigningKeys::State).string_len(16).not_null())
                    .col(ColumnDef::new(SigningKeys::PublicJwk).text().not_null())
                    .col(ColumnDef::new(SigningKeys::PrivateKey).blob().not_null())
                    .col(ColumnDef::new(SigningKeys::KekId).string_len(32).not_null())
                    .col(
                        ColumnDef::new(SigningKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SigningKeys::ActivatedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(SigningKeys::RetiredAt).big_integer().null())
                    .col(ColumnDef::new(SigningKeys::ExpiresAt).big_integer().null())
                    .primary_key(
                        Index::create()
                            .col(SigningKeys::TenantId)
                            .col(SigningKeys::Kid),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SigningKeys::Table, SigningKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(ColumnDef::new(Clients::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Clients::ClientId).string_len(255).not_null())
                    .col(ColumnDef::new(Clients::Name).string_len(200).not_null())
                    .col(
                        ColumnDef::new(Clients::ClientType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Clients::SecretHash).string_len(64).null())
                    .col(ColumnDef::new(Clients::GrantTypes).text().not_null())
                    .col(ColumnDef::new(Clients::RedirectUris).text().not_null())
                    .col(ColumnDef::new(Clients::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(Clients::TokenFormat)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Clients::AdminRole).string_len(32).null())
                    .col(ColumnDef::new(Clients::AdminTenantId).uuid().null())
                    .col(ColumnDef::new(Clients::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Clients::UpdatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Clients::TenantId)
                            .col(Clients::ClientId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clients::Table, Clients::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Scopes::Table)
                    .col(ColumnDef::new(Scopes::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Scopes::Name).string_len(128).not_null())
                    .col(ColumnDef::new(Scopes::Description).text().not_null())
                    .col(ColumnDef::new(Scopes::Claims).text().not_null())
                    .col(
                        ColumnDef::new(Scopes::IsStandard)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Scopes::CreatedAt).big_integer().not_null())
                    .primary_key(Index::create().col(Scopes::TenantId).col(Scopes::Name))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Scopes::Table, Scopes::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ChangeFeed::Table)
                    .col(
                        ColumnDef::new(ChangeFeed::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ChangeFeed::TenantId).uuid().null())
                    .col(ColumnDef::new(ChangeFeed::TenantSlug).string_len(63).null())
                    .col(ColumnDef::new(ChangeFeed::What).string_len(64).not_null())
                    .col(
                        ColumnDef::new(ChangeFeed::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_feed_created_at")
                    .table(ChangeFeed::Table)
                    .col(ChangeFeed::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChangeFeed::Table.into_iden(),
            Scopes::Table.into_iden(),
            Clients::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
