//! Discovery: OpenID Connect Discovery 1.0 §4 at `/t/{tenant}/.well-known/openid-configuration`
//! and RFC 8414 §3 metadata at `/.well-known/oauth-authorization-server/t/{tenant}`. Both say
//! exactly what the tenant serves today and are rendered once per snapshot.

use std::collections::BTreeSet;

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use tessera_tenants::{Directory, TenantSnapshot};

use crate::{ActiveTenant, OAuthError, tenant::resolve_active};

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    scopes_supported: Vec<&'a str>,
    /// Empty until interactive sign-in ships: no response type is served yet, and metadata must
    /// never advertise what is not implemented.
    response_types_supported: [&'a str; 0],
    response_modes_supported: [&'a str; 1],
    grant_types_supported: [&'a str; 1],
    token_endpoint_auth_methods_supported: [&'a str; 2],
    /// RFC 9207 §3: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_types_supported: Option<[&'a str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_signing_alg_values_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims_supported: Option<Vec<&'a str>>,
}

fn metadata(s: &TenantSnapshot, openid: bool) -> Metadata<'_> {
    let base = &s.issuer;
    let claims: BTreeSet<&str> = s
        .scopes
        .iter()
        .flat_map(|sc| sc.claims.iter().map(String::as_str))
        .collect();
    Metadata {
        issuer: base,
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        jwks_uri: format!("{base}/jwks"),
        scopes_supported: s.scopes.iter().map(|sc| sc.name.as_ref()).collect(),
        response_types_supported: [],
        response_modes_supported: ["query"],
        grant_types_supported: ["client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        authorization_response_iss_parameter_supported: true,
        // OIDC Discovery §3 requires these three; RFC 8414 does not define them.
        subject_types_supported: openid.then_some(["public"]),
        id_token_signing_alg_values_supported: openid.then(|| vec![s.tenant.signing_alg.as_str()]),
        claims_supported: openid.then(|| claims.into_iter().collect()),
    }
}

fn render(bytes: &[u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        // Public documents: browsers' JavaScript clients may read them (RFC 9700 §2.6).
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(bytes.to_vec())
}

/// `GET /t/{tenant}/.well-known/openid-configuration`.
pub async fn openid_configuration(tenant: ActiveTenant) -> HttpResponse {
    let bytes = tenant
        .rendered
        .openid_configuration
        .get_or_init(|| serde_json::to_vec(&metadata(&tenant, true)).unwrap_or_default());
    render(bytes)
}

/// `GET /.well-known/oauth-authorization-server/t/{tenant}` (RFC 8414 §3.1 path insertion).
pub async fn oauth_metadata(
    directory: web::Data<Directory>,
    path: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = resolve_active(&directory, &path).await?;
    let bytes = snapshot
        .rendered
        .oauth_metadata
        .get_or_init(|| serde_json::to_vec(&metadata(&snapshot, false)).unwrap_or_default());
    Ok(render(bytes))
}
