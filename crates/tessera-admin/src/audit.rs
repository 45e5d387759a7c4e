//! `/tenants/{slug}/audit-events`: the tenant's audit log (security events and admin actions),
//! newest first, filtered by action or user and paged by time.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tessera_authn::Authenticator;
use tessera_store::audit::{self, AuditFilter};
use tessera_store::{AuditEventRecord, Store};
use tessera_tenants::TenantAdmin;

use crate::users::{next_cursor, page_limit};
use crate::{AdminError, AdminPrincipal, Query};

/// Largest page size.
const MAX_LIMIT: u64 = 500;

/// `GET /tenants/{slug}/audit-events` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only events of this action (`user.invited`, `grant.revoked`, …).
    action: Option<String>,
    /// Only events about the user with this username.
    user: Option<String>,
    /// Only events before this Unix time (the previous page's `next`).
    before: Option<i64>,
    /// Page size, 1 to 500.
    limit: Option<u64>,
}

/// One page of events, newest first; `next` is the `before` of the following page.
#[derive(Serialize)]
struct Page {
    items: Vec<AuditEventRecord>,
    next: Option<i64>,
}

/// Lists the tenant's audit events, newest first. A `user` that does not exist is a 404.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let query = query?.into_inner();
    let limit = page_limit(query.limit, MAX_LIMIT)?;
    let tenant = admin.tenant(slug.as_ref()).await?;
    let user = match &query.user {
        Some(name) => Some(
            authn
                .user_by_username(tenant.id, name)
                .await?
                .ok_or(AdminError::NotFound("user"))?
                .id,
        ),
        None => None,
    };
    let filter = AuditFilter {
        action: query.action,
        user,
        client: None,
        before: query.before,
    };
    let items = audit::list(store.conn(), tenant.id, &filter, limit)
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                AdminError::Unavailable
            } else {
                AdminError::Unexpected(anyhow::Error::new(e).context("audit log"))
            }
        })?;
    let next = next_cursor(&items, limit, |e| e.occurred_at);
    Ok(HttpResponse::Ok().json(Page { items, next }))
}
