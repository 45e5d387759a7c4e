//! SSO session rows, addressed by `(tenant_id, id_hash)` where `id_hash` is the SHA-256 hex of
//! the cookie value, or by the public `(tenant_id, sid)`. A session of one tenant is invisible
//! from every other tenant.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tessera_core::{TenantId, UserId};

use crate::entity::session;
use crate::{SessionRecord, StoreError, json_list, parse_json_list};

fn to_record(m: session::Model) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        tenant_id: m.tenant_id,
        sid: m.sid,
        user_id: m.user_id,
        auth_time: m.auth_time,
        amr: parse_json_list("amr", &m.amr)?,
        acr: m.acr,
        created_at: m.created_at,
        last_seen_at: m.last_seen_at,
        expires_at: m.expires_at,
    })
}

/// Inserts a session keyed by `id_hash`; a taken hash or `sid` is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    id_hash: &str,
    s: &SessionRecord,
) -> Result<(), StoreError> {
    session::ActiveModel {
        tenant_id: Set(s.tenant_id),
        id_hash: Set(id_hash.to_owned()),
        sid: Set(s.sid.clone()),
        user_id: Set(s.user_id),
        auth_time: Set(s.auth_time),
        amr: Set(json_list(&s.amr)),
        acr: Set(s.acr.clone()),
        created_at: Set(s.created_at),
        last_seen_at: Set(s.last_seen_at),
        expires_at: Set(s.expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The session whose cookie hashes to `id_hash`, expired or not.
pub async fn find_by_hash<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id_hash: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    crate::one_by_key(
        db,
        session::Entity::find_by_id((tenant, id_hash.to_owned())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// The session with this public `sid`, expired or not.
pub async fn find_by_sid<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    sid: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    crate::one_by_key(
        db,
        session::Entity::find()
            .filter(session::Column::TenantId.eq(tenant))
            .filter(session::Column::Sid.eq(sid)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Moves `last_seen_at` forward to `now`; returns whether the row still existed.
pub async fn touch<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(now))
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::IdHash.eq(id_hash))
        .filter(session::Column::LastSeenAt.lt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Deletes the session keyed by `id_hash`; returns whether there was one.
pub async fn delete_by_hash<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id_hash: &str,
) -> Result<bool, StoreError> {
    let res = session::Entity::delete_by_id((tenant, id_hash.to_owned()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Deletes the session with this public `sid`; returns whether there was one.
pub async fn delete_by_sid<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    sid: &str,
) -> Result<bool, StoreError> {
    let res = session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::Sid.eq(sid))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Deletes every session of a user; returns how many.
pub async fn delete_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes the sessions of every tenant whose absolute lifetime ended at or before `now`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, now: i64) -> Result<u64, StoreError> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes a tenant's sessions last used at or before `before` (idle-expired).
pub async fn delete_idle<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    before: i64,
) -> Result<u64, StoreError> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::LastSeenAt.lte(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// The tenants that have at least one session row.
pub async fn tenants_with_sessions<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<TenantId>, StoreError> {
    Ok(session::Entity::find()
        .select_only()
        .column(session::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?)
}

/// The public ids of a user's sessions (read before they are ended, so logout notices can name
/// them).
pub async fn sids_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(session::Entity::find()
        .select_only()
        .column(session::Column::Sid)
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .into_tuple()
        .all(db)
        .await?)
}

/// A user's live sessions, newest first: not past `expires_at` at `now` and last used after
/// `idle_before` (the caller's idle cut-off).
pub async fn live_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    now: i64,
    idle_before: i64,
) -> Result<Vec<SessionRecord>, StoreError> {
    session::Entity::find()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::LastSeenAt.gt(idle_before))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Sid)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Deletes the session `sid` if it belongs to `user`; returns whether there was one.
pub async fn delete_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    sid: &str,
) -> Result<bool, StoreError> {
    let res = session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::Sid.eq(sid))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
