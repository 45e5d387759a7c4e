//! Resource servers (APIs), addressed by `(tenant_id, identifier)`.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use tessera_core::{ClientId, TenantId};

use crate::codes::parse_scopes;
use crate::entity::resource_server as rs;
use crate::{ResourceServerRecord, StoreError, found, json_list, parse_enum, parse_json_list};

fn to_record(m: rs::Model) -> Result<ResourceServerRecord, StoreError> {
    let names: Vec<String> = parse_json_list("resource_servers.scopes", &m.scopes)?;
    let introspectors: Vec<String> =
        parse_json_list("resource_servers.introspectors", &m.introspectors)?;
    Ok(ResourceServerRecord {
        tenant_id: m.tenant_id,
        identifier: m.identifier,
        name: m.name,
        scopes: parse_scopes("resource_servers.scopes", &names.join(" "))?,
        token_format: parse_enum(&m.token_format)?,
        access_token_ttl: m.access_token_ttl,
        introspectors: introspectors
            .iter()
            .map(|c| {
                ClientId::parse(c)
                    .ok_or_else(|| StoreError::Corrupt("resource_servers.introspectors".into()))
            })
            .collect::<Result<_, _>>()?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn to_active(r: &ResourceServerRecord) -> rs::ActiveModel {
    let scopes: Vec<&str> = r.scopes.iter().map(|s| s.as_ref()).collect();
    let introspectors: Vec<&str> = r.introspectors.iter().map(|c| c.as_ref()).collect();
    rs::ActiveModel {
        tenant_id: Set(r.tenant_id),
        identifier: Set(r.identifier.clone()),
        name: Set(r.name.clone()),
        scopes: Set(json_list(&scopes)),
        token_format: Set(r.token_format.as_str().to_owned()),
        access_token_ttl: Set(r.access_token_ttl),
        introspectors: Set(json_list(&introspectors)),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    }
}

/// Inserts a resource server; a taken identifier is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    r: &ResourceServerRecord,
) -> Result<(), StoreError> {
    to_active(r).insert(db).await?;
    Ok(())
}

/// Replaces every column of an existing resource server.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    r: &ResourceServerRecord,
) -> Result<(), StoreError> {
    let res = rs::Entity::update_many()
        .set(to_active(r))
        .filter(rs::Column::TenantId.eq(r.tenant_id))
        .filter(rs::Column::Identifier.eq(r.identifier.as_str()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// One resource server of a tenant.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    identifier: &str,
) -> Result<Option<ResourceServerRecord>, StoreError> {
    crate::one_by_key(db, rs::Entity::find_by_id((tenant, identifier.to_owned())))
        .await?
        .map(to_record)
        .transpose()
}

/// Every resource server of a tenant, by identifier.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<ResourceServerRecord>, StoreError> {
    rs::Entity::find()
        .filter(rs::Column::TenantId.eq(tenant))
        .order_by_asc(rs::Column::Identifier)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// Deletes a resource server.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    identifier: &str,
) -> Result<(), StoreError> {
    let res = rs::Entity::delete_by_id((tenant, identifier.to_owned()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}
