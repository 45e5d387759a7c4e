//! Passkey pages (W3C WebAuthn Level 3): "Sign in with a passkey" on the login page
//! (passwordless, a discoverable credential with user verification), "Use a passkey" on the
//! second sign-in step, and adding and removing passkeys on the account page.
//!
//! Every ceremony is two plain form posts around one page of ours: the first post starts the
//! ceremony and answers with the `passkey` page, whose nonce'd script hands the options to
//! `navigator.credentials` and posts the authenticator's answer back. Tenant templates need
//! no script (they may not write one); the sealed ceremony state travels in the form, so any
//! node can finish it; and the result is an ordinary page or redirect — the consent page, the
//! response to the client — exactly as after a password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_authn::mfa::ACR_MFA;
use tessera_authn::passkeys::passwordless_amr;
use tessera_authn::{ActiveSession, PasskeyError, RelyingParty};
use tessera_core::{Clock, OAuthErrorCode, PasskeyId};
use tessera_store::passkeys::PasskeyRecord;
use tessera_tenants::TenantSnapshot;
use tessera_tenants::pages::{AccountPasskey, PasskeyPage};

use crate::body::{is_form, read_limited};
use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::interaction::PendingAuthorization;
use crate::page::{self, Page};
use crate::self_service::see_other;
use crate::{ActiveTenant, cookies};

/// Largest ceremony form accepted: the authenticator's answer can be several KiB.
const MAX_FORM: usize = 64 * 1024;

/// The tenant's relying party, or `None` where passkeys cannot work (an IP-address issuer).
pub fn relying_party(snapshot: &TenantSnapshot) -> Option<RelyingParty> {
    RelyingParty::for_issuer(&snapshot.issuer, &snapshot.look().name).ok()
}

/// Where the login page's "Sign in with a passkey" form posts, when passkeys work here.
pub fn sign_in_action(snapshot: &TenantSnapshot) -> Option<String> {
    relying_party(snapshot).map(|_| format!("{}/login/passkey", snapshot.issuer))
}

/// Where the second step's "Use a passkey" form posts, when passkeys work here.
pub fn second_factor_action(snapshot: &TenantSnapshot) -> Option<String> {
    relying_party(snapshot).map(|_| format!("{}/login/mfa/passkey", snapshot.issuer))
}

/// Where the account page's "Add a passkey" form posts, when passkeys work here.
pub fn add_action(snapshot: &TenantSnapshot) -> Option<String> {
    relying_party(snapshot).map(|_| format!("{}/account/passkeys", snapshot.issuer))
}

/// One passkey as the account page lists it.
pub fn account_view(snapshot: &TenantSnapshot, passkey: &PasskeyRecord) -> AccountPasskey {
    AccountPasskey {
        id: passkey.id.to_string(),
        name: passkey.name.clone(),
        synced: passkey.backup_eligible,
        created_at: crate::account::utc_minute(passkey.created_at),
        last_used_at: passkey.last_used_at.map(crate::account::utc_minute),
        remove_action: format!("{}/account/passkeys/{}/remove", snapshot.issuer, passkey.id),
    }
}

/// Reads a ceremony form (up to [`MAX_FORM`]) and checks its CSRF token.
async fn read_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<(String, String)>, HttpResponse> {
    let form = if is_form(req) {
        match read_limited(payload, MAX_FORM).await {
            Ok(body) => serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).ok(),
            Err(_) => None,
        }
    } else {
        None
    };
    let Some(form) = form else {
        return Err(flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "The form is malformed.",
        ));
    };
    if !cookies::csrf_ok(req, flow.snapshot, field(&form, "csrf_token")) {
        return Err(flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "This form has expired or was not sent by this site. Go back and try again.",
        ));
    }
    Ok(form)
}

/// A ceremony form (see [`read_form`]) and the relying party.
async fn ceremony_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Vec<(String, String)>, RelyingParty), HttpResponse> {
    let form = read_form(flow, req, payload).await?;
    let rp = rp_or_page(flow).map_err(|response| *response)?;
    Ok((form, rp))
}

