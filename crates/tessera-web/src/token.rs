//! `POST /t/{tenant}/token` (RFC 6749 §3.2): authenticates the client, dispatches on
//! `grant_type` (client credentials, authorization code, refresh token), and answers with a
//! token response or an RFC 6749 §5.2 error, never cached.

use std::sync::Arc;

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_core::{Clock, SigningAlg};
use tessera_store::Store;
use tessera_tenants::TenantSnapshot;
use tessera_tokens::{
    ClientAuthentication, Issuance, MAX_BODY_BYTES, TokenError, TokenResponse, authenticate_client,
    exchange_code, issue_client_credentials, parse_token_form, refresh_tokens,
};

use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, Metrics, OAuthError};

/// Handles a token request.
pub async fn token(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    metrics: web::Data<Metrics>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = tenant.0;
    if !is_form(&req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fail = |e: TokenError| OAuthError::from_token_error(e, &snapshot.issuer);
    let mut form = parse_token_form(&body).map_err(fail)?;
    let grant_type = form
        .grant_type
        .take()
        .ok_or_else(|| fail(TokenError::InvalidRequest("grant_type is required".into())))?;
    let authorization = match req.headers().get(AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| fail(TokenError::InvalidClient))?),
        None => None,
    };
    let auth = ClientAuthentication::from_request(authorization, &mut form).map_err(fail)?;
    let client = Arc::clone(authenticate_client(&snapshot, &auth).map_err(fail)?);
    tracing::Span::current().record("client_id", client.client_id.as_ref());

    let response = match grant_type.as_str() {
        "client_credentials" => {
            let now = Clock.now();
            if snapshot.tenant.signing_alg == SigningAlg::Rs256 {
                // RSA signing costs ~1 ms of CPU: keep it off the reactor.
                let snap = Arc::clone(&snapshot);
                web::block(move || {
                    issue_client_credentials(
                        &snap,
                        &client,
                        form.scope.as_deref(),
                        &form.resource,
                        now,
                    )
                })
                .await
                .map_err(|_| OAuthError::server_error())?
            } else {
                issue_client_credentials(
                    &snapshot,
                    &client,
                    form.scope.as_deref(),
                    &form.resource,
                    now,
                )
            }
            .map_err(fail)?
        }
        "authorization_code" => {
            let issued = exchange_code(&store, &snapshot, &client, &form, Clock.now())
                .await
                .map_err(fail)?;
            sign(issued, &snapshot).await?.map_err(fail)?
        }
        "refresh_token" => {
            let issued = refresh_tokens(&store, &snapshot, &client, &form, Clock.now())
                .await
                .map_err(fail)?;
            sign(issued, &snapshot).await?.map_err(fail)?
        }
        _ => return Err(fail(TokenError::UnsupportedGrantType)),
    };
    metrics
        .tokens_issued
        .with_label_values(&[grant_type.as_str()])
        .inc();
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(response))
}

/// Signs what a grant issued: RSA signing costs ~1 ms of CPU, so it runs on the blocking pool;
/// ES256 and EdDSA are cheap enough for the reactor.
async fn sign(
    issued: Issuance,
    snapshot: &Arc<TenantSnapshot>,
) -> Result<Result<TokenResponse, TokenError>, OAuthError> {
    if issued.signs_with_rsa(snapshot) {
        let snap = Arc::clone(snapshot);
        web::block(move || issued.sign(&snap))
            .await
            .map_err(|_| OAuthError::server_error())
    } else {
        Ok(issued.sign(snapshot))
    }
}
