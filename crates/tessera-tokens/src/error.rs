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
            TokenError::InvalidClient => OAuthErrorCode::InvalidClient,
            TokenError::UnauthorizedClient(_) => OAuthErrorCode::UnauthorizedClient,
            TokenError::UnsupportedGrantType => OAuthErrorCode::UnsupportedGrantType,
            TokenError::InvalidScope(_) => OAuthErrorCode::InvalidScope,
            TokenError::InvalidTarget(_) => OAuthErrorCode::InvalidTarget,
            TokenError::InvalidGrant(_) => OAuthErrorCode::InvalidGrant,
            TokenError::InvalidDpopProof(_) => OAuthErrorCode::InvalidDpopProof,
            TokenError::UseDpopNonce => OAuthErrorCode::UseDpopNonce,
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
