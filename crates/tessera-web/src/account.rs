//! `/t/{tenant}/account`: the signed-in user's account page — every app holding access to the
//! account with the scopes it was granted, when, and when it last received tokens, each with a
//! button revoking it — and, without a session, the sign-in form that leads there. Forms carry the
//! double-submit CSRF token; sign-in goes through the [`Authenticator`](tessera_authn) and its
//! throttling like the authorization flow's; revoking runs [`tessera_consent::revoke_app`].

use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde_json::json;
use tessera_authn::LoginError;
use tessera_consent::{AppAccess, Origin, Revoker};
use tessera_core::{ClientId, Clock};
use tessera_tenants::pages::{AccountApp, AccountPage};

use crate::flow::{Flow, FlowDeps};
use crate::form::field;
use crate::page::{self, Page};
use crate::self_service::{checked_form, error, query_value, see_other};
use crate::{ActiveTenant, cookies};

/// Title of the account page.
const TITLE: &str = "Your account";

/// `GET /t/{tenant}/account`: the account page, or the sign-in form without a session.
pub async fn account(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        Ok(None) => return login_page(&flow, &req, None, StatusCode::OK, None),
        Err(response) => return response,
    };
    let apps =
        match tessera_consent::apps_of_user(flow.store.conn(), tenant.tenant.id, active.user.id)
            .await
        {
            Ok(apps) => apps,
            Err(e) => {
                tracing::error!(error = %e, "listing the user's apps failed");
                return flow.unavailable();
            }
        };
    // The confirmation after a revocation names the app only while it indeed has no access.
    let notice = query_value(&req, "revoked")
        .and_then(|id| flow.snapshot.client(&id).cloned())
        .filter(|client| !apps.iter().any(|a| a.client_id == client.client_id))
        .map(|client| format!("{} no longer has access to your account.", client.name))
        .or_else(|| match query_value(&req, "passkey").as_deref() {
            Some("added") => Some("Your passkey was added.".to_owned()),
            Some("removed") => Some("The passkey was removed.".to_owned()),
            _ => None,
        })
        .or_else(|| crate::password::notice(query_value(&req, "password").as_deref()));
    let passkeys = match flow.authn.passkeys(tenant.tenant.id, active.user.id).await {
        Ok(passkeys) => passkeys,
        Err(e) => {
            tracing::error!(error = %e, "listing the user's passkeys failed");
            return flow.unavailable();
        }
    };
    let mfa_on = match flow
        .authn
        .mfa_status(tenant.tenant.id, active.user.id)
        .await
    {
        Ok(status) => status.totp,
        Err(e) => {
            tracing::error!(error = %e, "reading second factors failed");
            return flow.unavailable();
        }
    };
    let mfa_offered = tenant.tenant.settings.mfa.policy != tessera_core::settings::MfaPolicy::Off;
    let (csrf_token, csrf_cookie) = cookies::csrf_token(&req, flow.snapshot);
    let data = AccountPage {
        username: active.user.username.clone(),
        apps: apps.iter().map(|app| view(&flow, app)).collect(),
        csrf_token,
        notice,
        logout_url: format!("{}/logout", flow.snapshot.issuer),
        mfa_url: mfa_offered.then(|| format!("{}/account/mfa", flow.snapshot.issuer)),
        mfa_on,
        passkeys: passkeys
            .iter()
            .map(|p| crate::passkeys::account_view(flow.snapshot, p))
            .collect(),
        passkey_action: crate::passkeys::add_action(flow.snapshot),
        password_url: active
            .user
            .password_hash
            .is_some()
            .then(|| format!("{}/account/password", flow.snapshot.issuer)),
    };
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::OK,
        Page {
            name: "account",
            title: TITLE,
            data: serde_json::to_value(&data).unwrap_or_default(),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// `POST /t/{tenant}/account/login`: signs in from the account page's form and returns to it.
pub async fn login(
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
    let username = field(&form, "username").unwrap_or("").trim().to_owned();
    let password = SecretString::from(field(&form, "password").unwrap_or("").to_owned());
    if username.is_empty() {
        return login_page(
            &flow,
            &req,
            Some("Enter your username and password.".into()),
            StatusCode::BAD_REQUEST,
            None,
        );
    }
    let now = Clock.now();
    let ip = deps.client_ip(&req);
    let user = match flow
        .authn
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
                LoginError::Unavailable | LoginError::Unexpected(_) => return flow.unavailable(),
            };
            tracing::info!(tenant = %tenant.tenant.slug, outcome = %status, "account sign-in refused");
            return login_page(&flow, &req, Some(e.to_string()), status, Some(username));
        }
    };
    // `accounts.require_verified_email`: an unconfirmed address is refused (and sent a link).
    if let Some(message) = crate::verification::refusal(&flow, &req, &user).await {
        return login_page(
            &flow,
            &req,
            Some(message),
            StatusCode::FORBIDDEN,
            Some(username),
        );
    }
    // A user with an authenticator (or under a `required` policy) passes a second step first.
    if let Some(response) = crate::mfa::after_password(&flow, &req, None, &user).await {
        return response;
    }
    // One session per browser: a previous one at this tenant ends. RFC 8176 §2 `pwd`; acr
    // "1" as for the authorization flow's sign-in.
    let amr = vec!["pwd".to_owned()];
    let (active, cookie) = match flow
        .start_session(&req, user, amr, tessera_authn::mfa::ACR_PASSWORD, now)
        .await
    {
        Ok(started) => started,
        Err(response) => return response,
    };
    tracing::info!(tenant = %tenant.tenant.slug, user = %active.user.id, "signed in to the account page");
    flow.signed_in(&req, None, active, cookie).await
}

