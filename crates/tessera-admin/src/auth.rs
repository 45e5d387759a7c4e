//! Who is calling the admin API: the [`AdminPrincipal`] extractor verifies the bearer JWT
//! (RFC 6750 §2.1) and reads the caller's role live, so a removed role revokes access at once.
//! Two kinds of token are accepted: a system-tenant client token holding `admin_role` (the
//! client record decides), and an admin console token (client `tessera-console`) of any tenant,
//! whose user's `admin_role` decides. Auditors are read-only, enforced here for every route.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::Value;
use tessera_core::{AdminRole, ClientId, Clock, TenantId, TenantSlug, UserId, UserStatus};
use tessera_tenants::{ADMIN_SCOPE, CONSOLE_CLIENT_ID, Directory, TenantSnapshot};

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

/// Who is behind the token.
#[derive(Clone, Debug)]
enum Caller {
    /// A client of the system tenant holding an admin role.
    Client,
    /// A user signed in to the admin console of `tenant`.
    User {
        /// The user's id (`sub`).
        id: UserId,
        /// Its username.
        username: String,
        /// The tenant it signed in to.
        tenant: TenantSlug,
    },
}

/// An authenticated caller of the admin API: a client of the system tenant holding an admin role,
/// or a user holding one who signed in through the admin console. Extracting it answers 401
/// `invalid_token` for a missing or invalid token and 403 for a token without the `admin` scope,
/// a caller without an admin role, or an auditor attempting anything but GET/HEAD.
#[derive(Clone, Debug)]
pub struct AdminPrincipal {
    client_id: ClientId,
    caller: Caller,
    role: AdminRole,
    reach: Reach,
    directory: Directory,
}

impl AdminPrincipal {
    /// The client the token was issued to (safe to log; never the token itself): the admin
    /// client, or `tessera-console` for a console user.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The audit actor of the caller: `admin:<client id>` for an admin client,
    /// `user:<username>@<tenant slug>` for a console user.
    pub fn actor(&self) -> String {
        match &self.caller {
            Caller::Client => format!("admin:{}", self.client_id),
            Caller::User {
                username, tenant, ..
            } => format!("user:{username}@{tenant}"),
        }
    }

    /// Who revokes a grant when this caller does (recorded as the audit actor).
    pub fn revoker(&self) -> tessera_consent::Revoker {
        match &self.caller {
            Caller::Client => tessera_consent::Revoker::Admin(self.client_id.clone()),
            Caller::User { .. } => tessera_consent::Revoker::AdminUser(self.actor()),
        }
    }

    /// The console user behind the token, `None` for an admin client: its tenant and id.
    pub fn user(&self) -> Option<(&TenantSlug, UserId)> {
        match &self.caller {
            Caller::Client => None,
            Caller::User { id, tenant, .. } => Some((tenant, *id)),
        }
    }

    /// The role of the caller.
    pub fn role(&self) -> AdminRole {
        self.role
    }

    /// Whether the caller may only read (an auditor).
    pub fn is_read_only(&self) -> bool {
        self.role == AdminRole::Auditor
    }

    /// The one tenant a tenant admin or tenant auditor administers; `None` for callers that
    /// reach every tenant (operators, system auditors).
    pub fn own_tenant(&self) -> Option<TenantId> {
        match self.reach {
            Reach::Everything => None,
            Reach::Tenant(id) => Some(id),
        }
    }

    /// Allows operators only: creating and deleting tenants, changing their status, creating
    /// tenant admins.
    pub fn require_operator(&self) -> Result<(), AdminError> {
        match (self.reach, self.role) {
            (Reach::Everything, AdminRole::Operator) => Ok(()),
            _ => Err(AdminError::AccessDenied("only operators may do this")),
        }
    }

    /// Parses the `{slug}` of a path (404 when it cannot name a tenant) and checks that the
    /// caller may administer that tenant: operators and system auditors any, a tenant admin or
    /// auditor only its own, compared by tenant id so a deleted and re-created slug does not
    /// inherit its admins. Such a caller learns nothing about other tenants, not even whether
    /// they exist (403 either way).
    pub async fn authorize_tenant(&self, raw_slug: &str) -> Result<TenantSlug, AdminError> {
        let slug = TenantSlug::parse(raw_slug).map_err(|_| AdminError::NotFound("tenant"))?;
        let Reach::Tenant(own) = self.reach else {
            return Ok(slug);
        };
        match self.directory.resolve(slug.as_ref()).await? {
            Some(snapshot) if !snapshot.tenant.is_system && snapshot.tenant.id == own => Ok(slug),
            _ => Err(AdminError::AccessDenied(
                "this tenant is outside the authority of the token's holder",
            )),
        }
    }

