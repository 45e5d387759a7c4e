//! Who is calling the admin API: the [`AdminPrincipal`] extractor verifies the bearer JWT
//! (RFC 6750 §2.1) against the system tenant's keys and reads the caller's role from the live
//! client record, so deleting an admin client revokes its access once snapshots refresh.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::Value;
use tessera_core::{AdminRole, ClientId, Clock, TenantId, TenantSlug};
use tessera_tenants::{ADMIN_SCOPE, Directory};

use crate::{AdminError, PREFIX};

/// The `realm` of every bearer challenge of the admin API.
pub const REALM: &str = "tessera-admin";

/// Tolerated clock difference between the token issuer and this node, in seconds.
const CLOCK_SKEW: i64 = 30;

/// What an authenticated caller may administer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Every tenant.
    Everything,
    /// Exactly one tenant, never the system tenant.
    Tenant(TenantId),
}

/// An authenticated caller of the admin API: a client of the system tenant holding an admin role.
/// Extracting it answers 401 `invalid_token` for a missing or invalid token and 403 for a token
/// without the `admin` scope or a client without an admin role.
#[derive(Clone, Debug)]
pub struct AdminPrincipal {
    client_id: ClientId,
    reach: Reach,
    directory: Directory,
}

impl AdminPrincipal {
    /// The admin client behind the token (safe to log; never the token itself).
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The role of the caller.
    pub fn role(&self) -> AdminRole {
        match self.reach {
            Reach::Everything => AdminRole::Operator,
            Reach::Tenant(_) => AdminRole::TenantAdmin,
        }
    }

    /// The one tenant a tenant admin administers; `None` for operators.
    pub fn own_tenant(&self) -> Option<TenantId> {
        match self.reach {
            Reach::Everything => None,
            Reach::Tenant(id) => Some(id),
        }
    }

    /// Allows operators only: creating and deleting tenants, changing their status, creating
    /// tenant admins.
    pub fn require_operator(&self) -> Result<(), AdminError> {
        match self.reach {
            Reach::Everything => Ok(()),
            Reach::Tenant(_) => Err(AdminError::AccessDenied("only operators may do this")),
        }
    }

    /// Parses the `{slug}` of a path (404 when it cannot name a tenant) and checks that the
    /// caller may administer that tenant: operators any, a tenant admin only its own, compared
    /// by tenant id so a deleted and re-created slug does not inherit its admins. A tenant admin
    /// learns nothing about other tenants, not even whether they exist (403 either way).
    pub async fn authorize_tenant(&self, raw_slug: &str) -> Result<TenantSlug, AdminError> {
        let slug = TenantSlug::parse(raw_slug).map_err(|_| AdminError::NotFound("tenant"))?;
        let Reach::Tenant(own) = self.reach else {
            return Ok(slug);
        };
        match self.directory.resolve(slug.as_ref()).await? {
            Some(snapshot) if !snapshot.tenant.is_system && snapshot.tenant.id == own => Ok(slug),
            _ => Err(AdminError::AccessDenied(
                "this tenant is outside the authority of the token's client",
            )),
        }
    }
}

impl std::fmt::Display for AdminPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.client_id, self.role())
    }
}

