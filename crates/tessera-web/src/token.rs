//! `POST /t/{tenant}/token` (RFC 6749 §3.2): authenticates the client, checks a DPoP proof
//! (RFC 9449 §5) and a client certificate (RFC 8705 §3) when present, dispatches on
//! `grant_type` (client credentials, authorization code, refresh token, token exchange, device
//! code), stores
//! an opaque access token before handing it out, and answers with a token response or an
//! RFC 6749 §5.2 error, never cached.

use std::sync::Arc;

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_core::{Clock, EncryptedResponse, SigningAlg};
use tessera_keys::MasterKey;
use tessera_keys::jwe::Recipient;
use tessera_store::{ClientRecord, Store};
use tessera_tenants::TenantSnapshot;
use tessera_tokens::client_keys::{ClientKeyResolver, encryption_recipient};
use tessera_tokens::{
    Binding, ClientAuthentication, Issuance, MAX_BODY_BYTES, Minted, TokenError,
    encryption_key_unavailable, exchange_code, issue_client_credentials, parse_token_form,
    poll_device_code, refresh_tokens, token_exchange,
};

use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, Metrics, OAuthError, dpop};

/// The token exchange grant type (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The device code grant type (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Handles a token request.
pub async fn token(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    metrics: web::Data<Metrics>,
    store: web::Data<Store>,
    master: web::Data<MasterKey>,
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
    let cert = crate::client_certificate(&req);
    let client = Arc::clone(
        crate::introspect::authenticate_client_of(&req, &snapshot, &auth, cert.as_ref())
            .await
            .map_err(fail)?,
    );
    tracing::Span::current().record("client_id", client.client_id.as_ref());

    let now = Clock.now();
    // RFC 9449 §5: the proof binds the tokens to its key; a client registered with
    // `dpop_bound_access_tokens` must send one.
    let proof = match dpop::check(&req, &snapshot, &master, &store, "/token", None, now).await {
        Ok(proof) => proof,
        Err(failure) => return Ok(dpop::token_endpoint_refusal(failure)),
    };
    if proof.is_none() && client.options.require_dpop {
        return Ok(dpop::token_endpoint_refusal(dpop::ProofFailure::Invalid(
            "this client must send a DPoP proof with every token request".into(),
        )));
    }
    // RFC 8705 §3: a certificate the client authenticated with, or presented while registered
    // for certificate-bound tokens, binds the access token.
    let x5t = cert.as_ref().and_then(|c| {
        let tls_auth = client
            .options
            .token_endpoint_auth_method
            .is_some_and(|m| m.is_tls());
        (tls_auth || client.options.tls_client_certificate_bound_access_tokens)
            .then(|| c.x5t_s256.clone())
    });
    let binding = Binding {
        jkt: proof.map(|p| p.jkt),
        x5t,
    };

    // OIDC Core §10.2: the key an encrypted ID token goes to is resolved before the grant
    // consumes its code, refresh token or device code, so a key that cannot be had fails the
    // request (`invalid_request`) and leaves them usable once the client fixes its keys.
    let id_token_key = match grant_type.as_str() {
        "authorization_code" | "refresh_token" | DEVICE_CODE | tessera_tokens::PASSWORD_GRANT => {
            id_token_recipient(&req, &client).await.map_err(fail)?
        }
        _ => None,
    };

    let minted = match grant_type.as_str() {
        "client_credentials" => {
            if snapshot.tenant.signing_alg == SigningAlg::Rs256 {
                // RSA signing costs ~1 ms of CPU: keep it off the reactor.
                let snap = Arc::clone(&snapshot);
                web::block(move || {
                    issue_client_credentials(
                        &snap,
                        &client,
                        form.scope.as_deref(),
                        &form.resource,
                        binding,
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
                    binding,
                    now,
                )
            }
            .map_err(fail)?
        }
        "authorization_code" => {
            let issued = exchange_code(&store, &snapshot, &client, &form, binding, now)
                .await
                .map_err(fail)?;
            sign(issued, &snapshot, id_token_key).await?.map_err(fail)?
        }
        "refresh_token" => {
            let issued = refresh_tokens(&store, &snapshot, &client, &form, binding, now)
                .await
                .map_err(fail)?;
            sign(issued, &snapshot, id_token_key).await?.map_err(fail)?
        }
        DEVICE_CODE => {
            let issued = poll_device_code(&store, &snapshot, &client, &form, binding, now)
                .await
                .map_err(fail)?;
            sign(issued, &snapshot, id_token_key).await?.map_err(fail)?
        }
        tessera_tokens::PASSWORD_GRANT => {
            let issued = crate::password_grant::password_grant(
                &req, &snapshot, &store, &client, &form, binding,
            )
            .await
            .map_err(fail)?;
            sign(issued, &snapshot, id_token_key).await?.map_err(fail)?
        }
        TOKEN_EXCHANGE => token_exchange(&store, &snapshot, &client, &form, binding, now)
            .await
            .map_err(fail)?,
        _ => return Err(fail(TokenError::UnsupportedGrantType)),
    };
    let response = minted.persist(&store).await.map_err(fail)?;
    metrics
        .tokens_issued
        .with_label_values(&[metric_label(&grant_type)])
        .inc();
    let mut resp = HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(response);
    if let Some(nonce) =
        dpop::fresh_nonce(&snapshot, &master, now).and_then(|n| HeaderValue::from_str(&n).ok())
    {
        resp.headers_mut()
            .insert(HeaderName::from_static("dpop-nonce"), nonce);
    }
    Ok(resp)
}

/// The metrics label of a grant type: the short names, `token_exchange` for RFC 8693 and
/// `device_code` for RFC 8628.
fn metric_label(grant_type: &str) -> &str {
    match grant_type {
        TOKEN_EXCHANGE => "token_exchange",
        DEVICE_CODE => "device_code",
        other => other,
    }
}

/// The key the client's ID tokens are encrypted to, if it registered
/// `id_token_encrypted_response_alg` (OIDC Registration §2); `invalid_request` when its keys
/// cannot be had or hold none suitable.
async fn id_token_recipient(
    req: &HttpRequest,
    client: &ClientRecord,
) -> Result<Option<Recipient>, TokenError> {
    if client
        .options
        .encryption(EncryptedResponse::IdToken)
        .is_none()
    {
        return Ok(None);
    }
    let Some(keys) = req.app_data::<web::Data<ClientKeyResolver>>() else {
        return Err(TokenError::Unexpected(anyhow::anyhow!(
            "client key resolution is not configured"
        )));
    };
    encryption_recipient(keys, client, EncryptedResponse::IdToken)
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.client_id, error = %e, "ID token encryption key unavailable");
            encryption_key_unavailable(&e)
        })
}

/// Signs what a grant issued (and encrypts its ID token to `id_token_key`, when set): RSA
/// signing costs ~1 ms of CPU, so it runs on the blocking pool, as does encryption; ES256 and
/// EdDSA alone are cheap enough for the reactor.
async fn sign(
    mut issued: Issuance,
    snapshot: &Arc<TenantSnapshot>,
    id_token_key: Option<Recipient>,
) -> Result<Result<Minted, TokenError>, OAuthError> {
    // RSA-OAEP and ECDH with a fresh key pair cost about as much: off the reactor too.
    let blocking = issued.signs_with_rsa(snapshot) || id_token_key.is_some();
    issued.set_encryption(id_token_key);
    if blocking {
        let snap = Arc::clone(snapshot);
        web::block(move || issued.sign(&snap))
            .await
            .map_err(|_| OAuthError::server_error())
    } else {
        Ok(issued.sign(snapshot))
    }
}
