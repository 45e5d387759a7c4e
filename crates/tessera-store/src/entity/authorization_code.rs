//! The `authorization_codes` table: issued codes by SHA-256 hex of the code, with everything the
//! token endpoint needs to redeem one (RFC 6749 §4.1.2, RFC 7636 §4.4).

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// An authorization code row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// Client the code was issued to.
    pub client_id: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// The `redirect_uri` of the authorization request.
    pub redirect_uri: String,
    /// Granted scopes, space-delimited.
    pub scopes: String,
    /// OIDC `nonce`.
    pub nonce: Option<String>,
    /// PKCE `code_challenge`.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256`).
    pub code_challenge_method: Option<String>,
    /// Session id (`sid` claim).
    pub sid: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// JSON array of authentication methods.
    pub amr: String,
    /// The OIDC `claims` request parameter as JSON text.
    pub claims_request: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was redeemed.
    pub consumed_at: Option<i64>,
    /// Token family the redemption created.
    pub family_id: Option<String>,
    /// JSON array of resource indicators (RFC 8707) the grant is for.
    pub resources: String,
    /// JWK thumbprint of the DPoP key the grant is bound to (RFC 9449 §10, §5).
    pub dpop_jkt: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
