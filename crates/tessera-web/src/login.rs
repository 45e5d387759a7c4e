//! `POST /t/{tenant}/login`: the login form. Checks the CSRF token and the sealed authorization
//! request, verifies the password through the [`Authenticator`] (argon2 off the reactor, throttled),
//! starts a fresh SSO session (a new id on every sign-in, so a planted id is useless), and continues
//! the authorization. Failures re-render the form with a clear message.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use tessera_authn::LoginError;
use tessera_core::{Clock, OAuthErrorCode};

use crate::flow::{Flow, FlowDeps};
use crate::form::{field, read_form};
use crate::interaction::PendingAuthorization;
use crate::{ActiveTenant, cookies};

/// Checks the form's CSRF token and opens its sealed request, or answers with an error page.
pub fn open_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    form: &[(String, String)],
) -> Result<PendingAuthorization, Box<HttpResponse>> {
    if !cookies::csrf_ok(req, flow.snapshot, field(form, "csrf_token")) {
        return Err(Box::new(flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "This form has expired or was not sent by this site. Go back to the application and try again.",
        )));
    }
    field(form, "request")
        .and_then(|sealed| {
            PendingAuthorization::open(flow.master, flow.snapshot.tenant.id, sealed, Clock.now())
        })
        .ok_or_else(|| {
            Box::new(flow.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "This sign-in request has expired. Go back to the application and try again.",
            ))
        })
}

/// Records a refused password sign-in: `user.locked` for the failure that locked the account
/// or address, otherwise `user.sign_in_failed` with the
/// reason. `event` carries the tenant and the request's origin. The user is looked up again (the
/// refusal does not say whether it exists, and the answer must not either): the event names it,
/// or, for an unknown user, carries the username typed (cut short; never the password).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_refusal(
    store: &tessera_store::Store,
    authn: &tessera_authn::Authenticator,
    tenant: &tessera_store::TenantRecord,
    mut event: tessera_store::AuditEventRecord,
    client_id: &str,
    username: &str,
    method: &str,
    refusal: &LoginError,
) {
    let (action, reason) = match refusal {
        LoginError::InvalidCredentials => (crate::flow::SIGN_IN_FAILED, "invalid_credentials"),
        LoginError::Locked {
            locked_now: true, ..
        } => (crate::flow::LOCKED, "locked"),
        LoginError::Locked { .. } => (crate::flow::SIGN_IN_FAILED, "locked"),
        LoginError::Throttled { .. } => (crate::flow::SIGN_IN_FAILED, "throttled"),
        LoginError::AccountDisabled => (crate::flow::SIGN_IN_FAILED, "account_disabled"),
        LoginError::Unavailable | LoginError::Unexpected(_) => return,
    };
    let user = match authn.user_by_username(tenant.id, username).await {
        Ok(user) => user,
        Err(e) => {
            tracing::warn!(error = %e, "looking up the user of a refused sign-in failed");
            None
        }
    };
    let mut details = serde_json::json!({ "reason": reason, "method": method });
    if let LoginError::Locked { until, .. } = refusal {
        details["locked_until"] = serde_json::json!(until);
    }
    if user.is_none() {
        // A name, not a secret: cut it so a password typed into the field is not kept whole.
        details["username"] = serde_json::json!(username.chars().take(64).collect::<String>());
    }
    // Nobody signed in: the actor stays anonymous, the user (when known) is the subject.
    action.clone_into(&mut event.action);
    event.details = details;
    event.user_id = user.map(|u| u.id);
    event.client_id = tessera_core::ClientId::parse(client_id);
    tessera_store::audit::record(store.conn(), event).await;
}

/// `POST /t/{tenant}/login`.
pub async fn login(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let authn = flow.authn;
    let Some(form) = read_form(&req, payload).await else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "The form is malformed.",
        );
    };
    let pending = match open_form(&flow, &req, &form) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let username = field(&form, "username").unwrap_or("").trim().to_owned();
    let password = SecretString::from(field(&form, "password").unwrap_or("").to_owned());
    if username.is_empty() {
        return flow.login_page(
            &req,
            &pending,
            Some("Enter your username and password.".into()),
            StatusCode::BAD_REQUEST,
            None,
            vec![],
        );
    }
    let now = Clock.now();
    let ip = deps.client_ip(&req);
    let user = match authn
        .login(&tenant.tenant, &username, &password, ip, now)
        .await
    {
        Ok(user) => user,
        Err(e) => {
            let status = match e {
                LoginError::InvalidCredentials => StatusCode::UNAUTHORIZED,
                LoginError::Throttled { .. } | LoginError::Locked { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                LoginError::AccountDisabled => StatusCode::FORBIDDEN,
                LoginError::Unavailable | LoginError::Unexpected(_) => {
                    return flow.unavailable();
                }
            };
            tracing::info!(tenant = %tenant.tenant.slug, outcome = %status, "sign-in refused");
            let event = flow.audit_event(&req, crate::flow::SIGN_IN_FAILED, "anonymous");
            let (store, tenant) = (flow.store, &flow.snapshot.tenant);
            let client_id = &pending.client_id;
            record_refusal(store, authn, tenant, event, client_id, &username, "pwd", &e).await;
            return flow.login_page(
                &req,
                &pending,
                Some(e.to_string()),
                status,
                Some(username),
                vec![],
            );
        }
    };
    // `accounts.require_verified_email`: an unconfirmed address is refused (and sent a link).
    if let Some(message) = crate::verification::refusal(&flow, &req, &user).await {
        return flow.login_page(
            &req,
            &pending,
            Some(message),
            StatusCode::FORBIDDEN,
            Some(username),
            vec![],
        );
    }
    // A second factor is asked for before any session starts (tenant policy, the user's
    // authenticator, or the request's `acr_values`).
    if let Some(response) = crate::mfa::after_password(&flow, &req, Some(&pending), &user).await {
        return response;
    }
    // RFC 8176 §2 `pwd`; acr "1": a password sign-in meets ISO/IEC 29115 level 1 (OIDC Core
    // §2 reserves "0" for authentications that do not). The browser's previous session at
    // this tenant, if any, ends: one session per browser.
    let amr = vec!["pwd".to_owned()];
    let (active, cookie) = match flow
        .start_session(&req, user, amr, tessera_authn::mfa::ACR_PASSWORD, now)
        .await
    {
        Ok(started) => started,
        Err(response) => return response,
    };
    tracing::info!(tenant = %tenant.tenant.slug, user = %active.user.id, "signed in");
    flow.proceed(&req, pending, Some(active), true, vec![cookie])
        .await
}
