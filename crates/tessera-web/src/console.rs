//! The admin console (issue 8): server-rendered pages at `/console` (operators, system tenant)
//! and `/t/{tenant}/console` (tenant admins), their OAuth callback page and the embedded static
//! assets. Pages carry no data: their scripts sign in with the tenant's built-in
//! `tessera-console` client (authorization code + PKCE, RFC 7636) and call the admin API.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpResponse, web};
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;
use tessera_tenants::{Directory, TenantError};

use crate::Templates;

/// The console's layout; every page is rendered inside it.
const LAYOUT: &str = include_str!("../../../templates/console/layout.hbs");

/// Every console page: (name, navigation label, source). `tenants` is the operators' home;
/// `callback` finishes a sign-in and is not in the navigation.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "tenants",
        "Tenants",
        include_str!("../../../templates/console/tenants.hbs"),
    ),
    (
        "settings",
        "Settings",
        include_str!("../../../templates/console/settings.hbs"),
    ),
    (
        "clients",
        "Clients",
        include_str!("../../../templates/console/clients.hbs"),
    ),
    (
        "scopes",
        "Scopes",
        include_str!("../../../templates/console/scopes.hbs"),
    ),
    (
        "resources",
        "Resource servers",
        include_str!("../../../templates/console/resources.hbs"),
    ),
    (
        "users",
        "Users",
        include_str!("../../../templates/console/users.hbs"),
    ),
    (
        "keys",
        "Signing keys",
        include_str!("../../../templates/console/keys.hbs"),
    ),
    (
        "templates",
        "Templates",
        include_str!("../../../templates/console/templates.hbs"),
    ),
    (
        "audit",
        "Audit log",
        include_str!("../../../templates/console/audit.hbs"),
    ),
    (
        "callback",
        "Signing in",
        include_str!("../../../templates/console/callback.hbs"),
    ),
];

/// Pages that administer one tenant, in navigation order.
const TENANT_PAGES: [&str; 8] = [
    "settings",
    "clients",
    "scopes",
    "resources",
    "users",
    "keys",
    "templates",
    "audit",
];

/// Static assets: (file name, content type, source).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../../templates/console/assets/console.css"),
    ),
    (
        "pages.css",
        "text/css; charset=utf-8",
        include_str!("../../../templates/console/assets/pages.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/console.js"),
    ),
    (
        "callback.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/callback.js"),
    ),
    (
        "tenants.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/tenants.js"),
    ),
    (
        "users.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/users.js"),
    ),
    (
        "clients.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/clients.js"),
    ),
    (
        "audit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/audit.js"),
    ),
    (
        "settings.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/settings.js"),
    ),
    (
        "scopes.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/scopes.js"),
    ),
    (
        "resources.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/resources.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/keys.js"),
    ),
    (
        "templates.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/console/assets/templates.js"),
    ),
];

/// The console's own registry: strict, HTML-escaping, and never tenant-overridable.
static ENGINE: LazyLock<Result<Handlebars<'static>, String>> = LazyLock::new(compile);

fn compile() -> Result<Handlebars<'static>, String> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.unregister_helper("log");
    registry
        .register_template_string("layout", LAYOUT)
        .map_err(|e| format!("console template `layout`: {e}"))?;
    for (name, _, source) in PAGES {
        registry
            .register_template_string(name, source)
            .map_err(|e| format!("console template `{name}`: {e}"))?;
    }
    Ok(registry)
}

/// Registers the console routes; they must come before the `/t/{tenant}` scope, which would
/// otherwise answer `/t/{tenant}/console/…` with its JSON 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(operator_home))
        .route("/console/assets/{file}", web::get().to(asset))
        .route("/console/{page}", web::get().to(operator_page))
        .route(
            "/console/tenants/{tenant}",
            web::get().to(operator_tenant_home),
        )
        .route(
            "/console/tenants/{tenant}/{page}",
            web::get().to(operator_tenant_page),
        )
        .route("/t/{tenant}/console", web::get().to(tenant_home))
        // On a custom domain `/console/assets/…` arrives rewritten to this path.
        .route("/t/{tenant}/console/assets/{file}", web::get().to(asset_of))
        .route("/t/{tenant}/console/{page}", web::get().to(tenant_page));
}

/// One navigation entry.
#[derive(Serialize)]
struct NavItem {
    page: &'static str,
    label: &'static str,
    href: String,
    current: bool,
}

