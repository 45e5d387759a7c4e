//! Public keys as JWKs: RSA (RFC 7518 §6.3), EC P-256 (RFC 7518 §6.2) and Ed25519 OKP
//! (RFC 8037 §2), written from OpenSSL keys and parsed back into verification keys.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcKeyRef};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Public};
use openssl::rsa::Rsa;
use serde_json::{Value, json};
use tessera_core::{Kid, SigningAlg};

use crate::{KeyError, b64};

/// Byte length of a P-256 coordinate; JWK `x`/`y` are left-padded to it (RFC 7518 §6.2.1.2).
pub(crate) const P256_COORD_LEN: usize = 32;
/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
const MIN_RSA_BITS: u32 = 2048;
/// Fields that carry key material: two JWKs with equal values here denote the same key.
const MATERIAL: [&str; 6] = ["kty", "crv", "n", "e", "x", "y"];

/// A public key ready to verify signatures of its algorithm.
#[derive(Debug)]
pub(crate) enum PublicKey {
    /// RS256.
    Rsa(PKey<Public>),
    /// ES256; kept as an `EC_KEY` so verification skips the EVP layer.
    Ec(EcKey<Public>),
    /// EdDSA over Ed25519.
    Ed(PKey<Public>),
}

/// The P-256 group.
pub(crate) fn p256() -> Result<EcGroup, KeyError> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(KeyError::openssl("loading P-256"))
}

/// Checks that `key` is a key of `alg`: RSA of at least 2048 bits, EC on P-256, or Ed25519.
pub(crate) fn check_key_type<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: SigningAlg,
) -> Result<(), KeyError> {
    let ok = match alg {
        SigningAlg::Rs256 => key.id() == Id::RSA && key.bits() >= MIN_RSA_BITS,
        SigningAlg::Es256 => {
            key.id() == Id::EC
                && key
                    .ec_key()
                    .is_ok_and(|ec| ec.group().curve_name() == Some(Nid::X9_62_PRIME256V1))
        }
        SigningAlg::EdDsa => key.id() == Id::ED25519,
    };
    if ok {
        Ok(())
    } else {
        Err(KeyError::malformed(format!("key: not a key for {alg}")))
    }
}

/// The public JWK of `key` with `kid`, `alg` and `"use":"sig"` (RFC 7517 §4).
pub(crate) fn public_jwk<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: SigningAlg,
    kid: &Kid,
) -> Result<Value, KeyError> {
    check_key_type(key, alg)?;
    let mut jwk = match alg {
        SigningAlg::Rs256 => {
            let rsa = key.rsa().map_err(KeyError::openssl("reading an RSA key"))?;
            json!({ "kty": "RSA", "n": b64::url(&rsa.n().to_vec()), "e": b64::url(&rsa.e().to_vec()) })
        }
        SigningAlg::Es256 => {
            let ec = key
                .ec_key()
                .map_err(KeyError::openssl("reading an EC key"))?;
            let (x, y) = ec_coordinates(&ec)?;
            json!({ "kty": "EC", "crv": "P-256", "x": b64::url(&x), "y": b64::url(&y) })
        }
        SigningAlg::EdDsa => {
            let x = key
                .raw_public_key()
                .map_err(KeyError::openssl("reading an Ed25519 key"))?;
            json!({ "kty": "OKP", "crv": "Ed25519", "x": b64::url(&x) })
        }
    };
    stamp(&mut jwk, alg, kid);
    Ok(jwk)
}

/// Sets the `kid`, `alg` and `use` members of a JWK object.
pub(crate) fn stamp(jwk: &mut Value, alg: SigningAlg, kid: &Kid) {
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".to_owned(), Value::String(kid.0.clone()));
        obj.insert("alg".to_owned(), Value::String(alg.as_str().to_owned()));
        obj.insert("use".to_owned(), Value::String("sig".to_owned()));
    }
}

/// Whether two JWKs hold the same key material, whatever their other members.
pub(crate) fn same_key(a: &Value, b: &Value) -> bool {
    MATERIAL.iter().all(|m| a.get(m) == b.get(m))
}

/// The affine coordinates of a P-256 public point, each left-padded to 32 bytes.
fn ec_coordinates<T: HasPublic>(ec: &EcKeyRef<T>) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let fail = KeyError::openssl;
    let mut ctx = BigNumContext::new().map_err(fail("allocating a BN_CTX"))?;
    let mut x = BigNum::new().map_err(fail("allocating a bignum"))?;
    let mut y = BigNum::new().map_err(fail("allocating a bignum"))?;
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .map_err(fail("reading EC coordinates"))?;
    let width = P256_COORD_LEN as i32;
    Ok((
        x.to_vec_padded(width).map_err(fail("encoding EC x"))?,
        y.to_vec_padded(width).map_err(fail("encoding EC y"))?,
    ))
}

/// Parses a published JWK into a verification key for `alg`, refusing a key of another type.
pub(crate) fn parse_public(jwk: &Value, alg: SigningAlg) -> Result<PublicKey, KeyError> {
    let field = |name: &str| -> Result<Vec<u8>, KeyError> {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| base64::Engine::decode(&b64::URL, s).ok())
            .ok_or_else(|| KeyError::malformed(format!("JWK: missing or bad `{name}`")))
    };
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bad = |why: &str| KeyError::malformed(format!("JWK: {why}"));
    match alg {
        SigningAlg::Rs256 => {
            if member("kty") != Some("RSA") {
                return Err(bad("kty is not RSA"));
            }
            let n = BigNum::from_slice(&field("n")?).map_err(|_| bad("bad n"))?;
            let e = BigNum::from_slice(&field("e")?).map_err(|_| bad("bad e"))?;
            let rsa = Rsa::from_public_components(n, e).map_err(|_| bad("bad RSA key"))?;
            let key = PKey::from_rsa(rsa).map_err(KeyError::openssl("wrapping an RSA key"))?;
            check_key_type(&key, alg)?;
            Ok(PublicKey::Rsa(key))
        }
        SigningAlg::Es256 => {
            if member("kty") != Some("EC") || member("crv") != Some("P-256") {
                return Err(bad("not an EC P-256 key"));
            }
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != P256_COORD_LEN || y.len() != P256_COORD_LEN {
                return Err(bad("P-256 coordinates must be 32 bytes"));
            }
            let x = BigNum::from_slice(&x).map_err(|_| bad("bad x"))?;
            let y = BigNum::from_slice(&y).map_err(|_| bad("bad y"))?;
            // Rejects points off the curve.
            let ec = EcKey::from_public_key_affine_coordinates(&*p256()?, &x, &y)
                .map_err(|_| bad("point is not on P-256"))?;
            Ok(PublicKey::Ec(ec))
        }
        SigningAlg::EdDsa => {
            if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
                return Err(bad("not an Ed25519 OKP key"));
            }
            let x = field("x")?;
            if x.len() != 32 {
                return Err(bad("Ed25519 keys are 32 bytes"));
            }
            let key = PKey::public_key_from_raw_bytes(&x, Id::ED25519)
                .map_err(|_| bad("bad Ed25519 key"))?;
            Ok(PublicKey::Ed(key))
        }
    }
}
