//! Admin REST API under `/admin/v1`: tenants, clients, scopes, signing keys, tenant admins, and
//! each tenant's settings and page templates, for operators and tenant admins holding a bearer
//! JWT of the system tenant. The route table below is the single list that both registers the
//! handlers and is checked against the OpenAPI document served at `/admin/v1/openapi.json`.

mod admins;
mod audit;
mod auth;
mod branding;
mod clients;
pub mod domains;
mod error;
mod events;
mod grants;
mod keys;
pub mod lifecycle;
mod mail;
mod openapi;
mod registration;
mod resources;
mod scopes;
mod tenants;
mod users;

use actix_web::web;
use serde::Serialize;

pub use auth::AdminPrincipal;
pub use error::AdminError;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/admin/v1";

/// Largest accepted JSON request body, in bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body whose rejection (malformed, unknown field, wrong content type, too
/// large) surfaces inside the handler, so authentication is always decided first.
type Body<T> = Result<web::Json<T>, AdminError>;

/// A query string whose rejection surfaces inside the handler, after authentication.
type Query<T> = Result<web::Query<T>, AdminError>;

/// A JSON list response.
#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

/// Declares the routes once: `ROUTES` for the OpenAPI test and `register` for actix.
macro_rules! admin_routes {
    ($( $path:literal => { $( $method:ident => $handler:path ),+ $(,)? } ),+ $(,)?) => {
        /// Every route as `(method, path below PREFIX)`, lowercase methods as in OpenAPI.
        const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )+ ];

        /// Adds one resource per path; other methods on it answer 405 with `Allow`.
        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $(
                .service(
                    web::resource($path)
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(|| async {
                            error::method_not_allowed(&[$( stringify!($method) ),+])
                        })),
                )
            )+
        }
    };
}

admin_routes! {
    "/openapi.json" => { get => openapi::document },
    "/tenants" => { get => tenants::list, post => tenants::create },
    "/tenants/{slug}" => { get => tenants::show, patch => tenants::update, delete => tenants::delete },
    "/tenants/{slug}/clients" => { get => clients::list, post => clients::create },
    "/tenants/{slug}/clients/{client_id}" => {
        get => clients::show,
        patch => clients::update,
        delete => clients::delete,
    },
    "/tenants/{slug}/clients/{client_id}/secret" => { post => clients::rotate_secret },
    "/tenants/{slug}/resource-servers" => { get => resources::list, post => resources::create },
    "/tenants/{slug}/resource-servers/{resource}" => {
        get => resources::show,
        patch => resources::update,
        delete => resources::delete,
    },
    "/tenants/{slug}/scopes" => { get => scopes::list, post => scopes::create },
    "/tenants/{slug}/registration-tokens" => {
        get => registration::list,
        post => registration::create,
    },
    "/tenants/{slug}/registration-tokens/{id}" => { delete => registration::delete },
    "/tenants/{slug}/keys" => { get => keys::list },
    "/tenants/{slug}/keys/rotate" => { post => keys::rotate },
    "/tenants/{slug}/admins" => { post => admins::create },
    "/tenants/{slug}/users" => { get => users::list, post => users::create },
    "/tenants/{slug}/users/{username}" => {
        get => users::show,
        patch => users::update,
        delete => users::delete,
    },
    "/tenants/{slug}/users/{username}/password" => { post => users::set_password },
    "/tenants/{slug}/users/{username}/sessions" => {
        get => users::list_sessions,
        delete => users::end_sessions,
    },
    "/tenants/{slug}/users/{username}/sessions/{id}" => { delete => users::end_session },
    "/tenants/{slug}/users/{username}/mfa" => { delete => users::reset_mfa },
    "/tenants/{slug}/users/{username}/verification" => { post => lifecycle::resend_verification },
    "/tenants/{slug}/users/{username}/password-reset" => { post => lifecycle::force_reset },
    "/tenants/{slug}/users/{username}/unlock" => { post => lifecycle::unlock },
    "/tenants/{slug}/invitations" => { post => lifecycle::invite },
    "/tenants/{slug}/audit-events" => { get => audit::list },
    "/tenants/{slug}/audit-events/export" => { get => audit::export },
    "/tenants/{slug}/users/{username}/disable" => { post => users::disable },
    "/tenants/{slug}/users/{username}/enable" => { post => users::enable },
    "/tenants/{slug}/users/{username}/grants" => { get => grants::list_for_user },
    "/tenants/{slug}/users/{username}/grants/{client_id}" => { delete => grants::revoke_for_user },
    "/tenants/{slug}/clients/{client_id}/grants" => {
        get => grants::list_for_client,
        delete => grants::revoke_for_client,
    },
    "/tenants/{slug}/settings" => {
        get => branding::show_settings,
        put => branding::replace_settings,
        patch => branding::patch_settings,
    },
    "/tenants/{slug}/templates" => { get => branding::list_templates },
    "/tenants/{slug}/templates/{name}" => {
        get => branding::show_template,
        put => branding::replace_template,
        delete => branding::reset_template,
    },
    "/tenants/{slug}/templates/{name}/preview" => { post => branding::preview_template },
    "/tenants/{slug}/templates/{name}/draft" => {
        get => branding::show_draft,
        put => branding::save_draft,
        delete => branding::discard_draft,
    },
    "/tenants/{slug}/templates/{name}/publish" => { post => branding::publish_draft },
    "/tenants/{slug}/templates/{name}/versions" => { get => branding::list_versions },
    "/tenants/{slug}/templates/{name}/versions/{version}" => { get => branding::show_version },
    "/tenants/{slug}/templates/{name}/versions/{version}/restore" => {
        post => branding::restore_version,
    },
    "/tenants/{slug}/branding/draft" => {
        get => branding::show_branding_draft,
        put => branding::save_branding_draft,
        delete => branding::discard_branding_draft,
    },
    "/tenants/{slug}/branding/publish" => { post => branding::publish_branding },
    "/tenants/{slug}/branding/versions" => { get => branding::list_branding_versions },
    "/tenants/{slug}/branding/versions/{version}" => { get => branding::show_branding_version },
    "/tenants/{slug}/branding/versions/{version}/restore" => {
        post => branding::restore_branding_version,
    },
    "/tenants/{slug}/mail/test" => { post => mail::send_test },
    "/tenants/{slug}/mail/outbox" => { get => mail::list_outbox },
    "/tenants/{slug}/domain" => {
        get => domains::show,
        put => domains::set,
        delete => domains::remove,
    },
    "/tenants/{slug}/domain/verify" => { post => domains::verify },
}

