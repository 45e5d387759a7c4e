//! Audit events of admin API actions: one helper so each records its actor
//! (`admin:<client id>`), the request's address and user agent, and small details.

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;
use serde_json::Value;
use tessera_core::{ClientId, TenantId, UserId};
use tessera_store::AuditEventRecord;
use tessera_store::audit;
use tessera_tenants::TenantAdmin;

use crate::AdminPrincipal;

/// The audit actor of an admin API caller.
pub(crate) fn actor(principal: &AdminPrincipal) -> String {
    principal.actor()
}

/// A new event of `action` by the caller, with the request's address (the peer: the admin
/// API is not behind the browser endpoints' trusted-proxy list) and user agent.
pub(crate) fn event(
    tenant: TenantId,
    action: &str,
    principal: &AdminPrincipal,
    req: &HttpRequest,
) -> AuditEventRecord {
    AuditEventRecord::new(tenant, action, actor(principal)).origin(
        req.peer_addr().map(|a| a.ip().to_string()),
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()),
    )
}

/// What an admin action was about.
#[derive(Default)]
pub(crate) struct Subject {
    /// The user concerned.
    pub(crate) user: Option<UserId>,
    /// The client concerned.
    pub(crate) client: Option<ClientId>,
}

/// Records `action` in the log of the tenant `slug` after the change succeeded; a failure
/// (also of finding the tenant) only logs.
pub(crate) async fn record(
    admin: &TenantAdmin,
    slug: &str,
    principal: &AdminPrincipal,
    req: &HttpRequest,
    action: &str,
    subject: Subject,
    details: Value,
) {
    let tenant = match admin.tenant(slug).await {
        Ok(tenant) => tenant,
        Err(e) => {
            tracing::error!(error = %e, action, "recording an audit event failed: no tenant");
            return;
        }
    };
    record_in(admin, tenant.id, principal, req, action, subject, details).await;
}

/// Records `action` in the log of `tenant` after the change succeeded; a failure only logs.
pub(crate) async fn record_in(
    admin: &TenantAdmin,
    tenant: TenantId,
    principal: &AdminPrincipal,
    req: &HttpRequest,
    action: &str,
    subject: Subject,
    details: Value,
) {
    let mut e = event(tenant, action, principal, req).details(details);
    e.user_id = subject.user;
    e.client_id = subject.client;
    audit::record(admin.store().conn(), e).await;
}
