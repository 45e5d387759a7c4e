//! Typed records handed out by the repositories.

use serde::{Deserialize, Serialize};
use tessera_core::{
    AdminRole, ClientId, ClientOptions, ClientType, GrantType, KeyState, Kid, Scope, ScopeSet,
    SigningAlg, TenantId, TenantSettings, TenantSlug, TenantStatus, TokenFormat, UserId,
    UserStatus,
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
    /// Authentication method, holder-of-key, default resource and token-exchange options.
    pub options: ClientOptions,
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

/// A server-side SSO session. The cookie value is never stored; only its SHA-256 keys the row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Public session id: the `sid` claim (OIDC Front-/Back-Channel Logout §2.1).
    pub sid: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// When the user authenticated: the `auth_time` claim (OIDC Core §2), Unix seconds.
    pub auth_time: i64,
    /// Authentication methods used: the `amr` claim (RFC 8176).
    pub amr: Vec<String>,
    /// Authentication context class satisfied: the `acr` claim (OIDC Core §2).
    pub acr: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Last use, Unix seconds (refreshed at most once a minute).
    pub last_seen_at: i64,
    /// Absolute end of the session, Unix seconds.
    pub expires_at: i64,
}

/// Failed sign-in bookkeeping for one throttle key (an account, a username or a client address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// What is throttled, e.g. `user:<uuid>` or `ip:<address>`.
    pub key: String,
    /// Attempts counted in the current window.
    pub failures: u32,
    /// Start of the current window, Unix seconds.
    pub window_started_at: i64,
    /// End of a temporary lock, Unix seconds.
    pub locked_until: Option<i64>,
    /// Time of the last counted attempt, Unix seconds.
    pub updated_at: i64,
}

/// Scopes a user granted a client (the consent ledger).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentGrantRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The user who consented.
    pub user_id: UserId,
    /// The client consented to.
    pub client_id: ClientId,
    /// Exactly the scopes granted (partial consent: what the user ticked).
    pub scopes: ScopeSet,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An issued authorization code, addressed by the SHA-256 hex of the code (RFC 6749 §4.1.2).
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationCodeRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the code; the code itself is never stored.
    pub code_hash: String,
    /// Client the code was issued to.
    pub client_id: ClientId,
    /// The signed-in user.
    pub user_id: UserId,
    /// The `redirect_uri` of the authorization request (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// OIDC `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE `code_challenge` (RFC 7636 §4.3).
    pub code_challenge: Option<String>,
    /// PKCE method; only `S256` is ever stored.
    pub code_challenge_method: Option<String>,
    /// SSO session id (`sid`).
    pub sid: Option<String>,
    /// When the user authenticated, Unix seconds.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// The OIDC `claims` request parameter (OIDC Core §5.5).
    pub claims_request: Option<serde_json::Value>,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was redeemed; a code is redeemed once.
    pub consumed_at: Option<i64>,
    /// The token family its redemption created, revoked if the code is replayed.
    pub family_id: Option<String>,
    /// Resource indicators of the authorization request (RFC 8707 §2.1).
    pub resources: Vec<String>,
    /// `dpop_jkt` of the authorization request: the DPoP key the code is bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A token family: the grant born from one redeemed code, which all its access and refresh
/// tokens belong to and are revoked with (RFC 9700 §4.14.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFamilyRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Random id; the `gid` claim of its access tokens.
    pub id: String,
    /// Client the grant was made to.
    pub client_id: ClientId,
    /// The user.
    pub user_id: UserId,
    /// SSO session it was born in.
    pub sid: Option<String>,
    /// Granted scopes; a refresh may narrow them, never widen.
    pub scopes: ScopeSet,
    /// When the user authenticated, Unix seconds.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Absolute end of the family, Unix seconds.
    pub expires_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Why it was revoked (`code_replay`, `refresh_reuse`, `logout`, …).
    pub revoked_reason: Option<String>,
    /// Resource indicators the grant is for (RFC 8707); a refresh may narrow them.
    pub resources: Vec<String>,
    /// The DPoP key its refresh tokens are bound to (RFC 9449 §5, public clients).
    pub dpop_jkt: Option<String>,
}

/// A refresh token, addressed by the SHA-256 hex of the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the token; the token itself is never stored.
    pub token_hash: String,
    /// Family it belongs to.
    pub family_id: String,
    /// Client it was issued to.
    pub client_id: ClientId,
    /// Scopes it carries.
    pub scopes: ScopeSet,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged for a successor (then any further use is reuse).
    pub rotated_at: Option<i64>,
    /// SHA-256 hex of its successor.
    pub successor_hash: Option<String>,
    /// Uses inside the rotation grace window so far.
    pub grace_uses: u32,
}

/// A resource server (API) of a tenant: the audience of the access tokens made for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceServerRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Its identifier: an absolute URI without fragment, the `resource` indicator (RFC 8707)
    /// and the `aud` of its tokens.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scopes it owns: a token for it carries only these (of those granted).
    pub scopes: ScopeSet,
    /// Access-token format for it: by value (RFC 9068 JWT) or by reference (opaque).
    pub token_format: TokenFormat,
    /// Access-token lifetime, seconds; `None` means the tenant's.
    pub access_token_ttl: Option<i64>,
    /// Clients allowed to introspect its tokens (RFC 7662 §2.1), besides the token's own client.
    pub introspectors: Vec<ClientId>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An opaque access token, addressed by the SHA-256 hex of the token; it carries what the JWT
/// form would, for introspection (RFC 7662 §2.2).
#[derive(Clone, Debug, PartialEq)]
pub struct AccessTokenRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Public identifier.
    pub jti: String,
    /// Client it was issued to.
    pub client_id: ClientId,
    /// `sub`: a user id, or the client id (client credentials).
    pub subject: String,
    /// The user, for user tokens.
    pub user_id: Option<UserId>,
    /// The token family (grant) it descends from; revoking the family revokes it.
    pub family_id: Option<String>,
    /// Scopes.
    pub scopes: ScopeSet,
    /// Audiences.
    pub audience: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// DPoP key thumbprint (`cnf.jkt`, RFC 9449 §6.1).
    pub jkt: Option<String>,
    /// Certificate thumbprint (`cnf.x5t#S256`, RFC 8705 §3.1).
    pub x5t: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// SSO session id.
    pub sid: Option<String>,
    /// `act` claim of a delegated token (RFC 8693 §4.1).
    pub act: Option<serde_json::Value>,
    /// Claim names the `claims` request asked userinfo to release.
    pub userinfo_claims: Vec<String>,
}

/// An audit event: who did what to whom, when and from where.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEventRecord {
    /// Random id.
    pub id: uuid::Uuid,
    /// Tenant it happened in.
    pub tenant_id: TenantId,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened, e.g. `grant.revoked`, `token.revoked`.
    pub action: String,
    /// Who did it: `user:<id>`, `client:<id>`, `admin:<client id>`.
    pub actor: String,
    /// The user concerned.
    pub user_id: Option<UserId>,
    /// The client concerned.
    pub client_id: Option<ClientId>,
    /// Client address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Details.
    pub details: serde_json::Value,
}
