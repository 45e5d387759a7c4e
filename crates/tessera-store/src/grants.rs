//! Consent grants: the scopes each user granted each client, one row per
//! `(tenant_id, user_id, client_id)`; recording consent replaces the row.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tessera_core::{ClientId, TenantId, UserId};

use crate::codes::parse_scopes;
use crate::entity::consent_grant as grant;
use crate::{ConsentGrantRecord, StoreError};

fn to_record(m: grant::Model) -> Result<ConsentGrantRecord, StoreError> {
    Ok(ConsentGrantRecord {
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("consent_grants.client_id".to_owned()))?,
        scopes: parse_scopes("consent_grants.scopes", &m.scopes)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// The grant a user made to a client, if any.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
) -> Result<Option<ConsentGrantRecord>, StoreError> {
    crate::one_by_key(
        db,
        grant::Entity::find_by_id((tenant, user, client.to_string())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Inserts the grant, or replaces the scopes (and `updated_at`) of an existing one; the
/// original `created_at` is kept.
pub async fn upsert<C: ConnectionTrait>(db: &C, g: &ConsentGrantRecord) -> Result<(), StoreError> {
    let row = grant::ActiveModel {
        tenant_id: Set(g.tenant_id),
        user_id: Set(g.user_id),
        client_id: Set(g.client_id.to_string()),
        scopes: Set(g.scopes.to_wire()),
        created_at: Set(g.created_at),
        updated_at: Set(g.updated_at),
    };
    grant::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                grant::Column::TenantId,
                grant::Column::UserId,
                grant::Column::ClientId,
            ])
            .update_columns([grant::Column::Scopes, grant::Column::UpdatedAt])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Every grant a user made in a tenant, by client id.
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<ConsentGrantRecord>, StoreError> {
    grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant))
        .filter(grant::Column::UserId.eq(user))
        .order_by_asc(grant::Column::ClientId)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Every grant made to a client in a tenant, by user.
pub async fn list_for_client<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client: &ClientId,
) -> Result<Vec<ConsentGrantRecord>, StoreError> {
    grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant))
        .filter(grant::Column::ClientId.eq(client.as_ref()))
        .order_by_asc(grant::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Forgets a user's grant to a client; `false` when there was none.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
) -> Result<bool, StoreError> {
    let res = grant::Entity::delete_by_id((tenant, user, client.to_string()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Forgets every grant of a user (account deletion).
pub async fn delete_for_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<u64, StoreError> {
    let res = grant::Entity::delete_many()
        .filter(grant::Column::TenantId.eq(tenant))
        .filter(grant::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
