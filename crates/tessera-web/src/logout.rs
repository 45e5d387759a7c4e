//! `GET|POST /t/{tenant}/logout` (OpenID Connect RP-Initiated Logout 1.0 §2–§3) and the
//! confirmation form behind it. A request that carries a valid `id_token_hint` for the current
//! session ends it at once; anything else asks the user first (§2: the OP should confirm when the
//! request cannot be trusted). `post_logout_redirect_uri` must be registered for the client the
//! hint or `client_id` names, matched exactly, or no redirect happens (§3).

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_core::{Clock, OAuthErrorCode, TenantId};

use crate::flow::{Flow, FlowDeps};
use crate::form::{field, read_form};
use crate::page::{self, Page};
use crate::{ActiveTenant, cookies};

/// How long the confirmation form stays valid, seconds.
const CONFIRM_TTL: i64 = 10 * 60;

/// A logout request awaiting the user's confirmation, sealed into the form.
#[derive(Serialize, Deserialize)]
struct PendingLogout {
    tenant_id: TenantId,
    expires_at: i64,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

fn aad(tenant: TenantId) -> Vec<u8> {
    format!("tessera-logout|{tenant}").into_bytes()
}

/// `GET /t/{tenant}/logout`.
pub async fn logout_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).ok();
    handle(&flow, &req, pairs).await
}

/// `POST /t/{tenant}/logout` (form-encoded, RP-Initiated Logout §2).
pub async fn logout_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let pairs = read_form(&req, payload).await;
    handle(&flow, &req, pairs).await
}

async fn handle(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pairs: Option<Vec<(String, String)>>,
) -> HttpResponse {
    let bad = |message: &str| {
        flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            message,
        )
    };
    let Some(pairs) = pairs else {
        return bad("The sign-out request is malformed.");
    };
    let get = |name: &str| field(&pairs, name).filter(|v| !v.is_empty());
    let hint = match get("id_token_hint") {
        None => None,
        Some(raw) => match flow.snapshot.keys.verify(raw) {
            Ok(claims)
                if claims.get("iss").and_then(Value::as_str) == Some(&flow.snapshot.issuer) =>
            {
                Some(claims)
            }
            _ => {
                return bad(
                    "The sign-out request carries an ID token this provider did not issue.",
                );
            }
        },
    };
    let hint_aud: Vec<String> = match hint.as_ref().and_then(|c| c.get("aud")) {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    let client_id = match (get("client_id"), hint_aud.first()) {
        (Some(id), _) if !hint_aud.is_empty() && !hint_aud.iter().any(|a| a == id) => {
            return bad("client_id does not match the ID token's audience.");
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(aud)) => Some(aud.clone()),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => match flow.snapshot.client(id) {
            Some(c) => Some(c),
            None => return bad("The application is not registered with this provider."),
        },
        None => None,
    };
    let redirect_uri = match (get("post_logout_redirect_uri"), client) {
        (None, _) => None,
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            Some(uri.to_owned())
        }
        (Some(_), None) => {
            return bad("post_logout_redirect_uri needs an id_token_hint or client_id.");
        }
        (Some(_), Some(_)) => {
            return bad("The post-logout redirect URI is not registered for this application.");
        }
    };
    let state = get("state").map(str::to_owned);

    let session = match flow.session(req).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let Some(active) = session else {
        // Nothing to end.
        return finish(flow, redirect_uri, state, vec![], vec![]);
    };
    let trusted = hint.as_ref().is_some_and(|claims| {
        let sid_matches =
            claims.get("sid").and_then(Value::as_str) == Some(active.session.sid.as_str());
        // The hint's `sub` is the one its client sees: pairwise for a pairwise client (OIDC
        // Core §8.1).
        let expected_sub = client.map_or_else(
            || active.user.id.to_string(),
            |c| flow.snapshot.subject_for(c, active.user.id),
        );
        let sub_matches = claims.get("sub").and_then(Value::as_str) == Some(expected_sub.as_str());
        sid_matches || sub_matches
    });
    if trusted {
        return end_and_finish(flow, req, redirect_uri, state).await;
    }
    // Untrusted: ask the user.
    let pending = PendingLogout {
        tenant_id: flow.snapshot.tenant.id,
        expires_at: Clock.now() + CONFIRM_TTL,
        client_id,
        redirect_uri,
        state,
    };
    let sealed = serde_json::to_vec(&pending)
        .ok()
        .and_then(|json| flow.master.seal(&json, &aad(pending.tenant_id)).ok())
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes));
    let Some(sealed) = sealed else {
        return flow.unavailable();
    };
    let (csrf, csrf_cookie) = cookies::csrf_token(req, flow.snapshot);
    let client_name = client.map(|c| c.name.clone());
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::OK,
        Page {
            name: "logout_confirm",
            title: "Sign out?",
            data: json!({
                "action": format!("{}/logout/confirm", flow.snapshot.issuer),
                "csrf_token": csrf,
                "request": sealed,
                "client_name": client_name,
            }),
        },
        csrf_cookie.into_iter().collect(),
    )
}

