//! The second sign-in step and the authenticator-app pages. After a correct password (or, for a
//! step-up, with a password-only session) the user gets the `mfa` page — or, without an
//! authenticator where one is needed, the `totp` enrolment page — carrying the sealed pending
//! request and a sealed, five-minute [`Ticket`] saying whose first factor passed; no session
//! cookie is set before the second factor passes. The account page's `/account/mfa` pages
//! enrol, turn off (with a current code) and renew recovery codes. Which `acr`/`amr` a session
//! gets is decided here, from [`tessera_authn::mfa`]'s values.
//!
//! A passkey is the other second factor: the `mfa` page offers it when the user has one, and
//! [`crate::passkeys`] verifies it and ends in [`finish`] with its own `amr` value (`hwk`/`swk`).

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tessera_authn::mfa::{ACR_MFA, ACR_PASSWORD, amr_with};
use tessera_authn::{ActiveSession, AuthnError, Factor, LoginError, SecondFactor};
use tessera_core::settings::MfaPolicy;
use tessera_core::{Clock, OAuthErrorCode, TenantId, UserId};
use tessera_keys::MasterKey;
use tessera_store::UserRecord;
use tessera_tenants::pages::{MfaPage, TotpPage};

use crate::flow::{Flow, FlowDeps};
use crate::form::{field, read_form};
use crate::interaction::PendingAuthorization;
use crate::page::{self, Page};
use crate::self_service::see_other;
use crate::{ActiveTenant, cookies};

/// How long a user has for the second step after the first, seconds.
const TICKET_TTL: i64 = 5 * 60;
/// Longest sealed ticket accepted from a form, in characters.
const MAX_TICKET_LEN: usize = 2048;
/// What the page says to a wrong, replayed or spent code (never which of these it was).
const WRONG_CODE: &str = "That code is not valid. Try again.";

/// "The first factor of user X passed at T": sealed with the master key, the tenant as
/// associated data (like the pending request), so it cannot be forged, altered, or carried to
/// another tenant, and it expires after [`TICKET_TTL`].
#[derive(Debug, Serialize, Deserialize)]
struct Ticket {
    tenant_id: TenantId,
    user_id: UserId,
    /// The `amr` of the first factor(s): `["pwd"]`, or the step-up session's.
    amr: Vec<String>,
    /// The session a step-up upgrades; it must still be the browser's when the step ends.
    sid: Option<String>,
    /// When the first factor passed.
    verified_at: i64,
    expires_at: i64,
}

impl Ticket {
    fn new(tenant: TenantId, user: UserId, amr: Vec<String>, sid: Option<String>) -> Self {
        let now = Clock.now();
        Self {
            tenant_id: tenant,
            user_id: user,
            amr,
            sid,
            verified_at: now,
            expires_at: now + TICKET_TTL,
        }
    }

    fn seal(&self, master: &MasterKey) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        let sealed = master.seal(&json, &ticket_aad(self.tenant_id)).ok()?;
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    fn open(master: &MasterKey, tenant: TenantId, sealed: &str, now: i64) -> Option<Self> {
        if sealed.len() > MAX_TICKET_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = master.open(&bytes, &ticket_aad(tenant)).ok()?;
        let ticket: Self = serde_json::from_slice(&json).ok()?;
        (ticket.tenant_id == tenant && ticket.expires_at > now).then_some(ticket)
    }
}

fn ticket_aad(tenant: TenantId) -> Vec<u8> {
    format!("tessera-mfa-ticket|{tenant}").into_bytes()
}

/// What the second step has to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Ask for a code or a passkey.
    Code,
    /// Enrol an authenticator first (its first code is the second factor).
    Enrol,
}

