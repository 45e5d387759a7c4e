//! Access tokens presented back to the OP (RFC 6750): verification of the RFC 9068 JWTs this
//! tenant issued, and the userinfo response they unlock (OIDC Core §5.3). A token is refused
//! when its family was revoked, so a replayed code or a reused refresh token also cuts off the
//! access tokens issued before.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::secret::sha256_hex;
use tessera_core::{ScopeSet, SigningAlg, UserId, UserStatus};
use tessera_store::{Store, StoreError, UserRecord, access_tokens, families, replay};
use tessera_tenants::TenantSnapshot;

/// Failures at a protected resource of the OP (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// Malformed request, e.g. the token sent two ways: 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// Expired, revoked, malformed or foreign token: 401.
    #[error("{0}")]
    InvalidToken(String),
    /// The token lacks the scope the resource needs: 403.
    #[error("{0}")]
    InsufficientScope(String),
    /// The DPoP proof is valid on its own but not for this token: its key is not the one the
    /// token is bound to (RFC 9449 §4.3 point 12, §7.1): 401 `invalid_dpop_proof`.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The database is unreachable: 503.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else: 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for BearerError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            BearerError::Unavailable
        } else {
            BearerError::Unexpected(anyhow::Error::new(err).context("token store"))
        }
    }
}

/// A verified access token issued to a client for a user.
#[derive(Debug)]
pub struct UserAccessToken {
    /// The user.
    pub user: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// The token family (grant) it belongs to.
    pub family_id: String,
    /// Claim names the `claims` request asked userinfo to release (OIDC Core §5.5).
    pub userinfo_claims: Vec<String>,
}

/// The claims of ours an access token must carry.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    gid: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    userinfo_claims: Vec<String>,
    #[serde(default)]
    cnf: Option<Cnf>,
}

/// The confirmation claim (RFC 7800 §3.1) of a bound token.
#[derive(Clone, Debug, Default, Deserialize)]
struct Cnf {
    #[serde(default)]
    jkt: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    x5t: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: Option<String>,
}

/// Whether a presented token is one of our JWTs (three dot-separated parts) rather than an
/// opaque handle (base64url, no dots).
pub fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Verifies the signature, `typ` and `iss` of a JWT access token of this tenant and returns its
/// claims; expiry and revocation are the caller's.
fn verified_jwt(snapshot: &TenantSnapshot, jws: &str) -> Result<Value, BearerError> {
    let invalid = |what: &str| BearerError::InvalidToken(what.to_owned());
    let payload = snapshot
        .keys
        .verify(jws)
        .map_err(|_| invalid("the access token is malformed or its signature is invalid"))?;
    // The header decoded and verified above; read its typ.
    let header = jws
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Header>(&h).ok())
        .ok_or_else(|| invalid("the access token is malformed"))?;
    // RFC 9068 §4: an ID token (typ JWT) is not an access token.
    if !header.typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(invalid("the token is not an access token"));
    }
    if payload.get("iss").and_then(Value::as_str) != Some(snapshot.issuer.as_str()) {
        return Err(invalid("the access token was issued by another issuer"));
    }
    Ok(payload)
}

/// Verifies an access token this tenant issued to a client for a user: signature by a published
/// key of the tenant (so a token of another tenant fails), `typ` `at+jwt` (RFC 9068 §4: an ID
/// token is not an access token), `iss`, `exp`, and a user subject with a token family — a
/// client-credentials token (whose `sub` is the client) is refused.
pub fn verify_access_token(
    snapshot: &TenantSnapshot,
    jws: &str,
    now: i64,
) -> Result<UserAccessToken, BearerError> {
    let invalid = |what: &str| BearerError::InvalidToken(what.to_owned());
    let payload = verified_jwt(snapshot, jws)?;
    let claims: Claims =
        serde_json::from_value(payload).map_err(|_| invalid("the access token is malformed"))?;
    if claims.exp <= now {
        return Err(invalid("the access token has expired"));
    }
    let (Ok(user), Some(family_id)) = (claims.sub.parse::<UserId>(), claims.gid) else {
        return Err(invalid("the access token was not issued for a user"));
    };
    Ok(UserAccessToken {
        user,
        client_id: claims.client_id,
        scopes: ScopeSet::parse(&claims.scope)
            .map_err(|_| invalid("the access token is malformed"))?,
        family_id,
        userinfo_claims: claims.userinfo_claims,
    })
}

