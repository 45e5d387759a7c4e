//! Token introspection (RFC 7662): what an access or refresh token of this tenant states, told
//! only to a client entitled to see it, as JSON or as a signed JWT (RFC 9701). Also the form
//! shared with revocation (RFC 7009 §2.1): `token`, `token_type_hint` and client credentials.

use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tessera_core::secret::sha256_hex;
use tessera_core::{ClientType, UserStatus};
use tessera_store::{ClientRecord, RefreshTokenRecord, Store, families, refresh};
use tessera_tenants::TenantSnapshot;

use crate::{ActiveToken, BearerError, TokenError, TokenRequest, inspect, is_jwt};

/// `typ` of a JWT introspection response (RFC 9701 §5), also the subtype of its media type.
pub const INTROSPECTION_JWT_TYP: &str = "token-introspection+jwt";

/// Media type of a JWT introspection response (RFC 9701 §4, §5).
pub const INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// Longest token worth looking at: a JWT access token is well below this (the key set refuses
/// longer JWS), an opaque handle or refresh token is 43 characters.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims an active access token is described with (RFC 7662 §2.2), in the names of its
/// JWT form (RFC 9068 §2.2); private claims of ours (`gid`, `userinfo_claims`) never appear.
const ACCESS_TOKEN_CLAIMS: [&str; 14] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "scope",
    "jti",
    "iat",
    "exp",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "act",
    "cnf",
];

/// What kind of token the caller says it presents (RFC 7662 §2.1, RFC 7009 §2.1). Only a hint:
/// the token is looked up as the other kind too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
    /// No hint, or a value we do not know (which the server MAY ignore, RFC 7009 §2.1).
    #[default]
    None,
}

impl PresentedToken {
    /// The `token`, which both RFC 7662 §2.1 and RFC 7009 §2.1 require.
    pub fn token(&self) -> Result<&SecretString, TokenError> {
        self.token
            .as_ref()
            .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))
    }
}

impl TokenTypeHint {
    /// Reads a `token_type_hint` value; unknown values are ignored, not refused.
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("access_token") => Self::AccessToken,
            Some("refresh_token") => Self::RefreshToken,
            _ => Self::None,
        }
    }
}

/// The parameters of an introspection (RFC 7662 §2.1) or revocation (RFC 7009 §2.1) request.
#[derive(Debug)]
pub struct PresentedToken {
    /// `token`; required, but checked after client authentication so that an unauthenticated
    /// caller learns nothing but `invalid_client`.
    pub token: Option<SecretString>,
    /// `token_type_hint`.
    pub hint: TokenTypeHint,
    /// The client credentials of the body (`client_id`, `client_secret`), ready for
    /// [`ClientAuthentication::from_request`](crate::ClientAuthentication::from_request).
    pub credentials: TokenRequest,
}

/// Parses an introspection or revocation form body. As at the token endpoint, unknown
/// parameters are ignored, empty ones count as absent and repeated ones are refused.
pub fn parse_presented_token(body: &[u8]) -> Result<PresentedToken, TokenError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| TokenError::InvalidRequest("the body is not valid form encoding".into()))?;
    let mut token = None;
    let mut hint = None;
    let mut credentials = TokenRequest::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        if value.is_empty() {
            continue;
        }
        let single = match name.as_str() {
            "token" => "token",
            "token_type_hint" => "token_type_hint",
            "client_id" => "client_id",
            "client_secret" => "client_secret",
            "client_assertion_type" => "client_assertion_type",
            "client_assertion" => "client_assertion",
            _ => continue,
        };
        if seen.contains(&single) {
            return Err(TokenError::InvalidRequest(format!(
                "parameter `{single}` is repeated"
            )));
        }
        seen.push(single);
        match single {
            "token" => token = Some(SecretString::from(value)),
            "token_type_hint" => hint = Some(value),
            "client_id" => credentials.client_id = Some(value),
            "client_assertion_type" => credentials.client_assertion_type = Some(value),
            "client_assertion" => credentials.client_assertion = Some(SecretString::from(value)),
            _ => credentials.client_secret = Some(SecretString::from(value)),
        }
    }
    Ok(PresentedToken {
        token,
        hint: TokenTypeHint::parse(hint.as_deref()),
        credentials,
    })
}

/// An introspection response (RFC 7662 §2.2): `active`, and for an active token what it states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// The token's claims; empty when it is not active.
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl Introspection {
    /// `{"active": false}`: the answer for anything unknown, malformed, expired, revoked, of
    /// another tenant, or that the caller may not see (RFC 7662 §2.2).
    pub fn inactive() -> Self {
        Self {
            active: false,
            claims: Map::new(),
        }
    }

    /// The response as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut map = Map::with_capacity(self.claims.len() + 1);
        map.insert("active".into(), Value::Bool(self.active));
        map.extend(self.claims.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(map)
    }
}

