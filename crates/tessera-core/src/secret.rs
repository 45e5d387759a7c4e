//! Generation, hashing and comparison of high-entropy secrets (client secrets, token handles).
//! Such values are stored as SHA-256 digests: with ≥ 256 bits of randomness a slow KDF adds
//! nothing but latency (ory/hydra#1477), so the token path never runs one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS-seeded CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new client secret: 256 bits of randomness.
pub fn new_client_secret() -> String {
    random_token(32)
}

/// SHA-256 of a secret, hex-encoded: the stored form.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored SHA-256 hex digest in constant time.
pub fn verify_sha256_hex(presented: &str, stored_hex: &str) -> bool {
    let digest = hex::encode(Sha256::digest(presented.as_bytes()));
    digest.as_bytes().ct_eq(stored_hex.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secrets_carry_256_bits_and_verify_only_themselves() {
        let secret = new_client_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
        let stored = sha256_hex(&secret);
        assert!(verify_sha256_hex(&secret, &stored));
        assert!(!verify_sha256_hex("wrong", &stored));
        assert_ne!(new_client_secret(), secret);
    }
}
