//! A tenant's settings document (branding and policies) and its page-template overrides: read,
//! replace, validate, preview and roll back. Every change is committed with its change-feed entry
//! (see `TenantAdmin::commit`), so every node's snapshot, and so every page, picks it up.

use std::sync::Arc;

use serde::Serialize;
use tessera_core::{Clock, TenantSettings};
use tessera_store::templates::{self, TemplateRecord};
use tessera_store::{StoreError, tenants};

use crate::pages::{self, TemplateName, TemplateProblem};
use crate::{TenantAdmin, TenantError, TenantSnapshot};

/// One template of a tenant, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateSummary {
    /// Template name.
    pub name: TemplateName,
    /// Whether the tenant replaced the default.
    pub overridden: bool,
    /// When the override was stored (Unix seconds); `null` for the default.
    pub updated_at: Option<i64>,
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
}

impl TemplateSource {
    fn of(name: TemplateName, stored: Option<TemplateRecord>) -> Self {
        match stored {
            Some(record) => Self {
                name,
                overridden: true,
                updated_at: Some(record.updated_at),
                source: record.source,
            },
            None => Self {
                name,
                overridden: false,
                updated_at: None,
                source: name.default_source().to_owned(),
            },
        }
    }
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

/// Runs CPU-bound template work (compiling, strict sample renders) off the reactor.
async fn off_reactor<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TenantError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TenantError::Unexpected(anyhow::anyhow!("template check aborted: {e}")))
}

impl TenantAdmin {
    /// The settings document (branding and policies) of a tenant.
    pub async fn settings(&self, slug: &str) -> Result<TenantSettings, TenantError> {
        Ok(self.tenant(slug).await?.settings)
    }

    /// Replaces a tenant's settings document after checking its ranges
    /// ([`TenantSettings::validate`]) and that its branding is safe to put in a page
    /// ([`pages::validate_branding`]). Returns the stored document.
    pub async fn set_settings(
        &self,
        slug: &str,
        settings: TenantSettings,
    ) -> Result<TenantSettings, TenantError> {
        settings.validate().map_err(TenantError::Invalid)?;
        pages::validate_branding(&settings.branding).map_err(TenantError::Invalid)?;
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let txn = self
            .store()
            .begin()
            .await
            .map_err(|e| TenantError::from_store("tenant", e))?;
        tenants::set_tenant_settings(&txn, tenant.id, &settings, now)
            .await
            .map_err(|e| TenantError::from_store("tenant", e))?;
        self.commit(txn, (tenant.id, slug), "settings", now).await?;
        tracing::info!(tenant = %slug, "tenant settings replaced");
        self.settings(slug).await
    }

    /// Every overridable template of a tenant and whether it is overridden.
    pub async fn list_templates(&self, slug: &str) -> Result<Vec<TemplateSummary>, TenantError> {
        let tenant = self.tenant(slug).await?;
        let stored = templates::list(self.store().conn(), tenant.id)
            .await
            .map_err(|e| TenantError::from_store("template", e))?;
        Ok(TemplateName::ALL
            .into_iter()
            .map(|name| {
                let record = stored.iter().find(|r| r.name == name.as_str());
                TemplateSummary {
                    name,
                    overridden: record.is_some(),
                    updated_at: record.map(|r| r.updated_at),
                }
            })
            .collect())
    }