    /// [`Self::authorize_tenant`] for a path `/tenants/{slug}/…/{item}`: the tenant and the item.
    pub(crate) async fn authorize_tenant_item(
        &self,
        path: web::Path<(String, String)>,
    ) -> Result<(TenantSlug, String), AdminError> {
        let (slug, item) = path.into_inner();
        Ok((self.authorize_tenant(&slug).await?, item))
    }
}

impl std::fmt::Display for AdminPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.caller {
            Caller::Client => write!(f, "{} ({})", self.client_id, self.role),
            Caller::User {
                username, tenant, ..
            } => write!(f, "{username}@{tenant} ({})", self.role),
        }
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
        let reads = is_read(req.method());
        Box::pin(async move {
            let token = token?;
            let directory = directory.ok_or_else(|| {
                AdminError::Unexpected(anyhow::anyhow!(
                    "web::Data<Directory> is not registered on the app"
                ))
            })?;
            let principal = authenticate(directory, &token).await?;
            // Enforced here, not per route, so no handler can forget it.
            if principal.is_read_only() && !reads {
                return Err(AdminError::AccessDenied(
                    "auditors may only read (GET and HEAD)",
                ));
            }
            Ok(principal)
        })
    }
}

/// Whether `method` only reads (RFC 9110 §9.2.1 safe methods the admin API serves).
fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
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

/// The `iss` claim of a compact JWS, read **without verifying anything**: only to pick the
/// tenant whose keys then verify the token (RFC 8725 §3.8 still holds: the verified `iss` must
/// equal that tenant's issuer).
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks that a verified JWS is an access token usable as a bearer token here: its header's
/// `typ` is `at+jwt` (RFC 9068 §4: so an ID token, a signed userinfo answer or a logout token of
/// the same issuer and audience is never taken for one), and it carries no `cnf` (a DPoP- or
/// certificate-bound token must not be accepted as a bearer token, RFC 9449 §7.1, RFC 8705 §3).
fn check_access_token(token: &str, claims: &Value) -> Result<(), AdminError> {
    use base64::Engine;
    // The header is covered by the signature that just verified, so reading it now is safe.
    let typ = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("typ").and_then(Value::as_str).map(str::to_owned));
    match typ.as_deref() {
        Some(t)
            if t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt") => {
        }
        _ => {
            return Err(AdminError::InvalidToken(
                "the token is not a JWT access token (typ at+jwt)",
            ));
        }
    }
    if claims.get("cnf").is_some() {
        return Err(AdminError::InvalidToken(
            "the token is bound to a key and cannot be used as a bearer token",
        ));
    }
    Ok(())
}

/// The slug a tenant issuer names: `{public_url}/t/{slug}`, or a verified custom domain
/// `https://{domain}` (then looked up); `None` when it is no issuer of this deployment.
async fn issuer_slug(directory: &Directory, iss: &str) -> Result<Option<String>, AdminError> {
    let base = format!("{}/t/", directory.public_url().trim_end_matches('/'));
    if let Some(slug) = iss.strip_prefix(&base) {
        return Ok(TenantSlug::parse(slug).ok().map(|s| s.to_string()));
    }
    let Some(host) = iss.strip_prefix("https://") else {
        return Ok(None);
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Ok(None);
    }
    Ok(directory.slug_for_host(&host.to_ascii_lowercase()).await?)
}

/// Verifies the token with the keys of the tenant its `iss` names, then authenticates it as an
/// admin console token or (system tenant only) an admin client token.
async fn authenticate(directory: Directory, token: &str) -> Result<AdminPrincipal, AdminError> {
    const FOREIGN: AdminError =
        AdminError::InvalidToken("the token was not issued by a tenant of this deployment");
    let iss = unverified_issuer(token).ok_or(AdminError::InvalidToken(
        "the token is not a JWS with an iss claim",
    ))?;
    let slug = issuer_slug(&directory, &iss).await?.ok_or(FOREIGN)?;
    let snapshot = directory.resolve(&slug).await?.ok_or(FOREIGN)?;
    if snapshot.issuer != iss {
        return Err(FOREIGN);
    }
    let claims = snapshot
        .keys
        .verify(token)
        .map_err(|_| AdminError::InvalidToken("the token is not a valid JWS of its issuer"))?;
    check_access_token(token, &claims)?;
    if claims.get("client_id").and_then(Value::as_str) == Some(CONSOLE_CLIENT_ID) {
        return authenticate_user(directory, &snapshot, &claims).await;
    }
    if !snapshot.tenant.is_system {
        return Err(AdminError::InvalidToken(
            "a tenant's tokens reach the admin API only through the admin console",
        ));
    }
    authenticate_client(directory, &snapshot, &claims)
}

