//! The device authorization grant (RFC 8628) over HTTP: `POST /t/{tenant}/device_authorization`
//! (§3.1, §3.2) authenticates the client exactly as the token endpoint does and answers with the
//! codes; `GET|POST /t/{tenant}/device` is the verification page (§3.3) where the user types the
//! code — wrong codes count against the client address in the sign-in throttle (§5.1) — then
//! signs in through the login page of the authorization endpoint (the request travels sealed, as
//! a [`PendingAuthorization`] answered in [`ResponseMode::Device`]), compares the code with the
//! device's (§5.4) and consents, partially if they wish, at `POST /t/{tenant}/device/confirm`.

use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_authn::{ActiveSession, LoginError};
use tessera_core::{Clock, OAuthErrorCode, ScopeSet};
use tessera_store::Store;
use tessera_store::device_codes::DeviceApproval;
use tessera_tenants::pages::{ConsentScope, DeviceConfirmPage, DeviceDonePage, DevicePage};
use tessera_tokens::{
    ClientAuthentication, MAX_BODY_BYTES, TokenError, UserCode, approve_device_code,
    authorize_device, deny_device_code, parse_token_form, pending_device_code,
};

use crate::body::{is_form, read_limited};
use crate::consent::granted_scopes;
use crate::flow::{Flow, FlowDeps, is_optional};
use crate::form::{field, read_form};
use crate::interaction::{INTERACTION_TTL, PendingAuthorization, ResponseMode, ReturnTo};
use crate::login::open_form;
use crate::page::{self, Page};
use crate::{ActiveTenant, OAuthError, cookies};

/// Longest user-code input echoed back into the form.
const MAX_ECHOED_CODE: usize = 32;

/// `POST /t/{tenant}/device_authorization` (RFC 8628 §3.1): client authentication as at the
/// token endpoint (a public client sends only `client_id`), then the device authorization
/// response (§3.2), never cached.
pub async fn device_authorization(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
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
    // Client ID Metadata Documents: a URL client_id may be fetched first, into a new snapshot.
    let snapshot =
        crate::client_metadata::for_backchannel(&req, &snapshot, form.client_id.as_deref()).await?;
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
    let response = authorize_device(&store, &snapshot, &client, &form, Clock.now())
        .await
        .map_err(fail)?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(response))
}

/// `GET /t/{tenant}/device`: the user-code form, prefilled from `user_code` (the
/// `verification_uri_complete` of RFC 8628 §3.3.1). The user still submits it, so a link alone
/// never authorizes anything.
pub async fn device_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let prefill = crate::self_service::query_value(&req, "user_code").map(|value| echo(&value));
    code_page(&flow, &req, StatusCode::OK, prefill, None)
}

/// `POST /t/{tenant}/device`: checks the typed user code. Every attempt is counted against the
/// client address first (RFC 8628 §5.1: the user code has only 34.5 bits); a code that names a
/// pending device authorization is taken back and continues to sign-in and confirmation.
pub async fn device_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let form = match flow
        .checked_form(&req, payload, "Open the page again and retry.")
        .await
    {
        Ok(form) => form,
        Err(response) => return response,
    };
    let typed = field(&form, "user_code").unwrap_or("");
    let now = Clock.now();
    let store = flow.store;
    let tenant_id = flow.snapshot.tenant.id;
    let key = match deps.client_ip(&req) {
        Some(ip) => format!("device:{}", tessera_authn::throttle::ip_key(ip)),
        None => "device:unknown".to_owned(),
    };
    let policy = flow.snapshot.tenant.settings.lockout.for_address();
    let reservation =
        match tessera_authn::throttle::reserve(store, tenant_id, key, &policy, now).await {
            Ok(r) => r,
            Err(e @ (LoginError::Throttled { .. } | LoginError::Locked { .. })) => {
                tracing::info!(tenant = %flow.snapshot.tenant.slug, "device code entry throttled");
                let message = match e {
                LoginError::Throttled { .. } => e.to_string(),
                _ => "Too many wrong codes: entering codes is locked for a while. Try again later."
                    .to_owned(),
            };
                return code_page(
                    &flow,
                    &req,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(echo(typed)),
                    Some(message),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "counting a device code attempt failed");
                return flow.unavailable();
            }
        };
    let code = UserCode::parse(typed);
    let record = match &code {
        Some(code) => match pending_device_code(flow.store, flow.snapshot, code, now).await {
            Ok(record) => record,
            Err(e) => {
                tracing::error!(error = %e, "reading a device code failed");
                return flow.unavailable();
            }
        },
        None => None,
    };
    let (Some(code), Some(record)) = (code, record) else {
        tracing::info!(tenant = %flow.snapshot.tenant.slug, "unknown device user code");
        return code_page(
            &flow,
            &req,
            StatusCode::BAD_REQUEST,
            Some(echo(typed)),
            Some("That code is not valid or has expired. Check the code on your device.".into()),
        );
    };
    if let Err(e) = tessera_authn::throttle::forgive(store, tenant_id, &reservation).await {
        tracing::warn!(error = %e, "taking back a device code attempt failed");
    }
    let pending = PendingAuthorization {
        tenant_id,
        expires_at: (now + INTERACTION_TTL).min(record.expires_at),
        client_id: record.client_id.to_string(),
        return_to: ReturnTo {
            redirect_uri: format!("{}/device", flow.snapshot.issuer),
            mode: ResponseMode::Device,
            state: Some(code.display()),
        },
        response_type: tessera_core::ResponseType::CODE,
        redirect_uri_sent: false,
        scope: record.scopes.to_wire(),
        nonce: None,
        code_challenge: None,
        prompt: vec![],
        resources: record.resources.clone(),
        dpop_jkt: None,
        max_age: None,
        login_hint: None,
        hint_sub: None,
        acr_values: None,
        claims: None,
        ui_locales: None,
        sid: None,
    };
    let session = match flow.session(&req).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    // No session: the login page, whose form continues in `Flow::proceed` and comes back to
    // `confirm_page`.
    flow.proceed(&req, pending, session, false, vec![]).await
}

