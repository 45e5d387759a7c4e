//! The `access_tokens` table: opaque access tokens, addressed by `(tenant_id, SHA-256 hex)`.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// An opaque access token row; the token itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Public identifier (`jti` at introspection).
    pub jti: String,
    /// Client it was issued to.
    pub client_id: String,
    /// `sub`: the user id, or the client id for the client credentials grant.
    pub subject: String,
    /// The user, for user tokens.
    pub user_id: Option<UserId>,
    /// Token family (grant) it descends from.
    pub family_id: Option<String>,
    /// Space-delimited scopes.
    pub scopes: String,
    /// JSON array of audiences.
    pub audience: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was revoked (RFC 7009).
    pub revoked_at: Option<i64>,
    /// DPoP key thumbprint it is bound to (RFC 9449 §6).
    pub jkt: Option<String>,
    /// Certificate thumbprint it is bound to (RFC 8705 §3).
    pub x5t: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// JSON array of authentication methods.
    pub amr: String,
    /// SSO session id.
    pub sid: Option<String>,
    /// JSON `act` claim (RFC 8693 §4.1).
    pub act: Option<String>,
    /// JSON array of claim names the `claims` request asked userinfo to release.
    pub userinfo_claims: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
