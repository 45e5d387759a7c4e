//! The immutable view of one tenant that request handlers read: published by the directory,
//! shared through `Arc`, never mutated; a change produces a new snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use tessera_core::{ScopeSet, TenantStatus};
use tessera_keys::KeySet;
use tessera_store::{ClientRecord, ResourceServerRecord, ScopeRecord, TenantRecord};

use crate::pages::{TenantLook, TenantPages};

/// Serialized documents derived from a snapshot, rendered once on first use.
#[derive(Debug, Default)]
pub struct RenderCache {
    /// OpenID Connect discovery document.
    pub openid_configuration: OnceLock<Vec<u8>>,
    /// RFC 8414 authorization-server metadata.
    pub oauth_metadata: OnceLock<Vec<u8>>,
}

/// Everything the hot path needs to know about a tenant.
pub struct TenantSnapshot {
    /// The tenant row.
    pub tenant: TenantRecord,
    /// `{public_url}/t/{slug}` (or the custom domain), the `iss` of everything it signs.
    pub issuer: String,
    /// Clients by client id.
    pub clients: HashMap<String, Arc<ClientRecord>>,
    /// Scope definitions.
    pub scopes: Vec<ScopeRecord>,
    /// Resource servers (APIs) by identifier (RFC 8707 resource indicator).
    pub resource_servers: HashMap<String, Arc<ResourceServerRecord>>,
    /// Every defined scope name.
    pub scope_names: ScopeSet,
    /// The key ring: JWKS and active signer.
    pub keys: KeySet,
    /// Documents rendered from this snapshot.
    pub rendered: RenderCache,
    /// The tenant's page-template overrides, by name (`layout`, `login`, …).
    pub templates: BTreeMap<String, String>,
    /// The tenant's compiled pages, built on the first page render: an idle tenant compiles
    /// nothing.
    pages: OnceLock<TenantPages>,
}

impl std::fmt::Debug for TenantSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSnapshot")
            .field("tenant", &self.tenant.slug)
            .field("issuer", &self.issuer)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl TenantSnapshot {
    /// Builds a snapshot from freshly loaded rows.
    pub fn new(
        tenant: TenantRecord,
        issuer: String,
        clients: Vec<ClientRecord>,
        scopes: Vec<ScopeRecord>,
        keys: KeySet,
        templates: BTreeMap<String, String>,
    ) -> Self {
        let scope_names = scopes.iter().map(|s| s.name.clone()).collect();
        Self {
            tenant,
            issuer,
            clients: clients
                .into_iter()
                .map(|c| (c.client_id.to_string(), Arc::new(c)))
                .collect(),
            scopes,
            resource_servers: HashMap::new(),
            scope_names,
            keys,
            rendered: RenderCache::default(),
            templates,
            pages: OnceLock::new(),
        }
    }

    /// The snapshot with the tenant's resource servers.
    pub fn with_resource_servers(mut self, servers: Vec<ResourceServerRecord>) -> Self {
        self.resource_servers = servers
            .into_iter()
            .map(|r| (r.identifier.clone(), Arc::new(r)))
            .collect();
        self
    }

    /// A resource server of this tenant, by identifier.
    pub fn resource_server(&self, identifier: &str) -> Option<&Arc<ResourceServerRecord>> {
        self.resource_servers.get(identifier)
    }

    /// Whether the tenant serves protocol requests.
    pub fn is_active(&self) -> bool {
        self.tenant.status == TenantStatus::Active
    }

    /// A client of this tenant.
    pub fn client(&self, client_id: &str) -> Option<&Arc<ClientRecord>> {
        self.clients.get(client_id)
    }

    /// The tenant's branding as pages see it (`tenant` in every page's data).
    pub fn look(&self) -> TenantLook {
        TenantLook::of(&self.tenant.name, &self.tenant.settings.branding)
    }

    /// The tenant's pages: the defaults with its overrides, compiled on first use.
    pub fn pages(&self) -> &TenantPages {
        self.pages
            .get_or_init(|| TenantPages::build(self.tenant.slug.as_ref(), &self.templates))
    }

    /// Renders page `name` (`login`, `consent`, `error`, …) with `data`, which holds `page`,
    /// `tenant` and the page's own fields (see [`crate::pages::PageContext::with`]). Never fails:
    /// a broken template is logged and a fallback page rendered.
    pub fn render_page(&self, name: &str, data: &serde_json::Value) -> String {
        self.pages().render(name, data)
    }
}
