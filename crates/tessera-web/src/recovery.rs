//! `/t/{tenant}/password/forgot` and `/t/{tenant}/password/reset`: resetting a forgotten
//! password by a single-use, expiring link sent by e-mail ([`tessera_authn::links`]).
//!
//! The "forgot" form answers with the same page, status and timing whether or not an account
//! matches (OWASP Forgot Password Cheat Sheet, "Return a consistent message for both existent
//! and non-existent accounts"; "Ensure that responses return in a consistent amount of time"):
//! the lookup, the link and the mail happen in a task after the answer is sent, so the answer
//! cannot depend on them. Requests are limited per client address (the answer is then a 429
//! page, which says nothing about any account) and mails per account (beyond the quota nothing
//! is sent, silently). No password is hashed here.
//!
//! The reset link opens a new-password form; the link is spent only when a password passing the
//! tenant's policy is set, which also unlocks the account and, by policy, ends its sessions and
//! revokes its refresh tokens (RFC 9700 §4.14.2).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tessera_authn::Authenticator;
use tessera_authn::links::PasswordSet;
use tessera_authn::policy::{normalize_email, normalize_username};
use tessera_authn::recovery::{self, Requester, reset_ip_key, reset_mail_key};
use tessera_core::{Clock, UserStatus};
use tessera_mail::Outbox;
use tessera_mail::links::human_duration;
use tessera_store::account_links::LinkKind;
use tessera_store::{Store, UserRecord, users};
use tessera_tenants::TenantSnapshot;
use tessera_tenants::pages::{ForgotPasswordPage, ResetPasswordPage};

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::interaction::PendingAuthorization;
use crate::page::{self, Page};
use crate::self_service::{checked_form, error, query_value};
use crate::{ActiveTenant, cookies};

/// Reset requests one client address may make per [`QUOTA_WINDOW_SECS`].
pub const REQUESTS_PER_ADDRESS: u32 = 20;
/// Reset mails one account may be sent per [`QUOTA_WINDOW_SECS`].
pub const MAILS_PER_ACCOUNT: u32 = 3;
/// The quotas' window, seconds.
pub const QUOTA_WINDOW_SECS: i64 = 3_600;
/// Accounts sharing one e-mail address that are each sent a link, at most.
const MAX_ACCOUNTS_PER_ADDRESS: u64 = 5;
/// Longest username or address accepted (RFC 5321 §4.5.3.1 paths are shorter still).
const MAX_IDENTIFIER_CHARS: usize = 320;
/// What a dead link shows: never whether it was unknown, used, superseded or expired.
const DEAD_LINK: &str = "This link is not valid any more. Links work once and only for a limited time: ask for a new one.";

/// The "Forgot your password?" page for the login page's link (with the pending request,
/// sealed, riding along), or `None` when the tenant does not allow resets.
pub fn forgot_url(snapshot: &TenantSnapshot, sealed_request: Option<&str>) -> Option<String> {
    if !snapshot.tenant.settings.accounts.password_reset {
        return None;
    }
    let base = format!("{}/password/forgot", snapshot.issuer);
    Some(match sealed_request.filter(|r| !r.is_empty()) {
        Some(request) => {
            let query = serde_urlencoded::to_string([("request", request)]).unwrap_or_default();
            format!("{base}?{query}")
        }
        None => base,
    })
}

/// `GET /t/{tenant}/password/forgot`: the form.
pub async fn forgot_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if !tenant.tenant.settings.accounts.password_reset {
        return reset_off(&flow);
    }
    let request = live_request(&flow, query_value(&req, "request").as_deref());
    forgot_page(&flow, &req, request, false, None, StatusCode::OK)
}

