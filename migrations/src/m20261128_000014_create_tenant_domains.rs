//! Custom domains: at most one host name per tenant on which the tenant is served as its own
//! issuer (`https://{domain}`). A domain is unique across the deployment and only routed once an
//! operator has marked it verified; rows go with their tenant. Additive: older nodes ignore it.

use sea_orm_migration::prelude::*;

/// Creates the `tenant_domains` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TenantDomains {
    Table,
    Domain,
    TenantId,
    VerificationToken,
    VerifiedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantDomains::Table)
                    // Lowercase ASCII host name (RFC 1123 §2.1), at most 253 characters.
                    .col(
                        ColumnDef::new(TenantDomains::Domain)
                            .string_len(253)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TenantDomains::TenantId).uuid().not_null())
                    // Published in DNS by the tenant; not a secret.
                    .col(
                        ColumnDef::new(TenantDomains::VerificationToken)
                            .string_len(64)
                            .not_null(),
                    )
                    // Unix seconds; NULL while pending.
                    .col(
                        ColumnDef::new(TenantDomains::VerifiedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TenantDomains::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantDomains::Table, TenantDomains::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tenant_domains_tenant")
                    .table(TenantDomains::Table)
                    .col(TenantDomains::TenantId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantDomains::Table).to_owned())
            .await
    }
}
