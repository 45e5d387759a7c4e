//! The `pushed_requests` table: authorization requests a client pushed (RFC 9126 §2), validated
//! and waiting for the browser to arrive at `/authorize` with their `request_uri`.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A pushed authorization request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pushed_requests")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the random part of the `request_uri`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub handle: String,
    /// The client that pushed it.
    pub client_id: String,
    /// The authorization request parameters, a JSON document.
    pub params: String,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// Unix seconds when it was pushed.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