    /// The source of one template of a tenant: its override, or the default.
    pub async fn template(&self, slug: &str, name: &str) -> Result<TemplateSource, TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let stored = templates::find(self.store().conn(), tenant.id, name.as_str())
            .await
            .map_err(|e| TenantError::from_store("template", e))?;
        Ok(TemplateSource::of(name, stored))
    }

    /// Stores a tenant's override of template `name` after [`pages::validate`] accepts it.
    pub async fn set_template(
        &self,
        slug: &str,
        name: &str,
        source: String,
    ) -> Result<TemplateSource, TemplateChangeError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let source = off_reactor(move || pages::validate(name.as_str(), &source).map(|()| source))
            .await?
            .map_err(TemplateChangeError::Invalid)?;
        let now = Clock.now();
        let record = TemplateRecord {
            tenant_id: tenant.id,
            name: name.as_str().to_owned(),
            source,
            updated_at: now,
        };
        let txn = self
            .store()
            .begin()
            .await
            .map_err(|e| TenantError::from_store("template", e))?;
        templates::upsert(&txn, &record)
            .await
            .map_err(|e| TenantError::from_store("template", e))?;
        self.commit(txn, (tenant.id, slug), "template", now).await?;
        tracing::info!(tenant = %slug, template = %name, "template override stored");
        Ok(TemplateSource::of(name, Some(record)))
    }

    /// Removes a tenant's override of template `name`, so the default serves again. Removing
    /// an override that does not exist changes nothing and succeeds.
    pub async fn reset_template(&self, slug: &str, name: &str) -> Result<(), TenantError> {
        let name = template_name(name)?;
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let txn = self
            .store()
            .begin()
            .await
            .map_err(|e| TenantError::from_store("template", e))?;
        match templates::delete(&txn, tenant.id, name.as_str()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(TenantError::from_store("template", e)),
        }
        self.commit(txn, (tenant.id, slug), "template", now).await?;
        tracing::info!(tenant = %slug, template = %name, "template override removed");
        Ok(())
    }

    /// Renders template `name` with sample data and the tenant's branding and other overrides:
    /// `source` when given (checked like [`Self::set_template`] would), otherwise the version
    /// the tenant's pages use now. `csp_nonce` is the nonce of the response's CSP.
    pub async fn preview_template(
        &self,
        slug: &str,
        name: &str,
        source: Option<String>,
        csp_nonce: &str,
    ) -> Result<String, TemplateChangeError> {
        let name = template_name(name)?;
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
            pages::preview(&snapshot, name, &source, &nonce)
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
            .set_template("acme", "error", CUSTOM.to_owned())
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
            )
            .await
            .unwrap_err();
        let TemplateChangeError::Invalid(problem) = err else {
            panic!("expected an invalid template, got {err:?}");
        };
        assert_eq!(problem.line, Some(2));
        assert!(matches!(
            admin
                .set_template("acme", "form_post", CUSTOM.to_owned())
                .await,
            Err(TemplateChangeError::Tenant(TenantError::NotFound(
                "template"
            )))
        ));
        assert!(matches!(
            admin.set_template("nope", "error", CUSTOM.to_owned()).await,
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
            admin.set_settings("acme", settings.clone()).await,
            Err(TenantError::Invalid(m)) if m.contains("primary_color")
        ));
        settings.branding.primary_color = Some("#0a0b0c".into());
        settings.tokens.code_ttl_secs = 600;
        assert!(matches!(
            admin.set_settings("acme", settings.clone()).await,
            Err(TenantError::Invalid(m)) if m.contains("code_ttl_secs")
        ));
        settings.tokens.code_ttl_secs = 30;
        settings.branding.display_name = Some("Acme Rockets".into());
        let stored = admin.set_settings("acme", settings.clone()).await.unwrap();
        assert_eq!(stored, settings);
        let page = error_page(&admin, "acme").await;
        assert!(page.contains("#0a0b0c"), "{page}");
        assert!(page.contains("Acme Rockets"), "{page}");
    }

    #[actix::test]
    async fn a_preview_uses_the_tenants_branding_and_stores_nothing() {
        let admin = admin_with(&["acme"]).await;
        let mut settings = TenantSettings::default();
        settings.branding.display_name = Some("Preview Corp".into());
        admin.set_settings("acme", settings).await.unwrap();
        let html = admin
            .preview_template(
                "acme",
                "consent",
                Some("{{#> layout}}<p>{{client_name}}: {{#each scopes}}[{{this.name}}]{{/each}}</p>{{/layout}}".into()),
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
            .preview_template("acme", "layout", None, "n0nce")
            .await
            .unwrap();
        assert!(
            default.contains("Sign in"),
            "the layout is shown around the login page"
        );
        assert!(matches!(
            admin
                .preview_template("acme", "error", Some("{{{message}}}".into()), "n")
                .await,
            Err(TemplateChangeError::Invalid(_))
        ));
    }
}
