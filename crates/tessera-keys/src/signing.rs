//! [`SigningKey`]: an opened private key producing compact JWS (RFC 7515 §7.1). The protected
//! header depends only on `alg`, `typ` and `kid`, so its base64url form is computed once.

use std::borrow::Cow;

use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use secrecy::zeroize::Zeroizing;
use serde::Serialize;
use tessera_core::{Kid, SigningAlg};
use tessera_store::KeyRecord;

use crate::forge::sealing_aad;
use crate::jwk::{self, P256_COORD_LEN};
use crate::{KeyError, MasterKey, b64};

/// `typ` values whose headers are prepared when a key is opened: plain JWTs (ID tokens, RFC 7519
/// §5.1) and JWT access tokens (RFC 9068 §2.1). Others are encoded per call.
const PREPARED_TYPS: [&str; 2] = ["at+jwt", "JWT"];

/// The JWS protected header (RFC 7515 §4.1).
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The private key, in the form each algorithm signs fastest with.
#[derive(Debug)]
enum PrivateKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256(PKey<Private>),
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4), signing the digest through `ECDSA_do_sign`.
    Es256(EcKey<Private>),
    /// Ed25519 (RFC 8037 §3.1).
    EdDsa(PKey<Private>),
}

/// An opened private key that signs compact JWS. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct SigningKey {
    kid: Kid,
    alg: SigningAlg,
    key: PrivateKey,
    /// `(typ, base64url(header))` for [`PREPARED_TYPS`].
    headers: [(&'static str, String); PREPARED_TYPS.len()],
}

impl SigningKey {
    /// Opens the sealed private key of `record` with `master`, checking that it is a key of the
    /// record's algorithm and matches the record's public JWK.
    pub fn open(master: &MasterKey, record: &KeyRecord) -> Result<Self, KeyError> {
        if record.kek_id != master.kek_id() {
            return Err(KeyError::WrongMasterKey);
        }
        let der = Zeroizing::new(master.open(
            &record.sealed_private_key,
            &sealing_aad(record.tenant_id, &record.kid),
        )?);
        let pkey = PKey::private_key_from_pkcs8(&der)
            .map_err(|_| KeyError::malformed("private key: not PKCS#8"))?;
        let alg = record.alg;
        let derived = jwk::public_jwk(&pkey, alg, &record.kid)?;
        if !jwk::same_key(&derived, &record.public_jwk) {
            return Err(KeyError::malformed(
                "key record: private key does not match public JWK",
            ));
        }
        let key = match alg {
            SigningAlg::Rs256 => PrivateKey::Rs256(pkey),
            SigningAlg::Es256 => PrivateKey::Es256(
                pkey.ec_key()
                    .map_err(KeyError::openssl("reading an EC key"))?,
            ),
            SigningAlg::EdDsa => PrivateKey::EdDsa(pkey),
        };
        let kid = record.kid.clone();
        let [at, jwt] = PREPARED_TYPS;
        let headers = [
            (at, encode_header(alg, at, &kid)?),
            (jwt, encode_header(alg, jwt, &kid)?),
        ];
        Ok(Self {
            kid,
            alg,
            key,
            headers,
        })
    }

    /// The key id, sent as the JWS `kid` header.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The JWS algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// Signs `payload` (already-serialized JSON) as a compact JWS (RFC 7515 §7.1) with the
    /// protected header `{"alg","typ","kid"}`; `typ` is e.g. `at+jwt` (RFC 9068 §2.1) or `JWT`.
    /// ES256 signatures are raw `R ‖ S`, 64 bytes (RFC 7518 §3.4), not DER.
    pub fn sign_jws(&self, typ: &str, payload: &[u8]) -> Result<String, KeyError> {
        let header = self.header(typ)?;
        let sig_len = match &self.key {
            PrivateKey::Rs256(k) => k.size(),
            PrivateKey::Es256(_) => 2 * P256_COORD_LEN,
            PrivateKey::EdDsa(_) => 64,
        };
        let mut out = String::with_capacity(
            header.len() + 2 + b64::url_len(payload.len()) + b64::url_len(sig_len),
        );
        out.push_str(&header);
        out.push('.');
        base64::Engine::encode_string(&b64::URL, payload, &mut out);
        let signature = self.sign(out.as_bytes())?;
        out.push('.');
        base64::Engine::encode_string(&b64::URL, &signature, &mut out);
        Ok(out)
    }

    /// The encoded protected header for `typ`.
    fn header(&self, typ: &str) -> Result<Cow<'_, str>, KeyError> {
        Ok(match self.headers.iter().find(|(t, _)| *t == typ) {
            Some((_, h)) => Cow::Borrowed(h),
            None => Cow::Owned(encode_header(self.alg, typ, &self.kid)?),
        })
    }

    /// The JWS signature over the signing input (RFC 7515 §5.1 step 5).
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let fail = KeyError::openssl("signing a JWS");
        match &self.key {
            PrivateKey::Rs256(key) => Signer::new(MessageDigest::sha256(), key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input))
                .map_err(fail),
            PrivateKey::Es256(key) => {
                let digest = sha256(input);
                let sig = EcdsaSig::sign(&digest, key).map_err(fail)?;
                let width = P256_COORD_LEN as i32;
                let encode = || KeyError::openssl("encoding an ECDSA signature");
                let mut raw = sig.r().to_vec_padded(width).map_err(encode())?;
                raw.extend_from_slice(&sig.s().to_vec_padded(width).map_err(encode())?);
                Ok(raw)
            }
            PrivateKey::EdDsa(key) => Signer::new_without_digest(key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input))
                .map_err(fail),
        }
    }
}

/// base64url of the serialized protected header.
fn encode_header(alg: SigningAlg, typ: &str, kid: &Kid) -> Result<String, KeyError> {
    let header = Header {
        alg: alg.as_str(),
        typ,
        kid: kid.as_ref(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| KeyError::Unexpected(e.into()))?;
    Ok(b64::url(&json))
}

/// SHA-256 for the JWS signing input. The `sha2` crate, not `openssl::sha`: in OpenSSL 3 the
/// one-shot digest looks its algorithm up under a lock on every call, which measured 4 µs per
/// token under load.
pub(crate) fn sha256(input: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(input).into()
}
