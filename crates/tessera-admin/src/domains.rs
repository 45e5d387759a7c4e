//! `/tenants/{slug}/domain`: a tenant's custom domain, on which it is served as its own issuer
//! (`https://{domain}`). A tenant admin or an operator sets it (pending, with a DNS TXT
//! challenge) or removes it; only an operator verifies it. Verification proves control of the
//! DNS name: the operator checks the `_tessera-challenge.{domain}` TXT record out of band (the
//! server resolves no DNS at run time), so a tenant admin can never route someone else's host to
//! their tenant on their own. Each change is written with its change-feed entry and its audit
//! event in one transaction, so every node re-routes and re-issues within a feed poll.
//!
//! The operations ([`Domains`]) are shared by the admin API (actor `admin:<client id>`) and the
//! `tessera domain …` commands (actor `admin:cli`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_core::Clock;
use tessera_core::secret::random_token;
use tessera_store::domains::{self, DomainRecord};
use tessera_store::{AuditEventRecord, Store, StoreError, TenantRecord, audit};
use tessera_tenants::domains::CustomDomain;
use tessera_tenants::{Directory, domain_issuer};
use uuid::Uuid;

use crate::{AdminError, AdminPrincipal, Body};

/// Audit action: a custom domain was set (pending).
pub const DOMAIN_SET: &str = "domain.set";
/// Audit action: an operator verified a custom domain.
pub const DOMAIN_VERIFIED: &str = "domain.verified";
/// Audit action: a custom domain was removed.
pub const DOMAIN_REMOVED: &str = "domain.removed";

/// The DNS name prefix of the TXT challenge.
pub const CHALLENGE_PREFIX: &str = "_tessera-challenge";
/// The prefix of the TXT record's value.
pub const CHALLENGE_VALUE_PREFIX: &str = "tessera-domain-verification=";

/// Random bytes of a verification token.
const TOKEN_BYTES: usize = 24;

/// How to prove control of the domain.
#[derive(Debug, Serialize)]
pub struct Verification {
    /// Always `dns-txt`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The record's name: `_tessera-challenge.{domain}`.
    pub name: String,
    /// The record's value: `tessera-domain-verification={token}`.
    pub value: String,
}

/// A tenant's custom domain as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct DomainView {
    /// The host name.
    pub domain: String,
    /// `pending` or `verified`.
    pub status: &'static str,
    /// The DNS TXT challenge.
    pub verification: Verification,
    /// The tenant's issuer on the domain, once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once verified.
    pub verified_at: Option<i64>,
}

impl From<DomainRecord> for DomainView {
    fn from(r: DomainRecord) -> Self {
        let verified = r.is_verified();
        Self {
            status: if verified { "verified" } else { "pending" },
            verification: Verification {
                kind: "dns-txt",
                name: format!("{CHALLENGE_PREFIX}.{}", r.domain),
                value: format!("{CHALLENGE_VALUE_PREFIX}{}", r.verification_token),
            },
            issuer: verified.then(|| domain_issuer(&r.domain)),
            created_at: r.created_at,
            verified_at: r.verified_at,
            domain: r.domain,
        }
    }
}

fn store_error(err: StoreError) -> AdminError {
    match err {
        StoreError::NotFound => AdminError::NotFound("domain"),
        StoreError::Conflict => {
            AdminError::Conflict("another tenant already holds this domain".into())
        }
        e if e.is_unavailable() => AdminError::Unavailable,
        e => AdminError::Unexpected(anyhow::Error::new(e).context("custom domain")),
    }
}

/// The custom-domain operations.
pub struct Domains<'a> {
    /// The database.
    pub store: &'a Store,
    /// Knows the deployment's own host names, and is invalidated after each change.
    pub directory: &'a Directory,
}

