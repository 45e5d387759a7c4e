//! Token revocation (RFC 7009): a client withdraws an access or refresh token it was issued.
//! A refresh token takes its whole grant (token family) with it, and so every access token of
//! that grant; an opaque access token is marked revoked, a JWT one has its `jti` remembered
//! until it expires. Each revocation is written to the audit log in the same transaction.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_core::{ClientId, OAuthErrorCode, TenantId, UserId};
use tessera_store::{
    AuditEventRecord, ClientRecord, Store, StoreError, access_tokens, audit, families, replay,
};
use tessera_tenants::TenantSnapshot;

use crate::family::reason;
use crate::introspection::{Found, find_token};
use crate::{TokenError, TokenTypeHint, is_jwt};

/// The audit action of a revocation.
pub const TOKEN_REVOKED: &str = "token.revoked";

/// Refusals of the revocation endpoint (RFC 7009 §2.2.1). An unknown, invalid, expired or
/// already revoked token is no error: it is answered like a revoked one (RFC 7009 §2.2).
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The token is active but was issued to another client (RFC 7009 §2.1): nothing is revoked.
    #[error("the token was issued to another client")]
    UnauthorizedClient,
    /// The token is of a kind that cannot be revoked, e.g. an ID token (RFC 7009 §2.2.1).
    #[error("this token type cannot be revoked; revoke the access or refresh token instead")]
    UnsupportedTokenType,
    /// The database is unreachable: 503.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else: 500 with no description.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl RevocationError {
    /// The wire error code.
    pub fn code(&self) -> OAuthErrorCode {
        match self {
            Self::UnauthorizedClient => OAuthErrorCode::UnauthorizedClient,
            Self::UnsupportedTokenType => OAuthErrorCode::UnsupportedTokenType,
            Self::Unavailable => OAuthErrorCode::TemporarilyUnavailable,
            Self::Unexpected(_) => OAuthErrorCode::ServerError,
        }
    }
}

impl From<TokenError> for RevocationError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Unavailable => Self::Unavailable,
            other => Self::Unexpected(anyhow::Error::new(other).context("finding the token")),
        }
    }
}

impl From<StoreError> for RevocationError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::Unavailable
        } else {
            Self::Unexpected(anyhow::Error::new(err).context("revoking a token"))
        }
    }
}

/// Which kind of token a revocation withdrew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedKind {
    /// An access token, JWT or opaque.
    AccessToken,
    /// A refresh token, and with it its whole grant.
    RefreshToken,
}

impl RevokedKind {
    /// `access_token` or `refresh_token`, as in `token_type_hint` and the audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// Where a revocation request came from, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestOrigin {
    /// Client address (through trusted proxies).
    pub ip: Option<String>,
    /// `User-Agent`, cut to 512 characters.
    pub user_agent: Option<String>,
}

impl RequestOrigin {
    /// An origin from an address and a raw `User-Agent` value.
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(512).collect()),
        }
    }
}

