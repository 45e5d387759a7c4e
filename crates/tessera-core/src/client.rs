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
    /// A JWT assertion signed with one of the client's registered public keys (RFC 7523 §2.2,
    /// OIDC Core §9).
    PrivateKeyJwt,
    /// A JWT assertion MACed with the client secret (RFC 7523 §2.2, OIDC Core §9).
    ClientSecretJwt,
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
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
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
            "private_key_jwt" => Self::PrivateKeyJwt,
            "client_secret_jwt" => Self::ClientSecretJwt,
            _ => return None,
        })
    }

    /// Whether the method authenticates with a TLS client certificate.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Whether the method authenticates with a JWT assertion (RFC 7523 §2.2).
    pub fn is_jwt(self) -> bool {
        matches!(self, Self::PrivateKeyJwt | Self::ClientSecretJwt)
    }
}

/// JWS algorithms accepted for `private_key_jwt` assertions (RFC 7523 §2.2): the asymmetric ones
/// `tessera_keys::foreign` verifies. Never `none` or a MAC (RFC 8725 §3.1–3.2).
pub const PRIVATE_KEY_JWT_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// JWS algorithms accepted for `client_secret_jwt` assertions: HMAC keyed with the client
/// secret (RFC 7518 §3.2, OIDC Core §9).
pub const CLIENT_SECRET_JWT_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

/// Longest `jwks_uri` accepted, in bytes.
pub const MAX_JWKS_URI_LEN: usize = 2048;

/// Parses a client's `jwks_uri` (RFC 7591 §2): an absolute `https` URL without fragment or
/// credentials, or plain `http` for a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), which
/// never leaves the machine. The error says what is wrong, without echoing the value.
pub fn parse_jwks_uri(raw: &str) -> Result<url::Url, &'static str> {
    if raw.len() > MAX_JWKS_URI_LEN {
        return Err("jwks_uri is too long");
    }
    let url = url::Url::parse(raw).map_err(|_| "jwks_uri must be an absolute URL")?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("jwks_uri must not carry a fragment or credentials");
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err("jwks_uri must be an https URL (plain http only for a loopback host)"),
    }
}

/// Whether `url` names a loopback host: `localhost` or a loopback IP literal.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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
    /// Where the client publishes its public keys (RFC 7591 §2 `jwks_uri`), for
    /// `private_key_jwt`; an absolute `https` URL (plain `http` only for loopback hosts).
    /// Exclusive with `jwks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one JWS algorithm the client signs its authentication assertions with (OIDC
    /// Registration §2 `token_endpoint_auth_signing_alg`); `None` accepts every supported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
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
    /// Authorization requests must be pushed (RFC 9126 §6
    /// `require_pushed_authorization_requests`): `/authorize` accepts only a `request_uri` from
    /// the pushed authorization request endpoint.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// The one JWS algorithm the client's request objects must use (OIDC Registration §2
    /// `request_object_signing_alg`); `none` means they are sent unsigned, and is the only way
    /// an unsigned request object is accepted. `None` accepts every supported asymmetric one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// Authorization requests must come as a signed request object, by value or pushed
    /// (RFC 9101 §10.5 `require_signed_request_object`); its `exp` is then required.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_request_object: bool,
    /// Where logout tokens are POSTed when a session the client took part in ends (OpenID
    /// Connect Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri`); an absolute `https` URL
    /// (plain `http` only for a loopback host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens must carry `sid` (Back-Channel Logout 1.0 §2.2
    /// `backchannel_logout_session_required`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_session_required: bool,
    /// The page the signed-out page loads in an iframe (OpenID Connect Front-Channel Logout 1.0
    /// §2 `frontchannel_logout_uri`); an absolute `https` URL (plain `http` only for loopback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// `iss` and `sid` are added to the `frontchannel_logout_uri` (Front-Channel Logout 1.0 §2
    /// `frontchannel_logout_session_required`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub frontchannel_logout_session_required: bool,
    /// `public` (the user id) or `pairwise` (one per sector) `sub` values (OIDC Core §8,
    /// OIDC Registration §2 `subject_type`).
    #[serde(skip_serializing_if = "crate::SubjectType::is_public")]
    pub subject_type: crate::SubjectType,
    /// A document listing the client's redirect URIs whose host is the client's sector for
    /// pairwise subjects (OIDC Core §8.1, OIDC Registration §2 `sector_identifier_uri`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// Userinfo responses are a JWS signed with the tenant key of this algorithm (OIDC
    /// Registration §2 `userinfo_signed_response_alg`, OIDC Core §5.3.2); `None`: plain JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<crate::SigningAlg>,
    /// ID tokens are encrypted (signed, then encrypted: a nested JWT) to the client's key with
    /// this JWE key-management algorithm (OIDC Registration §2
    /// `id_token_encrypted_response_alg`, OIDC Core §10.2); `None`: signed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<crate::JweAlg>,
    /// Content encryption of encrypted ID tokens (`id_token_encrypted_response_enc`); only
    /// with the `alg`, which alone means `A128CBC-HS256` (OIDC Registration §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<crate::JweEnc>,
    /// Userinfo responses are encrypted to the client's key with this JWE key-management
    /// algorithm (OIDC Registration §2 `userinfo_encrypted_response_alg`, OIDC Core §5.3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<crate::JweAlg>,
    /// Content encryption of encrypted userinfo responses (`userinfo_encrypted_response_enc`);
    /// only with the `alg`, which alone means `A128CBC-HS256` (OIDC Registration §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<crate::JweEnc>,
    /// Set by the server, never by an administrator, on a client whose `client_id` is the URL
    /// of its Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document-02):
    /// when the document was fetched and until when it is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_document: Option<MetadataDocumentState>,
}

