//! Tenant lifecycle: create, update, disable, delete tenants; register and update clients (and
//! validate their options); define scopes; rotate keys. Every change is written together with a change-feed entry in one transaction,
//! so other nodes (and a running server, after a CLI command) drop their stale snapshots.

use actix::Addr;
use tessera_core::client::token_type;
use tessera_core::secret::{new_client_secret, sha256_hex};
use tessera_core::{
    AdminRole, AuthMethod, ClientId, ClientOptions, ClientType, Clock, GrantType, KeyState,
    RedirectUri, Scope, ScopeSet, SigningAlg, TenantId, TenantSlug, TenantStatus, TokenFormat,
};
use tessera_keys::{GenerateKeyPair, KeyForge, Rotation, ring_algs};
use tessera_store::{
    ClientRecord, DatabaseTransaction, KeyRecord, ScopeRecord, Store, TenantRecord, clients, feed,
    keys, resource_servers, scopes, tenants,
};

use crate::{Directory, TenantError, standard_scopes};

/// Makes a new tenant's key rings from its id and creation time (unix seconds): see
/// [`TenantAdmin::create_tenant_with_keys`].
pub type RingKeys<'a> =
    dyn Fn(TenantId, i64) -> Result<Vec<KeyRecord>, TenantError> + Send + Sync + 'a;

/// A tenant to create.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// URL name.
    pub slug: TenantSlug,
    /// Display name (defaults to the slug).
    pub name: Option<String>,
    /// Signing algorithm of its keys.
    pub alg: SigningAlg,
}

/// Editable tenant settings; `None` leaves a value unchanged.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Access-token lifetime, seconds (60 s to 1 day).
    pub access_token_ttl: Option<i64>,
    /// Seconds between scheduled key rotations (1 hour to 1 year).
    pub key_rotation_interval: Option<i64>,
    /// The algorithm of the tenant's access tokens (and of its ID tokens unless a client asks
    /// for another): switching adds that algorithm's key ring first when the tenant lacks one.
    pub signing_alg: Option<SigningAlg>,
}

/// A client to register.
#[derive(Clone, Debug)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// Confidential (gets a secret) or public.
    pub client_type: ClientType,
    /// Grants; empty picks a default (`client_credentials` for confidential clients,
    /// `authorization_code` + `refresh_token` for public ones).
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may request; each must be defined in the tenant.
    pub scopes: Vec<String>,
    /// Access-token format.
    pub token_format: TokenFormat,
    /// Admin role (only for clients of the system tenant).
    pub admin_role: Option<AdminRole>,
    /// Tenant a tenant-admin client administers.
    pub admin_of: Option<TenantSlug>,
    /// Post-logout redirect URIs (RP-Initiated Logout 1.0 §3), matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// A first-party client skips the consent page.
    pub first_party: bool,
    /// Require PKCE S256 (always on for public clients; a confidential client may opt out).
    pub require_pkce: bool,
    /// `id_token_signed_response_alg`; `None` means RS256 (OIDC Registration §2).
    pub id_token_alg: Option<tessera_core::SigningAlg>,
    /// Authentication method, holder-of-key, default resource and token-exchange options.
    pub options: ClientOptions,
}

impl NewClient {
    /// A confidential client-credentials client with defaults.
    pub fn confidential(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            client_type: ClientType::Confidential,
            grant_types: vec![],
            redirect_uris: vec![],
            scopes: vec![],
            token_format: TokenFormat::Jwt,
            admin_role: None,
            post_logout_redirect_uris: vec![],
            first_party: false,
            require_pkce: true,
            id_token_alg: None,
            admin_of: None,
            options: Default::default(),
        }
    }
}

/// Editable settings of a registered client; `None` leaves a value unchanged. The client type
/// and admin role are fixed at registration.
#[derive(Clone, Debug, Default)]
pub struct ClientUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs, replacing the registered ones.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs, replacing the registered ones.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types, replacing the registered ones (validated as at registration).
    pub grant_types: Option<Vec<GrantType>>,
    /// Scopes the client may request, replacing the registered ones.
    pub scopes: Option<Vec<String>>,
    /// Access-token format.
    pub token_format: Option<TokenFormat>,
    /// Whether the client skips the consent page.
    pub first_party: Option<bool>,
    /// The whole options document, replacing the registered one.
    pub options: Option<ClientOptions>,
}

/// A freshly registered client and its secret, which is shown this once and never stored.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// The stored client.
    pub client: ClientRecord,
    /// The plain secret of a confidential client.
    pub client_secret: Option<secrecy::SecretString>,
}

/// What first start created.
#[derive(Debug)]
pub struct SystemBootstrap {
    /// The system tenant.
    pub tenant: TenantRecord,
    /// The operator client, when it was created by this call (credentials shown once).
    pub operator: Option<RegisteredClient>,
}

/// Scope every admin API token carries.
pub const ADMIN_SCOPE: &str = "admin";

/// Per-deployment defaults for new tenants.
#[derive(Clone, Copy, Debug)]
pub struct TenantDefaults {
    /// Access-token lifetime, seconds.
    pub access_token_ttl: i64,
    /// Seconds between scheduled key rotations.
    pub key_rotation_interval: i64,
}

/// Tenant lifecycle operations, shared by the admin API and the CLI. Cheap to clone.
#[derive(Clone)]
pub struct TenantAdmin {
    store: Store,
    forge: Addr<KeyForge>,
    directory: Directory,
    defaults: TenantDefaults,
    /// Whether client-registered documents (`sector_identifier_uri`) on a loopback host may be
    /// fetched over plain http (development and tests).
    allow_loopback_http: bool,
}

impl TenantAdmin {
    /// Lifecycle operations over `store`, generating keys on `forge`.
    pub fn new(
        store: Store,
        forge: Addr<KeyForge>,
        directory: Directory,
        defaults: TenantDefaults,
    ) -> Self {
        Self {
            store,
            forge,
            directory,
            defaults,
            allow_loopback_http: false,
        }
    }

    /// Lets client-registered documents on a loopback host be fetched over plain http (the
    /// deployment setting `tenants.allow_loopback_http_jwks_uri`); off by default.
    pub fn with_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// Whether client-registered documents on a loopback host may be fetched over plain http.
    pub(crate) fn allows_loopback_http(&self) -> bool {
        self.allow_loopback_http
    }

