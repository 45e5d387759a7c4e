//! Opaque access tokens, addressed by `(tenant_id, SHA-256 hex of the token)`: the token itself
//! is never stored, so a database leak yields no usable token.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{ClientId, TenantId};

use crate::codes::parse_scopes;
use crate::entity::access_token as token;
use crate::{AccessTokenRecord, StoreError, json_list, parse_json_list};

fn to_record(m: token::Model) -> Result<AccessTokenRecord, StoreError> {
    Ok(AccessTokenRecord {
        tenant_id: m.tenant_id,
        token_hash: m.token_hash,
        jti: m.jti,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("access_tokens.client_id".to_owned()))?,
        subject: m.subject,
        user_id: m.user_id,
        family_id: m.family_id,
        scopes: parse_scopes("access_tokens.scopes", &m.scopes)?,
        audience: parse_json_list("access_tokens.audience", &m.audience)?,
        issued_at: m.issued_at,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
        jkt: m.jkt,
        x5t: m.x5t,
        auth_time: m.auth_time,
        acr: m.acr,
        amr: parse_json_list("access_tokens.amr", &m.amr)?,
        sid: m.sid,
        act: m
            .act
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("access_tokens.act: {e}")))?,
        userinfo_claims: parse_json_list("access_tokens.userinfo_claims", &m.userinfo_claims)?,
    })
}

/// Inserts a freshly issued token.
pub async fn insert<C: ConnectionTrait>(db: &C, t: &AccessTokenRecord) -> Result<(), StoreError> {
    token::ActiveModel {
        tenant_id: Set(t.tenant_id),
        token_hash: Set(t.token_hash.clone()),
        jti: Set(t.jti.clone()),
        client_id: Set(t.client_id.to_string()),
        subject: Set(t.subject.clone()),
        user_id: Set(t.user_id),
        family_id: Set(t.family_id.clone()),
        scopes: Set(t.scopes.to_wire()),
        audience: Set(json_list(&t.audience)),
        issued_at: Set(t.issued_at),
        expires_at: Set(t.expires_at),
        revoked_at: Set(t.revoked_at),
        jkt: Set(t.jkt.clone()),
        x5t: Set(t.x5t.clone()),
        auth_time: Set(t.auth_time),
        acr: Set(t.acr.clone()),
        amr: Set(json_list(&t.amr)),
        sid: Set(t.sid.clone()),
        act: Set(t.act.as_ref().map(|v| v.to_string())),
        userinfo_claims: Set(json_list(&t.userinfo_claims)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The token with this hash in the tenant, whatever its state (the caller checks expiry,
/// revocation and its family).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    hash: &str,
) -> Result<Option<AccessTokenRecord>, StoreError> {
    token::Entity::find_by_id((tenant, hash.to_owned()))
        .one(db)
        .await?
        .map(to_record)
        .transpose()
}

/// Revokes one token (RFC 7009); `false` when it is unknown or already revoked.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(now))
        .filter(token::Column::TenantId.eq(tenant))
        .filter(token::Column::TokenHash.eq(hash))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every token of a family (the family itself being revoked too); returns how many.
pub async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    family_id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let res = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(now))
        .filter(token::Column::TenantId.eq(tenant))
        .filter(token::Column::FamilyId.eq(family_id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes every token, of every tenant, that expired before `before`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = token::Entity::delete_many()
        .filter(token::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