/// Every admin route as `(lowercase method, path below PREFIX)`, e.g. `("get", "/tenants")`:
/// the table the routes are registered from (tests iterate it).
pub fn routes() -> &'static [(&'static str, &'static str)] {
    ROUTES
}

/// Registers every admin route under /admin/v1 on the given ServiceConfig. Requires app data:
/// `web::Data<tessera_tenants::TenantAdmin>`, `web::Data<tessera_tenants::Directory>` and (for the
/// user routes) `web::Data<tessera_authn::Authenticator>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let scope = web::scope(PREFIX)
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(error::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .default_service(web::to(error::no_such_route));
    cfg.service(register(scope));
}

#[cfg(test)]
mod tests {
    use actix_web::http::{StatusCode, header};
    use actix_web::{App, test};
    use serde_json::Value;

    use super::configure;

    async fn call(req: test::TestRequest) -> (StatusCode, header::HeaderMap, Value) {
        let app = test::init_service(App::new().configure(configure)).await;
        let response = test::call_service(&app, req.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        (
            status,
            headers,
            serde_json::from_slice(&body).expect("a JSON body"),
        )
    }

    #[actix_web::test]
    async fn openapi_document_is_served_without_a_token() {
        let (status, headers, doc) =
            call(test::TestRequest::get().uri("/admin/v1/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get(header::CONTENT_TYPE).expect("a content type"),
            "application/json"
        );
        assert_eq!(doc["info"]["title"], "Tessera admin API");
    }

    #[actix_web::test]
    async fn unknown_admin_path_is_json_404() {
        let (status, _, body) = call(test::TestRequest::get().uri("/admin/v1/tenant")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not_found");
    }

    #[actix_web::test]
    async fn wrong_method_is_json_405_listing_the_allowed_ones() {
        let (status, headers, body) = call(test::TestRequest::put().uri("/admin/v1/tenants")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            headers.get(header::ALLOW).expect("an Allow header"),
            "GET, POST"
        );
        assert_eq!(body["error"], "invalid_request");
    }

    #[actix_web::test]
    async fn missing_token_is_401_before_the_body_is_judged() {
        let req = test::TestRequest::post()
            .uri("/admin/v1/tenants")
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload("not json");
        let (status, headers, body) = call(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let challenge = headers.get(header::WWW_AUTHENTICATE).expect("a challenge");
        assert!(
            challenge
                .to_str()
                .expect("ASCII")
                .starts_with("Bearer realm=\"tessera-admin\"")
        );
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(
            headers.get(header::CACHE_CONTROL).expect("Cache-Control"),
            "no-store"
        );
    }

    #[actix_web::test]
    async fn non_bearer_authorization_is_401() {
        let req = test::TestRequest::get()
            .uri("/admin/v1/tenants/acme")
            .insert_header((header::AUTHORIZATION, "Basic b3BzOnNlY3JldA=="));
        let (status, _, body) = call(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_token");
    }
}