/// A second step's ceremony form: the relying party and the opened step (the ticket's user).
async fn second_factor_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(RelyingParty, crate::mfa::StepForm), HttpResponse> {
    let (form, rp) = ceremony_form(flow, req, payload).await?;
    let step = crate::mfa::open_step_form(flow, form).await?;
    Ok((rp, step))
}

/// The relying party, or the page saying passkeys do not work here.
fn rp_or_page(flow: &Flow<'_>) -> Result<RelyingParty, Box<HttpResponse>> {
    relying_party(flow.snapshot).ok_or_else(|| {
        Box::new(flow.error(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::InvalidRequest,
            &PasskeyError::Unsupported.to_string(),
        ))
    })
}

/// The pending authorization of a form (`request`), `Ok(None)` when empty (the account page).
fn pending_of(
    flow: &Flow<'_>,
    form: &[(String, String)],
) -> Result<Option<PendingAuthorization>, Box<HttpResponse>> {
    let sealed = field(form, "request").unwrap_or("");
    if sealed.is_empty() {
        return Ok(None);
    }
    let tenant = flow.snapshot.tenant.id;
    match PendingAuthorization::open(flow.master, tenant, sealed, Clock.now()) {
        Some(pending) => Ok(Some(pending)),
        None => Err(Box::new(flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "This sign-in request has expired. Go back to the application and try again.",
        ))),
    }
}

/// The hidden fields a ceremony page carries through.
struct Carry {
    request: String,
    ticket: String,
}

