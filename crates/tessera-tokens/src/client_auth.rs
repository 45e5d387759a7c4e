//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1), `none` for public clients,
//! the mutual-TLS methods `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2), and
//! JWT assertions (RFC 7521 §4.2, RFC 7523 §2.2–3, OIDC Core §9): `private_key_jwt`, signed with
//! a key the client registered (`jwks`, or published at its `jwks_uri`), and
//! `client_secret_jwt`, MACed with the client secret. Secrets are compared as SHA-256 digests in
//! constant time, with no slow KDF and no I/O ([`authenticate_client`], the hot path); an
//! assertion needs the replay cache and perhaps the client's `jwks_uri`, so [`authenticate`]
//! is async.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::client::{CLIENT_SECRET_JWT_ALGS, PRIVATE_KEY_JWT_ALGS};
use tessera_core::secret::verify_sha256_hex;
use tessera_core::{AuthMethod, ClientType};
use tessera_keys::MasterKey;
use tessera_keys::foreign::{self, VerifiedJws};
use tessera_store::{ClientRecord, Store, clients};
use tessera_tenants::TenantSnapshot;

use crate::client_keys::{ClientKeyResolver, ClientKeysError, client_jwks, keys_of};
use crate::mtls::ClientCertificate;
use crate::{TokenError, TokenRequest};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How far ahead an assertion's `exp` may be: a client makes a fresh, short-lived assertion
/// per request, and every accepted `jti` is remembered until `exp`.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;

/// Clock skew allowed between client and server for `exp`, `nbf` and `iat`.
pub const ASSERTION_LEEWAY_SECS: i64 = 60;

/// Longest `jti` accepted, in characters.
const MAX_JTI_CHARS: usize = 256;

/// Longest client assertion accepted, in bytes (the JWS layer refuses longer ones too).
const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// Most registered keys tried for one assertion without a `kid`.
const MAX_CANDIDATE_KEYS: usize = 10;

/// How the client presented itself.
#[derive(Debug)]
pub enum ClientAuthentication {
    /// `Authorization: Basic` (client_secret_basic).
    Basic {
        /// Decoded client id.
        client_id: String,
        /// Decoded secret.
        secret: SecretString,
    },
    /// `client_id` + `client_secret` in the body (client_secret_post).
    Post {
        /// Client id.
        client_id: String,
        /// Secret.
        secret: SecretString,
    },
    /// Only `client_id`: a public client, or a mutual-TLS client whose certificate
    /// authenticates it (RFC 8705 §2).
    None {
        /// Client id.
        client_id: String,
    },
    /// A JWT client assertion (`private_key_jwt` or `client_secret_jwt`, RFC 7523 §2.2).
    Jwt {
        /// The client the assertion claims to come from: its `sub` (not yet verified).
        client_id: String,
        /// The compact JWS.
        assertion: SecretString,
    },
}

impl ClientAuthentication {
    /// Works out the method from the `Authorization` header value (if any) and the body. More
    /// than one method in a request is refused (RFC 6749 §2.3).
    pub fn from_request(
        authorization: Option<&str>,
        req: &mut TokenRequest,
    ) -> Result<Self, TokenError> {
        let assertion_type = req.client_assertion_type.take();
        let assertion = req.client_assertion.take();
        if assertion_type.is_some() || assertion.is_some() {
            if authorization.is_some() || req.client_secret.is_some() {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method, not two".into(),
                ));
            }
            return Self::from_assertion(assertion_type, assertion, req.client_id.take());
        }
        if let Some(header) = authorization {
            if req.client_secret.is_some() {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method, not two".into(),
                ));
            }
            let (client_id, secret) = parse_basic(header).ok_or(TokenError::InvalidClient)?;
            // A body client_id, if any, must name the same client.
            if req.client_id.as_deref().is_some_and(|id| id != client_id) {
                return Err(TokenError::InvalidRequest(
                    "client_id does not match the Authorization header".into(),
                ));
            }
            return Ok(Self::Basic { client_id, secret });
        }
        match (req.client_id.take(), req.client_secret.take()) {
            (Some(client_id), Some(secret)) => Ok(Self::Post { client_id, secret }),
            (Some(client_id), None) => Ok(Self::None { client_id }),
            (None, _) => Err(TokenError::InvalidClient),
        }
    }

    /// RFC 7521 §4.2: `client_assertion_type` and `client_assertion` come together; `client_id`
    /// is optional and, when sent, names the client the assertion identifies (its `sub`).
    fn from_assertion(
        assertion_type: Option<String>,
        assertion: Option<SecretString>,
        client_id: Option<String>,
    ) -> Result<Self, TokenError> {
        let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
            return Err(TokenError::InvalidRequest(
                "client_assertion_type and client_assertion must be sent together (RFC 7521 §4.2)"
                    .into(),
            ));
        };
        if assertion_type != CLIENT_ASSERTION_TYPE_JWT_BEARER {
            return Err(assertion_error("unsupported client_assertion_type"));
        }
        let claims = unverified_claims(assertion.expose_secret())?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| assertion_error("the client assertion has no sub"))?;
        if client_id.as_deref().is_some_and(|id| id != sub) {
            return Err(assertion_error(
                "client_id does not match the sub of the client assertion",
            ));
        }
        Ok(Self::Jwt {
            client_id: sub.to_owned(),
            assertion,
        })
    }

    /// Whether the client tried the `Authorization` header (then 401 needs `WWW-Authenticate`).
    pub fn used_header(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    /// The presented client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id }
            | Self::Jwt { client_id, .. } => client_id,
        }
    }

    /// Whether this is a JWT client assertion, which only [`authenticate`] can check.
    pub fn is_assertion(&self) -> bool {
        matches!(self, Self::Jwt { .. })
    }
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Option<(String, SecretString)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    if id.is_empty() {
        return None;
    }
    Some((id, SecretString::from(secret)))
}

