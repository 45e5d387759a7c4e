//! The `refresh_tokens` table: refresh tokens by SHA-256 hex, each in a family, with the rotation
//! chain (`rotated_at`, `successor_hash`) that reuse detection reads.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A refresh token row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Family it belongs to.
    pub family_id: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Scopes it carries, space-delimited.
    pub scopes: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged for its successor.
    pub rotated_at: Option<i64>,
    /// SHA-256 hex of the successor.
    pub successor_hash: Option<String>,
    /// Uses inside the rotation grace window.
    pub grace_uses: i32,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
