//! Second factors: a user's TOTP authenticator (RFC 6238), its seed sealed under the master key,
//! with the last accepted time step for replay protection; and single-use recovery codes, stored
//! as SHA-256 hashes. Both rows go with their user (and tenant).

use sea_orm_migration::prelude::*;

/// Creates the `user_totp` and `recovery_codes` tables.
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
enum UserTotp {
    Table,
    TenantId,
    UserId,
    Secret,
    Confirmed,
    LastUsedStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    TenantId,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

/// A foreign key from `(tenant_id, user_id)` of `table` to the user, deleted with it.
fn owned_by_user<T: IntoIden + 'static>(table: T, tenant: T, user: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(tenant)
        .from_col(user)
        .to_tbl(Users::Table)
        .to_col(Users::TenantId)
        .to_col(Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A foreign key from `tenant_id` of `table` to the tenant, deleted with it.
fn owned_by_tenant<T: IntoIden + 'static>(table: T, tenant: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, tenant)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserTotp::Table)
                    .col(ColumnDef::new(UserTotp::TenantId).uuid().not_null())
                    .col(ColumnDef::new(UserTotp::UserId).uuid().not_null())
                    // base64url of nonce ‖ AES-256-GCM ciphertext ‖ tag.
                    .col(ColumnDef::new(UserTotp::Secret).text().not_null())
                    .col(ColumnDef::new(UserTotp::Confirmed).boolean().not_null())
                    .col(ColumnDef::new(UserTotp::LastUsedStep).big_integer().null())
                    .col(ColumnDef::new(UserTotp::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(UserTotp::TenantId)
                            .col(UserTotp::UserId),
                    )
                    .foreign_key(&mut owned_by_tenant(UserTotp::Table, UserTotp::TenantId))
                    .foreign_key(&mut owned_by_user(
                        UserTotp::Table,
                        UserTotp::TenantId,
                        UserTotp::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(ColumnDef::new(RecoveryCodes::TenantId).uuid().not_null())
                    .col(ColumnDef::new(RecoveryCodes::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(RecoveryCodes::CodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecoveryCodes::UsedAt).big_integer().null())
                    .col(
                        ColumnDef::new(RecoveryCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecoveryCodes::TenantId)
                            .col(RecoveryCodes::UserId)
                            .col(RecoveryCodes::CodeHash),
                    )
                    .foreign_key(&mut owned_by_tenant(
                        RecoveryCodes::Table,
                        RecoveryCodes::TenantId,
                    ))
                    .foreign_key(&mut owned_by_user(
                        RecoveryCodes::Table,
                        RecoveryCodes::TenantId,
                        RecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecoveryCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserTotp::Table).to_owned())
            .await
    }
}