fn form_decode(raw: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={raw}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Authenticates the client against the tenant snapshot, with `cert` the certificate it
/// presented over TLS (if any). Every failure is the same `invalid_client`, whether the client
/// is unknown, the secret wrong or the certificate unacceptable.
///
/// A client that registered a `token_endpoint_auth_method` must use exactly that method:
/// - `tls_client_auth` (RFC 8705 §2.1): `client_id` in the body, and a certificate that chains
///   to a trusted client CA and whose subject matches `tls_client_auth_subject_dn`;
/// - `self_signed_tls_client_auth` (RFC 8705 §2.2): `client_id` in the body, and a certificate
///   equal to the first `x5c` certificate of one of the keys in the client's `jwks`;
/// - `client_secret_basic` / `client_secret_post`: that way of sending the secret;
/// - `none`: a public client sending only `client_id`.
///
/// Without a registered method, a confidential client sends its secret either way and a
/// public client sends only its `client_id`.
///
/// A JWT assertion is refused here (it needs I/O): use [`authenticate`].
pub fn authenticate_client<'a>(
    snapshot: &'a TenantSnapshot,
    auth: &ClientAuthentication,
    cert: Option<&ClientCertificate>,
) -> Result<&'a Arc<ClientRecord>, TokenError> {
    let client = snapshot
        .client(auth.client_id())
        .ok_or(TokenError::InvalidClient)?;
    if client_authenticated(client, auth, cert) {
        Ok(client)
    } else {
        Err(TokenError::InvalidClient)
    }
}

/// Whether `auth` (and `cert`) authenticate `client` under the rules of [`authenticate_client`].
fn client_authenticated(
    client: &ClientRecord,
    auth: &ClientAuthentication,
    cert: Option<&ClientCertificate>,
) -> bool {
    let options = &client.options;
    match (options.token_endpoint_auth_method, auth) {
        (Some(AuthMethod::TlsClientAuth), ClientAuthentication::None { .. }) => {
            // RFC 8705 §2.1.2: the subject DN is the one registered identifier we support.
            let Some(expected) = options.tls_client_auth_subject_dn.as_deref() else {
                return false;
            };
            cert.is_some_and(|c| c.chain_verified && c.subject_matches(expected))
        }
        (Some(AuthMethod::SelfSignedTlsClientAuth), ClientAuthentication::None { .. }) => {
            let Some(jwks) = options.jwks.as_ref() else {
                return false;
            };
            cert.is_some_and(|c| c.is_registered_in(jwks))
        }
        (Some(AuthMethod::ClientSecretBasic), ClientAuthentication::Basic { secret, .. })
        | (Some(AuthMethod::ClientSecretPost), ClientAuthentication::Post { secret, .. })
        | (
            None,
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => secret_matches(client, secret),
        (Some(AuthMethod::None) | None, ClientAuthentication::None { .. }) => {
            client.client_type == ClientType::Public
        }
        // Any other method than the registered one (RFC 8705 §2: one method per client).
        _ => false,
    }
}

/// Whether a confidential client's stored digest matches `secret` (constant time).
fn secret_matches(client: &ClientRecord, secret: &SecretString) -> bool {
    match (client.client_type, client.secret_hash.as_deref()) {
        (ClientType::Confidential, Some(hash)) => verify_sha256_hex(secret.expose_secret(), hash),
        _ => false,
    }
}

/// What checking a client assertion needs besides the tenant snapshot.
#[derive(Clone, Copy, Debug)]
pub struct AssertionCheck<'a> {
    /// The replay cache (RFC 7523 §3 point 7) and the sealed `client_secret_jwt` secrets.
    pub store: &'a Store,
    /// Opens sealed client secrets.
    pub master: &'a MasterKey,
    /// Fetches and caches clients' `jwks_uri` documents.
    pub keys: &'a ClientKeyResolver,
    /// The URL of the endpoint the request was sent to, as this server publishes it (e.g.
    /// `{issuer}/introspect`, or its mutual-TLS alias); an accepted `aud`.
    pub endpoint_url: &'a str,
    /// The current time, seconds since the epoch.
    pub now: i64,
}

