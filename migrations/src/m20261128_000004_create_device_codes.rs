//! The device authorization grant (RFC 8628): device codes addressed by the SHA-256 of the
//! device code, findable by the SHA-256 of the user code, carrying the user's decision and the
//! polling state (`interval` grows on `slow_down`, RFC 8628 §3.5).

use sea_orm_migration::prelude::*;

/// Creates the `device_codes` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DeviceCodes {
    Table,
    TenantId,
    DeviceCodeHash,
    UserCodeHash,
    ClientId,
    Scopes,
    Resources,
    Status,
    GrantedScopes,
    UserId,
    Sid,
    AuthTime,
    Acr,
    Amr,
    Interval,
    LastPolledAt,
    ExpiresAt,
    ConsumedAt,
    FamilyId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeviceCodes::Table)
                    .col(ColumnDef::new(DeviceCodes::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(DeviceCodes::DeviceCodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::UserCodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::ClientId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeviceCodes::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(DeviceCodes::Resources)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeviceCodes::GrantedScopes).text().null())
                    .col(ColumnDef::new(DeviceCodes::UserId).uuid().null())
                    .col(ColumnDef::new(DeviceCodes::Sid).string_len(64).null())
                    .col(ColumnDef::new(DeviceCodes::AuthTime).big_integer().null())
                    .col(ColumnDef::new(DeviceCodes::Acr).string_len(255).null())
                    .col(
                        ColumnDef::new(DeviceCodes::Amr)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::Interval)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::LastPolledAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(DeviceCodes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeviceCodes::ConsumedAt).big_integer().null())
                    .col(ColumnDef::new(DeviceCodes::FamilyId).string_len(64).null())
                    .col(
                        ColumnDef::new(DeviceCodes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(DeviceCodes::TenantId)
                            .col(DeviceCodes::DeviceCodeHash),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeviceCodes::Table, DeviceCodes::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // RFC 8628 §6.1: a user code names one live device code of its tenant.
        manager
            .create_index(
                Index::create()
                    .name("idx_device_codes_user_code")
                    .table(DeviceCodes::Table)
                    .col(DeviceCodes::TenantId)
                    .col(DeviceCodes::UserCodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_codes_expires")
                    .table(DeviceCodes::Table)
                    .col(DeviceCodes::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeviceCodes::Table).to_owned())
            .await
    }
}
