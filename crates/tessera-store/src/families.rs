//! Token families: one per redeemed authorization code, carrying the grant (user, client,
//! scopes, authentication facts) that every descendant token shares. Revoking a family revokes
//! all of its refresh tokens and, through the `gid` claim, its access tokens at userinfo
//! (RFC 9700 §4.14.2, RFC 6749 §4.1.2).

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{ClientId, TenantId, UserId};

use crate::entity::token_family as family;
use crate::{
    StandardClaims, StoreError, TokenFamilyRecord, UserRecord, codes::parse_scopes, json_list,
    parse_enum, parse_json_list,
};

fn to_record(m: family::Model) -> Result<TokenFamilyRecord, StoreError> {
    Ok(TokenFamilyRecord {
        tenant_id: m.tenant_id,
        id: m.id,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("token_families.client_id".to_owned()))?,
        user_id: m.user_id,
        sid: m.sid,
        scopes: parse_scopes("token_families.scopes", &m.scopes)?,
        auth_time: m.auth_time,
        acr: m.acr,
        amr: parse_json_list("token_families.amr", &m.amr)?,
        created_at: m.created_at,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
        revoked_reason: m.revoked_reason,
        resources: parse_json_list("token_families.resources", &m.resources)?,
        dpop_jkt: m.dpop_jkt,
    })
}

/// Inserts a new family.
pub async fn insert<C: ConnectionTrait>(db: &C, f: &TokenFamilyRecord) -> Result<(), StoreError> {
    family::ActiveModel {
        tenant_id: Set(f.tenant_id),
        id: Set(f.id.clone()),
        client_id: Set(f.client_id.to_string()),
        user_id: Set(f.user_id),
        sid: Set(f.sid.clone()),
        scopes: Set(f.scopes.to_wire()),
        auth_time: Set(f.auth_time),
        acr: Set(f.acr.clone()),
        amr: Set(json_list(&f.amr)),
        created_at: Set(f.created_at),
        expires_at: Set(f.expires_at),
        revoked_at: Set(f.revoked_at),
        revoked_reason: Set(f.revoked_reason.clone()),
        resources: Set(json_list(&f.resources)),
        dpop_jkt: Set(f.dpop_jkt.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One family of a tenant, revoked or not.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
) -> Result<Option<TokenFamilyRecord>, StoreError> {
    crate::one_by_key(db, family::Entity::find_by_id((tenant, id.to_owned())))
        .await?
        .map(to_record)
        .transpose()
}

/// Revokes one family; `false` when it does not exist or was already revoked.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = revoke_where(reason, now)
        .filter(family::Column::TenantId.eq(tenant))
        .filter(family::Column::Id.eq(id))
        .exec(db)
        .await?;
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every live family born in the SSO session `sid` (logout); returns how many. With
/// `keep_offline`, families granted `offline_access` survive: that scope asks for access while
/// the user is away, i.e. beyond the session (OIDC Core §11).
pub async fn revoke_by_sid<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    sid: &str,
    keep_offline: bool,
    reason: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let mut update = revoke_where(reason, now)
        .filter(family::Column::TenantId.eq(tenant))
        .filter(family::Column::Sid.eq(sid));
    if keep_offline {
        // `scopes` is space-delimited: pad it so the token matches whole.
        update = update.filter(Expr::cust(
            "(' ' || scopes || ' ') NOT LIKE '% offline_access %'",
        ));
    }
    let res = update.exec(db).await?;
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
    Ok(res.rows_affected)
}

/// Revokes every live family of a user at a client (consent withdrawn); returns how many.
pub async fn revoke_for_client<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
    reason: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let res = revoke_where(reason, now)
        .filter(family::Column::TenantId.eq(tenant))
        .filter(family::Column::UserId.eq(user))
        .filter(family::Column::ClientId.eq(client.as_ref()))
        .exec(db)
        .await?;
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
    Ok(res.rows_affected)
}

/// Revokes every live family of a user (account disabled, password changed); returns how many.
pub async fn revoke_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    reason: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let res = revoke_where(reason, now)
        .filter(family::Column::TenantId.eq(tenant))
        .filter(family::Column::UserId.eq(user))
        .exec(db)
        .await?;
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
    Ok(res.rows_affected)
}

/// `UPDATE token_families SET revoked_at, revoked_reason WHERE revoked_at IS NULL …`: a revoked
/// family keeps its first revocation time and reason.
fn revoke_where(reason: &str, now: i64) -> sea_orm::UpdateMany<family::Entity> {
    family::Entity::update_many()
        .col_expr(family::Column::RevokedAt, Expr::value(now))
        .col_expr(family::Column::RevokedReason, Expr::value(reason))
        .filter(family::Column::RevokedAt.is_null())
}

/// Deletes every family, of every tenant, that ended before `before` (its refresh tokens never
/// outlive it and go with [`refresh::delete_expired`](crate::refresh::delete_expired)).
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = family::Entity::delete_many()
        .filter(family::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// A live family with its user, in one round trip: `None` when the family does not exist, is
/// revoked or has ended, or its user is gone. The hot path of the refresh grant and the
/// userinfo endpoint; the user's status is the caller's to check.
pub async fn live_with_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    family_id: &str,
    now: i64,
) -> Result<Option<(TokenFamilyRecord, UserRecord)>, StoreError> {
    live_with_user_unless(db, tenant, family_id, None, now).await
}