    /// The directory whose snapshots this invalidates.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    fn store_err(what: &'static str) -> impl Fn(tessera_store::StoreError) -> TenantError {
        move |e| TenantError::from_store(what, e)
    }

    /// A new tenant's keys: an Active and a Next key in every ring it keeps (its own algorithm
    /// and RS256, [`ring_algs`]), generated in parallel on the forge.
    async fn generate_rings(
        &self,
        tenant: TenantId,
        primary: SigningAlg,
        now: i64,
    ) -> Result<Vec<KeyRecord>, TenantError> {
        let requests = ring_algs(primary).into_iter().flat_map(|alg| {
            [KeyState::Active, KeyState::Next].map(|state| GenerateKeyPair {
                tenant,
                alg,
                state,
                now,
            })
        });
        Ok(tessera_keys::forge_key_pairs(&self.forge, requests).await?)
    }

    /// Appends the change-feed entry for `what` of tenant `(id, slug)` and commits: every change
    /// and its feed entry land in one transaction, so no node can miss a committed change.
    pub(crate) async fn commit(
        &self,
        txn: DatabaseTransaction,
        tenant: (TenantId, &str),
        what: &str,
        now: i64,
    ) -> Result<(), TenantError> {
        let slug = tenant.1;
        feed::append(&txn, Some(tenant), what, now)
            .await
            .map_err(Self::store_err("change feed"))?;
        txn.commit()
            .await
            .map_err(|e| TenantError::from_store("transaction", e.into()))?;
        self.directory.invalidate(slug);
        Ok(())
    }

    /// Creates a tenant with its standard scopes and an active and a next signing key in each of
    /// its key rings: its own algorithm (access tokens) and RS256 (ID tokens, OIDC Core §15.1).
    pub async fn create_tenant(&self, new: NewTenant) -> Result<TenantRecord, TenantError> {
        if new.slug == TenantSlug::system() {
            return Err(TenantError::Conflict("tenant"));
        }
        self.create_tenant_row(new, false, None).await
    }

    /// Creates a tenant like [`Self::create_tenant`], but with the key rings `ring_keys` makes
    /// for the new tenant's id and creation time instead of generating them on the forge. For
    /// bulk seeding: the scale benchmark (`examples/seed_tenants.rs`) seals pre-generated RSA
    /// keys to each new tenant, because RSA generation dominates the cost of creating one.
    pub async fn create_tenant_with_keys(
        &self,
        new: NewTenant,
        ring_keys: &RingKeys<'_>,
    ) -> Result<TenantRecord, TenantError> {
        if new.slug == TenantSlug::system() {
            return Err(TenantError::Conflict("tenant"));
        }
        self.create_tenant_row(new, false, Some(ring_keys)).await
    }

    async fn create_tenant_row(
        &self,
        new: NewTenant,
        is_system: bool,
        ring_keys: Option<&RingKeys<'_>>,
    ) -> Result<TenantRecord, TenantError> {
        let now = Clock.now();
        let name = new.name.unwrap_or_else(|| new.slug.to_string());
        validate_name(&name)?;
        let record = TenantRecord {
            id: tessera_core::TenantId::new(),
            slug: new.slug,
            name,
            status: TenantStatus::Active,
            signing_alg: new.alg,
            is_system,
            access_token_ttl: self.defaults.access_token_ttl,
            key_rotation_interval: self.defaults.key_rotation_interval,
            keys_rotate_at: now + self.defaults.key_rotation_interval,
            settings: Default::default(),
            created_at: now,
            updated_at: now,
        };
        // Key generation is CPU work: do it before the transaction opens.
        let ring_keys = match ring_keys {
            Some(make) => make(record.id, now)?,
            None => self.generate_rings(record.id, new.alg, now).await?,
        };

        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("tenant"))?;
        tenants::insert(&txn, &record)
            .await
            .map_err(Self::store_err("tenant"))?;
        for (name, description, claims) in standard_scopes() {
            let scope = ScopeRecord {
                tenant_id: record.id,
                name: Scope::parse(name).map_err(|e| TenantError::Invalid(e.to_string()))?,
                description: (*description).to_owned(),
                claims: claims.iter().map(|c| (*c).to_owned()).collect(),
                is_standard: true,
                created_at: now,
            };
            scopes::insert(&txn, &scope)
                .await
                .map_err(Self::store_err("scope"))?;
        }
        for key in &ring_keys {
            keys::insert(&txn, key)
                .await
                .map_err(Self::store_err("signing key"))?;
        }
        self.commit(txn, (record.id, record.slug.as_ref()), "tenant", now)
            .await?;
        tracing::info!(tenant = %record.slug, alg = %record.signing_alg, "tenant created");
        Ok(record)
    }

    /// The tenant with this slug.
    pub async fn tenant(&self, slug: &str) -> Result<TenantRecord, TenantError> {
        tenants::find_by_slug(self.store.conn(), slug)
            .await
            .map_err(Self::store_err("tenant"))?
            .ok_or(TenantError::NotFound("tenant"))
    }

    /// A page of tenants ordered by slug, after `after`, filtered by `search`.
    pub async fn list_tenants(
        &self,
        after: Option<&str>,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<TenantRecord>, TenantError> {
        tenants::list(self.store.conn(), after, search, limit.clamp(1, 1000))
            .await
            .map_err(Self::store_err("tenant"))
    }

    /// Changes a tenant's settings.
    pub async fn update_tenant(
        &self,
        slug: &str,
        update: TenantUpdate,
    ) -> Result<TenantRecord, TenantError> {
        let current = self.tenant(slug).await?;
        let name = update.name.unwrap_or(current.name);
        validate_name(&name)?;
        let ttl = update.access_token_ttl.unwrap_or(current.access_token_ttl);
        if !(60..=86_400).contains(&ttl) {
            return Err(TenantError::Invalid(
                "access_token_ttl must be between 60 and 86400 seconds".into(),
            ));
        }
        let interval = update
            .key_rotation_interval
            .unwrap_or(current.key_rotation_interval);
        if !(3_600..=31_536_000).contains(&interval) {
            return Err(TenantError::Invalid(
                "key_rotation_interval must be between 3600 and 31536000 seconds".into(),
            ));
        }
        let alg = update.signing_alg.unwrap_or(current.signing_alg);
        let now = Clock.now();
        if alg != current.signing_alg {
            // Keys first: once the tenant names the algorithm, signing needs its Active key. The
            // ring is published (JWKS) before the first token it signs; tokens signed under the
            // old algorithm stay verifiable, as its ring stays published.
            tessera_keys::ensure_rings(
                &self.store,
                &self.forge,
                current.id,
                slug,
                &ring_algs(alg),
                now,
            )
            .await?;
        }
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("tenant"))?;
        tenants::update_settings(&txn, current.id, &name, ttl, interval, alg, now)
            .await
            .map_err(Self::store_err("tenant"))?;
        self.commit(txn, (current.id, slug), "tenant", now).await?;
        self.tenant(slug).await
    }

    /// Enables or disables a tenant. The system tenant cannot be disabled.
    pub async fn set_status(
        &self,
        slug: &str,
        status: TenantStatus,
    ) -> Result<TenantRecord, TenantError> {
        let current = self.tenant(slug).await?;
        if current.is_system && status == TenantStatus::Disabled {
            return Err(TenantError::Invalid(
                "the system tenant cannot be disabled".into(),
            ));
        }
        let now = Clock.now();
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("tenant"))?;
        tenants::set_status(&txn, current.id, status, now)
            .await
            .map_err(Self::store_err("tenant"))?;
        self.commit(txn, (current.id, slug), "tenant", now).await?;
        tracing::info!(tenant = %slug, status = %status, "tenant status changed");
        self.tenant(slug).await
    }

    /// Deletes a tenant and everything it owns. The system tenant cannot be deleted.
    pub async fn delete_tenant(&self, slug: &str) -> Result<(), TenantError> {
        let current = self.tenant(slug).await?;
        if current.is_system {
            return Err(TenantError::Invalid(
                "the system tenant cannot be deleted".into(),
            ));
        }
        let now = Clock.now();
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("tenant"))?;
        tenants::delete(&txn, current.id)
            .await
            .map_err(Self::store_err("tenant"))?;
        self.commit(txn, (current.id, slug), "tenant", now).await?;
        tracing::info!(tenant = %slug, "tenant deleted");
        Ok(())
    }

    /// Registers a client, validating it against the tenant's scopes and the redirect-URI rules.
    pub async fn register_client(
        &self,
        slug: &str,
        new: NewClient,
    ) -> Result<RegisteredClient, TenantError> {
        let tenant = self.tenant(slug).await?;
        validate_name(&new.name)?;
        let grant_types = if new.grant_types.is_empty() {
            match new.client_type {
                ClientType::Confidential => vec![GrantType::ClientCredentials],
                ClientType::Public => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            }
        } else {
            new.grant_types.clone()
        };
        let grant_types = check_grant_types(new.client_type, &grant_types)?;
        let redirect_uris = exact_uris(&new.redirect_uris)?;
        let id_token_alg = new
            .id_token_alg
            .unwrap_or(tessera_keys::DEFAULT_ID_TOKEN_ALG);
        if !tessera_keys::ring_algs(tenant.signing_alg).contains(&id_token_alg) {
            return Err(TenantError::Invalid(format!(
                "tenant `{slug}` signs with {} and RS256; it cannot sign ID tokens with {id_token_alg}",
                tenant.signing_alg
            )));
        }
        let post_logout_redirect_uris = exact_uris(&new.post_logout_redirect_uris)?;
        needs_redirect_uri(&grant_types, &redirect_uris)?;
        let allowed = self.allowed_scopes(&tenant, &new.scopes).await?;
        self.check_client_options(&tenant, new.client_type, &new.options)
            .await?;
        let (admin_role, admin_tenant_id) = match (new.admin_role, &new.admin_of) {
            (None, None) => (None, None),
            _ if !tenant.is_system => {
                return Err(TenantError::Invalid(
                    "admin roles exist only for clients of the system tenant".into(),
                ));
            }
            (Some(AdminRole::Operator), None) => (Some(AdminRole::Operator), None),
            // An auditor without a tenant reads every tenant.
            (Some(AdminRole::Auditor), None) => (Some(AdminRole::Auditor), None),
            (Some(AdminRole::TenantAdmin) | None, Some(of)) => {
                let target = self.tenant(of.as_ref()).await?;
                (Some(AdminRole::TenantAdmin), Some(target.id))
            }
            (Some(AdminRole::Auditor), Some(of)) => {
                let target = self.tenant(of.as_ref()).await?;
                if target.is_system {
                    return Err(TenantError::Invalid(
                        "an auditor of the system tenant names no tenant".into(),
                    ));
                }
                (Some(AdminRole::Auditor), Some(target.id))
            }
            _ => {
                return Err(TenantError::Invalid(
                    "a tenant-admin client names exactly one tenant; an operator names none".into(),
                ));
            }
        };
        let secret = (new.client_type == ClientType::Confidential).then(new_client_secret);
        let now = Clock.now();
        let client = ClientRecord {
            tenant_id: tenant.id,
            client_id: ClientId::generate(),
            name: new.name,
            client_type: new.client_type,
            secret_hash: secret.as_deref().map(sha256_hex),
            grant_types,
            redirect_uris,
            scopes: allowed,
            token_format: new.token_format,
            admin_role,
            admin_tenant_id,
            post_logout_redirect_uris,
            first_party: new.first_party,
            // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE for every client by default, always for
            // public ones.
            require_pkce: new.require_pkce || new.client_type == ClientType::Public,
            id_token_alg,
            options: new.options,
            created_at: now,
            updated_at: now,
        };
        crate::sector::check_subject_options(&client, tenant.signing_alg, self.allow_loopback_http)
            .await?;
        let sealed = match &secret {
            Some(plain) => self.sealed_for_jwt(&client, plain)?,
            None => None,
        };
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("client"))?;
        clients::insert(&txn, &client)
            .await
            .map_err(Self::store_err("client"))?;
        if let Some(sealed) = &sealed {
            clients::set_sealed_secret(&txn, client.tenant_id, &client.client_id, Some(sealed))
                .await
                .map_err(Self::store_err("client"))?;
        }
        self.commit(txn, (tenant.id, slug), "client", now).await?;
        tracing::info!(tenant = %slug, client_id = %client.client_id, "client registered");
        Ok(RegisteredClient {
            client,
            client_secret: secret.map(secrecy::SecretString::from),
        })
    }

    /// A page of a tenant's clients by `client_id` (see [`clients::page`]).
    pub async fn list_clients(
        &self,
        slug: &str,
        after: Option<&str>,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        clients::page(self.store.conn(), tenant.id, after, search, limit)
            .await
            .map_err(Self::store_err("client"))
    }

    /// Every client of a tenant, in creation order.
    pub async fn all_clients(&self, slug: &str) -> Result<Vec<ClientRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        clients::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("client"))
    }

    /// One client of a tenant.
    pub async fn client(&self, slug: &str, client_id: &str) -> Result<ClientRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        self.client_of(&tenant, client_id).await
    }

    /// Client `client_id` of `tenant`, or `NotFound("client")`.
    async fn client_of(
        &self,
        tenant: &TenantRecord,
        client_id: &str,
    ) -> Result<ClientRecord, TenantError> {
        let id = ClientId::parse(client_id).ok_or(TenantError::NotFound("client"))?;
        clients::find(self.store.conn(), tenant.id, &id)
            .await
            .map_err(Self::store_err("client"))?
            .ok_or(TenantError::NotFound("client"))
    }

    /// The sealed copy of `secret` that a client authenticating with client_secret_jwt needs:
    /// the server computes the assertion's HMAC with it (RFC 7523 §2.2), so it is kept sealed
    /// under the master key (see `clients::set_sealed_secret`). `None` for other methods.
    fn sealed_for_jwt(
        &self,
        client: &ClientRecord,
        secret: &str,
    ) -> Result<Option<Vec<u8>>, TenantError> {
        if client.options.token_endpoint_auth_method != Some(AuthMethod::ClientSecretJwt) {
            return Ok(None);
        }
        let aad = clients::sealed_secret_aad(client.tenant_id, &client.client_id);
        self.directory
            .master_key()
            .seal(secret.as_bytes(), &aad)
            .map(Some)
            .map_err(|e| TenantError::Unexpected(anyhow::Error::new(e)))
    }

    /// Stores the changed `client` of tenant `slug` with its change-feed entry; `sealed`, when
    /// given, replaces (or with `Some(None)` removes) the sealed copy of its secret.
    async fn save_client(
        &self,
        slug: &str,
        client: &ClientRecord,
        sealed: Option<Option<&[u8]>>,
        now: i64,
    ) -> Result<(), TenantError> {
        let (tenant, id) = (client.tenant_id, &client.client_id);
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("client"))?;
        clients::update(&txn, client)
            .await
            .map_err(Self::store_err("client"))?;
        if let Some(sealed) = sealed {
            clients::set_sealed_secret(&txn, tenant, id, sealed)
                .await
                .map_err(Self::store_err("client"))?;
        }
        self.commit(txn, (tenant, slug), "client", now).await
    }

    /// Deletes a client.
    pub async fn delete_client(&self, slug: &str, client_id: &str) -> Result<(), TenantError> {
        crate::console::refuse_reserved(client_id)?;
        let tenant = self.tenant(slug).await?;
        let id = ClientId::parse(client_id).ok_or(TenantError::NotFound("client"))?;
        let now = Clock.now();
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("client"))?;
        clients::delete(&txn, tenant.id, &id)
            .await
            .map_err(Self::store_err("client"))?;
        // A dynamically registered client's registration access token goes with it (RFC 7592).
        tessera_store::registration::delete_registration_token(&txn, tenant.id, id.as_ref())
            .await
            .map_err(Self::store_err("registration access token"))?;
        // A deleted client no longer introspects any resource server's tokens (RFC 7662 §2.1).
        let servers = resource_servers::list(&txn, tenant.id)
            .await
            .map_err(Self::store_err("resource server"))?;
        for mut server in servers
            .into_iter()
            .filter(|r| r.introspectors.contains(&id))
        {
            server.introspectors.retain(|c| c != &id);
            server.updated_at = now;
            resource_servers::update(&txn, &server)
                .await
                .map_err(Self::store_err("resource server"))?;
        }
        self.commit(txn, (tenant.id, slug), "client", now).await?;
        tracing::info!(tenant = %slug, client_id = %id, "client deleted");
        Ok(())
    }

    /// Changes a client's editable settings (PATCH semantics: `None` leaves a value unchanged).
    /// The result is validated as a whole, as at registration, and committed with its
    /// change-feed entry so every node's snapshot picks it up.
    pub async fn update_client(
        &self,
        slug: &str,
        client_id: &str,
        update: ClientUpdate,
    ) -> Result<ClientRecord, TenantError> {
        crate::console::refuse_reserved(client_id)?;
        let tenant = self.tenant(slug).await?;
        let mut client = self.client_of(&tenant, client_id).await?;
        // What the subject checks depend on, to redo them (and fetch the sector document)
        // only when it changes.
        let subject_before = (
            client.redirect_uris.clone(),
            client.options.subject_type,
            client.options.sector_identifier_uri.clone(),
            client.options.userinfo_signed_response_alg,
        );
        if let Some(name) = update.name {
            validate_name(&name)?;
            client.name = name;
        }
        if let Some(uris) = update.redirect_uris {
            client.redirect_uris = exact_uris(&uris)?;
        }
        if let Some(uris) = update.post_logout_redirect_uris {
            client.post_logout_redirect_uris = exact_uris(&uris)?;
        }
        if let Some(grants) = update.grant_types {
            if grants.is_empty() {
                return Err(TenantError::Invalid(
                    "grant_types must name at least one grant".into(),
                ));
            }
            client.grant_types = check_grant_types(client.client_type, &grants)?;
        }
        needs_redirect_uri(&client.grant_types, &client.redirect_uris)?;
        if let Some(scopes) = update.scopes {
            client.scopes = self.allowed_scopes(&tenant, &scopes).await?;
        }
        if let Some(format) = update.token_format {
            client.token_format = format;
        }
        if let Some(first_party) = update.first_party {
            client.first_party = first_party;
        }
        // Leaving client_secret_jwt drops the sealed copy of the secret.
        let mut drop_sealed = false;
        if let Some(options) = update.options {
            self.check_client_options(&tenant, client.client_type, &options)
                .await?;
            // The secret is kept only as a hash unless the client registered with
            // client_secret_jwt, so the method cannot be switched on later.
            if options.token_endpoint_auth_method == Some(AuthMethod::ClientSecretJwt)
                && client.options.token_endpoint_auth_method != Some(AuthMethod::ClientSecretJwt)
            {
                return Err(TenantError::Invalid(
                    "client_secret_jwt must be chosen when the client is registered: its secret is stored only as a hash".into(),
                ));
            }
            drop_sealed = client.options.token_endpoint_auth_method
                == Some(AuthMethod::ClientSecretJwt)
                && options.token_endpoint_auth_method != Some(AuthMethod::ClientSecretJwt);
            client.options = options;
        }
        let subject_after = (
            client.redirect_uris.clone(),
            client.options.subject_type,
            client.options.sector_identifier_uri.clone(),
            client.options.userinfo_signed_response_alg,
        );
        if subject_after != subject_before {
            crate::sector::check_subject_options(
                &client,
                tenant.signing_alg,
                self.allow_loopback_http,
            )
            .await?;
        }
        let now = Clock.now();
        client.updated_at = now;
        let sealed = drop_sealed.then_some(None);
        self.save_client(slug, &client, sealed, now).await?;
        tracing::info!(tenant = %slug, client_id = %client.client_id, "client updated");
        Ok(client)
    }

    /// Replaces a confidential client's secret with a fresh one, returned this once: the old
    /// secret stops working as soon as snapshots refresh (at once on this node). A public client
    /// has no secret (RFC 6749 §2.1) and is refused.
    pub async fn rotate_client_secret(
        &self,
        slug: &str,
        client_id: &str,
    ) -> Result<RegisteredClient, TenantError> {
        crate::console::refuse_reserved(client_id)?;
        let tenant = self.tenant(slug).await?;
        let mut client = self.client_of(&tenant, client_id).await?;
        if client.client_type != ClientType::Confidential {
            return Err(TenantError::Invalid(
                "a public client has no secret to rotate".into(),
            ));
        }
        let secret = new_client_secret();
        let sealed = self.sealed_for_jwt(&client, &secret)?;
        let now = Clock.now();
        client.secret_hash = Some(sha256_hex(&secret));
        client.updated_at = now;
        // Only a client_secret_jwt client keeps a sealed copy; the new one replaces the old.
        let sealed = sealed.as_deref().map(Some);
        self.save_client(slug, &client, sealed, now).await?;
        tracing::info!(tenant = %slug, client_id = %client.client_id, "client secret rotated");
        Ok(RegisteredClient {
            client,
            client_secret: Some(secrecy::SecretString::from(secret)),
        })
    }

    /// The scope set named by `raw`; each scope must be defined in `tenant`.
    pub(crate) async fn allowed_scopes(
        &self,
        tenant: &TenantRecord,
        raw: &[String],
    ) -> Result<ScopeSet, TenantError> {
        let defined = scopes::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("scope"))?;
        let mut allowed = ScopeSet::default();
        for raw in raw {
            let scope = Scope::parse(raw).map_err(|e| TenantError::Invalid(e.to_string()))?;
            if !defined.iter().any(|d| d.name == scope) {
                return Err(TenantError::Invalid(format!(
                    "scope `{scope}` is not defined in tenant `{}`",
                    tenant.slug
                )));
            }
            allowed.insert(scope);
        }
        Ok(allowed)
    }

    /// Validates a client's options: their shape ([`check_options_shape`]) and that the resource
    /// servers they name (default resource, token-exchange audiences) exist in `tenant`.
    pub(crate) async fn check_client_options(
        &self,
        tenant: &TenantRecord,
        client_type: ClientType,
        options: &ClientOptions,
    ) -> Result<(), TenantError> {
        check_options_shape(client_type, options)?;
        let audiences = options
            .token_exchange
            .as_ref()
            .map(|x| x.audiences.as_slice())
            .unwrap_or_default();
        let named = options.default_resource.iter().chain(audiences);
        let mut servers = None;
        for identifier in named {
            if servers.is_none() {
                servers = Some(
                    resource_servers::list(self.store.conn(), tenant.id)
                        .await
                        .map_err(Self::store_err("resource server"))?,
                );
            }
            let known = servers
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|r| &r.identifier == identifier);
            if !known {
                return Err(TenantError::Invalid(format!(
                    "`{}` is not a resource server of tenant `{}`",
                    identifier.chars().take(512).collect::<String>(),
                    tenant.slug
                )));
            }
        }
        Ok(())
    }

    /// Defines a scope in a tenant.
    pub async fn define_scope(
        &self,
        slug: &str,
        name: &str,
        description: &str,
        claims: Vec<String>,
    ) -> Result<ScopeRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        let name = Scope::parse(name).map_err(|e| TenantError::Invalid(e.to_string()))?;
        if description.trim().is_empty() || description.len() > 1000 {
            return Err(TenantError::Invalid(
                "a scope needs a description of at most 1000 characters".into(),
            ));
        }
        for claim in &claims {
            if claim.is_empty() || claim.len() > 128 || !claim.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(TenantError::Invalid(format!(
                    "invalid claim name `{}`",
                    claim.chars().take(64).collect::<String>()
                )));
            }
        }
        let now = Clock.now();
        let scope = ScopeRecord {
            tenant_id: tenant.id,
            name,
            description: description.to_owned(),
            claims,
            is_standard: false,
            created_at: now,
        };
        let txn = self.store.begin().await.map_err(Self::store_err("scope"))?;
        scopes::insert(&txn, &scope)
            .await
            .map_err(Self::store_err("scope"))?;
        self.commit(txn, (tenant.id, slug), "scope", now).await?;
        Ok(scope)
    }

    /// Every scope of a tenant.
    pub async fn list_scopes(&self, slug: &str) -> Result<Vec<ScopeRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        scopes::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("scope"))
    }

    /// Every signing key of a tenant, newest first.
    pub async fn list_keys(&self, slug: &str) -> Result<Vec<KeyRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        keys::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("signing key"))
    }

    /// Rotates every key ring of a tenant now, in one transaction: next → active, active →
    /// retired (kept in JWKS until its tokens expire), and a new next key. One [`Rotation`] per
    /// ring, the tenant's own algorithm first, then RS256; a ring the tenant lacked is created.
    /// `None` when another node rotated at the same moment.
    pub async fn rotate_keys(&self, slug: &str) -> Result<Option<Vec<Rotation>>, TenantError> {
        let tenant = self.tenant(slug).await?;
        self.rotate(&tenant).await
    }

    pub(crate) async fn rotate(
        &self,
        tenant: &TenantRecord,
    ) -> Result<Option<Vec<Rotation>>, TenantError> {
        let now = Clock.now();
        let rotation = tessera_keys::rotate(
            &self.store,
            &self.forge,
            tenant.id,
            tenant.slug.as_ref(),
            &ring_algs(tenant.signing_alg),
            tenant.access_token_ttl,
            now,
        )
        .await?;
        if rotation.is_some() {
            tenants::set_keys_rotate_at(
                self.store.conn(),
                tenant.id,
                now + tenant.key_rotation_interval,
            )
            .await
            .map_err(Self::store_err("tenant"))?;
            self.directory.invalidate(tenant.slug.as_ref());
            tracing::info!(tenant = %tenant.slug, "signing keys rotated");
        }
        Ok(rotation)
    }

    /// Gives every tenant the key rings it lacks (tenants created before every tenant kept an
    /// RS256 ring for ID tokens, OIDC Core §15.1, have only their own): an Active and a Next key
    /// per missing ring, with a change-feed entry so every node reloads the tenant. Idempotent
    /// and safe to run on several nodes at once ([`tessera_keys::ensure_rings`]). A tenant that
    /// fails is logged and skipped. Returns how many tenants got a ring.
    pub async fn upgrade_key_rings(&self) -> Result<usize, TenantError> {
        const PAGE: u64 = 100;
        let mut after = None;
        let mut upgraded = 0;
        loop {
            let ids = keys::tenants_without_active(
                self.store.conn(),
                tessera_keys::DEFAULT_ID_TOKEN_ALG,
                after,
                PAGE,
            )
            .await
            .map_err(Self::store_err("signing key"))?;
            for &id in &ids {
                match self.upgrade_tenant_rings(id).await {
                    Ok(true) => upgraded += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(tenant_id = %id, error = %e, "adding missing key rings failed")
                    }
                }
            }
            match ids.last() {
                Some(&last) if ids.len() as u64 == PAGE => after = Some(last),
                _ => return Ok(upgraded),
            }
        }
    }

    /// Adds the key rings tenant `id` lacks; `true` when this call added one.
    async fn upgrade_tenant_rings(&self, id: TenantId) -> Result<bool, TenantError> {
        let Some(tenant) = tenants::find_by_id(self.store.conn(), id)
            .await
            .map_err(Self::store_err("tenant"))?
        else {
            return Ok(false);
        };
        let added = tessera_keys::ensure_rings(
            &self.store,
            &self.forge,
            tenant.id,
            tenant.slug.as_ref(),
            &ring_algs(tenant.signing_alg),
            Clock.now(),
        )
        .await?;
        if added.is_empty() {
            return Ok(false);
        }
        self.directory.invalidate(tenant.slug.as_ref());
        tracing::info!(tenant = %tenant.slug, algs = ?added, "added missing signing key rings");
        Ok(true)
    }

    /// Ensures the system tenant and its operator client exist. On first start it creates both
    /// and returns the operator's credentials, the only time they are ever shown.
    pub async fn bootstrap_system(&self) -> Result<SystemBootstrap, TenantError> {
        if let Some(tenant) = tenants::find_system(self.store.conn())
            .await
            .map_err(Self::store_err("tenant"))?
        {
            return Ok(SystemBootstrap {
                tenant,
                operator: None,
            });
        }
        let tenant = match self
            .create_tenant_row(
                NewTenant {
                    slug: TenantSlug::system(),
                    name: Some("System".into()),
                    alg: SigningAlg::Es256,
                },
                true,
                None,
            )
            .await
        {
            Ok(t) => t,
            // Another node won the race to create it.
            Err(TenantError::Conflict(_)) => {
                let tenant = self.tenant("system").await?;
                return Ok(SystemBootstrap {
                    tenant,
                    operator: None,
                });
            }
            Err(e) => return Err(e),
        };
        self.define_scope(
            "system",
            ADMIN_SCOPE,
            "Administer Tessera through the admin API",
            vec![],
        )
        .await?;
        let operator = self
            .register_client(
                "system",
                NewClient {
                    scopes: vec![ADMIN_SCOPE.to_owned()],
                    admin_role: Some(AdminRole::Operator),
                    ..NewClient::confidential("operator")
                },
            )
            .await?;
        Ok(SystemBootstrap {
            tenant,
            operator: Some(operator),
        })
    }

    /// Tenants whose keys are due for scheduled rotation.
    pub(crate) async fn due_for_rotation(
        &self,
        limit: u64,
    ) -> Result<Vec<TenantRecord>, TenantError> {
        tenants::due_for_rotation(self.store.conn(), Clock.now(), limit)
            .await
            .map_err(Self::store_err("tenant"))
    }

    /// The store behind these operations.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Absolute redirect URIs (OIDC Core 3.1.2.1), deduplicated, in the given order.
