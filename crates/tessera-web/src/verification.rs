//! `GET/POST /t/{tenant}/verify-email`: the e-mail confirmation link. The GET only shows a
//! confirm button (mail scanners that prefetch links must not spend them); the POST, with its
//! CSRF token, spends the single-use link through the [`Authenticator`]. Unknown, used,
//! superseded and expired links all get the same "not valid any more" page.
//!
//! Also the sign-in rule of `accounts.require_verified_email`: a user whose address is not
//! confirmed is refused after the password was checked, and mailed a new link (at most one per
//! [`tessera_authn::signup::VERIFICATION_RESEND_SECS`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::json;
use tessera_authn::AuthnError;
use tessera_authn::links::ttl;
use tessera_authn::signup::needs_verified_email;
use tessera_mail::Outbox;
use tessera_mail::links::link_mail;
use tessera_store::UserRecord;
use tessera_store::account_links::LinkKind;

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::page::{self, Page};
use crate::{ActiveTenant, cookies};

/// Title of the confirmation pages.
const TITLE: &str = "Confirm your e-mail address";
/// What a refused sign-in of an unconfirmed address says.
pub const UNVERIFIED_MESSAGE: &str = "Confirm your e-mail address first: we sent you a link. \
     Open it, then sign in again.";

/// Issues a new confirmation link for `user` and queues the `verify_email` mail. Returns
/// whether it was queued; failures are logged (without the address or the link).
pub async fn send_link(flow: &Flow<'_>, outbox: &Outbox, user: &UserRecord) -> bool {
    let tenant = &flow.snapshot.tenant;
    let issued = match flow
        .authn
        .issue_link(tenant, LinkKind::VerifyEmail, user)
        .await
    {
        Ok(issued) => issued,
        Err(e) => {
            tracing::error!(error = %e, user = %user.id, "issuing a confirmation link failed");
            return false;
        }
    };
    let Some(mail) = link_mail(
        LinkKind::VerifyEmail,
        user,
        &flow.snapshot.issuer,
        issued.token.expose_secret(),
        ttl(tenant, LinkKind::VerifyEmail),
        None,
    ) else {
        return false;
    };
    match outbox.enqueue(flow.store.conn(), flow.snapshot, mail).await {
        Ok(id) => {
            tracing::info!(user = %user.id, mail = %id, "queued a confirmation mail");
            true
        }
        Err(e) => {
            tracing::error!(error = %e, user = %user.id, "queueing a confirmation mail failed");
            false
        }
    }
}

/// The sign-in refusal of `accounts.require_verified_email` (the password was right): `None`
/// when `user` may sign in; otherwise the message for the form, after mailing a new link
/// unless one went out in the last [`tessera_authn::signup::VERIFICATION_RESEND_SECS`].
pub async fn refusal(flow: &Flow<'_>, req: &HttpRequest, user: &UserRecord) -> Option<String> {
    if !needs_verified_email(&flow.snapshot.tenant, user) {
        return None;
    }
    let due = flow
        .authn
        .verification_due(flow.snapshot.tenant.id, user.id)
        .await;
    match (due, req.app_data::<web::Data<Outbox>>()) {
        (Ok(true), Some(outbox)) => {
            send_link(flow, outbox, user).await;
        }
        (Ok(false), _) => {
            tracing::info!(user = %user.id, "a confirmation link was sent recently: none sent");
        }
        (Err(e), _) => tracing::error!(error = %e, "checking the last confirmation link failed"),
        (Ok(true), None) => tracing::error!("no mail outbox configured"),
    }
    tracing::info!(tenant = %flow.snapshot.tenant.slug, user = %user.id, "sign-in refused: e-mail address not confirmed");
    Some(UNVERIFIED_MESSAGE.to_owned())
}

/// `GET /t/{tenant}/verify-email?token=…`: the confirm button, or the dead-link page.
pub async fn verify_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let token = crate::self_service::query_value(&req, "token").unwrap_or_default();
    let token = token.as_str();
    let link = match flow
        .authn
        .peek_link(&tenant.tenant, LinkKind::VerifyEmail, token)
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return dead_link(&flow),
        Err(e) => return failed(&flow, e),
    };
    let (csrf, csrf_cookie) = cookies::csrf_token(&req, flow.snapshot);
    render(
        &flow,
        StatusCode::OK,
        json!({
            "confirmed": false,
            "email": link.email,
            "action": format!("{}/verify-email", flow.snapshot.issuer),
            "csrf_token": csrf,
            "token": token,
            "sign_in_url": sign_in_url(&flow),
        }),
        csrf_cookie.into_iter().collect(),
    )
}

/// `POST /t/{tenant}/verify-email`: spends the link and confirms the address.
pub async fn verify_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let form = match flow
        .checked_form(&req, payload, "Open the link from the e-mail again.")
        .await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    let token = field(&form, "token").unwrap_or("");
    let user = match flow.authn.confirm_email(&tenant.tenant, token).await {
        Ok(user) => user,
        Err(AuthnError::NotFound | AuthnError::Invalid(_)) => return dead_link(&flow),
        Err(e) => return failed(&flow, e),
    };
    render(
        &flow,
        StatusCode::OK,
        json!({
            "confirmed": true,
            "email": user.email.unwrap_or_default(),
            "action": "",
            "csrf_token": "",
            "token": "",
            "sign_in_url": sign_in_url(&flow),
        }),
        vec![],
    )
}

/// Where to sign in after confirming: the account page.
fn sign_in_url(flow: &Flow<'_>) -> String {
    format!("{}/account", flow.snapshot.issuer)
}

fn render(
    flow: &Flow<'_>,
    status: StatusCode,
    data: serde_json::Value,
    cookies: Vec<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "verify_email",
            title: TITLE,
            data,
        },
        cookies,
    )
}

/// The one page for unknown, used, superseded and expired links (410 Gone): it does not say
/// which.
pub fn dead_link(flow: &Flow<'_>) -> HttpResponse {
    crate::self_service::dead_link(
        flow,
        "The link has expired, was already used, or a newer one was sent.",
    )
}

fn failed(flow: &Flow<'_>, e: AuthnError) -> HttpResponse {
    if !matches!(e, AuthnError::Unavailable) {
        tracing::error!(error = %e, "confirming an e-mail address failed");
    }
    flow.unavailable()
}
