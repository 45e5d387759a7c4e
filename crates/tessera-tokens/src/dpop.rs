//! DPoP proof checking (RFC 9449 §4.3) and stateless server nonces (RFC 9449 §8, §9), without
//! HTTP or a database: the caller passes the method, the endpoint URL and the clock, and stores
//! [`replay_key`] itself to refuse a `jti` seen before.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretBox};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::TenantId;
use tessera_keys::KeyError;
use tessera_keys::foreign::{self, DPOP_ALGS};

/// The `typ` header of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_JWT_TYP: &str = "dpop+jwt";

/// How far in the future a proof's `iat` may be: allows for client clocks running ahead
/// (RFC 9449 §4.3 point 11, §11.1).
pub const MAX_IAT_FUTURE_SECS: i64 = 60;

/// How old a proof's `iat` may be: long enough for a slow network, short enough that a captured
/// proof is soon useless (RFC 9449 §11.1).
pub const MAX_IAT_AGE_SECS: i64 = 300;

/// How long a `jti` must be remembered after the proof carrying it was accepted: a proof
/// accepted at `t` has `iat ≤ t + MAX_IAT_FUTURE_SECS` and stops passing the `iat` check at
/// `iat + MAX_IAT_AGE_SECS`, so no replay of it can pass later than `t` plus this
/// (RFC 9449 §11.1). Storing until `iat + MAX_IAT_AGE_SECS` is never later and also enough.
pub const REPLAY_WINDOW_SECS: i64 = MAX_IAT_AGE_SECS + MAX_IAT_FUTURE_SECS;

/// Longest `jti` accepted, in characters. A UUID or 96 random bits base64url'd is far shorter
/// (RFC 9449 §4.2).
pub const MAX_JTI_CHARS: usize = 256;

/// Length of a nonce period. A nonce stays valid for the period it was issued in and the next,
/// so between one and two periods (RFC 9449 §8).
pub const NONCE_BUCKET_SECS: i64 = 120;

/// Longest `DPoP` header value accepted (the JWS layer has its own, larger, limit).
const MAX_PROOF_LEN: usize = 8 * 1024;

/// Bytes of HMAC kept in a nonce.
const NONCE_MAC_LEN: usize = 16;

/// Label the nonce key is derived under, so no other use of the master secret yields it.
const NONCE_KEY_LABEL: &[u8] = b"tessera dpop nonce v1";

/// Why a DPoP proof was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// The proof is missing, malformed, badly signed or does not fit the request; rendered as
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1). The description is safe to show to the client.
    #[error("invalid DPoP proof: {0}")]
    Invalid(String),
    /// The proof is otherwise valid but lacks a current server nonce; rendered as
    /// `use_dpop_nonce` with a fresh nonce in the `DPoP-Nonce` header (RFC 9449 §8, §9).
    #[error("a current DPoP nonce is required")]
    UseNonce,
}

/// Whether proofs must carry a server nonce (RFC 9449 §8, §9).
#[derive(Clone, Copy, Debug)]
pub enum NonceRule<'a> {
    /// No nonce is checked; a `nonce` claim, if any, is ignored.
    NotRequired,
    /// The `nonce` claim must be one that [`NonceKey::accepts`] for this tenant, else
    /// [`DpopError::UseNonce`].
    Required(&'a NonceKey, TenantId),
}

/// What a proof is checked against: the request it came with.
#[derive(Clone, Copy, Debug)]
pub struct ProofCheck<'a> {
    /// The HTTP method of the request, e.g. `POST` (compared to `htm`, case-sensitively:
    /// RFC 9110 §9.1).
    pub method: &'a str,
    /// The endpoint URL as the server knows it (its configured public origin and path), compared
    /// to `htu` ignoring query and fragment (RFC 9449 §4.3 point 9). Never taken from `Host`.
    pub url: &'a str,
    /// The access token presented with the proof at a protected resource; the proof must then
    /// carry its hash in `ath` (RFC 9449 §4.3 point 12, §7.1). `None` at the token endpoint.
    pub access_token: Option<&'a str>,
    /// The current time, seconds since the epoch.
    pub now: i64,
    /// Whether a server nonce is required.
    pub nonce: NonceRule<'a>,
}

