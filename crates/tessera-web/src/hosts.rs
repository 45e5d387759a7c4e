//! Host routing, before the router runs: a request for one of the deployment's own host names
//! passes unchanged; a request for a tenant's verified custom domain has its path rewritten to
//! `/t/{slug}{path}` so the tenant's endpoints answer at the domain's root; anything else is the
//! same JSON 404 as an unknown path. The operational endpoints answer on every host (load
//! balancers probe nodes by address). Host names are compared lowercase, without port, IPv6
//! brackets or root dot (RFC 9110 §7.2, RFC 3986 §3.2.2).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HOST;
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use tessera_core::OAuthErrorCode;
use tessera_tenants::Directory;

use crate::OAuthError;

/// Paths served on any host, as the deployment itself.
const ANY_HOST_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// RFC 8414 §3: the metadata of an issuer without a path component lives at exactly this path.
const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";

/// The JSON 404 of a path (or host) this server does not serve.
pub fn no_such_endpoint() -> HttpResponse {
    crate::json_error(
        StatusCode::NOT_FOUND,
        OAuthErrorCode::NotFound,
        Some("no such endpoint"),
    )
}

/// The host a `Host` header value (or HTTP/2 `:authority`) names: lowercase, without the port,
/// IPv6 brackets or a root dot. `None` for a malformed value.
pub fn request_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let host = match raw.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_port) {
                return None;
            }
            inside.parse::<std::net::Ipv6Addr>().ok()?;
            inside
        }
        None => match raw.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => raw,
        },
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty()
        || (!raw.starts_with('[') && host.contains(':'))
        || host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'/' || b == b'@')
    {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// Where a request for `path` on tenant `slug`'s custom domain goes, or `None` when the domain
/// does not serve it: the admin API and the path-based tenant routes exist only on the
/// deployment's own hosts.
pub fn tenant_path(slug: &str, path: &str) -> Option<String> {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/t") || under("/admin") {
        return None;
    }
    if path == OAUTH_METADATA {
        return Some(format!("{OAUTH_METADATA}/t/{slug}"));
    }
    if under(OAUTH_METADATA) {
        return None;
    }
    Some(format!("/t/{slug}{path}"))
}

enum Route {
    /// The deployment itself: route by path.
    Own,
    /// A tenant's custom domain: route to this path.
    Tenant(String),
    /// Not served here.
    NotFound,
    /// The database could not say.
    Unavailable,
}

async fn route(req: &ServiceRequest) -> Route {
    if ANY_HOST_PATHS.contains(&req.path()) {
        return Route::Own;
    }
    let Some(directory) = req.app_data::<web::Data<Directory>>() else {
        return Route::Own;
    };
    let raw = match req.headers().get(HOST) {
        Some(value) => value.to_str().ok(),
        // HTTP/2 carries the host in the request target's authority.
        None => req.uri().authority().map(|a| a.as_str()),
    };
    let host = match raw {
        // HTTP/1.0 without Host: only the deployment itself can be meant.
        None if req.headers().get(HOST).is_none() => return Route::Own,
        None => return Route::NotFound,
        Some(raw) => match request_host(raw) {
            Some(host) => host,
            None => return Route::NotFound,
        },
    };
    if directory.is_own_host(&host) {
        return Route::Own;
    }
    match directory.slug_for_host(&host).await {
        Ok(Some(slug)) => match tenant_path(&slug, req.path()) {
            Some(path) => Route::Tenant(path),
            None => Route::NotFound,
        },
        Ok(None) => Route::NotFound,
        Err(e) => {
            tracing::warn!(error = %e, "resolving a custom domain failed");
            Route::Unavailable
        }
    }
}

