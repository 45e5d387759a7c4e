//! A tenant's settings document (branding and policies) and its page-template overrides: read,
//! replace, validate, preview and roll back; drafts, publication and version history, for each
//! template and for the branding (versioned in the same tables under the reserved name
//! [`BRANDING_DOCUMENT`]). Every change pages can see is committed with its change-feed entry
//! (see `TenantAdmin::commit`), so every node's snapshot, and so every page, picks it up; drafts
//! are not, as pages never read them.

use std::sync::Arc;

use sea_orm::ConnectionTrait;
use serde::Serialize;
use tessera_core::{Branding, Clock, TenantId, TenantSettings};
use tessera_store::templates::{
    self, BRANDING_DOCUMENT, TemplateDraftRecord, TemplateRecord, TemplateVersionRecord,
};
use tessera_store::{StoreError, TenantRecord, tenants};

use crate::pages::{self, TemplateName, TemplateProblem, TenantLook};
use crate::{TenantAdmin, TenantError, TenantSnapshot};

/// How often a publication is retried when a concurrent one took its version number.
const PUBLISH_ATTEMPTS: usize = 5;

/// One template of a tenant, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateSummary {
    /// Template name.
    pub name: TemplateName,
    /// Whether the tenant replaced the default.
    pub overridden: bool,
    /// When the override was stored (Unix seconds); `null` for the default.
    pub updated_at: Option<i64>,
    /// Whether an unpublished draft exists.
    pub draft: bool,
}

/// One template of a tenant with the source its pages use.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateSource {
    /// Template name.
    pub name: TemplateName,
    /// Whether the tenant replaced the default.
    pub overridden: bool,
    /// When the override was stored (Unix seconds); `null` for the default.
    pub updated_at: Option<i64>,
    /// The handlebars source: the override, or the default.
    pub source: String,
    /// Whether an unpublished draft exists.
    pub draft: bool,
    /// The version the pages use; `null` for the default (never published, or reset).
    pub live_version: Option<i32>,
}

impl TemplateSource {
    fn of(name: TemplateName, stored: Option<TemplateRecord>) -> Self {
        match stored {
            Some(record) => Self {
                name,
                overridden: true,
                updated_at: Some(record.updated_at),
                source: record.source,
                draft: false,
                live_version: None,
            },
            None => Self {
                name,
                overridden: false,
                updated_at: None,
                source: name.default_source().to_owned(),
                draft: false,
                live_version: None,
            },
        }
    }
}

/// A draft of a template.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateDraft {
    /// Template name.
    pub name: TemplateName,
    /// The draft source, possibly broken.
    pub source: String,
    /// Unix seconds of the last save.
    pub updated_at: i64,
    /// Who saved it last (audit actor).
    pub updated_by: Option<String>,
}

/// The answer to saving a draft: saved, and what would stop its publication.
#[derive(Clone, Debug, Serialize)]
pub struct DraftSaved {
    /// Template name.
    pub name: TemplateName,
    /// Always `true`: a draft is saved even when it does not compile.
    pub saved: bool,
    /// Unix seconds of the save.
    pub updated_at: i64,
    /// Why publishing this draft would be refused, with line and column; `null` when it would not.
    pub problem: Option<TemplateProblem>,
}

/// A published version as listed.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateVersionSummary {
    /// Version number, from 1.
    pub version: i32,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Who published it (audit actor); `null` for versions from before history was kept.
    pub created_by: Option<String>,
    /// Whether the tenant's pages use this version now.
    pub live: bool,
}

/// One published version with its source.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateVersion {
    /// Template name.
    pub name: TemplateName,
    /// Version number, from 1.
    pub version: i32,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Who published it (audit actor).
    pub created_by: Option<String>,
    /// Whether the tenant's pages use this version now.
    pub live: bool,
    /// The handlebars source.
    pub source: String,
}

impl TemplateVersion {
    fn of(name: TemplateName, record: TemplateVersionRecord, live: bool) -> Self {
        Self {
            name,
            version: record.version,
            created_at: record.created_at,
            created_by: record.created_by,
            live,
            source: record.source,
        }
    }
}

/// The result of replacing a settings document.
#[derive(Clone, Debug)]
pub struct SettingsChange {
    /// The document this change replaced.
    pub before: TenantSettings,
    /// The document as stored.
    pub settings: TenantSettings,
    /// The branding version this change published; `None` when the branding did not change.
    pub branding_version: Option<i32>,
}

/// The unpublished draft of a tenant's branding.
#[derive(Clone, Debug, Serialize)]
pub struct BrandingDraft {
    /// The branding the draft holds (checked when it was saved).
    pub branding: Branding,
    /// Unix seconds of the last save.
    pub updated_at: i64,
    /// Who saved it last (audit actor).
    pub updated_by: Option<String>,
}

/// One published version of a tenant's branding.
#[derive(Clone, Debug, Serialize)]
pub struct BrandingVersion {
    /// Version number, from 1.
    pub version: i32,
    /// Unix seconds of the publication.
    pub created_at: i64,
    /// Who published it (audit actor); `null` for the branding recorded when history began.
    pub created_by: Option<String>,
    /// Whether the tenant's pages use this version now.
    pub live: bool,
    /// The branding.
    pub branding: Branding,
}

