//! Compact JWE encryption (RFC 7516 §7.1) to a client's public key, for encrypted ID tokens and
//! userinfo responses (OIDC Core §10.2, §5.3.2): the key is managed with RSA-OAEP-256
//! (RFC 7518 §4.3) or ECDH-ES direct key agreement (RFC 7518 §4.6), the content encrypted with
//! A128CBC-HS256 (RFC 7518 §5.2.3) or A256GCM (RFC 7518 §5.3). Encryption only: the server
//! never decrypts. The recipient key is untrusted client input, checked before use.

use openssl::bn::{BigNum, BigNumContext};
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey};
use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPrivate, PKey, PKeyRef, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::Signer;
use openssl::symm::Cipher;
use secrecy::zeroize::Zeroizing;
use serde_json::{Map, Value};
use tessera_core::{Encryption, JweAlg, JweEnc};

use crate::{KeyError, b64};

/// Smallest RSA modulus accepted, in bits (RFC 7518 §4.3 defers to §4.2: 2048 or larger).
const MIN_RSA_BITS: u32 = 2048;

/// Largest RSA modulus accepted, in bits: the client picks the key.
const MAX_RSA_BITS: u32 = 8192;

/// Length of every content-encryption key here: 256 bits for A256GCM (RFC 7518 §5.3) and for
/// A128CBC-HS256, whose key is a 128-bit MAC key followed by a 128-bit AES key (§5.2.3).
const CEK_LEN: usize = 32;

/// JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// An EC curve a recipient key may be on (RFC 7518 §6.2.1.1), with its coordinate width.
#[derive(Clone, Copy, Debug)]
struct Curve {
    crv: &'static str,
    nid: Nid,
    width: usize,
}

const CURVES: [Curve; 3] = [
    Curve {
        crv: "P-256",
        nid: Nid::X9_62_PRIME256V1,
        width: 32,
    },
    Curve {
        crv: "P-384",
        nid: Nid::SECP384R1,
        width: 48,
    },
    Curve {
        crv: "P-521",
        nid: Nid::SECP521R1,
        width: 66,
    },
];

/// The recipient's public key, parsed for its algorithm.
#[derive(Debug)]
enum RecipientKey {
    /// For RSA-OAEP-256.
    Rsa(PKey<Public>),
    /// For ECDH-ES, with its curve.
    Ec(PKey<Public>, Curve),
}

/// A client's public encryption key with the algorithms to encrypt to it; build one with
/// [`Recipient::from_jwk`] or [`Recipient::select`], then [`Recipient::encrypt`].
#[derive(Debug)]
pub struct Recipient {
    key: RecipientKey,
    kid: Option<String>,
    encryption: Encryption,
}

