//! One-time values shared by every node: revoked JWT access-token ids (RFC 7009 for tokens by
//! value) and the replay cache of proof and assertion ids (RFC 9449 §11.1, RFC 7523 §3). Both
//! are plain rows with an expiry, so any node sees what another stored, and the janitor drops
//! them once the value could no longer be accepted anyway.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::TenantId;

use crate::StoreError;
use crate::entity::{replay_cache, revoked_jti};

/// Remembers `key` until `expires_at`; `false` when it was already remembered (a replay). The
/// insert is atomic, so of two nodes seeing the same value at once exactly one gets `true`.
pub async fn remember<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    key: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let rows = replay_cache::Entity::insert(replay_cache::ActiveModel {
        tenant_id: Set(tenant),
        key: Set(key.to_owned()),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::columns([replay_cache::Column::TenantId, replay_cache::Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(rows == 1)
}

/// Marks a JWT access token revoked until its expiry.
pub async fn revoke_jti<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    jti: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    revoked_jti::Entity::insert(revoked_jti::ActiveModel {
        tenant_id: Set(tenant),
        jti: Set(jti.to_owned()),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::columns([revoked_jti::Column::TenantId, revoked_jti::Column::Jti])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Whether a JWT access token was revoked.
pub async fn is_jti_revoked<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    jti: &str,
) -> Result<bool, StoreError> {
    Ok(crate::one_by_key(
        db,
        revoked_jti::Entity::find_by_id((tenant, jti.to_owned())),
    )
    .await?
    .is_some())
}

/// Drops replay-cache entries and revoked ids, of every tenant, that ended before `before`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let a = replay_cache::Entity::delete_many()
        .filter(replay_cache::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    let b = revoked_jti::Entity::delete_many()
        .filter(revoked_jti::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(a.rows_affected + b.rows_affected)
}