/// The tenant's policy applied to a user: `has_factor` — a confirmed authenticator or a
/// passkey exists (either satisfies `required`); `demanded` — the request asks for the
/// multi-factor `acr`.
fn need(policy: MfaPolicy, has_factor: bool, demanded: bool) -> Option<Need> {
    match policy {
        MfaPolicy::Off => None,
        _ if has_factor => Some(Need::Code),
        MfaPolicy::Required => Some(Need::Enrol),
        MfaPolicy::Optional if demanded => Some(Need::Enrol),
        MfaPolicy::Optional => None,
    }
}

/// Whether the request asks for the multi-factor `acr` that an authentication of class `acr`
/// does not meet: through `acr_values` (OIDC Core §3.1.2.1: voluntary, in order of preference —
/// asked for when `ACR_MFA` is listed and the current class is not), or an essential `acr`
/// claim (OIDC Core §5.5.1.1) that only `ACR_MFA` satisfies.
pub fn demands_mfa(pending: &PendingAuthorization, acr: Option<&str>) -> bool {
    if acr == Some(ACR_MFA) {
        return false;
    }
    let listed: Vec<&str> = pending
        .acr_values
        .as_deref()
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default();
    let voluntary = listed.contains(&ACR_MFA) && !acr.is_some_and(|a| listed.contains(&a));
    let claims = pending.claims.as_ref();
    let essential = !tessera_userinfo::acr_satisfies(claims, acr)
        && tessera_userinfo::acr_satisfies(claims, Some(ACR_MFA));
    voluntary || essential
}

/// After a correct password: the second-step page when the user needs one (no session is
/// started then), or `None` to start a password session (`amr` `pwd`, `acr` "1").
pub async fn after_password(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: Option<&PendingAuthorization>,
    user: &UserRecord,
) -> Option<HttpResponse> {
    let policy = flow.snapshot.tenant.settings.mfa.policy;
    if policy == MfaPolicy::Off {
        return None;
    }
    let status = match flow
        .authn
        .mfa_status(flow.snapshot.tenant.id, user.id)
        .await
    {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(error = %e, "reading second factors failed");
            return Some(flow.unavailable());
        }
    };
    let demanded = pending.is_some_and(|p| demands_mfa(p, Some(ACR_PASSWORD)));
    let ticket = Ticket::new(
        flow.snapshot.tenant.id,
        user.id,
        vec!["pwd".to_owned()],
        None,
    );
    match need(policy, status.any(), demanded)? {
        Need::Code => Some(
            code_page(
                flow,
                req,
                pending,
                &ticket,
                user,
                None,
                StatusCode::OK,
                vec![],
            )
            .await,
        ),
        Need::Enrol => {
            Some(enrol_page(flow, req, pending, &ticket, user, None, StatusCode::OK).await)
        }
    }
}

/// Step-up inside the authorization flow: when the request demands the multi-factor `acr` the
/// session lacks, the second-step page (enrolling first if needed). `Ok` gives the cookies back
/// to continue. With `prompt=none` nothing can be asked: the flow goes on, and an essential
/// `acr` is refused there (OIDC Core §5.5.1.1).
pub async fn step_up(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: &PendingAuthorization,
    active: &ActiveSession,
    cookies: Vec<Cookie<'static>>,
) -> Result<Vec<Cookie<'static>>, Box<HttpResponse>> {
    let policy = flow.snapshot.tenant.settings.mfa.policy;
    if pending.prompts("none")
        || policy == MfaPolicy::Off
        || !demands_mfa(pending, active.session.acr.as_deref())
    {
        return Ok(cookies);
    }
    let status = match flow
        .authn
        .mfa_status(flow.snapshot.tenant.id, active.user.id)
        .await
    {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(error = %e, "reading second factors failed");
            return Err(Box::new(flow.unavailable()));
        }
    };
    let ticket = Ticket::new(
        flow.snapshot.tenant.id,
        active.user.id,
        active.session.amr.clone(),
        Some(active.session.sid.clone()),
    );
    let response = match need(policy, status.any(), true) {
        None => return Ok(cookies),
        Some(Need::Code) => {
            code_page(
                flow,
                req,
                Some(pending),
                &ticket,
                &active.user,
                None,
                StatusCode::OK,
                cookies,
            )
            .await
        }
        Some(Need::Enrol) => {
            enrol_page(
                flow,
                req,
                Some(pending),
                &ticket,
                &active.user,
                None,
                StatusCode::OK,
            )
            .await
        }
    };
    Err(Box::new(response))
}

