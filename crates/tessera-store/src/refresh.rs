//! Refresh tokens, addressed by `(tenant_id, SHA-256 hex of the token)`. Rotation is a
//! compare-and-set on `rotated_at`, so of two concurrent refreshes with one token exactly one
//! rotates it; the other sees a rotated token (reuse, or a grace-window use).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{ClientId, TenantId};

use crate::codes::parse_scopes;
use crate::entity::refresh_token as token;
use crate::{RefreshTokenRecord, StoreError};

fn to_record(m: token::Model) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        tenant_id: m.tenant_id,
        token_hash: m.token_hash,
        family_id: m.family_id,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("refresh_tokens.client_id".to_owned()))?,
        scopes: parse_scopes("refresh_tokens.scopes", &m.scopes)?,
        issued_at: m.issued_at,
        expires_at: m.expires_at,
        rotated_at: m.rotated_at,
        successor_hash: m.successor_hash,
        grace_uses: u32::try_from(m.grace_uses)
            .map_err(|_| StoreError::Corrupt("refresh_tokens.grace_uses".to_owned()))?,
    })
}

/// Inserts a new refresh token.
pub async fn insert<C: ConnectionTrait>(db: &C, t: &RefreshTokenRecord) -> Result<(), StoreError> {
    token::ActiveModel {
        tenant_id: Set(t.tenant_id),
        token_hash: Set(t.token_hash.clone()),
        family_id: Set(t.family_id.clone()),
        client_id: Set(t.client_id.to_string()),
        scopes: Set(t.scopes.to_wire()),
        issued_at: Set(t.issued_at),
        expires_at: Set(t.expires_at),
        rotated_at: Set(t.rotated_at),
        successor_hash: Set(t.successor_hash.clone()),
        grace_uses: Set(i32::try_from(t.grace_uses).unwrap_or(i32::MAX)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The refresh token with this hash in the tenant, rotated or not.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
) -> Result<Option<RefreshTokenRecord>, StoreError> {
    crate::one_by_key(
        db,
        token::Entity::find_by_id((tenant, token_hash.to_owned())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Marks a not-yet-rotated token rotated, pointing at its successor; `false` when it was
/// already rotated (a concurrent refresh won).
pub async fn rotate<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
    successor_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = token::Entity::update_many()
        .col_expr(token::Column::RotatedAt, Expr::value(now))
        .col_expr(token::Column::SuccessorHash, Expr::value(successor_hash))
        .filter(token::Column::TenantId.eq(tenant))
        .filter(token::Column::TokenHash.eq(token_hash))
        .filter(token::Column::RotatedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Counts one more use of a rotated token inside the grace window: succeeds only while it was
/// rotated at or after `rotated_since` and has been used fewer than `max_uses` times, so
/// concurrent callers cannot exceed the allowance.
pub async fn use_grace<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
    rotated_since: i64,
    max_uses: u32,
) -> Result<bool, StoreError> {
    let res = token::Entity::update_many()
        .col_expr(
            token::Column::GraceUses,
            Expr::col(token::Column::GraceUses).add(1),
        )
        .filter(token::Column::TenantId.eq(tenant))
        .filter(token::Column::TokenHash.eq(token_hash))
        .filter(token::Column::RotatedAt.gte(rotated_since))
        .filter(token::Column::GraceUses.lt(i32::try_from(max_uses).unwrap_or(i32::MAX)))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes every refresh token, of every tenant, that expired before `before`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = token::Entity::delete_many()
        .filter(token::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
