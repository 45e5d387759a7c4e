//! `/t/{tenant}/account/password`: a signed-in user changes the password from the account page
//! with the current one, the new one and its confirmation. The attempt counts against the
//! account's sign-in throttle ([`Authenticator::change_password_throttled`]), so the form cannot
//! guess the current password faster than the sign-in page. On success the current session
//! stays while, by the tenant's policy, the user's other sessions end and its refresh tokens are
//! revoked (RFC 9700 §4.14.2).
//!
//! [`Authenticator::change_password_throttled`]: tessera_authn::Authenticator::change_password_throttled

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use tessera_authn::ActiveSession;
use tessera_authn::LoginError;
use tessera_authn::recovery::{self, ChangeError};
use tessera_tenants::pages::ChangePasswordPage;

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::page::{self, Page};
use crate::recovery::{record_password_set, requester};
use crate::self_service::{checked_form, error, see_other};
use crate::{ActiveTenant, cookies};

/// Title of the page.
const TITLE: &str = "Change your password";

/// The account page's confirmation after `?password=…`.
pub fn notice(value: Option<&str>) -> Option<String> {
    (value == Some("changed")).then(|| "Your password was changed.".to_owned())
}

/// `GET /t/{tenant}/account/password`: the form (without a session, the account page's sign-in).
pub async fn change_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        Ok(None) => return see_other(format!("{}/account", flow.snapshot.issuer)),
        Err(response) => return response,
    };
    if active.user.password_hash.is_none() {
        return no_password(&flow);
    }
    change_page(&flow, &req, &active, None, StatusCode::OK)
}

/// `POST /t/{tenant}/account/password`: changes the password, then back to the account page.
pub async fn change_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let form = match checked_form(&flow, &req, payload).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        // Signed out meanwhile: the account page asks to sign in first.
        Ok(None) => return see_other(format!("{}/account", flow.snapshot.issuer)),
        Err(response) => return response,
    };
    let current = field(&form, "current_password").unwrap_or("");
    let new = field(&form, "password").unwrap_or("");
    if current.is_empty() || new.is_empty() {
        return change_page(
            &flow,
            &req,
            &active,
            Some("Enter your current password and the new one.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    if new != field(&form, "confirmation").unwrap_or("") {
        return change_page(
            &flow,
            &req,
            &active,
            Some("The two new passwords are not the same.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let outcome = flow
        .authn
        .change_password_throttled(
            &tenant.tenant,
            active.user.id,
            SecretString::from(current.to_owned()),
            SecretString::from(new.to_owned()),
            Some(&active.session.sid),
        )
        .await;
    let set = match outcome {
        Ok(set) => set,
        Err(e) => {
            let status = match &e {
                ChangeError::WrongCurrent => StatusCode::UNAUTHORIZED,
                ChangeError::Weak(_) | ChangeError::NoPassword => StatusCode::BAD_REQUEST,
                ChangeError::Throttled(LoginError::Unavailable)
                | ChangeError::Throttled(LoginError::Unexpected(_))
                | ChangeError::Failed(_) => {
                    tracing::error!(error = %e, "changing a password failed");
                    return flow.unavailable();
                }
                ChangeError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                ChangeError::Conflict => StatusCode::CONFLICT,
            };
            tracing::info!(tenant = %tenant.tenant.slug, user = %active.user.id, outcome = %status, "password change refused");
            return change_page(&flow, &req, &active, Some(e.to_string()), status);
        }
    };
    let requester = requester(&deps, &req);
    record_password_set(&flow, recovery::PASSWORD_CHANGED, &set, &requester).await;
    tracing::info!(tenant = %tenant.tenant.slug, user = %set.user.id, "password changed from the account page");
    see_other(format!("{}/account?password=changed", flow.snapshot.issuer))
}

/// The form.
fn change_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    active: &ActiveSession,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let data = ChangePasswordPage {
        action: format!("{}/account/password", flow.snapshot.issuer),
        csrf_token,
        username: active.user.username.clone(),
        error,
        account_url: format!("{}/account", flow.snapshot.issuer),
    };
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "change_password",
            title: TITLE,
            data: serde_json::to_value(&data).unwrap_or_default(),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// A passkey-only account has no password to change.
fn no_password(flow: &Flow<'_>) -> HttpResponse {
    error(
        flow,
        StatusCode::NOT_FOUND,
        "This account has no password to change.",
    )
}
