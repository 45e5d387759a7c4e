//! Per-tenant signing key rings: key generation on a [`KeyForge`] actor, encryption at rest under
//! a [`MasterKey`], rotation through Next → Active → Retired, the published JWKS (RFC 7517) and
//! compact JWS signing and verification (RFC 7515) with RS256, ES256 and EdDSA.

mod b64;
mod error;
mod forge;
mod jwk;
mod keyset;
mod master;
mod rotation;
mod signing;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use error::KeyError;
pub use forge::{GenerateKeyPair, KeyForge, generate_key_pair};
pub use keyset::KeySet;
pub use master::MasterKey;
pub use rotation::{Rotation, rotate};
pub use signing::SigningKey;