/// The `mfa` page: the code form when the user has an authenticator app, "Use a passkey" when
/// the user has a passkey (and passkeys work at this issuer).
#[allow(clippy::too_many_arguments)]
async fn code_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: Option<&PendingAuthorization>,
    ticket: &Ticket,
    user: &UserRecord,
    error: Option<String>,
    status: StatusCode,
    mut cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    let (Some(request), Some(sealed_ticket)) =
        (seal_pending(flow, pending), ticket.seal(flow.master))
    else {
        return flow.unavailable();
    };
    let factors = match flow
        .authn
        .mfa_status(flow.snapshot.tenant.id, user.id)
        .await
    {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(error = %e, "reading second factors failed");
            return flow.unavailable();
        }
    };
    let passkey_action = (factors.passkeys > 0)
        .then(|| crate::passkeys::second_factor_action(flow.snapshot))
        .flatten();
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    cookies.extend(csrf_cookie);
    let data = MfaPage {
        action: format!("{}/login/mfa", flow.snapshot.issuer),
        csrf_token,
        request,
        ticket: sealed_ticket,
        username: user.username.clone(),
        client_name: client_name(flow, pending),
        error,
        // Without a passkey form the code form is the only way on, so it stays.
        code_form: factors.totp || passkey_action.is_none(),
        passkey_action,
    };
    render(flow, status, "mfa", "Two-step verification", &data, cookies)
}

/// The `totp` page in enrolment mode during sign-in: QR code, key and the first-code form.
async fn enrol_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pending: Option<&PendingAuthorization>,
    ticket: &Ticket,
    user: &UserRecord,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (Some(request), Some(sealed_ticket)) =
        (seal_pending(flow, pending), ticket.seal(flow.master))
    else {
        return flow.unavailable();
    };
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let mut data = match enrolment(flow, user, csrf_token).await {
        Ok(data) => data,
        Err(response) => return *response,
    };
    data.request = request;
    data.ticket = sealed_ticket;
    data.confirm_action = format!("{}/login/mfa/enrol", flow.snapshot.issuer);
    data.error = error;
    data.notice = Some("Your organization asks for a second step at sign-in: set up an authenticator app to continue.".into());
    render(
        flow,
        status,
        "totp",
        "Set up an authenticator app",
        &data,
        csrf_cookie.into_iter().collect(),
    )
}

/// A `totp` page with an enrolment in progress (started, or shown again).
async fn enrolment(
    flow: &Flow<'_>,
    user: &UserRecord,
    csrf_token: String,
) -> Result<TotpPage, Box<HttpResponse>> {
    let issuer = flow.snapshot.look().name;
    let started = flow
        .authn
        .begin_totp(
            &flow.snapshot.tenant,
            user,
            flow.master,
            &issuer,
            Clock.now(),
        )
        .await;
    let enrolment = match started {
        Ok(e) => e,
        Err(AuthnError::Conflict) => {
            return Err(Box::new(flow.error(
                StatusCode::CONFLICT,
                OAuthErrorCode::InvalidRequest,
                "An authenticator app is already set up for this account.",
            )));
        }
        Err(e) => {
            tracing::error!(error = %e, "starting a TOTP enrolment failed");
            return Err(Box::new(flow.unavailable()));
        }
    };
    let mut page = blank_page(flow, user, csrf_token);
    page.enrolling = true;
    page.qr_image = qr_data_url(enrolment.uri.expose_secret());
    page.secret = Some(enrolment.secret.expose_secret().to_owned());
    Ok(page)
}

