//! `/tenants/{slug}/resource-servers`: create, list, read, update and delete a tenant's resource
//! servers (APIs), the audiences of its access tokens (RFC 8707). In the item path the identifier
//! is one path segment, percent-encoded (`https%3A%2F%2Fapi.example.com%2Forders`); the router
//! keeps an encoded `/` inside the segment and the extractor decodes it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer};
use tessera_core::{TenantSlug, TokenFormat};
use tessera_tenants::{NewResourceServer, ResourceServerUpdate, TenantAdmin};

use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Body, Items, PREFIX};

/// `POST /tenants/{slug}/resource-servers` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateResourceServer {
    /// Absolute `https` URI or `urn:` name, no fragment (RFC 8707 §2).
    identifier: String,
    name: String,
    /// Scopes it owns; each must be defined in the tenant.
    #[serde(default)]
    scopes: Vec<String>,
    /// Format of its access tokens (default `jwt`).
    token_format: Option<TokenFormat>,
    /// Its access-token lifetime in seconds; absent means the tenant's.
    access_token_ttl: Option<i64>,
    /// Confidential clients allowed to introspect its tokens.
    #[serde(default)]
    introspectors: Vec<String>,
}

/// `PATCH /tenants/{slug}/resource-servers/{resource}` body: absent fields stay unchanged;
/// `access_token_ttl: null` returns to the tenant's lifetime.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchResourceServer {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    token_format: Option<TokenFormat>,
    #[serde(default, deserialize_with = "present")]
    access_token_ttl: Option<Option<i64>>,
    introspectors: Option<Vec<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Where a resource server is found: its identifier as one percent-encoded path segment.
fn location(slug: &str, identifier: &str) -> String {
    let mut encoded = String::with_capacity(identifier.len() * 3);
    for byte in identifier.bytes() {
        // RFC 3986 §2.3: unreserved characters stay; everything else is percent-encoded.
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{PREFIX}/tenants/{slug}/resource-servers/{encoded}")
}

/// Lists a tenant's resource servers.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.list_resource_servers(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Creates a resource server.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<CreateResourceServer>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    let created = admin
        .create_resource_server(
            slug.as_ref(),
            NewResourceServer {
                identifier: body.identifier,
                name: body.name,
                scopes: body.scopes,
                token_format: body.token_format.unwrap_or(TokenFormat::Jwt),
                access_token_ttl: body.access_token_ttl,
                introspectors: body.introspectors,
            },
        )
        .await?;
    let changed = Changed(&admin, &principal, &req);
    changed
        .record(&slug, "resource_server.created", &created.identifier)
        .await;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            location(slug.as_ref(), &created.identifier),
        ))
        .json(created))
}

/// Reads one resource server.
pub(crate) async fn show(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, identifier) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    let server = admin.resource_server(slug.as_ref(), &identifier).await?;
    Ok(HttpResponse::Ok().json(server))
}

/// Changes a resource server's settings; its identifier is fixed.
pub(crate) async fn update(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    body: Body<PatchResourceServer>,
) -> Result<HttpResponse, AdminError> {
    let (slug, identifier) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    let body = body?.into_inner();
    let server = admin
        .update_resource_server(
            slug.as_ref(),
            &identifier,
            ResourceServerUpdate {
                name: body.name,
                scopes: body.scopes,
                token_format: body.token_format,
                access_token_ttl: body.access_token_ttl,
                introspectors: body.introspectors,
            },
        )
        .await?;
    let changed = Changed(&admin, &principal, &req);
    changed
        .record(&slug, "resource_server.updated", &identifier)
        .await;
    Ok(HttpResponse::Ok().json(server))
}

/// Deletes a resource server; 409 while a client names it as its default resource or as a
/// token-exchange audience.
pub(crate) async fn delete(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, identifier) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    admin
        .delete_resource_server(slug.as_ref(), &identifier)
        .await?;
    let changed = Changed(&admin, &principal, &req);
    changed
        .record(&slug, "resource_server.deleted", &identifier)
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Who changed a resource server, and through which request.
struct Changed<'a>(&'a TenantAdmin, &'a AdminPrincipal, &'a HttpRequest);

impl Changed<'_> {
    /// Logs `action` on the resource server `identifier` of `slug` and records it in the audit
    /// log.
    async fn record(&self, slug: &TenantSlug, action: &str, identifier: &str) {
        let Changed(admin, principal, req) = *self;
        tracing::info!(admin = %principal, tenant = %slug, resource = %identifier, action, "admin API changed a resource server");
        let details = serde_json::json!({ "resource": identifier });
        record(
            admin,
            slug.as_ref(),
            principal,
            req,
            action,
            Subject::default(),
            details,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_holds_the_identifier_as_one_encoded_segment() {
        assert_eq!(
            location("acme", "https://api.example.com/orders"),
            "/admin/v1/tenants/acme/resource-servers/https%3A%2F%2Fapi.example.com%2Forders"
        );
        assert_eq!(
            location("acme", "urn:example:a~b"),
            "/admin/v1/tenants/acme/resource-servers/urn%3Aexample%3Aa~b"
        );
    }

    #[test]
    fn a_null_ttl_resets_and_an_absent_one_keeps() {
        let patch: PatchResourceServer = serde_json::from_str("{}").expect("empty patch");
        assert_eq!(patch.access_token_ttl, None);
        let patch: PatchResourceServer =
            serde_json::from_str(r#"{"access_token_ttl": null}"#).expect("null ttl");
        assert_eq!(patch.access_token_ttl, Some(None));
        let patch: PatchResourceServer =
            serde_json::from_str(r#"{"access_token_ttl": 600}"#).expect("a ttl");
        assert_eq!(patch.access_token_ttl, Some(Some(600)));
        assert!(serde_json::from_str::<PatchResourceServer>(r#"{"identifier": "x"}"#).is_err());
    }
}
