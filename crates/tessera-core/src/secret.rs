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

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols) by the OS-seeded
/// CSPRNG, rejection-sampling bytes so no symbol is favoured.
pub fn random_chars(alphabet: &[u8], len: usize) -> String {
    let alphabet = &alphabet[..alphabet.len().min(256)];
    if alphabet.is_empty() {
        return String::new();
    }
    let n = alphabet.len();
    // The largest multiple of `n` not above 256: bytes at or above it are redrawn.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    let mut drawn = 0;
    let mut rng = rand::rng();
    while drawn < len {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        let b = usize::from(byte[0]);
        if b < limit {
            out.push(char::from(alphabet[b % n]));
            drawn += 1;
        }
    }
    out
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
    fn random_chars_draw_only_from_the_alphabet() {
        let code = random_chars(b"BCDF", 64);
        assert_eq!(code.len(), 64);
        assert!(code.bytes().all(|c| b"BCDF".contains(&c)), "{code}");
        assert_eq!(random_chars(b"", 8), "");
    }

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