/// A `totp` page with nothing shown yet.
fn blank_page(flow: &Flow<'_>, user: &UserRecord, csrf_token: String) -> TotpPage {
    TotpPage {
        username: user.username.clone(),
        csrf_token,
        request: String::new(),
        ticket: String::new(),
        enrolling: false,
        qr_image: None,
        secret: None,
        confirm_action: format!("{}/account/mfa/enrol", flow.snapshot.issuer),
        recovery_codes: vec![],
        continue_action: None,
        remove_action: None,
        regenerate_action: None,
        recovery_codes_left: None,
        account_url: format!("{}/account", flow.snapshot.issuer),
        notice: None,
        error: None,
    }
}

/// The QR code of `uri` as an SVG `data:` URL, drawn here (no external service sees the key).
fn qr_data_url(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg.as_bytes())
    ))
}

fn seal_pending(flow: &Flow<'_>, pending: Option<&PendingAuthorization>) -> Option<String> {
    match pending {
        Some(p) => p.seal(flow.master),
        None => Some(String::new()),
    }
}

fn client_name(flow: &Flow<'_>, pending: Option<&PendingAuthorization>) -> String {
    pending
        .and_then(|p| flow.snapshot.client(&p.client_id))
        .map_or_else(|| "your account".to_owned(), |c| c.name.clone())
}

fn render<T: Serialize>(
    flow: &Flow<'_>,
    status: StatusCode,
    name: &str,
    title: &str,
    data: &T,
    cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name,
            title,
            data: serde_json::to_value(data).unwrap_or_default(),
        },
        cookies,
    )
}

/// The parts every second-step form posts: CSRF-checked, the ticket opened, the pending request
/// (if any) opened, and the ticket's user, still active.
pub(crate) struct StepForm {
    /// The form.
    pub(crate) form: Vec<(String, String)>,
    ticket: Ticket,
    pending: Option<PendingAuthorization>,
    /// The user whose first factor passed.
    pub(crate) user: UserRecord,
}

async fn open_step(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<StepForm, HttpResponse> {
    let form = flow
        .checked_form(req, payload, "Go back and try again.")
        .await?;
    open_step_form(flow, form).await
}

/// The second step of an already read, CSRF-checked `form`: its ticket and pending request
/// opened, and the ticket's user, still active.
pub(crate) async fn open_step_form(
    flow: &Flow<'_>,
    form: Vec<(String, String)>,
) -> Result<StepForm, HttpResponse> {
    let now = Clock.now();
    let tenant = flow.snapshot.tenant.id;
    let expired = || {
        flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "This sign-in has expired. Go back to the application and sign in again.",
        )
    };
    let Some(ticket) =
        field(&form, "ticket").and_then(|t| Ticket::open(flow.master, tenant, t, now))
    else {
        return Err(expired());
    };
    let pending = match field(&form, "request").unwrap_or("") {
        "" => None,
        sealed => match PendingAuthorization::open(flow.master, tenant, sealed, now) {
            Some(p) => Some(p),
            None => return Err(expired()),
        },
    };
    let user = match flow.authn.user(tenant, ticket.user_id).await {
        Ok(Some(user)) if user.status == tessera_core::UserStatus::Active => user,
        Ok(_) => return Err(expired()),
        Err(e) => {
            tracing::error!(error = %e, "reading the user failed");
            return Err(flow.unavailable());
        }
    };
    Ok(StepForm {
        form,
        ticket,
        pending,
        user,
    })
}

/// The `mfa` page again after a refused second factor of `step`.
pub(crate) async fn code_page_again(
    flow: &Flow<'_>,
    req: &HttpRequest,
    step: &StepForm,
    message: String,
    status: StatusCode,
) -> HttpResponse {
    code_page(
        flow,
        req,
        step.pending.as_ref(),
        &step.ticket,
        &step.user,
        Some(message),
        status,
        vec![],
    )
    .await
}

