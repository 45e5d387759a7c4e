//! The `template_drafts` table: at most one unpublished draft per `(tenant_id, name)`; pages
//! never read it.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A draft of a template.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "template_drafts")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Template name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Handlebars source, possibly broken.
    pub source: String,
    /// Unix seconds of the last save.
    pub updated_at: i64,
    /// Audit actor who saved it last.
    pub updated_by: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
