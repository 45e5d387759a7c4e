//! Scope definitions per tenant.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use tessera_core::{Scope, TenantId};

use crate::entity::scope;
use crate::{ScopeRecord, StoreError, found, json_list, parse_json_list};

fn to_record(m: scope::Model) -> Result<ScopeRecord, StoreError> {
    Ok(ScopeRecord {
        tenant_id: m.tenant_id,
        name: Scope::parse(&m.name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        description: m.description,
        claims: parse_json_list("claims", &m.claims)?,
        is_standard: m.is_standard,
        created_at: m.created_at,
    })
}

/// Inserts a scope definition; a taken name is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(db: &C, s: &ScopeRecord) -> Result<(), StoreError> {
    scope::ActiveModel {
        tenant_id: Set(s.tenant_id),
        name: Set(s.name.to_string()),
        description: Set(s.description.clone()),
        claims: Set(json_list(&s.claims)),
        is_standard: Set(s.is_standard),
        created_at: Set(s.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Every scope of a tenant, by name.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<ScopeRecord>, StoreError> {
    scope::Entity::find()
        .filter(scope::Column::TenantId.eq(tenant))
        .order_by_asc(scope::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Deletes one scope definition.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &Scope,
) -> Result<(), StoreError> {
    let res = scope::Entity::delete_by_id((tenant, name.to_string()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Deletes every scope of a tenant.
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<(), StoreError> {
    scope::Entity::delete_many()
        .filter(scope::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}
