//! Custom domains (`tenant_domains`): at most one per tenant, unique across the deployment.
//! Every write appends a change-feed entry for its tenant on the caller's connection (use a
//! transaction), so every node drops the tenant's snapshot (its issuer changes) and its
//! host-routing cache within one feed poll.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde::Serialize;
use tessera_core::TenantId;

use crate::entity::tenant_domain;
use crate::{StoreError, feed};

/// The change-feed `what` of a domain change.
pub const FEED_WHAT: &str = "domain";

/// A tenant's custom domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainRecord {
    /// Lowercase ASCII host name.
    pub domain: String,
    /// Owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// The value of the DNS TXT record that proves control of the name.
    pub verification_token: String,
    /// Unix seconds of verification; `None` while pending.
    pub verified_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

impl DomainRecord {
    /// Whether an operator has verified it (only verified domains are routed).
    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

fn to_record(m: tenant_domain::Model) -> DomainRecord {
    DomainRecord {
        domain: m.domain,
        tenant_id: m.tenant_id,
        verification_token: m.verification_token,
        verified_at: m.verified_at,
        created_at: m.created_at,
    }
}

/// The tenant's domain, pending or verified.
pub async fn find_by_tenant<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Option<DomainRecord>, StoreError> {
    Ok(crate::one_by_key(
        db,
        tenant_domain::Entity::find().filter(tenant_domain::Column::TenantId.eq(tenant)),
    )
    .await?
    .map(to_record))
}

/// The tenant served on `domain` (lowercase), if that domain is verified: one primary-key
/// lookup, the host-routing query.
pub async fn find_verified<C: ConnectionTrait>(
    db: &C,
    domain: &str,
) -> Result<Option<TenantId>, StoreError> {
    Ok(crate::one_by_key(
        db,
        tenant_domain::Entity::find_by_id(domain.to_owned())
            .filter(tenant_domain::Column::VerifiedAt.is_not_null()),
    )
    .await?
    .map(|m| m.tenant_id))
}

/// Makes `domain` the tenant's pending domain, replacing any other (a replaced verified domain
/// stops being routed). Setting the domain the tenant already has changes nothing.
/// [`StoreError::Conflict`] when another tenant holds `domain`.
pub async fn set_pending<C: ConnectionTrait>(
    db: &C,
    tenant: (TenantId, &str),
    domain: &str,
    token: &str,
    now: i64,
) -> Result<DomainRecord, StoreError> {
    let (id, slug) = tenant;
    if let Some(holder) =
        crate::one_by_key(db, tenant_domain::Entity::find_by_id(domain.to_owned())).await?
    {
        return if holder.tenant_id == id {
            Ok(to_record(holder))
        } else {
            Err(StoreError::Conflict)
        };
    }
    tenant_domain::Entity::delete_many()
        .filter(tenant_domain::Column::TenantId.eq(id))
        .exec(db)
        .await?;
    // A concurrent claim of the same name fails here on the primary key (Conflict).
    let model = tenant_domain::ActiveModel {
        domain: Set(domain.to_owned()),
        tenant_id: Set(id),
        verification_token: Set(token.to_owned()),
        verified_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    feed::append(db, Some((id, slug)), FEED_WHAT, now).await?;
    Ok(to_record(model))
}

/// Marks the tenant's domain verified (keeping the first verification time when it already
/// is). [`StoreError::NotFound`] when the tenant has no domain.
pub async fn mark_verified<C: ConnectionTrait>(
    db: &C,
    tenant: (TenantId, &str),
    now: i64,
) -> Result<DomainRecord, StoreError> {
    let (id, slug) = tenant;
    let current = crate::one_by_key(
        db,
        tenant_domain::Entity::find().filter(tenant_domain::Column::TenantId.eq(id)),
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    if current.verified_at.is_some() {
        return Ok(to_record(current));
    }
    let mut active = current.into_active_model();
    active.verified_at = Set(Some(now));
    let model = active.update(db).await?;
    feed::append(db, Some((id, slug)), FEED_WHAT, now).await?;
    Ok(to_record(model))
}

/// Removes the tenant's domain and returns it. [`StoreError::NotFound`] when it has none.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: (TenantId, &str),
    now: i64,
) -> Result<DomainRecord, StoreError> {
    let (id, slug) = tenant;
    let current = find_by_tenant(db, id).await?.ok_or(StoreError::NotFound)?;
    let res = tenant_domain::Entity::delete_many()
        .filter(tenant_domain::Column::TenantId.eq(id))
        .exec(db)
        .await?;
    crate::found(res.rows_affected)?;
    feed::append(db, Some((id, slug)), FEED_WHAT, now).await?;
    Ok(current)
}

/// Deletes the tenant's domain as part of deleting the tenant (whose own feed entry covers it).
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<u64, StoreError> {
    Ok(tenant_domain::Entity::delete_many()
        .filter(tenant_domain::Column::TenantId.eq(tenant))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{PoolSettings, Store, TenantRecord, tenants};
    use tessera_core::{SigningAlg, TenantSlug, TenantStatus};

    async fn add_tenant(store: &Store, slug: &str) -> TenantId {
        let record = TenantRecord {
            id: TenantId::new(),
            slug: TenantSlug::parse(slug).unwrap(),
            name: slug.to_owned(),
            status: TenantStatus::Active,
            signing_alg: SigningAlg::Es256,
            is_system: false,
            access_token_ttl: 300,
            key_rotation_interval: 86_400,
            keys_rotate_at: 0,
            settings: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        tenants::insert(store.conn(), &record).await.unwrap();
        record.id
    }

    #[tokio::test]
    async fn a_domain_is_routed_only_once_verified_and_belongs_to_one_tenant() {
        let store = Store::connect("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let acme = add_tenant(&store, "acme").await;
        let other = add_tenant(&store, "other").await;
        let db = store.conn();
        let head = feed::head(db).await.unwrap();

        let pending = set_pending(db, (acme, "acme"), "login.acme.test", "tok", 1)
            .await
            .unwrap();
        assert!(!pending.is_verified());
        assert_eq!(find_verified(db, "login.acme.test").await.unwrap(), None);
        assert!(matches!(
            set_pending(db, (other, "other"), "login.acme.test", "t2", 2).await,
            Err(StoreError::Conflict)
        ));
        let verified = mark_verified(db, (acme, "acme"), 3).await.unwrap();
        assert_eq!(verified.verified_at, Some(3));
        assert_eq!(
            find_verified(db, "login.acme.test").await.unwrap(),
            Some(acme)
        );
        // Replacing the domain un-verifies: the old name stops routing, the new one is pending.
        set_pending(db, (acme, "acme"), "id.acme.test", "tok2", 4)
            .await
            .unwrap();
        assert_eq!(find_verified(db, "login.acme.test").await.unwrap(), None);
        assert_eq!(find_verified(db, "id.acme.test").await.unwrap(), None);
        assert_eq!(
            find_by_tenant(db, acme).await.unwrap().unwrap().domain,
            "id.acme.test"
        );
        // The freed name can now be claimed by another tenant.
        set_pending(db, (other, "other"), "login.acme.test", "t3", 5)
            .await
            .unwrap();
        delete(db, (acme, "acme"), 6).await.unwrap();
        assert!(matches!(
            delete(db, (acme, "acme"), 7).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            mark_verified(db, (acme, "acme"), 8).await,
            Err(StoreError::NotFound)
        ));
        // set, verify, set, set, delete: five feed entries.
        let changes = feed::since(db, head, 100).await.unwrap();
        assert_eq!(changes.len(), 5);
        assert!(changes.iter().all(|c| c.what == FEED_WHAT));
    }
}
