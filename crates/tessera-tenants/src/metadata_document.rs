//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02): a client
//! identifies itself with an https URL whose JSON document describes it. Under the tenant's
//! opt-in policy the document is fetched (allow-listed hosts only, no redirects, 3 s, 5 KiB),
//! checked like a dynamic registration and kept as a client row marked with when it expires, so
//! every node's snapshot serves it through the change feed like any other client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_core::client::{MetadataDocumentState, is_loopback};
use tessera_core::settings::ClientIdMetadataDocumentPolicy;
use tessera_core::{ClientId, Clock, GrantType, TokenFormat};
use tessera_store::{ClientRecord, TenantRecord, clients};

use crate::admin::{exact_uris, needs_redirect_uri, validate_name};
use crate::registration::{ClientMetadata, map_metadata};
use crate::{NewClient, TenantAdmin, TenantError, TenantSnapshot};

/// How long a fetch of a metadata document may take, connection included.
pub const METADATA_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest metadata document accepted: the 5 kilobytes of draft §8.7 (Maximum Response Size).
pub const MAX_METADATA_DOCUMENT_BYTES: usize = 5 * 1024;

/// Shortest reuse a document's own `Cache-Control` may ask for, seconds, so a document server
/// cannot make every authorization request a fetch (draft §5.2 lets the server bound it).
pub const MIN_HEADER_TTL_SECS: i64 = 60;

/// How long a failed fetch is remembered and answered without fetching again, so a stream of
/// requests naming a broken or slow document cannot turn the server into a request cannon
/// (draft §8.6, Server-Side Request Forgery).
const FAILURE_BACKOFF: Duration = Duration::from_secs(10);

/// Most documents tracked (locks, remembered failures) at once.
const MAX_TRACKED: usize = 10_000;

/// Longest client identifier URL: the length of every `client_id` column.
const MAX_URL_LEN: usize = 255;

/// Grant types a document client may use: the ones a front-channel flow starts (draft §1: the
/// document replaces registration for clients that send users to the authorization server).
const DOCUMENT_GRANTS: [&str; 3] = [
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// Why a client identifier URL or its document was refused. Every message is safe to show: it
/// never echoes what the document server sent, only the rule that was broken.
#[derive(Debug, thiserror::Error)]
pub enum MetadataDocumentError {
    /// The tenant's policy does not allow documents from this host.
    #[error("this provider does not accept client metadata documents from this host")]
    HostNotAllowed,
    /// The URL breaks a rule of draft §3.
    #[error("the client_id is not an acceptable client metadata document URL: {0}")]
    BadUrl(&'static str),
    /// The document could not be had: network failure, timeout, redirect, not 200, too large,
    /// not JSON content.
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(&'static str),
    /// The document was fetched but breaks a rule of draft §4 or of the tenant's registration
    /// policy.
    #[error("the client metadata document is not acceptable: {0}")]
    Invalid(String),
    /// The database is unreachable.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl MetadataDocumentError {
    fn from_tenant(err: TenantError) -> Self {
        match err {
            TenantError::Invalid(why) => Self::Invalid(why),
            TenantError::Unavailable => Self::Unavailable,
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }

    /// A copy of a remembered failure (only `Fetch` and `Invalid` are remembered).
    fn replay(&self) -> Option<Self> {
        match self {
            Self::Fetch(why) => Some(Self::Fetch(why)),
            Self::Invalid(why) => Some(Self::Invalid(why.clone())),
            _ => None,
        }
    }
}

/// Whether `client_id` is meant as a metadata document URL (and so is refused with a reason
/// rather than treated as an unknown opaque id).
pub fn looks_like_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Parses a client identifier URL (draft §3): `https`, a host, a path other than `/`, no
/// userinfo, fragment or query, no `.` or `..` segment, and already in the normal form a URL
/// parser gives it, so the document's `client_id` can be compared by simple string comparison
/// (draft §4, RFC 3986 §6.2.1). Plain `http` only on a loopback host and only when
/// `allow_loopback_http` (development and tests).
pub fn parse_client_id_url(raw: &str, allow_loopback_http: bool) -> Result<url::Url, &'static str> {
    if raw.len() > MAX_URL_LEN {
        return Err("it is longer than 255 characters");
    }
    let url = url::Url::parse(raw).map_err(|_| "it is not an absolute URL")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback_http && is_loopback(&url) => {}
        _ => return Err("it must use the https scheme"),
    }
    if url.host().is_none() {
        return Err("it has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not carry a user name or password");
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err("it must not carry a fragment");
    }
    if url.query().is_some() || raw.contains('?') {
        return Err("it must not carry a query");
    }
    let after_scheme = raw.split_once("://").map_or("", |(_, rest)| rest);
    let raw_path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    if raw_path.len() <= 1 {
        return Err("it must have a path");
    }
    let dot = |s: &str| {
        let s = s.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if raw_path.split('/').any(dot) {
        return Err("it must not contain `.` or `..` path segments");
    }
    if url.as_str() != raw {
        return Err("it is not in normal form (lower-case scheme and host, no default port)");
    }
    Ok(url)
}

/// The document's reuse time: the policy's bound, shortened by the document's own
/// `Cache-Control` (draft §5.2), but never below [`MIN_HEADER_TTL_SECS`] on the header's word.
pub fn effective_ttl(policy_ttl: i64, header_max_age: Option<i64>) -> i64 {
    match header_max_age {
        Some(age) => age.max(MIN_HEADER_TTL_SECS).min(policy_ttl),
        None => policy_ttl,
    }
}

/// The `max-age` a `Cache-Control` value grants; `no-store` and `no-cache` grant none.
fn max_age(cache_control: &str) -> Option<i64> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(0);
        }
        if let Some(value) = directive.strip_prefix("max-age=") {
            age = value
                .trim_matches('"')
                .parse::<i64>()
                .ok()
                .map(|v| v.max(0));
        }
    }
    age
}

