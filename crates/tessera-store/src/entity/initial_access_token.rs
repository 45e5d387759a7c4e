//! The `initial_access_tokens` table: bearer tokens a tenant admin hands out so that someone may
//! register a client dynamically (RFC 7591 §3), stored as SHA-256 hex.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// An initial access token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "initial_access_tokens")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Public identifier (for listing and deleting).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Free text saying what it is for.
    pub description: Option<String>,
    /// Unix seconds after which it is refused; `None`: never.
    pub expires_at: Option<i64>,
    /// Registrations it allows; `None`: unlimited.
    pub max_uses: Option<i32>,
    /// Registrations done with it.
    pub uses: i32,
    /// Unix seconds when it was created.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
