//! Verifying compact JWS (RFC 7515 §7.1) with a public JWK that a *client* supplies, such as the
//! `jwk` header of a DPoP proof (RFC 9449 §4.2), and RFC 7638 JWK thumbprints. Unlike
//! [`KeySet::verify`](crate::KeySet::verify) the key is not one of the tenant's: it is untrusted
//! input, so it is checked to be a public key of the header's algorithm before it is used.

use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::Value;
use tessera_core::SigningAlg;

use crate::jwk::{self, PublicKey};
use crate::{KeyError, b64};

/// The JWS algorithms a DPoP proof may use, as advertised in
/// `dpop_signing_alg_values_supported` (RFC 9449 §5.1): asymmetric only, never `none` or a MAC
/// (RFC 9449 §4.2, §4.3 point 5).
pub const DPOP_ALGS: &[&str] = &["ES256", "ES384", "RS256", "PS256", "EdDSA"];

/// Longest compact JWS accepted. A proof carrying a 4096-bit RSA key is under 2 KiB.
const MAX_JWS_LEN: usize = 16 * 1024;

/// Largest RSA modulus accepted, in bits: the client picks the key, and verification cost grows
/// with its size.
const MAX_RSA_BITS: u32 = 8192;

/// JWK members that only a private or symmetric key has: RSA `d`, `p`, `q`, `dp`, `dq`, `qi`,
/// `oth` (RFC 7518 §6.3.2), EC and OKP `d` (RFC 7518 §6.2.2, RFC 8037 §2), symmetric `k`
/// (RFC 7518 §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWS whose signature verified: its protected header and payload, both JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedJws {
    /// The protected header (RFC 7515 §4), a JSON object.
    pub header: Value,
    /// The payload parsed as JSON; its claims are the caller's to check.
    pub payload: Value,
}

/// The hash under a signature algorithm.
#[derive(Clone, Copy, Debug)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn message_digest(self) -> MessageDigest {
        match self {
            Hash::Sha256 => MessageDigest::sha256(),
            Hash::Sha384 => MessageDigest::sha384(),
            Hash::Sha512 => MessageDigest::sha512(),
        }
    }

    fn digest(self, input: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Hash::Sha256 => sha2::Sha256::digest(input).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(input).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(input).to_vec(),
        }
    }
}

/// How an algorithm signs, with the key type it needs (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone, Copy, Debug)]
enum Scheme {
    /// RSASSA-PKCS1-v1_5 (RFC 7518 §3.3).
    RsaPkcs1(Hash),
    /// RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash (RFC 7518 §3.5).
    RsaPss(Hash),
    /// ECDSA on the curve named `crv`, coordinates and `R`, `S` each `width` bytes (RFC 7518
    /// §3.4, §6.2.1).
    Ecdsa {
        hash: Hash,
        crv: &'static str,
        nid: Nid,
        width: usize,
    },
    /// EdDSA over Ed25519 (RFC 8037 §3.1); Ed448 is not supported.
    EdDsa,
}

impl Scheme {
    /// The scheme of a JWS `alg`, or `None` for `none`, MACs and anything unknown.
    fn of(alg: &str) -> Option<Self> {
        let ecdsa = |hash, crv, nid, width| Scheme::Ecdsa {
            hash,
            crv,
            nid,
            width,
        };
        Some(match alg {
            "RS256" => Scheme::RsaPkcs1(Hash::Sha256),
            "RS384" => Scheme::RsaPkcs1(Hash::Sha384),
            "RS512" => Scheme::RsaPkcs1(Hash::Sha512),
            "PS256" => Scheme::RsaPss(Hash::Sha256),
            "PS384" => Scheme::RsaPss(Hash::Sha384),
            "PS512" => Scheme::RsaPss(Hash::Sha512),
            "ES256" => ecdsa(Hash::Sha256, "P-256", Nid::X9_62_PRIME256V1, 32),
            "ES384" => ecdsa(Hash::Sha384, "P-384", Nid::SECP384R1, 48),
            "ES512" => ecdsa(Hash::Sha512, "P-521", Nid::SECP521R1, 66),
            "EdDSA" => Scheme::EdDsa,
            _ => return None,
        })
    }
}

/// A client's public key, parsed for one scheme.
enum ForeignKey {
    Rsa(PKey<Public>),
    Ec(EcKey<Public>),
    Ed(PKey<Public>),
}

