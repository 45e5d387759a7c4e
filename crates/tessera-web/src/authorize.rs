//! `GET|POST /t/{tenant}/authorize` (RFC 6749 §3.1). The client and its exact redirect URI are
//! checked before anything is redirected: an unknown client or unregistered URI gets an HTML
//! error page and never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11). Interactive sign-in is
//! not served yet, so a request that passes those checks is answered, at the client, with
//! `unsupported_response_type` — matching the empty `response_types_supported` in discovery.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_core::OAuthErrorCode;

use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, Templates};

#[derive(Serialize)]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    code: &'a str,
    tenant_name: &'a str,
}

fn error_page(
    templates: &Templates,
    tenant: &ActiveTenant,
    status: StatusCode,
    code: OAuthErrorCode,
    message: &str,
) -> HttpResponse {
    let html = templates.render(
        "pages/error",
        &ErrorPage {
            title: "This sign-in request cannot be completed",
            message,
            code: code.as_str(),
            tenant_name: &tenant.tenant.name,
        },
    );
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(html)
}

/// The authorization request parameters this version reads.
#[derive(Default)]
struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    /// The first parameter sent more than once (RFC 6749 §3.1 forbids it); the first value of
    /// each is kept.
    repeated: Option<&'static str>,
}

fn parse(pairs: Vec<(String, String)>) -> AuthorizeParams {
    let mut p = AuthorizeParams::default();
    for (name, value) in pairs {
        // OAuth 2.1 §3.1: parameters without a value are treated as omitted; unknown ones ignored.
        if value.is_empty() {
            continue;
        }
        let (name, slot) = match name.as_str() {
            "client_id" => ("client_id", &mut p.client_id),
            "redirect_uri" => ("redirect_uri", &mut p.redirect_uri),
            "response_type" => ("response_type", &mut p.response_type),
            "state" => ("state", &mut p.state),
            _ => continue,
        };
        if slot.is_some() {
            p.repeated.get_or_insert(name);
        } else {
            *slot = Some(value);
        }
    }
    p
}

fn handle(
    templates: &Templates,
    tenant: &ActiveTenant,
    pairs: Result<Vec<(String, String)>, ()>,
) -> HttpResponse {
    let bad = |message: &str| {
        error_page(
            templates,
            tenant,
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            message,
        )
    };
    let Ok(pairs) = pairs else {
        return bad("The request is malformed.");
    };
    let params = parse(pairs);
    // A repeated client_id or redirect_uri leaves the redirect target unverified: no redirect.
    if matches!(params.repeated, Some("client_id" | "redirect_uri")) {
        return bad("A parameter is repeated.");
    }
    let Some(client) = params.client_id.as_deref().and_then(|id| tenant.client(id)) else {
        return bad("The application that sent you here is not registered with this provider.");
    };
    let redirect_uri = match params.redirect_uri.as_deref() {
        // Exact string comparison (RFC 9700 §2.1, OIDC Core §3.1.2.1).
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        Some(_) => return bad("The redirect URI is not registered for this application."),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return bad("The request does not say where to return to (redirect_uri)."),
    };
    // Any other malformed request is reported to the verified client (RFC 6749 §4.1.2.1).
    let (code, description) = match (params.repeated, params.response_type) {
        (Some(_), _) => (OAuthErrorCode::InvalidRequest, "a parameter is repeated"),
        (None, None) => (OAuthErrorCode::InvalidRequest, "response_type is required"),
        (None, Some(_)) => (
            OAuthErrorCode::UnsupportedResponseType,
            "this provider does not serve interactive sign-in yet",
        ),
    };
    let mut query: Vec<(&str, &str)> =
        vec![("error", code.as_str()), ("error_description", description)];
    if let Some(state) = params.state.as_deref() {
        query.push(("state", state));
    }
    // RFC 9207 §2: identify the issuer in every authorization response.
    query.push(("iss", &tenant.issuer));
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    // 303, never 307, so a POSTed body is not replayed to the client (RFC 9700 §4.12).
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("{redirect_uri}{sep}{encoded}")))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /t/{tenant}/authorize`.
pub async fn authorize_get(
    tenant: ActiveTenant,
    req: HttpRequest,
    templates: web::Data<Templates>,
) -> HttpResponse {
    let pairs =
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).map_err(|_| ());
    handle(&templates, &tenant, pairs)
}

/// `POST /t/{tenant}/authorize` (OIDC Core §3.1.2.1 allows form-encoded POST).
pub async fn authorize_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    templates: web::Data<Templates>,
) -> HttpResponse {
    let pairs = if is_form(&req) {
        match read_limited(payload, 16 * 1024).await {
            Ok(body) => {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).map_err(|_| ())
            }
            Err(_) => Err(()),
        }
    } else {
        Err(())
    };
    handle(&templates, &tenant, pairs)
}
