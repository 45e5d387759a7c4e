//! Token issuance: client authentication at the token endpoint (RFC 6749 §2.3), the grant types,
//! and RFC 9068 JWT access tokens signed with the tenant's active key. Knows nothing of HTTP:
//! `tessera-web` parses the request into a [`TokenRequest`] and renders [`TokenError`].

mod client_auth;
mod client_credentials;
mod error;
mod request;

pub use client_auth::{ClientAuthentication, authenticate_client};
pub use client_credentials::{AccessTokenClaims, TokenResponse, issue_client_credentials};
pub use error::TokenError;
pub use request::{MAX_BODY_BYTES, TokenRequest, parse_token_form};