/// Decodes the protected header of a compact JWS **without verifying anything**: for reading
/// the key a proof carries (the DPoP `jwk` header, RFC 9449 §4.2) before calling
/// [`verify_with_jwk`]. Nothing in it may be trusted until that succeeds.
pub fn unverified_header(jws: &str) -> Result<Value, KeyError> {
    let (header_b64, _, _) = segments(jws)?;
    decode_object(header_b64, "header")
}

/// Verifies the compact JWS `jws` (RFC 7515 §7.1) with the client-supplied public key `jwk` and
/// returns its header and payload.
///
/// The header `alg` must be in `allowed_algs` and be an asymmetric algorithm this crate knows
/// (RS/PS/ES 256/384/512, EdDSA): `none` and HMAC are refused whatever `allowed_algs` says
/// (RFC 8725 §3.1–3.2). The JWK must be a public key of that algorithm's type and curve (RSA of
/// at least 2048 bits for RS*/PS*, RFC 7518 §3.3, §3.5), must hold no private member
/// (RFC 9449 §4.2), and, if it names an `alg` or a `use`, they must be the header's and `sig`.
/// Headers with `crit` are refused (RFC 7515 §4.1.11). ECDSA signatures are `R ‖ S`
/// (RFC 7518 §3.4). Errors are [`KeyError::Malformed`] for anything not well formed or not
/// acceptable, and [`KeyError::BadSignature`] for a signature that does not verify.
pub fn verify_with_jwk(
    jws: &str,
    jwk: &Value,
    allowed_algs: &[&str],
) -> Result<VerifiedJws, KeyError> {
    let (header_b64, payload_b64, sig_b64) = segments(jws)?;
    let header = decode_object(header_b64, "header")?;
    if header.get("crit").is_some() {
        return Err(KeyError::malformed("JWS: unsupported critical header"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::malformed("JWS: header has no alg"))?;
    let scheme = Scheme::of(alg)
        .filter(|_| allowed_algs.contains(&alg))
        .ok_or_else(|| KeyError::malformed(format!("JWS: alg `{alg}` is not accepted")))?;
    let key = parse_foreign(jwk, alg, scheme)?;
    let signature = base64::Engine::decode(&b64::URL, sig_b64)
        .map_err(|_| KeyError::malformed("JWS: signature is not base64url"))?;
    let signing_input = &jws.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    if !verify_signature(&key, scheme, signing_input, &signature)? {
        return Err(KeyError::BadSignature);
    }
    let payload = base64::Engine::decode(&b64::URL, payload_b64)
        .map_err(|_| KeyError::malformed("JWS: payload is not base64url"))?;
    let payload = serde_json::from_slice(&payload)
        .map_err(|_| KeyError::malformed("JWS: payload is not JSON"))?;
    Ok(VerifiedJws { header, payload })
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding: the hash of the
/// JSON object of its required members only, in lexicographic order, without whitespace
/// (RFC 7638 §3.2–3.3): `e`,`kty`,`n` for RSA, `crv`,`kty`,`x`,`y` for EC, `crv`,`kty`,`x`
/// for OKP (RFC 8037 §2). This is the DPoP `jkt` (RFC 9449 §6.1).
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, KeyError> {
    let kty = jwk.get("kty").and_then(Value::as_str);
    let required: &[&str] = match kty {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => return Err(KeyError::malformed("JWK: kty is not RSA, EC or OKP")),
    };
    let mut canonical = String::from("{");
    for (i, name) in required.iter().enumerate() {
        let value = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::malformed(format!("JWK: missing `{name}`")))?;
        if i > 0 {
            canonical.push(',');
        }
        // `Value`'s Display writes compact JSON with the string escaped (RFC 7638 §3.3).
        canonical.push_str(&Value::from(*name).to_string());
        canonical.push(':');
        canonical.push_str(&Value::from(value).to_string());
    }
    canonical.push('}');
    Ok(b64::url(&crate::signing::sha256(canonical.as_bytes())))
}

/// The three segments of a compact JWS, refusing anything longer than [`MAX_JWS_LEN`].
fn segments(jws: &str) -> Result<(&str, &str, &str), KeyError> {
    if jws.len() > MAX_JWS_LEN {
        return Err(KeyError::malformed("JWS: too long"));
    }
    let mut parts = jws.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(KeyError::malformed("JWS: not three segments")),
    }
}

/// Decodes a base64url segment holding a JSON object.
fn decode_object(segment: &str, what: &str) -> Result<Value, KeyError> {
    let bytes = base64::Engine::decode(&b64::URL, segment)
        .map_err(|_| KeyError::malformed(format!("JWS: {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(KeyError::malformed(format!(
            "JWS: {what} is not a JSON object"
        ))),
    }
}