pub(crate) fn exact_uris(raw: &[String]) -> Result<Vec<String>, TenantError> {
    let mut uris: Vec<String> = Vec::with_capacity(raw.len());
    for raw in raw {
        let uri = RedirectUri::parse(raw).map_err(|e| TenantError::Invalid(e.to_string()))?;
        if !uris.iter().any(|u| u == uri.as_ref()) {
            uris.push(uri.as_ref().to_owned());
        }
    }
    Ok(uris)
}

/// The grants that issue refresh tokens (their token families): RFC 6749 §4.1.4 (code, and
/// the hybrid flow's code), §4.3.3 (password) and RFC 8628 §3.5 (device code). RFC 6749 §4.4.3:
/// the client credentials grant issues none.
const GRANTS_WITH_REFRESH_TOKENS: [GrantType; 3] = [
    GrantType::AuthorizationCode,
    GrantType::Password,
    GrantType::DeviceCode,
];

/// Checks the grant types a client of `client_type` is registered (or patched) with, returning
/// them each once in their given order: client_credentials is for confidential clients only
/// (RFC 6749 §4.4), and refresh_token (RFC 6749 §6) only goes with a grant that issues refresh
/// tokens. The redirect-URI rules are [`needs_redirect_uri`].
pub(crate) fn check_grant_types(
    client_type: ClientType,
    grants: &[GrantType],
) -> Result<Vec<GrantType>, TenantError> {
    let mut unique: Vec<GrantType> = Vec::with_capacity(grants.len());
    for grant in grants {
        if !unique.contains(grant) {
            unique.push(*grant);
        }
    }
    if client_type == ClientType::Public && unique.contains(&GrantType::ClientCredentials) {
        return Err(TenantError::Invalid(
            "a public client cannot use the client_credentials grant".into(),
        ));
    }
    if unique.contains(&GrantType::RefreshToken)
        && !unique
            .iter()
            .any(|g| GRANTS_WITH_REFRESH_TOKENS.contains(g))
    {
        return Err(TenantError::Invalid(
            "the refresh_token grant needs a grant that issues refresh tokens: authorization_code, password or the device code grant".into(),
        ));
    }
    Ok(unique)
}

