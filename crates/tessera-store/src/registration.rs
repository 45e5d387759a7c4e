//! Dynamic client registration state (RFC 7591 §3, RFC 7592 §3): a tenant's initial access
//! tokens and each dynamically registered client's registration access token. Only SHA-256 hex
//! hashes of the tokens are stored; every query is scoped by tenant.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tessera_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::initial_access_token as initial;
use crate::entity::registration_access_token as rat;

/// An initial access token, without its hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InitialAccessTokenRecord {
    /// Owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Public identifier.
    pub id: Uuid,
    /// Free text saying what it is for.
    pub description: Option<String>,
    /// Unix seconds after which it is refused; `None`: never.
    pub expires_at: Option<i64>,
    /// Registrations it allows; `None`: unlimited.
    pub max_uses: Option<i32>,
    /// Registrations done with it.
    pub uses: i32,
    /// Unix seconds when it was created.
    pub created_at: i64,
}

fn initial_record(m: initial::Model) -> InitialAccessTokenRecord {
    InitialAccessTokenRecord {
        tenant_id: m.tenant_id,
        id: m.id,
        description: m.description,
        expires_at: m.expires_at,
        max_uses: m.max_uses,
        uses: m.uses,
        created_at: m.created_at,
    }
}

/// Stores an initial access token under the SHA-256 hex `token_hash`.
pub async fn insert_initial<C: ConnectionTrait>(
    db: &C,
    r: &InitialAccessTokenRecord,
    token_hash: &str,
) -> Result<(), StoreError> {
    initial::Entity::insert(initial::ActiveModel {
        tenant_id: Set(r.tenant_id),
        id: Set(r.id),
        token_hash: Set(token_hash.to_owned()),
        description: Set(r.description.clone()),
        expires_at: Set(r.expires_at),
        max_uses: Set(r.max_uses),
        uses: Set(r.uses),
        created_at: Set(r.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Every initial access token of a tenant, oldest first.
pub async fn list_initial<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
    Ok(initial::Entity::find()
        .filter(initial::Column::TenantId.eq(tenant))
        .order_by_asc(initial::Column::CreatedAt)
        .order_by_asc(initial::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(initial_record)
        .collect())
}

/// Deletes one initial access token; [`StoreError::NotFound`] when the tenant has no such id.
pub async fn delete_initial<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), StoreError> {
    let res = initial::Entity::delete_many()
        .filter(initial::Column::TenantId.eq(tenant))
        .filter(initial::Column::Id.eq(id))
        .exec(db)
        .await?;
    crate::found(res.rows_affected)
}

/// Whether the initial access token whose hash is `token_hash` exists, is unexpired and has a
/// use left (spends nothing).
pub async fn initial_usable<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(find_initial(db, tenant, token_hash)
        .await?
        .is_some_and(|m| usable(&m, now)))
}

async fn find_initial<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
) -> Result<Option<initial::Model>, StoreError> {
    Ok(initial::Entity::find()
        .filter(initial::Column::TenantId.eq(tenant))
        .filter(initial::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?)
}

fn usable(m: &initial::Model, now: i64) -> bool {
    m.expires_at.is_none_or(|e| e > now) && m.max_uses.is_none_or(|max| m.uses < max)
}

/// Spends one use of the initial access token whose hash is `token_hash`: `Ok(true)` when it
/// exists, is unexpired and has a use left. The increment is conditional on the use count read,
/// so two concurrent registrations cannot both spend the last use.
pub async fn use_initial<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    token_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(m) = find_initial(db, tenant, token_hash).await? else {
        return Ok(false);
    };
    if !usable(&m, now) {
        return Ok(false);
    }
    let res = initial::Entity::update_many()
        .col_expr(initial::Column::Uses, Expr::value(m.uses + 1))
        .filter(initial::Column::TenantId.eq(tenant))
        .filter(initial::Column::Id.eq(m.id))
        .filter(initial::Column::Uses.eq(m.uses))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A client's registration access token, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationTokenRecord {
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Unix seconds after which it is refused; `None`: never.
    pub expires_at: Option<i64>,
}

/// Stores (or replaces) the registration access token of `client_id`.
pub async fn set_registration_token<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &str,
    token_hash: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    delete_registration_token(db, tenant, client_id).await?;
    rat::Entity::insert(rat::ActiveModel {
        tenant_id: Set(tenant),
        client_id: Set(client_id.to_owned()),
        token_hash: Set(token_hash.to_owned()),
        expires_at: Set(expires_at),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The registration access token of `client_id`, if the client was registered dynamically.
pub async fn find_registration_token<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &str,
) -> Result<Option<RegistrationTokenRecord>, StoreError> {
    Ok(
        crate::one_by_key(db, rat::Entity::find_by_id((tenant, client_id.to_owned())))
            .await?
            .map(|m| RegistrationTokenRecord {
                token_hash: m.token_hash,
                expires_at: m.expires_at,
            }),
    )
}

/// Deletes the registration access token of `client_id` (no error when there is none).
pub async fn delete_registration_token<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &str,
) -> Result<(), StoreError> {
    rat::Entity::delete_many()
        .filter(rat::Column::TenantId.eq(tenant))
        .filter(rat::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every initial and registration access token of a tenant (tenant deletion).
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<(), StoreError> {
    initial::Entity::delete_many()
        .filter(initial::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    rat::Entity::delete_many()
        .filter(rat::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}