impl Recipient {
    /// The recipient of `jwk` for `encryption`, if the key is suitable: a public key (no private
    /// member) of the algorithm's type — RSA of 2048 to 8192 bits for RSA-OAEP-256, EC on P-256,
    /// P-384 or P-521 for ECDH-ES (RFC 7518 §4.3, §4.6) — whose `use`, if any, is `enc`
    /// (RFC 7517 §4.2), whose `alg`, if any, is the algorithm (§4.4), and whose `key_ops`, if
    /// any, allow it (§4.3).
    pub fn from_jwk(jwk: &Value, encryption: Encryption) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::malformed(format!("JWK: {why}"));
        let Some(members) = jwk.as_object() else {
            return Err(bad("not a JSON object"));
        };
        let member = |name: &str| members.get(name).and_then(Value::as_str);
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err(bad("contains private key material"));
        }
        if members
            .get("use")
            .is_some_and(|u| u.as_str() != Some("enc"))
        {
            return Err(bad("its use is not enc"));
        }
        let alg = encryption.alg;
        if members
            .get("alg")
            .is_some_and(|a| a.as_str() != Some(alg.as_str()))
        {
            return Err(bad("its alg is not the registered one"));
        }
        if let Some(ops) = members.get("key_ops") {
            let allowed: &[&str] = match alg {
                JweAlg::RsaOaep256 => &["wrapKey", "encrypt"],
                JweAlg::EcdhEs => &["deriveKey", "deriveBits"],
            };
            let permits = ops.as_array().is_some_and(|ops| {
                ops.iter()
                    .any(|o| o.as_str().is_some_and(|o| allowed.contains(&o)))
            });
            if !permits {
                return Err(bad("its key_ops do not allow this algorithm"));
            }
        }
        if member("kty") != Some(alg.key_type()) {
            return Err(bad(&format!(
                "{alg} needs a key of type {}",
                alg.key_type()
            )));
        }
        let field = |name: &str| -> Result<Vec<u8>, KeyError> {
            member(name)
                .and_then(|s| base64::Engine::decode(&b64::URL, s).ok())
                .ok_or_else(|| bad(&format!("missing or bad `{name}`")))
        };
        let key = match alg {
            JweAlg::RsaOaep256 => {
                let n = BigNum::from_slice(&field("n")?).map_err(|_| bad("bad n"))?;
                let e = BigNum::from_slice(&field("e")?).map_err(|_| bad("bad e"))?;
                let rsa = Rsa::from_public_components(n, e).map_err(|_| bad("bad RSA key"))?;
                let key = PKey::from_rsa(rsa).map_err(KeyError::openssl("wrapping an RSA key"))?;
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key.bits()) {
                    return Err(bad("RSA keys must have 2048 to 8192 bits"));
                }
                RecipientKey::Rsa(key)
            }
            JweAlg::EcdhEs => {
                let curve = CURVES
                    .into_iter()
                    .find(|c| member("crv") == Some(c.crv))
                    .ok_or_else(|| bad("ECDH-ES needs a P-256, P-384 or P-521 key"))?;
                let (x, y) = (field("x")?, field("y")?);
                // RFC 7518 §6.2.1.2–3: full-width coordinates.
                if x.len() != curve.width || y.len() != curve.width {
                    return Err(bad(&format!(
                        "{} coordinates must be {} bytes",
                        curve.crv, curve.width
                    )));
                }
                let x = BigNum::from_slice(&x).map_err(|_| bad("bad x"))?;
                let y = BigNum::from_slice(&y).map_err(|_| bad("bad y"))?;
                let group = EcGroup::from_curve_name(curve.nid)
                    .map_err(KeyError::openssl("loading a curve"))?;
                // Rejects points off the curve (invalid-curve attacks, RFC 7518 §8.6).
                let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
                    .map_err(|_| bad(&format!("point is not on {}", curve.crv)))?;
                let key = PKey::from_ec_key(ec).map_err(KeyError::openssl("wrapping an EC key"))?;
                RecipientKey::Ec(key, curve)
            }
        };
        Ok(Self {
            key,
            kid: member("kid").map(str::to_owned),
            encryption,
        })
    }

    /// The first key of the JWK Set `jwks` (RFC 7517 §5) that [`Recipient::from_jwk`] accepts
    /// for `encryption`; a key marked `"use":"enc"` is preferred to one without `use`.
    pub fn select(jwks: &Value, encryption: Encryption) -> Result<Self, KeyError> {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let marked = |k: &&Value| k.get("use").and_then(Value::as_str) == Some("enc");
        keys.iter()
            .filter(marked)
            .chain(keys.iter().filter(|k| !marked(k)))
            .find_map(|k| Self::from_jwk(k, encryption).ok())
            .ok_or_else(|| {
                KeyError::malformed(format!(
                    "JWK Set: no {} public key usable for {} (use `enc` or none)",
                    encryption.alg.key_type(),
                    encryption.alg
                ))
            })
    }

    /// The `kid` of the recipient key, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this recipient is encrypted to with.
    pub fn encryption(&self) -> Encryption {
        self.encryption
    }

    /// `plaintext` as a compact JWE (RFC 7516 §5.1, §7.1) to this recipient. The protected
    /// header holds `alg`, `enc`, the key's `kid` when it has one, `cty` when given (`"JWT"` for
    /// a nested JWT, RFC 7519 §5.2) and, for ECDH-ES, the ephemeral public key `epk` (RFC 7518
    /// §4.6.1.1; `apu` and `apv` are not used). A fresh content-encryption key and IV are drawn
    /// for every call.
    pub fn encrypt(&self, plaintext: &[u8], cty: Option<&str>) -> Result<String, KeyError> {
        let Encryption { alg, enc } = self.encryption;
        let mut header = Map::new();
        header.insert("alg".into(), alg.as_str().into());
        header.insert("enc".into(), enc.as_str().into());
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.as_str().into());
        }
        if let Some(cty) = cty {
            header.insert("cty".into(), cty.into());
        }
        let (cek, encrypted_key) = match &self.key {
            RecipientKey::Rsa(key) => {
                let cek = random::<CEK_LEN>()?;
                let wrapped = rsa_oaep_256(key, &cek[..])?;
                (cek, wrapped)
            }
            RecipientKey::Ec(key, curve) => {
                // RFC 7518 §4.6: a fresh ephemeral key on the recipient's curve; the agreed
                // secret through the Concat KDF is the CEK ("direct key agreement"), and the
                // JWE Encrypted Key is empty.
                let group = EcGroup::from_curve_name(curve.nid)
                    .map_err(KeyError::openssl("loading a curve"))?;
                let ephemeral = EcKey::generate(&group)
                    .and_then(PKey::from_ec_key)
                    .map_err(KeyError::openssl("generating an ephemeral EC key"))?;
                let z = agree(&ephemeral, key)?;
                let derived = concat_kdf(&z, enc.as_str(), b"", b"", CEK_LEN);
                let mut cek = Zeroizing::new([0u8; CEK_LEN]);
                cek.copy_from_slice(&derived);
                header.insert("epk".into(), ec_public_jwk(&ephemeral, *curve)?);
                (cek, Vec::new())
            }
        };
        let header = b64::url(&serde_json::to_vec(&header).map_err(anyhow::Error::from)?);
        // RFC 7516 §5.1 step 14: the AAD is the ASCII of the encoded protected header.
        let aad = header.as_bytes();
        let (iv, ciphertext, tag) = match enc {
            JweEnc::A256Gcm => {
                let iv = random::<12>()?;
                let (c, t) = encrypt_content(enc, &cek[..], &iv[..], aad, plaintext)?;
                (iv.to_vec(), c, t)
            }
            JweEnc::A128CbcHs256 => {
                let iv = random::<16>()?;
                let (c, t) = encrypt_content(enc, &cek[..], &iv[..], aad, plaintext)?;
                (iv.to_vec(), c, t)
            }
        };
        Ok(format!(
            "{header}.{}.{}.{}.{}",
            b64::url(&encrypted_key),
            b64::url(&iv),
            b64::url(&ciphertext),
            b64::url(&tag)
        ))
    }
}