impl FromRequest for AdminPrincipal {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let directory = req
            .app_data::<web::Data<Directory>>()
            .map(|d| d.get_ref().clone());
        Box::pin(async move {
            let token = token?;
            let directory = directory.ok_or_else(|| {
                AdminError::Unexpected(anyhow::anyhow!(
                    "web::Data<Directory> is not registered on the app"
                ))
            })?;
            authenticate(directory, &token).await
        })
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1; the scheme is case-insensitive,
/// RFC 7235 §2.1). Tokens in the query string or body are not accepted.
fn bearer_token(req: &HttpRequest) -> Result<&str, AdminError> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let value = headers.next().ok_or(AdminError::MissingToken)?;
    if headers.next().is_some() {
        return Err(AdminError::InvalidToken(
            "the request carries more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AdminError::InvalidToken("the Authorization header is malformed"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && is_b64token(token.trim()) =>
        {
            Ok(token.trim())
        }
        _ => Err(AdminError::InvalidToken(
            "the Authorization header is not a bearer token",
        )),
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.len() <= 16 * 1024
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Verifies the token against the system tenant and looks its client up in the system snapshot.
async fn authenticate(directory: Directory, token: &str) -> Result<AdminPrincipal, AdminError> {
    let system = directory
        .resolve(TenantSlug::system().as_ref())
        .await?
        .ok_or_else(|| {
            AdminError::Unexpected(anyhow::anyhow!("the system tenant does not exist"))
        })?;
    let claims = system.keys.verify(token).map_err(|_| {
        AdminError::InvalidToken("the token is not a valid JWS of the system tenant")
    })?;
    let admin_audience = admin_audience(directory.public_url());
    let client_id = check_claims(
        &claims,
        &system.issuer,
        &[&system.issuer, &admin_audience],
        Clock.now(),
    )?;
    let client = system.client(client_id).ok_or(AdminError::InvalidToken(
        "the client of this token no longer exists",
    ))?;
    // The live registration decides, not the token: a client stripped of the scope loses access.
    if !client.scopes.contains(ADMIN_SCOPE) {
        return Err(AdminError::InsufficientScope);
    }
    let reach = match (client.admin_role, client.admin_tenant_id) {
        (Some(AdminRole::Operator), _) => Reach::Everything,
        (Some(AdminRole::TenantAdmin), Some(tenant)) if tenant != system.tenant.id => {
            Reach::Tenant(tenant)
        }
        _ => {
            return Err(AdminError::AccessDenied(
                "the token's client holds no admin role",
            ));
        }
    };
    Ok(AdminPrincipal {
        client_id: client.client_id.clone(),
        reach,
        directory,
    })
}

/// `{public_url}/admin/v1`, the audience of tokens minted for this API (RFC 8707 resource).
fn admin_audience(public_url: &str) -> String {
    format!("{}{PREFIX}", public_url.trim_end_matches('/'))
}

/// Checks the claims of a token whose signature already verified (RFC 9068 §4, RFC 7519 §4.1):
/// `iss`, `exp`, `iat`, `nbf`, `aud` and the `admin` scope. Returns the `client_id` claim.
fn check_claims<'a>(
    claims: &'a Value,
    issuer: &str,
    audiences: &[&str],
    now: i64,
) -> Result<&'a str, AdminError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(AdminError::InvalidToken(
            "the token was not issued by the system tenant",
        ));
    }
    let exp = numeric_date(claims, "exp")
        .ok_or(AdminError::InvalidToken("the token has no exp claim"))?;
    if now >= exp.saturating_add(CLOCK_SKEW) {
        return Err(AdminError::InvalidToken("the token has expired"));
    }
    let iat = numeric_date(claims, "iat")
        .ok_or(AdminError::InvalidToken("the token has no iat claim"))?;
    if iat > now.saturating_add(CLOCK_SKEW) {
        return Err(AdminError::InvalidToken(
            "the token was issued in the future",
        ));
    }
    if claims.get("nbf").is_some() {
        match numeric_date(claims, "nbf") {
            Some(nbf) if nbf <= now.saturating_add(CLOCK_SKEW) => {}
            _ => return Err(AdminError::InvalidToken("the token is not yet valid")),
        }
    }
    if !audience_matches(claims.get("aud"), audiences) {
        return Err(AdminError::InvalidToken(
            "the token is not meant for the admin API",
        ));
    }
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or(AdminError::InvalidToken("the token names no client"))?;
    if !has_scope(claims.get("scope"), ADMIN_SCOPE) {
        return Err(AdminError::InsufficientScope);
    }
    Ok(client_id)
}

/// A NumericDate claim (RFC 7519 §2) in whole seconds.
fn numeric_date(claims: &Value, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}

/// Whether `aud` (a string or an array of strings, RFC 7519 §4.1.3) names one of `accepted`.
fn audience_matches(aud: Option<&Value>, accepted: &[&str]) -> bool {
    match aud {
        Some(Value::String(one)) => accepted.contains(&one.as_str()),
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .any(|a| accepted.contains(&a)),
        _ => false,
    }
}

