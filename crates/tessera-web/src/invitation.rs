//! Accepting an invitation: `GET /t/{tenant}/invitation?token=…` opens the link an administrator
//! had mailed (`tessera_admin::lifecycle`) and shows "Welcome, set your password";
//! `POST /t/{tenant}/invitation` spends the link, sets the password (checked against the tenant's
//! policy first, so a refused password leaves the link usable) and confirms the address the
//! invitation went to. Unknown, used, superseded and expired links all get the same "not valid
//! any more" page (410), without saying which. Nothing is ever logged of a token.

use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde_json::json;
use tessera_authn::AuthnError;
use tessera_authn::recovery::{Requester, record};
use tessera_store::account_links::{LinkKind, LinkRecord};
use tessera_tenants::pages::InvitationPage;

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::page::{self, Page};
use crate::{ActiveTenant, cookies};

/// The page title (and heading) of the form.
const TITLE: &str = "Welcome, set your password";
/// The audit action of an accepted invitation.
const INVITATION_ACCEPTED: &str = "user.invitation_accepted";

/// `GET /t/{tenant}/invitation?token=…`: the password form of a live invitation link. Opening
/// the page does not spend the link (mail scanners fetch links); only the form does.
pub async fn invitation_get(
    tenant: ActiveTenant,
    req: HttpRequest,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let token = crate::self_service::query_value(&req, "token").unwrap_or_default();
    let link = match live_link(&flow, &token).await {
        Ok(Some(link)) => link,
        Ok(None) => return dead_link(&flow),
        Err(response) => return response,
    };
    form_page(&flow, &req, StatusCode::OK, &link, &token, None).await
}

/// `POST /t/{tenant}/invitation`: sets the password of a live invitation link.
pub async fn invitation_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let form = match flow
        .checked_form(&req, payload, "Open the link again and retry.")
        .await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    let token = field(&form, "token").unwrap_or("");
    let password = field(&form, "password").unwrap_or("");
    let confirmation = field(&form, "confirmation").unwrap_or("");
    let link = match live_link(&flow, token).await {
        Ok(Some(link)) => link,
        Ok(None) => return dead_link(&flow),
        Err(response) => return response,
    };
    if password != confirmation {
        let error = Some("The two passwords do not match.");
        return form_page(&flow, &req, StatusCode::BAD_REQUEST, &link, token, error).await;
    }
    let set = flow
        .authn
        .set_password_by_link(
            &flow.snapshot.tenant,
            LinkKind::Invitation,
            token,
            SecretString::from(password.to_owned()),
        )
        .await;
    let done = match set {
        Ok(done) => done,
        Err(AuthnError::Invalid(why)) => {
            return form_page(
                &flow,
                &req,
                StatusCode::BAD_REQUEST,
                &link,
                token,
                Some(&why),
            )
            .await;
        }
        // Spent or superseded meanwhile.
        Err(AuthnError::NotFound) => return dead_link(&flow),
        Err(e) => return failed(&flow, e),
    };
    let user = done.user;
    let requester = Requester {
        ip: deps.client_ip(&req).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if let Err(e) = record(
        flow.store.conn(),
        flow.snapshot.tenant.id,
        INVITATION_ACCEPTED,
        &format!("user:{}", user.id),
        user.id,
        &requester,
        json!({ "sessions_ended": done.sessions_ended }),
    )
    .await
    {
        // The password is set either way; the audit gap is logged.
        tracing::error!(error = %e, user = %user.id, "recording an accepted invitation failed");
    }
    tracing::info!(tenant = %flow.snapshot.tenant.slug, user = %user.id, "accepted an invitation");
    let data = InvitationPage {
        action: action(&flow),
        csrf_token: String::new(),
        token: String::new(),
        username: user.username,
        email: user.email,
        error: None,
        done: true,
        sign_in_url: format!("{}/account", flow.snapshot.issuer),
    };
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::OK,
        Page {
            name: "invitation",
            title: "Your account is ready",
            data: serde_json::to_value(&data).unwrap_or_default(),
        },
        vec![],
    )
}

/// Where the form posts.
fn action(flow: &Flow<'_>) -> String {
    format!("{}/invitation", flow.snapshot.issuer)
}

/// The live invitation link behind `token`, `None` for a dead one, or the 503 page.
async fn live_link(flow: &Flow<'_>, token: &str) -> Result<Option<LinkRecord>, HttpResponse> {
    flow.authn
        .peek_link(&flow.snapshot.tenant, LinkKind::Invitation, token)
        .await
        .map_err(|e| failed(flow, e))
}

/// The password form for `link`, with `error` when the last attempt was refused.
async fn form_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    status: StatusCode,
    link: &LinkRecord,
    token: &str,
    error: Option<&str>,
) -> HttpResponse {
    let user = match flow.authn.user(flow.snapshot.tenant.id, link.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return dead_link(flow),
        Err(e) => return failed(flow, e),
    };
    let (csrf_token, cookie) = cookies::csrf_token(req, flow.snapshot);
    let data = InvitationPage {
        action: action(flow),
        csrf_token,
        token: token.to_owned(),
        username: user.username,
        email: Some(link.email.clone()),
        error: error.map(str::to_owned),
        done: false,
        sign_in_url: format!("{}/account", flow.snapshot.issuer),
    };
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "invitation",
            title: TITLE,
            data: serde_json::to_value(&data).unwrap_or_default(),
        },
        cookie.into_iter().collect(),
    )
}

/// The one page for unknown, used, superseded and expired links (410 Gone): it does not say
/// which.
fn dead_link(flow: &Flow<'_>) -> HttpResponse {
    crate::self_service::dead_link(
        flow,
        "The invitation has expired, was already used, or a newer one was \
                            sent. Ask your administrator for a new invitation.",
    )
}

/// The page of an unexpected failure (503 when the database is out of reach).
fn failed(flow: &Flow<'_>, e: AuthnError) -> HttpResponse {
    if !matches!(e, AuthnError::Unavailable) {
        tracing::error!(error = %e, "accepting an invitation failed");
    }
    flow.unavailable()
}
