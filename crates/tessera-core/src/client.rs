//! Per-client options beyond the core registration fields: how the client authenticates at the
//! token endpoint (RFC 8705 §2 adds the TLS methods), holder-of-key requirements (RFC 9449 §5,
//! RFC 8705 §3), its default resource (RFC 8707) and its token-exchange policy (RFC 8693).
//! Stored as one JSON document, so adding an option is not a schema change.

use serde::{Deserialize, Serialize};

/// `token_endpoint_auth_method` values (RFC 7591 §2, RFC 8705 §2.1.1, §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// `Authorization: Basic` with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The client secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A public client: no authentication.
    None,
    /// A CA-issued client certificate whose subject matches the registration (RFC 8705 §2.1).
    TlsClientAuth,
    /// A self-signed certificate registered in the client's `jwks` (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Parses a registered name.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "client_secret_basic" => Self::ClientSecretBasic,
            "client_secret_post" => Self::ClientSecretPost,
            "none" => Self::None,
            "tls_client_auth" => Self::TlsClientAuth,
            "self_signed_tls_client_auth" => Self::SelfSignedTlsClientAuth,
            _ => return None,
        })
    }

    /// Whether the method authenticates with a TLS client certificate.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }
}

/// Which token exchanges (RFC 8693) a client may perform. Absent: none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangePolicy {
    /// Audiences (resource server identifiers) the client may ask tokens for.
    pub audiences: Vec<String>,
    /// Accepted `subject_token_type` URNs (RFC 8693 §3), e.g.
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub subject_token_types: Vec<String>,
    /// Whether an `actor_token` may be sent (delegation, RFC 8693 §1.1); the issued token then
    /// carries the `act` claim.
    pub allow_delegation: bool,
}

/// Per-client options; every field has a safe default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// The one authentication method the client uses at the token endpoint; `None` means
    /// `client_secret_basic` or `client_secret_post` for a confidential client, `none` for a
    /// public one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// For `tls_client_auth`: the expected subject distinguished name of the certificate
    /// (RFC 8705 §2.1.2, RFC 4514 string form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// The client's public keys (RFC 7591 §2 `jwks`); for `self_signed_tls_client_auth` the
    /// certificates in their `x5c` are the ones accepted (RFC 8705 §2.2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Access tokens are bound to the client's certificate when it presents one over TLS
    /// (RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Every token request must carry a DPoP proof (RFC 9449 §5 `dpop_bound_access_tokens`).
    pub require_dpop: bool,
    /// Resource (RFC 8707) whose tokens the client gets when it names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_resource: Option<String>,
    /// Token-exchange permissions (RFC 8693); `None` forbids the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<ExchangePolicy>,
}

/// Token type URNs of RFC 8693 §3.
pub mod token_type {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_nothing_and_refuse_unknown_fields() {
        let o: ClientOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(o, ClientOptions::default());
        assert!(serde_json::from_str::<ClientOptions>(r#"{"nope":1}"#).is_err());
        let o: ClientOptions = serde_json::from_str(
            r#"{"token_endpoint_auth_method":"self_signed_tls_client_auth","require_dpop":true}"#,
        )
        .unwrap();
        assert_eq!(
            o.token_endpoint_auth_method,
            Some(AuthMethod::SelfSignedTlsClientAuth)
        );
        assert!(o.token_endpoint_auth_method.unwrap().is_tls());
        assert_eq!(
            AuthMethod::parse("tls_client_auth"),
            Some(AuthMethod::TlsClientAuth)
        );
    }
}