/// The `passkey` page running a ceremony.
#[allow(clippy::too_many_arguments)]
fn ceremony_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    create: bool,
    heading: &str,
    message: &str,
    action: String,
    options: String,
    state: String,
    carry: Carry,
) -> HttpResponse {
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let data = PasskeyPage {
        heading: heading.to_owned(),
        message: message.to_owned(),
        mode: if create { "create" } else { "get" }.to_owned(),
        options,
        action,
        csrf_token,
        request: carry.request,
        ticket: carry.ticket,
        state,
    };
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::OK,
        Page {
            name: "passkey",
            title: heading,
            data: serde_json::to_value(&data).unwrap_or_default(),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// The status of a refused ceremony.
fn status_of(e: &PasskeyError) -> Option<StatusCode> {
    match e {
        PasskeyError::Expired | PasskeyError::Invalid(_) => Some(StatusCode::BAD_REQUEST),
        PasskeyError::Refused => Some(StatusCode::UNAUTHORIZED),
        PasskeyError::Conflict => Some(StatusCode::CONFLICT),
        PasskeyError::AccountDisabled => Some(StatusCode::FORBIDDEN),
        PasskeyError::Unsupported => Some(StatusCode::NOT_FOUND),
        PasskeyError::Unavailable | PasskeyError::Unexpected(_) => None,
    }
}

/// The error page for a refused ceremony (or the 503 page).
fn refused(flow: &Flow<'_>, e: &PasskeyError) -> HttpResponse {
    match status_of(e) {
        Some(status) => {
            let code = if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                OAuthErrorCode::AccessDenied
            } else {
                OAuthErrorCode::InvalidRequest
            };
            flow.error(status, code, &e.to_string())
        }
        None => {
            tracing::error!(error = %e, "a passkey ceremony failed");
            flow.unavailable()
        }
    }
}

// --- Passwordless sign-in ------------------------------------------------------------------

/// `POST /t/{tenant}/login/passkey`: starts a passwordless sign-in (the login page's button;
/// `request` is the pending authorization, or empty on the account page's sign-in form).
pub async fn begin_sign_in(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (form, rp) = match ceremony_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    if let Err(response) = pending_of(&flow, &form) {
        return *response;
    }
    let started = flow
        .authn
        .begin_passkey_sign_in(&rp, flow.master, &tenant.tenant, None, Clock.now())
        .await;
    match started {
        Ok(ceremony) => ceremony_page(
            &flow,
            &req,
            false,
            "Sign in with a passkey",
            "Follow your browser's prompt to use your passkey.",
            format!("{}/login/passkey/finish", flow.snapshot.issuer),
            ceremony.options,
            ceremony.state,
            Carry {
                request: field(&form, "request").unwrap_or("").to_owned(),
                ticket: String::new(),
            },
        ),
        Err(e) => refused(&flow, &e),
    }
}

/// `POST /t/{tenant}/login/passkey/finish`: checks the passkey and starts a session whose `amr`
/// is the key (`hwk`/`swk`), `user` and `mfa`, `acr` [`ACR_MFA`]; then the authorization goes
/// on (or the account page opens). A refusal shows the login page again with the reason.
pub async fn finish_sign_in(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (form, rp) = match ceremony_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let pending = match pending_of(&flow, &form) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let now = Clock.now();
    let signed_in = flow
        .authn
        .finish_passkey_sign_in(
            &rp,
            flow.master,
            &tenant.tenant,
            None,
            field(&form, "state").unwrap_or(""),
            field(&form, "credential").unwrap_or(""),
            now,
        )
        .await;
    let signed_in = match signed_in {
        Ok(s) => s,
        Err(e) => {
            let Some(status) = status_of(&e) else {
                return refused(&flow, &e);
            };
            tracing::info!(tenant = %tenant.tenant.slug, outcome = %status, "passkey sign-in refused");
            return match &pending {
                Some(pending) => {
                    flow.login_page(&req, pending, Some(e.to_string()), status, None, vec![])
                }
                None => crate::account::login_page(&flow, &req, Some(e.to_string()), status, None),
            };
        }
    };
    // `accounts.require_verified_email` holds for every way in, not only the password.
    if let Some(message) = crate::verification::refusal(&flow, &req, &signed_in.user).await {
        let status = StatusCode::FORBIDDEN;
        return match &pending {
            Some(pending) => flow.login_page(&req, pending, Some(message), status, None, vec![]),
            None => crate::account::login_page(&flow, &req, Some(message), status, None),
        };
    }
    // RFC 8176 §2: the key and the user verification that unlocked it are two factors.
    let amr = passwordless_amr(signed_in.factor);
    let (active, cookie) = match flow
        .start_session(&req, signed_in.user, amr, ACR_MFA, now)
        .await
    {
        Ok(started) => started,
        Err(response) => return response,
    };
    tracing::info!(tenant = %tenant.tenant.slug, user = %active.user.id, "signed in with a passkey");
    flow.signed_in(&req, pending, active, cookie).await
}

// --- Second factor -------------------------------------------------------------------------

/// `POST /t/{tenant}/login/mfa/passkey`: the second step with a passkey of the user whose
/// password passed (the sealed ticket says who).
pub async fn begin_second_factor(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (rp, step) = match second_factor_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let started = flow
        .authn
        .begin_passkey_sign_in(
            &rp,
            flow.master,
            &tenant.tenant,
            Some(&step.user),
            Clock.now(),
        )
        .await;
    match started {
        Ok(ceremony) => ceremony_page(
            &flow,
            &req,
            false,
            "Use a passkey",
            "Follow your browser's prompt to use your passkey.",
            format!("{}/login/mfa/passkey/finish", flow.snapshot.issuer),
            ceremony.options,
            ceremony.state,
            Carry {
                request: field(&step.form, "request").unwrap_or("").to_owned(),
                ticket: field(&step.form, "ticket").unwrap_or("").to_owned(),
            },
        ),
        Err(e) => refused(&flow, &e),
    }
}

/// `POST /t/{tenant}/login/mfa/passkey/finish`: checks the passkey against the ticket's user
/// and finishes the sign-in like any second factor (`amr` + `hwk`/`swk` + `mfa`).
pub async fn finish_second_factor(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (rp, step) = match second_factor_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let verified = flow
        .authn
        .finish_passkey_sign_in(
            &rp,
            flow.master,
            &tenant.tenant,
            Some(step.user.id),
            field(&step.form, "state").unwrap_or(""),
            field(&step.form, "credential").unwrap_or(""),
            Clock.now(),
        )
        .await;
    match verified {
        Ok(signed_in) => crate::mfa::finish(&flow, &req, step, signed_in.factor, None).await,
        Err(e) => match status_of(&e) {
            Some(status) => {
                tracing::info!(tenant = %tenant.tenant.slug, outcome = %status, "passkey second factor refused");
                crate::mfa::code_page_again(&flow, &req, &step, e.to_string(), status).await
            }
            None => refused(&flow, &e),
        },
    }
}

// --- Account page --------------------------------------------------------------------------

/// The signed-in user of an account form, or the way back to the account page.
async fn account_user(flow: &Flow<'_>, req: &HttpRequest) -> Result<ActiveSession, HttpResponse> {
    match flow.session(req).await {
        Ok(Some(active)) => Ok(active),
        Ok(None) => Err(see_other(format!("{}/account", flow.snapshot.issuer))),
        Err(response) => Err(response),
    }
}

/// An account page's ceremony form: the form, its signed-in user and the relying party.
async fn account_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Vec<(String, String)>, ActiveSession, RelyingParty), HttpResponse> {
    let form = read_form(flow, req, payload).await?;
    let active = account_user(flow, req).await?;
    let rp = rp_or_page(flow).map_err(|response| *response)?;
    Ok((form, active, rp))
}

