//! Logout channels: telling the clients of an ended SSO session that it ended.
//!
//! - Back-channel (OpenID Connect Back-Channel Logout 1.0): each participating client with a
//!   `backchannel_logout_uri` gets a notice in the durable outbox ([`session_ended`]); a worker
//!   signs a fresh logout token (§2.4) at every attempt ([`logout_token`]) and POSTs it
//!   ([`LogoutDelivery`], §2.5), retrying with exponential backoff ([`retry_delay`]).
//! - Front-channel (OpenID Connect Front-Channel Logout 1.0): the signed-out page loads each
//!   participating client's `frontchannel_logout_uri` in an iframe ([`frontchannel_frames`], §3).
//!
//! The participants of a session are the clients holding a token family born in it (every
//! redeemed authorization or device code creates one, carrying the `sid`).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tessera_core::{ClientId, TenantId, UserId};
use tessera_store::{ClientRecord, Store, logout_outbox};
use tessera_tenants::TenantSnapshot;

use crate::TokenError;

/// The `events` member that makes a JWT a logout token (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` header of a logout token (Back-Channel Logout 1.0 §2.4, explicit typing per
/// RFC 8725 §3.11).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// Lifetime of a logout token, seconds; each delivery attempt signs a fresh one.
pub const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// The longest wait between two delivery attempts, seconds.
pub const MAX_RETRY_DELAY_SECS: i64 = 3600;

/// Claims of a logout token (Back-Channel Logout 1.0 §2.4); it never carries `nonce`.
#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    events: Value,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
}

/// Signs a logout token for `client` about `subject`'s session `sid` (Back-Channel Logout 1.0
/// §2.4): `iss`, `aud` = the client, `iat`, a short `exp`, a fresh `jti`, the back-channel
/// `events` member, the client's `sub` and `sid` when known; signed like the client's ID tokens, with `typ`
/// `logout+jwt`. A client that requires the session (`backchannel_logout_session_required`)
/// gets no token without a `sid`.
pub fn logout_token(
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    user: UserId,
    sid: Option<&str>,
    now: i64,
) -> Result<String, TokenError> {
    if client.options.backchannel_logout_session_required && sid.is_none() {
        return Err(TokenError::InvalidRequest(
            "the client requires a sid in logout tokens".into(),
        ));
    }
    let signer = snapshot
        .keys
        .signer_for(client.id_token_alg)
        .ok_or(TokenError::NoSigningKey)?;
    // The `sub` this client knows: pairwise for a pairwise client (OIDC Core §8.1).
    let subject = snapshot.subject_for(client, user);
    let claims = LogoutTokenClaims {
        iss: &snapshot.issuer,
        aud: client.client_id.as_ref(),
        iat: now,
        exp: now + LOGOUT_TOKEN_TTL_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
        events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        sub: &subject,
        sid,
    };
    let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
    signer.sign_jws(LOGOUT_TOKEN_TYP, &payload).map_err(|e| {
        anyhow::Error::new(e)
            .context("signing a logout token")
            .into()
    })
}

/// Records that `user`'s session `sid` ended: queues a back-channel notice for every
/// participating client with a `backchannel_logout_uri`, and returns the participating clients
/// (for the front channel, which only a browser logout can use).
pub async fn session_ended(
    store: &Store,
    tenant: TenantId,
    user: UserId,
    sid: &str,
    now: i64,
) -> Result<Vec<ClientRecord>, TokenError> {
    let db = store.conn();
    let mut participants = Vec::new();
    for id in logout_outbox::clients_of_session(db, tenant, sid).await? {
        let Some(client_id) = ClientId::parse(&id) else {
            continue;
        };
        let Some(client) = tessera_store::clients::find(db, tenant, &client_id).await? else {
            continue;
        };
        if client.options.backchannel_logout_uri.is_some() {
            logout_outbox::enqueue(db, tenant, &id, &user.to_string(), Some(sid), now).await?;
        }
        participants.push(client);
    }
    Ok(participants)
}

/// One front-channel logout iframe: the URL to load and its origin (for `frame-src`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrontChannelFrame {
    /// The client's `frontchannel_logout_uri`, with `iss` and `sid` when it requires them.
    pub url: String,
    /// `scheme://host[:port]` of the URL.
    pub origin: String,
}

/// The iframes of the signed-out page: one per client with a `frontchannel_logout_uri`, with
/// `iss` and `sid` added as query parameters when the client requires the session
/// (Front-Channel Logout 1.0 §3). A URI that no longer parses is skipped.
pub fn frontchannel_frames(
    issuer: &str,
    sid: &str,
    clients: &[ClientRecord],
) -> Vec<FrontChannelFrame> {
    clients
        .iter()
        .filter_map(|client| {
            let raw = client.options.frontchannel_logout_uri.as_deref()?;
            let mut url =
                tessera_core::client::parse_logout_uri("frontchannel_logout_uri", raw).ok()?;
            if client.options.frontchannel_logout_session_required {
                url.query_pairs_mut()
                    .append_pair("iss", issuer)
                    .append_pair("sid", sid);
            }
            let origin = url.origin().ascii_serialization();
            Some(FrontChannelFrame {
                url: url.to_string(),
                origin,
            })
        })
        .collect()
}

/// How long to wait before attempt `attempts + 1` after `attempts` failed ones: `base`
/// doubled per failure, at most [`MAX_RETRY_DELAY_SECS`].
pub fn retry_delay(base_secs: i64, attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    base_secs
        .max(1)
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY_SECS)
}

/// Why one back-channel delivery failed (never holds the token).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The client answered with another status than 200 or 204.
    #[error("the client answered {0}")]
    Status(u16),
    /// No answer: connection refused, timeout, TLS failure.
    #[error("the request failed: {0}")]
    Transport(String),
}

/// POSTs logout tokens to clients (Back-Channel Logout 1.0 §2.5): form-encoded `logout_token`,
/// with a timeout, never following a redirect.
#[derive(Clone)]
pub struct LogoutDelivery {
    http: reqwest::Client,
}

impl LogoutDelivery {
    /// A delivery client whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, TokenError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The registered URL is the only place the token may go.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::Error::new(e).context("building the logout HTTP client"))?;
        Ok(Self { http })
    }

    /// Sends one logout token; success is 200 or 204 (§2.8: the RP answers 200, and some
    /// frameworks substitute 204).
    pub async fn deliver(&self, uri: &str, token: &str) -> Result<(), DeliveryError> {
        let body = serde_urlencoded::to_string([("logout_token", token)])
            .map_err(|e| DeliveryError::Transport(e.to_string()))?;
        let response = self
            .http
            .post(uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            // Without the URL: reqwest's error text would name it.
            .map_err(|e| DeliveryError::Transport(e.without_url().to_string()))?;
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            other => Err(DeliveryError::Status(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        assert_eq!(retry_delay(10, 1), 10);
        assert_eq!(retry_delay(10, 2), 20);
        assert_eq!(retry_delay(10, 3), 40);
        assert_eq!(retry_delay(10, 40), MAX_RETRY_DELAY_SECS);
        assert_eq!(retry_delay(0, 1), 1);
    }
}