impl BrandingVersion {
    fn of(record: TemplateVersionRecord, live: bool) -> Result<Self, TenantError> {
        Ok(Self {
            branding: branding_of(&record.source)?,
            version: record.version,
            created_at: record.created_at,
            created_by: record.created_by,
            live,
        })
    }
}

/// What [`TenantAdmin::write_settings`] wrote.
struct SettingsWritten {
    /// The document it replaced.
    before: TenantSettings,
    /// The document as stored.
    settings: TenantSettings,
    /// The branding version appended, if one was.
    version: Option<TemplateVersionRecord>,
}

/// The canonical text of a branding as its versions and drafts store it: its JSON, fields in
/// declaration order and CSS variables sorted by name, so equal brandings have equal texts.
fn canonical(branding: &Branding) -> Result<String, TenantError> {
    serde_json::to_string(branding)
        .map_err(|e| TenantError::Unexpected(anyhow::Error::new(e).context("branding document")))
}

/// The branding a stored version or draft holds.
fn branding_of(source: &str) -> Result<Branding, TenantError> {
    serde_json::from_str(source)
        .map_err(|e| TenantError::Invalid(format!("the stored branding cannot be read: {e}")))
}

/// Maps a store failure of the branding history.
fn branding_err(e: StoreError) -> TenantError {
    TenantError::from_store("branding version", e)
}

/// Appends branding source `after` as the next branding version of `tenant` and consumes a
/// draft holding exactly it. When the history is still empty and the branding changes,
/// `before` is recorded first (unattributed) as version 1, so the branding users saw before the
/// first publication can be restored like any other version.
async fn append_branding_version(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    before: &str,
    after: &str,
    now: i64,
    actor: Option<&str>,
) -> Result<TemplateVersionRecord, StoreError> {
    if before != after
        && templates::latest_version(db, tenant, BRANDING_DOCUMENT)
            .await?
            .is_none()
    {
        templates::insert_next_version(db, tenant, BRANDING_DOCUMENT, before, now, None).await?;
    }
    let version =
        templates::insert_next_version(db, tenant, BRANDING_DOCUMENT, after, now, actor).await?;
    templates::delete_draft_if_unchanged(db, tenant, BRANDING_DOCUMENT, after).await?;
    Ok(TemplateVersionRecord {
        tenant_id: tenant,
        name: BRANDING_DOCUMENT.to_owned(),
        version,
        source: after.to_owned(),
        created_at: now,
        created_by: actor.map(str::to_owned),
    })
}

/// The branding version `tenant`'s pages use: the newest version when the settings document
/// holds its branding. Every publication writes both in one transaction; the comparison keeps a
/// branding written some other way (an older node during an upgrade) from being reported as a
/// version.
async fn live_branding_version(
    db: &impl ConnectionTrait,
    tenant: &TenantRecord,
) -> Result<Option<i32>, TenantError> {
    let newest = templates::latest_version(db, tenant.id, BRANDING_DOCUMENT)
        .await
        .map_err(branding_err)?;
    Ok(newest
        .filter(|v| branding_of(&v.source).ok().as_ref() == Some(&tenant.settings.branding))
        .map(|v| v.version))
}

/// Failures of storing or previewing a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateChangeError {
    /// The template was refused; the problem says where and why.
    #[error("invalid template: {0}")]
    Invalid(TemplateProblem),
    /// The tenant or template does not exist, or the database failed.
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

/// The overridable template called `raw`, or `NotFound("template")`.
fn template_name(raw: &str) -> Result<TemplateName, TenantError> {
    TemplateName::parse(raw).ok_or(TenantError::NotFound("template"))
}

/// Maps a store failure of the template tables.
fn store_err(e: StoreError) -> TenantError {
    TenantError::from_store("template", e)
}

/// Runs CPU-bound template work (compiling, strict sample renders) off the reactor.
async fn off_reactor<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TenantError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TenantError::Unexpected(anyhow::anyhow!("template check aborted: {e}")))
}

/// Checks `source` as template `name` off the reactor; the source back, or why it is refused.
async fn checked(name: TemplateName, source: String) -> Result<String, TemplateChangeError> {
    off_reactor(move || pages::validate(name.as_str(), &source).map(|()| source))
        .await?
        .map_err(TemplateChangeError::Invalid)
}

/// The live version of a template: the newest version when the live override holds its source.
/// Every publication writes both in one transaction; the comparison keeps an override written
/// some other way (an older node during an upgrade) from being reported as a version.
fn live_version(
    live: Option<&TemplateRecord>,
    newest: Option<&TemplateVersionRecord>,
) -> Option<i32> {
    match (live, newest) {
        (Some(live), Some(newest)) if live.source == newest.source => Some(newest.version),
        _ => None,
    }
}

/// The live override of template `name`, if any, and the number of the version it holds.
async fn live_override(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    name: TemplateName,
) -> Result<(Option<TemplateRecord>, Option<i32>), TenantError> {
    let stored = templates::find(db, tenant, name.as_str())
        .await
        .map_err(store_err)?;
    let newest = templates::latest_version(db, tenant, name.as_str())
        .await
        .map_err(store_err)?;
    let live = live_version(stored.as_ref(), newest.as_ref());
    Ok((stored, live))
}

