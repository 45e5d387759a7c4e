//! [`KeySet`]: the immutable view of one tenant's key ring that a tenant snapshot holds — the
//! published JWKS (RFC 7517 §5), its serialized bytes, the signer, and JWS verification.

use crate::signing::sha256;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use serde::Deserialize;
use serde_json::Value;
use tessera_core::{KeyState, Kid, SigningAlg};
use tessera_store::KeyRecord;

use crate::jwk::{self, P256_COORD_LEN, PublicKey};
use crate::{KeyError, MasterKey, SigningKey, b64};

/// Longest compact JWS accepted by [`KeySet::verify`]; anything longer is not one of our tokens.
const MAX_JWS_LEN: usize = 64 * 1024;

/// One published key.
#[derive(Debug)]
struct Published {
    kid: Kid,
    alg: SigningAlg,
    key: PublicKey,
}

/// A tenant's published keys and its signer; immutable once built, cheap to share in an `Arc`.
#[derive(Debug)]
pub struct KeySet {
    jwks: Value,
    jwks_bytes: Vec<u8>,
    published: Vec<Published>,
    signer: Option<SigningKey>,
}

/// The members of a JWS protected header that verification reads (RFC 7515 §4.1).
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the producer says must be understood (RFC 7515 §4.1.11); we understand none.
    #[serde(default)]
    crit: Option<Value>,
}

impl KeySet {
    /// Builds the key set from all of a tenant's key records. The JWKS lists the Active key
    /// first, then Next keys (published ahead of use so caches learn them), then Retired keys
    /// whose `expires_at` is still in the future (tokens they signed may be live). The signer is
    /// the Active key, opened with `master`; with no Active key, [`signer`](Self::signer) is `None`.
    pub fn build(master: &MasterKey, records: &[KeyRecord], now: i64) -> Result<Self, KeyError> {
        let rank = |r: &KeyRecord| match r.state {
            KeyState::Active => Some(0),
            KeyState::Next => Some(1),
            KeyState::Retired if r.expires_at.is_some_and(|at| at > now) => Some(2),
            KeyState::Retired => None,
        };
        let mut listed: Vec<(u8, &KeyRecord)> = records
            .iter()
            .filter_map(|r| rank(r).map(|k| (k, r)))
            .collect();
        // Stable: keeps the caller's order (newest first from the store) within a state, and puts
        // the most recently activated key first should there ever be two Active keys.
        listed.sort_by_key(|(k, r)| (*k, std::cmp::Reverse(r.activated_at)));

        let mut keys = Vec::with_capacity(listed.len());
        let mut published: Vec<Published> = Vec::with_capacity(listed.len());
        for (_, record) in &listed {
            if published.iter().any(|p| p.kid == record.kid) {
                continue;
            }
            let key = jwk::parse_public(&record.public_jwk, record.alg)?;
            let mut public = record.public_jwk.clone();
            jwk::stamp(&mut public, record.alg, &record.kid);
            keys.push(public);
            published.push(Published {
                kid: record.kid.clone(),
                alg: record.alg,
                key,
            });
        }
        let signer = match listed.first() {
            Some((0, active)) => Some(SigningKey::open(master, active)?),
            _ => None,
        };
        let jwks = serde_json::json!({ "keys": keys });
        let jwks_bytes = serde_json::to_vec(&jwks).map_err(|e| KeyError::Unexpected(e.into()))?;
        Ok(Self {
            jwks,
            jwks_bytes,
            published,
            signer,
        })
    }

    /// The key that signs new tokens, if the tenant has an Active key.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    /// The JWKS document `{"keys":[...]}` (RFC 7517 §5).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The JWKS document serialized once at build, ready to serve.
    pub fn jwks_bytes(&self) -> &[u8] {
        &self.jwks_bytes
    }

    /// The distinct algorithms of the published keys, in JWKS order.
    pub fn algs(&self) -> Vec<SigningAlg> {
        let mut algs = Vec::with_capacity(SigningAlg::ALL.len());
        for p in &self.published {
            if !algs.contains(&p.alg) {
                algs.push(p.alg);
            }
        }
        algs
    }

    /// Verifies a compact JWS (RFC 7515 §7.1) against the published keys and returns its payload
    /// parsed as JSON. The header `kid` must name a published key and the header `alg` must be
    /// that key's algorithm: the key decides the algorithm, never the header alone (RFC 8725
    /// §3.1), so `none`, HMAC and cross-algorithm substitutions all fail. Headers with `crit`
    /// are refused (RFC 7515 §4.1.11). Claims (`exp`, `iss`, `aud`) are the caller's to check.
    pub fn verify(&self, jws: &str) -> Result<Value, KeyError> {
        if jws.len() > MAX_JWS_LEN {
            return Err(KeyError::malformed("JWS: too long"));
        }
        let mut parts = jws.split('.');
        let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::malformed("JWS: not three segments"));
        };
        let decode = |segment: &str, what: &str| {
            base64::Engine::decode(&b64::URL, segment)
                .map_err(|_| KeyError::malformed(format!("JWS: {what} is not base64url")))
        };
        let header: Header = serde_json::from_slice(&decode(header_b64, "header")?)
            .map_err(|_| KeyError::malformed("JWS: header is not a JSON object with alg"))?;
        if header.crit.is_some() {
            return Err(KeyError::malformed("JWS: unsupported critical header"));
        }
        let kid = header.kid.ok_or(KeyError::UnknownKid)?;
        let key = self
            .published
            .iter()
            .find(|p| p.kid.0 == kid)
            .ok_or(KeyError::UnknownKid)?;
        if header.alg != key.alg.as_str() {
            return Err(KeyError::BadSignature);
        }
        let signature = decode(sig_b64, "signature")?;
        let signing_input = &jws.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        if !verify_signature(&key.key, signing_input, &signature)? {
            return Err(KeyError::BadSignature);
        }
        serde_json::from_slice(&decode(payload_b64, "payload")?)
            .map_err(|_| KeyError::malformed("JWS: payload is not JSON"))
    }
}

/// Checks `signature` over `input`; `Ok(false)` for a signature that does not verify.
fn verify_signature(key: &PublicKey, input: &[u8], signature: &[u8]) -> Result<bool, KeyError> {
    match key {
        PublicKey::Rsa(key) => {
            let mut verifier = Verifier::new(MessageDigest::sha256(), key)
                .map_err(KeyError::openssl("preparing RSA verification"))?;
            Ok(verifier.verify_oneshot(signature, input).unwrap_or(false))
        }
        // RFC 7518 §3.4: the signature is R ‖ S, each 32 bytes big-endian.
        PublicKey::Ec(key) => {
            if signature.len() != 2 * P256_COORD_LEN {
                return Ok(false);
            }
            let (r, s) = signature.split_at(P256_COORD_LEN);
            let fail = || KeyError::openssl("decoding an ECDSA signature");
            let r = BigNum::from_slice(r).map_err(fail())?;
            let s = BigNum::from_slice(s).map_err(fail())?;
            let sig = EcdsaSig::from_private_components(r, s).map_err(fail())?;
            Ok(sig.verify(&sha256(input), key).unwrap_or(false))
        }
        PublicKey::Ed(key) => {
            if signature.len() != 64 {
                return Ok(false);
            }
            let mut verifier = Verifier::new_without_digest(key)
                .map_err(KeyError::openssl("preparing Ed25519 verification"))?;
            Ok(verifier.verify_oneshot(signature, input).unwrap_or(false))
        }
    }
}
