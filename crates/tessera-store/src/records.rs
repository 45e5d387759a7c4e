//! Typed records handed out by the repositories.

use serde::{Deserialize, Serialize};
use tessera_core::{
    AdminRole, ClientId, ClientType, GrantType, KeyState, Kid, Scope, ScopeSet, SigningAlg,
    TenantId, TenantSettings, TenantSlug, TenantStatus, TokenFormat, UserId, UserStatus,
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
    /// Branding and policies.
    pub settings: TenantSettings,
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
    /// Registered post-logout redirect URIs (RP-Initiated Logout §3), matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// A first-party client skips the consent page.
    pub first_party: bool,
    /// Whether PKCE S256 is required (always true for public clients).
    pub require_pkce: bool,
    /// ID-token signing algorithm (`id_token_signed_response_alg`, default RS256).
    pub id_token_alg: SigningAlg,
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

/// A user of a tenant.
#[derive(Clone, Debug, Serialize)]
pub struct UserRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Primary key; `sub` is its string form.
    pub id: UserId,
    /// Sign-in name, unique within the tenant (stored lowercased).
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Whether the e-mail address has been verified.
    pub email_verified: bool,
    /// The other OpenID Connect standard claims (OIDC Core §5.1).
    pub claims: StandardClaims,
    /// Argon2id PHC string; never serialized.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Lifecycle state.
    pub status: UserStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The OpenID Connect standard claims of a user other than `sub`, `email` and
/// `email_verified` (OIDC Core §5.1), stored as one JSON document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StandardClaims {
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Given name(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Surname(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Middle name(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Casual name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Shorthand name the user wishes to be referred to by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Profile page URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Web page or blog URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Gender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Birthday, `YYYY-MM-DD` or `YYYY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    /// BCP 47 locale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Phone number, E.164 recommended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Postal address (OIDC Core §5.1.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// A postal address (OIDC Core §5.1.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Address {
    /// Full mailing address, formatted for display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City or locality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// State, province or region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Zip or postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}
