//! The `tenant_templates` table: a tenant's overrides of the default page templates, one row per
//! overridden template; a template without a row renders the default.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A template override row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_templates")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Template name (`layout`, `login`, …).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Handlebars source.
    pub source: String,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