impl Domains<'_> {
    /// The tenant's domain; `NotFound` when it has none.
    pub async fn show(&self, tenant: &TenantRecord) -> Result<DomainView, AdminError> {
        domains::find_by_tenant(self.store.conn(), tenant.id)
            .await
            .map_err(store_error)?
            .map(DomainView::from)
            .ok_or(AdminError::NotFound("domain"))
    }

    /// Makes `raw` the tenant's pending domain, replacing (and so un-verifying) any other; the
    /// domain it already has is left as it is. `InvalidRequest` for a name that is not a host
    /// name or is the deployment's own; `Conflict` when another tenant holds it.
    pub async fn set(
        &self,
        tenant: &TenantRecord,
        raw: &str,
        actor: &str,
    ) -> Result<DomainView, AdminError> {
        if tenant.is_system {
            return Err(AdminError::InvalidRequest(
                "the system tenant is served on the deployment's own host only".into(),
            ));
        }
        let domain = CustomDomain::parse(raw).map_err(AdminError::InvalidRequest)?;
        if self.directory.is_own_host(domain.as_ref()) {
            return Err(AdminError::InvalidRequest(format!(
                "{domain} is a host name of this deployment itself (server.public_url or server.hosts)"
            )));
        }
        let current = domains::find_by_tenant(self.store.conn(), tenant.id)
            .await
            .map_err(store_error)?;
        if let Some(current) = current.as_ref().filter(|c| c.domain == domain.as_ref()) {
            return Ok(current.clone().into());
        }
        let now = Clock.now();
        let token = random_token(TOKEN_BYTES);
        let txn = self.store.begin().await.map_err(store_error)?;
        let record = domains::set_pending(
            &txn,
            (tenant.id, tenant.slug.as_ref()),
            domain.as_ref(),
            &token,
            now,
        )
        .await
        .map_err(store_error)?;
        let replaced = current.map(|c| c.domain);
        let details = json!({ "domain": domain.as_ref(), "replaced": replaced });
        self.finish(txn, tenant, actor, Some((DOMAIN_SET, details)), now)
            .await?;
        tracing::info!(tenant = %tenant.slug, domain = %domain, actor, "custom domain set (pending)");
        Ok(record.into())
    }

    /// Marks the tenant's domain verified: from now on it is routed and is the tenant's issuer.
    /// Callers must be operators. `NotFound` when the tenant has no domain.
    pub async fn verify(
        &self,
        tenant: &TenantRecord,
        actor: &str,
    ) -> Result<DomainView, AdminError> {
        let now = Clock.now();
        let txn = self.store.begin().await.map_err(store_error)?;
        let record = domains::mark_verified(&txn, (tenant.id, tenant.slug.as_ref()), now)
            .await
            .map_err(store_error)?;
        let event = (record.verified_at == Some(now))
            .then(|| (DOMAIN_VERIFIED, json!({ "domain": record.domain })));
        self.finish(txn, tenant, actor, event, now).await?;
        tracing::info!(tenant = %tenant.slug, domain = %record.domain, actor, "custom domain verified");
        Ok(record.into())
    }

    /// Removes the tenant's domain: routing and issuer revert to the path form. `NotFound` when
    /// it has none.
    pub async fn remove(
        &self,
        tenant: &TenantRecord,
        actor: &str,
    ) -> Result<DomainView, AdminError> {
        let now = Clock.now();
        let txn = self.store.begin().await.map_err(store_error)?;
        let record = domains::delete(&txn, (tenant.id, tenant.slug.as_ref()), now)
            .await
            .map_err(store_error)?;
        let details = json!({ "domain": record.domain });
        self.finish(txn, tenant, actor, Some((DOMAIN_REMOVED, details)), now)
            .await?;
        tracing::info!(tenant = %tenant.slug, domain = %record.domain, actor, "custom domain removed");
        Ok(record.into())
    }

    /// Appends the audit event (`action`, `details`), if any, to `txn`, commits it and
    /// invalidates the directory, so every node re-routes the tenant.
    async fn finish(
        &self,
        txn: tessera_store::DatabaseTransaction,
        tenant: &TenantRecord,
        actor: &str,
        event: Option<(&str, Value)>,
        now: i64,
    ) -> Result<(), AdminError> {
        if let Some((action, details)) = event {
            record_event(&txn, tenant, action, actor, details, now).await?;
        }
        txn.commit().await.map_err(|e| store_error(e.into()))?;
        self.directory.invalidate(tenant.slug.as_ref());
        Ok(())
    }
}

/// Appends the audit event of `action` by `actor` on the caller's transaction.
async fn record_event(
    txn: &tessera_store::DatabaseTransaction,
    tenant: &TenantRecord,
    action: &str,
    actor: &str,
    details: Value,
    now: i64,
) -> Result<(), AdminError> {
    audit::insert(
        txn,
        &AuditEventRecord {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            occurred_at: now,
            action: action.to_owned(),
            actor: actor.to_owned(),
            user_id: None,
            client_id: None,
            ip: None,
            user_agent: None,
            details,
        },
    )
    .await
    .map_err(store_error)
}

/// `PUT /tenants/{slug}/domain` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetDomain {
    domain: String,
}

/// The tenant the path names, once the caller may administer it.
async fn tenant(
    principal: &AdminPrincipal,
    directory: &Directory,
    raw_slug: &str,
) -> Result<TenantRecord, AdminError> {
    let slug = principal.authorize_tenant(raw_slug).await?;
    directory
        .resolve(slug.as_ref())
        .await?
        .map(|snapshot| snapshot.tenant.clone())
        .ok_or(AdminError::NotFound("tenant"))
}

fn actor(principal: &AdminPrincipal) -> String {
    principal.actor()
}

/// `GET /tenants/{slug}/domain`.
pub(crate) async fn show(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &directory, &path).await?;
    let ops = Domains {
        store: &store,
        directory: &directory,
    };
    Ok(HttpResponse::Ok().json(ops.show(&tenant).await?))
}

/// `PUT /tenants/{slug}/domain`: tenant admins and operators.
pub(crate) async fn set(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    path: web::Path<String>,
    body: Body<SetDomain>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &directory, &path).await?;
    let body = body?.into_inner();
    let ops = Domains {
        store: &store,
        directory: &directory,
    };
    let view = ops.set(&tenant, &body.domain, &actor(&principal)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /tenants/{slug}/domain/verify`: operators only.
pub(crate) async fn verify(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &directory, &path).await?;
    principal.require_operator().map_err(|_| {
        AdminError::AccessDenied(
            "only an operator may verify a domain, after checking its DNS TXT record",
        )
    })?;
    let ops = Domains {
        store: &store,
        directory: &directory,
    };
    Ok(HttpResponse::Ok().json(ops.verify(&tenant, &actor(&principal)).await?))
}

/// `DELETE /tenants/{slug}/domain`: 204.
pub(crate) async fn remove(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &directory, &path).await?;
    let ops = Domains {
        store: &store,
        directory: &directory,
    };
    ops.remove(&tenant, &actor(&principal)).await?;
    Ok(HttpResponse::NoContent().finish())
}