/// Authenticates the client as [`authenticate_client`] does and, for a JWT assertion
/// (RFC 7523 §2.2), checks it: the client registered `private_key_jwt` or `client_secret_jwt`;
/// the JWS verifies with one of its keys or its secret under an algorithm of that method (never
/// `none`, RFC 8725 §3.1) and its `token_endpoint_auth_signing_alg`, if registered; `iss` and
/// `sub` are the `client_id` (RFC 7523 §3 points 1–2, OIDC Core §9); `aud` names this server
/// ([`accepted_audience`]); `exp` is present, not past and at most
/// [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `nbf` and `iat` not in the future (points 4–6, with
/// [`ASSERTION_LEEWAY_SECS`]); `jti` is present (OIDC Core §9) and seen by no node before: it is
/// remembered in the shared replay cache until `exp` (point 7). Every failure is
/// `invalid_client` (RFC 7521 §4.2.1).
pub async fn authenticate<'a>(
    snapshot: &'a TenantSnapshot,
    auth: &ClientAuthentication,
    cert: Option<&ClientCertificate>,
    check: &AssertionCheck<'_>,
) -> Result<&'a Arc<ClientRecord>, TokenError> {
    let ClientAuthentication::Jwt {
        client_id,
        assertion,
    } = auth
    else {
        return authenticate_client(snapshot, auth, cert);
    };
    let client = snapshot
        .client(client_id)
        .ok_or(TokenError::InvalidClient)?;
    let jws = assertion.expose_secret();
    let verified = match client.options.token_endpoint_auth_method {
        Some(AuthMethod::PrivateKeyJwt) => verify_private_key_jwt(client, jws, check).await?,
        Some(AuthMethod::ClientSecretJwt) => verify_client_secret_jwt(client, jws, check).await?,
        _ => {
            return Err(assertion_error(
                "the client is not registered for JWT client authentication",
            ));
        }
    };
    let claims = verified
        .payload
        .as_object()
        .ok_or_else(|| assertion_error("the client assertion payload is not a JSON object"))?;
    let expires_at = check_claims(claims, client.client_id.as_ref(), &snapshot.issuer, check)?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = replay_key(client.client_id.as_ref(), jti);
    let tenant = client.tenant_id;
    match check
        .store
        .ephemeral()
        .remember(tenant, &key, expires_at)
        .await
    {
        Ok(true) => Ok(client),
        Ok(false) => Err(assertion_error(
            "the client assertion was already used (jti replayed)",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A refused assertion, `invalid_client` with `why` as description.
fn assertion_error(why: &str) -> TokenError {
    TokenError::InvalidClientAssertion(why.to_owned())
}

/// The claims of a compact JWS, **unverified**: only to learn which client it claims to be.
fn unverified_claims(jws: &str) -> Result<Map<String, Value>, TokenError> {
    let malformed = || assertion_error("the client assertion is not a compact JWS");
    if jws.len() > MAX_ASSERTION_LEN {
        return Err(assertion_error("the client assertion is too long"));
    }
    let mut parts = jws.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(malformed()),
    }
}

/// The header `alg`, if it is one of `algs` and, when the client registered one, its
/// `token_endpoint_auth_signing_alg` (OIDC Registration §2).
fn accepted_alg(
    client: &ClientRecord,
    header: &Value,
    algs: &'static [&'static str],
) -> Result<&'static str, TokenError> {
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let registered = client.options.token_endpoint_auth_signing_alg.as_deref();
    algs.iter()
        .copied()
        .find(|a| *a == alg && registered.is_none_or(|r| r == alg))
        .ok_or_else(|| {
            assertion_error("the client assertion's alg is not accepted for this client")
        })
}

/// `private_key_jwt`: the JWS verifies with one of the client's registered public keys. With a
/// `kid`, the key of that id (fetching a `jwks_uri` again for a rotated-in key); without, each
/// key in turn.
async fn verify_private_key_jwt(
    client: &ClientRecord,
    jws: &str,
    check: &AssertionCheck<'_>,
) -> Result<VerifiedJws, TokenError> {
    let header = foreign::unverified_header(jws)
        .map_err(|_| assertion_error("the client assertion is not a compact JWS"))?;
    let alg = accepted_alg(client, &header, PRIVATE_KEY_JWT_ALGS)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let set = client_jwks(check.keys, client, kid)
        .await
        .map_err(|e| match e {
            ClientKeysError::NoKeys => assertion_error("the client has registered no public keys"),
            other => {
                tracing::warn!(client_id = %client.client_id, error = %other, "client keys unavailable");
                TokenError::InvalidClientAssertion(other.to_string())
            }
        })?;
    let candidates: Vec<&Value> = keys_of(&set)
        .filter(|k| kid.is_none_or(|kid| k.get("kid").and_then(Value::as_str) == Some(kid)))
        .take(MAX_CANDIDATE_KEYS)
        .collect();
    if candidates.is_empty() {
        return Err(assertion_error(if kid.is_some() {
            "no registered key of the client has the assertion's kid"
        } else {
            "the client has registered no public keys"
        }));
    }
    // A key of another type or algorithm fails like a wrong signature: the client learns only
    // that none of its keys verified.
    candidates
        .into_iter()
        .find_map(|key| foreign::verify_with_jwk(jws, key, &[alg]).ok())
        .ok_or_else(|| {
            assertion_error(
                "the client assertion's signature does not verify with the client's keys",
            )
        })
}

