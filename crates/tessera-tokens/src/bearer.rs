//! Access tokens presented back to the OP (RFC 6750): verification of the RFC 9068 JWTs this
//! tenant issued, and the userinfo response they unlock (OIDC Core §5.3). A token is refused
//! when its family was revoked, so a replayed code or a reused refresh token also cuts off the
//! access tokens issued before.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::{ScopeSet, UserId, UserStatus};
use tessera_store::{Store, StoreError, families};
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
    iss: String,
    sub: String,
    exp: i64,
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    gid: Option<String>,
    #[serde(default)]
    userinfo_claims: Vec<String>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: Option<String>,
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
    if !header.typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(invalid("the token is not an access token"));
    }
    let claims: Claims =
        serde_json::from_value(payload).map_err(|_| invalid("the access token is malformed"))?;
    if claims.iss != snapshot.issuer {
        return Err(invalid("the access token was issued by another issuer"));
    }
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

/// The userinfo response for an access token (OIDC Core §5.3.2): `sub` and the claims its scopes
/// and `claims` request release. The token needs the `openid` scope (else 403
/// `insufficient_scope`), a live family and an active user.
pub async fn userinfo(
    store: &Store,
    snapshot: &TenantSnapshot,
    jws: &str,
    now: i64,
) -> Result<Map<String, Value>, BearerError> {
    let token = verify_access_token(snapshot, jws, now)?;
    if !token.scopes.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the access token lacks the openid scope".into(),
        ));
    }
    let revoked = || BearerError::InvalidToken("the access token has been revoked".into());
    let (family, user) =
        families::live_with_user(store.conn(), snapshot.tenant.id, &token.family_id, now)
            .await?
            .ok_or_else(revoked)?;
    if family.user_id != token.user || family.client_id.as_ref() != token.client_id {
        return Err(revoked());
    }
    if user.status != UserStatus::Active {
        return Err(BearerError::InvalidToken(
            "the user is no longer active".into(),
        ));
    }
    let requested = (!token.userinfo_claims.is_empty()).then(|| {
        Value::Object(
            token
                .userinfo_claims
                .into_iter()
                .map(|name| (name, Value::Null))
                .collect(),
        )
    });
    Ok(tessera_userinfo::claims_for(
        &user,
        &token.scopes,
        requested.as_ref(),
    ))
}