/// Revokes `token` for the authenticated client `caller` (RFC 7009 §2.1), public clients
/// included. Returns what was revoked, or `None` when there was nothing to revoke: the token is
/// unknown, malformed, of another tenant, expired or already revoked (RFC 7009 §2.2 answers
/// those with 200 all the same). An active token of another client is refused with
/// [`RevocationError::UnauthorizedClient`] and left alone; an ID token of this tenant with
/// [`RevocationError::UnsupportedTokenType`].
///
/// A refresh token revokes its whole token family (RFC 7009 §2.1: the server may, and the
/// family is the grant), and with it every access token of the grant; an access token revokes
/// only itself.
pub async fn revoke(
    store: &Store,
    snapshot: &TenantSnapshot,
    caller: &ClientRecord,
    token: &str,
    hint: TokenTypeHint,
    origin: &RequestOrigin,
    now: i64,
) -> Result<Option<RevokedKind>, RevocationError> {
    let Some(found) = find_token(store, snapshot, token, hint, now).await? else {
        if is_id_token(snapshot, token) {
            return Err(RevocationError::UnsupportedTokenType);
        }
        return Ok(None);
    };
    // RFC 7009 §2.1: the token must have been issued to the client making the request.
    if found.client_id() != caller.client_id.as_ref() {
        return Err(RevocationError::UnauthorizedClient);
    }
    let tenant = snapshot.tenant.id;
    let event = Event {
        tenant,
        actor: format!("client:{}", caller.client_id),
        client_id: caller.client_id.clone(),
        origin: origin.clone(),
        now,
    };
    let work = {
        let store = store.clone();
        async move {
            let txn = store.begin().await?;
            let (kind, user, done) = match found {
                Found::Access(active) => {
                    let user = active.user.as_ref().map(|u| u.id);
                    let done = match (&active.hash, &active.jti) {
                        (Some(hash), _) if active.by_reference => {
                            access_tokens::revoke(&txn, tenant, hash, now).await?
                        }
                        (_, Some(jti)) => {
                            replay::revoke_jti(&txn, tenant, jti, active.exp).await?;
                            true
                        }
                        // A JWT without `jti` is none of ours.
                        _ => false,
                    };
                    (RevokedKind::AccessToken, user, done)
                }
                Found::Refresh { record, user } => {
                    let done =
                        families::revoke(&txn, tenant, &record.family_id, reason::REVOKED, now)
                            .await?;
                    if done {
                        access_tokens::revoke_family(&txn, tenant, &record.family_id, now).await?;
                    }
                    (RevokedKind::RefreshToken, Some(user.id), done)
                }
            };
            if !done {
                // Revoked meanwhile by someone else: nothing left to do or record.
                txn.rollback().await?;
                return Ok(None);
            }
            audit::insert(&txn, &event.record(kind, user)).await?;
            txn.commit().await?;
            Ok(Some(kind))
        }
    };
    Ok(store.write(work).await?)
}

/// What the audit event of a revocation needs besides the kind and the user.
struct Event {
    tenant: TenantId,
    actor: String,
    client_id: ClientId,
    origin: RequestOrigin,
    now: i64,
}

impl Event {
    /// The `token.revoked` event. Never the token itself.
    fn record(&self, kind: RevokedKind, user: Option<UserId>) -> AuditEventRecord {
        AuditEventRecord {
            // A fresh time-ordered (v7) UUID.
            id: uuid::Uuid::now_v7(),
            tenant_id: self.tenant,
            occurred_at: self.now,
            action: TOKEN_REVOKED.to_owned(),
            actor: self.actor.clone(),
            user_id: user,
            client_id: Some(self.client_id.clone()),
            ip: self.origin.ip.clone(),
            user_agent: self.origin.user_agent.clone(),
            details: json!({ "kind": kind.as_str() }),
        }
    }
}

/// Whether `token` is an ID token of this tenant (a `typ: JWT` JWS it signed, with its
/// issuer): a type RFC 7009 does not revoke.
fn is_id_token(snapshot: &TenantSnapshot, token: &str) -> bool {
    if !is_jwt(token) {
        return false;
    }
    let Ok(payload) = snapshot.keys.verify(token) else {
        return false;
    };
    let typ = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("typ").and_then(Value::as_str).map(str::to_owned));
    typ.is_some_and(|t| t.eq_ignore_ascii_case("JWT"))
        && payload.get("iss").and_then(Value::as_str) == Some(snapshot.issuer.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_follow_rfc_7009() {
        assert_eq!(
            RevocationError::UnauthorizedClient.code(),
            OAuthErrorCode::UnauthorizedClient
        );
        assert_eq!(
            RevocationError::UnsupportedTokenType.code(),
            OAuthErrorCode::UnsupportedTokenType
        );
        assert_eq!(
            RevocationError::from(TokenError::Unavailable).code(),
            OAuthErrorCode::TemporarilyUnavailable
        );
        assert_eq!(RevokedKind::RefreshToken.as_str(), "refresh_token");
    }

    #[test]
    fn the_user_agent_is_cut() {
        let origin = RequestOrigin::new(None, Some(&"x".repeat(600)));
        assert_eq!(origin.user_agent.map(|u| u.len()), Some(512));
    }
}
