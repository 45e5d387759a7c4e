//! Tenant resolution: slug → `Arc<TenantSnapshot>` from a bounded cache, loaded lazily from the
//! database on a miss. Unknown slugs are cached too (as `None`) so a flood of bogus tenant names
//! costs one query each per invalidation, not one per request; creating a tenant writes a feed
//! entry that evicts the negative entry.
//!
//! It also routes custom domains: host → slug from a second bounded cache (negatives cached the
//! same way, so a flood of junk `Host` headers costs one indexed query per host), cleared by every
//! invalidation: a domain change writes a feed entry like any other tenant change. A tenant with a
//! verified domain has the issuer `https://{domain}` (OIDC Core §2, Discovery §3: https issuers).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;
use tessera_core::Clock;
use tessera_keys::{KeySet, MasterKey};
use tessera_store::{Store, clients, domains, keys, scopes, templates, tenants};

use crate::domains::{CustomDomain, OwnHosts};
use crate::{TenantError, TenantSnapshot};

type Entry = Option<Arc<TenantSnapshot>>;

struct Inner {
    store: Store,
    master: Arc<MasterKey>,
    public_url: String,
    cache: Cache<String, Entry>,
    /// Verified custom domain → tenant slug (`None`: no tenant is served there).
    hosts: Cache<String, Option<String>>,
    /// Bumped by every invalidation; a load that raced one is not cached.
    generation: AtomicU64,
}

/// The shared, lock-free read side of tenancy. Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
    own_hosts: Arc<OwnHosts>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("public_url", &self.inner.public_url)
            .finish()
    }
}