/// RFC 6749 §3.1.2.2: a client of the authorization code or implicit grant registers its
/// redirect URIs; the implicit grant (OIDC Core §3.2–§3.3, tokens from the authorization
/// endpoint) is an addition to the code grant for legacy apps, never a client's only way in.
pub(crate) fn needs_redirect_uri(
    grants: &[GrantType],
    redirect_uris: &[String],
) -> Result<(), TenantError> {
    if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(TenantError::Invalid(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    if grants.contains(&GrantType::Implicit) && !grants.contains(&GrantType::AuthorizationCode) {
        return Err(TenantError::Invalid(
            "the implicit grant needs the authorization_code grant too".into(),
        ));
    }
    Ok(())
}

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1;
/// RFC 8037 §2 reuses `d`): a client registers public keys only.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The most keys a client's `jwks` may hold.
const MAX_JWKS_KEYS: usize = 100;

/// Checks a client's options on their own (what needs no database): the authentication method
/// fits the client type (RFC 7591 §2: `none` is the public client's method), a TLS method has
/// what RFC 8705 §2.1.2 / §2.2.2 need to recognise the client, `jwks` is a public JWK Set, and
/// the token-exchange subject token types are RFC 8693 §3 URNs.
pub(crate) fn check_options_shape(
    client_type: ClientType,
    options: &ClientOptions,
) -> Result<(), TenantError> {
    let invalid = |why: String| Err(TenantError::Invalid(why));
    let method = options.token_endpoint_auth_method;
    match (client_type, method) {
        (ClientType::Public, Some(m)) if m != AuthMethod::None => {
            return invalid(format!(
                "a public client authenticates with token_endpoint_auth_method `none`; `{}` needs a confidential client",
                m.as_str()
            ));
        }
        (ClientType::Confidential, Some(AuthMethod::None)) => {
            return invalid(
                "a confidential client must authenticate: token_endpoint_auth_method `none` is for public clients".into(),
            );
        }
        _ => {}
    }
    // RFC 8693 §5: anyone can act as a public client, so exchanging tokens needs a
    // confidential one (the token endpoint refuses it too).
    if client_type == ClientType::Public && options.token_exchange.is_some() {
        return invalid("token exchange is for confidential clients (RFC 8693 §5)".into());
    }
    match options.tls_client_auth_subject_dn.as_deref() {
        None if method == Some(AuthMethod::TlsClientAuth) => {
            return invalid(
                "tls_client_auth needs tls_client_auth_subject_dn, the subject DN of the client's certificate (RFC 8705 §2.1.2)".into(),
            );
        }
        Some(_) if method != Some(AuthMethod::TlsClientAuth) => {
            return invalid(
                "tls_client_auth_subject_dn is used only with token_endpoint_auth_method `tls_client_auth`".into(),
            );
        }
        Some(dn) => check_subject_dn(dn)?,
        None => {}
    }
    let certificates = match &options.jwks {
        Some(jwks) => check_jwks(jwks)?,
        None => 0,
    };
    if method == Some(AuthMethod::SelfSignedTlsClientAuth) && certificates == 0 {
        return invalid(
            "self_signed_tls_client_auth needs a jwks with at least one key carrying its certificate in `x5c` (RFC 8705 §2.2.2)".into(),
        );
    }
    check_jwt_auth_options(method, options)?;
    crate::encryption::check_encryption_options(options)?;
    // Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2.
    for (field, uri) in [
        ("backchannel_logout_uri", &options.backchannel_logout_uri),
        ("frontchannel_logout_uri", &options.frontchannel_logout_uri),
    ] {
        if let Some(uri) = uri.as_deref() {
            tessera_core::client::parse_logout_uri(field, uri).map_err(TenantError::Invalid)?;
        }
    }
    // OIDC Registration §2 `request_object_signing_alg`: an algorithm we verify, or `none`.
    if let Some(alg) = options.request_object_signing_alg.as_deref() {
        let known = alg == "none" || tessera_core::client::REQUEST_OBJECT_ALGS.contains(&alg);
        if !known {
            return invalid(format!(
                "request_object_signing_alg must be `none` or one of {}",
                tessera_core::client::REQUEST_OBJECT_ALGS.join(", ")
            ));
        }
        if alg == "none" && options.require_signed_request_object {
            return invalid(
                "require_signed_request_object cannot be combined with request_object_signing_alg `none`".into(),
            );
        }
    }
    if let Some(exchange) = &options.token_exchange {
        const TYPES: [&str; 4] = [
            token_type::ACCESS_TOKEN,
            token_type::REFRESH_TOKEN,
            token_type::ID_TOKEN,
            token_type::JWT,
        ];
        if let Some(bad) = exchange
            .subject_token_types
            .iter()
            .find(|t| !TYPES.contains(&t.as_str()))
        {
            return invalid(format!(
                "unknown subject token type `{}`; accepted: {}",
                bad.chars().take(128).collect::<String>(),
                TYPES.join(", ")
            ));
        }
    }
    Ok(())
}

/// The JWT client-authentication options (RFC 7523 §2.2, OIDC Core §9): `jwks` and `jwks_uri`
/// are exclusive (RFC 7591 §2), `jwks_uri` is https (http only for loopback),
/// `private_key_jwt` needs one of them, and `token_endpoint_auth_signing_alg` names an
/// algorithm of the registered JWT method (OIDC Registration §2).
fn check_jwt_auth_options(
    method: Option<AuthMethod>,
    options: &ClientOptions,
) -> Result<(), TenantError> {
    use tessera_core::client::{CLIENT_SECRET_JWT_ALGS, PRIVATE_KEY_JWT_ALGS, parse_jwks_uri};
    let invalid = |why: String| Err(TenantError::Invalid(why));
    if options.jwks.is_some() && options.jwks_uri.is_some() {
        return invalid("register either jwks or jwks_uri, not both (RFC 7591 §2)".into());
    }
    // Like `jwks`, a `jwks_uri` may serve other uses than client authentication (signed
    // request objects, RFC 9101 §6.2), so any method may register one.
    if let Some(uri) = options.jwks_uri.as_deref() {
        parse_jwks_uri(uri).map_err(|why| TenantError::Invalid(why.to_owned()))?;
    }
    if method == Some(AuthMethod::PrivateKeyJwt)
        && options.jwks.is_none()
        && options.jwks_uri.is_none()
    {
        return invalid(
            "private_key_jwt needs the client's public keys: jwks or jwks_uri (RFC 7523 §2.2)"
                .into(),
        );
    }
    if let Some(alg) = options.token_endpoint_auth_signing_alg.as_deref() {
        let algs = match method {
            Some(AuthMethod::PrivateKeyJwt) => PRIVATE_KEY_JWT_ALGS,
            Some(AuthMethod::ClientSecretJwt) => CLIENT_SECRET_JWT_ALGS,
            _ => {
                return invalid(
                    "token_endpoint_auth_signing_alg is used only with private_key_jwt or client_secret_jwt".into(),
                );
            }
        };
        if !algs.contains(&alg) {
            return invalid(format!(
                "token_endpoint_auth_signing_alg must be one of {} for this method",
                algs.join(", ")
            ));
        }
    }
    Ok(())
}

/// A subject DN in RFC 4514 string form: printable, at most 1024 characters, with at least one
/// `attribute=value` pair.
fn check_subject_dn(dn: &str) -> Result<(), TenantError> {
    if dn.trim().is_empty()
        || dn.chars().count() > 1024
        || dn.chars().any(char::is_control)
        || !dn.contains('=')
    {
        return Err(TenantError::Invalid(
            "tls_client_auth_subject_dn must be a distinguished name in RFC 4514 form, e.g. `CN=client.example.com,O=Example`".into(),
        ));
    }
    Ok(())
}

/// Checks a client's `jwks` (RFC 7591 §2): a JWK Set `{"keys": [...]}` (RFC 7517 §5) of 1 to
/// 100 public keys, each with a `kty` (RFC 7517 §4.1) and no private member, and each `x5c`
/// entry standard base64 of a DER X.509 certificate (RFC 7517 §4.7). Returns how many keys carry
/// an `x5c`.
fn check_jwks(jwks: &serde_json::Value) -> Result<usize, TenantError> {
    use base64::Engine;
    let invalid = |why: String| TenantError::Invalid(why);
    let keys = jwks
        .as_object()
        .and_then(|set| set.get("keys"))
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| invalid("jwks must be a JWK Set: {\"keys\": [...]} (RFC 7517 §5)".into()))?;
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(invalid(format!("jwks must hold 1 to {MAX_JWKS_KEYS} keys")));
    }
    let mut with_certificate = 0;
    for (i, key) in keys.iter().enumerate() {
        let key = key
            .as_object()
            .ok_or_else(|| invalid(format!("jwks key {i} is not a JSON object")))?;
        if key
            .get("kty")
            .and_then(serde_json::Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(invalid(format!(
                "jwks key {i} has no `kty` (RFC 7517 §4.1)"
            )));
        }
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| key.contains_key(**m)) {
            return Err(invalid(format!(
                "jwks key {i} has the private member `{member}`: register public keys only"
            )));
        }
        let Some(x5c) = key.get("x5c") else {
            continue;
        };
        let chain = x5c
            .as_array()
            .filter(|chain| !chain.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "jwks key {i}: `x5c` must be a non-empty array of certificates (RFC 7517 §4.7)"
                ))
            })?;
        for (j, entry) in chain.iter().enumerate() {
            let parsed = entry
                .as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .and_then(|der| openssl::x509::X509::from_der(&der).ok());
            if parsed.is_none() {
                return Err(invalid(format!(
                    "jwks key {i}: x5c entry {j} is not a base64 DER X.509 certificate (RFC 7517 §4.7)"
                )));
            }
        }
        with_certificate += 1;
    }
    Ok(with_certificate)
}