/// `POST /t/{tenant}/account/passkeys`: starts adding a passkey with the name given.
pub async fn begin_add(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (form, active, rp) = match account_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let started = flow
        .authn
        .begin_passkey_registration(
            &rp,
            flow.master,
            &tenant.tenant,
            &active.user,
            field(&form, "name").unwrap_or(""),
            Clock.now(),
        )
        .await;
    match started {
        Ok(ceremony) => ceremony_page(
            &flow,
            &req,
            true,
            "Add a passkey",
            "Follow your browser's prompt to create a passkey for this account.",
            format!("{}/account/passkeys/finish", flow.snapshot.issuer),
            ceremony.options,
            ceremony.state,
            Carry {
                request: String::new(),
                ticket: String::new(),
            },
        ),
        Err(e) => refused(&flow, &e),
    }
}

/// `POST /t/{tenant}/account/passkeys/finish`: verifies the new passkey, stores it, and
/// returns to the account page.
pub async fn finish_add(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (form, active, rp) = match account_form(&flow, &req, payload).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let added = flow
        .authn
        .finish_passkey_registration(
            &rp,
            flow.master,
            &tenant.tenant,
            &active.user,
            field(&form, "state").unwrap_or(""),
            field(&form, "credential").unwrap_or(""),
            deps.client_ip(&req).map(|ip| ip.to_string()),
            Clock.now(),
        )
        .await;
    match added {
        Ok(_) => see_other(format!("{}/account?passkey=added", flow.snapshot.issuer)),
        Err(e) => refused(&flow, &e),
    }
}

/// `POST /t/{tenant}/account/passkeys/{id}/remove`: removes one of the signed-in user's
/// passkeys; another user's (or an unknown) id is 404.
pub async fn remove(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if let Err(response) = read_form(&flow, &req, payload).await {
        return response;
    }
    let active = match account_user(&flow, &req).await {
        Ok(active) => active,
        Err(response) => return response,
    };
    let not_found = || {
        flow.error(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::NotFound,
            "There is no such passkey.",
        )
    };
    let Some(id) = req
        .match_info()
        .get("id")
        .and_then(|raw| raw.parse::<PasskeyId>().ok())
    else {
        return not_found();
    };
    match flow
        .authn
        .remove_passkey(
            tenant.tenant.id,
            active.user.id,
            id,
            deps.client_ip(&req).map(|ip| ip.to_string()),
            Clock.now(),
        )
        .await
    {
        Ok(true) => see_other(format!("{}/account?passkey=removed", flow.snapshot.issuer)),
        Ok(false) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "removing a passkey failed");
            flow.unavailable()
        }
    }
}