impl Directory {
    /// A directory caching at most `capacity` tenants.
    pub fn new(store: Store, master: Arc<MasterKey>, public_url: &str, capacity: usize) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        let own_hosts = Arc::new(OwnHosts::new(public_host(&public_url)));
        Self {
            inner: Arc::new(Inner {
                store,
                master,
                public_url,
                cache: Cache::new(capacity.max(16)),
                hosts: Cache::new(capacity.max(16)),
                generation: AtomicU64::new(0),
            }),
            own_hosts,
        }
    }

    /// Adds `hosts` (setting `server.hosts`, the mutual-TLS listener's host) to the names the
    /// deployment answers as itself, besides its public URL's host.
    pub fn with_own_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let all: Vec<String> = public_host(&self.inner.public_url)
            .into_iter()
            .chain(hosts.into_iter().map(|h| h.as_ref().to_owned()))
            .collect();
        self.own_hosts = Arc::new(OwnHosts::new(all));
        self
    }

    /// Whether `host` (lowercase, without port or brackets) is one of the deployment's own
    /// names, served by path (`/t/{slug}/…`, `/admin/…`), never a tenant's custom domain.
    pub fn is_own_host(&self, host: &str) -> bool {
        self.own_hosts.contains(host)
    }

    /// The slug of the tenant whose verified custom domain is `host` (lowercase, without port),
    /// from the bounded host cache or one indexed query.
    pub async fn slug_for_host(&self, host: &str) -> Result<Option<String>, TenantError> {
        if let Some(entry) = self.inner.hosts.get(host) {
            return Ok(entry);
        }
        // A name no tenant can hold is never looked up or cached.
        if CustomDomain::parse(host).map(|d| d.as_ref() == host) != Ok(true) {
            return Ok(None);
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let db = self.inner.store.conn();
        let slug = match domains::find_verified(db, host)
            .await
            .map_err(|e| TenantError::from_store("domain", e))?
        {
            Some(tenant) => tenants::find_by_id(db, tenant)
                .await
                .map_err(|e| TenantError::from_store("tenant", e))?
                .map(|t| t.slug.to_string()),
            None => None,
        };
        if self.inner.generation.load(Ordering::Acquire) == generation {
            self.inner.hosts.insert(host.to_owned(), slug.clone());
        }
        Ok(slug)
    }

    /// The deployment's public base URL, without trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The path-based issuer of a tenant on the deployment's own host (OIDC Discovery §4.3: the
    /// discovery URL minus the well-known suffix); a tenant with a verified custom domain has
    /// `https://{domain}` instead (see its snapshot).
    pub fn issuer_for(&self, slug: &str) -> String {
        format!("{}/t/{}", self.inner.public_url, slug)
    }

    /// The database behind the directory.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The master key that opens private keys.
    pub fn master_key(&self) -> &Arc<MasterKey> {
        &self.inner.master
    }

    /// The snapshot of tenant `slug`, or `None` when no such tenant exists. Disabled tenants
    /// resolve; callers decide what a disabled tenant answers.
    pub async fn resolve(&self, slug: &str) -> Result<Option<Arc<TenantSnapshot>>, TenantError> {
        if let Some(entry) = self.inner.cache.get(slug) {
            return Ok(entry);
        }
        // Cheap guard against junk: a slug that cannot exist is never looked up or cached.
        if tessera_core::TenantSlug::parse(slug).is_err() {
            return Ok(None);
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let entry = self.load(slug).await?;
        if self.inner.generation.load(Ordering::Acquire) == generation {
            self.inner.cache.insert(slug.to_owned(), entry.clone());
        }
        Ok(entry)
    }

    async fn load(&self, slug: &str) -> Result<Entry, TenantError> {
        let db = self.inner.store.conn();
        let Some(tenant) = tenants::find_by_slug(db, slug)
            .await
            .map_err(|e| TenantError::from_store("tenant", e))?
        else {
            return Ok(None);
        };
        let id = tenant.id;
        let mut clients = clients::list(db, id)
            .await
            .map_err(|e| TenantError::from_store("client", e))?;
        // The built-in console client is synthesized, never stored (see `crate::console`).
        clients.retain(|c| !crate::console::is_reserved_client_id(c.client_id.as_ref()));
        clients.push(crate::console::console_client(self.public_url(), &tenant));
        let scopes = scopes::list(db, id)
            .await
            .map_err(|e| TenantError::from_store("scope", e))?;
        let key_rows = keys::list(db, id)
            .await
            .map_err(|e| TenantError::from_store("signing key", e))?;
        let keys = KeySet::build(
            &self.inner.master,
            &key_rows,
            tenant.signing_alg,
            Clock.now(),
        )?;
        let resource_servers = tessera_store::resource_servers::list(db, id)
            .await
            .map_err(|e| TenantError::from_store("resource server", e))?;
        let templates = templates::list(db, id)
            .await
            .map_err(|e| TenantError::from_store("template", e))?
            .into_iter()
            .map(|t| (t.name, t.source))
            .collect();
        let issuer = match domains::find_by_tenant(db, id)
            .await
            .map_err(|e| TenantError::from_store("domain", e))?
        {
            Some(domain) if domain.is_verified() => domain_issuer(&domain.domain),
            _ => self.issuer_for(slug),
        };
        let salt = crate::snapshot::subject_salt(self.inner.master.to_base64().as_bytes(), id)
            .map_err(|e| anyhow::Error::new(e).context("deriving the pairwise subject salt"))?;
        Ok(Some(Arc::new(
            TenantSnapshot::new(tenant, issuer, clients, scopes, keys, templates)
                .with_resource_servers(resource_servers)
                .with_subject_salt(salt),
        )))
    }

    /// Drops the cached snapshot of `slug` so the next request loads a fresh one.
    pub fn invalidate(&self, slug: &str) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.cache.remove(slug);
        // The change may have been to the tenant's domain: which host maps where is unknown.
        self.inner.hosts.clear();
    }

    /// Drops every cached snapshot.
    pub fn invalidate_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.cache.clear();
        self.inner.hosts.clear();
    }

    /// Number of cached entries (positive and negative).
    pub fn cached(&self) -> usize {
        self.inner.cache.len()
    }
}

/// The issuer of a tenant served on its verified custom `domain`: https, the domain, no path
/// (OIDC Core §2 and OIDC Discovery §3 require an https issuer).
pub fn domain_issuer(domain: &str) -> String {
    format!("https://{domain}")
}

/// The host of the public URL, if it parses.
fn public_host(public_url: &str) -> Option<String> {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}