/// The status and message for a refused code; `None` when the service failed.
fn refusal(e: &LoginError) -> Option<(StatusCode, String)> {
    match e {
        LoginError::InvalidCredentials => Some((StatusCode::UNAUTHORIZED, WRONG_CODE.to_owned())),
        LoginError::Throttled { .. } | LoginError::Locked { .. } => {
            Some((StatusCode::TOO_MANY_REQUESTS, e.to_string()))
        }
        LoginError::AccountDisabled => Some((StatusCode::FORBIDDEN, e.to_string())),
        LoginError::Unavailable | LoginError::Unexpected(_) => None,
    }
}

/// `POST /t/{tenant}/login/mfa`: checks the code (or recovery code) and finishes the sign-in.
pub async fn verify(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let step = match open_step(&flow, &req, payload).await {
        Ok(step) => step,
        Err(response) => return response,
    };
    let code = field(&step.form, "code").unwrap_or("").trim();
    let recovery = field(&step.form, "recovery_code").unwrap_or("").trim();
    let factor = match (code.is_empty(), recovery.is_empty()) {
        (false, _) => SecondFactor::Totp(code),
        (true, false) => SecondFactor::RecoveryCode(recovery),
        (true, true) => {
            return code_page(
                &flow,
                &req,
                step.pending.as_ref(),
                &step.ticket,
                &step.user,
                Some("Enter the code from your authenticator app.".into()),
                StatusCode::BAD_REQUEST,
                vec![],
            )
            .await;
        }
    };
    let verified = flow
        .authn
        .verify_second_factor(
            &tenant.tenant,
            &step.user,
            flow.master,
            factor,
            deps.client_ip(&req),
            Clock.now(),
        )
        .await;
    match verified {
        Ok(factor) => finish(&flow, &req, step, factor, None).await,
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                tracing::info!(tenant = %tenant.tenant.slug, outcome = %status, "second factor refused");
                code_page(
                    &flow,
                    &req,
                    step.pending.as_ref(),
                    &step.ticket,
                    &step.user,
                    Some(message),
                    status,
                    vec![],
                )
                .await
            }
            None => {
                tracing::error!(error = %e, "checking a second factor failed");
                flow.unavailable()
            }
        },
    }
}

/// `POST /t/{tenant}/login/mfa/enrol`: confirms an enrolment started at sign-in with its first
/// code, signs in, and shows the recovery codes once before continuing.
pub async fn enrol_at_sign_in(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let step = match open_step(&flow, &req, payload).await {
        Ok(step) => step,
        Err(response) => return response,
    };
    if flow.snapshot.tenant.settings.mfa.policy == MfaPolicy::Off {
        return flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "Two-step verification is turned off for this organization.",
        );
    }
    let code = field(&step.form, "code").unwrap_or("").trim().to_owned();
    let confirmed = flow
        .authn
        .confirm_totp(
            &tenant.tenant,
            &step.user,
            flow.master,
            &code,
            deps.client_ip(&req),
            Clock.now(),
        )
        .await;
    match confirmed {
        Ok(codes) => finish(&flow, &req, step, Factor::Totp, Some(codes)).await,
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                enrol_page(
                    &flow,
                    &req,
                    step.pending.as_ref(),
                    &step.ticket,
                    &step.user,
                    Some(message),
                    status,
                )
                .await
            }
            None => {
                tracing::error!(error = %e, "confirming a TOTP enrolment failed");
                flow.unavailable()
            }
        },
    }
}

