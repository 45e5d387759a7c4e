//! Failures of the token endpoint (RFC 6749 §5.2, RFC 8707 §2).

use tessera_core::OAuthErrorCode;
use tessera_store::StoreError;

/// Failures of the token endpoint (RFC 6749 §5.2). Descriptions are safe to show to clients.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Missing, repeated or malformed parameter.
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed.
    #[error("client authentication failed")]
    InvalidClient,
    /// A client assertion (RFC 7523 §2.2) was refused; rendered as `invalid_client` (RFC 7521
    /// §4.2.1) with this description, which never holds secret material.
    #[error("{0}")]
    InvalidClientAssertion(String),
    /// The client may not use this grant.
    #[error("the client is not allowed to use the {0} grant")]
    UnauthorizedClient(&'static str),
    /// Unknown grant type.
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    /// Scope not allowed for this client or not defined.
    #[error("{0}")]
    InvalidScope(String),
    /// The code or refresh token is invalid, expired, revoked, already used, or was issued to
    /// another client or redirect URI (RFC 6749 §5.2); the description says which.
    #[error("{0}")]
    InvalidGrant(String),
    /// Bad `resource` indicator.
    #[error("{0}")]
    InvalidTarget(String),
    /// The DPoP proof is missing where required, malformed, or does not match (RFC 9449 §5).
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The DPoP proof must carry the nonce sent in `DPoP-Nonce` (RFC 9449 §8).
    #[error("the DPoP proof must carry the nonce the server provides")]
    UseDpopNonce,
    /// The user has not decided on the device code yet (RFC 8628 §3.5).
    #[error("the user has not yet completed the authorization")]
    AuthorizationPending,
    /// The device polled before its interval passed; it must now wait this many seconds
    /// between polls (RFC 8628 §3.5).
    #[error("polling too fast: wait at least {0} seconds between requests")]
    SlowDown(i64),
    /// The device code expired before it was redeemed (RFC 8628 §3.5).
    #[error("the device code has expired")]
    ExpiredToken,
    /// The user denied the device authorization (RFC 8628 §3.5).
    #[error("the user denied the authorization")]
    AccessDenied,
    /// The tenant has no active signing key (should not happen; keys are made with the tenant).
    #[error("no active signing key")]
    NoSigningKey,
    /// The database is unreachable; rendered as 503 `temporarily_unavailable`.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else; rendered as `server_error` without a description.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl TokenError {
    /// The wire error code.
    pub fn code(&self) -> OAuthErrorCode {
        match self {
            TokenError::InvalidRequest(_) => OAuthErrorCode::InvalidRequest,
            TokenError::InvalidClient | TokenError::InvalidClientAssertion(_) => {
                OAuthErrorCode::InvalidClient
            }
            TokenError::UnauthorizedClient(_) => OAuthErrorCode::UnauthorizedClient,
            TokenError::UnsupportedGrantType => OAuthErrorCode::UnsupportedGrantType,
            TokenError::InvalidScope(_) => OAuthErrorCode::InvalidScope,
            TokenError::InvalidTarget(_) => OAuthErrorCode::InvalidTarget,
            TokenError::InvalidGrant(_) => OAuthErrorCode::InvalidGrant,
            TokenError::InvalidDpopProof(_) => OAuthErrorCode::InvalidDpopProof,
            TokenError::UseDpopNonce => OAuthErrorCode::UseDpopNonce,
            TokenError::AuthorizationPending => OAuthErrorCode::AuthorizationPending,
            TokenError::SlowDown(_) => OAuthErrorCode::SlowDown,
            TokenError::ExpiredToken => OAuthErrorCode::ExpiredToken,
            TokenError::AccessDenied => OAuthErrorCode::AccessDenied,
            TokenError::Unavailable => OAuthErrorCode::TemporarilyUnavailable,
            TokenError::NoSigningKey | TokenError::Unexpected(_) => OAuthErrorCode::ServerError,
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            TokenError::Unavailable
        } else {
            TokenError::Unexpected(anyhow::Error::new(err).context("token store"))
        }
    }
}

impl TokenError {
    /// An `invalid_grant` with this description.
    pub fn invalid_grant(description: &str) -> Self {
        TokenError::InvalidGrant(description.to_owned())
    }
}
