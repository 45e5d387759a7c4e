//! Token issuance: client authentication at the token endpoint (RFC 6749 §2.3), the grant types
//! (client credentials, authorization code with PKCE, refresh with rotation), authorization
//! codes, token families, RFC 9068 JWT access tokens and OIDC ID tokens signed with the tenant's
//! keys, and verification of access tokens presented at userinfo. Knows nothing of HTTP:
//! `tessera-web` parses the request into a [`TokenRequest`] and renders [`TokenError`].

mod authorization_code;
mod bearer;
mod client_auth;
mod client_credentials;
mod code;
mod error;
mod family;
mod issuance;
pub mod pkce;
mod refresh;
mod request;

#[cfg(test)]
mod tests;

pub use authorization_code::exchange_code;
pub use bearer::{BearerError, UserAccessToken, userinfo, verify_access_token};
pub use client_auth::{ClientAuthentication, authenticate_client};
pub use client_credentials::{AccessTokenClaims, TokenResponse, issue_client_credentials};
pub use code::{CodeGrant, MAX_CODE_TTL_SECS, issue_code};
pub use error::TokenError;
pub use family::{
    OFFLINE_ACCESS, family_expiry, reason, revoke_families_of_client, revoke_families_of_session,
};
pub use issuance::{Issuance, token_hash};
pub use refresh::refresh_tokens;
pub use request::{MAX_BODY_BYTES, TokenRequest, parse_token_form};
