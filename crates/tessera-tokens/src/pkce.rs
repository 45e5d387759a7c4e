//! Proof Key for Code Exchange (RFC 7636): only the `S256` method exists here; `plain` is never
//! stored, so it can never be verified (RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The one supported `code_challenge_method`.
pub const S256: &str = "S256";

/// Whether `verifier` is `43*128unreserved` (RFC 7636 §4.1). A challenge has the same alphabet
/// and, for S256, is exactly 43 characters.
pub fn is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier: `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge` (RFC 7636 §4.6), compared in
/// constant time.
pub fn verify_s256(challenge: &str, verifier: &str) -> bool {
    is_well_formed(verifier)
        && s256_challenge(verifier)
            .as_bytes()
            .ct_eq(challenge.as_bytes())
            .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256_challenge(verifier), challenge);
        assert!(verify_s256(challenge, verifier));
        assert!(!verify_s256(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
    }

    #[test]
    fn verifiers_outside_the_unreserved_set_or_length_are_refused() {
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"~._-".repeat(32)));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(43))));
        let short = "abc";
        assert!(!verify_s256(&s256_challenge(short), short));
    }
}
