//! `GET/POST /t/{tenant}/signup`: self-registration, when the tenant's `accounts.signup` is
//! `open` (`off`: 404; `invitation`: a page saying accounts are by invitation, no form). The
//! form checks its CSRF token, the two passwords, then the [`Authenticator`] applies the
//! username, e-mail and password rules and the per-address limit. A new account gets a
//! single-use confirmation link by mail. An address that already has an account gets exactly
//! the answer of a fresh sign-up, and no second account (the owner, if still unconfirmed, gets
//! a new link). Reached from the login page with the sealed authorization request, a sign-up
//! that need not wait for the confirmation signs the user in and continues the authorization.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde_json::json;
use tessera_authn::links::ttl;
use tessera_authn::signup::{NewSignUp, SignUp, SignUpError};
use tessera_core::settings::SignupMode;
use tessera_core::{Clock, OAuthErrorCode};
use tessera_mail::Outbox;
use tessera_mail::links::human_duration;
use tessera_store::UserRecord;
use tessera_store::account_links::LinkKind;
use tessera_tenants::TenantSnapshot;

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::interaction::PendingAuthorization;
use crate::page::{self, Page};
use crate::verification::send_link;
use crate::{ActiveTenant, cookies};

/// Title of the sign-up pages.
const TITLE: &str = "Create an account";

/// The sign-up page's URL for the login page's "Create an account" link, when sign-up is open;
/// `sealed` is the pending authorization request to carry along.
pub fn signup_url(snapshot: &TenantSnapshot, sealed: Option<&str>) -> Option<String> {
    (snapshot.tenant.settings.accounts.signup == SignupMode::Open).then(|| match sealed {
        // Sealed requests are base64url: safe in a query as they are.
        Some(sealed) if !sealed.is_empty() => {
            format!("{}/signup?request={sealed}", snapshot.issuer)
        }
        _ => format!("{}/signup", snapshot.issuer),
    })
}

/// What the form holds, to refill it after a refusal.
#[derive(Default)]
struct Filled {
    username: String,
    email: String,
}

/// `GET /t/{tenant}/signup`.
pub async fn signup_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if let Some(refusal) = closed(&flow) {
        return refusal;
    }
    let request = crate::self_service::query_value(&req, "request");
    let pending = pending_of(&flow, request.as_deref());
    form_page(
        &flow,
        &req,
        pending.as_ref(),
        &Filled::default(),
        None,
        StatusCode::OK,
    )
}

/// `POST /t/{tenant}/signup`.
pub async fn signup_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
    outbox: web::Data<Outbox>,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if let Some(refusal) = closed(&flow) {
        return refusal;
    }
    let form = match flow
        .checked_form(&req, payload, "Reload the page and try again.")
        .await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    // An expired request does not spoil the sign-up: the account is still created.
    let pending = pending_of(&flow, field(&form, "request"));
    let filled = Filled {
        username: field(&form, "username").unwrap_or("").trim().to_owned(),
        email: field(&form, "email").unwrap_or("").trim().to_owned(),
    };
    let password = field(&form, "password").unwrap_or("");
    let again = |message: &str, status| {
        form_page(
            &flow,
            &req,
            pending.as_ref(),
            &filled,
            Some(message.to_owned()),
            status,
        )
    };
    if filled.username.is_empty() || filled.email.is_empty() || password.is_empty() {
        return again(
            "Enter a username, your e-mail address and a password.",
            StatusCode::BAD_REQUEST,
        );
    }
    if field(&form, "password_confirm") != Some(password) {
        return again("The two passwords do not match.", StatusCode::BAD_REQUEST);
    }
    let outcome = flow
        .authn
        .sign_up(
            &tenant.tenant,
            NewSignUp {
                username: filled.username.clone(),
                email: filled.email.clone(),
                password: SecretString::from(password.to_owned()),
                ip: deps.client_ip(&req),
            },
        )
        .await;
    let user = match outcome {
        Ok(SignUp::Created(user)) => user,
        Ok(SignUp::AddressInUse(owner)) => {
            // The requester learns nothing; an owner who never confirmed gets a new link.
            if !owner.email_verified
                && flow
                    .authn
                    .verification_due(tenant.tenant.id, owner.id)
                    .await
                    .unwrap_or(false)
            {
                send_link(&flow, &outbox, &owner).await;
            }
            return done_page(&flow);
        }
        Err(e) => {
            let status = match e {
                SignUpError::Throttled { retry_after_secs } => {
                    tracing::info!(tenant = %tenant.tenant.slug, "sign-up refused: too many from this address");
                    let mut response = again(&e.to_string(), StatusCode::TOO_MANY_REQUESTS);
                    if let Ok(value) = retry_after_secs.to_string().parse() {
                        response.headers_mut().insert(RETRY_AFTER, value);
                    }
                    return response;
                }
                SignUpError::UsernameTaken => StatusCode::CONFLICT,
                SignUpError::Invalid(_) => StatusCode::BAD_REQUEST,
                SignUpError::Unavailable => return flow.unavailable(),
                SignUpError::Unexpected(ref cause) => {
                    tracing::error!(error = %cause, "sign-up failed");
                    return flow.unavailable();
                }
            };
            return again(&e.to_string(), status);
        }
    };
    send_link(&flow, &outbox, &user).await;
    match pending {
        Some(pending) if !tenant.tenant.settings.accounts.require_verified_email => {
            sign_in(&flow, &req, pending, user).await
        }
        _ => done_page(&flow),
    }
}

