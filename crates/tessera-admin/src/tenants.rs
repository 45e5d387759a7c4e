//! `/tenants` and `/tenants/{slug}`: list (keyset pagination by slug), create, read, update,
//! enable/disable and delete tenants. Creating, deleting and status changes are for operators.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tessera_core::{SigningAlg, TenantId, TenantSlug, TenantStatus};
use tessera_store::TenantRecord;
use tessera_tenants::{NewTenant, TenantAdmin, TenantError, TenantUpdate};

use crate::events::{Subject, record, record_in};
use crate::{AdminError, AdminPrincipal, Body, PREFIX, Query};

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u64 = 50;
/// Largest page size.
const MAX_LIMIT: u64 = 1000;

/// `GET /tenants` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Return tenants whose slug sorts after this one (the previous page's `next`).
    after: Option<String>,
    /// Only tenants whose slug or name contains this text.
    search: Option<String>,
    /// Page size, 1 to 1000.
    limit: Option<u64>,
}

/// One page of tenants; `next` is the `after` of the following page, `null` on the last one.
#[derive(Serialize)]
struct Page {
    items: Vec<TenantRecord>,
    next: Option<TenantSlug>,
}

/// `POST /tenants` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTenant {
    slug: TenantSlug,
    name: Option<String>,
    #[serde(default = "default_alg")]
    alg: SigningAlg,
}

/// RS256 unless asked otherwise: the one algorithm every OIDC library verifies (OIDC Discovery §3).
fn default_alg() -> SigningAlg {
    SigningAlg::Rs256
}

/// `PATCH /tenants/{slug}` body: the editable settings plus the operator-only `status`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchTenant {
    name: Option<String>,
    access_token_ttl: Option<i64>,
    key_rotation_interval: Option<i64>,
    /// Switches the tenant's signing algorithm (`alg`, as at creation; `signing_alg`, as the
    /// tenant record names it, is accepted too).
    #[serde(alias = "signing_alg")]
    alg: Option<SigningAlg>,
    status: Option<TenantStatus>,
}

/// Lists tenants: every tenant for operators, only its own for a tenant admin.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query?.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    if query
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200)
    {
        return Err(AdminError::InvalidRequest(
            "search must be at most 200 characters".into(),
        ));
    }
    let after = query.after.as_deref();
    let search = query.search.as_deref().filter(|s| !s.is_empty());
    let items = match principal.own_tenant() {
        None => admin.list_tenants(after, search, limit).await?,
        Some(own) => own_tenant(&admin, own)
            .await?
            .filter(|t| after.is_none_or(|a| t.slug.as_ref() > a))
            .filter(|t| search.is_none_or(|s| t.slug.as_ref().contains(s) || t.name.contains(s)))
            .into_iter()
            .collect(),
    };
    let full = u64::try_from(items.len()).is_ok_and(|n| n == limit);
    let next = if full {
        items.last().map(|t| t.slug.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// The tenant a tenant admin administers, unless it is gone (or is, impossibly, the system).
async fn own_tenant(admin: &TenantAdmin, id: TenantId) -> Result<Option<TenantRecord>, AdminError> {
    let tenant = tessera_store::tenants::find_by_id(admin.store().conn(), id)
        .await
        .map_err(|e| TenantError::from_store("tenant", e))?;
    Ok(tenant.filter(|t| !t.is_system))
}

/// Creates a tenant with its standard scopes and signing keys. Operators only.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    body: Body<CreateTenant>,
) -> Result<HttpResponse, AdminError> {
    principal.require_operator()?;
    let body = body?.into_inner();
    let tenant = admin
        .create_tenant(NewTenant {
            slug: body.slug,
            name: body.name,
            alg: body.alg,
        })
        .await?;
    tracing::info!(admin = %principal, tenant = %tenant.slug, "admin API created a tenant");
    let details =
        serde_json::json!({ "slug": tenant.slug, "name": tenant.name, "alg": tenant.signing_alg });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "tenant.created",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("{PREFIX}/tenants/{}", tenant.slug),
        ))
        .json(tenant))
}

