//! Authorization codes, addressed by `(tenant_id, SHA-256 hex of the code)`. Redemption is a
//! compare-and-set on `consumed_at`, so of two concurrent redemptions exactly one wins
//! (RFC 6749 §4.1.2: a code is used once).

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{ClientId, TenantId};

use crate::entity::authorization_code as code;
use crate::{AuthorizationCodeRecord, StoreError, json_list, parse_json_list};

fn to_record(m: code::Model) -> Result<AuthorizationCodeRecord, StoreError> {
    Ok(AuthorizationCodeRecord {
        tenant_id: m.tenant_id,
        code_hash: m.code_hash,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("authorization_codes.client_id".to_owned()))?,
        user_id: m.user_id,
        redirect_uri: m.redirect_uri,
        scopes: parse_scopes("authorization_codes.scopes", &m.scopes)?,
        nonce: m.nonce,
        code_challenge: m.code_challenge,
        code_challenge_method: m.code_challenge_method,
        sid: m.sid,
        auth_time: m.auth_time,
        acr: m.acr,
        amr: parse_json_list("authorization_codes.amr", &m.amr)?,
        claims_request: m
            .claims_request
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("authorization_codes.claims_request: {e}")))?,
        expires_at: m.expires_at,
        consumed_at: m.consumed_at,
        family_id: m.family_id,
        resources: parse_json_list("authorization_codes.resources", &m.resources)?,
        dpop_jkt: m.dpop_jkt,
        created_at: m.created_at,
    })
}

/// Inserts a freshly issued code.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    c: &AuthorizationCodeRecord,
) -> Result<(), StoreError> {
    code::ActiveModel {
        tenant_id: Set(c.tenant_id),
        code_hash: Set(c.code_hash.clone()),
        client_id: Set(c.client_id.to_string()),
        user_id: Set(c.user_id),
        redirect_uri: Set(c.redirect_uri.clone()),
        scopes: Set(c.scopes.to_wire()),
        nonce: Set(c.nonce.clone()),
        code_challenge: Set(c.code_challenge.clone()),
        code_challenge_method: Set(c.code_challenge_method.clone()),
        sid: Set(c.sid.clone()),
        auth_time: Set(c.auth_time),
        acr: Set(c.acr.clone()),
        amr: Set(json_list(&c.amr)),
        claims_request: Set(c.claims_request.as_ref().map(|v| v.to_string())),
        expires_at: Set(c.expires_at),
        consumed_at: Set(c.consumed_at),
        family_id: Set(c.family_id.clone()),
        resources: Set(json_list(&c.resources)),
        dpop_jkt: Set(c.dpop_jkt.clone()),
        created_at: Set(c.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The code with this hash in the tenant, redeemed or not.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    code_hash: &str,
) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
    crate::one_by_key(db, code::Entity::find_by_id((tenant, code_hash.to_owned())))
        .await?
        .map(to_record)
        .transpose()
}

/// Marks an unexpired, unredeemed code redeemed and records the family its redemption creates,
/// in one statement; `false` when it was already redeemed (or expired) — the caller lost the
/// race or is replaying it.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    code_hash: &str,
    family_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = code::Entity::update_many()
        .col_expr(code::Column::ConsumedAt, Expr::value(now))
        .col_expr(code::Column::FamilyId, Expr::value(family_id))
        .filter(code::Column::TenantId.eq(tenant))
        .filter(code::Column::CodeHash.eq(code_hash))
        .filter(code::Column::ConsumedAt.is_null())
        .filter(code::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes every code, of every tenant, that expired before `before`. Expired codes are
/// worthless; a redeemed one is kept until then so a replay can still revoke its family.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = code::Entity::delete_many()
        .filter(code::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Parses a space-delimited scope column.
pub(crate) fn parse_scopes(column: &str, raw: &str) -> Result<tessera_core::ScopeSet, StoreError> {
    tessera_core::ScopeSet::parse(raw).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
