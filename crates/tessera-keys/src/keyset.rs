//! [`KeySet`]: the immutable view of one tenant's key rings that a tenant snapshot holds — the
//! published JWKS (RFC 7517 §5) of every algorithm, its serialized bytes, one signer per
//! algorithm, and JWS verification.

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

/// The algorithm every tenant keeps a key ring of, whatever its own: ID tokens are signed RS256
/// unless the client registered another `id_token_signed_response_alg`, and an OpenID Provider
/// must support RS256 for them (OIDC Core 1.0 §15.1, OIDC Discovery 1.0 §3).
pub const DEFAULT_ID_TOKEN_ALG: SigningAlg = SigningAlg::Rs256;

/// The key rings a tenant whose tokens are signed with `primary` keeps: `primary` first, then
/// [`DEFAULT_ID_TOKEN_ALG`] unless that is the primary already.
pub fn ring_algs(primary: SigningAlg) -> Vec<SigningAlg> {
    let mut algs = vec![primary];
    if primary != DEFAULT_ID_TOKEN_ALG {
        algs.push(DEFAULT_ID_TOKEN_ALG);
    }
    algs
}

/// One published key.
#[derive(Debug)]
struct Published {
    kid: Kid,
    alg: SigningAlg,
    key: PublicKey,
}

/// A tenant's published keys of every algorithm and one signer per algorithm; immutable once
/// built, cheap to share in an `Arc`.
#[derive(Debug)]
pub struct KeySet {
    jwks: Value,
    jwks_bytes: Vec<u8>,
    published: Vec<Published>,
    /// The tenant's own algorithm: what [`signer`](Self::signer) signs with.
    primary: SigningAlg,
    /// The Active key of each algorithm that has one, the primary first.
    signers: Vec<SigningKey>,
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
    /// Builds the key set from all of a tenant's key records, of every algorithm; `primary` is
    /// the tenant's own algorithm (`tenants.signing_alg`). The JWKS lists the Active keys first
    /// (the primary algorithm's first), then Next keys (published ahead of use so caches learn
    /// them), then Retired keys whose `expires_at` is still in the future (tokens they signed may
    /// be live); within a state, the primary algorithm comes first. Each algorithm's signer is its
    /// Active key, opened with `master`; an algorithm with no Active key has no signer.
    pub fn build(
        master: &MasterKey,
        records: &[KeyRecord],
        primary: SigningAlg,
        now: i64,
    ) -> Result<Self, KeyError> {
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
        // Stable: keeps the caller's order (newest first from the store) within a state and
        // algorithm, and puts the most recently activated key first should an algorithm ever
        // have two Active keys.
        listed.sort_by_key(|(k, r)| (*k, r.alg != primary, std::cmp::Reverse(r.activated_at)));

        let mut keys = Vec::with_capacity(listed.len());
        let mut published: Vec<Published> = Vec::with_capacity(listed.len());
        let mut signers: Vec<SigningKey> = Vec::with_capacity(2);
        for (rank, record) in &listed {
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
            // The first Active key of an algorithm is its most recently activated one.
            if *rank == 0 && !signers.iter().any(|s| s.alg() == record.alg) {
                signers.push(SigningKey::open(master, record)?);
            }
        }
        let jwks = serde_json::json!({ "keys": keys });
        let jwks_bytes = serde_json::to_vec(&jwks).map_err(|e| KeyError::Unexpected(e.into()))?;
        Ok(Self {
            jwks,
            jwks_bytes,
            published,
            primary,
            signers,
        })
    }

    /// The key that signs new access tokens: the Active key of the tenant's own algorithm, if it
    /// has one. Same as `signer_for(self.primary_alg())`.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer_for(self.primary)
    }

    /// The Active key of `alg`, if the tenant keeps a ring of that algorithm and it has one.
    /// ID tokens use `signer_for(client.id_token_alg)`, by default [`DEFAULT_ID_TOKEN_ALG`].
    pub fn signer_for(&self, alg: SigningAlg) -> Option<&SigningKey> {
        self.signers.iter().find(|s| s.alg() == alg)
    }

    /// The tenant's own algorithm, the one [`signer`](Self::signer) signs with.
    pub fn primary_alg(&self) -> SigningAlg {
        self.primary
    }

    /// The algorithms that have an Active signer, the primary first: what the tenant can sign
    /// with now, e.g. for `id_token_signing_alg_values_supported` (OIDC Discovery 1.0 §3).
    pub fn signing_algs(&self) -> Vec<SigningAlg> {
        self.signers.iter().map(SigningKey::alg).collect()
    }

    /// The JWKS document `{"keys":[...]}` (RFC 7517 §5).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The JWKS document serialized once at build, ready to serve.
    pub fn jwks_bytes(&self) -> &[u8] {
        &self.jwks_bytes
    }

    /// The distinct algorithms of the published keys, in JWKS order (the primary first when it
    /// has a published key): what a verifier may meet. It can include an algorithm whose keys are
    /// all Next or Retired; [`signing_algs`](Self::signing_algs) lists only those that sign.
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
