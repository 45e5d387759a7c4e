//! Per-tenant overrides of the page templates. Names and sources are checked by the page engine
//! before they get here; this layer only stores them, keyed by `(tenant_id, name)`.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use tessera_core::TenantId;

use crate::entity::tenant_template;
use crate::{StoreError, found};

/// One stored template override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateRecord {
    /// Owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Template name.
    pub name: String,
    /// Handlebars source.
    pub source: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

fn to_record(m: tenant_template::Model) -> TemplateRecord {
    TemplateRecord {
        tenant_id: m.tenant_id,
        name: m.name,
        source: m.source,
        updated_at: m.updated_at,
    }
}

/// Every override of a tenant, by name.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<TemplateRecord>, StoreError> {
    Ok(tenant_template::Entity::find()
        .filter(tenant_template::Column::TenantId.eq(tenant))
        .order_by_asc(tenant_template::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect())
}

/// The override of template `name`, if the tenant has one.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<TemplateRecord>, StoreError> {
    Ok(crate::one_by_key(
        db,
        tenant_template::Entity::find_by_id((tenant, name.to_owned())),
    )
    .await?
    .map(to_record))
}

/// Inserts or replaces an override.
pub async fn upsert<C: ConnectionTrait>(db: &C, t: &TemplateRecord) -> Result<(), StoreError> {
    tenant_template::Entity::insert(tenant_template::ActiveModel {
        tenant_id: Set(t.tenant_id),
        name: Set(t.name.clone()),
        source: Set(t.source.clone()),
        updated_at: Set(t.updated_at),
    })
    .on_conflict(
        OnConflict::columns([
            tenant_template::Column::TenantId,
            tenant_template::Column::Name,
        ])
        .update_columns([
            tenant_template::Column::Source,
            tenant_template::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Deletes an override; [`StoreError::NotFound`] when there is none.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<(), StoreError> {
    let res = tenant_template::Entity::delete_by_id((tenant, name.to_owned()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{PoolSettings, Store, TenantRecord, tenants};
    use tessera_core::{SigningAlg, TenantSlug, TenantStatus};

    async fn store_with_tenant(slug: &str) -> (Store, TenantId) {
        let store = Store::connect("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let id = add_tenant(&store, slug).await;
        (store, id)
    }

    async fn add_tenant(store: &Store, slug: &str) -> TenantId {
        let record = TenantRecord {
            id: TenantId::new(),
            slug: TenantSlug::parse(slug).unwrap(),
            name: slug.to_owned(),
            status: TenantStatus::Active,
            signing_alg: SigningAlg::Es256,
            is_system: false,
            access_token_ttl: 600,
            key_rotation_interval: 86_400,
            keys_rotate_at: 0,
            settings: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        tenants::insert(store.conn(), &record).await.unwrap();
        record.id
    }

    fn record(tenant: TenantId, name: &str, source: &str, at: i64) -> TemplateRecord {
        TemplateRecord {
            tenant_id: tenant,
            name: name.to_owned(),
            source: source.to_owned(),
            updated_at: at,
        }
    }

    #[tokio::test]
    async fn upsert_replaces_and_delete_rolls_back_per_tenant() {
        let (store, acme) = store_with_tenant("acme").await;
        let globex = add_tenant(&store, "globex").await;
        let db = store.conn();
        upsert(db, &record(acme, "login", "one", 1)).await.unwrap();
        upsert(db, &record(acme, "login", "two", 2)).await.unwrap();
        upsert(db, &record(globex, "login", "theirs", 3))
            .await
            .unwrap();

        let mine = list(db, acme).await.unwrap();
        assert_eq!(mine, vec![record(acme, "login", "two", 2)]);
        assert_eq!(
            find(db, globex, "login").await.unwrap().unwrap().source,
            "theirs"
        );

        delete(db, acme, "login").await.unwrap();
        assert!(find(db, acme, "login").await.unwrap().is_none());
        assert!(matches!(
            delete(db, acme, "login").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(list(db, globex).await.unwrap().len(), 1);
    }
}