impl TenantAdmin {
    /// The settings document (branding and policies) of a tenant.
    pub async fn settings(&self, slug: &str) -> Result<TenantSettings, TenantError> {
        Ok(self.tenant(slug).await?.settings)
    }

    /// Replaces a tenant's settings document after checking its ranges
    /// ([`TenantSettings::validate`]) and that its branding is safe to put in a page
    /// ([`pages::validate_branding`]). A changed branding is published: recorded as its next
    /// version by `actor` (audit actor), so the history holds every branding pages showed, and a
    /// branding draft holding exactly it is consumed. Returns the stored document and that
    /// version.
    pub async fn set_settings(
        &self,
        slug: &str,
        settings: TenantSettings,
        actor: Option<&str>,
    ) -> Result<SettingsChange, TenantError> {
        self.edit_settings(slug, actor, |_| Ok(settings.clone()))
            .await
    }

    /// Replaces the settings with what `edit` makes of the stored document, read and written
    /// under the tenant's row lock: two concurrent edits of different settings (say, JSON merge
    /// patches, RFC 7396) both take effect, neither overwrites the other with a stale copy. The
    /// result is validated like [`TenantAdmin::set_settings`]; `edit` may refuse with an error.
    pub async fn edit_settings(
        &self,
        slug: &str,
        actor: Option<&str>,
        edit: impl Fn(TenantSettings) -> Result<TenantSettings, TenantError>,
    ) -> Result<SettingsChange, TenantError> {
        let tenant = self.tenant(slug).await?;
        let written = self
            .write_settings(&tenant, actor, false, |current| {
                let settings = edit(current)?;
                settings.validate().map_err(TenantError::Invalid)?;
                pages::validate_branding(&settings.branding).map_err(TenantError::Invalid)?;
                Ok(settings)
            })
            .await?;
        tracing::info!(tenant = %slug, "tenant settings replaced");
        Ok(SettingsChange {
            before: written.before,
            settings: written.settings,
            branding_version: written.version.map(|v| v.version),
        })
    }

    /// Writes the settings document `change` makes of the stored one, in one transaction with
    /// its change-feed entry (so every node's snapshot and page follows within the feed's
    /// delay). When the branding changes, or always with `publish`, the new branding is appended
    /// as the next branding version in the same transaction (see [`append_branding_version`]).
    /// The tenant row is locked first, so concurrent changes queue and none is lost; should two
    /// still compute one version number, the loser rolls back and starts over.
    async fn write_settings(
        &self,
        tenant: &TenantRecord,
        actor: Option<&str>,
        publish: bool,
        change: impl Fn(TenantSettings) -> Result<TenantSettings, TenantError>,
    ) -> Result<SettingsWritten, TenantError> {
        let slug = tenant.slug.as_ref();
        let tenant_err = |e| TenantError::from_store("tenant", e);
        for _ in 0..PUBLISH_ATTEMPTS {
            let now = Clock.now();
            let txn = self.store().begin().await.map_err(tenant_err)?;
            templates::lock_tenant(&txn, tenant.id, now)
                .await
                .map_err(tenant_err)?;
            let current = tenants::find_by_id(&txn, tenant.id)
                .await
                .map_err(tenant_err)?
                .ok_or(TenantError::NotFound("tenant"))?
                .settings;
            let settings = match change(current.clone()) {
                Ok(settings) => settings,
                Err(e) => {
                    txn.rollback()
                        .await
                        .map_err(|e| tenant_err(StoreError::from(e)))?;
                    return Err(e);
                }
            };
            tenants::set_tenant_settings(&txn, tenant.id, &settings, now)
                .await
                .map_err(tenant_err)?;
            let mut version = None;
            if publish || settings.branding != current.branding {
                let before = canonical(&current.branding)?;
                let after = canonical(&settings.branding)?;
                match append_branding_version(&txn, tenant.id, &before, &after, now, actor).await {
                    Ok(appended) => version = Some(appended),
                    Err(StoreError::Conflict) => {
                        // PostgreSQL aborts the transaction on the violation: start over.
                        tracing::debug!(tenant = %slug, "branding version taken concurrently; retrying");
                        txn.rollback()
                            .await
                            .map_err(|e| branding_err(StoreError::from(e)))?;
                        continue;
                    }
                    Err(e) => return Err(branding_err(e)),
                }
            }
            self.commit(txn, (tenant.id, slug), "settings", now).await?;
            if let Some(v) = &version {
                tracing::info!(tenant = %slug, version = v.version, "branding version published");
            }
            return Ok(SettingsWritten {
                before: current,
                settings,
                version,
            });
        }
        Err(TenantError::Concurrent(
            "the settings are being changed concurrently; retry",
        ))
    }

    /// The branding draft of a tenant, or `NotFound("branding draft")`.
    pub async fn branding_draft(&self, slug: &str) -> Result<BrandingDraft, TenantError> {
        let tenant = self.tenant(slug).await?;
        let draft = templates::find_draft(self.store().conn(), tenant.id, BRANDING_DOCUMENT)
            .await
            .map_err(branding_err)?
            .ok_or(TenantError::NotFound("branding draft"))?;
        Ok(BrandingDraft {
            branding: branding_of(&draft.source)?,
            updated_at: draft.updated_at,
            updated_by: draft.updated_by,
        })
    }

