//! The immutable view of one tenant that request handlers read: published by the directory,
//! shared through `Arc`, never mutated; a change produces a new snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use secrecy::{ExposeSecret, SecretBox};
use tessera_core::{ScopeSet, SubjectType, TenantId, TenantStatus, UserId};
use tessera_keys::KeySet;
use tessera_store::{ClientRecord, ResourceServerRecord, ScopeRecord, TenantRecord};

use crate::emails::TenantEmails;
use crate::pages::{TenantLook, TenantPages};

/// Serialized documents derived from a snapshot, rendered once on first use.
#[derive(Debug, Default)]
pub struct RenderCache {
    /// OpenID Connect discovery document.
    pub openid_configuration: OnceLock<Vec<u8>>,
    /// RFC 8414 authorization-server metadata.
    pub oauth_metadata: OnceLock<Vec<u8>>,
}

/// The pairwise-subject salt of `tenant` (OIDC Core §8.1): HMAC-SHA256 keyed with `secret` (the
/// master key) over a label and the tenant id, so no other use of the master key yields it.
pub(crate) fn subject_salt(
    secret: &[u8],
    tenant: TenantId,
) -> Result<[u8; 32], openssl::error::ErrorStack> {
    let key = openssl::pkey::PKey::hmac(secret)?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)?;
    signer.update(b"tessera pairwise subject salt v1\0")?;
    signer.update(tenant.to_string().as_bytes())?;
    let mut salt = [0u8; 32];
    signer.sign(&mut salt)?;
    Ok(salt)
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
    /// The tenant's compiled e-mail templates, built on the first mail it sends.
    emails: OnceLock<TenantEmails>,
    /// The secret salt of pairwise subjects (OIDC Core §8.1), derived from the master key and
    /// the tenant id so every node and every restart computes the same values.
    subject_salt: SecretBox<[u8; 32]>,
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
            emails: OnceLock::new(),
            // Replaced by `with_subject_salt` when the directory loads the tenant; a random
            // salt never yields a guessable pairwise subject.
            subject_salt: SecretBox::new(Box::new(rand::random())),
        }
    }

    /// The snapshot with the salt of its pairwise subjects, derived from the master key.
    pub fn with_subject_salt(mut self, salt: [u8; 32]) -> Self {
        self.subject_salt = SecretBox::new(Box::new(salt));
        self
    }

    /// The `sub` of `user` as `client` sees it (OIDC Core §8): the user id for a public client,
    /// the pairwise value of the client's sector for a pairwise one (§8.1). The sector is the
    /// one validated at registration; a client with neither redirect URIs nor a sector URI is
    /// its own sector.
    pub fn subject_for(&self, client: &ClientRecord, user: UserId) -> String {
        let user = user.to_string();
        if client.options.subject_type != SubjectType::Pairwise {
            return user;
        }
        let sector = tessera_core::subject::sector_identifier(
            &client.redirect_uris,
            client.options.sector_identifier_uri.as_deref(),
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| format!("client:{}", client.client_id));
        tessera_core::subject::pairwise_subject(&sector, &user, self.subject_salt.expose_secret())
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

    /// The tenant's e-mail templates: the defaults with its overrides, compiled on first use.
    pub fn emails(&self) -> &TenantEmails {
        self.emails
            .get_or_init(|| TenantEmails::build(self.tenant.slug.as_ref(), &self.templates))
    }

    /// Renders page `name` (`login`, `consent`, `error`, …) with `data`, which holds `page`,
    /// `tenant` and the page's own fields (see [`crate::pages::PageContext::with`]). Never fails:
    /// a broken template is logged and a fallback page rendered.
    pub fn render_page(&self, name: &str, data: &serde_json::Value) -> String {
        self.pages().render(name, data)
    }
}
