//! Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 6 digits, 30-second
//! steps, as every authenticator app implements them; base32 secrets (RFC 4648 §6) and the
//! `otpauth://` enrolment URI apps scan from a QR code. Pure functions: storage, replay
//! protection and throttling live in [`crate::Authenticator`].

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Secret length: 160 bits, the HMAC-SHA1 output size RFC 4226 §4 R6 recommends.
pub const SECRET_BYTES: usize = 20;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Length of a time step, seconds (RFC 6238 §4.1 X, the default).
pub const PERIOD: i64 = 30;
/// Steps accepted either side of the current one (RFC 6238 §5.2 recommends at most one
/// backward step for network delay; one forward step tolerates a fast clock).
pub const WINDOW: i64 = 1;

/// The RFC 4648 §6 base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh random 160-bit secret.
pub fn generate_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// Base32 without padding (RFC 4648 §6; authenticator apps expect no `=`).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and `=` padding ignored); `None` on any other
/// character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=')) {
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the big-endian counter, dynamically truncated to 31 bits,
/// modulo 10^`digits`. `None` only if OpenSSL fails.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let key = PKey::hmac(secret).ok()?;
    let mut signer = Signer::new(MessageDigest::sha1(), &key).ok()?;
    signer.update(&counter.to_be_bytes()).ok()?;
    let mac = signer.sign_to_vec().ok()?;
    // RFC 4226 §5.4: the low four bits of the last byte pick the offset.
    let offset = usize::from(*mac.last()? & 0x0f);
    let chunk = mac.get(offset..offset + 4)?;
    let binary = u32::from_be_bytes([chunk[0] & 0x7f, chunk[1], chunk[2], chunk[3]]);
    Some(binary % 10u32.pow(digits))
}

/// The time step of Unix time `unix` (RFC 6238 §4.2: T = floor((Current Unix time - T0) / X),
/// T0 = 0).
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(PERIOD)
}

/// The `digits`-digit code for time step `step`, zero-padded.
pub fn code_at(secret: &[u8], step: i64, digits: u32) -> Option<String> {
    let counter = u64::try_from(step).ok()?;
    hotp(secret, counter, digits).map(|c| format!("{c:0width$}", width = digits as usize))
}

/// The time step within [`WINDOW`] of `now` whose code is `presented`, if any. Comparison is
/// in constant time; a malformed code matches nothing.
pub fn matching_step(secret: &[u8], presented: &str, now: i64) -> Option<i64> {
    let presented = presented.trim();
    if presented.len() != DIGITS as usize || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared, matched or not.
    for step in current - WINDOW..=current + WINDOW {
        let expected = code_at(secret, step, DIGITS)?;
        if bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// The key URI an authenticator app scans: `otpauth://totp/{issuer}:{account}?secret=…` with
/// the issuer repeated as a parameter and the (default) algorithm, digits and period spelled out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", encode(issuer), encode(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        base32_encode(secret),
        encode(issuer),
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B / RFC 4226 Appendix D: the ASCII of "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), Some(want), "{counter}");
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_sha1_vectors() {
        // (Unix time, 8-digit TOTP with HMAC-SHA1), RFC 6238 Appendix B.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, want) in vectors {
            assert_eq!(code_at(RFC_SECRET, step_of(time), 8).as_deref(), Some(want));
            // Six digits are the last six of the eight (the same truncation, modulo 10^6).
            assert_eq!(
                code_at(RFC_SECRET, step_of(time), 6).as_deref(),
                Some(&want[2..])
            );
        }
    }

    #[test]
    fn codes_match_within_one_step_either_side_only() {
        let now = 1_111_111_111;
        let step = step_of(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at(RFC_SECRET, step + offset, 6).unwrap_or_default();
            let got = matching_step(RFC_SECRET, &code, now);
            assert_eq!(got.is_some(), accepted, "offset {offset}");
            if accepted {
                assert_eq!(got, Some(step + offset));
            }
        }
        assert_eq!(matching_step(RFC_SECRET, "14050471", now), None);
        assert_eq!(matching_step(RFC_SECRET, "05047a", now), None);
        assert_eq!(matching_step(RFC_SECRET, "", now), None);
    }

    #[test]
    fn base32_follows_rfc_4648_test_vectors_without_padding() {
        // RFC 4648 §10.
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(
            base32_decode("mzxw 6ytb oi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode("MZXW1"), None);
        let secret = generate_secret();
        assert_eq!(base32_encode(&secret).len(), 32);
        assert_eq!(
            base32_decode(&base32_encode(&secret)).as_deref(),
            Some(&secret[..])
        );
    }

    #[test]
    fn the_key_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("Acme Corp", "alice@example.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp:alice%40example.com?secret=MZXW6YTBOI&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
    }
}
