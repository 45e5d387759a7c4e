//! The `template_versions` table: every published version of a tenant's template, numbered per
//! `(tenant_id, name)` from 1. Append-only: a rollback publishes an old source as a new version.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A published version of a template.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "template_versions")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Template name (`layout`, `login`, `email.layout`, …).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Version number, 1 for the first.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// Handlebars source.
    pub source: String,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Audit actor who published it; `None` for versions recorded by the upgrade.
    pub created_by: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
