//! Registration checks of encrypted ID tokens and userinfo responses (OIDC Registration §2,
//! OIDC Core §10.2): an `enc` needs its `alg`, and an `alg` needs the client's public keys, with
//! a key to encrypt to when they are registered by value.

use tessera_core::{ClientOptions, EncryptedResponse};
use tessera_keys::jwe::Recipient;

use crate::TenantError;

/// Checks the `*_encrypted_response_alg`/`_enc` options: `enc` without `alg` is refused (OIDC
/// Registration §2), an `alg` needs `jwks` or `jwks_uri`, and an inline `jwks` must hold a key
/// of the algorithm's type whose `use` is `enc` or unset. A `jwks_uri` is only fetched when a
/// response is encrypted.
pub(crate) fn check_encryption_options(options: &ClientOptions) -> Result<(), TenantError> {
    for what in [EncryptedResponse::IdToken, EncryptedResponse::Userinfo] {
        let (alg_field, enc_field) = (what.alg_field(), what.enc_field());
        let encryption = match (options.encryption_fields(what), options.encryption(what)) {
            ((None, Some(_)), _) => {
                return Err(TenantError::Invalid(format!(
                    "{enc_field} is only used with {alg_field} (OIDC Registration §2)"
                )));
            }
            (_, Some(encryption)) => encryption,
            (_, None) => continue,
        };
        let alg = encryption.alg;
        match (&options.jwks, &options.jwks_uri) {
            (Some(jwks), _) => {
                Recipient::select(jwks, encryption).map_err(|_| {
                    TenantError::Invalid(format!(
                        "{alg_field} `{alg}` needs a public {} key in jwks whose use is `enc` or unset{}",
                        alg.key_type(),
                        match alg {
                            tessera_core::JweAlg::RsaOaep256 => " (at least 2048 bits)",
                            tessera_core::JweAlg::EcdhEs => " (on P-256, P-384 or P-521)",
                        }
                    ))
                })?;
            }
            (None, Some(_)) => {}
            (None, None) => {
                return Err(TenantError::Invalid(format!(
                    "{alg_field} needs the client's public keys to encrypt to: jwks or jwks_uri (OIDC Core §10.2)"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(value: serde_json::Value) -> ClientOptions {
        serde_json::from_value(value).unwrap()
    }

    /// A P-256 public key (RFC 7518 Appendix C, Bob's).
    fn ec_key() -> serde_json::Value {
        json!({
            "kty": "EC", "crv": "P-256",
            "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
            "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
        })
    }

    #[test]
    fn enc_needs_alg_and_alg_needs_a_suitable_key() {
        let check = |v| check_encryption_options(&options(v));
        assert!(check(json!({})).is_ok());
        let err = check(json!({"userinfo_encrypted_response_enc": "A256GCM"})).unwrap_err();
        assert!(
            err.to_string().contains("userinfo_encrypted_response_alg"),
            "{err}"
        );
        let err = check(json!({"id_token_encrypted_response_alg": "ECDH-ES"})).unwrap_err();
        assert!(err.to_string().contains("jwks or jwks_uri"), "{err}");
        assert!(
            check(json!({
                "id_token_encrypted_response_alg": "ECDH-ES",
                "jwks_uri": "https://rp.example.com/jwks"
            }))
            .is_ok()
        );
        assert!(
            check(json!({
                "id_token_encrypted_response_alg": "ECDH-ES",
                "id_token_encrypted_response_enc": "A256GCM",
                "jwks": {"keys": [ec_key()]}
            }))
            .is_ok()
        );
        // An EC key does not serve RSA-OAEP-256, nor a key marked for signatures ECDH-ES.
        let err = check(json!({
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "jwks": {"keys": [ec_key()]}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("public RSA key"), "{err}");
        let mut sig = ec_key();
        sig["use"] = "sig".into();
        assert!(
            check(json!({
                "userinfo_encrypted_response_alg": "ECDH-ES",
                "jwks": {"keys": [sig]}
            }))
            .is_err()
        );
    }
}