/// `N` random bytes from OpenSSL's CSPRNG, wiped when dropped.
fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeyError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    openssl::rand::rand_bytes(&mut bytes[..]).map_err(KeyError::openssl("drawing random bytes"))?;
    Ok(bytes)
}

/// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 7518 §4.3) of `cek` to `key`.
fn rsa_oaep_256(key: &PKey<Public>, cek: &[u8]) -> Result<Vec<u8>, KeyError> {
    let fail = KeyError::openssl("RSA-OAEP-256 key encryption");
    let encrypter = Encrypter::new(key)
        .and_then(|mut e| {
            e.set_rsa_padding(Padding::PKCS1_OAEP)?;
            e.set_rsa_oaep_md(MessageDigest::sha256())?;
            e.set_rsa_mgf1_md(MessageDigest::sha256())?;
            Ok(e)
        })
        .map_err(fail)?;
    let fail = KeyError::openssl("RSA-OAEP-256 key encryption");
    let mut out = vec![0u8; encrypter.encrypt_len(cek).map_err(fail)?];
    let fail = KeyError::openssl("RSA-OAEP-256 key encryption");
    let n = encrypter.encrypt(cek, &mut out).map_err(fail)?;
    out.truncate(n);
    Ok(out)
}

/// The ECDH shared secret Z of `private` and `peer` (RFC 7518 §4.6.2: the x coordinate of the
/// shared point, as wide as the curve's field).
fn agree<T: HasPrivate>(
    private: &PKeyRef<T>,
    peer: &PKey<Public>,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let fail = KeyError::openssl("ECDH key agreement");
    let mut deriver = Deriver::new(private).map_err(fail)?;
    deriver
        .set_peer(peer)
        .map_err(KeyError::openssl("ECDH key agreement"))?;
    deriver
        .derive_to_vec()
        .map(Zeroizing::new)
        .map_err(KeyError::openssl("ECDH key agreement"))
}