/// `POST /t/{tenant}/account/grants/{client_id}/revoke`: revokes the signed-in user's grant to
/// one app and that app's tokens, then returns to the account page (303, so a reload does not
/// post again).
pub async fn revoke(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    if let Err(response) = checked_form(&flow, &req, payload).await {
        return response;
    }
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        // Signed out meanwhile: the account page asks to sign in first.
        Ok(None) => return see_other(account_url(&flow, None)),
        Err(response) => return response,
    };
    let Some(client) = req.match_info().get("client_id").and_then(ClientId::parse) else {
        return error(&flow, StatusCode::NOT_FOUND, "There is no such app.");
    };
    let origin = Origin::new(
        deps.client_ip(&req).map(|ip| ip.to_string()),
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()),
    );
    let user = active.user.id;
    match tessera_consent::revoke_app(
        flow.store,
        tenant.tenant.id,
        user,
        &client,
        &Revoker::User(user),
        &origin,
        Clock.now(),
    )
    .await
    {
        Ok(Some(revoked)) => {
            tracing::info!(
                tenant = %tenant.tenant.slug,
                user = %user,
                client_id = %client,
                families = revoked.families,
                "app access revoked by the user"
            );
        }
        // Nothing left to revoke (a second click): the page shows the same outcome.
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "revoking an app's access failed");
            return flow.unavailable();
        }
    }
    see_other(account_url(&flow, Some(&client)))
}

/// One app as the page shows it.
fn view(flow: &Flow<'_>, app: &AppAccess) -> AccountApp {
    let name = flow
        .snapshot
        .client(app.client_id.as_ref())
        .map_or_else(|| app.client_id.to_string(), |c| c.name.clone());
    let scope_descriptions = app
        .scopes
        .iter()
        .map(|scope| {
            flow.snapshot
                .scopes
                .iter()
                .find(|d| &d.name == scope)
                .map_or_else(|| scope.to_string(), |d| d.description.clone())
        })
        .collect::<Vec<_>>()
        .join("; ");
    AccountApp {
        client_id: app.client_id.to_string(),
        name,
        scopes: app.scopes.to_wire(),
        scope_descriptions,
        granted_at: utc_minute(app.granted_at),
        updated_at: (app.updated_at != app.granted_at).then(|| utc_minute(app.updated_at)),
        last_used_at: app.last_used_at.map(utc_minute),
        revoke_action: format!(
            "{}/account/grants/{}/revoke",
            flow.snapshot.issuer,
            path_segment(app.client_id.as_ref())
        ),
    }
}

/// The account page's sign-in form: the tenant's login page, posting to `/account/login`.
pub(crate) fn login_page(
    flow: &Flow<'_>,
    req: &HttpRequest,
    message: Option<String>,
    status: StatusCode,
    username: Option<String>,
) -> HttpResponse {
    let (csrf_token, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "login",
            title: "Sign in",
            data: json!({
                "action": format!("{}/account/login", flow.snapshot.issuer),
                "csrf_token": csrf_token,
                // No authorization request is pending: the form returns to the account page.
                "request": "",
                "username": username,
                "error": message,
                "client_name": TITLE.to_lowercase(),
                "passkey_action": crate::passkeys::sign_in_action(flow.snapshot),
                "signup_url": crate::signup::signup_url(flow.snapshot, None),
                "forgot_url": crate::recovery::forgot_url(flow.snapshot, None),
            }),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// The account page's URL, with the app just revoked, if any.
fn account_url(flow: &Flow<'_>, revoked: Option<&ClientId>) -> String {
    let base = format!("{}/account", flow.snapshot.issuer);
    match revoked {
        Some(client) => {
            let query = serde_urlencoded::to_string([("revoked", client.as_ref())]);
            format!("{base}?{}", query.unwrap_or_default())
        }
        None => base,
    }
}

/// Percent-encodes a client id for a path segment (RFC 3986 §3.3: unreserved characters stay).
fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unix seconds as a UTC date and time to the minute, e.g. "2026-11-28 01:23 UTC".
pub(crate) fn utc_minute(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        // 2026-11-28T01:23:45Z
        assert_eq!(utc_minute(1_795_829_025), "2026-11-28 01:23 UTC");
        // A leap day, and the last minute of a year.
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_minute(1_767_225_599), "2025-12-31 23:59 UTC");
        assert_eq!(utc_minute(-60), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn client_ids_are_escaped_in_paths() {
        assert_eq!(path_segment("abc-_.~XYZ09"), "abc-_.~XYZ09");
        assert_eq!(path_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
    }
}