/// [`live_with_user`] for an access token: also `None` when the token's `jti` was revoked
/// (RFC 7009), still in one round trip.
pub async fn live_with_user_unless<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    family_id: &str,
    revoked_jti: Option<&str>,
    now: i64,
) -> Result<Option<(TokenFamilyRecord, UserRecord)>, StoreError> {
    const F: &str = "token_families";
    const U: &str = "users";
    const FAMILY: [&str; 11] = [
        "client_id",
        "user_id",
        "sid",
        "scopes",
        "auth_time",
        "acr",
        "amr",
        "created_at",
        "expires_at",
        "resources",
        "dpop_jkt",
    ];
    const USER: [&str; 7] = [
        "username",
        "email",
        "email_verified",
        "claims",
        "status",
        "created_at",
        "updated_at",
    ];
    let mut select = Query::select();
    for col in FAMILY {
        select.expr_as(Expr::col((F, col)), format!("f_{col}"));
    }
    for col in USER {
        select.expr_as(Expr::col((U, col)), format!("u_{col}"));
    }
    select
        .from(F)
        .inner_join(
            U,
            Expr::col((U, "tenant_id"))
                .equals((F, "tenant_id"))
                .and(Expr::col((U, "id")).equals((F, "user_id"))),
        )
        .and_where(Expr::col((F, "tenant_id")).eq(tenant))
        .and_where(Expr::col((F, "id")).eq(family_id))
        .and_where(Expr::col((F, "revoked_at")).is_null())
        .and_where(Expr::col((F, "expires_at")).gt(now));
    if let Some(jti) = revoked_jti {
        select.and_where(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from("revoked_jtis")
                    .and_where(Expr::col(("revoked_jtis", "tenant_id")).eq(tenant))
                    .and_where(Expr::col(("revoked_jtis", "jti")).eq(jti))
                    .to_owned(),
            )
            .not(),
        );
    }
    let Some(row) = db.query_one(&select).await? else {
        return Ok(None);
    };
    let family = to_record(family::Model {
        tenant_id: tenant,
        id: family_id.to_owned(),
        client_id: row.try_get("", "f_client_id")?,
        user_id: row.try_get("", "f_user_id")?,
        sid: row.try_get("", "f_sid")?,
        scopes: row.try_get("", "f_scopes")?,
        auth_time: row.try_get("", "f_auth_time")?,
        acr: row.try_get("", "f_acr")?,
        amr: row.try_get("", "f_amr")?,
        created_at: row.try_get("", "f_created_at")?,
        expires_at: row.try_get("", "f_expires_at")?,
        revoked_at: None,
        revoked_reason: None,
        resources: row.try_get("", "f_resources")?,
        dpop_jkt: row.try_get("", "f_dpop_jkt")?,
    })?;
    let claims: String = row.try_get("", "u_claims")?;
    let status: String = row.try_get("", "u_status")?;
    let user = UserRecord {
        tenant_id: tenant,
        id: family.user_id,
        username: row.try_get("", "u_username")?,
        email: row.try_get("", "u_email")?,
        email_verified: row.try_get("", "u_email_verified")?,
        claims: serde_json::from_str::<StandardClaims>(&claims)
            .map_err(|e| StoreError::Corrupt(format!("users.claims: {e}")))?,
        // Never needed with a token in hand; not read.
        password_hash: None,
        status: parse_enum(&status)?,
        created_at: row.try_get("", "u_created_at")?,
        updated_at: row.try_get("", "u_updated_at")?,
    };
    Ok(Some((family, user)))
}

/// When each client last received tokens for a user (a redemption or a refresh): one
/// `(client, Unix seconds)` per client the user ever granted, for the account page's "last used".
pub async fn last_used_by_client<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<(ClientId, i64)>, StoreError> {
    let mut select = Query::select();
    select
        .expr_as(Expr::col(("f", "client_id")), "client_id")
        .expr_as(
            Expr::cust("MAX(COALESCE(r.issued_at, f.created_at))"),
            "last_used",
        )
        .from_as("token_families", "f")
        .join_as(
            sea_orm::sea_query::JoinType::LeftJoin,
            "refresh_tokens",
            "r",
            Expr::col(("r", "tenant_id"))
                .equals(("f", "tenant_id"))
                .and(Expr::col(("r", "family_id")).equals(("f", "id"))),
        )
        .and_where(Expr::col(("f", "tenant_id")).eq(tenant))
        .and_where(Expr::col(("f", "user_id")).eq(user))
        .group_by_col(("f", "client_id"));
    let rows = db.query_all(&select).await?;
    rows.into_iter()
        .map(|row| {
            let client: String = row.try_get("", "client_id")?;
            let at: i64 = row.try_get("", "last_used")?;
            let client = ClientId::parse(&client)
                .ok_or_else(|| StoreError::Corrupt("token_families.client_id".to_owned()))?;
            Ok((client, at))
        })
        .collect()
}
