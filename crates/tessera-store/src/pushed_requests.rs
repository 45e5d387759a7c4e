//! Pushed authorization requests (RFC 9126), addressed by `(tenant_id, SHA-256 hex of the random
//! part of the request_uri)`. Taking one is a single `DELETE … WHERE` of an unexpired row of the
//! expected client, so of two concurrent uses exactly one gets it (RFC 9126 §4: one-time use).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::TenantId;

use crate::StoreError;
use crate::entity::pushed_request as pushed;

/// A stored pushed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequestRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the random part of the `request_uri`.
    pub handle: String,
    /// The client that pushed it.
    pub client_id: String,
    /// The validated authorization request parameters, a JSON document.
    pub params: serde_json::Value,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// Unix seconds when it was pushed.
    pub created_at: i64,
}

/// Stores a pushed request.
pub async fn insert<C: ConnectionTrait>(db: &C, r: &PushedRequestRecord) -> Result<(), StoreError> {
    pushed::Entity::insert(pushed::ActiveModel {
        tenant_id: Set(r.tenant_id),
        handle: Set(r.handle.clone()),
        client_id: Set(r.client_id.clone()),
        params: Set(r.params.to_string()),
        expires_at: Set(r.expires_at),
        created_at: Set(r.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Takes (reads and deletes) the unexpired request `handle` of `client_id` in the tenant; `None`
/// when there is none: unknown, expired, another client's, or already taken. Read and delete
/// are separate statements, and only the caller whose delete removed the row gets it.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    handle: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<PushedRequestRecord>, StoreError> {
    let Some(m) =
        crate::one_by_key(db, pushed::Entity::find_by_id((tenant, handle.to_owned()))).await?
    else {
        return Ok(None);
    };
    if m.client_id != client_id || m.expires_at <= now {
        return Ok(None);
    }
    let res = pushed::Entity::delete_many()
        .filter(pushed::Column::TenantId.eq(tenant))
        .filter(pushed::Column::Handle.eq(handle))
        .filter(pushed::Column::ClientId.eq(client_id))
        .filter(pushed::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    let params = serde_json::from_str(&m.params)
        .map_err(|e| StoreError::Corrupt(format!("pushed_requests.params: {e}")))?;
    Ok(Some(PushedRequestRecord {
        tenant_id: m.tenant_id,
        handle: m.handle,
        client_id: m.client_id,
        params,
        expires_at: m.expires_at,
        created_at: m.created_at,
    }))
}

/// Deletes every pushed request, of every tenant, that expired before `before`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = pushed::Entity::delete_many()
        .filter(pushed::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes every pushed request of a tenant (tenant deletion).
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<u64, StoreError> {
    let res = pushed::Entity::delete_many()
        .filter(pushed::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
