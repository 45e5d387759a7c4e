//! Client authentication at the token endpoint: `client_secret_basic` and `client_secret_post`
//! (RFC 6749 §2.3.1), `none` for public clients, and the mutual-TLS methods `tls_client_auth`
//! and `self_signed_tls_client_auth` (RFC 8705 §2). Secrets are compared as SHA-256 digests in
//! constant time; no slow KDF.

use std::sync::Arc;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use tessera_core::secret::verify_sha256_hex;
use tessera_core::{AuthMethod, ClientType};
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;

use crate::mtls::ClientCertificate;
use crate::{TokenError, TokenRequest};

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
}

impl ClientAuthentication {
    /// Works out the method from the `Authorization` header value (if any) and the body. More
    /// than one method in a request is refused (RFC 6749 §2.3).
    pub fn from_request(
        authorization: Option<&str>,
        req: &mut TokenRequest,
    ) -> Result<Self, TokenError> {
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

    /// Whether the client tried the `Authorization` header (then 401 needs `WWW-Authenticate`).
    pub fn used_header(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    /// The presented client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
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
}
