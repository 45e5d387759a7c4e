//! `/tenants/{slug}/clients`: register, list, read, update (PATCH) and delete OAuth clients of a
//! tenant, with their options (authentication method, holder-of-key, default resource, token
//! exchange). A new confidential client's secret is returned once, with `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use tessera_core::{
    ClientId, ClientOptions, ClientType, GrantType, Scope, ScopeSet, SigningAlg, TenantSlug,
    TokenFormat,
};
use tessera_store::ClientRecord;
use tessera_tenants::{ClientUpdate, NewClient, RegisteredClient, TenantAdmin};

use crate::events::{Subject, record};
use crate::users::{MAX_LIMIT, checked_search, next_cursor, page_limit};
use crate::{AdminError, AdminPrincipal, Body, PREFIX, Query};

/// `POST /tenants/{slug}/clients` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateClient {
    name: String,
    /// A public client (RFC 6749 §2.1) gets no secret.
    #[serde(default)]
    public: bool,
    #[serde(default)]
    grant_types: Vec<GrantType>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Vec<Scope>,
    token_format: Option<TokenFormat>,
    /// RP-Initiated Logout 1.0 §3: where the RP may ask to land after logout.
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// A first-party client skips the consent page.
    #[serde(default)]
    first_party: bool,
    /// PKCE S256 required (default); public clients always require it.
    #[serde(default = "yes")]
    require_pkce: bool,
    /// `id_token_signed_response_alg` (default RS256).
    id_token_alg: Option<SigningAlg>,
    /// Authentication method (RFC 8705 §2 adds the TLS ones), holder-of-key binding
    /// (RFC 8705 §3, RFC 9449), default resource (RFC 8707) and token exchange (RFC 8693).
    #[serde(default)]
    options: ClientOptions,
}

/// `PATCH /tenants/{slug}/clients/{client_id}` body: absent fields stay unchanged; a present
/// list or `options` object replaces the registered one whole.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchClient {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// Replaces the grant types, validated as at registration (client type, redirect URIs,
    /// refresh tokens).
    grant_types: Option<Vec<GrantType>>,
    scopes: Option<Vec<Scope>>,
    token_format: Option<TokenFormat>,
    first_party: Option<bool>,
    options: Option<ClientOptions>,
}

fn yes() -> bool {
    true
}

/// A client as just registered, with its secret (confidential clients only, shown this once).
#[derive(Serialize)]
struct CreatedClient {
    client_id: ClientId,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "reveal")]
    client_secret: Option<SecretString>,
    name: String,
    client_type: ClientType,
    grant_types: Vec<GrantType>,
    redirect_uris: Vec<String>,
    scopes: ScopeSet,
    token_format: TokenFormat,
    post_logout_redirect_uris: Vec<String>,
    first_party: bool,
    require_pkce: bool,
    id_token_alg: SigningAlg,
    options: ClientOptions,
    created_at: i64,
}

impl From<RegisteredClient> for CreatedClient {
    fn from(registered: RegisteredClient) -> Self {
        let RegisteredClient {
            client,
            client_secret,
        } = registered;
        Self {
            client_id: client.client_id,
            client_secret,
            name: client.name,
            client_type: client.client_type,
            grant_types: client.grant_types,
            redirect_uris: client.redirect_uris,
            scopes: client.scopes,
            token_format: client.token_format,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            first_party: client.first_party,
            require_pkce: client.require_pkce,
            id_token_alg: client.id_token_alg,
            options: client.options,
            created_at: client.created_at,
        }
    }
}

