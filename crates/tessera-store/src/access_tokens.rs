//! Opaque access tokens, addressed by `(tenant_id, SHA-256 hex of the token)`: the token itself
//! is never stored, so a database leak yields no usable token.

use std::sync::Arc;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, QueryFilter, Set,
};
use tessera_core::{ClientId, TenantId};

use crate::codes::parse_scopes;
use crate::entity::{access_token as token, token_family as family, user};
use crate::{
    AccessTokenRecord, Store, StoreError, UserRecord, json_list, parse_json_list, revocations,
};

/// How long a cached [`find_live`] answer is trusted at most, even when no revocation signal
/// arrives (a lost change-feed entry, a session that merely idled out).
pub const CACHE_TTL_SECONDS: i64 = 10;

/// How many active tokens a node keeps cached (about 1 KiB each).
pub const CACHE_ENTRIES: usize = 20_000;

/// The per-node cache of [`find_live`] answers, keyed by tenant and token hash.
pub type ActiveTokenCache = quick_cache::sync::Cache<(TenantId, String), CachedToken>;

/// One cached [`find_live`] answer.
#[derive(Clone, Debug)]
pub struct CachedToken {
    token: Arc<LiveAccessToken>,
    /// The tenant's [`revocations::generation`] read before the row was.
    generation: u64,
    /// Unix seconds after which it must be read again: the token's or its grant's end, or
    /// [`CACHE_TTL_SECONDS`] after it was read, whichever comes first.
    valid_until: i64,
}

/// An opaque access token that is active as far as the database knows: not revoked, not
/// expired, and — for a user token — its grant (token family) live and its user present.
#[derive(Clone, Debug)]
pub struct LiveAccessToken {
    /// The token's row.
    pub record: AccessTokenRecord,
    /// Its user (whose status is the caller's to check), for a user token; never with a
    /// password hash.
    pub user: Option<UserRecord>,
}

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
    crate::one_by_key(db, token::Entity::find_by_id((tenant, hash.to_owned())))
        .await?
        .map(to_record)
        .transpose()
}

/// The active token with this hash in the tenant, answered from the node's cache when a recent
/// answer is there and no revocation of the tenant's tokens was signalled since
/// ([`revocations`]), else by one query joining the token, its grant and its user. The hot path
/// of introspection and of userinfo with an opaque token.
pub async fn find_live(
    store: &Store,
    tenant: TenantId,
    hash: &str,
    now: i64,
) -> Result<Option<Arc<LiveAccessToken>>, StoreError> {
    let key = (tenant, hash.to_owned());
    // Read before the row: a revocation signalled while the query runs leaves the entry stale.
    let generation = revocations::generation(tenant);
    let fresh = |hit: &CachedToken| hit.generation == generation && now < hit.valid_until;
    let cache = store.active_tokens();
    // Single flight: when an entry is missing or has just gone stale, one request reads the row
    // and the others with the same token wait for its answer instead of all querying at once.
    let mut found = cache.get_value_or_guard_async(&key).await;
    if let Ok(hit) = &found
        && !fresh(hit)
    {
        cache.remove(&key);
        found = cache.get_value_or_guard_async(&key).await;
    }
    let guard = match found {
        Ok(hit) if fresh(&hit) => return Ok(Some(hit.token)),
        // Loaded by another request under an older generation: read it again, uncached.
        Ok(_) => None,
        Err(guard) => Some(guard),
    };
    // On an error or an inactive token the guard is dropped: a waiting request reads the row.
    let Some((token, grant_ends)) = live(store.conn(), tenant, hash, now).await? else {
        return Ok(None);
    };
    let token = Arc::new(token);
    let valid_until = [
        now + CACHE_TTL_SECONDS,
        token.record.expires_at,
        grant_ends.unwrap_or(i64::MAX),
    ]
    .into_iter()
    .fold(i64::MAX, std::cmp::min);
    let entry = CachedToken {
        token: Arc::clone(&token),
        generation,
        valid_until,
    };
    match guard {
        Some(guard) => {
            let _ = guard.insert(entry);
        }
        None => cache.insert(key, entry),
    }
    Ok(Some(token))
}

/// `SELECT` token, grant end and user `FROM access_tokens LEFT JOIN token_families LEFT JOIN
/// users` for an active token: the row of [`find_live`], with when its grant ends.
async fn live<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    hash: &str,
    now: i64,
) -> Result<Option<(LiveAccessToken, Option<i64>)>, StoreError> {
    let mut select = Query::select();
    for col in token::Column::iter() {
        select.expr_as(
            Expr::col((token::Entity, col)),
            format!("t_{}", col.as_str()),
        );
    }
    for col in user::Column::iter() {
        select.expr_as(
            Expr::col((user::Entity, col)),
            format!("u_{}", col.as_str()),
        );
    }
    select
        .expr_as(
            Expr::col((family::Entity, family::Column::ExpiresAt)),
            "f_expires_at",
        )
        .from(token::Entity)
        .left_join(
            family::Entity,
            Expr::col((family::Entity, family::Column::TenantId))
                .equals((token::Entity, token::Column::TenantId))
                .and(
                    Expr::col((family::Entity, family::Column::Id))
                        .equals((token::Entity, token::Column::FamilyId)),
                ),
        )
        .left_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::TenantId))
                .equals((token::Entity, token::Column::TenantId))
                .and(
                    Expr::col((user::Entity, user::Column::Id))
                        .equals((family::Entity, family::Column::UserId)),
                ),
        )
        .and_where(Expr::col((token::Entity, token::Column::TenantId)).eq(tenant))
        .and_where(Expr::col((token::Entity, token::Column::TokenHash)).eq(hash))
        .and_where(Expr::col((token::Entity, token::Column::RevokedAt)).is_null())
        .and_where(Expr::col((token::Entity, token::Column::ExpiresAt)).gt(now))
        // A token of a grant lives with it: the family live, and issued for its user.
        .cond_where(
            Condition::any()
                .add(Expr::col((token::Entity, token::Column::FamilyId)).is_null())
                .add(
                    Condition::all()
                        .add(Expr::col((family::Entity, family::Column::RevokedAt)).is_null())
                        .add(Expr::col((family::Entity, family::Column::ExpiresAt)).gt(now))
                        .add(
                            Expr::col((family::Entity, family::Column::UserId))
                                .equals((token::Entity, token::Column::UserId)),
                        )
                        .add(Expr::col((user::Entity, user::Column::Id)).is_not_null()),
                ),
        );
    let Some(row) = db.query_one(&select).await? else {
        return Ok(None);
    };
    let record = to_record(token::Model::from_query_result(&row, "t_")?)?;
    let user = match record.family_id {
        Some(_) => {
            let mut user = crate::users::to_record(user::Model::from_query_result(&row, "u_")?)?;
            user.password_hash = None;
            Some(user)
        }
        None => None,
    };
    let grant_ends: Option<i64> = row.try_get("", "f_expires_at")?;
    Ok(Some((LiveAccessToken { record, user }, grant_ends)))
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
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
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
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
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
