//! HTML responses of the browser-facing endpoints: tenant-branded pages with a per-response CSP
//! nonce, the error page, and the authorization response to the client in each response mode.

use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA,
};
use serde_json::{Value, json};
use tessera_core::OAuthErrorCode;
use tessera_tenants::TenantSnapshot;

use crate::Templates;
use crate::interaction::{ResponseMode, ReturnTo};

/// A page to render: template name, title and its page-specific data.
pub struct Page<'a> {
    /// Template name (`login`, `consent`, `error`, …).
    pub name: &'a str,
    /// Title for `<title>` and headings.
    pub title: &'a str,
    /// Page-specific fields, merged beside `page` and `tenant`.
    pub data: Value,
}

/// Renders a tenant page with status `status`, setting `cookies`.
pub fn render(
    templates: &Templates,
    snapshot: &TenantSnapshot,
    status: StatusCode,
    page: Page<'_>,
    cookies: Vec<Cookie<'_>>,
) -> HttpResponse {
    render_with_frames(templates, snapshot, status, page, cookies, &[])
}

/// [`render`] for a page that embeds iframes from `frame_origins` (the signed-out page's
/// front-channel logout frames): the policy's `frame-src` names exactly those origins.
pub fn render_with_frames(
    templates: &Templates,
    snapshot: &TenantSnapshot,
    status: StatusCode,
    page: Page<'_>,
    cookies: Vec<Cookie<'_>>,
    frame_origins: &[String],
) -> HttpResponse {
    let nonce = tessera_core::secret::random_token(16);
    let html = templates.render_page(snapshot, page.name, page.title, &nonce, page.data);
    let mut response = HttpResponse::build(status);
    for cookie in cookies {
        response.cookie(cookie);
    }
    response
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .insert_header((CONTENT_SECURITY_POLICY, csp(&nonce, frame_origins)))
        .body(html)
}

/// The pages' policy: nothing external; inline style and script only with this response's nonce;
/// images from data URIs and https (tenant logos); forms post only to us or to an https/loopback
/// client (form_post); never framed.
fn csp(nonce: &str, frame_origins: &[String]) -> String {
    let mut policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src data: https:; form-action 'self' https: http://127.0.0.1:* http://localhost:* http://[::1]:*; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    // Origins are serialized by `url` (scheme://host[:port]): no spaces or semicolons.
    if !frame_origins.is_empty() {
        policy.push_str("; frame-src ");
        policy.push_str(&frame_origins.join(" "));
    }
    policy
}

/// The HTML error page, for requests that cannot be answered at a verified client.
pub fn error(
    templates: &Templates,
    snapshot: &TenantSnapshot,
    status: StatusCode,
    code: OAuthErrorCode,
    message: &str,
) -> HttpResponse {
    let title = "This sign-in request cannot be completed";
    render(
        templates,
        snapshot,
        status,
        Page {
            name: "error",
            title,
            data: json!({ "title": title, "message": message, "code": code.as_str() }),
        },
        vec![],
    )
}

/// Sends the authorization response (or error) to the client at its verified redirect URI, in
/// its response mode, with `state` and, always, `iss` (RFC 9207 §2).
pub fn respond(
    templates: &Templates,
    snapshot: &TenantSnapshot,
    to: &ReturnTo,
    mut params: Vec<(&'static str, String)>,
    cookies: Vec<Cookie<'_>>,
) -> HttpResponse {
    if let Some(state) = &to.state {
        params.push(("state", state.clone()));
    }
    params.push(("iss", snapshot.issuer.clone()));
    match to.mode {
        ResponseMode::Query | ResponseMode::Fragment => {
            let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
            let location = if to.mode == ResponseMode::Fragment {
                format!("{}#{encoded}", to.redirect_uri)
            } else if to.redirect_uri.contains('?') {
                format!("{}&{encoded}", to.redirect_uri)
            } else {
                format!("{}?{encoded}", to.redirect_uri)
            };
            // 303, never 307, so a POSTed form is not replayed to the client (RFC 9700 §4.12).
            let mut response = HttpResponse::SeeOther();
            for cookie in cookies {
                response.cookie(cookie);
            }
            response
                .insert_header((LOCATION, location))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish()
        }
        // A device authorization is answered on the device code by `crate::device`; nothing
        // (least of all a code) is sent anywhere from here.
        ResponseMode::Device => error(
            templates,
            snapshot,
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "This device sign-in cannot continue here. Enter the code from your device again.",
        ),
        // OAuth 2.0 Form Post Response Mode §2: an auto-submitting form, with a button for
        // browsers without JavaScript.
        ResponseMode::FormPost => {
            let fields: Vec<Value> = params
                .iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect();
            render(
                templates,
                snapshot,
                StatusCode::OK,
                Page {
                    name: "form_post",
                    title: "Returning to the application",
                    data: json!({ "action": to.redirect_uri, "fields": fields }),
                },
                cookies,
            )
        }
    }
}

/// An error response at the verified client (RFC 6749 §4.1.2.1).
pub fn respond_error(
    templates: &Templates,
    snapshot: &TenantSnapshot,
    to: &ReturnTo,
    code: OAuthErrorCode,
    description: &str,
) -> HttpResponse {
    respond(
        templates,
        snapshot,
        to,
        vec![
            ("error", code.as_str().to_owned()),
            ("error_description", description.to_owned()),
        ],
        vec![],
    )
}
