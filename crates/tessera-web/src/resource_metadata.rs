//! `GET /t/{tenant}/resource-metadata/{resource}`: the OAuth 2.0 Protected Resource Metadata
//! document (RFC 9728 §2) of one of the tenant's resource servers, `{resource}` being its
//! percent-encoded identifier. A resource server serves it (verbatim, or by proxying to this
//! URL) at its own well-known location (RFC 9728 §3: `/.well-known/oauth-protected-resource`
//! inserted into its identifier) and names it in its `WWW-Authenticate` challenges (§5.1), so
//! clients such as MCP clients find the authorization server, the scopes and the token binding
//! methods from the API alone. Public and cacheable, like the discovery document.

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_core::OAuthErrorCode;

use crate::{ActiveTenant, MtlsOrigin, OAuthError};

/// The metadata of a protected resource (RFC 9728 §2).
#[derive(Serialize)]
struct ResourceMetadata<'a> {
    /// The resource identifier, exactly as the resource server is registered (§3.3: identical
    /// to the one the well-known URL was formed from).
    resource: &'a str,
    /// The tenant, the one authorization server whose tokens it accepts.
    authorization_servers: [&'a str; 1],
    /// The scopes it owns, which clients request to call it.
    scopes_supported: Vec<&'a str>,
    /// Access tokens reach it in the `Authorization` header (RFC 6750 §2.1); the tenant issues
    /// none for the body or the query.
    bearer_methods_supported: [&'a str; 1],
    /// Its display name.
    resource_name: &'a str,
    /// The DPoP proof algorithms the tenant accepts (RFC 9449 §5.1), so tokens for it can be
    /// DPoP-bound.
    dpop_signing_alg_values_supported: &'a [&'a str],
    /// Whether certificate-bound tokens (RFC 8705 §3) can be had: the mutual-TLS listener runs.
    tls_client_certificate_bound_access_tokens: bool,
}

/// Serves the metadata of the resource server named by the last path segment (percent-decoded
/// by the router); 404 `invalid_request` JSON for one the tenant does not have.
pub async fn resource_metadata(
    tenant: ActiveTenant,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OAuthError> {
    let (_, identifier) = path.into_inner();
    let Some(rs) = tenant.0.resource_server(&identifier) else {
        return Err(OAuthError::new(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::InvalidRequest,
            "the tenant has no resource server with this identifier",
        ));
    };
    let mtls = req
        .app_data::<web::Data<MtlsOrigin>>()
        .is_some_and(|m| m.0.is_some());
    let body = ResourceMetadata {
        resource: &rs.identifier,
        authorization_servers: [tenant.0.issuer.as_str()],
        scopes_supported: rs.scopes.iter().map(|s| s.as_ref()).collect(),
        bearer_methods_supported: ["header"],
        resource_name: &rs.name,
        dpop_signing_alg_values_supported: tessera_keys::foreign::DPOP_ALGS,
        tls_client_certificate_bound_access_tokens: mtls,
    };
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(body))
}