/// The checks of draft §4 on a fetched document, and its metadata as a registration would read
/// it: a JSON object whose `client_id` is the URL exactly, no shared secret (no
/// `client_secret`, no `client_secret_expires_at`, `token_endpoint_auth_method` `none` or
/// `private_key_jwt`; absent means `none`), and grant types a front-channel client uses.
pub fn check_document(
    document: &Value,
    url: &str,
) -> Result<ClientMetadata, MetadataDocumentError> {
    let invalid = |why: &str| Err(MetadataDocumentError::Invalid(why.to_owned()));
    let Some(object) = document.as_object() else {
        return invalid("it is not a JSON object");
    };
    match object.get("client_id") {
        Some(Value::String(id)) if id == url => {}
        Some(_) => return invalid("its client_id is not the URL it was fetched from"),
        None => return invalid("it has no client_id"),
    }
    // Draft §4: there is no way to establish a shared secret with a document client.
    if object.contains_key("client_secret") || object.contains_key("client_secret_expires_at") {
        return invalid("it must not contain client_secret or client_secret_expires_at");
    }
    let mut document = document.clone();
    match object.get("token_endpoint_auth_method") {
        None => {
            document["token_endpoint_auth_method"] = Value::String("none".into());
        }
        Some(Value::String(m)) if m == "none" || m == "private_key_jwt" => {}
        Some(_) => {
            return invalid(
                "token_endpoint_auth_method must be `none` or `private_key_jwt`: a method based on a shared secret cannot be used",
            );
        }
    }
    if let Some(grants) = object.get("grant_types").and_then(Value::as_array)
        && grants
            .iter()
            .any(|g| !g.as_str().is_some_and(|g| DOCUMENT_GRANTS.contains(&g)))
    {
        return invalid(
            "grant_types may name only authorization_code, refresh_token and the device code grant",
        );
    }
    serde_json::from_value::<ClientMetadata>(document).map_err(|_| {
        MetadataDocumentError::Invalid(
            "its members do not have the types of client metadata (RFC 7591 §2)".into(),
        )
    })
}

/// The display name of a document client: its `client_name` followed by the URL's host, so the
/// consent page always shows who the client really is (draft §8: the host is what the user can
/// verify), within the 200 characters of a client name.
fn display_name(client_name: Option<&str>, host: &str) -> String {
    let host: String = host.chars().take(150).collect();
    match client_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            let room = 200usize.saturating_sub(host.chars().count() + 3);
            let name: String = name
                .chars()
                .filter(|c| !c.is_control())
                .take(room)
                .collect();
            format!("{name} ({host})")
        }
        None => host,
    }
}

/// What a request naming a client needs before the tenant's snapshot can answer it.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    /// The snapshot answers (a registered client, a fresh document client, or an unknown id
    /// that is no document URL, or whose tenant does not take documents).
    Nothing,
    /// The document must be fetched: first use, or the stored one is past its time.
    Fetch {
        /// The stored client's state, when it is a stale document client.
        stale: Option<MetadataDocumentState>,
    },
}