/// A proof that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's public key: the `cnf.jkt` a bound token
    /// carries (RFC 9449 §6.1).
    pub jkt: String,
    /// The proof's unique id; the caller refuses one it has seen (RFC 9449 §11.1), see
    /// [`replay_key`].
    pub jti: String,
    /// When the client says it made the proof.
    pub iat: i64,
}

/// Checks the value of a `DPoP` request header against the request (RFC 9449 §4.3).
///
/// The caller has already made sure the request has exactly one `DPoP` header (point 1). Here:
/// the value is a single compact JWS (2); `typ` is `dpop+jwt` (4); `alg` is one of
/// [`DPOP_ALGS`] (5); the `jwk` header is a public key (7) that verifies the signature (6); the
/// claims `jti`, `htm`, `htu` and `iat` are present (3); `htm` is the method (8); `htu` is the
/// URL without query and fragment after normalisation (9); `iat` is no more than
/// [`MAX_IAT_AGE_SECS`] old nor [`MAX_IAT_FUTURE_SECS`] ahead (11); with an access token,
/// `ath` is its hash (12); and, last, a required nonce is current (10), so that
/// [`DpopError::UseNonce`] means the proof would pass with a fresh nonce. Replay of `jti` is the
/// caller's to check, with [`replay_key`].
pub fn check_proof(header_value: &str, check: &ProofCheck) -> Result<DpopProof, DpopError> {
    let invalid = |why: &str| DpopError::Invalid(why.to_owned());
    if header_value.is_empty()
        || header_value.len() > MAX_PROOF_LEN
        || !header_value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid("not a single compact JWS"));
    }
    let header = foreign::unverified_header(header_value).map_err(key_error)?;

    // RFC 9449 §4.2: explicit typing. Media types are case-insensitive and the `application/`
    // prefix may be written or omitted (RFC 7515 §4.1.9).
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    let typ = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    if !typ.eq_ignore_ascii_case(DPOP_JWT_TYP) {
        return Err(invalid("typ is not dpop+jwt"));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !DPOP_ALGS.contains(&alg) {
        return Err(invalid("alg is not a supported asymmetric algorithm"));
    }
    let jwk = header
        .get("jwk")
        .filter(|j| j.is_object())
        .ok_or_else(|| invalid("no jwk header"))?;
    let verified = foreign::verify_with_jwk(header_value, jwk, DPOP_ALGS).map_err(key_error)?;
    let claims = verified
        .payload
        .as_object()
        .ok_or_else(|| invalid("the payload is not a JSON object"))?;

    let jti = string_claim(claims, "jti")?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(invalid("jti is empty or too long"));
    }
    if string_claim(claims, "htm")? != check.method {
        return Err(invalid("htm does not match the request method"));
    }
    if !htu_matches(string_claim(claims, "htu")?, check.url) {
        return Err(invalid("htu does not match the request URL"));
    }
    let iat = numeric_date(claims.get("iat")).ok_or_else(|| invalid("missing or bad iat"))?;
    if iat > check.now.saturating_add(MAX_IAT_FUTURE_SECS) {
        return Err(invalid("iat is in the future"));
    }
    if iat < check.now.saturating_sub(MAX_IAT_AGE_SECS) {
        return Err(invalid("iat is too old"));
    }
    if let Some(token) = check.access_token {
        let presented = claims
            .get("ath")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("missing ath"))?;
        if !bool::from(presented.as_bytes().ct_eq(ath(token).as_bytes())) {
            return Err(invalid("ath does not match the access token"));
        }
    }
    if let NonceRule::Required(key, tenant) = check.nonce {
        let current = claims
            .get("nonce")
            .and_then(Value::as_str)
            .is_some_and(|n| key.accepts(tenant, n, check.now));
        if !current {
            return Err(DpopError::UseNonce);
        }
    }
    let jkt = foreign::jwk_thumbprint(jwk).map_err(key_error)?;
    Ok(DpopProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

/// The `ath` of an access token: base64url(SHA-256(ASCII(token))) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The key under which to remember a proof's `jti` for [`REPLAY_WINDOW_SECS`]: lowercase hex
/// SHA-256 of `jkt ":" jti`, so `jti`s are scoped to the key that signed them and the stored
/// value has a fixed length whatever the client sent.
pub fn replay_key(proof: &DpopProof) -> String {
    let mut hasher = Sha256::new();
    hasher.update(proof.jkt.as_bytes());
    hasher.update(b":");
    hasher.update(proof.jti.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The key of stateless DPoP nonces (RFC 9449 §8, §9): derived from the server's master secret,
/// so every node issues and accepts the same nonces without sharing state.
///
/// A nonce is `base64url(period ‖ HMAC(key, tenant ‖ period)[..16])`, `period` being
/// `now / NONCE_BUCKET_SECS` as a big-endian u64; it is accepted in its period and the next,
/// and only for the tenant it was issued to.
#[derive(Debug)]
pub struct NonceKey(SecretBox<[u8; 32]>);

impl Clone for NonceKey {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl NonceKey {
    /// Derives the nonce key from the master secret: HMAC-SHA256(master, "tessera dpop nonce
    /// v1"), an HKDF-Expand-like step (RFC 5869 §2.3) giving a key used for nothing else.
    pub fn derive(master_secret: &[u8]) -> Self {
        Self(SecretBox::new(Box::new(hmac_sha256(
            master_secret,
            &[NONCE_KEY_LABEL],
        ))))
    }

    /// A fresh nonce for `tenant`, to send in the `DPoP-Nonce` header (RFC 9449 §8.1). Every
    /// call in the same period returns the same nonce.
    pub fn issue(&self, tenant: TenantId, now: i64) -> String {
        let period = period_of(now);
        let mut nonce = [0u8; 8 + NONCE_MAC_LEN];
        nonce[..8].copy_from_slice(&period.to_be_bytes());
        nonce[8..].copy_from_slice(&self.mac(tenant, period));
        URL_SAFE_NO_PAD.encode(nonce)
    }

    /// Whether `nonce` was issued by this key for `tenant` in the current or the previous
    /// period. The MAC is compared in constant time.
    pub fn accepts(&self, tenant: TenantId, nonce: &str, now: i64) -> bool {
        if nonce.len() != (8 + NONCE_MAC_LEN).div_ceil(3) * 4 {
            return false;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((period, mac)) = bytes.split_first_chunk::<8>() else {
            return false;
        };
        let period = u64::from_be_bytes(*period);
        let current = period_of(now);
        if period != current && Some(period) != current.checked_sub(1) {
            return false;
        }
        mac.ct_eq(&self.mac(tenant, period)).into()
    }

    /// The truncated MAC binding a nonce to its tenant and period.
    fn mac(&self, tenant: TenantId, period: u64) -> [u8; NONCE_MAC_LEN] {
        let full = hmac_sha256(
            self.0.expose_secret(),
            &[tenant.0.as_bytes(), &period.to_be_bytes()],
        );
        let mut mac = [0u8; NONCE_MAC_LEN];
        mac.copy_from_slice(&full[..NONCE_MAC_LEN]);
        mac
    }
}

/// The nonce period `now` falls in; times before the epoch fall in period 0.
fn period_of(now: i64) -> u64 {
    u64::try_from(now.max(0) / NONCE_BUCKET_SECS).unwrap_or(0)
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A required string claim.
fn string_claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Result<&'c str, DpopError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| DpopError::Invalid(format!("missing or bad {name}")))
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional, truncated to whole seconds.
fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    if let Some(secs) = value.as_i64() {
        return Some(secs);
    }
    let secs = value.as_f64().filter(|f| f.is_finite())?;
    // A float-to-int `as` saturates, so huge values stay far outside any window.
    Some(secs as i64)
}

/// Maps a JWS failure to a client-facing description without internal detail.
fn key_error(error: KeyError) -> DpopError {
    DpopError::Invalid(match error {
        KeyError::Malformed(why) => why,
        KeyError::BadSignature => "the signature does not verify with the jwk header".to_owned(),
        _ => "the proof could not be verified".to_owned(),
    })
}

/// Whether the `htu` claim names the URL `url`, ignoring query and fragment on both sides
/// (RFC 9449 §4.3 point 9) after syntax- and scheme-based normalisation (RFC 3986 §6.2.2,
/// §6.2.3): case of scheme and host, default ports, an empty path as `/`, dot segments, and
/// percent-encoding (hex case, unreserved characters decoded).
fn htu_matches(htu: &str, url: &str) -> bool {
    match (normalized_target(htu), normalized_target(url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `scheme://host:port/path` of an http(s) URL, normalised, without query and fragment; `None`
/// for anything else, or a URL with userinfo (deprecated for http, RFC 9110 §4.2.4).
fn normalized_target(raw: &str) -> Option<String> {
    // WHATWG parsing lowercases scheme and host, removes dot segments, turns an empty path into
    // `/` and gives the default port of http and https.
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!(
        "{}://{host}:{port}{}",
        url.scheme(),
        normalize_percent_encoding(url.path())
    ))
}

/// Uppercases the hex digits of percent-encodings and decodes those of unreserved characters
/// (RFC 3986 §6.2.2.1, §6.2.2.2).
fn normalize_percent_encoding(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            // Both digits are < 16, so this fits in a byte.
            let decoded = (h * 16 + l) as u8;
            if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(decoded));
            } else {
                let _ = write!(out, "%{decoded:02X}");
            }
            i += 3;
            continue;
        }
        // `i` is always on a char boundary: it only moves past whole chars or ASCII `%XY`.
        let ch = path[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use serde_json::json;

    const NOW: i64 = 1_750_000_000;
    const TOKEN_URL: &str = "https://id.example.com/t/acme/token";

    /// A client holding a key pair, making proofs with the independent `jsonwebtoken` crate.
    struct Client {
        key: PKey<Private>,
        alg: Algorithm,
    }

    impl Client {
        fn es256() -> Self {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
            Self {
                key,
                alg: Algorithm::ES256,
            }
        }

        fn rs256() -> Self {
            let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
            Self {
                key,
                alg: Algorithm::RS256,
            }
        }

        fn jwk(&self) -> Value {
            let url = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
            if let Ok(rsa) = self.key.rsa() {
                return json!({"kty": "RSA", "n": url(&rsa.n().to_vec()), "e": url(&rsa.e().to_vec())});
            }
            let ec = self.key.ec_key().unwrap();
            let mut ctx = BigNumContext::new().unwrap();
            let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .unwrap();
            json!({
                "kty": "EC", "crv": "P-256",
                "x": url(&x.to_vec_padded(32).unwrap()),
                "y": url(&y.to_vec_padded(32).unwrap()),
            })
        }

        fn encoding_key(&self) -> EncodingKey {
            let pem = self.key.private_key_to_pem_pkcs8().unwrap();
            match self.alg {
                Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
                _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
            }
        }

        /// The header a well-behaved client sends: `typ`, `alg` and its public `jwk`.
        fn header(&self) -> Header {
            let mut header = Header::new(self.alg);
            header.typ = Some(DPOP_JWT_TYP.to_owned());
            header.jwk = Some(serde_json::from_value(self.jwk()).unwrap());
            header
        }

        fn sign(&self, header: &Header, claims: &Value) -> String {
            jsonwebtoken::encode(header, claims, &self.encoding_key()).unwrap()
        }

        fn proof(&self, claims: &Value) -> String {
            self.sign(&self.header(), claims)
        }

        fn thumbprint(&self) -> String {
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.jwk()).unwrap();
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap()
        }
    }

    fn claims() -> Value {
        json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": TOKEN_URL, "iat": NOW})
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    fn at_token_endpoint() -> ProofCheck<'static> {
        ProofCheck {
            method: "POST",
            url: TOKEN_URL,
            access_token: None,
            now: NOW,
            nonce: NonceRule::NotRequired,
        }
    }

    fn invalid(result: Result<DpopProof, DpopError>) -> String {
        match result {
            Err(DpopError::Invalid(why)) => why,
            other => panic!("expected invalid_dpop_proof, got {other:?}"),
        }
    }

    #[test]
    fn valid_es256_and_rs256_proofs_are_accepted() {
        for client in [Client::es256(), Client::rs256()] {
            let proof = check_proof(&client.proof(&claims()), &at_token_endpoint()).unwrap();
            assert_eq!(proof.jkt, client.thumbprint());
            assert_eq!(proof.jti, "e1j3V_bKic8-LAEB");
            assert_eq!(proof.iat, NOW);
        }
    }

    #[test]
    fn rfc_9449_example_token_request_proof_is_accepted() {
        // RFC 9449 §4.1, the proof of the token request in §5, with the jkt of §6.1.
        let proof = concat!(
            "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgt",
            "MzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VO",
            "SmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRj",
            "IiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0Ijox",
            "NTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNy",
            "JK70nfbV37xRZT3Lg"
        );
        let check = ProofCheck {
            method: "POST",
            url: "https://server.example.com/token",
            access_token: None,
            now: 1_562_262_616,
            nonce: NonceRule::NotRequired,
        };
        let verified = check_proof(proof, &check).unwrap();
        assert_eq!(verified.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
        // One bit of the signature flipped.
        let tampered = proof.replace("T3Lg", "T3Lh");
        assert!(check_proof(&tampered, &check).is_err());
    }

    #[test]
    fn wrong_htm_is_refused() {
        let client = Client::es256();
        let proof = client.proof(&with(claims(), "htm", json!("GET")));
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("htm"));
        let lower = client.proof(&with(claims(), "htm", json!("post")));
        assert!(invalid(check_proof(&lower, &at_token_endpoint())).contains("htm"));
    }

    #[test]
    fn wrong_htu_is_refused() {
        let client = Client::es256();
        for htu in [
            "https://id.example.com/t/other/token",
            "https://id.example.com/t/acme/token/",
            "http://id.example.com/t/acme/token",
            "https://id.example.com:8443/t/acme/token",
            "https://evil.example.com/t/acme/token",
            "https://user@id.example.com/t/acme/token",
            "/t/acme/token",
            "not a url",
        ] {
            let proof = client.proof(&with(claims(), "htu", json!(htu)));
            assert!(
                invalid(check_proof(&proof, &at_token_endpoint())).contains("htu"),
                "{htu}"
            );
        }
        let proof = client.proof(&with(claims(), "htu", json!(42)));
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("htu"));
    }

    #[test]
    fn htu_ignores_query_and_fragment_and_normalises() {
        let client = Client::es256();
        for htu in [
            "https://id.example.com/t/acme/token?x=1",
            "https://id.example.com/t/acme/token#frag",
            "HTTPS://ID.Example.COM/t/acme/token",
            "https://id.example.com:443/t/acme/token",
            "https://id.example.com/t/%61cme/token",
            "https://id.example.com/t/x/../acme/token",
        ] {
            let proof = client.proof(&with(claims(), "htu", json!(htu)));
            assert!(
                check_proof(&proof, &at_token_endpoint()).is_ok(),
                "{htu} should match"
            );
        }
        // The server's own URL may carry a query too (e.g. userinfo?schema=openid).
        let check = ProofCheck {
            url: "https://id.example.com/t/acme/token?foo=bar",
            ..at_token_endpoint()
        };
        assert!(check_proof(&client.proof(&claims()), &check).is_ok());
        assert!(htu_matches("http://h/a%2fb", "http://h:80/a%2Fb"));
        assert!(!htu_matches("http://h/a%2Fb", "http://h/a/b"));
        assert!(htu_matches("http://h/%7Euser", "http://h/~user"));
    }

    #[test]
    fn stale_and_future_iat_are_refused() {
        let client = Client::es256();
        let edge_old = client.proof(&with(claims(), "iat", json!(NOW - MAX_IAT_AGE_SECS)));
        assert!(check_proof(&edge_old, &at_token_endpoint()).is_ok());
        let stale = client.proof(&with(claims(), "iat", json!(NOW - MAX_IAT_AGE_SECS - 1)));
        assert!(invalid(check_proof(&stale, &at_token_endpoint())).contains("iat"));
        let edge_new = client.proof(&with(claims(), "iat", json!(NOW + MAX_IAT_FUTURE_SECS)));
        assert!(check_proof(&edge_new, &at_token_endpoint()).is_ok());
        let future = client.proof(&with(claims(), "iat", json!(NOW + MAX_IAT_FUTURE_SECS + 1)));
        assert!(invalid(check_proof(&future, &at_token_endpoint())).contains("iat"));
        for bad in [json!("1750000000"), json!(null)] {
            let proof = client.proof(&with(claims(), "iat", bad));
            assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("iat"));
        }
        let missing = client.proof(&without(claims(), "iat"));
        assert!(invalid(check_proof(&missing, &at_token_endpoint())).contains("iat"));
        let fractional = client.proof(&with(claims(), "iat", json!(NOW as f64 + 0.5)));
        assert_eq!(
            check_proof(&fractional, &at_token_endpoint()).unwrap().iat,
            NOW
        );
        assert_eq!(REPLAY_WINDOW_SECS, 360);
    }

    #[test]
    fn missing_or_oversized_jti_is_refused() {
        let client = Client::es256();
        for claims in [
            without(claims(), "jti"),
            with(claims(), "jti", json!("")),
            with(claims(), "jti", json!(7)),
            with(claims(), "jti", json!("j".repeat(MAX_JTI_CHARS + 1))),
        ] {
            let proof = client.proof(&claims);
            assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("jti"));
        }
        let longest = client.proof(&with(claims(), "jti", json!("é".repeat(MAX_JTI_CHARS))));
        assert!(check_proof(&longest, &at_token_endpoint()).is_ok());
        for name in ["htm", "htu"] {
            let proof = client.proof(&without(claims(), name));
            assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains(name));
        }
    }

    #[test]
    fn wrong_or_missing_typ_is_refused() {
        let client = Client::es256();
        for typ in [Some("JWT"), Some("at+jwt"), Some("dpop"), None] {
            let mut header = client.header();
            header.typ = typ.map(str::to_owned);
            let proof = client.sign(&header, &claims());
            assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("typ"));
        }
        for typ in ["DPoP+JWT", "application/dpop+jwt"] {
            let mut header = client.header();
            header.typ = Some(typ.to_owned());
            let proof = client.sign(&header, &claims());
            assert!(check_proof(&proof, &at_token_endpoint()).is_ok(), "{typ}");
        }
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let client = Client::es256();
        let segment = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let none_header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": client.jwk()});
        for proof in [
            format!("{}.{}.", segment(&none_header), segment(&claims())),
            format!("{}.{}", segment(&none_header), segment(&claims())),
        ] {
            assert!(check_proof(&proof, &at_token_endpoint()).is_err());
        }
        let mut hs = Header::new(Algorithm::HS256);
        hs.typ = Some(DPOP_JWT_TYP.to_owned());
        hs.extras.insert("jwk", client.jwk());
        let key = EncodingKey::from_secret(client.jwk().to_string().as_bytes());
        let proof = jsonwebtoken::encode(&hs, &claims(), &key).unwrap();
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("alg"));
    }

    #[test]
    fn private_key_in_jwk_is_refused() {
        let client = Client::es256();
        let mut jwk = client.jwk();
        let d = client
            .key
            .ec_key()
            .unwrap()
            .private_key()
            .to_vec_padded(32)
            .unwrap();
        jwk["d"] = json!(URL_SAFE_NO_PAD.encode(d));
        let mut header = client.header();
        header.jwk = None;
        header.extras.insert("jwk", jwk);
        let proof = client.sign(&header, &claims());
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("private"));
    }

    #[test]
    fn missing_jwk_or_signature_by_another_key_is_refused() {
        let client = Client::es256();
        let other = Client::es256();
        // Signed by `client`, but the header carries `other`'s public key.
        let proof = client.sign(&other.header(), &claims());
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("signature"));
        let mut header = client.header();
        header.jwk = None;
        let proof = client.sign(&header, &claims());
        assert!(invalid(check_proof(&proof, &at_token_endpoint())).contains("jwk"));
        // An RS256 proof whose jwk is an EC key.
        let rsa = Client::rs256();
        let mut header = rsa.header();
        header.jwk = Some(serde_json::from_value(client.jwk()).unwrap());
        assert!(check_proof(&rsa.sign(&header, &claims()), &at_token_endpoint()).is_err());
    }

    #[test]
    fn malformed_header_values_are_refused() {
        let client = Client::es256();
        let proof = client.proof(&claims());
        for bad in [
            String::new(),
            format!("{proof}, {proof}"),
            format!("{proof},{proof}"),
            format!(" {proof}"),
            format!("Bearer {proof}"),
            format!("{proof}.{proof}"),
            "x".repeat(MAX_PROOF_LEN + 1),
        ] {
            assert!(
                check_proof(&bad, &at_token_endpoint()).is_err(),
                "{bad:.30}"
            );
        }
    }

    #[test]
    fn ath_is_required_and_must_match_the_access_token() {
        let client = Client::rs256();
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        let at_resource = ProofCheck {
            method: "GET",
            url: "https://id.example.com/t/acme/userinfo",
            access_token: Some(token),
            ..at_token_endpoint()
        };
        let base = json!({"jti": "r-1", "htm": "GET", "htu": at_resource.url, "iat": NOW});
        let good = client.proof(&with(base.clone(), "ath", json!(ath(token))));
        assert_eq!(
            check_proof(&good, &at_resource).unwrap().jkt,
            client.thumbprint()
        );
        let missing = client.proof(&base);
        assert!(invalid(check_proof(&missing, &at_resource)).contains("ath"));
        let wrong = client.proof(&with(base.clone(), "ath", json!(ath("another token"))));
        assert!(invalid(check_proof(&wrong, &at_resource)).contains("ath"));
        let raw = client.proof(&with(base, "ath", json!(token)));
        assert!(invalid(check_proof(&raw, &at_resource)).contains("ath"));
    }

    #[test]
    fn ath_example_from_rfc_9449_section_7_1() {
        // RFC 9449 §7.1: the access token and the `ath` of the example proof.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn required_nonce_missing_or_stale_is_use_nonce() {
        let client = Client::es256();
        let key = NonceKey::derive(b"master secret for tests");
        let tenant = TenantId::new();
        let check = ProofCheck {
            nonce: NonceRule::Required(&key, tenant),
            ..at_token_endpoint()
        };
        let missing = client.proof(&claims());
        assert_eq!(check_proof(&missing, &check), Err(DpopError::UseNonce));
        let garbage = client.proof(&with(claims(), "nonce", json!("not-a-nonce")));
        assert_eq!(check_proof(&garbage, &check), Err(DpopError::UseNonce));

        let nonce = key.issue(tenant, NOW);
        let good = client.proof(&with(claims(), "nonce", json!(nonce)));
        assert!(check_proof(&good, &check).is_ok());

        // Another tenant's nonce, and one from another server secret.
        let theirs = key.issue(TenantId::new(), NOW);
        let proof = client.proof(&with(claims(), "nonce", json!(theirs)));
        assert_eq!(check_proof(&proof, &check), Err(DpopError::UseNonce));
        let foreign_key = NonceKey::derive(b"another master secret");
        let proof = client.proof(&with(
            claims(),
            "nonce",
            json!(foreign_key.issue(tenant, NOW)),
        ));
        assert_eq!(check_proof(&proof, &check), Err(DpopError::UseNonce));

        // An otherwise invalid proof is invalid, not use_dpop_nonce.
        let wrong_htm = client.proof(&with(claims(), "htm", json!("GET")));
        assert!(matches!(
            check_proof(&wrong_htm, &check),
            Err(DpopError::Invalid(_))
        ));
    }

    #[test]
    fn nonces_live_for_their_period_and_the_next() {
        let key = NonceKey::derive(b"master");
        let tenant = TenantId::new();
        let start = NOW - NOW % NONCE_BUCKET_SECS;
        let nonce = key.issue(tenant, start);
        assert_eq!(nonce, key.issue(tenant, start + NONCE_BUCKET_SECS - 1));
        assert_ne!(nonce, key.issue(tenant, start + NONCE_BUCKET_SECS));
        assert_eq!(nonce.len(), 32);
        assert!(key.accepts(tenant, &nonce, start));
        assert!(key.accepts(tenant, &nonce, start + NONCE_BUCKET_SECS));
        assert!(key.accepts(tenant, &nonce, start + 2 * NONCE_BUCKET_SECS - 1));
        assert!(!key.accepts(tenant, &nonce, start + 2 * NONCE_BUCKET_SECS));
        // A nonce from a later period (clock skew between nodes the other way) is refused.
        assert!(!key.accepts(tenant, &key.issue(tenant, start + NONCE_BUCKET_SECS), start));
        assert!(!key.accepts(TenantId::new(), &nonce, start));
        // Every node derives the same key from the same secret.
        assert!(NonceKey::derive(b"master").accepts(tenant, &nonce, start));
        assert!(key.clone().accepts(tenant, &nonce, start));
        // A forged period with the old MAC fails.
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[7] = bytes[7].wrapping_add(1);
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert!(!key.accepts(tenant, &forged, start + NONCE_BUCKET_SECS));
        assert!(!key.accepts(tenant, &format!("{nonce}="), start));
        assert!(!key.accepts(tenant, "", start));
        // The key never shows in Debug output.
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.0.expose_secret())));
    }

    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn replay_key_is_hex_sha256_of_jkt_and_jti() {
        let proof = DpopProof {
            jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_owned(),
            jti: "-BwC3ESc6acc2lTc".to_owned(),
            iat: 0,
        };
        let key = replay_key(&proof);
        let expected =
            Sha256::digest(b"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I:-BwC3ESc6acc2lTc");
        let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key, expected);
        let other = DpopProof {
            jti: "another".to_owned(),
            ..proof
        };
        assert_ne!(replay_key(&other), key);
    }
}
