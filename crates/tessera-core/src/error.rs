//! The OAuth 2.0 / OpenID Connect error codes, one enum so a typo cannot reach the wire.

use serde::{Deserialize, Serialize};

/// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8628 §3.5 and
/// OIDC Core §3.1.2.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// The request is missing, repeats or malforms a parameter.
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2); answered with 401.
    InvalidClient,
    /// The grant or refresh token is invalid, expired, revoked or issued to another client.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported by the server.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown or exceeds what the client may ask for.
    InvalidScope,
    /// The resource owner or server denied the request.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The server met an unexpected condition.
    ServerError,
    /// The server is temporarily unable to handle the request.
    TemporarilyUnavailable,
    /// The `resource` parameter is invalid (RFC 8707 §2).
    InvalidTarget,
    /// The access token is expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// The token lacks the scope the request needs (RFC 6750 §3.1).
    InsufficientScope,
    /// The token type cannot be revoked (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// The resource (tenant, client, key…) does not exist.
    NotFound,
    /// The resource already exists.
    Conflict,
    /// `prompt=none` but the user must sign in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` but the user must consent (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// `prompt=none` but the user must interact (OIDC Core §3.1.2.6).
    InteractionRequired,
    /// The `request` parameter is not supported (OIDC Core §3.1.2.6).
    RequestNotSupported,
    /// The `request_uri` parameter is not supported (OIDC Core §3.1.2.6).
    RequestUriNotSupported,
    /// The `registration` parameter is not supported (OIDC Core §3.1.2.6).
    RegistrationNotSupported,
    /// The DPoP proof is missing, malformed, stale, replayed or for another request
    /// (RFC 9449 §5, §7.1).
    InvalidDpopProof,
    /// The DPoP proof must carry the server-provided nonce (RFC 9449 §8, §9).
    UseDpopNonce,
    /// The user has not yet finished the device authorization (RFC 8628 §3.5).
    AuthorizationPending,
    /// The device polls faster than its interval, which grows by 5 s (RFC 8628 §3.5).
    SlowDown,
    /// The device code has expired (RFC 8628 §3.5).
    ExpiredToken,
    /// The `request_uri` is unknown, expired, used or another client's (RFC 9126 §4,
    /// RFC 9101 §6.2, OIDC Core §3.1.2.6).
    InvalidRequestUri,
    /// The request object is invalid: bad signature, claims or algorithm (RFC 9101 §6.1,
    /// OIDC Core §3.1.2.6).
    InvalidRequestObject,
    /// A registered redirect URI is invalid or not allowed (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// A client metadata value is invalid or not allowed (RFC 7591 §3.2.2).
    InvalidClientMetadata,
}

impl OAuthErrorCode {
    /// Every variant, for exhaustive tests and documentation.
    pub const ALL: [OAuthErrorCode; 31] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::InvalidTarget,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::UnsupportedTokenType,
        Self::NotFound,
        Self::Conflict,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InteractionRequired,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::RegistrationNotSupported,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
        Self::AuthorizationPending,
        Self::SlowDown,
        Self::ExpiredToken,
        Self::InvalidRequestUri,
        Self::InvalidRequestObject,
        Self::InvalidRedirectUri,
        Self::InvalidClientMetadata,
    ];

    /// The code as it travels on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_serde_and_matches_as_str() {
        for code in OAuthErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: OAuthErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
    }
}
