//! `GET`/`POST /t/{tenant}/userinfo` (OIDC Core §5.3): the claims an access token's scopes
//! release, never cached. The token comes in `Authorization: Bearer` or, on POST, as the
//! form-encoded `access_token` (RFC 6750 §2.1, §2.2), not both; failures are RFC 6750 §3
//! challenges. Browser clients of the tenant may call it cross-origin (CORS), and preflight.
//! Clients registered for it get a signed, encrypted, or signed-then-encrypted JWT (§5.3.2).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, AUTHORIZATION, CACHE_CONTROL, HeaderValue, ORIGIN, PRAGMA, VARY,
};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_core::{Clock, EncryptedResponse, OAuthErrorCode, SigningAlg};
use tessera_keys::MasterKey;
use tessera_keys::jwe::Recipient;
use tessera_store::Store;
use tessera_tenants::TenantSnapshot;
use tessera_tokens::client_keys::{ClientKeyResolver, encryption_recipient};
use tessera_tokens::{BearerError, Presentation};

use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, OAuthError, dpop};

/// Largest accepted form body: an access token and little else.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// `GET /userinfo`.
pub async fn userinfo_get(
    tenant: ActiveTenant,
    req: HttpRequest,
    store: web::Data<Store>,
    master: web::Data<MasterKey>,
) -> HttpResponse {
    let snapshot = &tenant.0;
    let result = match bearer_header(&req) {
        Ok(token) => answer(snapshot, &store, &master, &req, token).await,
        Err(e) => Err(e),
    };
    finish(snapshot, &master, &req, result)
}

/// `POST /userinfo`: the token in the header or in a form body.
pub async fn userinfo_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    master: web::Data<MasterKey>,
) -> HttpResponse {
    let snapshot = &tenant.0;
    let result = async {
        let header = bearer_header(&req)?;
        let body = if is_form(&req) {
            read_limited(payload, MAX_BODY_BYTES).await?
        } else {
            web::Bytes::new()
        };
        let from_body = body_token(&body)?;
        // RFC 6750 §2: one method per request.
        let token = match (header, from_body) {
            (Some(_), Some(_)) => {
                return Err(challenge(
                    snapshot,
                    StatusCode::BAD_REQUEST,
                    OAuthErrorCode::InvalidRequest,
                    "send the access token in the header or the body, not both",
                ));
            }
            (Some(t), None) => Some(t),
            (None, Some(t)) => Some(Presented {
                token: t,
                dpop: false,
            }),
            (None, None) => None,
        };
        answer(snapshot, &store, &master, &req, token).await
    }
    .await;
    finish(snapshot, &master, &req, result)
}

/// `OPTIONS /userinfo`: the CORS preflight for browser clients of the tenant.
pub async fn userinfo_preflight(tenant: ActiveTenant, req: HttpRequest) -> HttpResponse {
    let mut resp = HttpResponse::NoContent().finish();
    if allow_origin(&tenant.0, &req, &mut resp) {
        let headers = resp.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, DPoP"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    resp
}

/// An access token as presented, and whether with the `DPoP` scheme (RFC 9449 §7.1).
struct Presented {
    token: String,
    dpop: bool,
}

/// The token of an `Authorization: Bearer` or `Authorization: DPoP` header, if the request has
/// one. Another scheme carries no token of ours: the request is answered as one without a token.
fn bearer_header(req: &HttpRequest) -> Result<Option<Presented>, OAuthError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(OAuthError::invalid_request("the access token is empty"));
    }
    Ok(Some(Presented {
        token: token.to_owned(),
        dpop,
    }))
}

/// The `access_token` of a form body, if any; a repeated one is malformed.
fn body_token(body: &[u8]) -> Result<Option<String>, OAuthError> {
    if body.is_empty() {
        return Ok(None);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))?;
    let mut tokens = pairs
        .into_iter()
        .filter(|(k, v)| k == "access_token" && !v.is_empty())
        .map(|(_, v)| v);
    let token = tokens.next();
    if tokens.next().is_some() {
        return Err(OAuthError::invalid_request(
            "parameter `access_token` is repeated",
        ));
    }
    Ok(token)
}