/// Parses the client's JWK as a public key for `alg`, refusing private keys and keys of another
/// type, curve or algorithm.
fn parse_foreign(jwk: &Value, alg: &str, scheme: Scheme) -> Result<ForeignKey, KeyError> {
    let bad = |why: &str| KeyError::malformed(format!("JWK: {why}"));
    let Some(members) = jwk.as_object() else {
        return Err(bad("not a JSON object"));
    };
    // RFC 9449 §4.2: the `jwk` header "MUST NOT contain a private key".
    if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
        return Err(bad("contains private key material"));
    }
    // RFC 7517 §4.2, §4.4: a key restricted to another use or algorithm is not for this one.
    if members.get("alg").is_some_and(|a| a.as_str() != Some(alg)) {
        return Err(bad("its alg is not the JWS alg"));
    }
    if members
        .get("use")
        .is_some_and(|u| u.as_str() != Some("sig"))
    {
        return Err(bad("its use is not sig"));
    }
    match scheme {
        // The tenant-key parser already checks kty, the modulus and the 2048-bit minimum.
        Scheme::RsaPkcs1(_) | Scheme::RsaPss(_) => {
            let PublicKey::Rsa(key) = jwk::parse_public(jwk, SigningAlg::Rs256)? else {
                return Err(bad("not an RSA key"));
            };
            if key.bits() > MAX_RSA_BITS {
                return Err(bad("RSA modulus too large"));
            }
            Ok(ForeignKey::Rsa(key))
        }
        Scheme::EdDsa => match jwk::parse_public(jwk, SigningAlg::EdDsa)? {
            PublicKey::Ed(key) => Ok(ForeignKey::Ed(key)),
            _ => Err(bad("not an Ed25519 key")),
        },
        Scheme::Ecdsa {
            crv, nid, width, ..
        } => {
            let member = |name: &str| members.get(name).and_then(Value::as_str);
            if member("kty") != Some("EC") || member("crv") != Some(crv) {
                return Err(bad(&format!("not an EC {crv} key")));
            }
            let coordinate = |name: &str| -> Result<BigNum, KeyError> {
                let bytes = member(name)
                    .and_then(|s| base64::Engine::decode(&b64::URL, s).ok())
                    .ok_or_else(|| bad(&format!("missing or bad `{name}`")))?;
                // RFC 7518 §6.2.1.2–3: full-width coordinates.
                if bytes.len() != width {
                    return Err(bad(&format!("{crv} coordinates must be {width} bytes")));
                }
                BigNum::from_slice(&bytes).map_err(|_| bad(&format!("bad `{name}`")))
            };
            let (x, y) = (coordinate("x")?, coordinate("y")?);
            let group =
                EcGroup::from_curve_name(nid).map_err(KeyError::openssl("loading a curve"))?;
            // Rejects points off the curve.
            let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
                .map_err(|_| bad(&format!("point is not on {crv}")))?;
            Ok(ForeignKey::Ec(key))
        }
    }
}

