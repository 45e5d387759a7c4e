//! The change feed: appended in the same transaction as every tenant-configuration change, and
//! tailed by every node to drop stale snapshots. On PostgreSQL an append also sends a
//! `NOTIFY tessera_changes`, delivered at commit, so listeners need not wait for the next poll.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use tessera_core::TenantId;

use crate::entity::change_feed;
use crate::{ChangeRecord, StoreError, is_postgres};

/// The PostgreSQL channel notified on every append.
pub const NOTIFY_CHANNEL: &str = "tessera_changes";

/// Appends a change for `tenant` (or every tenant when `None`).
pub async fn append<C: ConnectionTrait>(
    db: &C,
    tenant: Option<(TenantId, &str)>,
    what: &str,
    now: i64,
) -> Result<(), StoreError> {
    insert(db, tenant.map(|t| t.0), tenant.map(|t| t.1), what, now).await
}

/// Appends a change that concerns a tenant's data rather than its configuration (e.g.
/// [`crate::revocations::FEED_WHAT`]): it names the tenant by id only, and consumers dispatch on
/// `what` instead of dropping the tenant's snapshot.
pub async fn append_for_tenant_id<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    what: &str,
    now: i64,
) -> Result<(), StoreError> {
    insert(db, Some(tenant), None, what, now).await
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant_id: Option<TenantId>,
    slug: Option<&str>,
    what: &str,
    now: i64,
) -> Result<(), StoreError> {
    change_feed::ActiveModel {
        seq: Default::default(),
        tenant_id: Set(tenant_id),
        tenant_slug: Set(slug.map(str::to_owned)),
        what: Set(what.to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    if is_postgres(db) {
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!("NOTIFY {NOTIFY_CHANNEL}"),
        ))
        .await?;
    }
    Ok(())
}

/// Entries with `seq > after`, oldest first.
pub async fn since<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<ChangeRecord>, StoreError> {
    Ok(change_feed::Entity::find()
        .filter(change_feed::Column::Seq.gt(after))
        .order_by_asc(change_feed::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|m| ChangeRecord {
            seq: m.seq,
            tenant_id: m.tenant_id,
            tenant_slug: m.tenant_slug,
            what: m.what,
            created_at: m.created_at,
        })
        .collect())
}

/// The highest sequence number written so far (0 when empty).
pub async fn head<C: ConnectionTrait>(db: &C) -> Result<i64, StoreError> {
    let seq: Option<i64> = change_feed::Entity::find()
        .select_only()
        .column(change_feed::Column::Seq)
        .order_by_desc(change_feed::Column::Seq)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// Drops entries older than `before`; every node has long applied them.
pub async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    Ok(change_feed::Entity::delete_many()
        .filter(change_feed::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