/// What the layout and every page template see.
#[derive(Serialize)]
struct ConsoleView<'a> {
    /// Page name (`clients`, …).
    page: &'a str,
    /// `<title>` and `<h1>` text.
    title: &'a str,
    /// The tenant whose users sign in here (`system` for operators).
    realm: &'a str,
    /// The tenant administered, or empty on the operators' home.
    tenant: &'a str,
    /// URL prefix of this console's tenant pages.
    base: &'a str,
    /// Navigation label of the console (the tenant administered, or "All tenants").
    heading: &'a str,
    /// Links of the navigation.
    nav: Vec<NavItem>,
    /// The operators' link back to the tenant list, when inside a tenant.
    home: Option<&'a str>,
    /// The page's own script (`/console/assets/{page}.js`).
    script: String,
    /// Nonce for `<style>` elements the page creates (the template preview's `srcdoc`).
    style_nonce: &'a str,
    /// The rendered page body, inside `<main>`.
    content: String,
}

/// Where a console page is, resolved from its URL.
struct Place<'a> {
    realm: &'a str,
    tenant: &'a str,
    base: String,
    page: &'a str,
    /// Whether the operators' "All tenants" link is shown.
    operator: bool,
}

/// `GET /console`: the operators' tenant list.
async fn operator_home() -> HttpResponse {
    render(&Place {
        realm: "system",
        tenant: "",
        base: "/console".into(),
        page: "tenants",
        operator: true,
    })
}

/// `GET /console/{page}`: the tenant list again (`tenants`), or the operators' sign-in callback.
async fn operator_page(path: web::Path<String>, templates: web::Data<Templates>) -> HttpResponse {
    let page = path.into_inner();
    match page.as_str() {
        "tenants" | "callback" => render(&Place {
            realm: "system",
            tenant: "",
            base: "/console".into(),
            page: if page == "tenants" {
                "tenants"
            } else {
                "callback"
            },
            operator: true,
        }),
        _ => not_found(&templates, "There is no such console page."),
    }
}

/// `GET /console/tenants/{tenant}`: that tenant's clients page.
async fn operator_tenant_home(path: web::Path<String>) -> HttpResponse {
    see_other(&format!("/console/tenants/{}/clients", path.into_inner()))
}

/// `GET /console/tenants/{tenant}/{page}`: an operator administering one tenant, active or not.
async fn operator_tenant_page(
    path: web::Path<(String, String)>,
    directory: web::Data<Directory>,
    templates: web::Data<Templates>,
) -> HttpResponse {
    let (slug, page) = path.into_inner();
    let Some(page) = tenant_page_name(&page) else {
        return not_found(&templates, "There is no such console page.");
    };
    if let Err(response) = find_tenant(&directory, &templates, &slug, false).await {
        return response;
    }
    render(&Place {
        realm: "system",
        tenant: &slug,
        base: format!("/console/tenants/{slug}"),
        page,
        operator: true,
    })
}

/// `GET /t/{tenant}/console`: the tenant admins' home, its clients page.
async fn tenant_home(path: web::Path<String>) -> HttpResponse {
    see_other(&format!("/t/{}/console/clients", path.into_inner()))
}

/// `GET /t/{tenant}/console/{page}`: a tenant admin's (or auditor's) page, or the callback.
async fn tenant_page(
    path: web::Path<(String, String)>,
    directory: web::Data<Directory>,
    templates: web::Data<Templates>,
) -> HttpResponse {
    let (slug, page) = path.into_inner();
    let page = match page.as_str() {
        "callback" => "callback",
        other => match tenant_page_name(other) {
            Some(page) => page,
            None => return not_found(&templates, "There is no such console page."),
        },
    };
    if let Err(response) = find_tenant(&directory, &templates, &slug, true).await {
        return response;
    }
    render(&Place {
        realm: &slug,
        tenant: &slug,
        base: format!("/t/{slug}/console"),
        page,
        operator: false,
    })
}

/// The static name of a tenant page.
fn tenant_page_name(page: &str) -> Option<&'static str> {
    TENANT_PAGES.iter().copied().find(|p| *p == page)
}

/// Checks that tenant `slug` exists (and, for its own console, is active); else the HTML page
/// to answer with.
async fn find_tenant(
    directory: &Directory,
    templates: &Templates,
    slug: &str,
    must_be_active: bool,
) -> Result<(), HttpResponse> {
    match directory.resolve(slug).await {
        Ok(Some(snapshot)) if !must_be_active || snapshot.is_active() => Ok(()),
        Ok(Some(_)) => Err(error_page(
            templates,
            StatusCode::FORBIDDEN,
            "This tenant is disabled.",
        )),
        Ok(None) => Err(not_found(templates, "There is no such tenant.")),
        Err(TenantError::Unavailable) => Err(error_page(
            templates,
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable. Try again shortly.",
        )),
        Err(e) => {
            tracing::error!(error = ?e, "tenant resolution failed");
            Err(error_page(
                templates,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong.",
            ))
        }
    }
}