/// The confirmation page for a signed-in user (from [`Flow::proceed`]): the code to compare
/// with the device's (RFC 8628 §5.4), the client and its requested scopes, each but `openid`
/// optional.
pub fn confirm_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    mut pending: PendingAuthorization,
    active: &ActiveSession,
    mut cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    pending.sid = Some(active.session.sid.clone());
    let Some(sealed) = pending.seal(flow.master) else {
        return flow.unavailable();
    };
    let (csrf, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    cookies.extend(csrf_cookie);
    let scopes = ScopeSet::parse(&pending.scope)
        .unwrap_or_default()
        .iter()
        .map(|scope| ConsentScope {
            name: scope.to_string(),
            description: flow
                .snapshot
                .scopes
                .iter()
                .find(|d| &d.name == scope)
                .map(|d| d.description.clone())
                .unwrap_or_else(|| scope.to_string()),
            required: !is_optional(scope.as_ref()),
        })
        .collect();
    let data = DeviceConfirmPage {
        action: format!("{}/device/confirm", flow.snapshot.issuer),
        csrf_token: csrf,
        request: sealed,
        user_code: pending.return_to.state.clone().unwrap_or_default(),
        client_name: client_name(flow, &pending),
        username: active.user.username.clone(),
        scopes,
    };
    render(
        flow,
        StatusCode::OK,
        "device_confirm",
        "Connect a device",
        &data,
        cookies,
    )
}

/// `POST /t/{tenant}/device/confirm`: the user's decision. Allow records the ticked scopes (never
/// more than the device asked for) as the device code's grant, with the session's `sid`,
/// `auth_time`, `acr` and `amr`, and remembers the consent so the account page lists the device;
/// Deny makes the device's next poll `access_denied`.
pub async fn device_confirm(
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
    let pending = match open_form(&flow, &req, &form) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let code = pending
        .return_to
        .state
        .as_deref()
        .and_then(UserCode::parse)
        .filter(|_| pending.return_to.mode == ResponseMode::Device);
    let Some(code) = code else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "This form does not belong to a device sign-in.",
        );
    };
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        Ok(None) => return flow.proceed(&req, pending, None, false, vec![]).await,
        Err(response) => return response,
    };
    // The decision belongs to the session the page was shown to.
    if pending.sid.as_deref() != Some(active.session.sid.as_str()) {
        return flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "You signed in again in another window. Enter the code from your device again.",
        );
    }
    let name = client_name(&flow, &pending);
    let now = Clock.now();
    let tenant_id = flow.snapshot.tenant.id;
    let (decided, approved) = match field(&form, "decision") {
        Some("deny") => (
            deny_device_code(flow.store, tenant_id, &code, now).await,
            false,
        ),
        Some("allow") => {
            let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
            let granted = granted_scopes(&requested, &form);
            let approval = DeviceApproval {
                user_id: active.user.id,
                scopes: granted.clone(),
                sid: Some(active.session.sid.clone()),
                auth_time: active.session.auth_time,
                acr: active.session.acr.clone(),
                amr: active.session.amr.clone(),
            };
            let decided = approve_device_code(flow.store, tenant_id, &code, approval, now).await;
            if matches!(decided, Ok(true))
                && let Some(client) = flow.snapshot.client(&pending.client_id)
                && let Err(e) = tessera_consent::record(
                    flow.store.conn(),
                    tenant_id,
                    active.user.id,
                    &client.client_id,
                    &granted,
                    now,
                )
                .await
            {
                tracing::error!(error = %e, "recording consent for a device failed");
            }
            (decided, true)
        }
        _ => {
            return flow.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "The form is malformed.",
            );
        }
    };
    let (status, data) = match decided {
        Ok(true) => {
            tracing::info!(
                tenant = %flow.snapshot.tenant.slug,
                client_id = %pending.client_id,
                approved,
                "device authorization decided"
            );
            let message = if approved {
                format!("{name} can now access your account.")
            } else {
                format!("{name} was not given access to your account.")
            };
            (StatusCode::OK, DeviceDonePage { approved, message })
        }
        Ok(false) => (
            StatusCode::BAD_REQUEST,
            DeviceDonePage {
                approved: false,
                message: "This code has expired or was already used. Start again on your device."
                    .into(),
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "recording a device decision failed");
            return flow.unavailable();
        }
    };
    let title = if data.approved {
        "Device connected"
    } else {
        "Device not connected"
    };
    render(&flow, status, "device_done", title, &data, vec![])
}

/// The user-code form with an optional prefill and message.
fn code_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    status: StatusCode,
    user_code: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let (csrf, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let data = DevicePage {
        action: format!("{}/device", flow.snapshot.issuer),
        csrf_token: csrf,
        user_code,
        error,
    };
    render(
        flow,
        status,
        "device",
        "Connect a device",
        &data,
        csrf_cookie.into_iter().collect(),
    )
}

/// Renders one of the device pages from its page struct.
fn render<T: serde::Serialize>(
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

fn client_name(flow: &Flow<'_>, pending: &PendingAuthorization) -> String {
    flow.snapshot
        .client(&pending.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// What the user typed, bounded, for echoing back into the form (escaped by the template).
fn echo(typed: &str) -> String {
    typed.chars().take(MAX_ECHOED_CODE).collect()
}