/// Reads one tenant.
pub(crate) async fn show(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let tenant = admin.tenant(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(tenant))
}

/// Changes a tenant's settings and, for operators, its status.
pub(crate) async fn update(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<PatchTenant>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    if body.status.is_some() {
        principal.require_operator()?;
    }
    // Refuse up front what set_status would refuse, so a rejected request changes nothing.
    if body.status == Some(TenantStatus::Disabled) && slug == TenantSlug::system() {
        return Err(AdminError::InvalidRequest(
            "the system tenant cannot be disabled".into(),
        ));
    }
    let details = serde_json::json!({
        "name": body.name,
        "access_token_ttl": body.access_token_ttl,
        "key_rotation_interval": body.key_rotation_interval,
        "alg": body.alg,
        "status": body.status,
    });
    let update = TenantUpdate {
        name: body.name,
        access_token_ttl: body.access_token_ttl,
        key_rotation_interval: body.key_rotation_interval,
        signing_alg: body.alg,
    };
    let changes_settings = update.name.is_some()
        || update.access_token_ttl.is_some()
        || update.key_rotation_interval.is_some()
        || update.signing_alg.is_some();
    let mut tenant = if changes_settings {
        Some(admin.update_tenant(slug.as_ref(), update).await?)
    } else {
        None
    };
    if let Some(status) = body.status {
        tenant = Some(admin.set_status(slug.as_ref(), status).await?);
    }
    let tenant = match tenant {
        Some(t) => {
            tracing::info!(admin = %principal, tenant = %slug, "admin API updated a tenant");
            record_in(
                &admin,
                t.id,
                &principal,
                &req,
                "tenant.updated",
                Subject::default(),
                details,
            )
            .await;
            t
        }
        None => admin.tenant(slug.as_ref()).await?,
    };
    Ok(HttpResponse::Ok().json(tenant))
}

/// Deletes a tenant and everything it owns. Operators only.
pub(crate) async fn delete(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    principal.require_operator()?;
    let slug = principal.authorize_tenant(&path).await?;
    let deleted = admin.tenant(slug.as_ref()).await?;
    admin.delete_tenant(slug.as_ref()).await?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API deleted a tenant");
    // The tenant's own log is gone with it: the system tenant's log keeps the deletion.
    let details = serde_json::json!({ "slug": deleted.slug, "tenant_id": deleted.id });
    let system = TenantSlug::system();
    record(
        &admin,
        system.as_ref(),
        &principal,
        &req,
        "tenant.deleted",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn create_body_defaults_to_rs256_and_refuses_unknown_input() {
        let body: CreateTenant = parse(r#"{"slug":"acme"}"#).expect("a minimal body");
        assert_eq!(body.alg, SigningAlg::Rs256);
        assert!(body.name.is_none());
        let body: CreateTenant =
            parse(r#"{"slug":"acme","name":"Acme","alg":"EdDSA"}"#).expect("a full body");
        assert_eq!(body.alg, SigningAlg::EdDsa);

        let err = parse::<CreateTenant>(r#"{"slug":"acme","alg":"HS256"}"#)
            .err()
            .expect("HS256 refused");
        assert!(err.contains("HS256"), "{err}");
        let err = parse::<CreateTenant>(r#"{"slug":"Not A Slug"}"#)
            .err()
            .expect("bad slug refused");
        assert!(err.contains("invalid tenant slug"), "{err}");
        let err = parse::<CreateTenant>(r#"{"slug":"acme","owner":"x"}"#)
            .err()
            .expect("unknown field refused");
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn patch_body_takes_settings_and_status_only() {
        let body: PatchTenant =
            parse(r#"{"status":"disabled","access_token_ttl":600}"#).expect("a patch");
        assert_eq!(body.status, Some(TenantStatus::Disabled));
        assert_eq!(body.access_token_ttl, Some(600));
        assert!(parse::<PatchTenant>(r#"{"status":"paused"}"#).is_err());
        assert!(parse::<PatchTenant>(r#"{"slug":"other"}"#).is_err());
    }
}
