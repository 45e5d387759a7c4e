//! The `resource_servers` table: the tenant's APIs, addressed by `(tenant_id, identifier)`.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A resource server row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_servers")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The audience: an absolute URI (RFC 8707 §2).
    #[sea_orm(primary_key, auto_increment = false)]
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// JSON array of the scopes it owns.
    pub scopes: String,
    /// `jwt` or `opaque`.
    pub token_format: String,
    /// Access-token lifetime, seconds; `NULL` means the tenant's.
    pub access_token_ttl: Option<i64>,
    /// JSON array of client ids allowed to introspect its tokens.
    pub introspectors: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
