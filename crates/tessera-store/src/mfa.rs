//! Second-factor rows of a tenant's users: the TOTP authenticator (`user_totp`, RFC 6238) and
//! recovery codes (`recovery_codes`). Every write that spends something — a TOTP time step, a
//! recovery code — is one conditional `UPDATE`, so of two nodes accepting the same code at once
//! exactly one succeeds.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use tessera_core::{TenantId, UserId};

use crate::StoreError;
use crate::entity::{recovery_code, user_totp};

/// A user's TOTP authenticator as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// The seed sealed under the master key, base64url (never the seed itself).
    pub sealed_secret: String,
    /// Whether enrolment was confirmed with a first code.
    pub confirmed: bool,
    /// The last time step a code was accepted for.
    pub last_used_step: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

fn to_record(m: user_totp::Model) -> TotpRecord {
    TotpRecord {
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        sealed_secret: m.secret,
        confirmed: m.confirmed,
        last_used_step: m.last_used_step,
        created_at: m.created_at,
    }
}

/// The user's authenticator, confirmed or not.
pub async fn find_totp<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<TotpRecord>, StoreError> {
    Ok(
        crate::one_by_key(db, user_totp::Entity::find_by_id((tenant, user)))
            .await?
            .map(to_record),
    )
}

/// Stores a new, unconfirmed authenticator, replacing an unconfirmed one; a confirmed one is
/// never replaced ([`StoreError::Conflict`]).
pub async fn put_unconfirmed_totp<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    sealed_secret: &str,
    now: i64,
) -> Result<(), StoreError> {
    user_totp::Entity::delete_many()
        .filter(user_totp::Column::TenantId.eq(tenant))
        .filter(user_totp::Column::UserId.eq(user))
        .filter(user_totp::Column::Confirmed.eq(false))
        .exec(db)
        .await?;
    user_totp::ActiveModel {
        tenant_id: Set(tenant),
        user_id: Set(user),
        secret: Set(sealed_secret.to_owned()),
        confirmed: Set(false),
        last_used_step: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Confirms the unconfirmed authenticator whose first code was for `step` (which counts as
/// used); `false` when there was none to confirm (a concurrent confirmation won).
pub async fn confirm_totp<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    sealed_secret: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let res = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::Confirmed, Expr::value(true))
        .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
        .filter(user_totp::Column::TenantId.eq(tenant))
        .filter(user_totp::Column::UserId.eq(user))
        .filter(user_totp::Column::Secret.eq(sealed_secret))
        .filter(user_totp::Column::Confirmed.eq(false))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Spends time step `step` of the confirmed authenticator: `true` only if no code of this or a
/// later step was accepted before (RFC 6238 §5.2: "the verifier MUST NOT accept the second
/// attempt of the OTP after the successful validation has been issued for the first OTP").
/// A compare-and-set, so a code is accepted at most once across all nodes.
pub async fn use_totp_step<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    step: i64,
) -> Result<bool, StoreError> {
    let res = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
        .filter(user_totp::Column::TenantId.eq(tenant))
        .filter(user_totp::Column::UserId.eq(user))
        .filter(user_totp::Column::Confirmed.eq(true))
        .filter(
            Condition::any()
                .add(user_totp::Column::LastUsedStep.is_null())
                .add(user_totp::Column::LastUsedStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces the user's recovery codes with `hashes` (SHA-256 hex each).
pub async fn replace_recovery_codes<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::TenantId.eq(tenant))
        .filter(recovery_code::Column::UserId.eq(user))
        .exec(db)
        .await?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes.iter().map(|hash| recovery_code::ActiveModel {
        tenant_id: Set(tenant),
        user_id: Set(user),
        code_hash: Set(hash.clone()),
        used_at: Set(None),
        created_at: Set(now),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Spends the unused recovery code hashing to `hash`: `true` once, `false` ever after (and for
/// a code the user never had).
pub async fn use_recovery_code<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::TenantId.eq(tenant))
        .filter(recovery_code::Column::UserId.eq(user))
        .filter(recovery_code::Column::CodeHash.eq(hash))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// How many unused recovery codes the user has left.
pub async fn recovery_codes_left<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    Ok(recovery_code::Entity::find()
        .filter(recovery_code::Column::TenantId.eq(tenant))
        .filter(recovery_code::Column::UserId.eq(user))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Deletes the user's authenticator and recovery codes; returns the rows removed.
pub async fn delete_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    let a = user_totp::Entity::delete_many()
        .filter(user_totp::Column::TenantId.eq(tenant))
        .filter(user_totp::Column::UserId.eq(user))
        .exec(db)
        .await?;
    let b = recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::TenantId.eq(tenant))
        .filter(recovery_code::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(a.rows_affected + b.rows_affected)
}