/// Checks `signature` over `input`; `Ok(false)` for a signature that does not verify.
fn verify_signature(
    key: &ForeignKey,
    scheme: Scheme,
    input: &[u8],
    signature: &[u8],
) -> Result<bool, KeyError> {
    let prepare = KeyError::openssl("preparing signature verification");
    match (key, scheme) {
        (ForeignKey::Rsa(key), Scheme::RsaPkcs1(hash)) => {
            let mut verifier = Verifier::new(hash.message_digest(), key).map_err(prepare)?;
            Ok(verifier.verify_oneshot(signature, input).unwrap_or(false))
        }
        (ForeignKey::Rsa(key), Scheme::RsaPss(hash)) => {
            let md = hash.message_digest();
            let mut verifier = Verifier::new(md, key)
                .and_then(|mut v| {
                    v.set_rsa_padding(Padding::PKCS1_PSS)?;
                    v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                    v.set_rsa_mgf1_md(md)?;
                    Ok(v)
                })
                .map_err(prepare)?;
            Ok(verifier.verify_oneshot(signature, input).unwrap_or(false))
        }
        // RFC 7518 §3.4: the signature is R ‖ S, each `width` bytes big-endian, not DER.
        (ForeignKey::Ec(key), Scheme::Ecdsa { hash, width, .. }) => {
            if signature.len() != 2 * width {
                return Ok(false);
            }
            let (r, s) = signature.split_at(width);
            let decode = || KeyError::openssl("decoding an ECDSA signature");
            let r = BigNum::from_slice(r).map_err(decode())?;
            let s = BigNum::from_slice(s).map_err(decode())?;
            let sig = EcdsaSig::from_private_components(r, s).map_err(decode())?;
            Ok(sig.verify(&hash.digest(input), key).unwrap_or(false))
        }
        (ForeignKey::Ed(key), Scheme::EdDsa) => {
            if signature.len() != 64 {
                return Ok(false);
            }
            let mut verifier = Verifier::new_without_digest(key).map_err(prepare)?;
            Ok(verifier.verify_oneshot(signature, input).unwrap_or(false))
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use openssl::ec::EcGroup;
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use serde_json::json;

    const ALL: &[&str] = &[
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ];

    fn claims() -> Value {
        json!({ "jti": "abc", "htm": "POST", "htu": "https://as.example/token", "iat": 1 })
    }

    fn ec_key(nid: Nid) -> PKey<Private> {
        let group = EcGroup::from_curve_name(nid).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    fn rsa_key(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn ed_key() -> PKey<Private> {
        PKey::generate_ed25519().unwrap()
    }

    /// The public JWK of an OpenSSL key, written by hand from its components.
    fn public_jwk(key: &PKey<Private>) -> Value {
        if let Ok(rsa) = key.rsa() {
            return json!({"kty": "RSA", "n": b64::url(&rsa.n().to_vec()), "e": b64::url(&rsa.e().to_vec())});
        }
        if let Ok(ec) = key.ec_key() {
            let (crv, width) = match ec.group().curve_name().unwrap() {
                Nid::X9_62_PRIME256V1 => ("P-256", 32),
                Nid::SECP384R1 => ("P-384", 48),
                _ => ("P-521", 66),
            };
            let mut ctx = openssl::bn::BigNumContext::new().unwrap();
            let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .unwrap();
            return json!({
                "kty": "EC", "crv": crv,
                "x": b64::url(&x.to_vec_padded(width).unwrap()),
                "y": b64::url(&y.to_vec_padded(width).unwrap()),
            });
        }
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64::url(&key.raw_public_key().unwrap())})
    }

    /// Signs with the independent `jsonwebtoken` crate.
    fn sign(alg: Algorithm, key: &PKey<Private>, claims: &Value) -> String {
        let pem = key.private_key_to_pem_pkcs8().unwrap();
        let encoding = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            _ => EncodingKey::from_rsa_pem(&pem),
        }
        .unwrap();
        let mut header = Header::new(alg);
        header.typ = Some("dpop+jwt".to_owned());
        jsonwebtoken::encode(&header, claims, &encoding).unwrap()
    }

    fn forge(header: &Value, payload: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64::url(header.to_string().as_bytes()),
            b64::url(payload.to_string().as_bytes()),
            b64::url(signature)
        )
    }

    #[test]
    fn rfc_7638_section_3_1_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc_9449_section_6_1_example_thumbprint_ignores_member_order() {
        // RFC 9449 §4.1 example proof key and its jkt from §6.1.
        let jwk = json!({
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "kty": "EC",
            "crv": "P-256"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn thumbprint_matches_jsonwebtoken_and_refuses_incomplete_keys() {
        for key in [ec_key(Nid::X9_62_PRIME256V1), ed_key(), rsa_key(2048)] {
            let jwk = public_jwk(&key);
            let theirs: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
            let expected = theirs
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap();
            assert_eq!(jwk_thumbprint(&jwk).unwrap(), expected);
        }
        assert!(jwk_thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": "AA"})).is_err());
        assert!(jwk_thumbprint(&json!({"kty": "oct", "k": "AA"})).is_err());
        assert!(jwk_thumbprint(&json!({"kty": "RSA", "n": 1, "e": "AQAB"})).is_err());
    }

    #[test]
    fn jsonwebtoken_signatures_of_every_supported_alg_verify() {
        let cases = [
            (Algorithm::ES256, ec_key(Nid::X9_62_PRIME256V1)),
            (Algorithm::ES384, ec_key(Nid::SECP384R1)),
            (Algorithm::RS256, rsa_key(2048)),
            (Algorithm::RS384, rsa_key(2048)),
            (Algorithm::RS512, rsa_key(2048)),
            (Algorithm::PS256, rsa_key(2048)),
            (Algorithm::PS384, rsa_key(2048)),
            (Algorithm::PS512, rsa_key(2048)),
            (Algorithm::EdDSA, ed_key()),
        ];
        for (alg, key) in cases {
            let jws = sign(alg, &key, &claims());
            let verified = verify_with_jwk(&jws, &public_jwk(&key), ALL)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(verified.payload, claims());
            assert_eq!(verified.header["typ"], "dpop+jwt");
            assert_eq!(unverified_header(&jws).unwrap(), verified.header);
        }
    }

    #[test]
    fn es512_raw_signature_verifies() {
        // jsonwebtoken cannot sign ES512: sign with OpenSSL and encode R ‖ S by hand.
        let key = ec_key(Nid::SECP521R1);
        let header = json!({"alg": "ES512", "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64::url(header.to_string().as_bytes()),
            b64::url(claims().to_string().as_bytes())
        );
        let digest = Hash::Sha512.digest(input.as_bytes());
        let sig = EcdsaSig::sign(&digest, &key.ec_key().unwrap()).unwrap();
        let mut raw = sig.r().to_vec_padded(66).unwrap();
        raw.extend(sig.s().to_vec_padded(66).unwrap());
        let jws = format!("{input}.{}", b64::url(&raw));
        assert!(verify_with_jwk(&jws, &public_jwk(&key), &["ES512"]).is_ok());
        // The DER form of the same signature is not a JWS signature.
        let der = format!("{input}.{}", b64::url(&sig.to_der().unwrap()));
        assert!(matches!(
            verify_with_jwk(&der, &public_jwk(&key), &["ES512"]),
            Err(KeyError::BadSignature)
        ));
    }

    #[test]
    fn algs_outside_the_allowed_list_are_refused() {
        let key = rsa_key(2048);
        let jws = sign(Algorithm::RS384, &key, &claims());
        assert!(matches!(
            verify_with_jwk(&jws, &public_jwk(&key), DPOP_ALGS),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn none_and_hmac_are_refused_even_when_allowed() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let jwk = public_jwk(&key);
        let none = forge(&json!({"alg": "none"}), &claims(), b"");
        assert!(verify_with_jwk(&none, &jwk, &["none", "ES256"]).is_err());
        // An HMAC keyed with the public key's bytes: the classic confusion attack.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(jwk.to_string().as_bytes()),
        )
        .unwrap();
        assert!(verify_with_jwk(&hs, &jwk, &["HS256", "ES256"]).is_err());
        let oct = json!({"kty": "oct", "k": b64::url(b"secret")});
        assert!(verify_with_jwk(&hs, &oct, &["HS256"]).is_err());
    }

    #[test]
    fn private_keys_are_refused() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let jws = sign(Algorithm::ES256, &key, &claims());
        let mut jwk = public_jwk(&key);
        let d = key
            .ec_key()
            .unwrap()
            .private_key()
            .to_vec_padded(32)
            .unwrap();
        jwk["d"] = Value::from(b64::url(&d));
        let err = verify_with_jwk(&jws, &jwk, DPOP_ALGS).unwrap_err();
        assert!(err.to_string().contains("private"), "{err}");

        let rsa = rsa_key(2048);
        let jws = sign(Algorithm::RS256, &rsa, &claims());
        for member in ["p", "q", "dp", "dq", "qi", "oth"] {
            let mut jwk = public_jwk(&rsa);
            jwk[member] = Value::from("AQAB");
            assert!(verify_with_jwk(&jws, &jwk, DPOP_ALGS).is_err(), "{member}");
        }
    }

    #[test]
    fn keys_of_another_type_or_curve_are_refused() {
        let p256 = ec_key(Nid::X9_62_PRIME256V1);
        let es256 = sign(Algorithm::ES256, &p256, &claims());
        // Header says ES384, key is P-256.
        let mut jwk = public_jwk(&p256);
        jwk["crv"] = Value::from("P-384");
        assert!(verify_with_jwk(&es256, &jwk, DPOP_ALGS).is_err());
        // RSA key for an ES256 proof.
        assert!(verify_with_jwk(&es256, &public_jwk(&rsa_key(2048)), DPOP_ALGS).is_err());
        // EC key for an RS256 proof.
        let rsa = rsa_key(2048);
        let rs256 = sign(Algorithm::RS256, &rsa, &claims());
        assert!(verify_with_jwk(&rs256, &public_jwk(&p256), DPOP_ALGS).is_err());
        // Ed25519 key for an ES256 proof.
        assert!(verify_with_jwk(&es256, &public_jwk(&ed_key()), DPOP_ALGS).is_err());
        // RSA below 2048 bits (RFC 7518 §3.3).
        let small = rsa_key(1024);
        let jws = sign(Algorithm::RS256, &small, &claims());
        assert!(verify_with_jwk(&jws, &public_jwk(&small), DPOP_ALGS).is_err());
        // RSA above the size cap.
        let huge = json!({"kty": "RSA", "n": b64::url(&[0xff; 1040]), "e": "AQAB"});
        let err = verify_with_jwk(&sign(Algorithm::RS256, &rsa, &claims()), &huge, DPOP_ALGS);
        assert!(err.unwrap_err().to_string().contains("too large"));
        // A JWK pinned to another alg or use.
        let mut pinned = public_jwk(&p256);
        pinned["alg"] = Value::from("ES384");
        assert!(verify_with_jwk(&es256, &pinned, DPOP_ALGS).is_err());
        let mut enc = public_jwk(&p256);
        enc["use"] = Value::from("enc");
        assert!(verify_with_jwk(&es256, &enc, DPOP_ALGS).is_err());
        let mut ok = public_jwk(&p256);
        ok["alg"] = Value::from("ES256");
        ok["use"] = Value::from("sig");
        assert!(verify_with_jwk(&es256, &ok, DPOP_ALGS).is_ok());
    }

    #[test]
    fn signatures_by_another_key_or_over_other_bytes_are_refused() {
        for (alg, signer, other) in [
            (
                Algorithm::ES256,
                ec_key(Nid::X9_62_PRIME256V1),
                ec_key(Nid::X9_62_PRIME256V1),
            ),
            (Algorithm::PS256, rsa_key(2048), rsa_key(2048)),
            (Algorithm::EdDSA, ed_key(), ed_key()),
        ] {
            let jws = sign(alg, &signer, &claims());
            assert!(matches!(
                verify_with_jwk(&jws, &public_jwk(&other), DPOP_ALGS),
                Err(KeyError::BadSignature)
            ));
            // Same signature over a changed payload.
            let parts: Vec<&str> = jws.split('.').collect();
            let tampered = format!(
                "{}.{}.{}",
                parts[0],
                b64::url(json!({"jti": "other"}).to_string().as_bytes()),
                parts[2]
            );
            assert!(matches!(
                verify_with_jwk(&tampered, &public_jwk(&signer), DPOP_ALGS),
                Err(KeyError::BadSignature)
            ));
        }
    }

    #[test]
    fn malformed_compact_serialisations_are_refused() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let jwk = public_jwk(&key);
        let jws = sign(Algorithm::ES256, &key, &claims());
        for bad in [
            String::new(),
            "a.b".to_owned(),
            format!("{jws}.x"),
            format!("{jws}="),
            jws.replacen('.', ". ", 1),
            "x".repeat(MAX_JWS_LEN + 1),
        ] {
            assert!(verify_with_jwk(&bad, &jwk, DPOP_ALGS).is_err(), "{bad:.40}");
        }
        // A header that is JSON but not an object, and one with `crit`.
        let array = forge(&json!(["ES256"]), &claims(), b"sig");
        assert!(verify_with_jwk(&array, &jwk, DPOP_ALGS).is_err());
        let crit = forge(
            &json!({"alg": "ES256", "crit": ["b64"], "b64": false}),
            &claims(),
            b"sig",
        );
        assert!(verify_with_jwk(&crit, &jwk, DPOP_ALGS).is_err());
    }
}
