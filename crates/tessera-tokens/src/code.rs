//! Issuing authorization codes (RFC 6749 §4.1.2): ≥ 256 random bits, stored only as a SHA-256
//! hash, short-lived (≤ 60 s), bound to the client, redirect URI and PKCE challenge.

use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{ClientId, ScopeSet, UserId};
use tessera_store::{AuthorizationCodeRecord, Store, codes};
use tessera_tenants::TenantSnapshot;

use crate::TokenError;
use crate::pkce;

/// Longest code lifetime, whatever the tenant's policy says (RFC 6749 §4.1.2: "a maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; we keep it to a minute).
pub const MAX_CODE_TTL_SECS: i64 = 60;

/// Everything the authorization endpoint decided, to be redeemed at the token endpoint.
#[derive(Clone, Debug)]
pub struct CodeGrant {
    /// The client the code is for.
    pub client_id: ClientId,
    /// The signed-in user.
    pub user_id: UserId,
    /// The `redirect_uri` parameter of the authorization request, or empty when the request
    /// had none (then the token request need not repeat it, RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// The granted scopes: what the user consented to, not what was asked.
    pub scopes: ScopeSet,
    /// OIDC `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE `code_challenge` (RFC 7636 §4.3).
    pub code_challenge: Option<String>,
    /// PKCE method: only `"S256"` is accepted (RFC 9700 §2.1.1).
    pub code_challenge_method: Option<String>,
    /// SSO session id (`sid` claim).
    pub sid: Option<String>,
    /// When the user authenticated, Unix seconds.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// The `claims` request parameter (OIDC Core §5.5), as sent.
    pub claims_request: Option<serde_json::Value>,
    /// `resource` indicators of the authorization request (RFC 8707 §2.1), already checked
    /// against the tenant's resource servers.
    pub resources: Vec<String>,
    /// `dpop_jkt` (RFC 9449 §10): the code may only be redeemed with a proof of this key.
    pub dpop_jkt: Option<String>,
}

/// Stores the code (hash only) and returns it: 256 random bits, base64url.
pub async fn issue_code(
    store: &Store,
    snapshot: &TenantSnapshot,
    grant: CodeGrant,
    now: i64,
) -> Result<String, TokenError> {
    let (challenge, method) = match (grant.code_challenge, grant.code_challenge_method) {
        (None, None) => (None, None),
        (Some(challenge), Some(method)) if method == pkce::S256 => {
            // An S256 challenge is base64url of 32 bytes (RFC 7636 §4.2).
            if challenge.len() != 43 || !pkce::is_well_formed(&challenge) {
                return Err(TokenError::InvalidRequest(
                    "code_challenge must be the base64url S256 hash of the code_verifier".into(),
                ));
            }
            (Some(challenge), Some(method))
        }
        // RFC 7636 §4.3 defaults an absent method to `plain`, which is refused.
        (Some(_), _) => {
            return Err(TokenError::InvalidRequest(
                "code_challenge_method must be S256".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(TokenError::InvalidRequest(
                "code_challenge_method without code_challenge".into(),
            ));
        }
    };
    let ttl = snapshot
        .tenant
        .settings
        .tokens
        .code_ttl_secs
        .clamp(1, MAX_CODE_TTL_SECS);
    let code = random_token(32);
    let record = AuthorizationCodeRecord {
        tenant_id: snapshot.tenant.id,
        code_hash: sha256_hex(&code),
        client_id: grant.client_id,
        user_id: grant.user_id,
        redirect_uri: grant.redirect_uri,
        scopes: grant.scopes,
        nonce: grant.nonce,
        code_challenge: challenge,
        code_challenge_method: method,
        sid: grant.sid,
        auth_time: grant.auth_time,
        acr: grant.acr,
        amr: grant.amr,
        claims_request: grant.claims_request,
        expires_at: now + ttl,
        consumed_at: None,
        family_id: None,
        resources: grant.resources,
        dpop_jkt: grant.dpop_jkt,
        created_at: now,
    };
    codes::insert(store.conn(), &record).await?;
    Ok(code)
}
