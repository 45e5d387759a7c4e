//! Account links: the single-use, expiring links of the account lifecycle (confirm an e-mail
//! address, reset a password, accept an invitation). Only the SHA-256 hash of a link's token is
//! stored; a link goes with its user (and tenant). Also an index on `users (tenant_id, email)`,
//! for password resets requested by e-mail address.

use sea_orm_migration::prelude::*;

/// Creates the `account_links` table and the users' e-mail index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    Id,
    Email,
}

#[derive(DeriveIden)]
enum AccountLinks {
    Table,
    TenantId,
    TokenHash,
    Kind,
    UserId,
    Email,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

/// Name of the index on the users' e-mail addresses.
const USERS_EMAIL_INDEX: &str = "idx_users_tenant_email";
/// Name of the index of a user's links.
const LINKS_USER_INDEX: &str = "idx_account_links_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccountLinks::Table)
                    .col(ColumnDef::new(AccountLinks::TenantId).uuid().not_null())
                    // SHA-256 hex of the token in the link.
                    .col(
                        ColumnDef::new(AccountLinks::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    // `verify_email`, `password_reset` or `invitation`.
                    .col(ColumnDef::new(AccountLinks::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(AccountLinks::UserId).uuid().not_null())
                    // The address the link was sent to (a verification confirms exactly it).
                    .col(ColumnDef::new(AccountLinks::Email).text().not_null())
                    .col(
                        ColumnDef::new(AccountLinks::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccountLinks::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccountLinks::UsedAt).big_integer().null())
                    .primary_key(
                        Index::create()
                            .col(AccountLinks::TenantId)
                            .col(AccountLinks::TokenHash),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountLinks::Table, AccountLinks::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(AccountLinks::Table)
                            .from_col(AccountLinks::TenantId)
                            .from_col(AccountLinks::UserId)
                            .to_tbl(Users::Table)
                            .to_col(Users::TenantId)
                            .to_col(Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LINKS_USER_INDEX)
                    .table(AccountLinks::Table)
                    .col(AccountLinks::TenantId)
                    .col(AccountLinks::UserId)
                    .col(AccountLinks::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(USERS_EMAIL_INDEX)
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::Email)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(USERS_EMAIL_INDEX)
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AccountLinks::Table).to_owned())
            .await
    }
}
