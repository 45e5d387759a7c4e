//! User rows, always addressed by `(tenant_id, id)` or `(tenant_id, username)`; there is no
//! global user lookup. Deleting a user also removes what it owns in the sign-in tables.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, UpdateMany,
};
use tessera_core::{AdminRole, TenantId, UserId, UserStatus};

use crate::entity::user;
use crate::{StandardClaims, StoreError, UserRecord, found, parse_enum};

pub(crate) fn to_record(m: user::Model) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        tenant_id: m.tenant_id,
        id: m.id,
        username: m.username,
        email: m.email,
        email_verified: m.email_verified,
        claims: serde_json::from_str(&m.claims)
            .map_err(|e| StoreError::Corrupt(format!("user claims: {e}")))?,
        password_hash: m.password_hash,
        status: parse_enum(&m.status)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn claims_json(claims: &StandardClaims) -> Result<String, StoreError> {
    serde_json::to_string(claims).map_err(|e| StoreError::Corrupt(format!("user claims: {e}")))
}

/// An update of user `id` of `tenant` that stamps `updated_at` with `now`; callers add the
/// columns they change (and any further condition).
fn update_one(tenant: TenantId, id: UserId, now: i64) -> UpdateMany<user::Entity> {
    user::Entity::update_many()
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Id.eq(id))
}

/// Inserts a user; a taken `(tenant_id, username)` is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(db: &C, u: &UserRecord) -> Result<(), StoreError> {
    user::ActiveModel {
        tenant_id: Set(u.tenant_id),
        id: Set(u.id),
        username: Set(u.username.clone()),
        email: Set(u.email.clone()),
        email_verified: Set(u.email_verified),
        claims: Set(claims_json(&u.claims)?),
        password_hash: Set(u.password_hash.clone()),
        status: Set(u.status.as_str().to_owned()),
        // A new user holds no admin role; `set_admin_role` grants one.
        admin_role: Set(None),
        created_at: Set(u.created_at),
        updated_at: Set(u.updated_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One user of a tenant by id.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
) -> Result<Option<UserRecord>, StoreError> {
    crate::one_by_key(db, user::Entity::find_by_id((tenant, id)))
        .await?
        .map(to_record)
        .transpose()
}

/// One user of a tenant by its (already normalized, lowercase) username.
pub async fn find_by_username<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    username: &str,
) -> Result<Option<UserRecord>, StoreError> {
    crate::one_by_key(
        db,
        user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant))
            .filter(user::Column::Username.eq(username)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Up to `limit` users of a tenant ordered by id (time-ordered UUIDv7), after `after` (keyset
/// pagination), optionally only those whose username or e-mail address starts with `search`
/// (case-insensitive).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    after: Option<UserId>,
    search: Option<&str>,
    limit: u64,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut q = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        q = q.filter(user::Column::Id.gt(after));
    }
    if let Some(search) = search {
        // A prefix of the username or of the e-mail address; `%`, `_` and `\` match themselves.
        let pattern = || crate::prefix_pattern(search);
        q = q.filter(
            Condition::any()
                .add(Expr::col(user::Column::Username).like(pattern()))
                .add(Func::lower(Expr::col(user::Column::Email)).like(pattern())),
        );
    }
    q.all(db).await?.into_iter().map(to_record).collect()
}

/// The users of a tenant with this (already normalized, lowercase) e-mail address, oldest first;
/// at most `limit`.
pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    email: &str,
    limit: u64,
) -> Result<Vec<UserRecord>, StoreError> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Email.eq(email))
        .order_by_asc(user::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Marks the user's e-mail address verified, only if it is still `email` (a link confirms the
/// address it was sent to, not one set since); returns whether it did.
pub async fn confirm_email<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    email: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(user::Column::EmailVerified, Expr::value(true))
        .filter(user::Column::Email.eq(email))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces the profile of a user: e-mail, its verification flag and the standard claims.
pub async fn update_profile<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    email: Option<&str>,
    email_verified: bool,
    claims: &StandardClaims,
    now: i64,
) -> Result<(), StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(user::Column::Email, Expr::value(email.map(str::to_owned)))
        .col_expr(user::Column::EmailVerified, Expr::value(email_verified))
        .col_expr(user::Column::Claims, Expr::value(claims_json(claims)?))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Sets (or, with `None`, removes) a user's password hash.
