//! Plumbing shared by the self-service pages (account, password change, password reset,
//! invitation, e-mail verification, passkeys, two-step verification): their error page, the
//! CSRF-checked form, the 303 after a post, query values and the page for a dead link.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tessera_core::OAuthErrorCode;

use crate::cookies;
use crate::flow::Flow;
use crate::form::{field, read_form};
use crate::page::{self, Page};

/// What a form without its CSRF token shows.
const STALE_FORM: &str =
    "This form has expired or was not sent by this site. Reload the page and try again.";

/// An error page of the self-service pages ("This request cannot be completed").
pub fn error(flow: &Flow<'_>, status: StatusCode, message: &str) -> HttpResponse {
    let title = "This request cannot be completed";
    let code = match status {
        StatusCode::FORBIDDEN => OAuthErrorCode::AccessDenied,
        StatusCode::NOT_FOUND => OAuthErrorCode::NotFound,
        StatusCode::TOO_MANY_REQUESTS => OAuthErrorCode::TemporarilyUnavailable,
        _ => OAuthErrorCode::InvalidRequest,
    };
    page::render(
        flow.templates,
        flow.snapshot,
        status,
        Page {
            name: "error",
            title,
            data: json!({ "title": title, "message": message, "code": code.as_str() }),
        },
        vec![],
    )
}

/// Reads a form and checks its CSRF token, or answers with [`error`] (400 or 403).
pub async fn checked_form(
    flow: &Flow<'_>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<(String, String)>, HttpResponse> {
    let Some(form) = read_form(req, payload).await else {
        return Err(error(
            flow,
            StatusCode::BAD_REQUEST,
            "The form is malformed.",
        ));
    };
    if !cookies::csrf_ok(req, flow.snapshot, field(&form, "csrf_token")) {
        return Err(error(flow, StatusCode::FORBIDDEN, STALE_FORM));
    }
    Ok(form)
}

/// A 303 to `location`: a POSTed form is never replayed there.
pub fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// The first value of `name` in the query string.
pub fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// The one page for unknown, used, superseded and expired links (410 Gone): `message` does
/// not say which.
pub fn dead_link(flow: &Flow<'_>, message: &str) -> HttpResponse {
    let title = "This link is not valid any more";
    page::render(
        flow.templates,
        flow.snapshot,
        StatusCode::GONE,
        Page {
            name: "error",
            title,
            data: json!({
                "title": title,
                "message": message,
                "code": OAuthErrorCode::InvalidRequest.as_str(),
            }),
        },
        vec![],
    )
}