    /// Saves `branding` as the tenant's branding draft once [`pages::validate_branding`]
    /// accepts it (the rule the settings document's branding follows). Pages never see a
    /// draft.
    pub async fn save_branding_draft(
        &self,
        slug: &str,
        branding: Branding,
        actor: Option<&str>,
    ) -> Result<BrandingDraft, TenantError> {
        pages::validate_branding(&branding).map_err(TenantError::Invalid)?;
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let draft = TemplateDraftRecord {
            tenant_id: tenant.id,
            name: BRANDING_DOCUMENT.to_owned(),
            source: canonical(&branding)?,
            updated_at: now,
            updated_by: actor.map(str::to_owned),
        };
        templates::save_draft(self.store().conn(), &draft)
            .await
            .map_err(branding_err)?;
        tracing::info!(tenant = %slug, "branding draft saved");
        Ok(BrandingDraft {
            branding,
            updated_at: now,
            updated_by: draft.updated_by,
        })
    }

    /// Discards the tenant's branding draft; `NotFound("branding draft")` when there is none.
    pub async fn discard_branding_draft(&self, slug: &str) -> Result<(), TenantError> {
        let tenant = self.tenant(slug).await?;
        templates::delete_draft(self.store().conn(), tenant.id, BRANDING_DOCUMENT)
            .await
            .map_err(|e| TenantError::from_store("branding draft", e))?;
        tracing::info!(tenant = %slug, "branding draft discarded");
        Ok(())
    }

    /// Publishes `branding`, checked under today's rules, as the next branding version: the
    /// settings document takes it (see [`Self::write_settings`]). Returns the new, live version.
    async fn publish_branding(
        &self,
        slug: &str,
        branding: Branding,
        actor: Option<&str>,
    ) -> Result<BrandingVersion, TenantError> {
        pages::validate_branding(&branding).map_err(TenantError::Invalid)?;
        let tenant = self.tenant(slug).await?;
        let written = self
            .write_settings(&tenant, actor, true, |mut settings| {
                settings.branding = branding.clone();
                Ok(settings)
            })
            .await?;
        let version = written.version.ok_or_else(|| {
            TenantError::Unexpected(anyhow::anyhow!("a publication recorded no version"))
        })?;
        BrandingVersion::of(version, true)
    }

    /// Publishes the tenant's branding draft: it becomes the next version, goes live on every
    /// page, and the draft is deleted. `NotFound("branding draft")` without one.
    pub async fn publish_branding_draft(
        &self,
        slug: &str,
        actor: Option<&str>,
    ) -> Result<BrandingVersion, TenantError> {
        let draft = self.branding_draft(slug).await?;
        self.publish_branding(slug, draft.branding, actor).await
    }

    /// Every published branding version of a tenant, newest first, and which one is live.
    pub async fn branding_versions(
        &self,
        slug: &str,
    ) -> Result<Vec<TemplateVersionSummary>, TenantError> {
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let live = live_branding_version(db, &tenant).await?;
        Ok(templates::versions(db, tenant.id, BRANDING_DOCUMENT)
            .await
            .map_err(branding_err)?
            .into_iter()
            .map(|v| TemplateVersionSummary {
                version: v.version,
                created_at: v.created_at,
                created_by: v.created_by,
                live: Some(v.version) == live,
            })
            .collect())
    }

    /// Branding version `version` of a tenant; `NotFound("branding version")`.
    pub async fn branding_version(
        &self,
        slug: &str,
        version: i32,
    ) -> Result<BrandingVersion, TenantError> {
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let record = templates::find_version(db, tenant.id, BRANDING_DOCUMENT, version)
            .await
            .map_err(branding_err)?
            .ok_or(TenantError::NotFound("branding version"))?;
        let live = live_branding_version(db, &tenant).await? == Some(version);
        BrandingVersion::of(record, live)
    }

    /// Rolls the branding back to version `version`: it is published again, checked under
    /// today's rules, as a new version (history is append-only). A draft is left alone unless
    /// it holds exactly that branding. Returns the new version.
    pub async fn restore_branding_version(
        &self,
        slug: &str,
        version: i32,
        actor: Option<&str>,
    ) -> Result<BrandingVersion, TenantError> {
        let old = self.branding_version(slug, version).await?;
        self.publish_branding(slug, old.branding, actor).await
    }

    /// Every overridable template of a tenant, whether it is overridden and has a draft.
    pub async fn list_templates(&self, slug: &str) -> Result<Vec<TemplateSummary>, TenantError> {
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let stored = templates::list(db, tenant.id).await.map_err(store_err)?;
        let drafts = templates::draft_names(db, tenant.id)
            .await
            .map_err(store_err)?;
        Ok(TemplateName::ALL
            .into_iter()
            .map(|name| {
                let record = stored.iter().find(|r| r.name == name.as_str());
                TemplateSummary {
                    name,
                    overridden: record.is_some(),
                    updated_at: record.map(|r| r.updated_at),
                    draft: drafts.iter().any(|d| d == name.as_str()),
                }
            })
            .collect())
    }

