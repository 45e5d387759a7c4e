//! Tenant lifecycle: create, update, disable, delete tenants; register clients; define scopes;
//! rotate keys. Every change is written together with a change-feed entry in one transaction,
//! so other nodes (and a running server, after a CLI command) drop their stale snapshots.

use actix::Addr;
use tessera_core::secret::{new_client_secret, sha256_hex};
use tessera_core::{
    AdminRole, ClientId, ClientType, Clock, GrantType, KeyState, RedirectUri, Scope, ScopeSet,
    SigningAlg, TenantId, TenantSlug, TenantStatus, TokenFormat,
};
use tessera_keys::{GenerateKeyPair, KeyForge, Rotation, ring_algs};
use tessera_store::{
    ClientRecord, DatabaseTransaction, KeyRecord, ScopeRecord, Store, TenantRecord, clients, feed,
    keys, scopes, tenants,
};

use crate::{Directory, TenantError, standard_scopes};

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
        }
    }
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
        }
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
        self.create_tenant_row(new, false).await
    }

    async fn create_tenant_row(
        &self,
        new: NewTenant,
        is_system: bool,
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
        let ring_keys = self.generate_rings(record.id, new.alg, now).await?;

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
        let now = Clock.now();
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("tenant"))?;
        tenants::update_settings(&txn, current.id, &name, ttl, interval, now)
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
        let mut grant_types = new.grant_types.clone();
        if grant_types.is_empty() {
            grant_types = match new.client_type {
                ClientType::Confidential => vec![GrantType::ClientCredentials],
                ClientType::Public => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            };
        }
        grant_types.dedup();
        // RFC 6749 §4.4: the client credentials grant is for confidential clients only.
        if new.client_type == ClientType::Public
            && grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err(TenantError::Invalid(
                "a public client cannot use the client_credentials grant".into(),
            ));
        }
        let mut redirect_uris = Vec::with_capacity(new.redirect_uris.len());
        for raw in &new.redirect_uris {
            let uri = RedirectUri::parse(raw).map_err(|e| TenantError::Invalid(e.to_string()))?;
            if !redirect_uris.contains(&uri.as_ref().to_owned()) {
                redirect_uris.push(uri.as_ref().to_owned());
            }
        }
        let id_token_alg = new
            .id_token_alg
            .unwrap_or(tessera_keys::DEFAULT_ID_TOKEN_ALG);
        if !tessera_keys::ring_algs(tenant.signing_alg).contains(&id_token_alg) {
            return Err(TenantError::Invalid(format!(
                "tenant `{slug}` signs with {} and RS256; it cannot sign ID tokens with {id_token_alg}",
                tenant.signing_alg
            )));
        }
        let mut post_logout_redirect_uris = Vec::with_capacity(new.post_logout_redirect_uris.len());
        for raw in &new.post_logout_redirect_uris {
            let uri = RedirectUri::parse(raw).map_err(|e| TenantError::Invalid(e.to_string()))?;
            if !post_logout_redirect_uris.contains(&uri.as_ref().to_owned()) {
                post_logout_redirect_uris.push(uri.as_ref().to_owned());
            }
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(TenantError::Invalid(
                "the authorization_code grant needs at least one redirect URI".into(),
            ));
        }
        if new.token_format == TokenFormat::Opaque {
            return Err(TenantError::Invalid(
                "opaque access tokens need the introspection endpoint, which this version does not serve yet; use jwt".into(),
            ));
        }
        let defined = scopes::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("scope"))?;
        let mut allowed = ScopeSet::default();
        for raw in &new.scopes {
            let scope = Scope::parse(raw).map_err(|e| TenantError::Invalid(e.to_string()))?;
            if !defined.iter().any(|d| d.name == scope) {
                return Err(TenantError::Invalid(format!(
                    "scope `{scope}` is not defined in tenant `{slug}`"
                )));
            }
            allowed.insert(scope);
        }
        let (admin_role, admin_tenant_id) = match (new.admin_role, &new.admin_of) {
            (None, None) => (None, None),
            _ if !tenant.is_system => {
                return Err(TenantError::Invalid(
                    "admin roles exist only for clients of the system tenant".into(),
                ));
            }
            (Some(AdminRole::Operator), None) => (Some(AdminRole::Operator), None),
            (Some(AdminRole::TenantAdmin) | None, Some(of)) => {
                let target = self.tenant(of.as_ref()).await?;
                (Some(AdminRole::TenantAdmin), Some(target.id))
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
            created_at: now,
            updated_at: now,
        };
        let txn = self
            .store
            .begin()
            .await
            .map_err(Self::store_err("client"))?;
        clients::insert(&txn, &client)
            .await
            .map_err(Self::store_err("client"))?;
        self.commit(txn, (tenant.id, slug), "client", now).await?;
        tracing::info!(tenant = %slug, client_id = %client.client_id, "client registered");
        Ok(RegisteredClient {
            client,
            client_secret: secret.map(secrecy::SecretString::from),
        })
    }

    /// Every client of a tenant.
    pub async fn list_clients(&self, slug: &str) -> Result<Vec<ClientRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        clients::list(self.store.conn(), tenant.id)
            .await
            .map_err(Self::store_err("client"))
    }

    /// One client of a tenant.
    pub async fn client(&self, slug: &str, client_id: &str) -> Result<ClientRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        let id = ClientId::parse(client_id).ok_or(TenantError::NotFound("client"))?;
        clients::find(self.store.conn(), tenant.id, &id)
            .await
            .map_err(Self::store_err("client"))?
            .ok_or(TenantError::NotFound("client"))
    }

    /// Deletes a client.
    pub async fn delete_client(&self, slug: &str, client_id: &str) -> Result<(), TenantError> {
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
        self.commit(txn, (tenant.id, slug), "client", now).await?;
        tracing::info!(tenant = %slug, client_id = %id, "client deleted");
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

fn validate_name(name: &str) -> Result<(), TenantError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(TenantError::Invalid(
            "a name needs 1 to 200 printable characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix::SyncArbiter;
    use sea_orm::ConnectionTrait;
    use tessera_keys::MasterKey;
    use tessera_store::PoolSettings;

    use super::*;

    async fn admin() -> TenantAdmin {
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

    async fn tenant(admin: &TenantAdmin, slug: &str, alg: SigningAlg) -> TenantRecord {
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
}
