//! The back-channel logout outbox (OpenID Connect Back-Channel Logout 1.0 §2.5): notices are
//! written when a session ends and claimed by delivery workers on any node. A claim moves the
//! row's `next_attempt_at` to the end of a lease in one transaction; on PostgreSQL the rows are
//! selected `FOR UPDATE SKIP LOCKED`, so two nodes never claim the same notice, and a node that
//! dies mid-delivery leaves the row to be claimed again when the lease runs out.

use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use tessera_core::TenantId;
use uuid::Uuid;

use crate::entity::logout_notice as notice;
use crate::{StoreError, is_postgres};

/// Waiting for (another) delivery attempt.
pub const PENDING: &str = "pending";
/// The client acknowledged the logout token.
pub const DELIVERED: &str = "delivered";
/// Every attempt failed.
pub const GIVEN_UP: &str = "given_up";

/// One notice: tell `client_id` that `subject`'s session `sid` ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutNoticeRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Random id of the notice.
    pub id: Uuid,
    /// The client to notify.
    pub client_id: String,
    /// The id of the user whose session ended.
    pub subject: String,
    /// The ended session, when known.
    pub sid: Option<String>,
    /// [`PENDING`], [`DELIVERED`] or [`GIVEN_UP`].
    pub state: String,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// Unix seconds of the next attempt.
    pub next_attempt_at: i64,
    /// Unix seconds when the session ended.
    pub created_at: i64,
}

fn to_record(m: notice::Model) -> LogoutNoticeRecord {
    LogoutNoticeRecord {
        tenant_id: m.tenant_id,
        id: m.id,
        client_id: m.client_id,
        subject: m.subject,
        sid: m.sid,
        state: m.state,
        attempts: m.attempts,
        next_attempt_at: m.next_attempt_at,
        created_at: m.created_at,
    }
}

/// Queues a pending notice, due at once.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &str,
    subject: &str,
    sid: Option<&str>,
    now: i64,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    notice::Entity::insert(notice::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(id),
        client_id: Set(client_id.to_owned()),
        subject: Set(subject.to_owned()),
        sid: Set(sid.map(str::to_owned)),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// Claims up to `limit` pending notices of every tenant due at `now`, oldest first, leasing
/// each until `lease_until` (a worker-wide query, like the janitor's sweeps: each row is then
/// handled under its own tenant).
pub async fn claim_due(
    db: &DatabaseConnection,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<LogoutNoticeRecord>, StoreError> {
    let txn = db.begin().await?;
    let mut select = notice::Entity::find()
        .filter(notice::Column::State.eq(PENDING))
        .filter(notice::Column::NextAttemptAt.lte(now))
        .order_by_asc(notice::Column::NextAttemptAt)
        .limit(limit);
    if is_postgres(&txn) {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = select.all(&txn).await?;
    for row in &rows {
        notice::Entity::update_many()
            .col_expr(notice::Column::NextAttemptAt, Expr::value(lease_until))
            .filter(notice::Column::TenantId.eq(row.tenant_id))
            .filter(notice::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(rows.into_iter().map(to_record).collect())
}

/// Records the outcome of one attempt: the new state, the attempt count and when to retry.
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    state: &str,
    attempts: i32,
    next_attempt_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    notice::Entity::update_many()
        .col_expr(notice::Column::State, Expr::value(state))
        .col_expr(notice::Column::Attempts, Expr::value(attempts))
        .col_expr(notice::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(notice::Column::UpdatedAt, Expr::value(now))
        .filter(notice::Column::TenantId.eq(tenant))
        .filter(notice::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A tenant's notices, newest first (operators and tests inspect delivery).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<LogoutNoticeRecord>, StoreError> {
    Ok(notice::Entity::find()
        .filter(notice::Column::TenantId.eq(tenant))
        .order_by_desc(notice::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect())
}

/// Deletes the delivered and given-up notices of every tenant settled at or before `before`.
pub async fn delete_settled<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    Ok(notice::Entity::delete_many()
        .filter(notice::Column::State.ne(PENDING))
        .filter(notice::Column::UpdatedAt.lte(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes every notice of a tenant.
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<u64, StoreError> {
    Ok(notice::Entity::delete_many()
        .filter(notice::Column::TenantId.eq(tenant))
        .exec(db)
        .await?
        .rows_affected)
}

/// The clients that took part in the SSO session `sid`: those holding a token family born in it,
/// revoked or not (logout revokes them just before the notices are written).
pub async fn clients_of_session<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    sid: &str,
) -> Result<Vec<String>, StoreError> {
    use crate::entity::token_family as family;
    let rows: Vec<String> = family::Entity::find()
        .select_only()
        .column(family::Column::ClientId)
        .distinct()
        .filter(family::Column::TenantId.eq(tenant))
        .filter(family::Column::Sid.eq(sid))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}
