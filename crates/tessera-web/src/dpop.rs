//! DPoP proofs on HTTP requests (RFC 9449): reads the one `DPoP` header, checks it against the
//! endpoint's public URL and the tenant's nonce policy with [`tessera_tokens::dpop`], and
//! refuses a proof `jti` any node has seen before (the replay cache is a database table, or
//! Redis when configured, so every node shares it, RFC 9449 §11.1).

use crate::MtlsOrigin;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_keys::MasterKey;
use tessera_store::Store;
use tessera_tenants::TenantSnapshot;
use tessera_tokens::dpop::{
    self, DpopError, DpopProof, NonceKey, NonceRule, ProofCheck, REPLAY_WINDOW_SECS,
};

/// Why a request's proof was refused.
#[derive(Debug)]
pub enum ProofFailure {
    /// `invalid_dpop_proof`, with a description safe to show.
    Invalid(String),
    /// `use_dpop_nonce`: retry with the nonce in the `DPoP-Nonce` header.
    UseNonce(String),
    /// The replay cache could not be reached.
    Unavailable,
}

/// The nonce key of this deployment: derived from the master key, so every node issues and
/// accepts the same nonces without sharing state.
pub fn nonce_key(master: &MasterKey) -> NonceKey {
    NonceKey::derive(master.to_base64().as_bytes())
}

/// A fresh nonce for the tenant, when its policy asks for nonces.
pub fn fresh_nonce(snapshot: &TenantSnapshot, master: &MasterKey, now: i64) -> Option<String> {
    snapshot
        .tenant
        .settings
        .tokens
        .dpop_nonce_required
        .then(|| nonce_key(master).issue(snapshot.tenant.id, now))
}

/// Checks the request's DPoP proof for `path` below the issuer (e.g. `/token`), with
/// `access_token` when one is presented (`ath`). `Ok(None)` when the request has no proof.
pub async fn check(
    req: &HttpRequest,
    snapshot: &TenantSnapshot,
    master: &MasterKey,
    store: &Store,
    path: &str,
    access_token: Option<&str>,
    now: i64,
) -> Result<Option<DpopProof>, ProofFailure> {
    let mut headers = req.headers().get_all("dpop");
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    // RFC 9449 §4.3 point 1: exactly one DPoP header.
    if headers.next().is_some() {
        return Err(ProofFailure::Invalid("send exactly one DPoP header".into()));
    }
    let value = value
        .to_str()
        .map_err(|_| ProofFailure::Invalid("the DPoP header is not a compact JWS".into()))?;
    let url = endpoint_url(req, snapshot, path);
    let key = snapshot
        .tenant
        .settings
        .tokens
        .dpop_nonce_required
        .then(|| nonce_key(master));
    let nonce = match &key {
        Some(key) => NonceRule::Required(key, snapshot.tenant.id),
        None => NonceRule::NotRequired,
    };
    let proof = dpop::check_proof(
        value,
        &ProofCheck {
            method: req.method().as_str(),
            url: &url,
            access_token,
            now,
            nonce,
        },
    )
    .map_err(|e| match e {
        DpopError::Invalid(why) => ProofFailure::Invalid(why),
        DpopError::UseNonce => ProofFailure::UseNonce(
            key.as_ref()
                .map(|k| k.issue(snapshot.tenant.id, now))
                .unwrap_or_default(),
        ),
    })?;
    // RFC 9449 §11.1: a proof is used once, whichever node sees it.
    let replay_key = dpop::replay_key(&proof);
    let tenant = snapshot.tenant.id;
    let remembered = store
        .ephemeral()
        .remember(tenant, &replay_key, now + REPLAY_WINDOW_SECS)
        .await;
    match remembered {
        Ok(true) => Ok(Some(proof)),
        Ok(false) => Err(ProofFailure::Invalid(
            "the DPoP proof was already used (jti replayed)".into(),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "DPoP replay cache unavailable");
            Err(ProofFailure::Unavailable)
        }
    }
}

/// The URL a request for `path` below the issuer was sent to, as this server publishes it (the
/// proof's `htu` must name it, RFC 9449 §4.3 point 9): the issuer's, or for a request that came
/// in on the mutual-TLS listener, the alias discovery advertises there (RFC 8705 §5). Never
/// taken from `Host`.
pub(crate) fn endpoint_url(req: &HttpRequest, snapshot: &TenantSnapshot, path: &str) -> String {
    let alias = req
        .app_config()
        .secure()
        .then(|| req.app_data::<web::Data<MtlsOrigin>>())
        .flatten()
        .and_then(|origin| origin.0.clone());
    match alias {
        Some(origin) => format!("{origin}/t/{}{path}", snapshot.tenant.slug),
        None => format!("{}{path}", snapshot.issuer),
    }
}

/// The token endpoint's answer to a refused proof (RFC 9449 §5, §8): 400 with
/// `invalid_dpop_proof` or `use_dpop_nonce` (and the `DPoP-Nonce` header).
pub fn token_endpoint_refusal(failure: ProofFailure) -> HttpResponse {
    let (code, description, nonce) = match failure {
        ProofFailure::Invalid(why) => ("invalid_dpop_proof", why, None),
        ProofFailure::UseNonce(nonce) => (
            "use_dpop_nonce",
            "the DPoP proof must carry the nonce in the DPoP-Nonce header".to_owned(),
            Some(nonce),
        ),
        ProofFailure::Unavailable => {
            return actix_web::ResponseError::error_response(&crate::OAuthError::unavailable());
        }
    };
    let mut resp = HttpResponse::build(StatusCode::BAD_REQUEST)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(serde_json::json!({"error": code, "error_description": description}));
    if let Some(nonce) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("dpop-nonce"),
            nonce,
        );
    }
    resp
}