pub async fn set_password_hash<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    hash: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(
            user::Column::PasswordHash,
            Expr::value(hash.map(str::to_owned)),
        )
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Replaces a password hash only if it still equals `old` (an upgrade after sign-in must not
/// overwrite a password set meanwhile); returns whether it did.
pub async fn replace_password_hash<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    old: &str,
    new: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(user::Column::PasswordHash, Expr::value(new))
        .filter(user::Column::PasswordHash.eq(old))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Sets a user's status.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    status: UserStatus,
    now: i64,
) -> Result<(), StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(user::Column::Status, Expr::value(status.as_str()))
        .exec(db)
        .await?;
    // A disabled or locked user's tokens stop being active: cached answers are stale.
    crate::revocations::revoked(db, tenant, res.rows_affected, now).await?;
    found(res.rows_affected)
}

/// The admin role a user of `tenant` holds, `None` for none (or no such user). Read per admin
/// API request, so a removed role takes effect at once.
pub async fn admin_role<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
) -> Result<Option<AdminRole>, StoreError> {
    let row = crate::one_by_key(db, user::Entity::find_by_id((tenant, id))).await?;
    row.and_then(|m| m.admin_role)
        .map(|raw| parse_enum(&raw))
        .transpose()
}

/// Sets (or, with `None`, removes) the admin role of a user of `tenant`. Which roles a tenant's
/// users may hold is the caller's rule.
pub async fn set_admin_role<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    role: Option<AdminRole>,
    now: i64,
) -> Result<(), StoreError> {
    let res = update_one(tenant, id, now)
        .col_expr(
            user::Column::AdminRole,
            Expr::value(role.map(|r| r.as_str().to_owned())),
        )
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// The admin roles of the given users of `tenant`, by user id (users without one are absent).
pub async fn admin_roles<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, AdminRole>, StoreError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .filter(user::Column::AdminRole.is_not_null())
        .all(db)
        .await?;
    let mut roles = std::collections::HashMap::with_capacity(rows.len());
    for m in rows {
        if let Some(raw) = &m.admin_role {
            roles.insert(m.id, parse_enum(raw)?);
        }
    }
    Ok(roles)
}

/// Up to `limit` users of `tenant` holding `role`, ordered by id, after `after`.
pub async fn list_with_role<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    role: AdminRole,
    after: Option<UserId>,
    limit: u64,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut q = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::AdminRole.eq(role.as_str()))
        .order_by_asc(user::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        q = q.filter(user::Column::Id.gt(after));
    }
    q.all(db).await?.into_iter().map(to_record).collect()
}

/// Deletes one user row.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
) -> Result<(), StoreError> {
    let res = user::Entity::delete_by_id((tenant, id)).exec(db).await?;
    found(res.rows_affected)
}

/// Deletes what a user owns in the grant and token tables: consent grants, the refresh tokens
/// of its token families, its opaque access tokens, its authorization codes and the families
/// themselves. Run it in the transaction that deletes the user, so no token outlives its subject.
pub async fn delete_grants_and_tokens<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: UserId,
    now: i64,
) -> Result<u64, StoreError> {
    let families = Query::select()
        .column("id")
        .from("token_families")
        .and_where(Expr::col("tenant_id").eq(tenant))
        .and_where(Expr::col("user_id").eq(id))
        .to_owned();
    let statements = [
        Query::delete()
            .from_table("refresh_tokens")
            .and_where(Expr::col("tenant_id").eq(tenant))
            .and_where(Expr::col("family_id").in_subquery(families))
            .to_owned(),
        Query::delete()
            .from_table("access_tokens")
            .and_where(Expr::col("tenant_id").eq(tenant))
            .and_where(Expr::col("user_id").eq(id))
            .to_owned(),
        Query::delete()
            .from_table("consent_grants")
            .and_where(Expr::col("tenant_id").eq(tenant))
            .and_where(Expr::col("user_id").eq(id))
            .to_owned(),
        Query::delete()
            .from_table("authorization_codes")
            .and_where(Expr::col("tenant_id").eq(tenant))
            .and_where(Expr::col("user_id").eq(id))
            .to_owned(),
        Query::delete()
            .from_table("token_families")
            .and_where(Expr::col("tenant_id").eq(tenant))
            .and_where(Expr::col("user_id").eq(id))
            .to_owned(),
    ];
    let mut removed = 0;
    for statement in &statements {
        removed += db.execute(statement).await?.rows_affected();
    }
    crate::revocations::revoked(db, tenant, removed, now).await?;
    Ok(removed)
}
