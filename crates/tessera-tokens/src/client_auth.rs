//! Client authentication at the token endpoint: `client_secret_basic` and `client_secret_post`
//! (RFC 6749 §2.3.1). Secrets are compared as SHA-256 digests in constant time; no slow KDF.

use std::sync::Arc;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use tessera_core::ClientType;
use tessera_core::secret::verify_sha256_hex;
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;

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
    /// Only `client_id` (public clients).
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

/// Authenticates the client against the tenant snapshot. Every failure is the same
/// `invalid_client`, whether the client is unknown or the secret wrong.
pub fn authenticate_client<'a>(
    snapshot: &'a TenantSnapshot,
    auth: &ClientAuthentication,
) -> Result<&'a Arc<ClientRecord>, TokenError> {
    let client = snapshot
        .client(auth.client_id())
        .ok_or(TokenError::InvalidClient)?;
    match (auth, client.client_type, client.secret_hash.as_deref()) {
        (
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
            ClientType::Confidential,
            Some(hash),
        ) => {
            if verify_sha256_hex(secret.expose_secret(), hash) {
                Ok(client)
            } else {
                Err(TokenError::InvalidClient)
            }
        }
        (ClientAuthentication::None { .. }, ClientType::Public, _) => Ok(client),
        _ => Err(TokenError::InvalidClient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