pub(crate) fn validate_name(name: &str) -> Result<(), TenantError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(TenantError::Invalid(
            "a name needs 1 to 200 printable characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix::SyncArbiter;
    use sea_orm::ConnectionTrait;
    use tessera_keys::MasterKey;
    use tessera_store::PoolSettings;

    use super::*;

    pub(crate) async fn admin() -> TenantAdmin {
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
        TenantAdmin::new(
            store,
            forge,
            directory,
            TenantDefaults {
                access_token_ttl: 600,
                key_rotation_interval: 86_400,
            },
        )
    }

    pub(crate) async fn tenant(admin: &TenantAdmin, slug: &str, alg: SigningAlg) -> TenantRecord {
        admin
            .create_tenant(NewTenant {
                slug: TenantSlug::parse(slug).unwrap(),
                name: None,
                alg,
            })
            .await
            .unwrap()
    }

    /// `(alg, state)` of every key of `slug`, sorted.
    async fn rings(admin: &TenantAdmin, slug: &str) -> Vec<(&'static str, &'static str)> {
        let mut keys: Vec<_> = admin
            .list_keys(slug)
            .await
            .unwrap()
            .iter()
            .map(|k| (k.alg.as_str(), k.state.as_str()))
            .collect();
        keys.sort();
        keys
    }

    /// `(kid, state)` of every key of `slug`, newest first.
    async fn kids(admin: &TenantAdmin, slug: &str) -> Vec<(String, KeyState)> {
        admin
            .list_keys(slug)
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.kid.0, k.state))
            .collect()
    }

    #[actix::test]
    async fn a_new_tenant_gets_an_rs256_ring_beside_its_own() {
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        assert_eq!(
            rings(&admin, "acme").await,
            [
                ("ES256", "active"),
                ("ES256", "next"),
                ("RS256", "active"),
                ("RS256", "next")
            ]
        );
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert_eq!(snapshot.keys.signer().unwrap().alg(), SigningAlg::Es256);
        assert_eq!(
            snapshot.keys.signer_for(SigningAlg::Rs256).unwrap().alg(),
            SigningAlg::Rs256
        );
        assert_eq!(snapshot.keys.jwks()["keys"].as_array().unwrap().len(), 4);

        // An RS256 tenant keeps a single ring.
        tenant(&admin, "rsa", SigningAlg::Rs256).await;
        assert_eq!(
            rings(&admin, "rsa").await,
            [("RS256", "active"), ("RS256", "next")]
        );
    }

    #[actix::test]
    async fn rotating_keys_rotates_both_rings() {
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::EdDsa).await;
        let before = admin.list_keys("acme").await.unwrap();
        let rotations = admin.rotate_keys("acme").await.unwrap().unwrap();
        assert_eq!(
            rotations.iter().map(|r| r.alg).collect::<Vec<_>>(),
            [SigningAlg::EdDsa, SigningAlg::Rs256]
        );
        for r in &rotations {
            let was = |kid: &tessera_core::Kid| {
                before
                    .iter()
                    .find(|k| &k.kid == kid)
                    .map(|k| (k.alg, k.state))
            };
            assert_eq!(
                was(r.retired.as_ref().unwrap()),
                Some((r.alg, KeyState::Active))
            );
            assert_eq!(was(&r.activated), Some((r.alg, KeyState::Next)));
            assert_eq!(was(&r.next), None);
        }
        assert_eq!(
            rings(&admin, "acme").await,
            [
                ("EdDSA", "active"),
                ("EdDSA", "next"),
                ("EdDSA", "retired"),
                ("RS256", "active"),
                ("RS256", "next"),
                ("RS256", "retired")
            ]
        );
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert_eq!(
            snapshot.keys.signer().unwrap().kid(),
            &rotations[0].activated
        );
        assert_eq!(
            snapshot.keys.signer_for(SigningAlg::Rs256).unwrap().kid(),
            &rotations[1].activated
        );
    }

    #[actix::test]
    async fn a_tenant_created_before_rs256_rings_gets_one_by_the_upgrade() {
        let admin = admin().await;
        tenant(&admin, "old", SigningAlg::Es256).await;
        tenant(&admin, "new", SigningAlg::Es256).await;
        tenant(&admin, "rsa", SigningAlg::Rs256).await;
        let new_keys = kids(&admin, "new").await;
        let rsa_keys = kids(&admin, "rsa").await;
        // Simulate a tenant of the previous version: only its own ring.
        let old = admin.tenant("old").await.unwrap();
        admin
            .store()
            .conn()
            .execute_unprepared(
                "DELETE FROM signing_keys WHERE alg = 'RS256' AND tenant_id IN \
                 (SELECT id FROM tenants WHERE slug = 'old')",
            )
            .await
            .unwrap();
        assert_eq!(
            rings(&admin, "old").await,
            [("ES256", "active"), ("ES256", "next")]
        );
        // Its snapshot has no ID-token signer yet.
        let snapshot = admin.directory().resolve("old").await.unwrap().unwrap();
        assert!(snapshot.keys.signer_for(SigningAlg::Rs256).is_none());
        let es_kid = snapshot.keys.signer().unwrap().kid().clone();
        let feed_before = tessera_store::feed::head(admin.store().conn())
            .await
            .unwrap();

        assert_eq!(admin.upgrade_key_rings().await.unwrap(), 1);
        assert_eq!(
            rings(&admin, "old").await,
            [
                ("ES256", "active"),
                ("ES256", "next"),
                ("RS256", "active"),
                ("RS256", "next")
            ]
        );
        // The upgrade wrote a feed entry for the tenant and dropped its cached snapshot.
        let feed = tessera_store::feed::since(admin.store().conn(), feed_before, 10)
            .await
            .unwrap();
        assert_eq!(feed.len(), 1);
        assert_eq!(
            (feed[0].tenant_id, feed[0].what.as_str()),
            (Some(old.id), "keys")
        );
        let snapshot = admin.directory().resolve("old").await.unwrap().unwrap();
        assert!(snapshot.keys.signer_for(SigningAlg::Rs256).is_some());
        assert_eq!(snapshot.keys.signer().unwrap().kid(), &es_kid);

        // Nobody else was touched, and a second run finds nothing to do.
        assert_eq!(kids(&admin, "new").await, new_keys);
        assert_eq!(kids(&admin, "rsa").await, rsa_keys);
        assert_eq!(admin.upgrade_key_rings().await.unwrap(), 0);
        assert_eq!(admin.list_keys("old").await.unwrap().len(), 4);
    }

    /// Standard base64 of a fresh self-signed certificate's DER.
    pub(crate) fn self_signed_x5c() -> String {
        use base64::Engine;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::x509::{X509, X509NameBuilder};
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "rp.example.com").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        cert.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(cert.build().to_der().unwrap())
    }

    fn options(v: serde_json::Value) -> ClientOptions {
        serde_json::from_value(v).unwrap()
    }

    fn shape_error(client_type: ClientType, v: serde_json::Value) -> String {
        match check_options_shape(client_type, &options(v)) {
            Err(TenantError::Invalid(why)) => why,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn grant_types_fit_the_client_type_and_refresh_tokens_need_an_issuing_grant() {
        use GrantType::*;
        let ok = |t, g: &[GrantType]| check_grant_types(t, g).unwrap();
        assert_eq!(
            ok(
                ClientType::Confidential,
                &[AuthorizationCode, RefreshToken, AuthorizationCode]
            ),
            vec![AuthorizationCode, RefreshToken]
        );
        assert_eq!(
            ok(ClientType::Public, &[DeviceCode, RefreshToken]),
            vec![DeviceCode, RefreshToken]
        );
        assert_eq!(
            ok(ClientType::Confidential, &[Password, RefreshToken]),
            vec![Password, RefreshToken]
        );
        let err = |t, g: &[GrantType]| check_grant_types(t, g).unwrap_err().to_string();
        assert!(err(ClientType::Public, &[ClientCredentials]).contains("public client"));
        assert!(
            err(ClientType::Confidential, &[ClientCredentials, RefreshToken])
                .contains("refresh_token")
        );
        assert!(err(ClientType::Public, &[RefreshToken]).contains("refresh_token"));
    }

    #[test]
    fn client_options_must_fit_the_client_type_and_method() {
        use serde_json::json;
        let (conf, public) = (ClientType::Confidential, ClientType::Public);
        assert!(check_options_shape(conf, &ClientOptions::default()).is_ok());
        assert!(check_options_shape(public, &ClientOptions::default()).is_ok());
        let ok = |t, v| check_options_shape(t, &options(v)).unwrap();
        ok(public, json!({"token_endpoint_auth_method": "none"}));
        ok(
            conf,
            json!({"token_endpoint_auth_method": "client_secret_post", "require_dpop": true}),
        );
        ok(
            conf,
            json!({"token_endpoint_auth_method": "tls_client_auth",
                   "tls_client_auth_subject_dn": "CN=rp.example.com,O=Example"}),
        );
        ok(
            conf,
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
                   "jwks": {"keys": [{"kty": "EC", "x5c": [self_signed_x5c()]}]}}),
        );
        ok(
            public,
            json!({"tls_client_certificate_bound_access_tokens": true}),
        );
        ok(
            conf,
            json!({"token_exchange": {"subject_token_types": [token_type::ACCESS_TOKEN, token_type::JWT]}}),
        );
        // RFC 8693 §5: token exchange is for confidential clients.
        assert!(
            shape_error(
                public,
                json!({"token_exchange": {"subject_token_types": [token_type::ACCESS_TOKEN]}})
            )
            .contains("confidential")
        );

        assert!(
            shape_error(
                public,
                json!({"token_endpoint_auth_method": "tls_client_auth"})
            )
            .contains("public client")
        );
        assert!(
            shape_error(
                public,
                json!({"token_endpoint_auth_method": "client_secret_basic"})
            )
            .contains("public client")
        );
        assert!(
            shape_error(conf, json!({"token_endpoint_auth_method": "none"}))
                .contains("confidential")
        );
        assert!(
            shape_error(
                conf,
                json!({"token_endpoint_auth_method": "tls_client_auth"})
            )
            .contains("tls_client_auth_subject_dn")
        );
        assert!(
            shape_error(
                conf,
                json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "  "})
            )
            .contains("RFC 4514")
        );
        assert!(
            shape_error(conf, json!({"tls_client_auth_subject_dn": "CN=x"})).contains("only with")
        );
        assert!(
            shape_error(
                conf,
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"})
            )
            .contains("x5c")
        );
        // A jwks without any certificate does not identify a self-signed TLS client.
        assert!(
            shape_error(
                conf,
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
                       "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}})
            )
            .contains("x5c")
        );
        assert!(
            shape_error(
                conf,
                json!({"token_exchange": {"subject_token_types": ["urn:example:saml"]}})
            )
            .contains("unknown subject token type")
        );
    }

    #[test]
    fn a_client_jwks_is_a_public_jwk_set_with_parsable_certificates() {
        use serde_json::json;
        let cert = self_signed_x5c();
        assert_eq!(
            check_jwks(&json!({"keys": [{"kty": "EC"}, {"kty": "RSA", "x5c": [cert]}]})).unwrap(),
            1
        );
        for (jwks, says) in [
            (json!([{"kty": "EC"}]), "JWK Set"),
            (json!({"keys": {}}), "JWK Set"),
            (json!({"keys": []}), "1 to 100"),
            (json!({"keys": ["EC"]}), "not a JSON object"),
            (json!({"keys": [{"crv": "P-256"}]}), "kty"),
            (json!({"keys": [{"kty": "EC", "d": "secret"}]}), "`d`"),
            (json!({"keys": [{"kty": "RSA", "qi": "secret"}]}), "`qi`"),
            (json!({"keys": [{"kty": "oct", "k": "secret"}]}), "`k`"),
            (
                json!({"keys": [{"kty": "EC", "x5c": []}]}),
                "non-empty array",
            ),
            (
                json!({"keys": [{"kty": "EC", "x5c": "abc"}]}),
                "non-empty array",
            ),
            (
                json!({"keys": [{"kty": "EC", "x5c": ["not base64!"]}]}),
                "x5c entry 0",
            ),
            (
                json!({"keys": [{"kty": "EC", "x5c": ["aGVsbG8="]}]}),
                "x5c entry 0",
            ),
            (
                json!({"keys": [{"kty": "EC", "x5c": [cert, 5]}]}),
                "x5c entry 1",
            ),
        ] {
            match check_jwks(&jwks) {
                Err(TenantError::Invalid(why)) => assert!(why.contains(says), "{jwks}: {why}"),
                other => panic!("{jwks}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[actix::test]
    async fn clients_may_have_opaque_tokens_and_options_naming_resource_servers() {
        use serde_json::json;
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        let opaque = admin
            .register_client(
                "acme",
                NewClient {
                    token_format: TokenFormat::Opaque,
                    ..NewClient::confidential("opaque")
                },
            )
            .await
            .unwrap();
        assert_eq!(opaque.client.token_format, TokenFormat::Opaque);

        let with_default = |resource: &str| NewClient {
            options: options(json!({
                "default_resource": resource,
                "token_exchange": {"audiences": [resource], "allow_delegation": true},
            })),
            ..NewClient::confidential("api caller")
        };
        let err = admin
            .register_client("acme", with_default("https://api.example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TenantError::Invalid(why) if why.contains("not a resource server")),
            "{err:?}"
        );
        admin
            .create_resource_server(
                "acme",
                crate::NewResourceServer {
                    identifier: "https://api.example.com".into(),
                    name: "API".into(),
                    scopes: vec![],
                    token_format: TokenFormat::Jwt,
                    access_token_ttl: None,
                    introspectors: vec![],
                },
            )
            .await
            .unwrap();
        let client = admin
            .register_client("acme", with_default("https://api.example.com"))
            .await
            .unwrap()
            .client;
        let stored = admin
            .client("acme", client.client_id.as_ref())
            .await
            .unwrap();
        assert_eq!(
            stored.options.default_resource.as_deref(),
            Some("https://api.example.com")
        );
        assert!(stored.options.token_exchange.unwrap().allow_delegation);
    }

    #[actix::test]
    async fn updating_a_client_validates_the_result_and_reaches_the_snapshot() {
        use serde_json::json;
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        let client = admin
            .register_client("acme", NewClient::confidential("svc"))
            .await
            .unwrap()
            .client;
        let id = client.client_id.to_string();
        // Warm the snapshot so the update must invalidate it.
        let before = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert_eq!(
            before.client(client.client_id.as_ref()).unwrap().name,
            "svc"
        );

        let updated = admin
            .update_client(
                "acme",
                &id,
                ClientUpdate {
                    name: Some("renamed".into()),
                    scopes: Some(vec!["openid".into()]),
                    token_format: Some(TokenFormat::Opaque),
                    first_party: Some(true),
                    options: Some(options(json!({
                        "token_endpoint_auth_method": "tls_client_auth",
                        "tls_client_auth_subject_dn": "CN=svc.example.com",
                        "tls_client_certificate_bound_access_tokens": true,
                    }))),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.name, "renamed");
        assert_eq!(updated.token_format, TokenFormat::Opaque);
        assert!(updated.first_party);
        assert!(updated.updated_at >= client.updated_at);
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        let seen = snapshot.client(client.client_id.as_ref()).unwrap();
        assert_eq!(seen.name, "renamed");
        assert_eq!(
            seen.options.token_endpoint_auth_method,
            Some(AuthMethod::TlsClientAuth)
        );
        assert_eq!(seen.scopes.to_wire(), "openid");

        // Refusals change nothing.
        for update in [
            ClientUpdate {
                scopes: Some(vec!["nope".into()]),
                ..Default::default()
            },
            ClientUpdate {
                options: Some(options(json!({"token_endpoint_auth_method": "none"}))),
                ..Default::default()
            },
            ClientUpdate {
                options: Some(options(json!({"default_resource": "urn:x:unknown"}))),
                ..Default::default()
            },
            ClientUpdate {
                name: Some(" ".into()),
                ..Default::default()
            },
            ClientUpdate {
                redirect_uris: Some(vec!["not a uri".into()]),
                ..Default::default()
            },
        ] {
            let err = admin.update_client("acme", &id, update).await.unwrap_err();
            assert!(matches!(err, TenantError::Invalid(_)), "{err:?}");
        }
        let unchanged = admin.client("acme", &id).await.unwrap();
        assert_eq!(
            serde_json::to_value(&unchanged).unwrap(),
            serde_json::to_value(&updated).unwrap()
        );
        assert!(matches!(
            admin
                .update_client("acme", "no-such-client", ClientUpdate::default())
                .await,
            Err(TenantError::NotFound("client"))
        ));

        // A code-flow client keeps at least one redirect URI.
        let web = admin
            .register_client(
                "acme",
                NewClient {
                    grant_types: vec![GrantType::AuthorizationCode],
                    redirect_uris: vec!["https://app.example.com/cb".into()],
                    ..NewClient::confidential("web")
                },
            )
            .await
            .unwrap()
            .client;
        let err = admin
            .update_client(
                "acme",
                web.client_id.as_ref(),
                ClientUpdate {
                    redirect_uris: Some(vec![]),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TenantError::Invalid(why) if why.contains("redirect URI")));
    }
}
