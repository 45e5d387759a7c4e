//! Form bodies of the browser endpoints (`application/x-www-form-urlencoded`, at most 16 KiB).

use actix_web::{HttpRequest, web};

use crate::body::{is_form, read_limited};

/// Largest accepted form.
const MAX_FORM: usize = 16 * 1024;

/// Reads a form body into its pairs, or `None` when it is not a form or is too large.
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Option<Vec<(String, String)>> {
    if !is_form(req) {
        return None;
    }
    let body = read_limited(payload, MAX_FORM).await.ok()?;
    serde_urlencoded::from_bytes(&body).ok()
}

/// The first value of `name` in a form.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