/// `POST /t/{tenant}/logout/confirm`: the user's answer.
pub async fn confirm(
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
    if !cookies::csrf_ok(&req, &tenant, field(&form, "csrf_token")) {
        return flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "This form has expired or was not sent by this site.",
        );
    }
    let pending = field(&form, "request")
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|bytes| flow.master.open(&bytes, &aad(tenant.tenant.id)).ok())
        .and_then(|json| serde_json::from_slice::<PendingLogout>(&json).ok())
        .filter(|p| p.tenant_id == tenant.tenant.id && p.expires_at > Clock.now());
    let Some(pending) = pending else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "This sign-out request has expired.",
        );
    };
    match field(&form, "decision") {
        Some("logout") => end_and_finish(&flow, &req, pending.redirect_uri, pending.state).await,
        _ => page::render(
            flow.templates,
            flow.snapshot,
            StatusCode::OK,
            Page {
                name: "logged_out",
                title: "Still signed in",
                data: json!({ "message": "You are still signed in.", "return_uri": Value::Null }),
            },
            vec![],
        ),
    }
}

/// Ends the browser's session (and revokes the tokens bound to it), then redirects or shows the
/// signed-out page.
async fn end_and_finish(
    flow: &Flow<'_>,
    req: &HttpRequest,
    redirect_uri: Option<String>,
    state: Option<String>,
) -> HttpResponse {
    let mut frames = Vec::new();
    if let Some(value) = cookies::session_value(req, flow.snapshot) {
        match flow
            .authn
            .end_session(flow.snapshot.tenant.id, &value)
            .await
        {
            Ok(Some(ended)) => {
                if let Err(e) = tessera_tokens::revoke_families_of_session(
                    flow.store,
                    flow.snapshot.tenant.id,
                    &ended.sid,
                    Clock.now(),
                )
                .await
                {
                    tracing::warn!(error = %e, "revoking the session's tokens failed");
                }
                // Back-Channel Logout 1.0 §2.5 (queued) and Front-Channel Logout 1.0 §3 (the
                // signed-out page's iframes) for the clients of this session.
                match tessera_tokens::logout::session_ended(
                    flow.store,
                    flow.snapshot.tenant.id,
                    ended.user_id,
                    &ended.sid,
                    Clock.now(),
                )
                .await
                {
                    Ok(participants) => {
                        frames = tessera_tokens::logout::frontchannel_frames(
                            &flow.snapshot.issuer,
                            &ended.sid,
                            &participants,
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "queueing logout notices failed"),
                }
                tracing::info!(tenant = %flow.snapshot.tenant.slug, user = %ended.user_id, "signed out");
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "ending a session failed");
                return flow.unavailable();
            }
        }
    }
    finish(
        flow,
        redirect_uri,
        state,
        vec![cookies::clear_session(flow.snapshot)],
        frames,
    )
}

/// Redirects to the post-logout redirect URI, or shows the signed-out page. With front-channel
/// logout frames the page is always shown (the iframes need it), and it continues to the
/// redirect URI once they loaded (Front-Channel Logout 1.0 §4).
fn finish(
    flow: &Flow<'_>,
    redirect_uri: Option<String>,
    state: Option<String>,
    cookies: Vec<Cookie<'static>>,
    frames: Vec<tessera_tokens::logout::FrontChannelFrame>,
) -> HttpResponse {
    let location = redirect_uri.map(|uri| match state {
        Some(state) => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let q = serde_urlencoded::to_string([("state", state)]).unwrap_or_default();
            format!("{uri}{sep}{q}")
        }
        None => uri,
    });
    match location {
        Some(location) if frames.is_empty() => {
            let mut response = HttpResponse::SeeOther();
            for cookie in cookies {
                response.cookie(cookie);
            }
            response
                .insert_header((LOCATION, location))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish()
        }
        None if frames.is_empty() => page::render(
            flow.templates,
            flow.snapshot,
            StatusCode::OK,
            Page {
                name: "logged_out",
                title: "Signed out",
                data: json!({ "message": "You have been signed out.", "return_uri": Value::Null }),
            },
            cookies,
        ),
        // Front-Channel Logout 1.0 §3: one hidden iframe per client; the page's CSP frames
        // exactly their origins.
        location => {
            let mut origins: Vec<String> = frames.iter().map(|f| f.origin.clone()).collect();
            origins.sort();
            origins.dedup();
            let urls: Vec<Value> = frames.iter().map(|f| json!({ "url": f.url })).collect();
            page::render_with_frames(
                flow.templates,
                flow.snapshot,
                StatusCode::OK,
                Page {
                    name: "frontchannel_logout",
                    title: "Signed out",
                    data: json!({
                        "message": "You have been signed out.",
                        "return_uri": location,
                        "frames": urls,
                    }),
                },
                cookies,
                &origins,
            )
        }
    }
}