/// Writes a one-time secret into a response body; the only place this crate exposes one.
pub(crate) fn reveal<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// A response of `status` that will carry a one-time secret: never cached (RFC 6749 §5.1).
fn secret_response(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

/// A 201 response carrying a one-time secret: never cached (RFC 6749 §5.1).
pub(crate) fn created_with_secret(location: String, body: &impl Serialize) -> HttpResponse {
    secret_response(StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// Records `action` about `client` (when its id is valid) in the tenant's audit log.
async fn record_client(
    admin: &TenantAdmin,
    slug: &TenantSlug,
    principal: &AdminPrincipal,
    req: &HttpRequest,
    action: &str,
    client: Option<ClientId>,
    details: Value,
) {
    let subject = Subject { user: None, client };
    record(
        admin,
        slug.as_ref(),
        principal,
        req,
        action,
        subject,
        details,
    )
    .await;
}

/// `GET /tenants/{slug}/clients` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Return clients whose client_id sorts after this one (the previous page's `next`).
    after: Option<String>,
    /// Only clients whose client_id or name starts with this (case-insensitive).
    search: Option<String>,
    /// Page size, 1 to 1000.
    limit: Option<u64>,
}

/// One page of clients; `next` is the `after` of the following page.
#[derive(Serialize)]
struct Page {
    items: Vec<ClientRecord>,
    next: Option<ClientId>,
}

/// Lists a tenant's clients by client_id, a page at a time (never their secret hashes).
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let query = query?.into_inner();
    let limit = page_limit(query.limit, MAX_LIMIT)?;
    let search = checked_search(query.search.as_deref())?;
    let items = admin
        .list_clients(slug.as_ref(), query.after.as_deref(), search, limit)
        .await?;
    let next = next_cursor(&items, limit, |c| c.client_id.clone());
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// Registers a client.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<CreateClient>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    let new = NewClient {
        name: body.name,
        client_type: if body.public {
            ClientType::Public
        } else {
            ClientType::Confidential
        },
        grant_types: body.grant_types,
        redirect_uris: body.redirect_uris,
        scopes: body.scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
        token_format: body.token_format.unwrap_or(TokenFormat::Jwt),
        admin_role: None,
        admin_of: None,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        first_party: body.first_party,
        require_pkce: body.require_pkce,
        id_token_alg: body.id_token_alg,
        options: body.options,
    };
    let registered = admin.register_client(slug.as_ref(), new).await?;
    let client_id = &registered.client.client_id;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client_id, "admin API registered a client");
    let details = serde_json::json!({
        "name": registered.client.name,
        "client_type": registered.client.client_type,
        "grant_types": registered.client.grant_types,
    });
    let client = Some(client_id.clone());
    record_client(
        &admin,
        &slug,
        &principal,
        &req,
        "client.created",
        client,
        details,
    )
    .await;
    let location = format!("{PREFIX}/tenants/{slug}/clients/{client_id}");
    Ok(created_with_secret(
        location,
        &CreatedClient::from(registered),
    ))
}

/// Reads one client.
pub(crate) async fn show(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, client_id) = principal.authorize_tenant_item(path).await?;
    let client = admin.client(slug.as_ref(), &client_id).await?;
    Ok(HttpResponse::Ok().json(client))
}

/// Changes a client's name, redirect URIs, grant types, scopes, token format, consent policy or
/// options.
pub(crate) async fn update(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    body: Body<PatchClient>,
) -> Result<HttpResponse, AdminError> {
    let (slug, client_id) = principal.authorize_tenant_item(path).await?;
    let body = body?.into_inner();
    let changed: Vec<&str> = [
        ("name", body.name.is_some()),
        ("redirect_uris", body.redirect_uris.is_some()),
        (
            "post_logout_redirect_uris",
            body.post_logout_redirect_uris.is_some(),
        ),
        ("grant_types", body.grant_types.is_some()),
        ("scopes", body.scopes.is_some()),
        ("token_format", body.token_format.is_some()),
        ("first_party", body.first_party.is_some()),
        ("options", body.options.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let update = ClientUpdate {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        grant_types: body.grant_types,
        scopes: body
            .scopes
            .map(|scopes| scopes.iter().map(|s| s.as_ref().to_owned()).collect()),
        token_format: body.token_format,
        first_party: body.first_party,
        options: body.options,
    };
    let client = admin
        .update_client(slug.as_ref(), &client_id, update)
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client_id, "admin API updated a client");
    let mut details = serde_json::json!({ "fields": changed });
    if changed.contains(&"grant_types") {
        // Which grants the client now holds is what a reviewer of the log needs to see.
        details["grant_types"] = serde_json::json!(client.grant_types);
    }
    let subject = Some(client.client_id.clone());
    record_client(
        &admin,
        &slug,
        &principal,
        &req,
        "client.updated",
        subject,
        details,
    )
    .await;
    Ok(HttpResponse::Ok().json(client))
}

/// Deletes a client.
pub(crate) async fn delete(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, client_id) = principal.authorize_tenant_item(path).await?;
    admin.delete_client(slug.as_ref(), &client_id).await?;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client_id, "admin API deleted a client");
    let subject = ClientId::parse(&client_id);
    let details = serde_json::json!({});
    record_client(
        &admin,
        &slug,
        &principal,
        &req,
        "client.deleted",
        subject,
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// A client's new secret, shown this once.
#[derive(Serialize)]
struct RotatedSecret {
    client_id: ClientId,
    #[serde(serialize_with = "reveal")]
    client_secret: Option<SecretString>,
}

/// `POST /tenants/{slug}/clients/{client_id}/secret`: replaces a confidential client's secret;
/// the old one stops working at once. 200 with the new secret (never cached, RFC 6749 §5.1);
/// a public client has none (400).
pub(crate) async fn rotate_secret(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, client_id) = principal.authorize_tenant_item(path).await?;
    let rotated = admin
        .rotate_client_secret(slug.as_ref(), &client_id)
        .await?;
    let client_id = rotated.client.client_id;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client_id, "admin API rotated a client secret");
    let subject = Some(client_id.clone());
    let details = serde_json::json!({});
    record_client(
        &admin,
        &slug,
        &principal,
        &req,
        "client.secret_rotated",
        subject,
        details,
    )
    .await;
    Ok(secret_response(StatusCode::OK).json(RotatedSecret {
        client_id,
        client_secret: rotated.client_secret,
    }))
}
