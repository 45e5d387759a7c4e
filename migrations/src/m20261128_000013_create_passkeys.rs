//! Passkeys: a user's WebAuthn credentials (W3C WebAuthn Level 3), each named by its owner, with
//! the credential as the WebAuthn library serializes it (public key, sign counter, flags). The
//! credential id is unique within a tenant; rows go with their user (and tenant).

use sea_orm_migration::prelude::*;

/// Creates the `user_passkeys` table.
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
}

#[derive(DeriveIden)]
enum UserPasskeys {
    Table,
    TenantId,
    Id,
    UserId,
    Name,
    CredentialId,
    Passkey,
    BackupEligible,
    BackedUp,
    CreatedAt,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserPasskeys::Table)
                    .col(ColumnDef::new(UserPasskeys::TenantId).uuid().not_null())
                    .col(ColumnDef::new(UserPasskeys::Id).uuid().not_null())
                    .col(ColumnDef::new(UserPasskeys::UserId).uuid().not_null())
                    .col(ColumnDef::new(UserPasskeys::Name).string_len(64).not_null())
                    // base64url of the credential id (WebAuthn §6.1: at most 1023 bytes).
                    .col(
                        ColumnDef::new(UserPasskeys::CredentialId)
                            .string_len(1400)
                            .not_null(),
                    )
                    // The credential as JSON: public key, sign counter, flags. Not a secret.
                    .col(ColumnDef::new(UserPasskeys::Passkey).text().not_null())
                    .col(
                        ColumnDef::new(UserPasskeys::BackupEligible)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserPasskeys::BackedUp).boolean().not_null())
                    .col(
                        ColumnDef::new(UserPasskeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserPasskeys::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(UserPasskeys::TenantId)
                            .col(UserPasskeys::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserPasskeys::Table, UserPasskeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(UserPasskeys::Table)
                            .from_col(UserPasskeys::TenantId)
                            .from_col(UserPasskeys::UserId)
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
                    .name("ux_user_passkeys_credential")
                    .table(UserPasskeys::Table)
                    .col(UserPasskeys::TenantId)
                    .col(UserPasskeys::CredentialId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_user_passkeys_user")
                    .table(UserPasskeys::Table)
                    .col(UserPasskeys::TenantId)
                    .col(UserPasskeys::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserPasskeys::Table).to_owned())
            .await
    }
}
