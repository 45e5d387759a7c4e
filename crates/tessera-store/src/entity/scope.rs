//! The `scopes` table: per-tenant scope definitions and the claims each releases.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A scope definition row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scopes")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Scope token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Text shown on the consent page.
    pub description: String,
    /// JSON array of claim names the scope releases.
    pub claims: String,
    /// Whether it is one of the OIDC standard scopes present in every tenant.
    pub is_standard: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
