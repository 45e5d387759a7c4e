//! Signing-key rows: each tenant's key rings, one per algorithm (the `alg` column). State
//! changes are compare-and-set on the current state, so two nodes rotating the same tenant at
//! once cannot both succeed, and [`lock_ring`] serializes writers that add keys.

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tessera_core::{KeyState, Kid, SigningAlg, TenantId};

use crate::entity::{signing_key, tenant};
use crate::{KeyRecord, StoreError, parse_enum};

fn to_record(m: signing_key::Model) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        tenant_id: m.tenant_id,
        kid: Kid(m.kid),
        alg: parse_enum(&m.alg)?,
        state: parse_enum(&m.state)?,
        public_jwk: serde_json::from_str(&m.public_jwk)
            .map_err(|e| StoreError::Corrupt(format!("public_jwk: {e}")))?,
        sealed_private_key: m.private_key,
        kek_id: m.kek_id,
        created_at: m.created_at,
        activated_at: m.activated_at,
        retired_at: m.retired_at,
        expires_at: m.expires_at,
    })
}

/// Inserts a key.
pub async fn insert<C: ConnectionTrait>(db: &C, k: &KeyRecord) -> Result<(), StoreError> {
    signing_key::ActiveModel {
        tenant_id: Set(k.tenant_id),
        kid: Set(k.kid.0.clone()),
        alg: Set(k.alg.as_str().to_owned()),
        state: Set(k.state.as_str().to_owned()),
        public_jwk: Set(k.public_jwk.to_string()),
        private_key: Set(k.sealed_private_key.clone()),
        kek_id: Set(k.kek_id.clone()),
        created_at: Set(k.created_at),
        activated_at: Set(k.activated_at),
        retired_at: Set(k.retired_at),
        expires_at: Set(k.expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Every key of a tenant, newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<KeyRecord>, StoreError> {
    signing_key::Entity::find()
        .filter(signing_key::Column::TenantId.eq(tenant))
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Moves one key from `from` to `to`, stamping the given times; `false` when the key was not in
/// state `from` (another node got there first).
#[allow(clippy::too_many_arguments)]
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kid: &Kid,
    from: KeyState,
    to: KeyState,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    expires_at: Option<i64>,
) -> Result<bool, StoreError> {
    let mut q = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::State, Expr::value(to.as_str()))
        .filter(signing_key::Column::TenantId.eq(tenant))
        .filter(signing_key::Column::Kid.eq(kid.0.as_str()))
        .filter(signing_key::Column::State.eq(from.as_str()));
    if let Some(at) = activated_at {
        q = q.col_expr(signing_key::Column::ActivatedAt, Expr::value(at));
    }
    if let Some(at) = retired_at {
        q = q.col_expr(signing_key::Column::RetiredAt, Expr::value(at));
    }
    if let Some(at) = expires_at {
        q = q.col_expr(signing_key::Column::ExpiresAt, Expr::value(at));
    }
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// Deletes retired keys of a tenant whose every token has expired.
pub async fn delete_expired<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    now: i64,
) -> Result<u64, StoreError> {
    let res = signing_key::Entity::delete_many()
        .filter(signing_key::Column::TenantId.eq(tenant))
        .filter(signing_key::Column::State.eq(KeyState::Retired.as_str()))
        .filter(signing_key::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes every key of a tenant.
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<(), StoreError> {
    signing_key::Entity::delete_many()
        .filter(signing_key::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// Serializes changes to a tenant's key rings within the transaction `db`: a no-op update of the
/// tenant row, which the database holds locked until the transaction ends (a row lock on
/// PostgreSQL, the single writer lock on SQLite). Call it first in the transaction: a concurrent
/// writer then waits, and its later reads see this writer's keys. `false` when the tenant does
/// not exist.
pub async fn lock_ring<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<bool, StoreError> {
    let res = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::KeysRotateAt,
            Expr::col(tenant::Column::KeysRotateAt),
        )
        .filter(tenant::Column::Id.eq(tenant))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Up to `limit` tenants, ordered by id and after `after`, that have no Active key of `alg`:
/// tenants created before they kept a ring of that algorithm, whose ring must be added.
pub async fn tenants_without_active<C: ConnectionTrait>(
    db: &C,
    alg: SigningAlg,
    after: Option<TenantId>,
    limit: u64,
) -> Result<Vec<TenantId>, StoreError> {
    let with_active = Query::select()
        .column(signing_key::Column::TenantId)
        .from(signing_key::Entity)
        .and_where(signing_key::Column::Alg.eq(alg.as_str()))
        .and_where(signing_key::Column::State.eq(KeyState::Active.as_str()))
        .to_owned();
    let mut q = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::Id.not_in_subquery(with_active));
    if let Some(after) = after {
        q = q.filter(tenant::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(tenant::Column::Id)
        .limit(limit)
        .into_tuple::<TenantId>()
        .all(db)
        .await?)
}