/// Renders the page at `place` inside the layout.
fn render(place: &Place<'_>) -> HttpResponse {
    let engine = match ENGINE.as_ref() {
        Ok(engine) => engine,
        Err(e) => {
            tracing::error!(error = %e, "console templates do not compile");
            return plain_error();
        }
    };
    let title = PAGES
        .iter()
        .find(|(name, _, _)| *name == place.page)
        .map_or("Console", |(_, label, _)| *label);
    let nonce = tessera_core::secret::random_token(16);
    let nav = navigation(place);
    let mut view = ConsoleView {
        page: place.page,
        title,
        realm: place.realm,
        tenant: place.tenant,
        base: &place.base,
        heading: if place.tenant.is_empty() {
            "All tenants"
        } else {
            place.tenant
        },
        nav,
        home: (place.operator && !place.tenant.is_empty()).then_some("/console"),
        script: format!("/console/assets/{}.js", place.page),
        style_nonce: &nonce,
        content: String::new(),
    };
    let html = engine.render(place.page, &view).and_then(|content| {
        view.content = content;
        engine.render("layout", &view)
    });
    match html {
        Ok(html) => page_response(StatusCode::OK, &console_csp(&nonce), html),
        Err(e) => {
            tracing::error!(page = place.page, error = %e, "console page failed to render");
            plain_error()
        }
    }
}

/// The navigation of a page: the tenant list (and the system tenant's audit log) on the
/// operators' home, the tenant's pages inside one.
fn navigation(place: &Place<'_>) -> Vec<NavItem> {
    let label = |page: &str| {
        PAGES
            .iter()
            .find(|(name, _, _)| *name == page)
            .map_or("", |(_, label, _)| *label)
    };
    if place.tenant.is_empty() {
        return vec![
            NavItem {
                page: "tenants",
                label: "Tenants",
                href: "/console".into(),
                current: place.page == "tenants",
            },
            NavItem {
                page: "audit",
                label: "Audit log",
                href: "/console/tenants/system/audit".into(),
                current: false,
            },
        ];
    }
    TENANT_PAGES
        .iter()
        .map(|page| NavItem {
            page,
            label: label(page),
            href: format!("{}/{page}", place.base),
            current: *page == place.page,
        })
        .collect()
}

/// The console's policy (issue 8: the same rules as the sign-in pages): scripts and styles only
/// from this origin, plus `<style>` elements carrying this response's nonce (the template
/// preview); API calls only to this origin; never framed.
fn console_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' data: https:; connect-src 'self'; frame-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// An HTML response that is never cached or sniffed and sends no referrer.
fn page_response(status: StatusCode, csp: &str, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .insert_header((CONTENT_SECURITY_POLICY, csp.to_owned()))
        .body(html)
}

/// The built-in error page with neutral branding.
fn error_page(templates: &Templates, status: StatusCode, message: &str) -> HttpResponse {
    let nonce = tessera_core::secret::random_token(16);
    let title = "Console page not available";
    let code = if status == StatusCode::NOT_FOUND {
        "not_found"
    } else if status == StatusCode::FORBIDDEN {
        "access_denied"
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        "temporarily_unavailable"
    } else {
        "server_error"
    };
    let html = templates.render_neutral(
        "error",
        title,
        &nonce,
        json!({ "title": title, "message": message, "code": code }),
    );
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src data: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    page_response(status, &csp, html)
}

/// The 404 page of an unknown console page or tenant.
fn not_found(templates: &Templates, message: &str) -> HttpResponse {
    error_page(templates, StatusCode::NOT_FOUND, message)
}

/// A last-resort page when the console templates themselves fail.
fn plain_error() -> HttpResponse {
    page_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        "<!doctype html><title>Console unavailable</title><p>The console is unavailable.</p>"
            .to_owned(),
    )
}

/// A 303 to `location` (a path on this server).
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /console/assets/{file}`: an embedded stylesheet or script.
async fn asset(path: web::Path<String>, templates: web::Data<Templates>) -> HttpResponse {
    serve_asset(&path.into_inner(), &templates)
}

/// `GET /t/{tenant}/console/assets/{file}`: the same assets under a tenant's custom domain.
async fn asset_of(
    path: web::Path<(String, String)>,
    templates: web::Data<Templates>,
) -> HttpResponse {
    serve_asset(&path.into_inner().1, &templates)
}

fn serve_asset(file: &str, templates: &Templates) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, source)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, *content_type))
            .insert_header((CACHE_CONTROL, "public, max-age=300"))
            .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((REFERRER_POLICY, "no-referrer"))
            .body(*source),
        None => not_found(templates, "There is no such console file."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_templates_compile() {
        if let Err(e) = ENGINE.as_ref() {
            panic!("{e}");
        }
    }

    #[test]
    fn every_tenant_page_has_a_template_and_a_script() {
        for page in TENANT_PAGES.iter().chain(&["tenants", "callback"]) {
            assert!(PAGES.iter().any(|(name, _, _)| name == page), "{page}");
            let script = format!("{page}.js");
            assert!(ASSETS.iter().any(|(name, _, _)| *name == script), "{page}");
        }
    }
}