/// A token of this tenant, found active by [`find_token`].
#[derive(Debug)]
pub(crate) enum Found {
    /// An active access token, JWT or opaque.
    Access(Box<ActiveToken>),
    /// An active refresh token, with the user of its grant.
    Refresh {
        /// The stored token.
        record: RefreshTokenRecord,
        /// Its grant's user.
        user: Box<tessera_store::UserRecord>,
    },
}

impl Found {
    /// The client the token was issued to.
    pub(crate) fn client_id(&self) -> &str {
        match self {
            Found::Access(active) => &active.client_id,
            Found::Refresh { record, .. } => record.client_id.as_ref(),
        }
    }
}

/// Whether `token` could be an opaque handle or refresh token of ours: base64url, bounded.
fn looks_opaque(token: &str) -> bool {
    token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Looks `token` up as an active access token and as an active refresh token of the tenant, in
/// the order `hint` suggests (RFC 7662 §2.1: the hint only speeds the search up).
pub(crate) async fn find_token(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &str,
    hint: TokenTypeHint,
    now: i64,
) -> Result<Option<Found>, TokenError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    // Our refresh tokens are opaque handles; a JWT can only be an access token.
    if is_jwt(token) {
        return access(store, snapshot, token, now).await;
    }
    if !looks_opaque(token) {
        return Ok(None);
    }
    if hint == TokenTypeHint::RefreshToken {
        if let Some(found) = refresh_token(store, snapshot, token, now).await? {
            return Ok(Some(found));
        }
        return access(store, snapshot, token, now).await;
    }
    if let Some(found) = access(store, snapshot, token, now).await? {
        return Ok(Some(found));
    }
    refresh_token(store, snapshot, token, now).await
}

/// The token as an active access token.
async fn access(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &str,
    now: i64,
) -> Result<Option<Found>, TokenError> {
    match inspect(store, snapshot, token, now).await {
        Ok(active) => Ok(active.map(|a| Found::Access(Box::new(a)))),
        Err(BearerError::Unavailable) => Err(TokenError::Unavailable),
        Err(e) => Err(TokenError::Unexpected(
            anyhow::Error::new(e).context("inspecting an access token"),
        )),
    }
}

/// The token as an active refresh token: stored under its SHA-256 hex in this tenant, not
/// expired, not rotated — or rotated but still inside the tenant's grace window with uses left,
/// i.e. exactly when the refresh grant would still accept it — its family live and its user
/// active.
async fn refresh_token(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &str,
    now: i64,
) -> Result<Option<Found>, TokenError> {
    let tenant = snapshot.tenant.id;
    let db = store.conn();
    let Some(record) = refresh::find(db, tenant, &sha256_hex(token)).await? else {
        return Ok(None);
    };
    if record.expires_at <= now {
        return Ok(None);
    }
    if let Some(rotated_at) = record.rotated_at {
        let policy = &snapshot.tenant.settings.tokens;
        let in_grace = policy.rotation_grace_secs > 0
            && policy.rotation_grace_count > 0
            && now - rotated_at <= policy.rotation_grace_secs
            && record.grace_uses < policy.rotation_grace_count;
        if !in_grace {
            return Ok(None);
        }
    }
    let Some((_, user)) = families::live_with_user(db, tenant, &record.family_id, now).await?
    else {
        return Ok(None);
    };
    if user.status != UserStatus::Active {
        return Ok(None);
    }
    Ok(Some(Found::Refresh {
        record,
        user: Box::new(user),
    }))
}

/// Whether `caller` may learn about an active token: it was issued to `caller`, or `caller` is
/// an introspector of a resource server in its audience (RFC 7662 §2.1, §4: the server decides
/// who may introspect what). Refresh tokens are shown to their own client only; they are no
/// resource server's business.
fn visible_to(snapshot: &TenantSnapshot, caller: &ClientRecord, found: &Found) -> bool {
    if found.client_id() == caller.client_id.as_ref() {
        return true;
    }
    match found {
        Found::Access(active) => active.audience.iter().any(|aud| {
            snapshot
                .resource_server(aud)
                .is_some_and(|rs| rs.introspectors.contains(&caller.client_id))
        }),
        Found::Refresh { .. } => false,
    }
}

/// Introspects `token` for the authenticated client `caller` (RFC 7662 §2). A public client
/// may not introspect (`invalid_client`): the endpoint is for confidential parties. Anything
/// not active, or not for `caller` to see, is `{"active": false}`; an active access token is
/// described with the claims of its JWT form, whether it is a JWT or opaque, plus `username`
/// and `token_type` (`Bearer`, or `DPoP` when bound to a DPoP key, RFC 9449 §6.2); an active
/// refresh token with `client_id sub username scope iat exp iss` and `token_type`
/// `refresh_token`.
pub async fn introspect(
    store: &Store,
    snapshot: &TenantSnapshot,
    caller: &ClientRecord,
    token: &str,
    hint: TokenTypeHint,
    now: i64,
) -> Result<Introspection, TokenError> {
    if caller.client_type == ClientType::Public {
        return Err(TokenError::InvalidClient);
    }
    let Some(found) = find_token(store, snapshot, token, hint, now).await? else {
        return Ok(Introspection::inactive());
    };
    if !visible_to(snapshot, caller, &found) {
        return Ok(Introspection::inactive());
    }
    Ok(describe(snapshot, &found))
}