    /// The source of one template of a tenant (its override, or the default), whether it has a
    /// draft, and the live version number.
    pub async fn template(&self, slug: &str, name: &str) -> Result<TemplateSource, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let (stored, live) = live_override(db, tenant.id, name).await?;
        let draft = templates::find_draft(db, tenant.id, name.as_str())
            .await
            .map_err(store_err)?;
        let mut source = TemplateSource::of(name, stored);
        source.draft = draft.is_some();
        source.live_version = live;
        Ok(source)
    }

    /// Publishes `source` (already checked) as the next version of template `name` and makes it
    /// live, in one transaction with its change-feed entry; with `draft_published`, also deletes
    /// the draft if it still holds that source. A concurrent publication that took the version
    /// number (the primary key refuses the duplicate) makes the transaction roll back and start
    /// over. Returns the new version.
    async fn publish(
        &self,
        tenant: &TenantRecord,
        name: TemplateName,
        source: &str,
        actor: Option<&str>,
        draft_published: bool,
    ) -> Result<TemplateVersionRecord, TenantError> {
        let slug = tenant.slug.as_ref();
        for _ in 0..PUBLISH_ATTEMPTS {
            let now = Clock.now();
            let txn = self.store().begin().await.map_err(store_err)?;
            // The live row is written first: on PostgreSQL its row lock queues concurrent
            // publications of this template, so the next one reads the version this one adds;
            // on SQLite a transaction whose first statement writes holds the write lock before
            // it reads, so no other connection's commit can make its snapshot stale
            // (SQLITE_BUSY_SNAPSHOT).
            let live = TemplateRecord {
                tenant_id: tenant.id,
                name: name.as_str().to_owned(),
                source: source.to_owned(),
                updated_at: now,
            };
            templates::upsert(&txn, &live).await.map_err(store_err)?;
            let version = match templates::insert_next_version(
                &txn,
                tenant.id,
                name.as_str(),
                source,
                now,
                actor,
            )
            .await
            {
                Ok(version) => version,
                Err(StoreError::Conflict) => {
                    // A safety net, should two publications still compute the same number
                    // (the live row deleted in between). PostgreSQL aborts the transaction on
                    // the violation: start over.
                    tracing::debug!(tenant = %slug, template = %name, "template version taken concurrently; retrying");
                    txn.rollback()
                        .await
                        .map_err(|e| store_err(StoreError::from(e)))?;
                    continue;
                }
                Err(e) => return Err(store_err(e)),
            };
            if draft_published {
                templates::delete_draft_if_unchanged(&txn, tenant.id, name.as_str(), source)
                    .await
                    .map_err(store_err)?;
            }
            self.commit(txn, (tenant.id, slug), "template", now).await?;
            tracing::info!(tenant = %slug, template = %name, version, "template version published");
            return Ok(TemplateVersionRecord {
                tenant_id: tenant.id,
                name: name.as_str().to_owned(),
                version,
                source: source.to_owned(),
                created_at: now,
                created_by: actor.map(str::to_owned),
            });
        }
        Err(TenantError::Concurrent(
            "the template is being published concurrently; retry",
        ))
    }

    /// [`Self::publish`] of `source` once [`pages::validate`] accepts it (checked under today's
    /// rules, whatever it passed before). Returns the new, live version.
    async fn publish_checked(
        &self,
        slug: &str,
        name: TemplateName,
        source: String,
        actor: Option<&str>,
        draft_published: bool,
    ) -> Result<TemplateVersion, TemplateChangeError> {
        let tenant = self.tenant(slug).await?;
        let source = checked(name, source).await?;
        let published = self
            .publish(&tenant, name, &source, actor, draft_published)
            .await?;
        Ok(TemplateVersion::of(name, published, true))
    }

    /// Publishes `source` as a tenant's override of template `name` after [`pages::validate`]
    /// accepts it, recorded as its next version; a draft, if any, is left alone. `actor` is who
    /// published it (audit actor).
    pub async fn set_template(
        &self,
        slug: &str,
        name: &str,
        source: String,
        actor: Option<&str>,
    ) -> Result<TemplateSource, TemplateChangeError> {
        let name = template_name(name)?;
        let published = self
            .publish_checked(slug, name, source, actor, false)
            .await?;
        let mut shown = self.template(slug, name.as_str()).await?;
        // What this call published, even if another publication followed it at once.
        shown.source = published.source;
        shown.updated_at = Some(published.created_at);
        shown.overridden = true;
        shown.live_version = Some(published.version);
        Ok(shown)
    }

    /// Removes a tenant's override of template `name`, so the default serves again. Removing
    /// an override that does not exist changes nothing and succeeds. The version history and
    /// the draft are kept, and nothing is recorded as a version: afterwards no version is live,
    /// and restoring one publishes it again.
    pub async fn reset_template(&self, slug: &str, name: &str) -> Result<(), TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let txn = self.store().begin().await.map_err(store_err)?;
        match templates::delete(&txn, tenant.id, name.as_str()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(store_err(e)),
        }
        self.commit(txn, (tenant.id, slug), "template", now).await?;
        tracing::info!(tenant = %slug, template = %name, "template override removed");
        Ok(())
    }

    /// The draft of template `name`, or `NotFound("draft")`.
    pub async fn template_draft(
        &self,
        slug: &str,
        name: &str,
    ) -> Result<TemplateDraft, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let draft = templates::find_draft(self.store().conn(), tenant.id, name.as_str())
            .await
            .map_err(store_err)?
            .ok_or(TenantError::NotFound("draft"))?;
        Ok(TemplateDraft {
            name,
            source: draft.source,
            updated_at: draft.updated_at,
            updated_by: draft.updated_by,
        })
    }

    /// Saves `source` as the draft of template `name`, whatever it holds (a draft may be broken
    /// while it is edited), and says what would stop its publication. Pages never see a draft.
    pub async fn save_template_draft(
        &self,
        slug: &str,
        name: &str,
        source: String,
        actor: Option<&str>,
    ) -> Result<DraftSaved, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let draft = TemplateDraftRecord {
            tenant_id: tenant.id,
            name: name.as_str().to_owned(),
            source,
            updated_at: now,
            updated_by: actor.map(str::to_owned),
        };
        templates::save_draft(self.store().conn(), &draft)
            .await
            .map_err(store_err)?;
        let source = draft.source;
        let problem = off_reactor(move || pages::validate(name.as_str(), &source).err()).await?;
        tracing::info!(tenant = %slug, template = %name, "template draft saved");
        Ok(DraftSaved {
            name,
            saved: true,
            updated_at: now,
            problem,
        })
    }

    /// Discards the draft of template `name`; `NotFound("draft")` when there is none.
    pub async fn discard_template_draft(&self, slug: &str, name: &str) -> Result<(), TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        templates::delete_draft(self.store().conn(), tenant.id, name.as_str())
            .await
            .map_err(|e| TenantError::from_store("draft", e))?;
        tracing::info!(tenant = %slug, template = %name, "template draft discarded");
        Ok(())
    }

    /// Publishes the draft of template `name` once [`pages::validate`] accepts it: it becomes
    /// the next version and goes live, and the draft is deleted. `NotFound("draft")` without one.
    pub async fn publish_template_draft(
        &self,
        slug: &str,
        name: &str,
        actor: Option<&str>,
    ) -> Result<TemplateVersion, TemplateChangeError> {
        let draft = self.template_draft(slug, name).await?;
        self.publish_checked(slug, draft.name, draft.source, actor, true)
            .await
    }

    /// Every published version of template `name`, newest first, and which one is live.
    pub async fn template_versions(
        &self,
        slug: &str,
        name: &str,
    ) -> Result<Vec<TemplateVersionSummary>, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let (_, live) = live_override(db, tenant.id, name).await?;
        Ok(templates::versions(db, tenant.id, name.as_str())
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|v| TemplateVersionSummary {
                version: v.version,
                created_at: v.created_at,
                created_by: v.created_by,
                live: Some(v.version) == live,
            })
            .collect())
    }

    /// Version `version` of template `name` with its source; `NotFound("template version")`.
    pub async fn template_version(
        &self,
        slug: &str,
        name: &str,
        version: i32,
    ) -> Result<TemplateVersion, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let db = self.store().conn();
        let record = templates::find_version(db, tenant.id, name.as_str(), version)
            .await
            .map_err(store_err)?
            .ok_or(TenantError::NotFound("template version"))?;
        let live = live_override(db, tenant.id, name).await?.1 == Some(version);
        Ok(TemplateVersion::of(name, record, live))
    }

    /// Rolls template `name` back to version `version`: its source, checked again under today's
    /// rules, is published as a new version (history is append-only) and goes live. A draft is
    /// left alone. Returns the new version.
    pub async fn restore_template_version(
        &self,
        slug: &str,
        name: &str,
        version: i32,
        actor: Option<&str>,
    ) -> Result<TemplateVersion, TemplateChangeError> {
        let old = self.template_version(slug, name, version).await?;
        self.publish_checked(slug, old.name, old.source, actor, false)
            .await
    }

    /// Renders template `name` with sample data and the tenant's other overrides: `source` when
    /// given (checked like [`Self::set_template`] would), otherwise the version the tenant's
    /// pages use now; with `branding` when given (checked like the settings), otherwise the
    /// tenant's. `csp_nonce` is the nonce of the CSP the page is shown under.
    pub async fn preview_template(
        &self,
        slug: &str,
        name: &str,
        source: Option<String>,
        branding: Option<Branding>,
        csp_nonce: &str,
    ) -> Result<String, TemplateChangeError> {
        let name = template_name(name)?;
        if let Some(branding) = &branding {
            pages::validate_branding(branding).map_err(TenantError::Invalid)?;
        }
        let snapshot: Arc<TenantSnapshot> = self
            .directory()
            .resolve(slug)
            .await?
            .ok_or(TenantError::NotFound("tenant"))?;
        let source = match source {
            Some(source) => source,
            None => self.template(slug, name.as_str()).await?.source,
        };
        let nonce = csp_nonce.to_owned();
        off_reactor(move || {
            pages::validate(name.as_str(), &source)?;
            let look = match &branding {
                Some(branding) => TenantLook::of(&snapshot.tenant.name, branding),
                None => snapshot.look(),
            };
            pages::preview_with_look(&snapshot, name, &source, look, &nonce)
        })
        .await?
        .map_err(TemplateChangeError::Invalid)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix::SyncArbiter;
    use serde_json::json;
    use tessera_core::{SigningAlg, TenantSlug};
    use tessera_keys::{KeyForge, MasterKey};
    use tessera_store::{PoolSettings, Store, feed};

    use super::*;
    use crate::{Directory, NewTenant, TenantDefaults};

    async fn admin_with(slugs: &[&str]) -> TenantAdmin {
        // An in-memory SQLite database lives on one connection, so the pool holds exactly one.
        let pool = PoolSettings {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(30),
        };
        let store = Store::connect("sqlite::memory:", &pool).await.unwrap();
        store.migrate().await.unwrap();
        let master = Arc::new(MasterKey::generate());
        let m = master.clone();
        let forge = SyncArbiter::start(2, move || KeyForge::new(m.clone()));
        let directory = Directory::new(store.clone(), master, "https://id.example.com", 16);
        let admin = TenantAdmin::new(
            store,
            forge,
            directory,
            TenantDefaults {
                access_token_ttl: 600,
                key_rotation_interval: 86_400,
            },
        );
        for slug in slugs {
            admin
                .create_tenant(NewTenant {
                    slug: TenantSlug::parse(slug).unwrap(),
                    name: Some(format!("{slug} Inc")),
                    alg: SigningAlg::Es256,
                })
                .await
                .unwrap();
        }
        admin
    }

    async fn error_page(admin: &TenantAdmin, slug: &str) -> String {
        let snapshot = admin.directory().resolve(slug).await.unwrap().unwrap();
        let data = pages::PageContext::new(snapshot.look(), "Oops", "n").with(json!({
            "title": "Oops", "message": "Something is off.", "code": "invalid_request"
        }));
        snapshot.render_page("error", &data)
    }

    const CUSTOM: &str = "{{#> layout}}<p>CUSTOM {{message}}</p>{{/layout}}";

    #[actix::test]
    async fn a_stored_template_reaches_its_tenants_snapshot_and_rolls_back() {
        let admin = admin_with(&["acme", "globex"]).await;
        // Cache both snapshots first: the change must invalidate acme's.
        assert!(!error_page(&admin, "acme").await.contains("CUSTOM"));
        assert!(!error_page(&admin, "globex").await.contains("CUSTOM"));
        let head = feed::head(admin.store().conn()).await.unwrap();

        let stored = admin
            .set_template("acme", "error", CUSTOM.to_owned(), None)
            .await
            .unwrap();
        assert!(stored.overridden);
        assert!(
            error_page(&admin, "acme")
                .await
                .contains("CUSTOM Something is off.")
        );
        assert!(!error_page(&admin, "globex").await.contains("CUSTOM"));
        let changes = feed::since(admin.store().conn(), head, 10).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].what, "template");
        assert_eq!(changes[0].tenant_slug.as_deref(), Some("acme"));

        let listed = admin.list_templates("acme").await.unwrap();
        assert_eq!(listed.len(), TemplateName::ALL.len());
        assert!(
            listed
                .iter()
                .all(|t| t.overridden == (t.name == TemplateName::Error))
        );

        admin.reset_template("acme", "error").await.unwrap();
        assert!(!error_page(&admin, "acme").await.contains("CUSTOM"));
        let shown = admin.template("acme", "error").await.unwrap();
        assert!(!shown.overridden);
        assert_eq!(shown.source, TemplateName::Error.default_source());
        // Nothing left to roll back: no change, no feed entry.
        let head = feed::head(admin.store().conn()).await.unwrap();
        admin.reset_template("acme", "error").await.unwrap();
        assert_eq!(feed::head(admin.store().conn()).await.unwrap(), head);
    }

    #[actix::test]
    async fn refused_templates_and_names_are_not_stored() {
        let admin = admin_with(&["acme"]).await;
        let err = admin
            .set_template(
                "acme",
                "login",
                "{{#> layout}}\n{{nope}}\n{{/layout}}".to_owned(),
                None,
            )
            .await
            .unwrap_err();
        let TemplateChangeError::Invalid(problem) = err else {
            panic!("expected an invalid template, got {err:?}");
        };
        assert_eq!(problem.line, Some(2));
        assert!(matches!(
            admin
                .set_template("acme", "form_post", CUSTOM.to_owned(), None)
                .await,
            Err(TemplateChangeError::Tenant(TenantError::NotFound(
                "template"
            )))
        ));
        assert!(matches!(
            admin
                .set_template("nope", "error", CUSTOM.to_owned(), None)
                .await,
            Err(TemplateChangeError::Tenant(TenantError::NotFound("tenant")))
        ));
        assert!(!admin.template("acme", "login").await.unwrap().overridden);
    }

    #[actix::test]
    async fn settings_are_checked_and_branding_reaches_the_pages() {
        let admin = admin_with(&["acme"]).await;
        let mut settings = admin.settings("acme").await.unwrap();
        assert_eq!(settings, TenantSettings::default());

        settings.branding.primary_color = Some("red;}</style><script>".into());
        assert!(matches!(
            admin.set_settings("acme", settings.clone(), None).await,
            Err(TenantError::Invalid(m)) if m.contains("primary_color")
        ));
        settings.branding.primary_color = Some("#0a0b0c".into());
        settings.tokens.code_ttl_secs = 600;
        assert!(matches!(
            admin.set_settings("acme", settings.clone(), None).await,
            Err(TenantError::Invalid(m)) if m.contains("code_ttl_secs")
        ));
        settings.tokens.code_ttl_secs = 30;
        settings.branding.display_name = Some("Acme Rockets".into());
        let stored = admin
            .set_settings("acme", settings.clone(), None)
            .await
            .unwrap();
        assert_eq!(stored.settings, settings);
        assert_eq!(
            stored.branding_version,
            Some(2),
            "version 1 is the original branding"
        );
        let page = error_page(&admin, "acme").await;
        assert!(page.contains("#0a0b0c"), "{page}");
        assert!(page.contains("Acme Rockets"), "{page}");
    }

    #[actix::test]
    async fn a_branding_draft_reaches_the_snapshot_only_when_published_and_rolls_back() {
        let admin = admin_with(&["acme", "globex"]).await;
        assert!(
            TemplateName::parse(BRANDING_DOCUMENT).is_none(),
            "a reserved name"
        );
        assert!(!error_page(&admin, "acme").await.contains("Drafty"));
        let head = feed::head(admin.store().conn()).await.unwrap();

        let look = Branding {
            display_name: Some("Drafty".into()),
            primary_color: Some("#0a0b0c".into()),
            ..Branding::default()
        };
        admin
            .save_branding_draft("acme", look.clone(), Some("admin:x"))
            .await
            .unwrap();
        assert_eq!(admin.branding_draft("acme").await.unwrap().branding, look);
        assert_eq!(
            feed::head(admin.store().conn()).await.unwrap(),
            head,
            "a draft is no change pages see"
        );
        assert!(!error_page(&admin, "acme").await.contains("Drafty"));
        let bad = Branding {
            primary_color: Some("red;}".into()),
            ..Branding::default()
        };
        assert!(matches!(
            admin.save_branding_draft("acme", bad, None).await,
            Err(TenantError::Invalid(m)) if m.contains("primary_color")
        ));

        let published = admin
            .publish_branding_draft("acme", Some("admin:x"))
            .await
            .unwrap();
        assert_eq!((published.version, published.live), (2, true));
        assert!(error_page(&admin, "acme").await.contains("Drafty"));
        assert!(!error_page(&admin, "globex").await.contains("Drafty"));
        let changes = feed::since(admin.store().conn(), head, 10).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].what, "settings");
        assert!(matches!(
            admin.branding_draft("acme").await,
            Err(TenantError::NotFound("branding draft"))
        ));
        let listed = admin.branding_versions("acme").await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|v| (v.version, v.live))
                .collect::<Vec<_>>(),
            vec![(2, true), (1, false)]
        );
        assert_eq!(listed[1].created_by, None, "the original branding");
        assert!(admin.branding_versions("globex").await.unwrap().is_empty());

        let restored = admin
            .restore_branding_version("acme", 1, None)
            .await
            .unwrap();
        assert_eq!(restored.version, 3);
        assert_eq!(restored.branding, Branding::default());
        assert!(!error_page(&admin, "acme").await.contains("Drafty"));
        assert_eq!(
            admin.settings("acme").await.unwrap().branding,
            Branding::default()
        );
        assert!(!admin.branding_version("acme", 2).await.unwrap().live);
        assert!(matches!(
            admin.branding_version("globex", 1).await,
            Err(TenantError::NotFound("branding version"))
        ));
        // Branding versions are no template's.
        assert!(
            admin
                .list_templates("acme")
                .await
                .unwrap()
                .iter()
                .all(|t| !t.draft && !t.overridden)
        );
    }

    #[actix::test]
    async fn a_preview_uses_the_tenants_branding_and_stores_nothing() {
        let admin = admin_with(&["acme"]).await;
        let mut settings = TenantSettings::default();
        settings.branding.display_name = Some("Preview Corp".into());
        admin.set_settings("acme", settings, None).await.unwrap();
        let html = admin
            .preview_template(
                "acme",
                "consent",
                Some("{{#> layout}}<p>{{client_name}}: {{#each scopes}}[{{this.name}}]{{/each}}</p>{{/layout}}".into()),
                None,
                "n0nce",
            )
            .await
            .unwrap();
        assert!(
            html.contains("<p>Acme Wiki: [openid][profile]</p>"),
            "{html}"
        );
        assert!(html.contains("Preview Corp"), "{html}");
        assert!(html.contains("nonce=\"n0nce\""), "{html}");
        assert!(!admin.template("acme", "consent").await.unwrap().overridden);

        let default = admin
            .preview_template("acme", "layout", None, None, "n0nce")
            .await
            .unwrap();
        assert!(
            default.contains("Sign in"),
            "the layout is shown around the login page"
        );
        assert!(matches!(
            admin
                .preview_template("acme", "error", Some("{{{message}}}".into()), None, "n")
                .await,
            Err(TemplateChangeError::Invalid(_))
        ));
    }
}