/// Replaces the request's path (keeping its query) before routing, as actix's `NormalizePath`
/// does.
fn rewrite(req: &mut ServiceRequest, path: &str) -> bool {
    let target = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(target) else {
        return false;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(uri) = Uri::from_parts(parts) else {
        return false;
    };
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
    true
}

/// Middleware (for `actix_web::middleware::from_fn`) routing each request by its `Host`.
pub async fn route_by_host(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refusal = match route(&req).await {
        Route::Own => None,
        Route::Tenant(path) => (!rewrite(&mut req, &path)).then(no_such_endpoint),
        Route::NotFound => Some(no_such_endpoint()),
        Route::Unavailable => Some(OAuthError::unavailable().error_response()),
    };
    match refusal {
        Some(response) => Ok(req.into_response(response)),
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers_lose_port_brackets_case_and_root_dot() {
        assert_eq!(
            request_host("Login.ACME.test:8443").as_deref(),
            Some("login.acme.test")
        );
        assert_eq!(
            request_host("login.acme.test.").as_deref(),
            Some("login.acme.test")
        );
        assert_eq!(request_host("127.0.0.1:80").as_deref(), Some("127.0.0.1"));
        assert_eq!(request_host("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(request_host("[::1]").as_deref(), Some("::1"));
        assert_eq!(request_host("localhost").as_deref(), Some("localhost"));
    }

    #[test]
    fn malformed_host_headers_are_refused() {
        for bad in [
            "",
            ":80",
            "::1",
            "[::1",
            "[::1]x",
            "[not-ip]:80",
            "host:port",
            "host:123456",
            "a b",
            "user@host",
            "host/path",
        ] {
            assert_eq!(request_host(bad), None, "{bad:?} was accepted");
        }
    }

    #[test]
    fn custom_domains_serve_only_the_tenants_own_endpoints_at_the_root() {
        assert_eq!(
            tenant_path("acme", "/.well-known/openid-configuration").as_deref(),
            Some("/t/acme/.well-known/openid-configuration")
        );
        assert_eq!(
            tenant_path("acme", "/token").as_deref(),
            Some("/t/acme/token")
        );
        assert_eq!(
            tenant_path("acme", "/.well-known/oauth-authorization-server").as_deref(),
            Some("/.well-known/oauth-authorization-server/t/acme")
        );
        for refused in [
            "/t",
            "/t/acme/token",
            "/admin",
            "/admin/v1/tenants",
            "/.well-known/oauth-authorization-server/t/other",
        ] {
            assert_eq!(tenant_path("acme", refused), None, "{refused} was routed");
        }
        // Only whole segments count: `/tokens` is not under `/t`.
        assert_eq!(tenant_path("acme", "/tx").as_deref(), Some("/t/acme/tx"));
    }

    /// A directory over a database without the schema: every lookup fails.
    async fn broken_directory() -> Directory {
        let store = tessera_store::Store::connect(
            "sqlite::memory:",
            &tessera_store::PoolSettings::default(),
        )
        .await
        .expect("in-memory database");
        Directory::new(
            store,
            std::sync::Arc::new(tessera_keys::MasterKey::generate()),
            "http://127.0.0.1:8080",
            16,
        )
    }

    #[actix_web::test]
    async fn a_database_failure_while_resolving_a_host_is_503_and_own_hosts_need_no_lookup() {
        use actix_web::{App, test};
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(broken_directory().await))
                .wrap(actix_web::middleware::from_fn(route_by_host))
                .route("/healthz", web::get().to(HttpResponse::Ok))
                .route("/t/{tenant}/jwks", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let call = |host: &'static str, path: &'static str| {
            test::TestRequest::get()
                .uri(path)
                .insert_header((HOST, host))
                .to_request()
        };
        let res = test::call_service(&app, call("login.acme.test", "/jwks")).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        // The deployment's own host and the probes never touch the database.
        let res = test::call_service(&app, call("127.0.0.1:8080", "/t/acme/jwks")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = test::call_service(&app, call("login.acme.test", "/healthz")).await;
        assert_eq!(res.status(), StatusCode::OK);
        // A malformed Host is the 404 of an unknown host.
        let res = test::call_service(&app, call("bad host", "/t/acme/jwks")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[actix_web::test]
    async fn a_rewritten_request_keeps_its_query_and_routes_by_the_new_path() {
        let mut req = actix_web::test::TestRequest::get()
            .uri("/authorize?client_id=c&state=s")
            .to_srv_request();
        assert!(rewrite(&mut req, "/t/acme/authorize"));
        assert_eq!(req.path(), "/t/acme/authorize");
        assert_eq!(req.query_string(), "client_id=c&state=s");
        assert_eq!(req.match_info().as_str(), "/t/acme/authorize");
    }
}
