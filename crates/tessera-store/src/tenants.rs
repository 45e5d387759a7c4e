//! Tenant rows: create, find by slug or id, list by keyset pagination, change status, delete.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use tessera_core::{SigningAlg, TenantId, TenantSlug, TenantStatus};

use crate::entity::tenant;
use crate::{StoreError, TenantRecord, found, parse_enum};

fn to_record(m: tenant::Model) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        id: m.id,
        slug: TenantSlug::parse(&m.slug).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: m.name,
        status: parse_enum(&m.status)?,
        signing_alg: parse_enum(&m.signing_alg)?,
        is_system: m.is_system,
        access_token_ttl: m.access_token_ttl,
        key_rotation_interval: m.key_rotation_interval,
        keys_rotate_at: m.keys_rotate_at,
        settings: serde_json::from_str(&m.settings)
            .map_err(|e| StoreError::Corrupt(format!("tenant settings: {e}")))?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Inserts a tenant; a taken slug is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(db: &C, t: &TenantRecord) -> Result<(), StoreError> {
    tenant::ActiveModel {
        id: Set(t.id),
        slug: Set(t.slug.to_string()),
        name: Set(t.name.clone()),
        status: Set(t.status.as_str().to_owned()),
        signing_alg: Set(t.signing_alg.as_str().to_owned()),
        is_system: Set(t.is_system),
        access_token_ttl: Set(t.access_token_ttl),
        key_rotation_interval: Set(t.key_rotation_interval),
        keys_rotate_at: Set(t.keys_rotate_at),
        settings: Set(settings_json(&t.settings)?),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The tenant with this slug.
pub async fn find_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    crate::one_by_key(
        db,
        tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// The tenant with this id.
pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
) -> Result<Option<TenantRecord>, StoreError> {
    crate::one_by_key(db, tenant::Entity::find_by_id(id))
        .await?
        .map(to_record)
        .transpose()
}

/// The system tenant, if created.
pub async fn find_system<C: ConnectionTrait>(db: &C) -> Result<Option<TenantRecord>, StoreError> {
    crate::one_by_key(
        db,
        tenant::Entity::find().filter(tenant::Column::IsSystem.eq(true)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Up to `limit` tenants ordered by slug, after `after` (keyset pagination), whose slug or name
/// contains `search`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    search: Option<&str>,
    limit: u64,
) -> Result<Vec<TenantRecord>, StoreError> {
    let mut q = tenant::Entity::find()
        .order_by_asc(tenant::Column::Slug)
        .limit(limit);
    if let Some(after) = after {
        q = q.filter(tenant::Column::Slug.gt(after));
    }
    if let Some(search) = search.filter(|s| !s.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(tenant::Column::Slug.contains(search))
                .add(tenant::Column::Name.contains(search)),
        );
    }
    q.all(db).await?.into_iter().map(to_record).collect()
}

/// Number of tenants.
pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    Ok(tenant::Entity::find().count(db).await?)
}

/// Sets a tenant's status.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
    status: TenantStatus,
    now: i64,
) -> Result<(), StoreError> {
    let res = tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value(status.as_str()))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(id))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Updates the editable settings of a tenant.
pub async fn update_settings<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
    name: &str,
    access_token_ttl: i64,
    key_rotation_interval: i64,
    signing_alg: SigningAlg,
    now: i64,
) -> Result<(), StoreError> {
    let res = tenant::Entity::update_many()
        .col_expr(tenant::Column::Name, Expr::value(name))
        .col_expr(
            tenant::Column::SigningAlg,
            Expr::value(signing_alg.as_str().to_owned()),
        )
        .col_expr(
            tenant::Column::AccessTokenTtl,
            Expr::value(access_token_ttl),
        )
        .col_expr(
            tenant::Column::KeyRotationInterval,
            Expr::value(key_rotation_interval),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(id))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Tables of the sign-in migration owned by a tenant, children first.
const SIGNIN_TABLES: [&str; 13] = [
    "access_tokens",
    "revoked_jtis",
    "replay_cache",
    "audit_events",
    "resource_servers",
    "refresh_tokens",
    "authorization_codes",
    "token_families",
    "consent_grants",
    "sessions",
    "login_throttle",
    "users",
    "tenant_templates",
];

fn settings_json(settings: &tessera_core::TenantSettings) -> Result<String, StoreError> {
    serde_json::to_string(settings)
        .map_err(|e| StoreError::Corrupt(format!("tenant settings: {e}")))
}

/// Replaces a tenant's branding and policies document.
pub async fn set_tenant_settings<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
    settings: &tessera_core::TenantSettings,
    now: i64,
) -> Result<(), StoreError> {
    let res = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::Settings,
            Expr::value(settings_json(settings)?),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(id))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Deletes a tenant and, by cascade, everything it owns.
pub async fn delete<C: ConnectionTrait>(db: &C, id: TenantId) -> Result<(), StoreError> {
    // Explicit child deletes keep the cascade independent of the engine's foreign-key setting.
    crate::clients::delete_all(db, id).await?;
    crate::scopes::delete_all(db, id).await?;
    crate::keys::delete_all(db, id).await?;
    crate::device_codes::delete_all(db, id).await?;
    crate::pushed_requests::delete_all(db, id).await?;
    crate::logout_outbox::delete_all(db, id).await?;
    crate::registration::delete_all(db, id).await?;
    crate::domains::delete_all(db, id).await?;
    crate::templates::delete_all(db, id).await?;
    for table in SIGNIN_TABLES {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    format!("DELETE FROM {table} WHERE tenant_id = $1")
                }
                _ => format!("DELETE FROM {table} WHERE tenant_id = ?"),
            },
            [id.0.into()],
        ))
        .await?;
    }
    let res = tenant::Entity::delete_by_id(id).exec(db).await?;
    found(res.rows_affected)
}

/// Up to `limit` tenants whose keys are due for scheduled rotation at `now`, most overdue first.
pub async fn due_for_rotation<C: ConnectionTrait>(
    db: &C,
    now: i64,
    limit: u64,
) -> Result<Vec<TenantRecord>, StoreError> {
    tenant::Entity::find()
        .filter(tenant::Column::KeysRotateAt.lte(now))
        .order_by_asc(tenant::Column::KeysRotateAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Records when a tenant's keys are next due for rotation.
pub async fn set_keys_rotate_at<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
    at: i64,
) -> Result<(), StoreError> {
    tenant::Entity::update_many()
        .col_expr(tenant::Column::KeysRotateAt, Expr::value(at))
        .filter(tenant::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
