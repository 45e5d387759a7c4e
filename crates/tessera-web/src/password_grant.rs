//! `grant_type=password` at the token endpoint (RFC 6749 §4.3): only for clients explicitly
//! allowed the grant, with the sign-in page's password check and throttling (per account and per
//! client address, growing delays, temporary lock), so the token endpoint is no cheaper a place
//! to guess passwords than the login form.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::web;
use secrecy::{ExposeSecret, SecretString};
use tessera_authn::{Authenticator, LoginError};
use tessera_core::Clock;
use tessera_store::{ClientRecord, Store};
use tessera_tenants::TenantSnapshot;
use tessera_tokens::Binding;
use tessera_tokens::{
    Issuance, TokenError, TokenRequest, check_password_client, issue_for_password, password_scopes,
};

/// Longest username or password accepted, as on the login form.
const MAX_CREDENTIAL_LEN: usize = 1024;

/// Checks the user's credentials of a password grant and issues the grant; every failure of the
/// credentials is `invalid_grant` (RFC 6749 §5.2), the description telling a throttled caller
/// when to come back but never whether the username exists.
pub(crate) async fn password_grant(
    req: &HttpRequest,
    snapshot: &Arc<TenantSnapshot>,
    store: &Store,
    client: &Arc<ClientRecord>,
    form: &TokenRequest,
    binding: Binding,
) -> Result<Issuance, TokenError> {
    check_password_client(client)?;
    let username = form
        .username
        .as_deref()
        .ok_or_else(|| TokenError::InvalidRequest("username is required".into()))?;
    let password = form
        .password
        .as_ref()
        .ok_or_else(|| TokenError::InvalidRequest("password is required".into()))?;
    if username.len() > MAX_CREDENTIAL_LEN || password.expose_secret().len() > MAX_CREDENTIAL_LEN {
        return Err(TokenError::invalid_grant("incorrect username or password"));
    }
    let scopes = password_scopes(client, form.scope.as_deref())?;
    let authn = req
        .app_data::<web::Data<Authenticator>>()
        .ok_or_else(|| TokenError::Unexpected(anyhow::anyhow!("no authenticator configured")))?;
    let ip = match req.app_data::<web::Data<crate::TrustedProxies>>() {
        Some(proxies) => proxies.client_ip(req),
        None => req.peer_addr().map(|a| a.ip()),
    };
    let now = Clock.now();
    let event = tessera_store::AuditEventRecord::new(
        snapshot.tenant.id,
        crate::flow::SIGN_IN_FAILED,
        "anonymous",
    )
    .origin(
        ip.map(|ip| ip.to_string()),
        req.headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
    .client(client.client_id.clone());
    let password = SecretString::from(password.expose_secret().to_owned());
    let user = match authn
        .login(&snapshot.tenant, username, &password, ip, now)
        .await
    {
        Ok(user) => user,
        Err(LoginError::Unavailable) => return Err(TokenError::Unavailable),
        Err(LoginError::Unexpected(e)) => return Err(TokenError::Unexpected(e)),
        // The login page's own words: they say nothing about whether the username exists.
        Err(refused) => {
            tracing::info!(client_id = %client.client_id, reason = ?refused, "password grant refused");
            let client_id = client.client_id.to_string();
            crate::login::record_refusal(
                store,
                authn,
                &snapshot.tenant,
                event,
                &client_id,
                username,
                "password_grant",
                &refused,
            )
            .await;
            return Err(TokenError::invalid_grant(&refused.to_string()));
        }
    };
    // `accounts.require_verified_email`: the browser sign-in mails a new link; this grant only
    // refuses (RFC 6749 §5.2 `invalid_grant`).
    if tessera_authn::signup::needs_verified_email(&snapshot.tenant, &user) {
        tracing::info!(client_id = %client.client_id, "password grant refused: e-mail address not confirmed");
        return Err(TokenError::invalid_grant(
            "confirm your e-mail address first: sign in through the browser to have a new link sent",
        ));
    }
    // RFC 6749 §4.3 has no room for a second factor: an account that must pass one signs in
    // through the browser, never with the password alone here.
    let policy = snapshot.tenant.settings.mfa.policy;
    if policy != tessera_core::settings::MfaPolicy::Off {
        let mfa = match authn.mfa_status(snapshot.tenant.id, user.id).await {
            Ok(mfa) => mfa,
            Err(tessera_authn::AuthnError::Unavailable) => return Err(TokenError::Unavailable),
            Err(e) => return Err(TokenError::Unexpected(anyhow::Error::new(e))),
        };
        if mfa.any() || policy == tessera_core::settings::MfaPolicy::Required {
            tracing::info!(client_id = %client.client_id, "password grant refused: second factor required");
            return Err(TokenError::invalid_grant(
                "this account signs in with a second factor: use the browser",
            ));
        }
    }
    let mut signed_in = event;
    crate::flow::SIGNED_IN.clone_into(&mut signed_in.action);
    signed_in.actor = format!("user:{}", user.id);
    signed_in.user_id = Some(user.id);
    signed_in.details = serde_json::json!({ "method": "password_grant" });
    tessera_store::audit::record(store.conn(), signed_in).await;
    issue_for_password(
        store,
        snapshot,
        client,
        &user,
        scopes,
        &form.resource,
        binding,
        now,
    )
    .await
}
