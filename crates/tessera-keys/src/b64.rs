//! The base64 flavours in use: unpadded base64url for JOSE (RFC 7515 §2) and a lenient decoder for
//! operator-supplied master keys.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

pub(crate) use base64::engine::general_purpose::STANDARD;
pub(crate) use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet, padding optional.
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// URL-safe alphabet, padding optional.
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Base64url without padding (RFC 7515 §2), as every JOSE field is encoded.
pub(crate) fn url(bytes: &[u8]) -> String {
    URL.encode(bytes)
}

/// Decodes standard or URL-safe base64, padded or not.
pub(crate) fn decode_any(text: &str) -> Option<Vec<u8>> {
    STANDARD_ANY_PAD
        .decode(text)
        .or_else(|_| URL_SAFE_ANY_PAD.decode(text))
        .ok()
}

/// Encoded length of `n` bytes in unpadded base64.
pub(crate) const fn url_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}