/// Signs the new user in and continues the authorization, as the login form does.
async fn sign_in(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: PendingAuthorization,
    user: UserRecord,
) -> HttpResponse {
    // A tenant requiring a second factor enrols it before any session starts.
    if let Some(response) = crate::mfa::after_password(flow, req, Some(&pending), &user).await {
        return response;
    }
    // RFC 8176 §2 `pwd`: the password was just chosen and typed; acr "1" as at the login form.
    let amr = vec!["pwd".to_owned()];
    let (active, cookie) = match flow
        .start_session(
            req,
            user,
            amr,
            tessera_authn::mfa::ACR_PASSWORD,
            Clock.now(),
        )
        .await
    {
        Ok(started) => started,
        Err(response) => return response,
    };
    tracing::info!(tenant = %flow.snapshot.tenant.slug, user = %active.user.id, "signed in after sign-up");
    flow.proceed(req, pending, Some(active), true, vec![cookie])
        .await
}

/// The refusal when sign-up is not open: 404 when off, 403 "by invitation only".
fn closed(flow: &Flow<'_>) -> Option<HttpResponse> {
    match flow.snapshot.tenant.settings.accounts.signup {
        SignupMode::Open => None,
        SignupMode::Off => Some(flow.error(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::NotFound,
            "There is no sign-up page here. Ask your administrator for an account.",
        )),
        SignupMode::Invitation => Some(flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "Accounts here are by invitation only. Ask your administrator for an invitation.",
        )),
    }
}

/// The pending authorization request a sealed `request` field carries, if it still opens.
fn pending_of(flow: &Flow<'_>, sealed: Option<&str>) -> Option<PendingAuthorization> {
    let sealed = sealed.filter(|s| !s.is_empty())?;
    PendingAuthorization::open(flow.master, flow.snapshot.tenant.id, sealed, Clock.now())
}

/// The form, refilled (never the passwords) with `error`.
fn form_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: Option<&PendingAuthorization>,
    filled: &Filled,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (csrf, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let request = pending
        .and_then(|p| p.seal(flow.master))
        .unwrap_or_default();
    let client_name = pending
        .and_then(|p| flow.snapshot.client(&p.client_id))
        .map(|c| c.name.clone());
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "signup",
            title: TITLE,
            data: json!({
                "action": format!("{}/signup", flow.snapshot.issuer),
                "csrf_token": csrf,
                "request": request,
                "client_name": client_name,
                "username": optional(&filled.username),
                "email": optional(&filled.email),
                "error": error,
                "sign_in_url": format!("{}/account", flow.snapshot.issuer),
            }),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// "Check your e-mail": the same page whether or not an account was created.
fn done_page(flow: &Flow<'_>) -> HttpResponse {
    let secs = ttl(&flow.snapshot.tenant, LinkKind::VerifyEmail);
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::OK,
        Page {
            name: "signup_done",
            title: "Check your e-mail",
            data: json!({
                "message": "We sent a link to the address you gave. Open it to confirm your address.",
                "expires_in": human_duration(secs),
            }),
        },
        vec![],
    )
}
