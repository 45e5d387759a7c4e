//! The `sessions` table: server-side SSO sessions, keyed by the SHA-256 of the cookie value.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A session row. The cookie value itself is never stored, only its SHA-256 hex.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the cookie value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    /// Public session id (the `sid` claim), unique within the tenant.
    pub sid: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// When the user authenticated (Unix seconds).
    pub auth_time: i64,
    /// JSON array of authentication method references.
    pub amr: String,
    /// Authentication context class reference.
    pub acr: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Last use (Unix seconds), refreshed at most once a minute.
    pub last_seen_at: i64,
    /// Absolute end of the session (Unix seconds).
    pub expires_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