/// The allow-list check of the tenant's policy (draft §8.6: what the server may be made to
/// fetch is limited).
fn check_policy(
    policy: &ClientIdMetadataDocumentPolicy,
    url: &url::Url,
) -> Result<(), MetadataDocumentError> {
    let allowed = policy.enabled && url.host_str().is_some_and(|h| policy.allows_host(h));
    if allowed {
        Ok(())
    } else {
        Err(MetadataDocumentError::HostNotAllowed)
    }
}

/// Fetches, checks and stores clients' metadata documents; one per server, shared by every
/// worker. Holds only caches (per-document locks, recent failures): the clients themselves are
/// rows of the tenant.
#[derive(Debug)]
pub struct MetadataDocuments {
    http: reqwest::Client,
    allow_loopback_http: bool,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    failures: Mutex<HashMap<String, (Instant, MetadataDocumentError)>>,
}

impl MetadataDocuments {
    /// A fetcher; `allow_loopback_http` lets a client identifier URL on a loopback host use
    /// plain http (the deployment setting `tenants.allow_loopback_http_jwks_uri`).
    pub fn new(allow_loopback_http: bool) -> Result<Self, MetadataDocumentError> {
        // Draft §5: the document is fetched from the client_id itself; a redirect could lead
        // anywhere, so none is followed. Draft §8.6: public addresses only (loopback too when
        // allowed), checked where the connection is made.
        let http = crate::outbound::client(METADATA_FETCH_TIMEOUT, allow_loopback_http)
            .map_err(|e| MetadataDocumentError::Unexpected(anyhow::Error::new(e)))?;
        Ok(Self {
            http,
            allow_loopback_http,
            locks: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// What `client_id` needs at `snapshot`'s tenant at `now`. A document client is served only
    /// while the policy allows its host, so turning the policy off stops it at once.
    fn assess(
        &self,
        snapshot: &TenantSnapshot,
        client_id: &str,
        now: i64,
    ) -> Result<Need, MetadataDocumentError> {
        let policy = &snapshot.tenant.settings.client_id_metadata_documents;
        match snapshot.client(client_id) {
            Some(client) => match client.options.metadata_document {
                // A registered client, or one whose id is no URL (the marker alone, as an
                // administrator may have copied it, means nothing).
                None => Ok(Need::Nothing),
                Some(_) if !looks_like_document_url(client_id) => Ok(Need::Nothing),
                Some(state) => {
                    let url = parse_client_id_url(client_id, self.allow_loopback_http)
                        .map_err(MetadataDocumentError::BadUrl)?;
                    check_policy(policy, &url)?;
                    if state.expires_at > now {
                        Ok(Need::Nothing)
                    } else {
                        Ok(Need::Fetch { stale: Some(state) })
                    }
                }
            },
            None if !policy.enabled || !looks_like_document_url(client_id) => Ok(Need::Nothing),
            None => {
                let url = parse_client_id_url(client_id, self.allow_loopback_http)
                    .map_err(MetadataDocumentError::BadUrl)?;
                check_policy(policy, &url)?;
                Ok(Need::Fetch { stale: None })
            }
        }
    }

    /// Makes sure `snapshot`'s tenant can answer a request naming `client_id`: when it is a
    /// metadata document URL the tenant takes, unknown or past its time, the document is fetched,
    /// checked and stored, and the reloaded snapshot returned (`None`: use `snapshot` as is).
    /// A failed fetch of a known client keeps serving the stored one until its time plus one
    /// more `cache_ttl_secs` has passed; after that, and for any document that breaks a rule,
    /// the request is refused (draft §5.1).
    pub async fn ensure(
        &self,
        admin: &TenantAdmin,
        snapshot: &TenantSnapshot,
        client_id: &str,
    ) -> Result<Option<Arc<TenantSnapshot>>, MetadataDocumentError> {
        let now = Clock.now();
        let Need::Fetch { stale } = self.assess(snapshot, client_id, now)? else {
            return Ok(None);
        };
        let tenant = &snapshot.tenant;
        let key = format!("{}\n{client_id}", tenant.id);
        let lock = self.lock_for(&key);
        let _one_fetch_at_a_time = lock.lock().await;
        let id = ClientId::parse(client_id)
            .ok_or(MetadataDocumentError::BadUrl("it is not a valid client_id"))?;
        // Another request (or node) may have fetched it while this one waited.
        let stored = clients::find(admin.store().conn(), tenant.id, &id)
            .await
            .map_err(|e| {
                MetadataDocumentError::from_tenant(TenantError::from_store("client", e))
            })?;
        match stored.as_ref().map(|c| c.options.metadata_document) {
            // An administrator's client of that id: never replaced by a document.
            Some(None) => return self.reload(admin, tenant).await.map(Some),
            Some(Some(state)) if state.expires_at > now => {
                return self.reload(admin, tenant).await.map(Some);
            }
            _ => {}
        }
        let result = match self.remembered_failure(&key) {
            Some(failure) => Err(failure),
            None => {
                let fetched = self
                    .fetch_and_store(admin, tenant, client_id, &id, stored)
                    .await;
                if let Err(e) = &fetched
                    && let Some(copy) = e.replay()
                {
                    self.remember_failure(&key, copy);
                }
                fetched
            }
        };
        match result {
            Ok(()) => self.reload(admin, tenant).await.map(Some),
            Err(MetadataDocumentError::Fetch(why))
                if stale.is_some_and(|s| {
                    now < s.expires_at + tenant.settings.client_id_metadata_documents.cache_ttl_secs
                }) =>
            {
                tracing::warn!(tenant = %tenant.slug, client_id = %client_id, why, "client metadata document refetch failed; serving the stored client");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The tenant's snapshot as reloaded after a change.
    async fn reload(
        &self,
        admin: &TenantAdmin,
        tenant: &TenantRecord,
    ) -> Result<Arc<TenantSnapshot>, MetadataDocumentError> {
        admin
            .directory()
            .resolve(tenant.slug.as_ref())
            .await
            .map_err(MetadataDocumentError::from_tenant)?
            .ok_or_else(|| {
                MetadataDocumentError::Unexpected(anyhow::anyhow!("the tenant was deleted"))
            })
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut locks) = self.locks.lock() else {
            return Arc::new(tokio::sync::Mutex::new(()));
        };
        if locks.len() >= MAX_TRACKED {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    fn remembered_failure(&self, key: &str) -> Option<MetadataDocumentError> {
        let failures = self.failures.lock().ok()?;
        let (at, failure) = failures.get(key)?;
        (at.elapsed() < FAILURE_BACKOFF)
            .then(|| failure.replay())
            .flatten()
    }

    fn remember_failure(&self, key: &str, failure: MetadataDocumentError) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() >= MAX_TRACKED {
                failures.retain(|_, (at, _)| at.elapsed() < FAILURE_BACKOFF);
                if failures.len() >= MAX_TRACKED {
                    failures.clear();
                }
            }
            failures.insert(key.to_owned(), (Instant::now(), failure));
        }
    }

    /// Fetches the document at `url` (draft §5): GET, no redirect, 200 only, JSON content, at
    /// most [`MAX_METADATA_DOCUMENT_BYTES`] within [`METADATA_FETCH_TIMEOUT`]; returns the body
    /// and the `max-age` its `Cache-Control` grants.
    async fn fetch(&self, url: &url::Url) -> Result<(Vec<u8>, Option<i64>), MetadataDocumentError> {
        use MetadataDocumentError::Fetch;
        crate::outbound::check_url(url, self.allow_loopback_http).map_err(Fetch)?;
        let work = async {
            let mut resp = self
                .http
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|_| Fetch("the request failed or timed out"))?;
            if resp.status().is_redirection() {
                return Err(Fetch(
                    "the server answered with a redirect, which is not followed",
                ));
            }
            if resp.status() != reqwest::StatusCode::OK {
                return Err(Fetch("the server did not answer 200"));
            }
            // Draft §4: application/json, or a more specific application/…+json type.
            let json = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase())
                .is_some_and(|v| {
                    v == "application/json"
                        || (v.starts_with("application/") && v.ends_with("+json"))
                });
            if !json {
                return Err(Fetch("the document is not served as application/json"));
            }
            let age = resp
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(max_age);
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_METADATA_DOCUMENT_BYTES as u64)
            {
                return Err(Fetch("the document is larger than 5 KiB"));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|_| Fetch("the request failed or timed out"))?
            {
                if body.len() + chunk.len() > MAX_METADATA_DOCUMENT_BYTES {
                    return Err(Fetch("the document is larger than 5 KiB"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((body, age))
        };
        // The client's timeout covers each read; this bounds the whole exchange, so a server
        // trickling bytes cannot hold the request longer.
        tokio::time::timeout(METADATA_FETCH_TIMEOUT, work)
            .await
            .map_err(|_| Fetch("the request failed or timed out"))?
    }

    /// Fetches and checks the document of `client_id` and stores it as a client of `tenant`.
    async fn fetch_and_store(
        &self,
        admin: &TenantAdmin,
        tenant: &TenantRecord,
        client_id: &str,
        id: &ClientId,
        stored: Option<ClientRecord>,
    ) -> Result<(), MetadataDocumentError> {
        let url = parse_client_id_url(client_id, self.allow_loopback_http)
            .map_err(MetadataDocumentError::BadUrl)?;
        let (body, age) = self.fetch(&url).await?;
        let document: Value = serde_json::from_slice(&body)
            .map_err(|_| MetadataDocumentError::Invalid("it is not JSON".into()))?;
        let metadata = check_document(&document, client_id)?;
        let mut new = map_metadata(&tenant.settings.registration, &metadata)
            .map_err(|e| MetadataDocumentError::Invalid(e.to_string()))?;
        new.name = display_name(
            metadata.client_name.as_deref(),
            url.host_str().unwrap_or(""),
        );
        let policy = &tenant.settings.client_id_metadata_documents;
        let now = Clock.now();
        let state = MetadataDocumentState {
            fetched_at: now,
            expires_at: now + effective_ttl(policy.cache_ttl_secs, age),
        };
        admin
            .store_document_client(tenant, id.clone(), new, state, stored)
            .await
            .map_err(MetadataDocumentError::from_tenant)?;
        tracing::info!(tenant = %tenant.slug, client_id = %client_id, "client metadata document fetched");
        Ok(())
    }
}

impl TenantAdmin {
    /// Stores a document client (inserted, or replacing the stored one), validated like an
    /// administrator's registration: names, exact redirect URIs, defined scopes, the client's
    /// options and subject settings. Never first-party, never an admin, PKCE always, no secret.
    async fn store_document_client(
        &self,
        tenant: &TenantRecord,
        client_id: ClientId,
        new: NewClient,
        state: MetadataDocumentState,
        stored: Option<ClientRecord>,
    ) -> Result<(), TenantError> {
        validate_name(&new.name)?;
        let grant_types = new.grant_types.clone();
        let redirect_uris = exact_uris(&new.redirect_uris)?;
        let post_logout_redirect_uris = exact_uris(&new.post_logout_redirect_uris)?;
        needs_redirect_uri(&grant_types, &redirect_uris)?;
        if grant_types.contains(&GrantType::ClientCredentials) {
            return Err(TenantError::Invalid(
                "a document client cannot use the client_credentials grant".into(),
            ));
        }
        let id_token_alg = new
            .id_token_alg
            .unwrap_or(tessera_keys::DEFAULT_ID_TOKEN_ALG);
        if !tessera_keys::ring_algs(tenant.signing_alg).contains(&id_token_alg) {
            return Err(TenantError::Invalid(format!(
                "this provider cannot sign ID tokens with {id_token_alg}"
            )));
        }
        let scopes = self.allowed_scopes(tenant, &new.scopes).await?;
        self.check_client_options(tenant, new.client_type, &new.options)
            .await?;
        let mut options = new.options;
        options.metadata_document = Some(state);
        let now = Clock.now();
        let client = ClientRecord {
            tenant_id: tenant.id,
            client_id,
            name: new.name,
            client_type: new.client_type,
            secret_hash: None,
            grant_types,
            redirect_uris,
            scopes,
            token_format: TokenFormat::Jwt,
            admin_role: None,
            admin_tenant_id: None,
            post_logout_redirect_uris,
            first_party: false,
            require_pkce: true,
            id_token_alg,
            options,
            created_at: stored.as_ref().map_or(now, |s| s.created_at),
            updated_at: now,
        };
        crate::sector::check_subject_options(
            &client,
            tenant.signing_alg,
            self.allows_loopback_http(),
        )
        .await?;
        let slug = tenant.slug.as_ref();
        let store_err = |e| TenantError::from_store("client", e);
        let txn = self.store().begin().await.map_err(store_err)?;
        let written = if stored.is_some() {
            clients::update(&txn, &client).await
        } else {
            clients::insert(&txn, &client).await
        };
        match written {
            Ok(()) => self.commit(txn, (tenant.id, slug), "client", now).await,
            // Another node stored it first: replace that row instead.
            Err(tessera_store::StoreError::Conflict) if stored.is_none() => {
                drop(txn);
                let txn = self.store().begin().await.map_err(store_err)?;
                clients::update(&txn, &client).await.map_err(store_err)?;
                self.commit(txn, (tenant.id, slug), "client", now).await
            }
            Err(e) => Err(store_err(e)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn client_id_urls_follow_draft_section_3() {
        let ok = "https://app.example.com/oauth/client.json";
        assert_eq!(parse_client_id_url(ok, false).unwrap().as_str(), ok);
        assert!(parse_client_id_url("https://app.example.com:8443/c", false).is_ok());
        for bad in [
            "http://app.example.com/c",
            "https://app.example.com",
            "https://app.example.com/",
            "https://user:pw@app.example.com/c",
            "https://app.example.com/c#frag",
            "https://app.example.com/c?x=1",
            "https://app.example.com/a/../c",
            "https://app.example.com/a/./c",
            "https://app.example.com/a/%2E%2E/c",
            "https://APP.example.com/c",
            "https://app.example.com:443/c",
            "urn:example:client",
            "client-123",
        ] {
            assert!(parse_client_id_url(bad, false).is_err(), "{bad}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(240));
        assert!(parse_client_id_url(&long, false).is_err());
        // Loopback http only when the deployment allows it.
        assert!(parse_client_id_url("http://127.0.0.1:8080/c", false).is_err());
        assert!(parse_client_id_url("http://127.0.0.1:8080/c", true).is_ok());
        assert!(parse_client_id_url("http://example.com/c", true).is_err());
    }

    #[test]
    fn the_document_names_its_url_and_holds_no_shared_secret() {
        let url = "https://app.example.com/client.json";
        let base = serde_json::json!({
            "client_id": url,
            "redirect_uris": ["https://app.example.com/cb"],
            "client_name": "App",
        });
        let m = check_document(&base, url).unwrap();
        assert_eq!(m.token_endpoint_auth_method.as_deref(), Some("none"));
        let refused = |patch: serde_json::Value| {
            let mut doc = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                doc[k] = v.clone();
            }
            check_document(&doc, url).is_err()
        };
        assert!(refused(
            serde_json::json!({"client_id": "https://app.example.com/other"})
        ));
        assert!(refused(
            serde_json::json!({"client_id": "https://app.example.com/client.json/"})
        ));
        assert!(refused(serde_json::json!({"client_secret": "s3cret"})));
        assert!(refused(serde_json::json!({"client_secret_expires_at": 0})));
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ] {
            assert!(refused(
                serde_json::json!({"token_endpoint_auth_method": method})
            ));
        }
        assert!(refused(
            serde_json::json!({"grant_types": ["client_credentials"]})
        ));
        assert!(refused(serde_json::json!({"grant_types": ["implicit"]})));
        assert!(refused(
            serde_json::json!({"redirect_uris": "https://app.example.com/cb"})
        ));
        assert!(!refused(
            serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"})
        ));
        assert!(check_document(&serde_json::json!([]), url).is_err());
        let mut no_id = base.clone();
        no_id.as_object_mut().unwrap().remove("client_id");
        assert!(check_document(&no_id, url).is_err());
    }

    #[test]
    fn cache_headers_shorten_the_policy_ttl_within_bounds() {
        assert_eq!(max_age("public, max-age=120"), Some(120));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("max-age=60, no-cache"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(effective_ttl(3600, None), 3600);
        assert_eq!(effective_ttl(3600, Some(120)), 120);
        assert_eq!(effective_ttl(3600, Some(0)), MIN_HEADER_TTL_SECS);
        assert_eq!(effective_ttl(3600, Some(86_400)), 3600);
        assert_eq!(effective_ttl(5, Some(120)), 5);
    }

    #[test]
    fn the_display_name_ends_with_the_host() {
        assert_eq!(
            display_name(Some("App"), "app.example.com"),
            "App (app.example.com)"
        );
        assert_eq!(display_name(None, "app.example.com"), "app.example.com");
        assert_eq!(display_name(Some("  "), "h.example"), "h.example");
        let long = display_name(Some(&"x".repeat(500)), "app.example.com");
        assert!(long.chars().count() <= 200 && long.ends_with("(app.example.com)"));
    }
}