/// Both factors passed: a new session (a new id, the previous one of this browser ends) with
/// `amr` = the first factors' plus the second's and `acr` [`ACR_MFA`]; then the authorization
/// continues, or the account page opens. With fresh recovery codes, they are shown first, with
/// a button that continues.
pub(crate) async fn finish(
    flow: &Flow<'_>,
    req: &HttpRequest,
    step: StepForm,
    factor: Factor,
    recovery_codes: Option<Vec<SecretString>>,
) -> HttpResponse {
    let tenant = &flow.snapshot.tenant;
    // A step-up upgrades the browser's session: it must still be that one.
    if let Some(sid) = &step.ticket.sid {
        let current = match flow.session(req).await {
            Ok(current) => current,
            Err(response) => return response,
        };
        if !current.is_some_and(|a| &a.session.sid == sid && a.user.id == step.user.id) {
            return flow.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "You signed out or in as someone else meanwhile. Go back to the application and try again.",
            );
        }
    }
    let now = Clock.now();
    let amr = amr_with(&step.ticket.amr, factor);
    let (active, cookie) = match flow.start_session(req, step.user, amr, ACR_MFA, now).await {
        Ok(started) => started,
        Err(response) => return response,
    };
    tracing::info!(tenant = %tenant.slug, user = %active.user.id, "signed in with a second factor");
    if let Some(codes) = recovery_codes {
        let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
        let mut data = blank_page(flow, &active.user, csrf_token);
        data.recovery_codes = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
        data.notice = Some("Two-step verification is on.".into());
        if let Some(pending) = &step.pending {
            let Some(sealed) = pending.seal(flow.master) else {
                return flow.unavailable();
            };
            data.request = sealed;
            data.continue_action = Some(format!("{}/login/continue", flow.snapshot.issuer));
        }
        let mut cookies = vec![cookie];
        cookies.extend(csrf_cookie);
        return render(
            flow,
            StatusCode::OK,
            "totp",
            "Authenticator app",
            &data,
            cookies,
        );
    }
    flow.signed_in(req, step.pending, active, cookie).await
}

/// `POST /t/{tenant}/login/continue`: after the recovery codes were shown, the authorization
/// goes on with the session just started (which counts as fresh for `prompt=login` and
/// `max_age` while the ticket would have been valid).
pub async fn resume(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let Some(form) = read_form(&req, payload).await else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "The form is malformed.",
        );
    };
    let pending = match crate::login::open_form(&flow, &req, &form) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let active = match flow.session(&req).await {
        Ok(active) => active,
        Err(response) => return response,
    };
    let fresh = active
        .as_ref()
        .is_some_and(|a| Clock.now() - a.session.auth_time <= TICKET_TTL);
    flow.proceed(&req, pending, active, fresh, vec![]).await
}

// --- The account page's authenticator pages ------------------------------------------------

/// `GET /t/{tenant}/account/mfa`: enrol (QR code, key, first code) or, when enrolled, turn off
/// and renew recovery codes.
pub async fn manage(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        Ok(None) => return see_other(format!("{}/account", flow.snapshot.issuer)),
        Err(response) => return response,
    };
    manage_page(&flow, &req, &active.user, None, None, StatusCode::OK).await
}

async fn manage_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    user: &UserRecord,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    if flow.snapshot.tenant.settings.mfa.policy == MfaPolicy::Off {
        return flow.error(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::InvalidRequest,
            "Two-step verification is turned off for this organization.",
        );
    }
    let mfa = match flow
        .authn
        .mfa_status(flow.snapshot.tenant.id, user.id)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading second factors failed");
            return flow.unavailable();
        }
    };
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let mut data = if mfa.totp {
        let mut data = blank_page(flow, user, csrf_token);
        data.remove_action = Some(format!("{}/account/mfa/remove", flow.snapshot.issuer));
        data.regenerate_action = Some(format!(
            "{}/account/mfa/recovery-codes",
            flow.snapshot.issuer
        ));
        data.recovery_codes_left = Some(mfa.recovery_codes_left);
        data
    } else {
        match enrolment(flow, user, csrf_token).await {
            Ok(data) => data,
            Err(response) => return *response,
        }
    };
    data.notice = notice;
    data.error = error;
    render(
        flow,
        status,
        "totp",
        "Authenticator app",
        &data,
        csrf_cookie.into_iter().collect(),
    )
}

