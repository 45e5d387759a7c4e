//! Failed sign-in counters, one row per `(tenant_id, key)`. Writes are compare-and-swap on the
//! row's previous state, so concurrent attempts on one key cannot both pass a limit.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use tessera_core::TenantId;

use crate::entity::login_throttle;
use crate::{StoreError, ThrottleRecord};

fn to_record(m: login_throttle::Model) -> Result<ThrottleRecord, StoreError> {
    Ok(ThrottleRecord {
        tenant_id: m.tenant_id,
        key: m.key,
        failures: u32::try_from(m.failures)
            .map_err(|_| StoreError::Corrupt("login_throttle.failures".to_owned()))?,
        window_started_at: m.window_started_at,
        locked_until: m.locked_until,
        updated_at: m.updated_at,
    })
}

fn failures(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The counter of one key.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    key: &str,
) -> Result<Option<ThrottleRecord>, StoreError> {
    crate::one_by_key(
        db,
        login_throttle::Entity::find_by_id((tenant, key.to_owned())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Writes `new` if the row is still `old` (`None`: still absent). Returns whether it was written;
/// `false` means a concurrent attempt changed the row first and the caller should re-read.
pub async fn compare_and_set<C: ConnectionTrait>(
    db: &C,
    old: Option<&ThrottleRecord>,
    new: &ThrottleRecord,
) -> Result<bool, StoreError> {
    let Some(old) = old else {
        let inserted = login_throttle::ActiveModel {
            tenant_id: Set(new.tenant_id),
            key: Set(new.key.clone()),
            failures: Set(failures(new.failures)),
            window_started_at: Set(new.window_started_at),
            locked_until: Set(new.locked_until),
            updated_at: Set(new.updated_at),
        }
        .insert(db)
        .await;
        return match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let locked_until = match old.locked_until {
        Some(at) => login_throttle::Column::LockedUntil.eq(at),
        None => login_throttle::Column::LockedUntil.is_null(),
    };
    let res = login_throttle::Entity::update_many()
        .col_expr(
            login_throttle::Column::Failures,
            Expr::value(failures(new.failures)),
        )
        .col_expr(
            login_throttle::Column::WindowStartedAt,
            Expr::value(new.window_started_at),
        )
        .col_expr(
            login_throttle::Column::LockedUntil,
            Expr::value(new.locked_until),
        )
        .col_expr(
            login_throttle::Column::UpdatedAt,
            Expr::value(new.updated_at),
        )
        .filter(login_throttle::Column::TenantId.eq(old.tenant_id))
        .filter(login_throttle::Column::Key.eq(old.key.as_str()))
        .filter(login_throttle::Column::Failures.eq(failures(old.failures)))
        .filter(login_throttle::Column::WindowStartedAt.eq(old.window_started_at))
        .filter(login_throttle::Column::UpdatedAt.eq(old.updated_at))
        .filter(locked_until)
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Takes back one counted attempt that turned out to succeed (never below zero), and lifts the
/// lock ending at `lifted_lock` if that attempt set it.
pub async fn forgive_one<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    key: &str,
    lifted_lock: Option<i64>,
) -> Result<(), StoreError> {
    login_throttle::Entity::update_many()
        .col_expr(
            login_throttle::Column::Failures,
            Expr::col(login_throttle::Column::Failures).sub(1),
        )
        .filter(login_throttle::Column::TenantId.eq(tenant))
        .filter(login_throttle::Column::Key.eq(key))
        .filter(login_throttle::Column::Failures.gt(0))
        .exec(db)
        .await?;
    if let Some(until) = lifted_lock {
        login_throttle::Entity::update_many()
            .col_expr(
                login_throttle::Column::LockedUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(login_throttle::Column::TenantId.eq(tenant))
            .filter(login_throttle::Column::Key.eq(key))
            .filter(login_throttle::Column::LockedUntil.eq(until))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Deletes the counter of one key (a successful sign-in clears its account).
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    key: &str,
) -> Result<(), StoreError> {
    login_throttle::Entity::delete_by_id((tenant, key.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a tenant's counters whose window started at or before `window_before` and whose
/// lock, if any, ended at or before `now`: they no longer affect any decision.
pub async fn delete_stale<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    window_before: i64,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::TenantId.eq(tenant))
        .filter(login_throttle::Column::WindowStartedAt.lte(window_before))
        .filter(
            Condition::any()
                .add(login_throttle::Column::LockedUntil.is_null())
                .add(login_throttle::Column::LockedUntil.lte(now)),
        )
        .exec(db)
        .await?
        .rows_affected)
}

/// The tenants that have at least one counter.
pub async fn tenants_with_counters<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<TenantId>, StoreError> {
    Ok(login_throttle::Entity::find()
        .select_only()
        .column(login_throttle::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?)
}
