//! Admin roles held by users (issue 8, the admin console): `users.admin_role` is `NULL` for an
//! ordinary user, else `operator` or `auditor` in the system tenant and `tenant_admin` or
//! `auditor` elsewhere. Additive: a nullable column and an index, so older nodes keep working.

use sea_orm_migration::prelude::*;

/// Adds `users.admin_role` and an index for listing a tenant's admins.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    AdminRole,
}

/// The index behind `GET /tenants/{slug}/users?role=…`.
const INDEX: &str = "idx_users_tenant_admin_role";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::AdminRole).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::AdminRole)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Users::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::AdminRole)
                    .to_owned(),
            )
            .await
    }
}
