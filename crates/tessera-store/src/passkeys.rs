//! Passkeys of a tenant's users (`user_passkeys`): WebAuthn credentials, several per user, each
//! named by its owner. Every query is scoped to a tenant, and every change a user makes is
//! scoped to that user too, so one user can never list, use or remove another's passkey.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use tessera_core::{PasskeyId, TenantId, UserId};

use crate::StoreError;
use crate::entity::user_passkey;

/// A passkey as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The passkey's id.
    pub id: PasskeyId,
    /// The user it signs in.
    pub user_id: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// base64url of the WebAuthn credential id.
    pub credential_id: String,
    /// The credential as the WebAuthn library serializes it (public key, counter, flags).
    pub passkey: String,
    /// Whether the authenticator may sync the credential (WebAuthn §6.1 flag BE).
    pub backup_eligible: bool,
    /// Whether it was synced at its last use (WebAuthn §6.1 flag BS).
    pub backed_up: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its last sign-in.
    pub last_used_at: Option<i64>,
}

fn to_record(m: user_passkey::Model) -> PasskeyRecord {
    PasskeyRecord {
        tenant_id: m.tenant_id,
        id: m.id,
        user_id: m.user_id,
        name: m.name,
        credential_id: m.credential_id,
        passkey: m.passkey,
        backup_eligible: m.backup_eligible,
        backed_up: m.backed_up,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
    }
}

/// Stores a new passkey; [`StoreError::Conflict`] when its credential id is already registered
/// in the tenant (WebAuthn §7.1 step 26: a credential id belongs to one account only).
pub async fn insert<C: ConnectionTrait>(db: &C, record: &PasskeyRecord) -> Result<(), StoreError> {
    user_passkey::ActiveModel {
        tenant_id: Set(record.tenant_id),
        id: Set(record.id),
        user_id: Set(record.user_id),
        name: Set(record.name.clone()),
        credential_id: Set(record.credential_id.clone()),
        passkey: Set(record.passkey.clone()),
        backup_eligible: Set(record.backup_eligible),
        backed_up: Set(record.backed_up),
        created_at: Set(record.created_at),
        last_used_at: Set(record.last_used_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The user's passkeys, oldest first.
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<PasskeyRecord>, StoreError> {
    Ok(user_passkey::Entity::find()
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::UserId.eq(user))
        .order_by_asc(user_passkey::Column::CreatedAt)
        .order_by_asc(user_passkey::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect())
}

/// How many passkeys the user has.
pub async fn count_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    Ok(user_passkey::Entity::find()
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::UserId.eq(user))
        .count(db)
        .await?)
}

/// The tenant's passkey with credential id `credential_id` (base64url), whoever owns it.
pub async fn find_by_credential<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    credential_id: &str,
) -> Result<Option<PasskeyRecord>, StoreError> {
    Ok(user_passkey::Entity::find()
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::CredentialId.eq(credential_id))
        .one(db)
        .await?
        .map(to_record))
}

/// Records a sign-in with the passkey: its updated credential (sign counter, backup flags) and
/// the time. `false` when it was removed meanwhile.
pub async fn record_use<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: PasskeyId,
    passkey: &str,
    backed_up: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let res = user_passkey::Entity::update_many()
        .col_expr(user_passkey::Column::Passkey, Expr::value(passkey))
        .col_expr(user_passkey::Column::BackedUp, Expr::value(backed_up))
        .col_expr(user_passkey::Column::LastUsedAt, Expr::value(now))
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Removes passkey `id` of `user`; `false` when the user has no such passkey (another user's
/// id included).
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    id: PasskeyId,
) -> Result<bool, StoreError> {
    let res = user_passkey::Entity::delete_many()
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::UserId.eq(user))
        .filter(user_passkey::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Removes every passkey of the user; returns how many there were.
pub async fn delete_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    let res = user_passkey::Entity::delete_many()
        .filter(user_passkey::Column::TenantId.eq(tenant))
        .filter(user_passkey::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