/// The signed-in user of an account form (CSRF-checked), with the form.
async fn account_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(ActiveSession, Vec<(String, String)>), HttpResponse> {
    let form = flow
        .checked_form(req, payload, "Reload the page and try again.")
        .await?;
    match flow.session(req).await {
        Ok(Some(active)) => Ok((active, form)),
        Ok(None) => Err(see_other(format!("{}/account", flow.snapshot.issuer))),
        Err(response) => Err(response),
    }
}

/// `POST /t/{tenant}/account/mfa/enrol`: confirms the enrolment with its first code and shows
/// the recovery codes once.
pub async fn account_enrol(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (active, form) = match account_form(&flow, &req, payload).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    if flow.snapshot.tenant.settings.mfa.policy == MfaPolicy::Off {
        return manage_page(&flow, &req, &active.user, None, None, StatusCode::OK).await;
    }
    let code = field(&form, "code").unwrap_or("").trim().to_owned();
    let confirmed = flow
        .authn
        .confirm_totp(
            &tenant.tenant,
            &active.user,
            flow.master,
            &code,
            deps.client_ip(&req),
            Clock.now(),
        )
        .await;
    match confirmed {
        Ok(codes) => {
            let (csrf_token, csrf_cookie) = cookies::csrf_token(&req, flow.snapshot);
            let mut data = blank_page(&flow, &active.user, csrf_token);
            data.recovery_codes = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
            data.notice = Some("Two-step verification is on.".into());
            render(
                &flow,
                StatusCode::OK,
                "totp",
                "Authenticator app",
                &data,
                csrf_cookie.into_iter().collect(),
            )
        }
        Err(e) => account_refusal(&flow, &req, &active.user, &e).await,
    }
}

/// `POST /t/{tenant}/account/mfa/remove`: turns two-step verification off, with a current code
/// or a recovery code.
pub async fn account_remove(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (active, form) = match account_form(&flow, &req, payload).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let code = field(&form, "code").unwrap_or("").trim().to_owned();
    // Six digits are an app code; anything else can only be a recovery code.
    let factor = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        SecondFactor::Totp(&code)
    } else {
        SecondFactor::RecoveryCode(&code)
    };
    let ip = deps.client_ip(&req);
    let verified = flow
        .authn
        .verify_second_factor(
            &tenant.tenant,
            &active.user,
            flow.master,
            factor,
            ip,
            Clock.now(),
        )
        .await;
    if let Err(e) = verified {
        return account_refusal(&flow, &req, &active.user, &e).await;
    }
    // The user's passkeys stay: they are not part of the authenticator app.
    let removed = flow
        .authn
        .remove_totp(
            tenant.tenant.id,
            active.user.id,
            format!("user:{}", active.user.id),
            ip.map(|ip| ip.to_string()),
            Clock.now(),
        )
        .await;
    match removed {
        Ok(_) => {
            tracing::info!(tenant = %tenant.tenant.slug, user = %active.user.id, "two-step verification turned off");
            see_other(format!("{}/account/mfa", flow.snapshot.issuer))
        }
        Err(e) => {
            tracing::error!(error = %e, "removing second factors failed");
            flow.unavailable()
        }
    }
}