/// What an active access token of this tenant states, by value or by reference.
#[derive(Clone, Debug)]
pub struct ActiveToken {
    /// The claims as the JWT form states them (RFC 9068 §2.2; for an opaque token, built from
    /// its record): `iss sub aud client_id scope jti iat exp` and, when present, `auth_time acr
    /// amr sid act cnf`. Private claims (`gid`, `userinfo_claims`) are left out.
    pub claims: Map<String, Value>,
    /// `sub`.
    pub subject: String,
    /// The user, for user tokens.
    pub user: Option<UserRecord>,
    /// The client it was issued to.
    pub client_id: String,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// Its audiences.
    pub audience: Vec<String>,
    /// The grant it descends from.
    pub family_id: Option<String>,
    /// `cnf.jkt`: the DPoP key it is bound to.
    pub jkt: Option<String>,
    /// `cnf.x5t#S256`: the certificate it is bound to.
    pub x5t: Option<String>,
    /// Claim names the `claims` request asked userinfo to release.
    pub userinfo_claims: Vec<String>,
    /// `jti`.
    pub jti: Option<String>,
    /// `exp`.
    pub exp: i64,
    /// Whether it is an opaque token (a stored handle) rather than a JWT.
    pub by_reference: bool,
    /// Its SHA-256 hex, for an opaque token.
    pub hash: Option<String>,
}

/// Checks a presented access token of this tenant, JWT or opaque, and returns what it states,
/// or `None` when it is not active (RFC 7662 §2.2): unknown, malformed, of another tenant,
/// expired, revoked (itself, or its grant — a replayed code, a reused refresh token, logout,
/// withdrawn consent), or its user is gone or no longer active.
pub async fn inspect(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &str,
    now: i64,
) -> Result<Option<ActiveToken>, BearerError> {
    let tenant = snapshot.tenant.id;
    let db = store.conn();
    if is_jwt(token) {
        let Ok(payload) = verified_jwt(snapshot, token) else {
            return Ok(None);
        };
        let Ok(claims) = serde_json::from_value::<Claims>(payload.clone()) else {
            return Ok(None);
        };
        if claims.exp <= now {
            return Ok(None);
        }
        let Ok(scopes) = ScopeSet::parse(&claims.scope) else {
            return Ok(None);
        };
        let mut user = None;
        if let Some(gid) = &claims.gid {
            let Some((family, u)) =
                families::live_with_user_unless(db, tenant, gid, claims.jti.as_deref(), now)
                    .await?
            else {
                return Ok(None);
            };
            // The client may differ: a token exchanged (RFC 8693) from a user's token keeps the
            // grant it descends from, so revoking that grant revokes it too.
            // `sub` is the user id, or the pairwise subject (OIDC Core §8.1) of the client the
            // token or its grant was issued to.
            let subject_ok = claims.sub == family.user_id.to_string()
                || [claims.client_id.as_str(), family.client_id.as_ref()]
                    .into_iter()
                    .filter_map(|id| snapshot.client(id))
                    .any(|c| snapshot.subject_for(c, family.user_id) == claims.sub);
            if !subject_ok || u.status != UserStatus::Active {
                return Ok(None);
            }
            user = Some(u);
        } else if let Some(jti) = &claims.jti
            && replay::is_jti_revoked(db, tenant, jti).await?
        {
            return Ok(None);
        }
        let mut map = match payload {
            Value::Object(map) => map,
            _ => return Ok(None),
        };
        map.remove("gid");
        map.remove("userinfo_claims");
        let audience = match map.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let cnf = claims.cnf.unwrap_or_default();
        return Ok(Some(ActiveToken {
            claims: map,
            subject: claims.sub,
            user,
            client_id: claims.client_id,
            scopes,
            audience,
            family_id: claims.gid,
            jkt: cnf.jkt,
            x5t: cnf.x5t,
            userinfo_claims: claims.userinfo_claims,
            jti: claims.jti,
            exp: claims.exp,
            by_reference: false,
            hash: None,
        }));
    }
    // An opaque handle is base64url of 32 random bytes; anything else is not ours.
    if token.len() > 128
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    // One cached lookup: the token live, its grant live, its user present (see `find_live`).
    let Some(live) = access_tokens::find_live(store, tenant, &hash, now).await? else {
        return Ok(None);
    };
    let (record, user) = (&live.record, &live.user);
    if record.revoked_at.is_some() || record.expires_at <= now {
        return Ok(None);
    }
    if record.family_id.is_some() {
        match user {
            Some(u) if Some(u.id) == record.user_id && u.status == UserStatus::Active => {}
            _ => return Ok(None),
        }
    }
    let record = record.clone();
    let user = user.clone();
    let claims = match crate::opaque_claims(snapshot, &record) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(Some(ActiveToken {
        claims,
        subject: record.subject,
        user,
        client_id: record.client_id.to_string(),
        scopes: record.scopes,
        audience: record.audience,
        family_id: record.family_id,
        jkt: record.jkt,
        x5t: record.x5t,
        userinfo_claims: record.userinfo_claims,
        jti: Some(record.jti),
        exp: record.expires_at,
        by_reference: true,
        hash: Some(hash),
    }))
}

