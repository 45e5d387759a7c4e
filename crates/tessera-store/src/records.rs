//! Typed records handed out by the repositories.

use serde::Serialize;
use tessera_core::{
    AdminRole, ClientId, ClientType, GrantType, KeyState, Kid, Scope, ScopeSet, SigningAlg,
    TenantId, TenantSlug, TenantStatus, TokenFormat,
};

/// A tenant.
#[derive(Clone, Debug, Serialize)]
pub struct TenantRecord {
    /// Primary key.
    pub id: TenantId,
    /// URL name.
    pub slug: TenantSlug,
    /// Display name.
    pub name: String,
    /// Lifecycle state.
    pub status: TenantStatus,
    /// Algorithm of its signing keys.
    pub signing_alg: SigningAlg,
    /// Whether it is the system tenant.
    pub is_system: bool,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: i64,
    /// Seconds between scheduled key rotations.
    pub key_rotation_interval: i64,
    /// When the keys are next due for scheduled rotation (Unix seconds).
    pub keys_rotate_at: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A registered OAuth client.
#[derive(Clone, Debug, Serialize)]
pub struct ClientRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Public identifier.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// SHA-256 hex of the secret; never serialized.
    #[serde(skip)]
    pub secret_hash: Option<String>,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// Registered redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may request.
    pub scopes: ScopeSet,
    /// Access-token format.
    pub token_format: TokenFormat,
    /// Admin API role, for clients of the system tenant.
    pub admin_role: Option<AdminRole>,
    /// Tenant administered by a tenant-admin client.
    pub admin_tenant_id: Option<TenantId>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A scope definition.
#[derive(Clone, Debug, Serialize)]
pub struct ScopeRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Scope token.
    pub name: Scope,
    /// Consent-page description.
    pub description: String,
    /// Claims it releases.
    pub claims: Vec<String>,
    /// One of the OIDC standard scopes.
    pub is_standard: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// A signing key; the private half stays sealed until `tessera-keys` opens it.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Key id.
    pub kid: Kid,
    /// Algorithm.
    pub alg: SigningAlg,
    /// Lifecycle state.
    pub state: KeyState,
    /// Public JWK.
    pub public_jwk: serde_json::Value,
    /// Sealed private key (nonce ‖ ciphertext ‖ tag).
    pub sealed_private_key: Vec<u8>,
    /// Id of the master key that sealed it.
    pub kek_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it began signing.
    pub activated_at: Option<i64>,
    /// When it stopped signing.
    pub retired_at: Option<i64>,
    /// When it may leave the JWKS.
    pub expires_at: Option<i64>,
}

/// One entry of the change feed.
#[derive(Clone, Debug)]
pub struct ChangeRecord {
    /// Sequence number.
    pub seq: i64,
    /// Tenant that changed; `None` means every tenant.
    pub tenant_id: Option<TenantId>,
    /// Its slug.
    pub tenant_slug: Option<String>,
    /// What changed.
    pub what: String,
    /// Unix seconds.
    pub created_at: i64,
}