/// `POST /t/{tenant}/account/mfa/recovery-codes`: new recovery codes (the old ones stop
/// working), with a current app code; shown once.
pub async fn account_regenerate(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let (active, form) = match account_form(&flow, &req, payload).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let code = field(&form, "code").unwrap_or("").trim().to_owned();
    let ip = deps.client_ip(&req);
    let verified = flow
        .authn
        .verify_second_factor(
            &tenant.tenant,
            &active.user,
            flow.master,
            SecondFactor::Totp(&code),
            ip,
            Clock.now(),
        )
        .await;
    if let Err(e) = verified {
        return account_refusal(&flow, &req, &active.user, &e).await;
    }
    match flow
        .authn
        .regenerate_recovery_codes(tenant.tenant.id, active.user.id, ip, Clock.now())
        .await
    {
        Ok(codes) => {
            let (csrf_token, csrf_cookie) = cookies::csrf_token(&req, flow.snapshot);
            let mut data = blank_page(&flow, &active.user, csrf_token);
            data.recovery_codes = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
            data.notice = Some("Your old recovery codes no longer work.".into());
            render(
                &flow,
                StatusCode::OK,
                "totp",
                "Authenticator app",
                &data,
                csrf_cookie.into_iter().collect(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "renewing recovery codes failed");
            flow.unavailable()
        }
    }
}

/// The authenticator page again, saying why a code was refused.
async fn account_refusal(
    flow: &Flow<'_>,
    req: &HttpRequest,
    user: &UserRecord,
    e: &LoginError,
) -> HttpResponse {
    match refusal(e) {
        Some((status, message)) => manage_page(flow, req, user, None, Some(message), status).await,
        None => {
            tracing::error!(error = %e, "checking a code failed");
            flow.unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_decides_the_second_step() {
        use MfaPolicy::*;
        assert_eq!(need(Off, true, true), None);
        assert_eq!(need(Optional, false, false), None);
        assert_eq!(need(Optional, false, true), Some(Need::Enrol));
        assert_eq!(need(Optional, true, false), Some(Need::Code));
        assert_eq!(need(Required, false, false), Some(Need::Enrol));
        assert_eq!(need(Required, true, false), Some(Need::Code));
    }

    fn request(
        acr_values: Option<&str>,
        claims: Option<serde_json::Value>,
    ) -> PendingAuthorization {
        let value = serde_json::json!({
            "tenant_id": TenantId::new(),
            "expires_at": 0,
            "client_id": "app",
            "return_to": { "redirect_uri": "https://app.example/cb", "mode": "query" },
            "redirect_uri_sent": true,
            "scope": "openid",
            "prompt": [],
            "acr_values": acr_values,
            "claims": claims,
        });
        match serde_json::from_value(value) {
            Ok(pending) => pending,
            Err(e) => panic!("a pending request: {e}"),
        }
    }

    #[test]
    fn acr_values_and_essential_acr_claims_demand_the_second_factor() {
        let pwd = Some(ACR_PASSWORD);
        assert!(!demands_mfa(&request(None, None), pwd));
        assert!(demands_mfa(&request(Some("2"), None), pwd));
        // Voluntary values in order of preference: one the session meets is enough.
        assert!(!demands_mfa(&request(Some("1 2"), None), pwd));
        assert!(demands_mfa(&request(Some("2 1"), None), None));
        assert!(!demands_mfa(&request(Some("2"), None), Some(ACR_MFA)));
        assert!(!demands_mfa(&request(Some("urn:other"), None), pwd));
        let essential =
            serde_json::json!({ "id_token": { "acr": { "essential": true, "values": ["2"] } } });
        assert!(demands_mfa(&request(None, Some(essential.clone())), pwd));
        assert!(!demands_mfa(&request(None, Some(essential)), Some(ACR_MFA)));
        let voluntary_claim = serde_json::json!({ "id_token": { "acr": { "values": ["2"] } } });
        assert!(!demands_mfa(&request(None, Some(voluntary_claim)), pwd));
    }

    #[test]
    fn tickets_are_sealed_per_tenant_and_expire() {
        let master = MasterKey::generate();
        let (a, b) = (TenantId::new(), TenantId::new());
        let ticket = Ticket::new(a, UserId::new(), vec!["pwd".into()], None);
        let sealed = ticket.seal(&master).unwrap_or_default();
        let now = Clock.now();
        assert!(Ticket::open(&master, a, &sealed, now).is_some());
        assert!(Ticket::open(&master, b, &sealed, now).is_none());
        assert!(Ticket::open(&master, a, &sealed, now + TICKET_TTL).is_none());
        assert!(Ticket::open(&MasterKey::generate(), a, &sealed, now).is_none());
    }
}
