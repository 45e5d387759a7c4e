//! Tokens by value and by reference: resource servers (RFC 8707 audiences with their token
//! format and lifetime), opaque access tokens stored as SHA-256 hashes, revoked JWT access-token
//! ids, the replay cache shared by every node (DPoP proof `jti`, RFC 9449 §11.1), and the audit
//! log; plus per-client options (authentication method, holder-of-key, token exchange) and the
//! resources and DPoP key an authorization code and its token family are bound to.

use sea_orm_migration::prelude::*;

/// Creates the token tables and columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Options,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    Resources,
    DpopJkt,
}

#[derive(DeriveIden)]
enum TokenFamilies {
    Table,
    Resources,
    DpopJkt,
}

#[derive(DeriveIden)]
enum ResourceServers {
    Table,
    TenantId,
    Identifier,
    Name,
    Scopes,
    TokenFormat,
    AccessTokenTtl,
    Introspectors,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TenantId,
    TokenHash,
    Jti,
    ClientId,
    Subject,
    UserId,
    FamilyId,
    Scopes,
    Audience,
    IssuedAt,
    ExpiresAt,
    RevokedAt,
    Jkt,
    X5t,
    AuthTime,
    Acr,
    Amr,
    Sid,
    Act,
    UserinfoClaims,
}

#[derive(DeriveIden)]
enum RevokedJtis {
    Table,
    TenantId,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ReplayCache {
    Table,
    TenantId,
    Key,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    OccurredAt,
    Action,
    Actor,
    UserId,
    ClientId,
    Ip,
    UserAgent,
    Details,
}

/// The `ON DELETE CASCADE` foreign key from a tenant-owned table to `tenants`.
fn owned_by_tenant(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden + 'static, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

fn add_column(table: impl IntoIden + 'static, column: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(column).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for alter in [
            add_column(
                Clients::Table,
                ColumnDef::new(Clients::Options)
                    .text()
                    .not_null()
                    .default("{}")
                    .to_owned(),
            ),
            add_column(
                AuthorizationCodes::Table,
                ColumnDef::new(AuthorizationCodes::Resources)
                    .text()
                    .not_null()
                    .default("[]")
                    .to_owned(),
            ),
            add_column(
                AuthorizationCodes::Table,
                ColumnDef::new(AuthorizationCodes::DpopJkt)
                    .string_len(64)
                    .null()
                    .to_owned(),
            ),
            add_column(
                TokenFamilies::Table,
                ColumnDef::new(TokenFamilies::Resources)
                    .text()
                    .not_null()
                    .default("[]")
                    .to_owned(),
            ),
            add_column(
                TokenFamilies::Table,
                ColumnDef::new(TokenFamilies::DpopJkt)
                    .string_len(64)
                    .null()
                    .to_owned(),
            ),
        ] {
            manager.alter_table(alter).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ResourceServers::Table)
                    .col(ColumnDef::new(ResourceServers::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(ResourceServers::Identifier)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceServers::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ResourceServers::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(ResourceServers::TokenFormat)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceServers::AccessTokenTtl)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ResourceServers::Introspectors)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceServers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceServers::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ResourceServers::TenantId)
                            .col(ResourceServers::Identifier),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        ResourceServers::Table,
                        ResourceServers::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(ColumnDef::new(AccessTokens::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AccessTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessTokens::Jti).string_len(64).not_null())
                    .col(
                        ColumnDef::new(AccessTokens::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::Subject)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessTokens::UserId).uuid().null())
                    .col(ColumnDef::new(AccessTokens::FamilyId).string_len(64).null())
                    .col(ColumnDef::new(AccessTokens::Scopes).text().not_null())
                    .col(ColumnDef::new(AccessTokens::Audience).text().not_null())
                    .col(
                        ColumnDef::new(AccessTokens::IssuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessTokens::RevokedAt).big_integer().null())
                    .col(ColumnDef::new(AccessTokens::Jkt).string_len(64).null())
                    .col(ColumnDef::new(AccessTokens::X5t).string_len(64).null())
                    .col(ColumnDef::new(AccessTokens::AuthTime).big_integer().null())
                    .col(ColumnDef::new(AccessTokens::Acr).string_len(255).null())
                    .col(
                        ColumnDef::new(AccessTokens::Amr)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .col(ColumnDef::new(AccessTokens::Sid).string_len(64).null())
                    .col(ColumnDef::new(AccessTokens::Act).text().null())
                    .col(
                        ColumnDef::new(AccessTokens::UserinfoClaims)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .primary_key(
                        Index::create()
                            .col(AccessTokens::TenantId)
                            .col(AccessTokens::TokenHash),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        AccessTokens::Table,
                        AccessTokens::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_access_tokens_family",
                AccessTokens::Table,
                vec![
                    AccessTokens::TenantId.into_iden(),
                    AccessTokens::FamilyId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_access_tokens_expires",
                AccessTokens::Table,
                vec![AccessTokens::ExpiresAt.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RevokedJtis::Table)
                    .col(ColumnDef::new(RevokedJtis::TenantId).uuid().not_null())
                    .col(ColumnDef::new(RevokedJtis::Jti).string_len(64).not_null())
                    .col(
                        ColumnDef::new(RevokedJtis::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RevokedJtis::TenantId)
                            .col(RevokedJtis::Jti),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        RevokedJtis::Table,
                        RevokedJtis::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReplayCache::Table)
                    .col(ColumnDef::new(ReplayCache::TenantId).uuid().not_null())
                    .col(ColumnDef::new(ReplayCache::Key).string_len(64).not_null())
                    .col(
                        ColumnDef::new(ReplayCache::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ReplayCache::TenantId)
                            .col(ReplayCache::Key),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        ReplayCache::Table,
                        ReplayCache::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_replay_cache_expires",
                ReplayCache::Table,
                vec![ReplayCache::ExpiresAt.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditEvents::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::OccurredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::Actor)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::UserId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::ClientId).string_len(255).null())
                    .col(ColumnDef::new(AuditEvents::Ip).string_len(64).null())
                    .col(
                        ColumnDef::new(AuditEvents::UserAgent)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::Details)
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        AuditEvents::Table,
                        AuditEvents::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_events_tenant_time",
                AuditEvents::Table,
                vec![
                    AuditEvents::TenantId.into_iden(),
                    AuditEvents::OccurredAt.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            ReplayCache::Table.into_iden(),
            RevokedJtis::Table.into_iden(),
            AccessTokens::Table.into_iden(),
            ResourceServers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for (table, column) in [
            (
                TokenFamilies::Table.into_iden(),
                TokenFamilies::DpopJkt.into_iden(),
            ),
            (
                TokenFamilies::Table.into_iden(),
                TokenFamilies::Resources.into_iden(),
            ),
            (
                AuthorizationCodes::Table.into_iden(),
                AuthorizationCodes::DpopJkt.into_iden(),
            ),
            (
                AuthorizationCodes::Table.into_iden(),
                AuthorizationCodes::Resources.into_iden(),
            ),
            (Clients::Table.into_iden(), Clients::Options.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
