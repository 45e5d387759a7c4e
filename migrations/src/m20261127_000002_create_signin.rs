//! Browser sign-in: users, SSO sessions, login throttling, consent grants, authorization codes,
//! token families and refresh tokens, per-tenant page templates; plus the tenant `settings`
//! document (branding and policies) and the client columns sign-in needs. Secrets (session ids,
//! codes, refresh tokens) are stored only as SHA-256 hex of high-entropy random values.

use sea_orm_migration::prelude::*;

/// Creates the sign-in tables and columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Settings,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    PostLogoutRedirectUris,
    FirstParty,
    RequirePkce,
    IdTokenAlg,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    Id,
    Username,
    Email,
    EmailVerified,
    Claims,
    PasswordHash,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TenantId,
    IdHash,
    Sid,
    UserId,
    AuthTime,
    Amr,
    Acr,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    TenantId,
    Key,
    Failures,
    WindowStartedAt,
    LockedUntil,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConsentGrants {
    Table,
    TenantId,
    UserId,
    ClientId,
    Scopes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TokenFamilies {
    Table,
    TenantId,
    Id,
    ClientId,
    UserId,
    Sid,
    Scopes,
    AuthTime,
    Acr,
    Amr,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    TenantId,
    CodeHash,
    ClientId,
    UserId,
    RedirectUri,
    Scopes,
    Nonce,
    CodeChallenge,
    CodeChallengeMethod,
    Sid,
    AuthTime,
    Acr,
    Amr,
    ClaimsRequest,
    ExpiresAt,
    ConsumedAt,
    FamilyId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TenantId,
    TokenHash,
    FamilyId,
    ClientId,
    Scopes,
    IssuedAt,
    ExpiresAt,
    RotatedAt,
    SuccessorHash,
    GraceUses,
}

#[derive(DeriveIden)]
enum TenantTemplates {
    Table,
    TenantId,
    Name,
    Source,
    UpdatedAt,
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

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::Settings)
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(Clients::PostLogoutRedirectUris)
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
            ColumnDef::new(Clients::FirstParty)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Clients::RequirePkce)
                .boolean()
                .not_null()
                .default(true)
                .to_owned(),
            ColumnDef::new(Clients::IdTokenAlg)
                .string_len(16)
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Users::Id).uuid().not_null())
                    .col(ColumnDef::new(Users::Username).string_len(255).not_null())
                    .col(ColumnDef::new(Users::Email).string_len(320).null())
                    .col(
                        ColumnDef::new(Users::EmailVerified)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Users::Claims).text().not_null())
                    .col(ColumnDef::new(Users::PasswordHash).text().null())
                    .col(ColumnDef::new(Users::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Users::UpdatedAt).big_integer().not_null())
                    .primary_key(Index::create().col(Users::TenantId).col(Users::Id))
                    .foreign_key(&mut owned_by_tenant(Users::Table, Users::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_users_username",
                Users::Table,
                vec![Users::TenantId.into_iden(), Users::Username.into_iden()],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_users_email",
                Users::Table,
                vec![Users::TenantId.into_iden(), Users::Email.into_iden()],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::IdHash).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::Sid).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::AuthTime).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::Amr).text().not_null())
                    .col(ColumnDef::new(Sessions::Acr).string_len(255).null())
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(Sessions::LastSeenAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Sessions::TenantId)
                            .col(Sessions::IdHash),
                    )
                    .foreign_key(&mut owned_by_tenant(Sessions::Table, Sessions::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_sessions_sid",
                Sessions::Table,
                vec![Sessions::TenantId.into_iden(), Sessions::Sid.into_iden()],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_sessions_user",
                Sessions::Table,
                vec![Sessions::TenantId.into_iden(), Sessions::UserId.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_sessions_expires_at",
                Sessions::Table,
                vec![Sessions::ExpiresAt.into_iden()],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(ColumnDef::new(LoginThrottle::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(LoginThrottle::Key)
                            .string_len(300)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LoginThrottle::Failures).integer().not_null())
                    .col(
                        ColumnDef::new(LoginThrottle::WindowStartedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginThrottle::LockedUntil)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(LoginThrottle::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(LoginThrottle::TenantId)
                            .col(LoginThrottle::Key),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        LoginThrottle::Table,
                        LoginThrottle::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConsentGrants::Table)
                    .col(ColumnDef::new(ConsentGrants::TenantId).uuid().not_null())
                    .col(ColumnDef::new(ConsentGrants::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(ConsentGrants::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ConsentGrants::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(ConsentGrants::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConsentGrants::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ConsentGrants::TenantId)
                            .col(ConsentGrants::UserId)
                            .col(ConsentGrants::ClientId),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        ConsentGrants::Table,
                        ConsentGrants::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenFamilies::Table)
                    .col(ColumnDef::new(TokenFamilies::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TokenFamilies::Id).string_len(64).not_null())
                    .col(
                        ColumnDef::new(TokenFamilies::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TokenFamilies::UserId).uuid().not_null())
                    .col(ColumnDef::new(TokenFamilies::Sid).string_len(64).null())
                    .col(ColumnDef::new(TokenFamilies::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(TokenFamilies::AuthTime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TokenFamilies::Acr).string_len(255).null())
                    .col(ColumnDef::new(TokenFamilies::Amr).text().not_null())
                    .col(
                        ColumnDef::new(TokenFamilies::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::RevokedReason)
                            .string_len(64)
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TokenFamilies::TenantId)
                            .col(TokenFamilies::Id),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        TokenFamilies::Table,
                        TokenFamilies::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_token_families_user_client",
                TokenFamilies::Table,
                vec![
                    TokenFamilies::TenantId.into_iden(),
                    TokenFamilies::UserId.into_iden(),
                    TokenFamilies::ClientId.into_iden(),
                ],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_token_families_expires_at",
                TokenFamilies::Table,
                vec![TokenFamilies::ExpiresAt.into_iden()],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(
                        ColumnDef::new(AuthorizationCodes::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::CodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuthorizationCodes::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuthorizationCodes::RedirectUri)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuthorizationCodes::Scopes).text().not_null())
                    .col(ColumnDef::new(AuthorizationCodes::Nonce).text().null())
                    .col(
                        ColumnDef::new(AuthorizationCodes::CodeChallenge)
                            .string_len(128)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::CodeChallengeMethod)
                            .string_len(16)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::Sid)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::AuthTime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::Acr)
                            .string_len(255)
                            .null(),
                    )
                    .col(ColumnDef::new(AuthorizationCodes::Amr).text().not_null())
                    .col(
                        ColumnDef::new(AuthorizationCodes::ClaimsRequest)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::ConsumedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::FamilyId)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuthorizationCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuthorizationCodes::TenantId)
                            .col(AuthorizationCodes::CodeHash),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        AuthorizationCodes::Table,
                        AuthorizationCodes::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_authorization_codes_expires_at",
                AuthorizationCodes::Table,
                vec![AuthorizationCodes::ExpiresAt.into_iden()],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(ColumnDef::new(RefreshTokens::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::FamilyId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefreshTokens::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::IssuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::RotatedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::SuccessorHash)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::GraceUses)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(RefreshTokens::TenantId)
                            .col(RefreshTokens::TokenHash),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        RefreshTokens::Table,
                        RefreshTokens::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_refresh_tokens_family",
                RefreshTokens::Table,
                vec![
                    RefreshTokens::TenantId.into_iden(),
                    RefreshTokens::FamilyId.into_iden(),
                ],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantTemplates::Table)
                    .col(ColumnDef::new(TenantTemplates::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(TenantTemplates::Name)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TenantTemplates::Source).text().not_null())
                    .col(
                        ColumnDef::new(TenantTemplates::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TenantTemplates::TenantId)
                            .col(TenantTemplates::Name),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        TenantTemplates::Table,
                        TenantTemplates::TenantId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TenantTemplates::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            TokenFamilies::Table.into_iden(),
            ConsentGrants::Table.into_iden(),
            LoginThrottle::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Clients::IdTokenAlg.into_iden(),
            Clients::RequirePkce.into_iden(),
            Clients::FirstParty.into_iden(),
            Clients::PostLogoutRedirectUris.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::Settings)
                    .to_owned(),
            )
            .await
    }
}
