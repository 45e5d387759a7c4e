//! `POST /t/{tenant}/introspect` (RFC 7662): a confidential client of the tenant asks whether a
//! token is active and what it states, answered as JSON or, on `Accept:
//! application/token-introspection+jwt`, as a signed JWT (RFC 9701), never cached. Also the
//! request reading shared with revocation: form body and client authentication, and the client
//! authentication every endpoint shares, JWT assertions included ([`authenticate_client_of`]).

use std::sync::Arc;

use actix_web::http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use tessera_core::{Clock, SigningAlg};
use tessera_keys::MasterKey;
use tessera_store::{ClientRecord, Store};
use tessera_tenants::TenantSnapshot;
use tessera_tokens::client_keys::ClientKeyResolver;
use tessera_tokens::mtls::ClientCertificate;
use tessera_tokens::{
    AssertionCheck, ClientAuthentication, INTROSPECTION_JWT_MEDIA_TYPE, MAX_BODY_BYTES,
    PresentedToken, TokenError, authenticate, authenticate_client, introspect, introspection_jwt,
    parse_presented_token,
};

use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, OAuthError};

/// Handles an introspection request.
pub async fn introspect_token(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = tenant.0;
    let (client, form) = authenticated(&snapshot, &req, payload).await?;
    let fail = |e: TokenError| OAuthError::from_token_error(e, &snapshot.issuer);
    let now = Clock.now();
    // RFC 7662 §2.1: the endpoint is for confidential clients; a public one cannot prove who
    // it is, so it is refused like a failed authentication.
    let response = introspect(
        &store,
        &snapshot,
        &client,
        form.token().map_err(fail)?.expose_secret(),
        form.hint,
        now,
    )
    .await
    .map_err(fail)?;
    if !wants_jwt(&req) {
        return Ok(HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((PRAGMA, "no-cache"))
            .json(response.to_json()));
    }
    // RFC 9701 §5: the response is a JWT for the calling client, signed by the tenant.
    let jwt = if snapshot.keys.primary_alg() == SigningAlg::Rs256 {
        // RSA signing costs ~1 ms of CPU: keep it off the reactor.
        let snap = Arc::clone(&snapshot);
        let audience = client.client_id.to_string();
        web::block(move || introspection_jwt(&snap, &audience, &response, now))
            .await
            .map_err(|_| OAuthError::server_error())?
    } else {
        introspection_jwt(&snapshot, client.client_id.as_ref(), &response, now)
    }
    .map_err(fail)?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .insert_header((CONTENT_TYPE, INTROSPECTION_JWT_MEDIA_TYPE))
        .body(jwt))
}

/// Reads the form body of an introspection or revocation request and authenticates the client
/// with the methods of the token endpoint (RFC 7662 §2.1, RFC 7009 §2.1): a body that is not
/// a form is 400, one over 16 KiB is 413, a repeated parameter 400, failed authentication 401
/// `invalid_client` with a `WWW-Authenticate` challenge.
pub(crate) async fn authenticated(
    snapshot: &TenantSnapshot,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Arc<ClientRecord>, PresentedToken), OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fail = |e: TokenError| OAuthError::from_token_error(e, &snapshot.issuer);
    let mut form = parse_presented_token(&body).map_err(fail)?;
    let authorization = match req.headers().get(AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| fail(TokenError::InvalidClient))?),
        None => None,
    };
    let auth =
        ClientAuthentication::from_request(authorization, &mut form.credentials).map_err(fail)?;
    let cert = crate::client_certificate(req);
    let client = Arc::clone(
        authenticate_client_of(req, snapshot, &auth, cert.as_ref())
            .await
            .map_err(fail)?,
    );
    tracing::Span::current().record("client_id", client.client_id.as_ref());
    Ok((client, form))
}

/// Authenticates the client of `req` (RFC 6749 §2.3): a secret or a certificate synchronously
/// against the snapshot, as before; a JWT assertion (RFC 7523 §2.2) with the shared replay cache
/// and the client's keys, its `aud` checked against the issuer, the token endpoint and the URL
/// of the endpoint `req` was sent to (the last segment of its path below the issuer).
pub(crate) async fn authenticate_client_of<'a>(
    req: &HttpRequest,
    snapshot: &'a TenantSnapshot,
    auth: &ClientAuthentication,
    cert: Option<&ClientCertificate>,
) -> Result<&'a Arc<ClientRecord>, TokenError> {
    if !auth.is_assertion() {
        return authenticate_client(snapshot, auth, cert);
    }
    let (Some(store), Some(master), Some(keys)) = (
        req.app_data::<web::Data<Store>>(),
        req.app_data::<web::Data<MasterKey>>(),
        req.app_data::<web::Data<ClientKeyResolver>>(),
    ) else {
        return Err(TokenError::Unexpected(anyhow::anyhow!(
            "client assertion checking is not configured"
        )));
    };
    let endpoint = req.path().rsplit('/').next().unwrap_or_default();
    let url = crate::dpop::endpoint_url(req, snapshot, &format!("/{endpoint}"));
    let check = AssertionCheck {
        store,
        master,
        keys,
        endpoint_url: &url,
        now: Clock.now(),
    };
    authenticate(snapshot, auth, cert, &check).await
}

/// Whether the request asks for a JWT response (RFC 9701 §4): `Accept` names
/// `application/token-introspection+jwt` with a non-zero quality.
fn wants_jwt(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case(INTROSPECTION_JWT_MEDIA_TYPE) && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accept(value: &str) -> bool {
        wants_jwt(
            &TestRequest::default()
                .insert_header((ACCEPT, value))
                .to_http_request(),
        )
    }

    #[test]
    fn only_an_accept_naming_the_jwt_type_gets_a_jwt() {
        assert!(accept("application/token-introspection+jwt"));
        assert!(accept(
            "application/json;q=0.5, Application/Token-Introspection+JWT"
        ));
        assert!(accept("application/token-introspection+jwt; q=0.8"));
        assert!(!accept("application/token-introspection+jwt;q=0"));
        assert!(!accept("application/json"));
        assert!(!accept("*/*"));
        assert!(!wants_jwt(&TestRequest::default().to_http_request()));
    }
}