/// How the access token reached userinfo: the scheme, and what the request proved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presentation<'a> {
    /// Sent with `Authorization: DPoP` (RFC 9449 §7.1).
    pub dpop_scheme: bool,
    /// The thumbprint of the key of a valid DPoP proof sent with it.
    pub proof_jkt: Option<&'a str>,
    /// The SHA-256 thumbprint of the TLS client certificate of the connection.
    pub cert_x5t: Option<&'a str>,
}

/// The userinfo response for an access token (OIDC Core §5.3.2): `sub` and the claims its scopes
/// and `claims` request release. The token must be active ([`inspect`]), issued for a user, carry
/// the `openid` scope (else 403 `insufficient_scope`), and be presented as it is bound: a
/// DPoP-bound token with the `DPoP` scheme and a proof of its key (RFC 9449 §7.1), a
/// certificate-bound one over a TLS connection with that certificate (RFC 8705 §3).
pub async fn userinfo(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &str,
    how: Presentation<'_>,
    now: i64,
) -> Result<UserInfo, BearerError> {
    let invalid = |why: &str| BearerError::InvalidToken(why.to_owned());
    let Some(active) = inspect(store, snapshot, token, now).await? else {
        return Err(invalid("the access token is invalid, expired or revoked"));
    };
    let Some(user) = active.user else {
        return Err(invalid("the access token was not issued for a user"));
    };
    match (&active.jkt, how.dpop_scheme) {
        (Some(jkt), true) if how.proof_jkt == Some(jkt.as_str()) => {}
        // RFC 9449 §4.3 point 12: the proof's key must be the one the token is bound to.
        (Some(_), true) => {
            return Err(BearerError::InvalidDpopProof(
                "the DPoP proof was made with another key than the token is bound to".into(),
            ));
        }
        // RFC 9449 §7.2: a DPoP-bound token is not a bearer token.
        (Some(_), false) => {
            return Err(invalid(
                "the access token is DPoP-bound: use the DPoP scheme with a proof",
            ));
        }
        (None, true) => {
            return Err(invalid(
                "the access token is not DPoP-bound: use the Bearer scheme",
            ));
        }
        (None, false) => {}
    }
    if let Some(x5t) = &active.x5t
        && how.cert_x5t != Some(x5t.as_str())
    {
        return Err(invalid(
            "the access token is bound to a client certificate this connection did not present",
        ));
    }
    if !active.scopes.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the access token lacks the openid scope".into(),
        ));
    }
    let requested = (!active.userinfo_claims.is_empty()).then(|| {
        Value::Object(
            active
                .userinfo_claims
                .into_iter()
                .map(|name| (name, Value::Null))
                .collect(),
        )
    });
    let mut claims = tessera_userinfo::claims_for(&user, &active.scopes, requested.as_ref());
    // OIDC Core §5.3.2: the `sub` of the ID token the client got, pairwise for a pairwise
    // client (§8.1).
    if let Some(client) = snapshot.client(&active.client_id) {
        claims.insert(
            "sub".to_owned(),
            Value::String(snapshot.subject_for(client, user.id)),
        );
    }
    Ok(UserInfo {
        claims,
        client_id: active.client_id,
    })
}

/// A userinfo response: the released claims and the client whose token asked for them (whose
/// registration says whether the response is signed, OIDC Core §5.3.2).
#[derive(Debug)]
pub struct UserInfo {
    /// The released claims, `sub` among them.
    pub claims: Map<String, Value>,
    /// The client the access token was issued to.
    pub client_id: String,
}

impl UserInfo {
    /// The algorithm the client registered for signed userinfo responses
    /// (`userinfo_signed_response_alg`, OIDC Registration §2), if any.
    pub fn signing_alg(&self, snapshot: &TenantSnapshot) -> Option<SigningAlg> {
        snapshot
            .client(&self.client_id)
            .and_then(|c| c.options.userinfo_signed_response_alg)
    }

    /// The response as a JWS signed with the tenant's active key of `alg`, carrying `iss` and
    /// `aud` (the client) besides the claims (OIDC Core §5.3.2). RSA signing costs about a
    /// millisecond: call it off the reactor for RS256.
    pub fn sign(self, snapshot: &TenantSnapshot, alg: SigningAlg) -> Result<String, BearerError> {
        let signer = snapshot.keys.signer_for(alg).ok_or_else(|| {
            BearerError::Unexpected(anyhow::anyhow!("no active {alg} key to sign userinfo"))
        })?;
        let mut claims = self.claims;
        claims.insert("iss".to_owned(), Value::String(snapshot.issuer.clone()));
        claims.insert("aud".to_owned(), Value::String(self.client_id));
        let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
        signer
            .sign_jws("JWT", &payload)
            .map_err(|e| BearerError::Unexpected(anyhow::Error::new(e).context("signing userinfo")))
    }
}