/// An admin client's token: a system-tenant token for the admin API whose client's live
/// registration holds an admin role.
fn authenticate_client(
    directory: Directory,
    system: &TenantSnapshot,
    claims: &Value,
) -> Result<AdminPrincipal, AdminError> {
    let admin_audience = admin_audience(directory.public_url());
    let client_id = check_claims(
        claims,
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
    let (role, reach) = match (client.admin_role, client.admin_tenant_id) {
        (Some(AdminRole::Operator), _) => (AdminRole::Operator, Reach::Everything),
        (Some(AdminRole::Auditor), None) => (AdminRole::Auditor, Reach::Everything),
        (Some(role @ (AdminRole::TenantAdmin | AdminRole::Auditor)), Some(tenant))
            if tenant != system.tenant.id =>
        {
            (role, Reach::Tenant(tenant))
        }
        _ => {
            return Err(AdminError::AccessDenied(
                "the token's client holds no admin role",
            ));
        }
    };
    Ok(AdminPrincipal {
        client_id: client.client_id.clone(),
        caller: Caller::Client,
        role,
        reach,
        directory,
    })
}

/// An admin console token: its user must be an active user of the issuing tenant whose live
/// role reaches: operator or auditor in the system tenant, tenant admin or auditor elsewhere
/// (that tenant only).
async fn authenticate_user(
    directory: Directory,
    snapshot: &TenantSnapshot,
    claims: &Value,
) -> Result<AdminPrincipal, AdminError> {
    let admin_audience = admin_audience(directory.public_url());
    // Without a resource, the token names the console itself as its audience (RFC 9068 §3).
    let sub = check_console_claims(
        claims,
        &snapshot.issuer,
        &[CONSOLE_CLIENT_ID, &snapshot.issuer, &admin_audience],
        Clock.now(),
    )?;
    if !snapshot.is_active() {
        return Err(AdminError::InvalidToken("the token's tenant is disabled"));
    }
    // The console client is not pairwise (OIDC Core §8): `sub` is the user id.
    let id: UserId = sub
        .parse()
        .map_err(|_| AdminError::InvalidToken("the token's subject is not a user"))?;
    let tenant = snapshot.tenant.id;
    let db = directory.store().conn();
    let user = tessera_store::users::find(db, tenant, id)
        .await
        .map_err(|e| AdminError::Unexpected(anyhow::Error::new(e).context("reading a user")))?
        .ok_or(AdminError::InvalidToken(
            "the user of this token no longer exists",
        ))?;
    if user.status != UserStatus::Active {
        return Err(AdminError::InvalidToken(
            "the user of this token may not sign in",
        ));
    }
    let role = tessera_store::users::admin_role(db, tenant, id)
        .await
        .map_err(|e| AdminError::Unexpected(anyhow::Error::new(e).context("reading a role")))?;
    let (role, reach) = match (role, snapshot.tenant.is_system) {
        (Some(role @ (AdminRole::Operator | AdminRole::Auditor)), true) => {
            (role, Reach::Everything)
        }
        (Some(role @ (AdminRole::TenantAdmin | AdminRole::Auditor)), false) => {
            (role, Reach::Tenant(tenant))
        }
        _ => {
            return Err(AdminError::AccessDenied(
                "the token's user holds no admin role",
            ));
        }
    };
    Ok(AdminPrincipal {
        client_id: snapshot
            .client(CONSOLE_CLIENT_ID)
            .map(|c| c.client_id.clone())
            .ok_or_else(|| {
                AdminError::Unexpected(anyhow::anyhow!("the console client is missing"))
            })?,
        caller: Caller::User {
            id,
            username: user.username,
            tenant: snapshot.tenant.slug.clone(),
        },
        role,
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
    check_issuer_times_audience(
        claims,
        issuer,
        "the token was not issued by the system tenant",
        audiences,
        now,
    )?;
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

/// Checks the claims of an admin console access token whose signature already verified
/// (RFC 9068 §4): `iss`, the validity times, `aud`, `client_id` = `tessera-console` (an ID
/// token has none, so one is never accepted as an access token). Returns `sub`.
fn check_console_claims<'a>(
    claims: &'a Value,
    issuer: &str,
    audiences: &[&str],
    now: i64,
) -> Result<&'a str, AdminError> {
    check_issuer_times_audience(
        claims,
        issuer,
        "the token was not issued by its tenant",
        audiences,
        now,
    )?;
    if claims.get("client_id").and_then(Value::as_str) != Some(CONSOLE_CLIENT_ID) {
        return Err(AdminError::InvalidToken(
            "the token was not issued to the admin console",
        ));
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(AdminError::InvalidToken("the token names no subject"))
}

/// Checks what every admin API token must hold (RFC 9068 §4): `iss` equal to `issuer` (else
/// `invalid_token` with `foreign_issuer`), the validity times, and an `aud` naming one of
/// `audiences`.
fn check_issuer_times_audience(
    claims: &Value,
    issuer: &str,
    foreign_issuer: &'static str,
    audiences: &[&str],
    now: i64,
) -> Result<(), AdminError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(AdminError::InvalidToken(foreign_issuer));
    }
    check_times(claims, now)?;
    if !audience_matches(claims.get("aud"), audiences) {
        return Err(AdminError::InvalidToken(
            "the token is not meant for the admin API",
        ));
    }
    Ok(())
}

/// Checks `exp`, `iat` and `nbf` (RFC 7519 §4.1.4–4.1.6) with [`CLOCK_SKEW`] leeway.
fn check_times(claims: &Value, now: i64) -> Result<(), AdminError> {
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
    Ok(())
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

    fn console_claims() -> Value {
        json!({
            "iss": "https://id.example.com/t/acme",
            "aud": "tessera-console",
            "exp": NOW + 300,
            "iat": NOW,
            "client_id": "tessera-console",
            "sub": "0190d0c4-7a3e-7000-8000-000000000001",
            "scope": "openid profile",
        })
    }

    fn check_console(claims: &Value) -> Result<&str, AdminError> {
        check_console_claims(
            claims,
            "https://id.example.com/t/acme",
            &[CONSOLE_CLIENT_ID, "https://id.example.com/t/acme", AUDIENCE],
            NOW,
        )
    }

    #[test]
    fn console_claims_yield_the_subject_only_for_the_console_client() {
        let valid = console_claims();
        assert_eq!(
            check_console(&valid).expect("valid claims"),
            "0190d0c4-7a3e-7000-8000-000000000001"
        );
        for (key, bad) in [
            ("client_id", json!("other-app")),
            ("iss", json!(ISSUER)),
            ("aud", json!("other-app")),
            ("exp", json!(NOW - CLOCK_SKEW)),
            ("iat", json!(NOW + CLOCK_SKEW + 1)),
            ("sub", json!("")),
        ] {
            let mut c = console_claims();
            c[key] = bad;
            assert!(
                matches!(check_console(&c), Err(AdminError::InvalidToken(_))),
                "{key}"
            );
        }
        // An ID token of the console carries no client_id claim.
        let mut id_token = console_claims();
        id_token
            .as_object_mut()
            .expect("an object")
            .remove("client_id");
        assert!(check_console(&id_token).is_err());
    }

    #[test]
    fn only_get_and_head_read() {
        assert!(is_read(&Method::GET) && is_read(&Method::HEAD));
        for m in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(!is_read(&m), "{m}");
        }
    }

    #[test]
    fn only_unbound_jwt_access_tokens_pass() {
        use base64::Engine;
        let enc =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = |typ: Value| format!("{}.e30.sig", enc(&json!({"alg": "ES256", "typ": typ})));
        let plain = json!({"sub": "u"});
        assert!(check_access_token(&token(json!("at+jwt")), &plain).is_ok());
        assert!(check_access_token(&token(json!("application/AT+JWT")), &plain).is_ok());
        for typ in [json!("JWT"), json!("logout+jwt"), json!(null), json!(1)] {
            assert!(
                check_access_token(&token(typ.clone()), &plain).is_err(),
                "typ {typ}"
            );
        }
        let bound = json!({"sub": "u", "cnf": {"jkt": "x"}});
        assert!(check_access_token(&token(json!("at+jwt")), &bound).is_err());
    }

    #[test]
    fn unverified_issuer_reads_the_payload_only() {
        use base64::Engine;
        let enc =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.sig",
            enc(&json!({"alg": "ES256"})),
            enc(&console_claims())
        );
        assert_eq!(
            unverified_issuer(&token).as_deref(),
            Some("https://id.example.com/t/acme")
        );
        assert_eq!(unverified_issuer("not-a-jwt"), None);
        assert_eq!(unverified_issuer("a.!!!.c"), None);
    }

    #[test]
    fn admin_audience_is_the_api_root() {
        assert_eq!(admin_audience("https://id.example.com"), AUDIENCE);
        assert_eq!(admin_audience("https://id.example.com/"), AUDIENCE);
    }
}
