//! A client's public keys (RFC 7591 §2): its registered `jwks`, or the JWK Set it publishes at
//! its `jwks_uri`, fetched over HTTPS with a timeout and a size limit, cached per client for
//! [`CACHE_TTL`], and fetched again when a JWS names a `kid` the cached set lacks (key
//! rotation, OIDC Core §10.1), at most once per [`REFETCH_INTERVAL`]. Used to check
//! `private_key_jwt` assertions (RFC 7523 §2.2) and signed request objects (RFC 9101 §6.2), and
//! to find the key encrypted ID tokens and userinfo responses go to (OIDC Core §10.2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_core::client::{is_loopback, parse_jwks_uri};
use tessera_core::{ClientId, EncryptedResponse, TenantId};
use tessera_keys::jwe::Recipient;
use tessera_store::ClientRecord;

/// How long a fetch of a `jwks_uri` may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest JWK Set document accepted from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// How long a fetched JWK Set is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// Least time between two fetches of a client's `jwks_uri` caused by an unknown `kid`, so a
/// stream of assertions naming made-up key ids cannot turn the server into a request cannon.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Most clients whose fetched key sets are cached at once.
const MAX_CACHED_CLIENTS: usize = 10_000;

/// Why a client's keys could not be had. The description is safe to show the client: it
/// never echoes what its server sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientKeysError {
    /// The client registered neither `jwks` nor `jwks_uri`.
    #[error("the client has registered no public keys")]
    NoKeys,
    /// The `jwks_uri` is not acceptable (not https, or plain http where not allowed).
    #[error("the client's jwks_uri is not acceptable: {0}")]
    BadUri(&'static str),
    /// The fetch failed, timed out, answered other than 200, was too large or not a JWK Set.
    #[error("the client's jwks_uri could not be used: {0}")]
    Fetch(&'static str),
    /// The client's keys hold none to encrypt to with the registered algorithm (OIDC Core
    /// §10.2): a public key of its type whose `use` is `enc` or absent.
    #[error("the client's keys hold no public key usable for {0}")]
    NoEncryptionKey(&'static str),
}

/// A fetched JWK Set.
#[derive(Clone, Debug)]
struct Cached {
    uri: String,
    keys: Arc<Value>,
    fetched_at: Instant,
    refetched_at: Option<Instant>,
}

/// Fetches and caches clients' `jwks_uri` documents; one per server, shared by every worker.
#[derive(Debug)]
pub struct ClientKeyResolver {
    http: reqwest::Client,
    allow_loopback_http: bool,
    cache: Mutex<HashMap<(TenantId, ClientId), Cached>>,
}

impl ClientKeyResolver {
    /// A resolver; `allow_loopback_http` lets a `jwks_uri` on a loopback host use plain http
    /// (development and tests), otherwise only https is fetched.
    pub fn new(allow_loopback_http: bool) -> Result<Self, ClientKeysError> {
        // Public addresses only (loopback too when allowed), no redirects.
        let http = tessera_tenants::outbound::client(FETCH_TIMEOUT, allow_loopback_http)
            .map_err(|_| ClientKeysError::Fetch("no HTTP client"))?;
        Ok(Self {
            http,
            allow_loopback_http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The cached set of `client` for `uri`, if fresh.
    fn cached(&self, client: &ClientRecord, uri: &str) -> Option<Cached> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&(client.tenant_id, client.client_id.clone()))
            .filter(|c| c.uri == uri && c.fetched_at.elapsed() < CACHE_TTL)
            .cloned()
    }

    fn store(&self, client: &ClientRecord, entry: Cached) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_CLIENTS {
                cache.retain(|_, c| c.fetched_at.elapsed() < CACHE_TTL);
                if cache.len() >= MAX_CACHED_CLIENTS {
                    cache.clear();
                }
            }
            cache.insert((client.tenant_id, client.client_id.clone()), entry);
        }
    }

    /// Fetches `uri` (RFC 7517 §5 JWK Set, at most [`MAX_JWKS_BYTES`], within
    /// [`FETCH_TIMEOUT`]).
    async fn fetch(&self, uri: &str) -> Result<Value, ClientKeysError> {
        let url = parse_jwks_uri(uri).map_err(ClientKeysError::BadUri)?;
        if url.scheme() == "http" && !(self.allow_loopback_http && is_loopback(&url)) {
            return Err(ClientKeysError::BadUri("plain http is not allowed"));
        }
        tessera_tenants::outbound::check_url(&url, self.allow_loopback_http)
            .map_err(ClientKeysError::BadUri)?;
        let work = async {
            let mut resp = self
                .http
                .get(url)
                .header(
                    reqwest::header::ACCEPT,
                    "application/jwk-set+json, application/json",
                )
                .send()
                .await
                .map_err(|_| ClientKeysError::Fetch("the request failed or timed out"))?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(ClientKeysError::Fetch("the server did not answer 200"));
            }
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
            {
                return Err(ClientKeysError::Fetch("the document is too large"));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|_| ClientKeysError::Fetch("the request failed or timed out"))?
            {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(ClientKeysError::Fetch("the document is too large"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        // The client's timeout covers each read; this bounds the whole exchange, so a server
        // trickling bytes cannot hold the request longer.
        let body = tokio::time::timeout(FETCH_TIMEOUT, work)
            .await
            .map_err(|_| ClientKeysError::Fetch("the request failed or timed out"))??;
        let set: Value = serde_json::from_slice(&body)
            .map_err(|_| ClientKeysError::Fetch("the document is not JSON"))?;
        if !set.get("keys").is_some_and(Value::is_array) {
            return Err(ClientKeysError::Fetch(
                "the document is not a JWK Set (RFC 7517 §5)",
            ));
        }
        Ok(set)
    }
}

/// The JWK Set of `client`: its registered `jwks`, or the one published at its `jwks_uri`
/// (cached for [`CACHE_TTL`]). With `kid`, a cached set that has no key of that id is fetched
/// again, unless that happened less than [`REFETCH_INTERVAL`] ago (the rotated-in key of a
/// client that rotated its keys, OIDC Core §10.1).
pub async fn client_jwks(
    resolver: &ClientKeyResolver,
    client: &ClientRecord,
    kid: Option<&str>,
) -> Result<Arc<Value>, ClientKeysError> {
    if let Some(jwks) = &client.options.jwks {
        return Ok(Arc::new(jwks.clone()));
    }
    let Some(uri) = client.options.jwks_uri.as_deref() else {
        return Err(ClientKeysError::NoKeys);
    };
    let cached = resolver.cached(client, uri);
    if let Some(cached) = &cached {
        let known = kid.is_none_or(|kid| has_kid(&cached.keys, kid));
        let recently = cached
            .refetched_at
            .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL);
        if known || recently {
            return Ok(Arc::clone(&cached.keys));
        }
    }
    let keys = Arc::new(resolver.fetch(uri).await?);
    let now = Instant::now();
    resolver.store(
        client,
        Cached {
            uri: uri.to_owned(),
            keys: Arc::clone(&keys),
            fetched_at: now,
            // A fetch because of an unknown kid counts against the refetch budget.
            refetched_at: cached.map(|_| now),
        },
    );
    Ok(keys)
}

/// The key to encrypt `what` to for `client` (OIDC Core §10.2, §5.3.2): `None` when the client
/// registered no encryption of it, else the first suitable key of its `jwks` or of the document
/// at its `jwks_uri` (see [`Recipient::select`]).
pub async fn encryption_recipient(
    resolver: &ClientKeyResolver,
    client: &ClientRecord,
    what: EncryptedResponse,
) -> Result<Option<Recipient>, ClientKeysError> {
    let Some(encryption) = client.options.encryption(what) else {
        return Ok(None);
    };
    let set = client_jwks(resolver, client, None).await?;
    Recipient::select(&set, encryption)
        .map(Some)
        .map_err(|_| ClientKeysError::NoEncryptionKey(encryption.alg.as_str()))
}

/// Whether the set has a key whose `kid` is `kid`.
pub fn has_kid(set: &Value, kid: &str) -> bool {
    keys_of(set).any(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
}

/// The keys of a JWK Set (RFC 7517 §5); none when it is not one.
pub fn keys_of(set: &Value) -> impl Iterator<Item = &Value> {
    set.get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter())
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kids_are_found_in_a_set() {
        let set = json!({"keys": [{"kty": "EC", "kid": "a"}, {"kty": "RSA"}]});
        assert!(has_kid(&set, "a"));
        assert!(!has_kid(&set, "b"));
        assert_eq!(keys_of(&set).count(), 2);
        assert_eq!(keys_of(&json!({"nope": 1})).count(), 0);
    }

    /// A one-shot HTTP server on 127.0.0.1 answering every request with `status` and `body`;
    /// returns its URL and a counter of requests served.
    async fn serve(status: u16, body: String) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(resp.as_bytes()).await;
            }
        });
        (url, hits)
    }

    fn client(options: serde_json::Value) -> ClientRecord {
        use tessera_core::{ClientType, ScopeSet, SigningAlg, TokenFormat};
        ClientRecord {
            tenant_id: TenantId::new(),
            client_id: ClientId::parse("rp").unwrap(),
            name: "RP".to_owned(),
            client_type: ClientType::Confidential,
            secret_hash: None,
            grant_types: vec![],
            redirect_uris: vec![],
            scopes: ScopeSet::default(),
            token_format: TokenFormat::Jwt,
            admin_role: None,
            admin_tenant_id: None,
            post_logout_redirect_uris: vec![],
            first_party: false,
            require_pkce: true,
            id_token_alg: SigningAlg::Rs256,
            options: serde_json::from_value(options).unwrap(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn the_encryption_key_is_the_registered_purposes_suitable_key() {
        let resolver = ClientKeyResolver::new(true).unwrap();
        // RFC 7518 Appendix C, Bob's P-256 key.
        let ec = json!({
            "kty": "EC", "crv": "P-256", "kid": "bob", "use": "enc",
            "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
            "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
        });
        let rp = client(json!({
            "jwks": {"keys": [ec]},
            "userinfo_encrypted_response_alg": "ECDH-ES",
        }));
        let recipient = encryption_recipient(&resolver, &rp, EncryptedResponse::Userinfo)
            .await
            .unwrap()
            .expect("a recipient");
        assert_eq!(recipient.kid(), Some("bob"));
        assert_eq!(
            recipient.encryption().enc,
            tessera_core::JweEnc::A128CbcHs256
        );
        // Not registered for ID tokens.
        let none = encryption_recipient(&resolver, &rp, EncryptedResponse::IdToken).await;
        assert!(matches!(none, Ok(None)));
        // Registered, but the keys hold no RSA key; or no keys at all.
        let rsa = client(json!({
            "jwks": {"keys": [ec]},
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
        }));
        assert_eq!(
            encryption_recipient(&resolver, &rsa, EncryptedResponse::IdToken)
                .await
                .unwrap_err(),
            ClientKeysError::NoEncryptionKey("RSA-OAEP-256")
        );
        let keyless = client(json!({"id_token_encrypted_response_alg": "ECDH-ES"}));
        assert_eq!(
            encryption_recipient(&resolver, &keyless, EncryptedResponse::IdToken)
                .await
                .unwrap_err(),
            ClientKeysError::NoKeys
        );
        // From a jwks_uri.
        let (url, hits) = serve(200, json!({"keys": [ec]}).to_string()).await;
        let remote = client(json!({
            "jwks_uri": url,
            "id_token_encrypted_response_alg": "ECDH-ES",
            "id_token_encrypted_response_enc": "A256GCM",
        }));
        let recipient = encryption_recipient(&resolver, &remote, EncryptedResponse::IdToken)
            .await
            .unwrap()
            .expect("a recipient");
        assert_eq!(recipient.encryption().enc, tessera_core::JweEnc::A256Gcm);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn plain_http_is_fetched_only_from_loopback_and_only_when_allowed() {
        let strict = ClientKeyResolver::new(false).unwrap();
        let (url, hits) = serve(200, r#"{"keys":[]}"#.into()).await;
        assert!(matches!(
            strict.fetch(&url).await,
            Err(ClientKeysError::BadUri(_))
        ));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        let lax = ClientKeyResolver::new(true).unwrap();
        assert!(lax.fetch(&url).await.is_ok());
        assert!(matches!(
            lax.fetch("http://192.0.2.1/jwks").await,
            Err(ClientKeysError::BadUri(_))
        ));
    }

    #[tokio::test]
    async fn oversized_non_200_and_non_jwks_documents_are_refused() {
        let lax = ClientKeyResolver::new(true).unwrap();
        let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(MAX_JWKS_BYTES));
        let (url, _) = serve(200, big).await;
        assert_eq!(
            lax.fetch(&url).await,
            Err(ClientKeysError::Fetch("the document is too large"))
        );
        let (url, _) = serve(404, r#"{"keys":[]}"#.into()).await;
        assert!(matches!(
            lax.fetch(&url).await,
            Err(ClientKeysError::Fetch(_))
        ));
        let (url, _) = serve(200, r#"{"nokeys":[]}"#.into()).await;
        assert!(matches!(
            lax.fetch(&url).await,
            Err(ClientKeysError::Fetch(_))
        ));
    }
}
