//! Per-tenant overrides of the page templates, their published versions and drafts. Names and
//! sources are checked by the page engine before they get here; this layer only stores them,
//! keyed by `(tenant_id, name)` (and the version number). The live override, the one pages use,
//! is the `tenant_templates` row; every publication also appends a `template_versions` row in the
//! same transaction ([`insert_next_version`]), so the newest version is the live one. The
//! tenant's branding is versioned in the same tables under the reserved name
//! [`BRANDING_DOCUMENT`] (its live copy is the settings document, not a `tenant_templates` row).

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use tessera_core::TenantId;

use crate::entity::{template_draft, template_version, tenant, tenant_template};
use crate::{StoreError, found};

/// The name the branding document's versions and draft are stored under. It is not a template
/// name (those are handlebars registry names such as `login` or `email.layout`), so template
/// routes never reach it; its source is the canonical JSON of a `Branding`.
pub const BRANDING_DOCUMENT: &str = "branding";

/// Takes the tenant's write lock for a change of its settings document: touches the tenant row
/// (`updated_at`), so on PostgreSQL the row lock queues concurrent settings changes until this
/// transaction ends and the next one reads what this one wrote. Call it first in the
/// transaction. [`StoreError::NotFound`] when the tenant does not exist.
pub async fn lock_tenant<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    now: i64,
) -> Result<(), StoreError> {
    let res = tenant::Entity::update_many()
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(tenant))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

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

/// Deletes every override, version and draft of a tenant (tenant deletion).
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<(), StoreError> {
    template_draft::Entity::delete_many()
        .filter(template_draft::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    template_version::Entity::delete_many()
        .filter(template_version::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    tenant_template::Entity::delete_many()
        .filter(tenant_template::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Versions

/// One published version of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateVersionRecord {
    /// Owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Template name.
    pub name: String,
    /// Version number, from 1.
    pub version: i32,
    /// Handlebars source.
    pub source: String,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Audit actor who published it; `None` for versions recorded by the upgrade.
    pub created_by: Option<String>,
}

/// A version as listed: everything but the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateVersionInfo {
    /// Version number.
    pub version: i32,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Audit actor who published it.
    pub created_by: Option<String>,
}

fn to_version(m: template_version::Model) -> TemplateVersionRecord {
    TemplateVersionRecord {
        tenant_id: m.tenant_id,
        name: m.name,
        version: m.version,
        source: m.source,
        created_at: m.created_at,
        created_by: m.created_by,
    }
}

/// Every version of template `name`, newest first, without sources.
pub async fn versions<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Vec<TemplateVersionInfo>, StoreError> {
    let rows: Vec<(i32, i64, Option<String>)> = template_version::Entity::find()
        .select_only()
        .columns([
            template_version::Column::Version,
            template_version::Column::CreatedAt,
            template_version::Column::CreatedBy,
        ])
        .filter(template_version::Column::TenantId.eq(tenant))
        .filter(template_version::Column::Name.eq(name))
        .order_by_desc(template_version::Column::Version)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(version, created_at, created_by)| TemplateVersionInfo {
            version,
            created_at,
            created_by,
        })
        .collect())
}

/// Version `version` of template `name`, with its source.
pub async fn find_version<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    version: i32,
) -> Result<Option<TemplateVersionRecord>, StoreError> {
    Ok(crate::one_by_key(
        db,
        template_version::Entity::find_by_id((tenant, name.to_owned(), version)),
    )
    .await?
    .map(to_version))
}

/// The newest version of template `name`, with its source.
pub async fn latest_version<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<TemplateVersionRecord>, StoreError> {
    Ok(template_version::Entity::find()
        .filter(template_version::Column::TenantId.eq(tenant))
        .filter(template_version::Column::Name.eq(name))
        .order_by_desc(template_version::Column::Version)
        .limit(1)
        .all(db)
        .await?
        .into_iter()
        .next()
        .map(to_version))
}

