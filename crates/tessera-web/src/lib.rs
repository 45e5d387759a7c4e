//! HTTP edge of Tessera: per-tenant protocol endpoints (discovery, JWKS, authorize, pushed
//! authorization requests (RFC 9126), login,
//! consent, logout, token, device authorization (RFC 8628), userinfo, introspection, revocation, the account page), DPoP proofs and
//! TLS client certificates on requests, the operational endpoints (`/healthz`, `/readyz`,
//! `/metrics`), and the shared plumbing every endpoint uses: the tenant extractor, OAuth error
//! rendering, security headers, request metrics and the template engine. Handlers are thin; the
//! rules live in the domain crates.

mod account;
mod authorize;
mod body;
mod client_cert;
mod client_ip;
mod client_metadata;
mod consent;
mod console;
mod cookies;
mod device;
mod discovery;
mod dpop;
mod error;
mod flow;
mod form;
pub mod hosts;
mod interaction;
mod introspect;
mod invitation;
mod jwks;
mod login;
mod logout;
mod metrics;
mod mfa;
mod ops;
mod page;
mod par;
mod passkeys;
mod password;
mod password_grant;
mod recovery;
mod register;
mod resource_metadata;
mod revoke;
mod self_service;
mod signup;
mod templates;
mod tenant;
mod token;
mod userinfo;
mod verification;

use actix_web::web;

pub use client_cert::{PeerCertificates, TrustedClientCas, client_certificate};
pub use client_ip::TrustedProxies;
pub use discovery::MtlsOrigin;
pub use error::{OAuthError, json_error};
pub use hosts::route_by_host;
pub use metrics::{Metrics, observe};
pub use templates::Templates;
pub use tenant::ActiveTenant;

/// Registers every protocol and operational route. Needs app data: `web::Data<Directory>`,
/// `web::Data<Metrics>` and `web::Data<Templates>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .route(
            "/.well-known/oauth-authorization-server/t/{tenant}",
            web::get().to(discovery::oauth_metadata),
        )
        // The admin console: before the `/t/{tenant}` scope, which would claim its paths.
        .configure(console::configure)
        .service(
            web::scope("/t/{tenant}")
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery::openid_configuration),
                )
                .route("/jwks", web::get().to(jwks::jwks))
                .route(
                    "/resource-metadata/{resource}",
                    web::get().to(resource_metadata::resource_metadata),
                )
                .route("/authorize", web::get().to(authorize::authorize_get))
                .route("/authorize", web::post().to(authorize::authorize_post))
                .route("/par", web::post().to(par::push))
                .route("/register", web::post().to(register::register))
                .route("/register/{client_id}", web::get().to(register::read))
                .route("/register/{client_id}", web::put().to(register::update))
                .route("/register/{client_id}", web::delete().to(register::delete))
                .route("/login", web::post().to(login::login))
                .route("/login/mfa", web::post().to(mfa::verify))
                .route("/login/mfa/enrol", web::post().to(mfa::enrol_at_sign_in))
                .route("/login/continue", web::post().to(mfa::resume))
                .route("/login/passkey", web::post().to(passkeys::begin_sign_in))
                .route(
                    "/login/passkey/finish",
                    web::post().to(passkeys::finish_sign_in),
                )
                .route(
                    "/login/mfa/passkey",
                    web::post().to(passkeys::begin_second_factor),
                )
                .route(
                    "/login/mfa/passkey/finish",
                    web::post().to(passkeys::finish_second_factor),
                )
                .route("/account/passkeys", web::post().to(passkeys::begin_add))
                .route(
                    "/account/passkeys/finish",
                    web::post().to(passkeys::finish_add),
                )
                .route(
                    "/account/passkeys/{id}/remove",
                    web::post().to(passkeys::remove),
                )
                .route("/account/mfa", web::get().to(mfa::manage))
                .route("/account/password", web::get().to(password::change_get))
                .route("/account/password", web::post().to(password::change_post))
                .route("/password/forgot", web::get().to(recovery::forgot_get))
                .route("/password/forgot", web::post().to(recovery::forgot_post))
                .route("/password/reset", web::get().to(recovery::reset_get))
                .route("/password/reset", web::post().to(recovery::reset_post))
                .route("/account/mfa/enrol", web::post().to(mfa::account_enrol))
                .route("/account/mfa/remove", web::post().to(mfa::account_remove))
                .route(
                    "/account/mfa/recovery-codes",
                    web::post().to(mfa::account_regenerate),
                )
                .route("/consent", web::post().to(consent::consent))
                .route("/signup", web::get().to(signup::signup_get))
                .route("/signup", web::post().to(signup::signup_post))
                .route("/verify-email", web::get().to(verification::verify_get))
                .route("/verify-email", web::post().to(verification::verify_post))
                .route("/invitation", web::get().to(invitation::invitation_get))
                .route("/invitation", web::post().to(invitation::invitation_post))
                .route("/account", web::get().to(account::account))
                .route("/account/login", web::post().to(account::login))
                .route(
                    "/account/grants/{client_id}/revoke",
                    web::post().to(account::revoke),
                )
                .route("/logout", web::get().to(logout::logout_get))
                .route("/logout", web::post().to(logout::logout_post))
                .route("/logout/confirm", web::post().to(logout::confirm))
                .route("/token", web::post().to(token::token))
                .route(
                    "/device_authorization",
                    web::post().to(device::device_authorization),
                )
                .route("/device", web::get().to(device::device_get))
                .route("/device", web::post().to(device::device_post))
                .route("/device/confirm", web::post().to(device::device_confirm))
                .route("/introspect", web::post().to(introspect::introspect_token))
                .route("/revoke", web::post().to(revoke::revoke_token))
                .route("/userinfo", web::get().to(userinfo::userinfo_get))
                .route("/userinfo", web::post().to(userinfo::userinfo_post))
                .route(
                    "/userinfo",
                    web::method(actix_web::http::Method::OPTIONS).to(userinfo::userinfo_preflight),
                ),
        );
}

/// Headers every response carries: no MIME sniffing, no framing (RFC 9700 §4.16), no referrer.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", "frame-ancestors 'none'"))
        .add(("Referrer-Policy", "no-referrer"))
}
