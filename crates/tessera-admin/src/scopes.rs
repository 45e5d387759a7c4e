//! `/tenants/{slug}/scopes`: list a tenant's scope definitions and define new ones.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tessera_core::Scope;
use tessera_tenants::TenantAdmin;

use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Body, Items, PREFIX};

/// `POST /tenants/{slug}/scopes` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateScope {
    name: Scope,
    description: String,
    #[serde(default)]
    claims: Vec<String>,
}

/// Lists a tenant's scopes, standard ones included.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.list_scopes(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Defines a scope.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<CreateScope>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    let scope = admin
        .define_scope(
            slug.as_ref(),
            body.name.as_ref(),
            &body.description,
            body.claims,
        )
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, scope = %scope.name, "admin API defined a scope");
    let details = serde_json::json!({ "scope": scope.name });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "scope.created",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("{PREFIX}/tenants/{slug}/scopes")))
        .json(scope))
}