/// Appends the next version of template `name` (one more than the newest, 1 for the first) and
/// returns its number. Two transactions that race compute the same number and the primary key
/// refuses the second insert with [`StoreError::Conflict`]; its caller rolls back and retries.
pub async fn insert_next_version<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    source: &str,
    now: i64,
    actor: Option<&str>,
) -> Result<i32, StoreError> {
    let newest: Option<Option<i32>> = template_version::Entity::find()
        .select_only()
        .column_as(Expr::col(template_version::Column::Version).max(), "newest")
        .filter(template_version::Column::TenantId.eq(tenant))
        .filter(template_version::Column::Name.eq(name))
        .into_tuple()
        .one(db)
        .await?;
    let version = newest.flatten().unwrap_or(0) + 1;
    template_version::Entity::insert(template_version::ActiveModel {
        tenant_id: Set(tenant),
        name: Set(name.to_owned()),
        version: Set(version),
        source: Set(source.to_owned()),
        created_at: Set(now),
        created_by: Set(actor.map(str::to_owned)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(version)
}

// ---------------------------------------------------------------------------------------------
// Drafts

/// A tenant's unpublished draft of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateDraftRecord {
    /// Owning tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Template name.
    pub name: String,
    /// Handlebars source, possibly broken.
    pub source: String,
    /// Unix seconds of the last save.
    pub updated_at: i64,
    /// Audit actor who saved it last.
    pub updated_by: Option<String>,
}

fn to_draft(m: template_draft::Model) -> TemplateDraftRecord {
    TemplateDraftRecord {
        tenant_id: m.tenant_id,
        name: m.name,
        source: m.source,
        updated_at: m.updated_at,
        updated_by: m.updated_by,
    }
}

/// The draft of template `name`, if there is one.
pub async fn find_draft<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<TemplateDraftRecord>, StoreError> {
    Ok(crate::one_by_key(
        db,
        template_draft::Entity::find_by_id((tenant, name.to_owned())),
    )
    .await?
    .map(to_draft))
}

/// The names of the templates of a tenant that have a draft.
pub async fn draft_names<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<String>, StoreError> {
    Ok(template_draft::Entity::find()
        .select_only()
        .column(template_draft::Column::Name)
        .filter(template_draft::Column::TenantId.eq(tenant))
        .order_by_asc(template_draft::Column::Name)
        .into_tuple()
        .all(db)
        .await?)
}

/// Inserts or replaces the draft of a template.
pub async fn save_draft<C: ConnectionTrait>(
    db: &C,
    d: &TemplateDraftRecord,
) -> Result<(), StoreError> {
    template_draft::Entity::insert(template_draft::ActiveModel {
        tenant_id: Set(d.tenant_id),
        name: Set(d.name.clone()),
        source: Set(d.source.clone()),
        updated_at: Set(d.updated_at),
        updated_by: Set(d.updated_by.clone()),
    })
    .on_conflict(
        OnConflict::columns([
            template_draft::Column::TenantId,
            template_draft::Column::Name,
        ])
        .update_columns([
            template_draft::Column::Source,
            template_draft::Column::UpdatedAt,
            template_draft::Column::UpdatedBy,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Deletes the draft of a template; [`StoreError::NotFound`] when there is none.
pub async fn delete_draft<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<(), StoreError> {
    let res = template_draft::Entity::delete_by_id((tenant, name.to_owned()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Deletes the draft of a template only if it still holds `source`: a draft saved again while
/// an older one was being published is kept. Returns whether a draft was deleted.
pub async fn delete_draft_if_unchanged<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    source: &str,
) -> Result<bool, StoreError> {
    let res = template_draft::Entity::delete_many()
        .filter(template_draft::Column::TenantId.eq(tenant))
        .filter(template_draft::Column::Name.eq(name))
        .filter(template_draft::Column::Source.eq(source))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
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
    async fn versions_number_per_template_and_drafts_are_kept_when_changed() {
        let (store, acme) = store_with_tenant("acme").await;
        let globex = add_tenant(&store, "globex").await;
        let db = store.conn();
        for source in ["one", "two"] {
            insert_next_version(db, acme, "login", source, 5, Some("admin:x"))
                .await
                .unwrap();
        }
        assert_eq!(
            insert_next_version(db, acme, "error", "e", 6, None)
                .await
                .unwrap(),
            1,
            "numbered per template"
        );
        assert_eq!(
            insert_next_version(db, globex, "login", "theirs", 7, None)
                .await
                .unwrap(),
            1,
            "numbered per tenant"
        );
        let listed = versions(db, acme, "login").await.unwrap();
        assert_eq!(
            listed.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(listed[0].created_by.as_deref(), Some("admin:x"));
        assert_eq!(
            latest_version(db, acme, "login")
                .await
                .unwrap()
                .unwrap()
                .source,
            "two"
        );
        assert_eq!(
            find_version(db, acme, "login", 1)
                .await
                .unwrap()
                .unwrap()
                .source,
            "one"
        );
        assert!(
            find_version(db, globex, "login", 2)
                .await
                .unwrap()
                .is_none()
        );
        // A second insert of a taken number is a conflict (what a racing publication meets).
        let taken = template_version::Entity::insert(template_version::ActiveModel {
            tenant_id: Set(acme),
            name: Set("login".into()),
            version: Set(2),
            source: Set("dup".into()),
            created_at: Set(8),
            created_by: Set(None),
        })
        .exec_without_returning(db)
        .await
        .map_err(StoreError::from);
        assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");

        let draft = TemplateDraftRecord {
            tenant_id: acme,
            name: "login".into(),
            source: "draft".into(),
            updated_at: 9,
            updated_by: None,
        };
        save_draft(db, &draft).await.unwrap();
        assert_eq!(draft_names(db, acme).await.unwrap(), vec!["login"]);
        assert!(draft_names(db, globex).await.unwrap().is_empty());
        assert!(
            !delete_draft_if_unchanged(db, acme, "login", "older")
                .await
                .unwrap()
        );
        assert_eq!(find_draft(db, acme, "login").await.unwrap(), Some(draft));
        assert!(
            delete_draft_if_unchanged(db, acme, "login", "draft")
                .await
                .unwrap()
        );
        assert!(matches!(
            delete_draft(db, acme, "login").await,
            Err(StoreError::NotFound)
        ));

        delete_all(db, acme).await.unwrap();
        assert!(versions(db, acme, "login").await.unwrap().is_empty());
        assert_eq!(versions(db, globex, "login").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn locking_a_tenant_touches_only_its_row() {
        let (store, acme) = store_with_tenant("acme").await;
        let globex = add_tenant(&store, "globex").await;
        let db = store.conn();
        lock_tenant(db, acme, 42).await.unwrap();
        let updated = |id| async move {
            tenants::find_by_id(db, id)
                .await
                .unwrap()
                .unwrap()
                .updated_at
        };
        assert_eq!(updated(acme).await, 42);
        assert_eq!(updated(globex).await, 0);
        assert!(matches!(
            lock_tenant(db, TenantId::new(), 42).await,
            Err(StoreError::NotFound)
        ));
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
