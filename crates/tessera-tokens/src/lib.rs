//! Token issuance and token checks: client authentication at the token endpoint (RFC 6749 §2.3,
//! RFC 8705 mTLS), the grant types (client credentials, authorization code with PKCE, refresh with
//! rotation, token exchange RFC 8693, device authorization RFC 8628), authorization codes, token
//! families, access tokens by value
//! (RFC 9068 JWTs) or by reference (opaque handles stored hashed) for the resource server they are
//! for (RFC 8707), DPoP (RFC 9449) and certificate (RFC 8705) binding, OIDC ID tokens, and the
//! checks of presented tokens: userinfo, introspection (RFC 7662, RFC 9701) and revocation
//! (RFC 7009), and JWT client authentication (RFC 7523 §2.2) with the client keys it needs
//! ([`client_keys`]). Serves no HTTP: `tessera-web` parses requests into a [`TokenRequest`] and
//! renders [`TokenError`].

mod access;
mod authorization_code;
mod bearer;
mod client_auth;
mod client_credentials;
pub mod client_keys;
mod code;
mod device;
pub mod dpop;
mod encryption;
mod error;
mod exchange;
mod family;
mod front_channel;
mod introspection;
mod issuance;
pub mod logout;
pub mod mtls;
mod password;
pub mod pkce;
mod pushed;
mod refresh;
mod request;
pub mod request_object;
mod revocation;

#[cfg(test)]
mod tests;

pub use access::{
    AccessToken, Binding, Minted, MintedAccessToken, Target, mint, opaque_claims, resolve_target,
};
pub use authorization_code::exchange_code;
pub use bearer::{
    ActiveToken, BearerError, Presentation, UserAccessToken, UserInfo, inspect, is_jwt, userinfo,
    verify_access_token,
};
pub use client_auth::{
    AssertionCheck, CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientAuthentication, authenticate,
    authenticate_client,
};
pub use client_credentials::{AccessTokenClaims, TokenResponse, issue_client_credentials};
pub use code::{CodeGrant, MAX_CODE_TTL_SECS, issue_code};
pub use device::{
    DeviceAuthorization, SLOW_DOWN_STEP_SECS, USER_CODE_ALPHABET, USER_CODE_LEN, UserCode,
    approve_device_code, authorize_device, deny_device_code, pending_device_code, poll_device_code,
};
pub use encryption::encryption_key_unavailable;
pub use error::TokenError;
pub use exchange::token_exchange;
pub use family::{
    OFFLINE_ACCESS, family_expiry, reason, revoke_families_of_client, revoke_families_of_session,
};
pub use front_channel::{
    FrontChannelAccessToken, FrontChannelIssuance, FrontChannelResponse, FrontChannelSigned,
    authorize_front_channel, front_channel_refusal,
};
pub use introspection::{
    INTROSPECTION_JWT_MEDIA_TYPE, INTROSPECTION_JWT_TYP, Introspection, PresentedToken,
    TokenTypeHint, introspect, introspection_jwt, parse_presented_token,
};
pub use issuance::{Issuance, token_hash};
pub use password::{PASSWORD_GRANT, check_password_client, issue_for_password, password_scopes};
pub use pushed::{
    PAR_URN_PREFIX, PushedRequest, is_pushed_request_uri, push_request, take_pushed_request,
};
pub use refresh::refresh_tokens;
pub use request::{MAX_BODY_BYTES, TokenRequest, parse_token_form};
pub use request_object::{InvalidRequestObject, RequestObject, verify_request_object};
pub use revocation::{RequestOrigin, RevocationError, RevokedKind, TOKEN_REVOKED, revoke};