/// When a client's metadata document (draft-ietf-oauth-client-id-metadata-document-02 §4) was
/// fetched, and when it must be fetched again (§5.2), Unix seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataDocumentState {
    /// When the document was last fetched and validated.
    pub fetched_at: i64,
    /// When it is stale and fetched again on the next use.
    pub expires_at: i64,
}

/// Parses a client's `backchannel_logout_uri` or `frontchannel_logout_uri` (Back-Channel Logout
/// 1.0 §2.2, Front-Channel Logout 1.0 §2): an absolute `https` URL without fragment or
/// credentials, or plain `http` for a loopback host. The error names the field, not the value.
pub fn parse_logout_uri(field: &'static str, raw: &str) -> Result<url::Url, String> {
    let bad = |why: &str| Err(format!("{field} {why}"));
    if raw.len() > MAX_JWKS_URI_LEN {
        return bad("is too long");
    }
    let Ok(url) = url::Url::parse(raw) else {
        return bad("must be an absolute URL");
    };
    // Back-Channel §2.2 / Front-Channel §2: no fragment component.
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a fragment or credentials");
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => bad("must be an https URL (plain http only for a loopback host)"),
    }
}

/// JWS algorithms accepted for signed request objects (RFC 9101 §6.1): the asymmetric ones
/// `tessera_keys::foreign` verifies. `none` is separate (only where the client registered it);
/// MACs are refused because client secrets are stored hashed.
pub const REQUEST_OBJECT_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

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
        for m in [AuthMethod::PrivateKeyJwt, AuthMethod::ClientSecretJwt] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
            assert!(m.is_jwt() && !m.is_tls());
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
    }

    #[test]
    fn logout_uri_is_https_or_loopback_http() {
        let p = |u| parse_logout_uri("backchannel_logout_uri", u);
        assert!(p("https://rp.example.com/logout?x=1").is_ok());
        assert!(p("http://127.0.0.1:8080/logout").is_ok());
        assert!(p("http://rp.example.com/logout").is_err());
        assert!(p("https://rp.example.com/logout#f").is_err());
        assert!(p("logout").is_err());
        assert!(p("javascript:alert(1)").is_err());
    }

    #[test]
    fn jwks_uri_is_https_or_loopback_http() {
        assert!(parse_jwks_uri("https://rp.example.com/jwks.json").is_ok());
        assert!(parse_jwks_uri("http://127.0.0.1:8080/jwks").is_ok());
        assert!(parse_jwks_uri("http://localhost/jwks").is_ok());
        assert!(parse_jwks_uri("http://[::1]:9/jwks").is_ok());
        assert!(parse_jwks_uri("http://rp.example.com/jwks").is_err());
        assert!(parse_jwks_uri("http://10.0.0.1/jwks").is_err());
        assert!(parse_jwks_uri("/jwks").is_err());
        assert!(parse_jwks_uri("https://rp.example.com/jwks#x").is_err());
        assert!(parse_jwks_uri("https://user:pw@rp.example.com/jwks").is_err());
        assert!(parse_jwks_uri("ftp://rp.example.com/jwks").is_err());
    }
}