/// `client_secret_jwt`: the JWS is an HMAC (RFC 7518 §3.2) keyed with the octets of the client
/// secret (OIDC Core §9), which is kept sealed under the master key for exactly this.
async fn verify_client_secret_jwt(
    client: &ClientRecord,
    jws: &str,
    check: &AssertionCheck<'_>,
) -> Result<VerifiedJws, TokenError> {
    let malformed = || assertion_error("the client assertion is not a compact JWS");
    let header = foreign::unverified_header(jws).map_err(|_| malformed())?;
    if header.get("crit").is_some() {
        return Err(assertion_error(
            "the client assertion has an unsupported critical header",
        ));
    }
    let alg = accepted_alg(client, &header, CLIENT_SECRET_JWT_ALGS)?;
    let digest = match alg {
        "HS256" => MessageDigest::sha256(),
        "HS384" => MessageDigest::sha384(),
        _ => MessageDigest::sha512(),
    };
    let (signing_input, signature) = jws.rsplit_once('.').ok_or_else(malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    let sealed = clients::sealed_secret(check.store.conn(), client.tenant_id, &client.client_id)
        .await?
        .ok_or_else(|| {
            tracing::warn!(client_id = %client.client_id, "client_secret_jwt client has no sealed secret");
            assertion_error("the client has no secret usable for client_secret_jwt")
        })?;
    let secret = Zeroizing::new(
        check
            .master
            .open(
                &sealed,
                &clients::sealed_secret_aad(client.tenant_id, &client.client_id),
            )
            .map_err(|e| TokenError::Unexpected(anyhow::Error::new(e).context("client secret")))?,
    );
    let mac = hmac(digest, &secret, signing_input.as_bytes())
        .map_err(|e| TokenError::Unexpected(anyhow::Error::new(e).context("HMAC")))?;
    if !bool::from(mac.ct_eq(&signature)) {
        return Err(assertion_error(
            "the client assertion's signature does not verify with the client secret",
        ));
    }
    let payload = signing_input
        .split_once('.')
        .and_then(|(_, p)| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(malformed)?;
    Ok(VerifiedJws { header, payload })
}

/// HMAC of `data` under `key` with `digest`.
fn hmac(
    digest: MessageDigest,
    key: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = PKey::hmac(key)?;
    let mut signer = Signer::new(digest, &key)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

/// Whether `aud` identifies this server (RFC 7523 §3 point 3, compared as simple strings,
/// RFC 3986 §6.2.1): the issuer identifier, which draft-ietf-oauth-rfc7523bis (§4) makes the
/// value clients should send; the token endpoint URL, which RFC 7523 §3 allows and OIDC Core §9
/// recommends; or the URL of the endpoint the request was sent to (its introspection,
/// revocation or PAR endpoint, which rfc7523bis lets servers keep accepting for
/// interoperability, and RFC 9126 §2 names for PAR).
pub fn accepted_audience(aud: &str, issuer: &str, endpoint_url: &str) -> bool {
    aud == issuer
        || aud == endpoint_url
        || aud
            .strip_prefix(issuer)
            .is_some_and(|rest| rest == "/token")
}

/// Checks the claims of a verified assertion (RFC 7523 §3) and returns until when its `jti`
/// must be remembered.
fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    issuer: &str,
    check: &AssertionCheck<'_>,
) -> Result<i64, TokenError> {
    let now = check.now;
    if claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err(assertion_error(
            "the client assertion's iss must be the client_id",
        ));
    }
    if claims.get("sub").and_then(Value::as_str) != Some(client_id) {
        return Err(assertion_error(
            "the client assertion's sub must be the client_id",
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences
        .iter()
        .any(|a| accepted_audience(a, issuer, check.endpoint_url))
    {
        return Err(assertion_error(
            "the client assertion's aud must be this server's issuer or token endpoint URL",
        ));
    }
    let exp = numeric_date(claims.get("exp"))
        .ok_or_else(|| assertion_error("the client assertion has no valid exp"))?;
    if exp <= now.saturating_sub(ASSERTION_LEEWAY_SECS) {
        return Err(assertion_error("the client assertion has expired"));
    }
    if exp > now.saturating_add(MAX_ASSERTION_LIFETIME_SECS + ASSERTION_LEEWAY_SECS) {
        return Err(assertion_error(
            "the client assertion's exp is too far in the future (at most 10 minutes)",
        ));
    }
    for (name, why) in [
        ("nbf", "the client assertion is not valid yet (nbf)"),
        ("iat", "the client assertion was issued in the future (iat)"),
    ] {
        match claims.get(name) {
            None => {}
            Some(v) => match numeric_date(Some(v)) {
                Some(t) if t <= now.saturating_add(ASSERTION_LEEWAY_SECS) => {}
                Some(_) => return Err(assertion_error(why)),
                None => {
                    return Err(assertion_error(&format!(
                        "the client assertion's {name} is not a NumericDate"
                    )));
                }
            },
        }
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(assertion_error(
            "the client assertion needs a jti of at most 256 characters (OIDC Core §9)",
        ));
    }
    // Remembered until the assertion could no longer pass the exp check anyway.
    Ok(exp.saturating_add(ASSERTION_LEEWAY_SECS))
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds; fractions are truncated.
fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let v = value?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// The replay-cache key of an assertion: lowercase hex SHA-256 of a label, the client id and
/// the `jti`, so ids are scoped to the client and the stored key has a fixed length.
fn replay_key(client_id: &str, jti: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"client-assertion:");
    hasher.update(client_id.as_bytes());
    hasher.update(b":");
    hasher.update(jti.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtls::TrustedClientCas;
    use crate::mtls::tests::{cert, key};
    use openssl::x509::X509;
    use serde_json::json;
    use tessera_core::secret::sha256_hex;
    use tessera_core::{ClientId, ClientOptions, ScopeSet, SigningAlg, TenantId, TokenFormat};

    const DN: &str = "CN=rp.example.com,O=Example,C=SE";

    fn record(client_type: ClientType, options: ClientOptions) -> ClientRecord {
        ClientRecord {
            tenant_id: TenantId::new(),
            client_id: ClientId::generate(),
            name: "RP".to_owned(),
            client_type,
            secret_hash: (client_type == ClientType::Confidential).then(|| sha256_hex("s3cret")),
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
            options,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn tls_client(dn: Option<&str>) -> ClientRecord {
        record(
            ClientType::Confidential,
            ClientOptions {
                token_endpoint_auth_method: Some(AuthMethod::TlsClientAuth),
                tls_client_auth_subject_dn: dn.map(str::to_owned),
                ..ClientOptions::default()
            },
        )
    }

    fn self_signed_client(registered: &[&X509]) -> ClientRecord {
        let keys: Vec<_> = registered
            .iter()
            .map(|c| {
                json!({"kty": "EC", "x5c": [
                    base64::engine::general_purpose::STANDARD.encode(c.to_der().unwrap())
                ]})
            })
            .collect();
        record(
            ClientType::Confidential,
            ClientOptions {
                token_endpoint_auth_method: Some(AuthMethod::SelfSignedTlsClientAuth),
                jwks: Some(json!({ "keys": keys })),
                ..ClientOptions::default()
            },
        )
    }

    fn id_only() -> ClientAuthentication {
        ClientAuthentication::None {
            client_id: "c".into(),
        }
    }

    fn basic(secret: &str) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: "c".into(),
            secret: SecretString::from(secret.to_owned()),
        }
    }

    fn post(secret: &str) -> ClientAuthentication {
        ClientAuthentication::Post {
            client_id: "c".into(),
            secret: SecretString::from(secret.to_owned()),
        }
    }

    /// A CA and a certificate it issued for `subject` (DER order), read as the TLS layer would.
    fn issued(subject: &[(&str, &str)]) -> (ClientCertificate, TrustedClientCas) {
        let ca_key = key();
        let ca = cert(&[("CN", "Client CA")], &ca_key, None, true);
        let leaf = cert(subject, &key(), Some((&ca, &ca_key)), false);
        let cas = TrustedClientCas::from_pem(&ca.to_pem().unwrap()).unwrap();
        let c = ClientCertificate::from_der_chain(vec![leaf.to_der().unwrap()], Some(&cas));
        (c.unwrap(), cas)
    }

    const SUBJECT: &[(&str, &str)] = &[("C", "SE"), ("O", "Example"), ("CN", "rp.example.com")];

    #[test]
    fn tls_client_auth_needs_a_verified_chain_and_the_registered_subject() {
        let (good, _) = issued(SUBJECT);
        assert!(good.chain_verified);
        let client = tls_client(Some(DN));
        assert!(client_authenticated(&client, &id_only(), Some(&good)));
        // Subject DNs compare normalised (RFC 8705 §2.1.2).
        let lax = tls_client(Some("cn=RP.example.com, o=example, c=se"));
        assert!(client_authenticated(&lax, &id_only(), Some(&good)));
        // Another subject, an unverified chain, no certificate, no registered DN: refused.
        let (other, _) = issued(&[("C", "SE"), ("O", "Example"), ("CN", "evil.example.com")]);
        assert!(!client_authenticated(&client, &id_only(), Some(&other)));
        let unverified = ClientCertificate {
            chain_verified: false,
            ..good.clone()
        };
        assert!(!client_authenticated(
            &client,
            &id_only(),
            Some(&unverified)
        ));
        assert!(!client_authenticated(&client, &id_only(), None));
        assert!(!client_authenticated(
            &tls_client(None),
            &id_only(),
            Some(&good)
        ));
        // The secret is not an alternative once tls_client_auth is registered.
        assert!(!client_authenticated(
            &client,
            &basic("s3cret"),
            Some(&good)
        ));
        assert!(!client_authenticated(&client, &post("s3cret"), Some(&good)));
    }

    #[test]
    fn self_signed_tls_client_auth_needs_a_registered_certificate() {
        let k = key();
        let mine = cert(&[("CN", "rp")], &k, None, false);
        let other = cert(&[("CN", "rp")], &key(), None, false);
        let presented =
            ClientCertificate::from_der_chain(vec![mine.to_der().unwrap()], None).unwrap();
        let impostor =
            ClientCertificate::from_der_chain(vec![other.to_der().unwrap()], None).unwrap();
        // No chain validation for self-signed certificates (RFC 8705 §2.2).
        assert!(!presented.chain_verified);
        let client = self_signed_client(&[&other, &mine]);
        assert!(client_authenticated(&client, &id_only(), Some(&presented)));
        let client = self_signed_client(&[&mine]);
        assert!(!client_authenticated(&client, &id_only(), Some(&impostor)));
        assert!(!client_authenticated(&client, &id_only(), None));
        assert!(!client_authenticated(
            &client,
            &basic("s3cret"),
            Some(&presented)
        ));
        let no_jwks = record(
            ClientType::Confidential,
            ClientOptions {
                token_endpoint_auth_method: Some(AuthMethod::SelfSignedTlsClientAuth),
                ..ClientOptions::default()
            },
        );
        assert!(!client_authenticated(
            &no_jwks,
            &id_only(),
            Some(&presented)
        ));
    }

    #[test]
    fn a_registered_secret_method_refuses_the_other_ones() {
        let (cert, _) = issued(SUBJECT);
        let with = |m: AuthMethod| {
            record(
                ClientType::Confidential,
                ClientOptions {
                    token_endpoint_auth_method: Some(m),
                    tls_client_auth_subject_dn: Some(DN.into()),
                    ..ClientOptions::default()
                },
            )
        };
        let basic_only = with(AuthMethod::ClientSecretBasic);
        assert!(client_authenticated(&basic_only, &basic("s3cret"), None));
        assert!(!client_authenticated(&basic_only, &post("s3cret"), None));
        assert!(!client_authenticated(&basic_only, &basic("wrong"), None));
        assert!(!client_authenticated(&basic_only, &id_only(), Some(&cert)));
        let post_only = with(AuthMethod::ClientSecretPost);
        assert!(client_authenticated(&post_only, &post("s3cret"), None));
        assert!(!client_authenticated(&post_only, &basic("s3cret"), None));
    }

    #[test]
    fn without_a_registered_method_secrets_and_public_clients_work_as_before() {
        let (cert, _) = issued(SUBJECT);
        let confidential = record(ClientType::Confidential, ClientOptions::default());
        assert!(client_authenticated(&confidential, &basic("s3cret"), None));
        assert!(client_authenticated(
            &confidential,
            &post("s3cret"),
            Some(&cert)
        ));
        assert!(!client_authenticated(&confidential, &post("nope"), None));
        // A certificate alone does not authenticate a client that did not register mTLS.
        assert!(!client_authenticated(
            &confidential,
            &id_only(),
            Some(&cert)
        ));
        let public = record(ClientType::Public, ClientOptions::default());
        assert!(client_authenticated(&public, &id_only(), None));
        assert!(!client_authenticated(&public, &basic("s3cret"), None));
        let none = record(
            ClientType::Public,
            ClientOptions {
                token_endpoint_auth_method: Some(AuthMethod::None),
                ..ClientOptions::default()
            },
        );
        assert!(client_authenticated(&none, &id_only(), None));
        let confidential_none = record(
            ClientType::Confidential,
            ClientOptions {
                token_endpoint_auth_method: Some(AuthMethod::None),
                ..ClientOptions::default()
            },
        );
        assert!(!client_authenticated(&confidential_none, &id_only(), None));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%2Bcret")
        );
        let (id, secret) = parse_basic(&header).unwrap();
        assert_eq!(id, "my:id");
        assert_eq!(secret.expose_secret(), "s+cret");
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
    }

    #[test]
    fn two_methods_in_one_request_are_refused() {
        let mut req = crate::parse_token_form(b"client_id=a&client_secret=b").unwrap();
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a:b")
        );
        assert!(matches!(
            ClientAuthentication::from_request(Some(&header), &mut req),
            Err(TokenError::InvalidRequest(_))
        ));
    }

    #[test]
    fn an_assertion_audience_is_the_issuer_the_token_endpoint_or_the_endpoint_called() {
        let iss = "https://op.example.com/t/acme";
        let here = "https://op.example.com/t/acme/introspect";
        assert!(accepted_audience(iss, iss, here));
        assert!(accepted_audience(&format!("{iss}/token"), iss, here));
        assert!(accepted_audience(here, iss, here));
        assert!(!accepted_audience(&format!("{iss}/revoke"), iss, here));
        assert!(!accepted_audience(&format!("{iss}/"), iss, here));
        assert!(!accepted_audience(
            "https://op.example.com/t/acme2",
            iss,
            here
        ));
        assert!(!accepted_audience(
            "https://op.example.com/t/acme2/token",
            iss,
            here
        ));
    }

    fn assertion_form(extra: &str) -> TokenRequest {
        let jwt = format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"sub":"c1","iss":"c1"}"#)
        );
        let body = format!(
            "client_assertion_type={}&client_assertion={jwt}{extra}",
            CLIENT_ASSERTION_TYPE_JWT_BEARER.replace(':', "%3A")
        );
        crate::parse_token_form(body.as_bytes()).unwrap()
    }

    #[test]
    fn an_assertion_names_its_client_by_sub_and_comes_alone() {
        let auth = ClientAuthentication::from_request(None, &mut assertion_form("")).unwrap();
        assert!(auth.is_assertion());
        assert_eq!(auth.client_id(), "c1");
        assert!(!auth.used_header());
        assert!(
            ClientAuthentication::from_request(None, &mut assertion_form("&client_id=c1")).is_ok()
        );
        assert!(matches!(
            ClientAuthentication::from_request(None, &mut assertion_form("&client_id=c2")),
            Err(TokenError::InvalidClientAssertion(_))
        ));
        // RFC 6749 §2.3: one method per request.
        assert!(matches!(
            ClientAuthentication::from_request(None, &mut assertion_form("&client_secret=x")),
            Err(TokenError::InvalidRequest(_))
        ));
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("c1:b")
        );
        assert!(matches!(
            ClientAuthentication::from_request(Some(&header), &mut assertion_form("")),
            Err(TokenError::InvalidRequest(_))
        ));
        // RFC 7521 §4.2: the type and the assertion go together.
        let mut half = crate::parse_token_form(b"client_assertion=a.b.c").unwrap();
        assert!(matches!(
            ClientAuthentication::from_request(None, &mut half),
            Err(TokenError::InvalidRequest(_))
        ));
    }

    mod assertions {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        use openssl::bn::{BigNum, BigNumContext};
        use openssl::ec::{EcGroup, EcKey};
        use openssl::nid::Nid;
        use tessera_core::{Clock, KeyState, SigningAlg, TenantSlug, TenantStatus};
        use tessera_keys::{KeySet, generate_key_pair};
        use tessera_store::{PoolSettings, TenantRecord, tenants};

        use super::*;

        const ISSUER: &str = "https://op.example.com/t/acme";

        struct Setup {
            store: Store,
            master: MasterKey,
            keys: ClientKeyResolver,
            snapshot: TenantSnapshot,
            signing: EncodingKey,
            pkj: String,
            csj: String,
        }

        async fn setup() -> Setup {
            let pool = PoolSettings {
                max_connections: 1,
                acquire_timeout: Duration::from_secs(30),
            };
            let store = Store::connect("sqlite::memory:", &pool).await.unwrap();
            store.migrate().await.unwrap();
            let now = Clock.now();
            let tenant = TenantRecord {
                id: TenantId::new(),
                slug: TenantSlug::parse("acme").unwrap(),
                name: "Acme".to_owned(),
                status: TenantStatus::Active,
                signing_alg: SigningAlg::Es256,
                is_system: false,
                access_token_ttl: 300,
                key_rotation_interval: 86_400,
                keys_rotate_at: now + 86_400,
                settings: Default::default(),
                created_at: 0,
                updated_at: 0,
            };
            tenants::insert(store.conn(), &tenant).await.unwrap();
            let master = MasterKey::generate();
            let key =
                generate_key_pair(&master, tenant.id, SigningAlg::Es256, KeyState::Active, now)
                    .unwrap();
            let keyset = KeySet::build(&master, &[key], SigningAlg::Es256, now).unwrap();
            // The client's P-256 key.
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let ec = EcKey::generate(&group).unwrap();
            let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            ec.public_key()
                .affine_coordinates(&group, &mut x, &mut y, &mut BigNumContext::new().unwrap())
                .unwrap();
            let c = |n: &BigNum| URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap());
            let jwk = json!({"kty": "EC", "kid": "k1", "crv": "P-256", "x": c(&x), "y": c(&y)});
            let pem = PKey::from_ec_key(ec)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap();
            let mut pkj = record(
                ClientType::Confidential,
                ClientOptions {
                    token_endpoint_auth_method: Some(AuthMethod::PrivateKeyJwt),
                    jwks: Some(json!({ "keys": [jwk] })),
                    ..ClientOptions::default()
                },
            );
            pkj.tenant_id = tenant.id;
            let mut csj = record(
                ClientType::Confidential,
                ClientOptions {
                    token_endpoint_auth_method: Some(AuthMethod::ClientSecretJwt),
                    ..ClientOptions::default()
                },
            );
            csj.tenant_id = tenant.id;
            clients::insert(store.conn(), &csj).await.unwrap();
            let sealed = master
                .seal(
                    b"s3cret",
                    &clients::sealed_secret_aad(tenant.id, &csj.client_id),
                )
                .unwrap();
            clients::set_sealed_secret(store.conn(), tenant.id, &csj.client_id, Some(&sealed))
                .await
                .unwrap();
            let (pkj_id, csj_id) = (pkj.client_id.to_string(), csj.client_id.to_string());
            let snapshot = TenantSnapshot::new(
                tenant,
                ISSUER.to_owned(),
                vec![pkj, csj],
                vec![],
                keyset,
                BTreeMap::new(),
            );
            Setup {
                store,
                master,
                keys: ClientKeyResolver::new(false).unwrap(),
                snapshot,
                signing: EncodingKey::from_ec_pem(&pem).unwrap(),
                pkj: pkj_id,
                csj: csj_id,
            }
        }

        fn claims(client: &str, extra: Value) -> Value {
            let mut c = json!({
                "iss": client, "sub": client, "aud": ISSUER,
                "jti": uuid::Uuid::new_v4().to_string(), "exp": Clock.now() + 60,
            });
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        }

        async fn run(s: &Setup, jwt: String) -> Result<(), TokenError> {
            let claimed = unverified_claims(&jwt)?;
            let auth = ClientAuthentication::Jwt {
                client_id: claimed["sub"].as_str().unwrap_or_default().to_owned(),
                assertion: SecretString::from(jwt),
            };
            let check = AssertionCheck {
                store: &s.store,
                master: &s.master,
                keys: &s.keys,
                endpoint_url: &format!("{ISSUER}/token"),
                now: Clock.now(),
            };
            authenticate(&s.snapshot, &auth, None, &check)
                .await
                .map(|_| ())
        }

        fn es256(s: &Setup, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(&header, claims, &s.signing).unwrap()
        }

        fn hs(s: &Setup, alg: Algorithm, secret: &[u8], claims: &Value) -> String {
            let _ = s;
            jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
                .unwrap()
        }

        #[tokio::test]
        async fn private_key_jwt_verifies_once_per_jti() {
            let s = setup().await;
            let good = es256(&s, &claims(&s.pkj, json!({})));
            run(&s, good.clone()).await.unwrap();
            let replay = run(&s, good).await.unwrap_err().to_string();
            assert!(replay.contains("jti"), "{replay}");
            for (why, extra) in [
                ("aud", json!({"aud": "https://other.example"})),
                ("expired", json!({"exp": Clock.now() - 600})),
                ("far exp", json!({"exp": Clock.now() + 3600})),
                ("nbf", json!({"nbf": Clock.now() + 600})),
                ("iss", json!({"iss": s.csj})),
                ("jti", json!({"jti": ""})),
            ] {
                let jwt = es256(&s, &claims(&s.pkj, extra));
                assert!(
                    matches!(
                        run(&s, jwt).await,
                        Err(TokenError::InvalidClientAssertion(_))
                    ),
                    "{why}"
                );
            }
            // HS256 keyed with anything is not accepted for private_key_jwt.
            let jwt = hs(&s, Algorithm::HS256, b"s3cret", &claims(&s.pkj, json!({})));
            assert!(run(&s, jwt).await.is_err());
        }

        #[tokio::test]
        async fn client_secret_jwt_verifies_with_the_sealed_secret() {
            let s = setup().await;
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let jwt = hs(&s, alg, b"s3cret", &claims(&s.csj, json!({})));
                run(&s, jwt).await.unwrap();
            }
            let wrong = hs(&s, Algorithm::HS256, b"guess", &claims(&s.csj, json!({})));
            assert!(matches!(
                run(&s, wrong).await,
                Err(TokenError::InvalidClientAssertion(_))
            ));
            // An asymmetric assertion for a client_secret_jwt client is refused.
            let jwt = es256(&s, &claims(&s.csj, json!({})));
            assert!(run(&s, jwt).await.is_err());
            // A sealed secret bound to another client does not open for this one.
            let other = ClientId::generate();
            let sealed = s
                .master
                .seal(
                    b"s3cret",
                    &clients::sealed_secret_aad(s.snapshot.tenant.id, &other),
                )
                .unwrap();
            let id = ClientId::parse(&s.csj).unwrap();
            clients::set_sealed_secret(s.store.conn(), s.snapshot.tenant.id, &id, Some(&sealed))
                .await
                .unwrap();
            let jwt = hs(&s, Algorithm::HS256, b"s3cret", &claims(&s.csj, json!({})));
            assert!(matches!(run(&s, jwt).await, Err(TokenError::Unexpected(_))));
        }
    }
}