/// The response for an active token `caller` may see.
fn describe(snapshot: &TenantSnapshot, found: &Found) -> Introspection {
    let mut claims = Map::new();
    match found {
        Found::Access(active) => {
            for name in ACCESS_TOKEN_CLAIMS {
                if let Some(value) = active.claims.get(name) {
                    claims.insert(name.to_owned(), value.clone());
                }
            }
            // The JWT form always states `scope`, the opaque one only when there is one.
            if active.scopes.is_empty() {
                claims.remove("scope");
            } else {
                claims.insert("scope".into(), Value::String(active.scopes.to_wire()));
            }
            if let Some(user) = &active.user {
                claims.insert("username".into(), Value::String(user.username.clone()));
            }
            let token_type = if active.jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            };
            claims.insert("token_type".into(), Value::String(token_type.into()));
        }
        Found::Refresh { record, user } => {
            claims.insert("iss".into(), Value::String(snapshot.issuer.clone()));
            // The `sub` of the client's ID and access tokens, pairwise for a pairwise client
            // (OIDC Core §8.1).
            let sub = snapshot
                .client(record.client_id.as_ref())
                .map_or_else(|| user.id.to_string(), |c| snapshot.subject_for(c, user.id));
            claims.insert("sub".into(), Value::String(sub));
            claims.insert("username".into(), Value::String(user.username.clone()));
            claims.insert(
                "client_id".into(),
                Value::String(record.client_id.to_string()),
            );
            if !record.scopes.is_empty() {
                claims.insert("scope".into(), Value::String(record.scopes.to_wire()));
            }
            claims.insert("iat".into(), json!(record.issued_at));
            claims.insert("exp".into(), json!(record.expires_at));
            claims.insert("token_type".into(), Value::String("refresh_token".into()));
        }
    }
    Introspection {
        active: true,
        claims,
    }
}

/// Signs `response` as a JWT introspection response for the client `audience` (RFC 9701 §5):
/// header `typ: token-introspection+jwt`, claims `iss`, `aud`, `iat` and `token_introspection`,
/// signed with the tenant's active key of its primary algorithm. RSA signing costs about a
/// millisecond: callers on a reactor thread should move it to a blocking pool.
pub fn introspection_jwt(
    snapshot: &TenantSnapshot,
    audience: &str,
    response: &Introspection,
    now: i64,
) -> Result<String, TokenError> {
    let signer = snapshot.keys.signer().ok_or(TokenError::NoSigningKey)?;
    let payload = json!({
        "iss": snapshot.issuer,
        "aud": audience,
        "iat": now,
        "token_introspection": response.to_json(),
    });
    let bytes = serde_json::to_vec(&payload).map_err(anyhow::Error::from)?;
    signer.sign_jws(INTROSPECTION_JWT_TYP, &bytes).map_err(|e| {
        TokenError::Unexpected(anyhow::Error::new(e).context("signing an introspection response"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_form_needs_one_token_and_ignores_unknown_hints() {
        let form = parse_presented_token(
            b"token=abc&token_type_hint=refresh_token&client_id=c&client_secret=s&foo=bar",
        )
        .unwrap();
        assert_eq!(form.token().unwrap().expose_secret(), "abc");
        assert_eq!(form.hint, TokenTypeHint::RefreshToken);
        assert_eq!(form.credentials.client_id.as_deref(), Some("c"));
        assert_eq!(
            form.credentials
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret()),
            Some("s")
        );
        let form = parse_presented_token(b"token=abc&token_type_hint=id_token").unwrap();
        assert_eq!(form.hint, TokenTypeHint::None);
        assert_eq!(
            TokenTypeHint::parse(Some("access_token")),
            TokenTypeHint::AccessToken
        );
        let form = parse_presented_token(b"token_type_hint=access_token").unwrap();
        assert!(matches!(form.token(), Err(TokenError::InvalidRequest(_))));
        let form = parse_presented_token(b"token=").unwrap();
        assert!(matches!(form.token(), Err(TokenError::InvalidRequest(_))));
        assert!(matches!(
            parse_presented_token(b"token=a&token=b"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_presented_token(b"token=a&client_id=x&client_id=y"),
            Err(TokenError::InvalidRequest(_))
        ));
    }

    #[test]
    fn an_inactive_response_is_active_false_alone() {
        assert_eq!(
            Introspection::inactive().to_json(),
            json!({"active": false})
        );
        assert_eq!(
            serde_json::to_value(Introspection::inactive()).unwrap(),
            json!({"active": false})
        );
    }

    #[test]
    fn only_base64url_handles_are_looked_up() {
        assert!(looks_opaque("abc-_XYZ09"));
        assert!(!looks_opaque("abc def"));
        assert!(!looks_opaque(&"a".repeat(129)));
    }
}
