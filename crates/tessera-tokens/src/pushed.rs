//! Pushed authorization requests (RFC 9126): a validated request is stored under a fresh
//! `urn:ietf:params:oauth:request_uri:<256-bit random>` and taken back, once, by the client that
//! pushed it. Only the SHA-256 of the random part is stored, like every other handle.

use tessera_core::TenantId;
use tessera_core::secret::{random_token, sha256_hex};
use tessera_store::pushed_requests::{self, PushedRequestRecord};
use tessera_store::{Store, StoreError};

use crate::TokenError;

/// The prefix of every `request_uri` the pushed authorization request endpoint issues
/// (RFC 9126 §2.2).
pub const PAR_URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Bytes of randomness in a `request_uri` (RFC 9126 §7.1 asks for unguessable values).
const HANDLE_BYTES: usize = 32;

/// A stored pushed request, as answered to the client (RFC 9126 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    /// The `request_uri` to send to `/authorize`.
    pub request_uri: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Whether `request_uri` is one of ours (a PAR urn) rather than a remote URL.
pub fn is_pushed_request_uri(request_uri: &str) -> bool {
    request_uri.starts_with(PAR_URN_PREFIX)
}

fn handle_of(request_uri: &str) -> Option<String> {
    let random = request_uri.strip_prefix(PAR_URN_PREFIX)?;
    (!random.is_empty() && random.len() <= 128).then(|| sha256_hex(random))
}

fn store_error(e: StoreError) -> TokenError {
    if e.is_unavailable() {
        TokenError::Unavailable
    } else {
        TokenError::Unexpected(anyhow::Error::new(e).context("pushed authorization requests"))
    }
}

/// Stores the validated parameters `params` of `client_id`'s request for `ttl_secs`.
pub async fn push_request(
    store: &Store,
    tenant: TenantId,
    client_id: &str,
    params: serde_json::Value,
    ttl_secs: i64,
    now: i64,
) -> Result<PushedRequest, TokenError> {
    let random = random_token(HANDLE_BYTES);
    let record = PushedRequestRecord {
        tenant_id: tenant,
        handle: sha256_hex(&random),
        client_id: client_id.to_owned(),
        params,
        expires_at: now + ttl_secs,
        created_at: now,
    };
    pushed_requests::insert(store.conn(), &record)
        .await
        .map_err(store_error)?;
    Ok(PushedRequest {
        request_uri: format!("{PAR_URN_PREFIX}{random}"),
        expires_in: ttl_secs,
    })
}

/// Takes the pushed request `request_uri` of `client_id` in the tenant, once (RFC 9126 §4);
/// `None` when it is unknown, expired, already used or another client's.
pub async fn take_pushed_request(
    store: &Store,
    tenant: TenantId,
    request_uri: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<serde_json::Value>, TokenError> {
    let Some(handle) = handle_of(request_uri) else {
        return Ok(None);
    };
    Ok(
        pushed_requests::take(store.conn(), tenant, &handle, client_id, now)
            .await
            .map_err(store_error)?
            .map(|r| r.params),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_par_urns_with_a_random_part_have_a_handle() {
        assert!(is_pushed_request_uri(
            "urn:ietf:params:oauth:request_uri:abc"
        ));
        assert!(!is_pushed_request_uri("https://rp.example.com/request.jwt"));
        assert_eq!(
            handle_of("urn:ietf:params:oauth:request_uri:abc"),
            Some(sha256_hex("abc"))
        );
        assert_eq!(handle_of("urn:ietf:params:oauth:request_uri:"), None);
        assert_eq!(handle_of("https://rp/x"), None);
    }
}
