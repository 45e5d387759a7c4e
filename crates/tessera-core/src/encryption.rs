//! The JWE algorithms a client may register for encrypted ID tokens and userinfo responses
//! (OIDC Registration §2 `id_token_encrypted_response_alg`/`_enc`,
//! `userinfo_encrypted_response_alg`/`_enc`; OIDC Core §10.2), and the pair in force for each.

use serde::{Deserialize, Serialize};

use crate::ClientOptions;

/// JWE key-management algorithm (RFC 7518 §4.1) of encrypted responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JweAlg {
    /// RSAES-OAEP with SHA-256 and MGF1 with SHA-256 (RFC 7518 §4.3), to an RSA key.
    #[serde(rename = "RSA-OAEP-256")]
    RsaOaep256,
    /// Elliptic Curve Diffie-Hellman Ephemeral Static direct key agreement (RFC 7518 §4.6), to an
    /// EC P-256, P-384 or P-521 key.
    #[serde(rename = "ECDH-ES")]
    EcdhEs,
}

/// JWE content-encryption algorithm (RFC 7518 §5.1) of encrypted responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JweEnc {
    /// AES-128-CBC with HMAC-SHA-256 (RFC 7518 §5.2.3): the OIDC Registration §2 default.
    #[serde(rename = "A128CBC-HS256")]
    A128CbcHs256,
    /// AES-256-GCM (RFC 7518 §5.3).
    #[serde(rename = "A256GCM")]
    A256Gcm,
}

impl JweAlg {
    /// Every supported algorithm, as advertised in discovery.
    pub const ALL: &'static [JweAlg] = &[JweAlg::RsaOaep256, JweAlg::EcdhEs];

    /// The registered name (RFC 7518 §4.1).
    pub fn as_str(self) -> &'static str {
        match self {
            JweAlg::RsaOaep256 => "RSA-OAEP-256",
            JweAlg::EcdhEs => "ECDH-ES",
        }
    }

    /// The JWK `kty` of the recipient key this algorithm needs (RFC 7518 §6.1).
    pub fn key_type(self) -> &'static str {
        match self {
            JweAlg::RsaOaep256 => "RSA",
            JweAlg::EcdhEs => "EC",
        }
    }
}

impl JweEnc {
    /// Every supported algorithm, as advertised in discovery.
    pub const ALL: &'static [JweEnc] = &[JweEnc::A128CbcHs256, JweEnc::A256Gcm];

    /// The registered name (RFC 7518 §5.1).
    pub fn as_str(self) -> &'static str {
        match self {
            JweEnc::A128CbcHs256 => "A128CBC-HS256",
            JweEnc::A256Gcm => "A256GCM",
        }
    }
}

impl std::fmt::Display for JweAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for JweEnc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithms of one kind of encrypted response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encryption {
    /// Key management.
    pub alg: JweAlg,
    /// Content encryption.
    pub enc: JweEnc,
}

/// What is encrypted for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncryptedResponse {
    /// ID tokens (`id_token_encrypted_response_*`).
    IdToken,
    /// Userinfo responses (`userinfo_encrypted_response_*`).
    Userinfo,
}

impl EncryptedResponse {
    /// The registration field naming the key-management algorithm.
    pub fn alg_field(self) -> &'static str {
        match self {
            EncryptedResponse::IdToken => "id_token_encrypted_response_alg",
            EncryptedResponse::Userinfo => "userinfo_encrypted_response_alg",
        }
    }

    /// The registration field naming the content-encryption algorithm.
    pub fn enc_field(self) -> &'static str {
        match self {
            EncryptedResponse::IdToken => "id_token_encrypted_response_enc",
            EncryptedResponse::Userinfo => "userinfo_encrypted_response_enc",
        }
    }
}

impl ClientOptions {
    /// The registered `(alg, enc)` of `what`, as stored: `enc` may be set without `alg`, which
    /// registration refuses.
    pub fn encryption_fields(&self, what: EncryptedResponse) -> (Option<JweAlg>, Option<JweEnc>) {
        match what {
            EncryptedResponse::IdToken => (
                self.id_token_encrypted_response_alg,
                self.id_token_encrypted_response_enc,
            ),
            EncryptedResponse::Userinfo => (
                self.userinfo_encrypted_response_alg,
                self.userinfo_encrypted_response_enc,
            ),
        }
    }

    /// How `what` is encrypted for this client, `None` when it is not: the registered `alg`,
    /// with `A128CBC-HS256` when no `enc` was registered (OIDC Registration §2).
    pub fn encryption(&self, what: EncryptedResponse) -> Option<Encryption> {
        let (alg, enc) = self.encryption_fields(what);
        alg.map(|alg| Encryption {
            alg,
            enc: enc.unwrap_or(JweEnc::A128CbcHs256),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_enc_defaults_to_a128cbc_hs256() {
        for alg in JweAlg::ALL {
            let json = serde_json::to_string(alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<JweAlg>(&json).unwrap(), *alg);
        }
        for enc in JweEnc::ALL {
            let json = serde_json::to_string(enc).unwrap();
            assert_eq!(json, format!("\"{enc}\""));
            assert_eq!(serde_json::from_str::<JweEnc>(&json).unwrap(), *enc);
        }
        assert!(serde_json::from_str::<JweAlg>("\"RSA1_5\"").is_err());
        assert!(serde_json::from_str::<JweEnc>("\"A128GCM\"").is_err());

        let options: ClientOptions =
            serde_json::from_str(r#"{"id_token_encrypted_response_alg":"ECDH-ES"}"#).unwrap();
        assert_eq!(
            options.encryption(EncryptedResponse::IdToken),
            Some(Encryption {
                alg: JweAlg::EcdhEs,
                enc: JweEnc::A128CbcHs256
            })
        );
        assert_eq!(options.encryption(EncryptedResponse::Userinfo), None);
        let options: ClientOptions = serde_json::from_str(
            r#"{"userinfo_encrypted_response_alg":"RSA-OAEP-256","userinfo_encrypted_response_enc":"A256GCM"}"#,
        )
        .unwrap();
        assert_eq!(
            options.encryption(EncryptedResponse::Userinfo),
            Some(Encryption {
                alg: JweAlg::RsaOaep256,
                enc: JweEnc::A256Gcm
            })
        );
        // Stored as registered: enc alone is kept (and refused by registration), never used.
        let options: ClientOptions =
            serde_json::from_str(r#"{"id_token_encrypted_response_enc":"A256GCM"}"#).unwrap();
        assert_eq!(options.encryption(EncryptedResponse::IdToken), None);
        assert_eq!(
            options.encryption_fields(EncryptedResponse::IdToken),
            (None, Some(JweEnc::A256Gcm))
        );
    }
}
