//! The browser cookies: the SSO session cookie of each tenant and the CSRF cookie. Both are
//! `HttpOnly`; under an `https` issuer they are `Secure` and carry the `__Host-` prefix (RFC 6265bis
//! §4.1.3.2), so no sibling host can plant one. The session cookie is `SameSite=Lax` (it must ride
//! the top-level navigation from a client to `/authorize`); the CSRF cookie is `SameSite=Strict`.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use subtle::ConstantTimeEq;
use tessera_tenants::TenantSnapshot;

/// Name of a tenant's session cookie: one per tenant, so tenants never share a session.
pub fn session_name(snapshot: &TenantSnapshot) -> String {
    let prefix = if is_https(snapshot) { "__Host-" } else { "" };
    format!("{prefix}tessera-session-{}", snapshot.tenant.slug)
}

fn csrf_name(snapshot: &TenantSnapshot) -> &'static str {
    if is_https(snapshot) {
        "__Host-tessera-csrf"
    } else {
        "tessera-csrf"
    }
}

fn is_https(snapshot: &TenantSnapshot) -> bool {
    snapshot.issuer.starts_with("https://")
}

fn base<'c>(snapshot: &TenantSnapshot, name: String, value: String) -> Cookie<'c> {
    let mut cookie = Cookie::new(name, value);
    cookie.set_path("/");
    cookie.set_http_only(true);
    cookie.set_secure(is_https(snapshot));
    cookie
}

/// The session cookie value the browser sent, if any.
pub fn session_value(req: &HttpRequest, snapshot: &TenantSnapshot) -> Option<String> {
    req.cookie(&session_name(snapshot))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A session cookie: a session cookie in the browser sense (no `Max-Age`); the server enforces
/// idle and absolute lifetimes.
pub fn session_cookie<'c>(snapshot: &TenantSnapshot, value: &str) -> Cookie<'c> {
    let mut cookie = base(snapshot, session_name(snapshot), value.to_owned());
    cookie.set_same_site(SameSite::Lax);
    cookie
}

/// Removes the session cookie.
pub fn clear_session<'c>(snapshot: &TenantSnapshot) -> Cookie<'c> {
    let mut cookie = base(snapshot, session_name(snapshot), String::new());
    cookie.set_same_site(SameSite::Lax);
    cookie.set_max_age(Duration::ZERO);
    cookie
}

/// The CSRF token for a form: the browser's CSRF cookie value, or a new one with the cookie to
/// set. The token is double-submitted: the cookie is `HttpOnly` and `SameSite=Strict`, so a
/// cross-site page can neither read it nor make the browser send it with a forged form.
pub fn csrf_token<'c>(
    req: &HttpRequest,
    snapshot: &TenantSnapshot,
) -> (String, Option<Cookie<'c>>) {
    if let Some(existing) = req
        .cookie(csrf_name(snapshot))
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
    {
        return (existing, None);
    }
    let token = tessera_core::secret::random_token(32);
    let mut cookie = base(snapshot, csrf_name(snapshot).to_owned(), token.clone());
    cookie.set_same_site(SameSite::Strict);
    (token, Some(cookie))
}

/// Whether a submitted form's `csrf_token` matches the browser's CSRF cookie.
pub fn csrf_ok(req: &HttpRequest, snapshot: &TenantSnapshot, submitted: Option<&str>) -> bool {
    match (req.cookie(csrf_name(snapshot)), submitted) {
        (Some(cookie), Some(form)) if !form.is_empty() => {
            cookie.value().as_bytes().ct_eq(form.as_bytes()).into()
        }
        _ => false,
    }
}
