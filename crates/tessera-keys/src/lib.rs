//! Per-tenant signing key rings: key generation on a [`KeyForge`] actor, encryption at rest under
//! a [`MasterKey`], rotation through Next → Active → Retired, the published JWKS (RFC 7517) and
//! compact JWS signing and verification (RFC 7515) with RS256, ES256 and EdDSA. A tenant keeps
//! one ring per algorithm: its own (`signing_alg`, for access tokens) and RS256, the ID-token
//! default every OpenID Provider must support (OIDC Core 1.0 §15.1).
//! [`jwe`] encrypts ID tokens and userinfo responses to a client's own key (RFC 7516).

mod b64;
mod error;
pub mod foreign;
mod forge;
pub mod jwe;
mod jwk;
mod keyset;
mod master;
mod rotation;
mod signing;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use error::KeyError;
pub use forge::{
    GenerateKeyPair, KeyForge, forge_key_pairs, generate_key_pair, new_private_key, seal_key_pair,
};
pub use keyset::{DEFAULT_ID_TOKEN_ALG, KeySet, ring_algs};
pub use master::MasterKey;
pub use rotation::{Rotation, ensure_rings, rotate};
pub use signing::SigningKey;