/// Whether the space-delimited `scope` claim (RFC 9068 §2.2.3, RFC 8693 §4.2) holds `wanted`.
fn has_scope(scope: Option<&Value>, wanted: &str) -> bool {
    scope
        .and_then(Value::as_str)
        .is_some_and(|s| s.split(' ').any(|token| token == wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://id.example.com/t/system";
    const AUDIENCE: &str = "https://id.example.com/admin/v1";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": NOW + 300,
            "iat": NOW,
            "client_id": "ops-client",
            "scope": "openid admin",
        })
    }

    fn check(claims: &Value) -> Result<&str, AdminError> {
        check_claims(claims, ISSUER, &[ISSUER, AUDIENCE], NOW)
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    fn without(key: &str) -> Value {
        let mut c = claims();
        c.as_object_mut().expect("an object").remove(key);
        c
    }

    #[test]
    fn valid_admin_claims_yield_the_client_id() {
        assert_eq!(check(&claims()).expect("valid claims"), "ops-client");
    }

    #[test]
    fn audience_may_be_the_issuer_or_the_admin_api_as_string_or_array() {
        assert!(check(&with("aud", json!(ISSUER))).is_ok());
        assert!(check(&with("aud", json!(["https://api.example.com", AUDIENCE]))).is_ok());
        for bad in [
            json!("https://id.example.com/t/acme"),
            json!([]),
            json!(42),
            json!(["x", "y"]),
        ] {
            assert!(matches!(
                check(&with("aud", bad)),
                Err(AdminError::InvalidToken(_))
            ));
        }
        assert!(matches!(
            check(&without("aud")),
            Err(AdminError::InvalidToken(_))
        ));
    }

    #[test]
    fn token_of_another_issuer_is_invalid() {
        for bad in [
            json!("https://id.example.com/t/acme"),
            json!(null),
            json!(1),
        ] {
            assert!(matches!(
                check(&with("iss", bad)),
                Err(AdminError::InvalidToken(_))
            ));
        }
        assert!(matches!(
            check(&without("iss")),
            Err(AdminError::InvalidToken(_))
        ));
    }

    #[test]
    fn expiry_allows_only_the_clock_skew() {
        assert!(check(&with("exp", json!(NOW - CLOCK_SKEW + 1))).is_ok());
        assert!(matches!(
            check(&with("exp", json!(NOW - CLOCK_SKEW))),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(matches!(
            check(&with("exp", json!("never"))),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(matches!(
            check(&without("exp")),
            Err(AdminError::InvalidToken(_))
        ));
    }

    #[test]
    fn tokens_issued_in_the_future_are_invalid() {
        assert!(check(&with("iat", json!(NOW + CLOCK_SKEW))).is_ok());
        assert!(matches!(
            check(&with("iat", json!(NOW + CLOCK_SKEW + 1))),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(matches!(
            check(&without("iat")),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(matches!(
            check(&with("nbf", json!(NOW + 3600))),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(check(&with("nbf", json!(NOW))).is_ok());
    }

    #[test]
    fn missing_admin_scope_is_insufficient_scope() {
        for bad in [
            json!("openid"),
            json!("administrator"),
            json!(""),
            json!(["admin"]),
        ] {
            assert!(matches!(
                check(&with("scope", bad)),
                Err(AdminError::InsufficientScope)
            ));
        }
        assert!(matches!(
            check(&without("scope")),
            Err(AdminError::InsufficientScope)
        ));
        assert!(check(&with("scope", json!("admin"))).is_ok());
    }

    #[test]
    fn token_without_client_id_is_invalid() {
        assert!(matches!(
            check(&without("client_id")),
            Err(AdminError::InvalidToken(_))
        ));
        assert!(matches!(
            check(&with("client_id", json!(""))),
            Err(AdminError::InvalidToken(_))
        ));
    }

    #[test]
    fn bearer_header_parsing_follows_rfc_6750() {
        use actix_web::test::TestRequest;
        let token = |value: Option<&str>| {
            let mut req = TestRequest::default();
            if let Some(v) = value {
                req = req.insert_header((header::AUTHORIZATION, v));
            }
            bearer_token(&req.to_http_request()).map(str::to_owned)
        };
        assert_eq!(
            token(Some("Bearer abc.def-_~+/==")).expect("a token"),
            "abc.def-_~+/=="
        );
        assert_eq!(token(Some("bearer abc")).expect("a token"), "abc");
        assert!(matches!(token(None), Err(AdminError::MissingToken)));
        for bad in [
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer a b"),
            Some("Bearer ==="),
        ] {
            assert!(
                matches!(token(bad), Err(AdminError::InvalidToken(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn admin_audience_is_the_api_root() {
        assert_eq!(admin_audience("https://id.example.com"), AUDIENCE);
        assert_eq!(admin_audience("https://id.example.com/"), AUDIENCE);
    }
}
