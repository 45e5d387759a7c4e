//! The `token_families` table: one row per redeemed authorization code, the grant that every
//! access and refresh token descending from it belongs to (and is revoked with).

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A token family row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_families")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Random id (the `gid` claim of its access tokens).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Client the grant was made to.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// SSO session it was born in.
    pub sid: Option<String>,
    /// Granted scopes, space-delimited.
    pub scopes: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// JSON array of authentication methods.
    pub amr: String,
    /// JSON array of resource indicators (RFC 8707) the grant is for.
    pub resources: String,
    /// JWK thumbprint of the DPoP key the grant is bound to (RFC 9449 §10, §5).
    pub dpop_jkt: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Absolute end of the family.
    pub expires_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