/// The userinfo response for `token`, or the RFC 6750 §3 / RFC 9449 §7.1 error.
async fn answer(
    snapshot: &Arc<TenantSnapshot>,
    store: &Store,
    master: &MasterKey,
    req: &HttpRequest,
    token: Option<Presented>,
) -> Result<HttpResponse, OAuthError> {
    let Some(presented) = token else {
        // RFC 6750 §3.1: no token at all gets a challenge without error attributes.
        return Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: OAuthErrorCode::InvalidRequest,
            description: Some("an access token is required".into()),
            challenge: Some(format!("Bearer realm=\"{}\"", snapshot.issuer)),
        });
    };
    let now = Clock.now();
    // RFC 9449 §7.1: with the DPoP scheme, a proof for this request and token is required.
    let proof = if presented.dpop {
        match dpop::check(
            req,
            snapshot,
            master,
            store,
            "/userinfo",
            Some(&presented.token),
            now,
        )
        .await
        {
            Ok(Some(proof)) => Some(proof),
            Ok(None) => {
                return Err(dpop_challenge(
                    snapshot,
                    OAuthErrorCode::InvalidDpopProof,
                    "a DPoP proof is required with the DPoP scheme",
                ));
            }
            Err(dpop::ProofFailure::Invalid(why)) => {
                return Err(dpop_challenge(
                    snapshot,
                    OAuthErrorCode::InvalidDpopProof,
                    &why,
                ));
            }
            Err(dpop::ProofFailure::UseNonce(_)) => {
                return Err(dpop_challenge(
                    snapshot,
                    OAuthErrorCode::UseDpopNonce,
                    "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                ));
            }
            Err(dpop::ProofFailure::Unavailable) => return Err(OAuthError::unavailable()),
        }
    } else {
        None
    };
    let cert = crate::client_certificate(req);
    let how = Presentation {
        dpop_scheme: presented.dpop,
        proof_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
        cert_x5t: cert.as_ref().map(|c| c.x5t_s256.as_str()),
    };
    match tessera_tokens::userinfo(store, snapshot, &presented.token, how, now).await {
        Ok(info) => {
            // OIDC Core §5.3.2: a client registered for signed or encrypted responses gets a
            // JWT: signed, encrypted, or signed then encrypted (a nested JWT).
            let rendering = match (
                info.signing_alg(snapshot),
                userinfo_recipient(req, snapshot, &info.client_id).await?,
            ) {
                (None, None) => {
                    return Ok(HttpResponse::Ok()
                        .insert_header((CACHE_CONTROL, "no-store"))
                        .insert_header((PRAGMA, "no-cache"))
                        .json(info.claims));
                }
                (Some(alg), None) => Rendering::Sign(alg),
                (alg, Some(recipient)) => Rendering::Encrypt(alg, recipient),
            };
            // RSA signing, RSA-OAEP and ECDH with a fresh key pair cost up to a millisecond of
            // CPU: keep them off the reactor.
            let blocking = !matches!(rendering, Rendering::Sign(alg) if alg != SigningAlg::Rs256);
            let snap = Arc::clone(snapshot);
            let render = move || match rendering {
                Rendering::Sign(alg) => info.sign(&snap, alg),
                Rendering::Encrypt(alg, recipient) => info.encrypt(&snap, alg, &recipient),
            };
            let rendered = if blocking {
                web::block(render)
                    .await
                    .map_err(|_| OAuthError::server_error())?
            } else {
                render()
            };
            match rendered {
                Ok(jwt) => Ok(HttpResponse::Ok()
                    .insert_header((CACHE_CONTROL, "no-store"))
                    .insert_header((PRAGMA, "no-cache"))
                    .insert_header((header::CONTENT_TYPE, "application/jwt"))
                    .body(jwt)),
                Err(e) => {
                    tracing::error!(error = %e, "signing or encrypting a userinfo response failed");
                    Err(OAuthError::server_error())
                }
            }
        }
        Err(BearerError::InvalidDpopProof(why)) => Err(dpop_challenge(
            snapshot,
            OAuthErrorCode::InvalidDpopProof,
            &why,
        )),
        Err(BearerError::InvalidToken(why)) if presented.dpop => {
            Err(dpop_challenge(snapshot, OAuthErrorCode::InvalidToken, &why))
        }
        Err(BearerError::InvalidToken(why)) => Err(challenge(
            snapshot,
            StatusCode::UNAUTHORIZED,
            OAuthErrorCode::InvalidToken,
            &why,
        )),
        Err(BearerError::InsufficientScope(why)) => Err(challenge(
            snapshot,
            StatusCode::FORBIDDEN,
            OAuthErrorCode::InsufficientScope,
            &why,
        )),
        Err(BearerError::InvalidRequest(why)) => Err(challenge(
            snapshot,
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            &why,
        )),
        Err(BearerError::Unavailable) => Err(OAuthError::unavailable()),
        Err(BearerError::Unexpected(e)) => {
            tracing::error!(error = ?e, "userinfo failed");
            Err(OAuthError::server_error())
        }
    }
}

/// How a userinfo response is made a JWT (OIDC Core §5.3.2).
enum Rendering {
    /// Signed with the tenant key of this algorithm.
    Sign(SigningAlg),
    /// Signed with this algorithm if any, then encrypted to the client's key.
    Encrypt(Option<SigningAlg>, Recipient),
}

/// The key the response for `client_id` is encrypted to, if the client registered
/// `userinfo_encrypted_response_alg` (OIDC Registration §2). A key that cannot be had is a 400
/// `invalid_request` saying so: the claims are never sent unencrypted instead.
async fn userinfo_recipient(
    req: &HttpRequest,
    snapshot: &TenantSnapshot,
    client_id: &str,
) -> Result<Option<Recipient>, OAuthError> {
    let Some(client) = snapshot.client(client_id) else {
        return Ok(None);
    };
    if client
        .options
        .encryption(EncryptedResponse::Userinfo)
        .is_none()
    {
        return Ok(None);
    }
    let Some(keys) = req.app_data::<web::Data<ClientKeyResolver>>() else {
        tracing::error!("client key resolution is not configured");
        return Err(OAuthError::server_error());
    };
    encryption_recipient(keys, client, EncryptedResponse::Userinfo)
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.client_id, error = %e, "userinfo encryption key unavailable");
            challenge(
                snapshot,
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                &format!("the client's encryption key could not be obtained: {e}"),
            )
        })
}