/// The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256 as RFC 7518 §4.6.2 uses it:
/// `key_len` bytes of `SHA-256(round ‖ Z ‖ OtherInfo)` for rounds 1, 2, …, where OtherInfo is
/// AlgorithmID (the `enc` value, for direct key agreement) ‖ PartyUInfo (`apu`) ‖ PartyVInfo
/// (`apv`), each prefixed with its 32-bit big-endian length, ‖ SuppPubInfo (the key length in
/// bits, 32-bit big-endian).
fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut other_info = Vec::new();
    for part in [algorithm_id.as_bytes(), apu, apv] {
        other_info.extend_from_slice(&(part.len() as u32).to_be_bytes());
        other_info.extend_from_slice(part);
    }
    other_info.extend_from_slice(&((key_len * 8) as u32).to_be_bytes());
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 32));
    let mut round: u32 = 1;
    while out.len() < key_len {
        let mut input = Zeroizing::new(Vec::with_capacity(4 + z.len() + other_info.len()));
        input.extend_from_slice(&round.to_be_bytes());
        input.extend_from_slice(z);
        input.extend_from_slice(&other_info);
        out.extend_from_slice(&Zeroizing::new(openssl::sha::sha256(&input))[..]);
        round += 1;
    }
    out.truncate(key_len);
    out
}

/// The public JWK of an ephemeral EC key: the `epk` header (RFC 7518 §4.6.1.1).
fn ec_public_jwk(key: &PKey<Private>, curve: Curve) -> Result<Value, KeyError> {
    let fail = KeyError::openssl;
    let ec = key.ec_key().map_err(fail("reading an EC key"))?;
    let mut ctx = BigNumContext::new().map_err(fail("allocating a BN_CTX"))?;
    let mut x = BigNum::new().map_err(fail("allocating a bignum"))?;
    let mut y = BigNum::new().map_err(fail("allocating a bignum"))?;
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .map_err(fail("reading EC coordinates"))?;
    let width = curve.width as i32;
    let x = x.to_vec_padded(width).map_err(fail("encoding EC x"))?;
    let y = y.to_vec_padded(width).map_err(fail("encoding EC y"))?;
    Ok(serde_json::json!({
        "kty": "EC",
        "crv": curve.crv,
        "x": b64::url(&x),
        "y": b64::url(&y),
    }))
}

/// Encrypts `plaintext` with `cek` and `iv`, authenticating `aad` too; returns the ciphertext
/// and the authentication tag.
///
/// A256GCM (RFC 7518 §5.3): AES-256-GCM, 96-bit IV, 128-bit tag. A128CBC-HS256 (RFC 7518
/// §5.2.2.1, §5.2.3): the first 16 bytes of the key MAC, the last 16 encrypt with AES-128-CBC
/// and PKCS #7 padding under a 128-bit IV; the tag is the first 16 bytes of
/// HMAC-SHA-256(AAD ‖ IV ‖ ciphertext ‖ AL), AL being the AAD's length in bits as a 64-bit
/// big-endian number.
fn encrypt_content(
    enc: JweEnc,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let fail = KeyError::openssl("content encryption");
    if cek.len() != CEK_LEN {
        return Err(KeyError::malformed(
            "JWE: content-encryption key of the wrong length",
        ));
    }
    match enc {
        JweEnc::A256Gcm => {
            let mut tag = vec![0u8; 16];
            let ciphertext = openssl::symm::encrypt_aead(
                Cipher::aes_256_gcm(),
                cek,
                Some(iv),
                aad,
                plaintext,
                &mut tag,
            )
            .map_err(fail)?;
            Ok((ciphertext, tag))
        }
        JweEnc::A128CbcHs256 => {
            let (mac_key, enc_key) = cek.split_at(16);
            let ciphertext =
                openssl::symm::encrypt(Cipher::aes_128_cbc(), enc_key, Some(iv), plaintext)
                    .map_err(fail)?;
            let al = ((aad.len() as u64) * 8).to_be_bytes();
            let mac = PKey::hmac(mac_key)
                .and_then(|key| {
                    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
                    signer.update(aad)?;
                    signer.update(iv)?;
                    signer.update(&ciphertext)?;
                    signer.update(&al)?;
                    signer.sign_to_vec()
                })
                .map_err(KeyError::openssl("HMAC-SHA-256"))?;
            Ok((ciphertext, mac[..16].to_vec()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