/// `POST /t/{tenant}/password/forgot`: queues the reset mail(s) in the background and answers
/// "check your e-mail" — the same page whatever the outcome.
pub async fn forgot_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
    authn: web::Data<Authenticator>,
    store: web::Data<Store>,
    outbox: web::Data<Outbox>,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if !tenant.tenant.settings.accounts.password_reset {
        return reset_off(&flow);
    }
    let form = match checked_form(&flow, &req, payload).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let request = live_request(&flow, field(&form, "request"));
    let identifier = field(&form, "identifier").unwrap_or("").trim().to_owned();
    if identifier.is_empty() || identifier.chars().count() > MAX_IDENTIFIER_CHARS {
        return forgot_page(
            &flow,
            &req,
            request,
            false,
            Some("Enter your username or e-mail address.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let now = Clock.now();
    let ip = deps.client_ip(&req);
    if let Some(ip) = ip {
        match authn
            .take_quota(
                tenant.tenant.id,
                &reset_ip_key(ip),
                REQUESTS_PER_ADDRESS,
                QUOTA_WINDOW_SECS,
                now,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(tenant = %tenant.tenant.slug, "password reset requests throttled for a client address");
                return error(
                    &flow,
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests from your network. Try again later.",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "counting a password reset request failed");
                return flow.unavailable();
            }
        }
    }
    let requester = Requester {
        ip: ip.map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let job = ResetJob {
        snapshot: Arc::clone(&tenant.0),
        authn: authn.into_inner(),
        store: store.into_inner(),
        outbox: outbox.into_inner(),
        requester,
    };
    // After the answer: nothing below can change it, or how long it took.
    actix_web::rt::spawn(async move { job.run(&identifier).await });
    forgot_page(&flow, &req, request, true, None, StatusCode::OK)
}

/// The work behind one reset request.
struct ResetJob {
    snapshot: Arc<TenantSnapshot>,
    authn: Arc<Authenticator>,
    store: Arc<Store>,
    outbox: Arc<Outbox>,
    requester: Requester,
}

impl ResetJob {
    /// Finds the account(s) `identifier` names — by username, else by e-mail address — and
    /// mails each a link, within the per-account quota. Failures only log.
    async fn run(self, identifier: &str) {
        let tenant = &self.snapshot.tenant;
        let db = self.store.conn();
        let by_name = match normalize_username(identifier) {
            Ok(name) => users::find_by_username(db, tenant.id, &name).await,
            Err(_) => Ok(None),
        };
        let found = match by_name {
            Ok(Some(user)) => Ok(vec![user]),
            Ok(None) => match normalize_email(identifier) {
                Ok(email) => {
                    users::find_by_email(db, tenant.id, &email, MAX_ACCOUNTS_PER_ADDRESS).await
                }
                Err(_) => Ok(vec![]),
            },
            Err(e) => Err(e),
        };
        let users = match found {
            Ok(users) => users,
            Err(e) => {
                tracing::error!(tenant = %tenant.slug, error = %e, "looking up a password reset failed");
                return;
            }
        };
        if users.is_empty() {
            tracing::info!(tenant = %tenant.slug, "password reset asked for no known account");
        }
        for user in users {
            if let Err(e) = self.mail_link(&user).await {
                tracing::error!(tenant = %tenant.slug, user = %user.id, error = %e, "sending a password reset link failed");
            }
        }
    }

    /// Mails `user` a reset link, unless the account cannot sign in, has no address, or had its
    /// quota of reset mails.
    async fn mail_link(&self, user: &UserRecord) -> anyhow::Result<()> {
        let tenant = &self.snapshot.tenant;
        // A locked account may reset (the reset unlocks it); a disabled one may not.
        if !matches!(user.status, UserStatus::Active | UserStatus::Locked) || user.email.is_none() {
            tracing::info!(tenant = %tenant.slug, user = %user.id, "no password reset for this account");
            return Ok(());
        }
        let now = Clock.now();
        if !self
            .authn
            .take_quota(
                tenant.id,
                &reset_mail_key(user.id),
                MAILS_PER_ACCOUNT,
                QUOTA_WINDOW_SECS,
                now,
            )
            .await?
        {
            tracing::info!(tenant = %tenant.slug, user = %user.id, "password reset mail quota reached");
            return Ok(());
        }
        let link = self
            .authn
            .issue_link(tenant, LinkKind::PasswordReset, user)
            .await?;
        let ttl = tessera_authn::links::ttl(tenant, LinkKind::PasswordReset);
        let Some(mail) = tessera_mail::link_mail(
            LinkKind::PasswordReset,
            user,
            &self.snapshot.issuer,
            link.token.expose_secret(),
            ttl,
            None,
        ) else {
            return Ok(());
        };
        let txn = self.store.begin().await?;
        let mail_id = self.outbox.enqueue(&txn, &self.snapshot, mail).await?;
        recovery::record(
            &txn,
            tenant.id,
            recovery::RESET_REQUESTED,
            "anonymous",
            user.id,
            &self.requester,
            json!({ "mail_id": mail_id, "expires_at": link.expires_at }),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(tenant = %tenant.slug, user = %user.id, mail = %mail_id, "password reset link queued");
        Ok(())
    }
}

/// `GET /t/{tenant}/password/reset?token=…`: the new-password form of a live link. Works
/// whether or not the tenant offers the "forgot" form: an administrator's forced reset sends the
/// same link.
pub async fn reset_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let token = query_value(&req, "token").unwrap_or_default();
    let link = match flow
        .authn
        .peek_link(&tenant.tenant, LinkKind::PasswordReset, &token)
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return dead_link(&flow),
        Err(e) => {
            tracing::error!(error = %e, "reading a reset link failed");
            return flow.unavailable();
        }
    };
    let username = username_of(&flow, &link).await;
    reset_page(&flow, &req, token, username, None, StatusCode::OK)
}

/// `POST /t/{tenant}/password/reset`: sets the new password and spends the link.
pub async fn reset_post(
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
    let token = field(&form, "token").unwrap_or("").to_owned();
    let link = match flow
        .authn
        .peek_link(&tenant.tenant, LinkKind::PasswordReset, &token)
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return dead_link(&flow),
        Err(e) => {
            tracing::error!(error = %e, "reading a reset link failed");
            return flow.unavailable();
        }
    };
    let password = field(&form, "password").unwrap_or("");
    if password != field(&form, "confirmation").unwrap_or("") {
        let username = username_of(&flow, &link).await;
        return reset_page(
            &flow,
            &req,
            token,
            username,
            Some("The two passwords are not the same.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let password = SecretString::from(password.to_owned());
    let set = match flow
        .authn
        .set_password_by_link(&tenant.tenant, LinkKind::PasswordReset, &token, password)
        .await
    {
        Ok(set) => set,
        // The policy refused the password: the link was not spent.
        Err(tessera_authn::AuthnError::Invalid(message)) => {
            let username = username_of(&flow, &link).await;
            return reset_page(
                &flow,
                &req,
                token,
                username,
                Some(message),
                StatusCode::BAD_REQUEST,
            );
        }
        // Spent by a parallel request meanwhile.
        Err(tessera_authn::AuthnError::NotFound) => return dead_link(&flow),
        Err(e) => {
            tracing::error!(error = %e, "resetting a password failed");
            return flow.unavailable();
        }
    };
    record_password_set(&flow, recovery::RESET_DONE, &set, &requester(&deps, &req)).await;
    tracing::info!(tenant = %tenant.tenant.slug, user = %set.user.id, "password reset by link");
    let (csrf_token, csrf_cookie) = cookies::csrf_token(&req, flow.snapshot);
    let data = ResetPasswordPage {
        action: format!("{}/password/reset", flow.snapshot.issuer),
        csrf_token,
        token: String::new(),
        username: Some(set.user.username.clone()),
        error: None,
        done: true,
        sign_in_url: format!("{}/account", flow.snapshot.issuer),
    };
    render(
        &flow,
        StatusCode::OK,
        "reset_password",
        "Your password was changed",
        &data,
        csrf_cookie,
    )
}

/// The "forgot" page: the form, or (`sent`) the answer.
fn forgot_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    request: Option<String>,
    sent: bool,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let ttl = tessera_authn::links::ttl(&flow.snapshot.tenant, LinkKind::PasswordReset);
    let data = ForgotPasswordPage {
        action: format!("{}/password/forgot", flow.snapshot.issuer),
        csrf_token,
        continue_action: request
            .as_ref()
            .map(|_| format!("{}/login/continue", flow.snapshot.issuer)),
        request: request.unwrap_or_default(),
        sent,
        expires_in: human_duration(ttl),
        error,
        sign_in_url: format!("{}/account", flow.snapshot.issuer),
    };
    let title = if sent {
        "Check your e-mail"
    } else {
        "Forgot your password?"
    };
    render(flow, status, "forgot_password", title, &data, csrf_cookie)
}

/// The new-password form of a live link.
fn reset_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    token: String,
    username: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let data = ResetPasswordPage {
        action: format!("{}/password/reset", flow.snapshot.issuer),
        csrf_token,
        token,
        username,
        error,
        done: false,
        sign_in_url: format!("{}/account", flow.snapshot.issuer),
    };
    render(
        flow,
        status,
        "reset_password",
        "Choose a new password",
        &data,
        csrf_cookie,
    )
}

/// Renders `name` with `data`, setting the CSRF cookie when it is new.
fn render<T: serde::Serialize>(
    flow: &Flow<'_>,
    status: StatusCode,
    name: &str,
    title: &str,
    data: &T,
    csrf_cookie: Option<actix_web::cookie::Cookie<'static>>,
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
        csrf_cookie.into_iter().collect(),
    )
}

/// The username a link is for, to show on its form (`None` if it cannot be read).
async fn username_of(
    flow: &Flow<'_>,
    link: &tessera_store::account_links::LinkRecord,
) -> Option<String> {
    match flow.authn.user(flow.snapshot.tenant.id, link.user_id).await {
        Ok(user) => user.map(|u| u.username),
        Err(e) => {
            tracing::warn!(error = %e, "reading the user of a reset link failed");
            None
        }
    }
}

/// The pending authorization request riding along, exactly as sent, if it still opens.
fn live_request(flow: &Flow<'_>, sealed: Option<&str>) -> Option<String> {
    let sealed = sealed.filter(|s| !s.is_empty())?;
    PendingAuthorization::open(flow.master, flow.snapshot.tenant.id, sealed, Clock.now())
        .map(|_| sealed.to_owned())
}

/// Records in the audit log that the user of `set` set a password (`action`: a reset or a
/// change) and what it ended; a failure is logged, never shown.
pub(crate) async fn record_password_set(
    flow: &Flow<'_>,
    action: &str,
    set: &PasswordSet,
    requester: &Requester,
) {
    if let Err(e) = recovery::record(
        flow.store.conn(),
        flow.snapshot.tenant.id,
        action,
        &format!("user:{}", set.user.id),
        set.user.id,
        requester,
        json!({
            "sessions_ended": set.sessions_ended,
            "families_revoked": set.families_revoked,
        }),
    )
    .await
    {
        tracing::error!(error = %e, action, "recording a password event failed");
    }
}

/// The requester of a form, for the audit log.
pub(crate) fn requester(deps: &FlowDeps, req: &HttpRequest) -> Requester {
    Requester {
        ip: deps.client_ip(req).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// 404 when the tenant does not allow password resets.
fn reset_off(flow: &Flow<'_>) -> HttpResponse {
    error(
        flow,
        StatusCode::NOT_FOUND,
        "Password reset is not available here. Contact your administrator.",
    )
}

/// The page of an unknown, used, superseded or expired link (410: the link is gone).
fn dead_link(flow: &Flow<'_>) -> HttpResponse {
    error(flow, StatusCode::GONE, DEAD_LINK)
}
