//! Schema migrations, the only place the schema changes. Each migration declares its own
//! `DeriveIden` enums and imports none of Tessera's crates, so an applied migration never
//! changes meaning. Migrations are additive; never edit one that has shipped.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_tenancy;
mod m20261127_000002_create_signin;
mod m20261128_000003_create_tokens;
mod m20261128_000004_create_device_codes;
mod m20261128_000005_create_pushed_requests;
mod m20261128_000006_client_secret_jwt;
mod m20261128_000007_create_logout_outbox;
mod m20261128_000008_create_registration;
mod m20261128_000009_create_mail_outbox;
mod m20261128_000011_create_mfa;
mod m20261128_000012_create_account_links;
mod m20261128_000013_create_passkeys;
mod m20261128_000014_create_tenant_domains;
mod m20261128_000015_audit_indexes;
mod m20261128_000016_user_admin_roles;
mod m20261128_000017_template_versions;

/// Runs every migration in order; `Migrator::up` is what `tessera migrate` and `tessera serve` call.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_tenancy::Migration),
            Box::new(m20261127_000002_create_signin::Migration),
            Box::new(m20261128_000003_create_tokens::Migration),
            Box::new(m20261128_000004_create_device_codes::Migration),
            Box::new(m20261128_000005_create_pushed_requests::Migration),
            Box::new(m20261128_000006_client_secret_jwt::Migration),
            Box::new(m20261128_000007_create_logout_outbox::Migration),
            Box::new(m20261128_000008_create_registration::Migration),
            Box::new(m20261128_000009_create_mail_outbox::Migration),
            Box::new(m20261128_000011_create_mfa::Migration),
            Box::new(m20261128_000012_create_account_links::Migration),
            Box::new(m20261128_000013_create_passkeys::Migration),
            Box::new(m20261128_000014_create_tenant_domains::Migration),
            Box::new(m20261128_000015_audit_indexes::Migration),
            Box::new(m20261128_000016_user_admin_roles::Migration),
            Box::new(m20261128_000017_template_versions::Migration),
        ]
    }
}
