//! `/tenants/{slug}/registration-tokens`: initial access tokens for dynamic client registration
//! (RFC 7591 §3). The token is returned once, at creation; only its SHA-256 hash is stored, and
//! listing shows no secrets.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tessera_store::registration::InitialAccessTokenRecord;
use tessera_tenants::TenantAdmin;

use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Body, Items, PREFIX};

/// `POST /tenants/{slug}/registration-tokens` body.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CreateToken {
    description: Option<String>,
    /// Lifetime in seconds (60 s to 1 year); absent: no expiry.
    expires_in: Option<i64>,
    /// Registrations it allows; absent: unlimited.
    max_uses: Option<i32>,
}

/// The creation response: the record and the plain token, shown this once.
#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    record: InitialAccessTokenRecord,
    token: String,
}

/// Lists a tenant's initial access tokens (no secrets).
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.list_initial_access_tokens(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Creates an initial access token.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<CreateToken>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    let (body_expires_in, body_max_uses) = (body.expires_in, body.max_uses);
    let created = admin
        .create_initial_access_token(
            slug.as_ref(),
            body.description,
            body.expires_in,
            body.max_uses,
        )
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, id = %created.record.id, "admin API created an initial access token");
    let details = serde_json::json!({
        "id": created.record.id,
        "expires_in": body_expires_in,
        "max_uses": body_max_uses,
    });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "registration_token.created",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "{PREFIX}/tenants/{slug}/registration-tokens/{}",
                created.record.id
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Created {
            token: created.token.expose_secret().to_owned(),
            record: created.record,
        }))
}

/// Deletes an initial access token.
pub(crate) async fn delete(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    admin
        .delete_initial_access_token(slug.as_ref(), &id)
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, id = %id, "admin API deleted an initial access token");
    let details = serde_json::json!({ "id": id });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "registration_token.deleted",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