/// An error with its `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).
fn challenge(
    snapshot: &TenantSnapshot,
    status: StatusCode,
    code: OAuthErrorCode,
    description: &str,
) -> OAuthError {
    // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
    let safe: String = description
        .chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    let mut value = format!(
        "Bearer realm=\"{}\", error=\"{}\", error_description=\"{safe}\"",
        snapshot.issuer,
        code.as_str()
    );
    if code == OAuthErrorCode::InsufficientScope {
        value.push_str(", scope=\"openid\"");
    }
    OAuthError {
        status,
        code,
        description: Some(description.to_owned()),
        challenge: Some(value),
    }
}

/// A 401 with a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1) naming the accepted
/// algorithms; for `use_dpop_nonce`, `finish` adds the `DPoP-Nonce` header.
fn dpop_challenge(
    snapshot: &TenantSnapshot,
    code: OAuthErrorCode,
    description: &str,
) -> OAuthError {
    let safe: String = description
        .chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    let algs = tessera_keys::foreign::DPOP_ALGS.join(" ");
    let value = format!(
        "DPoP realm=\"{}\", error=\"{}\", error_description=\"{safe}\", algs=\"{algs}\"",
        snapshot.issuer,
        code.as_str()
    );
    OAuthError {
        status: StatusCode::UNAUTHORIZED,
        code,
        description: Some(description.to_owned()),
        challenge: Some(value),
    }
}

/// Renders the result and adds the CORS headers when the caller is an allowed browser origin.
fn finish(
    snapshot: &TenantSnapshot,
    master: &MasterKey,
    req: &HttpRequest,
    result: Result<HttpResponse, OAuthError>,
) -> HttpResponse {
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            let mut resp = actix_web::ResponseError::error_response(&e);
            // RFC 9449 §9: a resource server asks for a nonce with `use_dpop_nonce` and
            // provides it in `DPoP-Nonce`.
            if e.code == OAuthErrorCode::UseDpopNonce
                && let Some(nonce) = dpop::fresh_nonce(snapshot, master, Clock.now())
                    .and_then(|n| HeaderValue::from_str(&n).ok())
            {
                resp.headers_mut()
                    .insert(header::HeaderName::from_static("dpop-nonce"), nonce);
            }
            resp
        }
    };
    if allow_origin(snapshot, req, &mut resp) {
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            // A browser client must read the nonce of a `use_dpop_nonce` answer (RFC 9449 §9).
            HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
        );
    }
    resp
}

/// Adds `Access-Control-Allow-Origin` when the request's `Origin` is the origin of a redirect
/// URI of one of the tenant's clients; `Vary: Origin` either way a request has one. Returns
/// whether the origin was allowed.
fn allow_origin(snapshot: &TenantSnapshot, req: &HttpRequest, resp: &mut HttpResponse) -> bool {
    let Some(origin) = req.headers().get(ORIGIN) else {
        return false;
    };
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("Origin"));
    let Ok(origin_str) = origin.to_str() else {
        return false;
    };
    let allowed = snapshot.clients.values().any(|c| {
        c.redirect_uris
            .iter()
            .any(|uri| origin_of(uri).is_some_and(|o| o.eq_ignore_ascii_case(origin_str)))
    });
    if allowed {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    allowed
}

/// `scheme://authority` of an absolute http(s) URI (RFC 6454 §4, without default-port
/// normalization: registered redirect URIs spell the origin as browsers send it).
fn origin_of(uri: &str) -> Option<&str> {
    let rest_start = uri.find("://")? + 3;
    let scheme = &uri[..rest_start - 3];
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let end = uri[rest_start..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| rest_start + i);
    (end > rest_start).then(|| &uri[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_scheme_and_authority_of_http_uris_only() {
        assert_eq!(
            origin_of("https://app.example.com:8443/cb?x=1"),
            Some("https://app.example.com:8443")
        );
        assert_eq!(origin_of("http://localhost"), Some("http://localhost"));
        assert_eq!(origin_of("com.example.app:/cb"), None);
        assert_eq!(origin_of("https:///cb"), None);
    }

    #[test]
    fn only_form_access_token_is_read_and_never_twice() {
        assert_eq!(
            body_token(b"access_token=abc&x=1").unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(body_token(b"").unwrap(), None);
        assert!(body_token(b"access_token=a&access_token=b").is_err());
    }
}
