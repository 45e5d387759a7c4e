//! `POST /t/{tenant}/revoke` (RFC 7009): a client of the tenant — public clients with their
//! `client_id` alone (§2.1) — withdraws an access or refresh token it was issued. Unknown and
//! already dead tokens are answered 200 like revoked ones (§2.2); the answer is never cached.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA, USER_AGENT};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use tessera_core::Clock;
use tessera_store::Store;
use tessera_tokens::{RequestOrigin, RevocationError, TokenError, revoke};

use crate::introspect::authenticated;
use crate::{ActiveTenant, OAuthError, TrustedProxies};

/// Handles a revocation request.
pub async fn revoke_token(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = tenant.0;
    let (client, form) = authenticated(&snapshot, &req, payload).await?;
    let token = form
        .token()
        .map_err(|e: TokenError| OAuthError::from_token_error(e, &snapshot.issuer))?;
    let ip = match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client_ip(&req),
        None => req.peer_addr().map(|a| a.ip()),
    };
    let origin = RequestOrigin::new(
        ip.map(|ip| ip.to_string()),
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()),
    );
    match revoke(
        &store,
        &snapshot,
        &client,
        token.expose_secret(),
        form.hint,
        &origin,
        Clock.now(),
    )
    .await
    {
        Ok(revoked) => {
            if let Some(kind) = revoked {
                tracing::info!(
                    client_id = %client.client_id,
                    kind = kind.as_str(),
                    "client revoked a token"
                );
            }
            // RFC 7009 §2.2: 200 whether or not there was anything to revoke; no body.
            Ok(HttpResponse::Ok()
                .insert_header((CACHE_CONTROL, "no-store"))
                .insert_header((PRAGMA, "no-cache"))
                .finish())
        }
        Err(e) => Err(refusal(e)),
    }
}

/// Renders a revocation refusal (RFC 7009 §2.2.1).
fn refusal(err: RevocationError) -> OAuthError {
    let code = err.code();
    match err {
        RevocationError::Unavailable => OAuthError::unavailable(),
        RevocationError::Unexpected(e) => {
            tracing::error!(error = ?e, "revocation endpoint failed");
            OAuthError::server_error()
        }
        other => OAuthError::new(StatusCode::BAD_REQUEST, code, other.to_string()),
    }
}
