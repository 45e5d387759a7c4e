//! The client certificate of a mutual-TLS connection (RFC 8705): its SHA-256 thumbprint for
//! certificate-bound tokens (§3.1), its subject DN and its chain validation against the CAs
//! trusted for `tls_client_auth` (§2.1), and the match against a registered self-signed
//! certificate (§2.2.2). Knows nothing of HTTP: the web layer hands in the DER chain.
//!
//! Subject DNs are compared as [`DistinguishedName`]s, not as strings (RFC 8705 §2.1.2 leaves
//! the rules to the AS), in the normalised form described there.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509, X509PurposeId, X509StoreContext};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Failures reading certificates or CA bundles.
#[derive(Debug, thiserror::Error)]
pub enum MtlsError {
    /// The peer sent no certificate.
    #[error("no client certificate")]
    NoCertificate,
    /// A certificate is not valid DER, or its subject name cannot be read.
    #[error("malformed client certificate")]
    MalformedCertificate,
    /// The CA bundle is not PEM, holds no certificate, or a certificate cannot be added.
    #[error("unusable CA bundle: {0}")]
    InvalidCaBundle(String),
}

/// The CAs trusted to issue client certificates for `tls_client_auth` (RFC 8705 §2.1:
/// `server.tls.client_ca_file`). Cheap to clone; [`TrustedClientCas::none`] trusts nothing.
#[derive(Clone, Default)]
pub struct TrustedClientCas {
    store: Option<Arc<X509Store>>,
    count: usize,
}

impl TrustedClientCas {
    /// Trusts no CA: every chain is unverified (self-signed registration still works).
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts every certificate of a PEM bundle. Chains are checked for the TLS client purpose,
    /// so a certificate whose extended key usage excludes `clientAuth` is refused.
    pub fn from_pem(pem: &[u8]) -> Result<Self, MtlsError> {
        let bad = |e: openssl::error::ErrorStack| MtlsError::InvalidCaBundle(e.to_string());
        let certs = X509::stack_from_pem(pem).map_err(bad)?;
        if certs.is_empty() {
            return Err(MtlsError::InvalidCaBundle(
                "no certificate in the bundle".into(),
            ));
        }
        let count = certs.len();
        let mut builder = X509StoreBuilder::new().map_err(bad)?;
        for cert in certs {
            builder.add_cert(cert).map_err(bad)?;
        }
        builder
            .set_purpose(X509PurposeId::SSL_CLIENT)
            .map_err(bad)?;
        Ok(Self {
            store: Some(Arc::new(builder.build())),
            count,
        })
    }

    /// How many CA certificates are trusted.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no CA is trusted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `leaf`, with the intermediates the client sent, chains to a trusted CA and is
    /// within its validity period now (RFC 8705 §2.1: "PKI Mutual-TLS Method").
    fn verify(&self, leaf: &X509, intermediates: &[X509]) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        let verified = || -> Result<bool, openssl::error::ErrorStack> {
            let mut chain = Stack::new()?;
            for cert in intermediates {
                chain.push(cert.clone())?;
            }
            let mut ctx = X509StoreContext::new()?;
            ctx.init(store, leaf, &chain, |ctx| ctx.verify_cert())
        };
        verified().unwrap_or(false)
    }
}

/// The certificate a client presented in the TLS handshake, as the token endpoint sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The client's own (leaf) certificate, DER.
    pub der: Vec<u8>,
    /// Every certificate the client sent, leaf first (`chain[0] == der`), DER.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's subject in RFC 4514 string form (most specific RDN first), e.g.
    /// `CN=client,O=Example,C=SE`.
    pub subject_dn: String,
    /// `x5t#S256`: base64url (no padding) of the SHA-256 of [`Self::der`] (RFC 8705 §3.1).
    pub x5t_s256: String,
    /// Whether the chain verified against the trusted client CAs (`server.tls.client_ca_file`).
    pub chain_verified: bool,
}

impl ClientCertificate {
    /// Reads the chain a client sent (leaf first, DER) and verifies it against `trusted`.
    /// Verification failure is not an error: it leaves [`Self::chain_verified`] false.
    pub fn from_der_chain(
        chain: Vec<Vec<u8>>,
        trusted: Option<&TrustedClientCas>,
    ) -> Result<Self, MtlsError> {
        let certs = chain
            .iter()
            .map(|der| X509::from_der(der).map_err(|_| MtlsError::MalformedCertificate))
            .collect::<Result<Vec<_>, _>>()?;
        let (leaf, intermediates) = certs.split_first().ok_or(MtlsError::NoCertificate)?;
        let name_der = leaf
            .subject_name()
            .to_der()
            .map_err(|_| MtlsError::MalformedCertificate)?;
        let subject = DistinguishedName::from_der(&name_der)?;
        let chain_verified = trusted.is_some_and(|cas| cas.verify(leaf, intermediates));
        let der = chain[0].clone();
        Ok(Self {
            x5t_s256: x5t_s256(&der),
            subject_dn: subject.to_string(),
            der,
            chain,
            chain_verified,
        })
    }

    /// Whether the subject equals `expected` (a registered `tls_client_auth_subject_dn`, RFC
    /// 8705 §2.1.2) under [`DistinguishedName::matches`]. An unparsable `expected` never matches.
    pub fn subject_matches(&self, expected: &str) -> bool {
        match (
            DistinguishedName::parse(&self.subject_dn),
            DistinguishedName::parse(expected),
        ) {
            (Ok(actual), Ok(expected)) => actual.matches(&expected),
            _ => false,
        }
    }

    /// Whether this certificate is the first `x5c` entry of one of the keys of a client's
    /// registered `jwks` (RFC 8705 §2.2.2; `x5c` entries are standard base64 of DER, RFC 7517
    /// §4.7). The comparison is of the whole DER certificate.
    pub fn is_registered_in(&self, jwks: &Value) -> bool {
        let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
            return false;
        };
        keys.iter()
            .filter_map(|key| key.get("x5c")?.as_array()?.first()?.as_str())
            .filter_map(|b64| STANDARD.decode(b64.trim()).ok())
            .any(|der| der == self.der)
    }
}

/// `x5t#S256` of a DER certificate: base64url without padding of its SHA-256 (RFC 8705 §3.1).
pub fn x5t_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// One attribute of an RDN: the numeric OID of its type and its value as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Attribute {
    oid: String,
    value: String,
}

/// An X.500 distinguished name, as RDNs in RFC 4514 string order (most specific first, the
/// reverse of the certificate's DER order).
///
/// Two names [`match`](Self::matches) when, after normalisation, they have the same RDNs in the
/// same order, each with the same set of attributes:
/// - attribute types are compared as OIDs, so `CN`, `cn`, `2.5.4.3` and `OID.2.5.4.3` are one
///   type (the RFC 4514 §3 names, plus `emailAddress`/`E`, `serialNumber`, `SN` = surname,
///   `GN`/`givenName`, `T`/`title`, `S` = `ST`, `organizationIdentifier` and a few others);
/// - values are compared with X.520 `caseIgnoreMatch` semantics as simplified by RFC 4518:
///   escapes and `#`-hex BER strings decoded, leading and trailing spaces dropped, inner runs
///   of white space made one space, and letters compared case-insensitively;
/// - the attributes of a multi-valued RDN (`A=1+B=2`) are an unordered set.
///
/// Besides RFC 4514, `;` is accepted as an RDN separator (RFC 2253 legacy) and spaces around
/// separators are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName {
    rdns: Vec<Vec<Attribute>>,
}

/// A DN string that is not RFC 4514.
#[derive(Debug, thiserror::Error)]
#[error("not an RFC 4514 distinguished name: {0}")]
pub struct InvalidDn(&'static str);

impl DistinguishedName {
    /// Parses the RFC 4514 string form, e.g. `CN=client\, inc.,O=Example,C=SE`.
    pub fn parse(raw: &str) -> Result<Self, InvalidDn> {
        let mut parser = DnParser {
            input: raw.as_bytes(),
            pos: 0,
        };
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        parser.skip_spaces();
        if parser.at_end() {
            return Ok(Self { rdns });
        }
        loop {
            rdn.push(parser.attribute()?);
            parser.skip_spaces();
            match parser.next() {
                None => {
                    rdns.push(std::mem::take(&mut rdn));
                    break;
                }
                Some(b'+') => {}
                Some(b',' | b';') => rdns.push(std::mem::take(&mut rdn)),
                Some(_) => return Err(InvalidDn("unexpected character after a value")),
            }
        }
        Ok(Self { rdns })
    }

    /// Reads a DER `Name` (RFC 5280 §4.1.2.4), e.g. a certificate's subject.
    pub fn from_der(der: &[u8]) -> Result<Self, MtlsError> {
        let element = |input| read_tlv(input).ok_or(MtlsError::MalformedCertificate);
        let name = element(der)?;
        if name.tag != 0x30 || !name.rest.is_empty() {
            return Err(MtlsError::MalformedCertificate);
        }
        let mut rdns = Vec::new();
        let mut seq = name.content;
        while !seq.is_empty() {
            let set = element(seq)?;
            if set.tag != 0x31 {
                return Err(MtlsError::MalformedCertificate);
            }
            seq = set.rest;
            let mut rdn = Vec::new();
            let mut atvs = set.content;
            while !atvs.is_empty() {
                let atv = element(atvs)?;
                atvs = atv.rest;
                let oid = element(atv.content)?;
                let value = element(oid.rest)?;
                if atv.tag != 0x30 || oid.tag != 0x06 || !value.rest.is_empty() {
                    return Err(MtlsError::MalformedCertificate);
                }
                rdn.push(Attribute {
                    oid: decode_oid(oid.content).ok_or(MtlsError::MalformedCertificate)?,
                    value: decode_string(value.tag, value.content)
                        .unwrap_or_else(|| format!("#{}", hex_lower(value.whole))),
                });
            }
            rdns.push(rdn);
        }
        rdns.reverse();
        Ok(Self { rdns })
    }

    /// Whether two names are the same name under the normalisation described on the type.
    pub fn matches(&self, other: &Self) -> bool {
        self.normalised() == other.normalised()
    }

    fn normalised(&self) -> Vec<Vec<(String, String)>> {
        self.rdns
            .iter()
            .map(|rdn| {
                let mut attrs: Vec<(String, String)> = rdn
                    .iter()
                    .map(|a| (a.oid.clone(), normalise_value(&a.value)))
                    .collect();
                attrs.sort();
                attrs
            })
            .collect()
    }
}

/// RFC 4514 §2: RDNs joined by `,`, attributes by `+`, registered short names where known
/// and dotted OIDs otherwise, values escaped per §2.4.
impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, attr) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                let name = ATTRIBUTE_NAMES
                    .iter()
                    .find(|(_, oid)| *oid == attr.oid)
                    .map_or(attr.oid.as_str(), |(name, _)| name);
                write!(f, "{name}=")?;
                write_escaped(f, &attr.value)?;
            }
        }
        Ok(())
    }
}

/// Attribute type names and their OIDs; the first name of an OID is the one printed (the RFC
/// 4514 §3 table first, then registered LDAP descriptors), the others are accepted aliases.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("C", "2.5.4.6"),
    ("STREET", "2.5.4.9"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
    ("serialNumber", "2.5.4.5"),
    ("SN", "2.5.4.4"),
    ("title", "2.5.4.12"),
    ("givenName", "2.5.4.42"),
    ("initials", "2.5.4.43"),
    ("dnQualifier", "2.5.4.46"),
    ("pseudonym", "2.5.4.65"),
    ("postalCode", "2.5.4.17"),
    ("businessCategory", "2.5.4.15"),
    ("organizationIdentifier", "2.5.4.97"),
    ("jurisdictionC", "1.3.6.1.4.1.311.60.2.1.3"),
    ("jurisdictionST", "1.3.6.1.4.1.311.60.2.1.2"),
    ("jurisdictionL", "1.3.6.1.4.1.311.60.2.1.1"),
    ("commonName", "2.5.4.3"),
    ("localityName", "2.5.4.7"),
    ("stateOrProvinceName", "2.5.4.8"),
    ("S", "2.5.4.8"),
    ("organizationName", "2.5.4.10"),
    ("organizationalUnitName", "2.5.4.11"),
    ("countryName", "2.5.4.6"),
    ("street", "2.5.4.9"),
    ("domainComponent", "0.9.2342.19200300.100.1.25"),
    ("userId", "0.9.2342.19200300.100.1.1"),
    ("E", "1.2.840.113549.1.9.1"),
    ("email", "1.2.840.113549.1.9.1"),
    ("surname", "2.5.4.4"),
    ("T", "2.5.4.12"),
    ("GN", "2.5.4.42"),
];

fn oid_of(name: &str) -> Option<String> {
    let numeric = name
        .strip_prefix("OID.")
        .or_else(|| name.strip_prefix("oid."))
        .unwrap_or(name);
    if !numeric.is_empty()
        && numeric.split('.').count() >= 2
        && numeric
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(numeric.to_owned());
    }
    ATTRIBUTE_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, oid)| (*oid).to_owned())
}

/// RFC 4518-style preparation for `caseIgnoreMatch`: trimmed, inner white space collapsed,
/// lower-cased.
fn normalise_value(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// RFC 4514 §2.4 escaping.
fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => write!(f, "\\{c}")?,
            '#' if i == 0 => f.write_str("\\#")?,
            ' ' if i == 0 || i == last => f.write_str("\\ ")?,
            '\0' => f.write_str("\\00")?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

struct DnParser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl DnParser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// `attributeType "=" attributeValue`.
    fn attribute(&mut self) -> Result<Attribute, InvalidDn> {
        self.skip_spaces();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            self.pos += 1;
        }
        let name = std::str::from_utf8(&self.input[start..self.pos])
            .map_err(|_| InvalidDn("attribute type"))?;
        let oid = oid_of(name).ok_or(InvalidDn("unknown attribute type"))?;
        self.skip_spaces();
        if self.next() != Some(b'=') {
            return Err(InvalidDn("expected '=' after the attribute type"));
        }
        self.skip_spaces();
        let value = if self.peek() == Some(b'#') {
            self.hex_value()?
        } else {
            self.string_value()?
        };
        Ok(Attribute { oid, value })
    }

    /// `"#" hexstring`: the BER encoding of the value (RFC 4514 §2.4, §3).
    fn hex_value(&mut self) -> Result<String, InvalidDn> {
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let hex = std::str::from_utf8(&self.input[start..self.pos])
            .map_err(|_| InvalidDn("hex value"))?;
        let ber = decode_hex(hex).ok_or(InvalidDn("hex value"))?;
        match read_tlv(&ber) {
            Some(Tlv {
                tag,
                content,
                rest: [],
                ..
            }) => Ok(decode_string(tag, content)
                .unwrap_or_else(|| format!("#{}", hex.to_ascii_lowercase()))),
            _ => Err(InvalidDn("hex value is not one BER element")),
        }
    }

    /// A string value with `\` escapes (a special character or two hex digits of UTF-8).
    fn string_value(&mut self) -> Result<String, InvalidDn> {
        let mut bytes = Vec::new();
        // Length of `bytes` up to the last escaped or non-space byte: unescaped trailing
        // spaces are not part of the value.
        let mut keep = 0;
        while let Some(b) = self.peek() {
            match b {
                b',' | b'+' | b';' => break,
                b'\\' => {
                    self.pos += 1;
                    let c = self.next().ok_or(InvalidDn("dangling escape"))?;
                    if c.is_ascii_hexdigit() {
                        let lo = self.next().ok_or(InvalidDn("short hex escape"))?;
                        let pair = [c, lo];
                        let hex = std::str::from_utf8(&pair).map_err(|_| InvalidDn("escape"))?;
                        let byte = u8::from_str_radix(hex, 16).map_err(|_| InvalidDn("escape"))?;
                        bytes.push(byte);
                    } else {
                        bytes.push(c);
                    }
                    keep = bytes.len();
                }
                _ => {
                    self.pos += 1;
                    bytes.push(b);
                    if b != b' ' {
                        keep = bytes.len();
                    }
                }
            }
        }
        bytes.truncate(keep);
        String::from_utf8(bytes).map_err(|_| InvalidDn("value is not UTF-8"))
    }
}

/// One DER/BER element and what follows it.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    /// The whole element: tag, length and content.
    whole: &'a [u8],
    rest: &'a [u8],
}

/// Reads one DER/BER element with a definite length.
fn read_tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in names
    }
    let (&first, mut rest) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, after) = rest.split_at(n);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    let whole = &input[..input.len() - rest.len()];
    Some(Tlv {
        tag,
        content,
        whole,
        rest,
    })
}

/// Dotted-decimal form of an OID's content octets.
fn decode_oid(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == content.len() {
            return None;
        }
    }
    if arcs.is_empty() {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The text of an ASN.1 string type used in names; `None` for other types.
fn decode_string(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => String::from_utf8(content.to_vec()).ok(),
        // TeletexString: Latin-1 in practice
        0x14 => Some(content.iter().map(|b| char::from(*b)).collect()),
        // BMPString: UTF-16BE
        0x1e => {
            if !content.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE
        0x1c => {
            if !content.len().is_multiple_of(4) {
                return None;
            }
            content
                .chunks_exact(4)
                .map(|q| char::from_u32(u32::from_be_bytes([q[0], q[1], q[2], q[3]])))
                .collect()
        }
        _ => None,
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
    use openssl::x509::{X509Builder, X509NameBuilder};

    /// A P-256 key (fast to generate).
    pub(crate) fn key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// A certificate for `subject` (DER order: `(field, value)` pairs), signed by `issuer`
    /// (self-signed when `None`); a CA when `ca`.
    pub(crate) fn cert(
        subject: &[(&str, &str)],
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
        ca: bool,
    ) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        for (field, value) in subject {
            name.append_entry_by_text(field, value).unwrap();
        }
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(rand_serial())
            .unwrap()
            .to_asn1_integer()
            .unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
            .unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        if ca {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(KeyUsage::new().key_cert_sign().crl_sign().build().unwrap())
                .unwrap();
        } else {
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                .unwrap();
        }
        b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
            .unwrap();
        b.build()
    }

    fn rand_serial() -> u32 {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    fn trusted(ca: &X509) -> TrustedClientCas {
        TrustedClientCas::from_pem(&ca.to_pem().unwrap()).unwrap()
    }

    #[test]
    fn ca_issued_certificate_verifies_and_reads_its_subject_in_rfc4514_order() {
        let ca_key = key();
        let ca = cert(&[("CN", "Test CA")], &ca_key, None, true);
        let leaf = cert(
            &[("C", "SE"), ("O", "Example, Inc."), ("CN", "client-1")],
            &key(),
            Some((&ca, &ca_key)),
            false,
        );
        let der = leaf.to_der().unwrap();
        let c = ClientCertificate::from_der_chain(vec![der.clone()], Some(&trusted(&ca))).unwrap();
        assert!(c.chain_verified);
        assert_eq!(c.subject_dn, r"CN=client-1,O=Example\, Inc.,C=SE");
        assert_eq!(c.der, der);
        assert_eq!(c.chain, vec![der.clone()]);
        // RFC 8705 §3.1: base64url SHA-256 of the DER, 43 characters.
        assert_eq!(c.x5t_s256, URL_SAFE_NO_PAD.encode(Sha256::digest(&der)));
        assert_eq!(c.x5t_s256.len(), 43);
        assert!(c.subject_matches(r"cn=client-1, o=example\, inc., c=se"));
        assert!(c.subject_matches("2.5.4.3=CLIENT-1,O=Example\\2c Inc.,C=SE"));
        assert!(!c.subject_matches("CN=client-2,O=Example\\, Inc.,C=SE"));
        assert!(!c.subject_matches("C=SE,O=Example\\, Inc.,CN=client-1"));
        assert!(!c.subject_matches("CN=client-1,O=Example\\, Inc."));
        assert!(!c.subject_matches("not a dn"));
    }

    #[test]
    fn intermediates_sent_by_the_client_complete_the_chain() {
        let root_key = key();
        let root = cert(&[("CN", "Root")], &root_key, None, true);
        let mid_key = key();
        let mid = cert(
            &[("CN", "Issuing")],
            &mid_key,
            Some((&root, &root_key)),
            true,
        );
        let leaf = cert(&[("CN", "c")], &key(), Some((&mid, &mid_key)), false);
        let cas = trusted(&root);
        let alone = ClientCertificate::from_der_chain(vec![leaf.to_der().unwrap()], Some(&cas));
        assert!(!alone.unwrap().chain_verified);
        let full = ClientCertificate::from_der_chain(
            vec![leaf.to_der().unwrap(), mid.to_der().unwrap()],
            Some(&cas),
        )
        .unwrap();
        assert!(full.chain_verified);
        assert_eq!(full.chain.len(), 2);
    }

    #[test]
    fn untrusted_self_signed_and_unconfigured_chains_are_not_verified() {
        let ca_key = key();
        let ca = cert(&[("CN", "Test CA")], &ca_key, None, true);
        let other_key = key();
        let other = cert(&[("CN", "Other CA")], &other_key, None, true);
        let leaf = cert(&[("CN", "c")], &key(), Some((&other, &other_key)), false);
        let der = leaf.to_der().unwrap();
        let cas = trusted(&ca);
        assert!(
            !ClientCertificate::from_der_chain(vec![der.clone()], Some(&cas))
                .unwrap()
                .chain_verified
        );
        let k = key();
        let selfsigned = cert(&[("CN", "c")], &k, None, false).to_der().unwrap();
        assert!(
            !ClientCertificate::from_der_chain(vec![selfsigned], Some(&cas))
                .unwrap()
                .chain_verified
        );
        let issued = cert(&[("CN", "c")], &key(), Some((&ca, &ca_key)), false)
            .to_der()
            .unwrap();
        assert!(
            !ClientCertificate::from_der_chain(vec![issued.clone()], None)
                .unwrap()
                .chain_verified
        );
        assert!(
            !ClientCertificate::from_der_chain(vec![issued], Some(&TrustedClientCas::none()))
                .unwrap()
                .chain_verified
        );
    }

    #[test]
    fn server_only_certificates_fail_the_client_purpose() {
        let ca_key = key();
        let ca = cert(&[("CN", "Test CA")], &ca_key, None, true);
        let k = key();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "server").unwrap();
        let name = name.build();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(ca.subject_name()).unwrap();
        b.set_pubkey(&k).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
            .unwrap();
        b.sign(&ca_key, MessageDigest::sha256()).unwrap();
        let der = b.build().to_der().unwrap();
        let c = ClientCertificate::from_der_chain(vec![der], Some(&trusted(&ca))).unwrap();
        assert!(!c.chain_verified);
    }

    #[test]
    fn malformed_input_is_refused() {
        assert!(matches!(
            ClientCertificate::from_der_chain(vec![], None),
            Err(MtlsError::NoCertificate)
        ));
        assert!(matches!(
            ClientCertificate::from_der_chain(vec![vec![0x30, 0x03, 1, 2, 3]], None),
            Err(MtlsError::MalformedCertificate)
        ));
        assert!(TrustedClientCas::from_pem(b"").is_err());
        assert!(TrustedClientCas::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }

    #[test]
    fn self_signed_certificate_matches_the_first_x5c_of_a_registered_key() {
        let k = key();
        let mine = cert(&[("CN", "rp")], &k, None, false);
        let theirs = cert(&[("CN", "rp")], &key(), None, false);
        let c = ClientCertificate::from_der_chain(vec![mine.to_der().unwrap()], None).unwrap();
        let b64 = |x: &X509| STANDARD.encode(x.to_der().unwrap());
        let jwks = serde_json::json!({"keys": [
            {"kty": "EC", "x5c": [b64(&theirs)]},
            {"kty": "EC", "x5c": [b64(&mine), b64(&theirs)]},
        ]});
        assert!(c.is_registered_in(&jwks));
        // Only the first x5c entry of a key is its certificate.
        let second = serde_json::json!({"keys": [{"x5c": [b64(&theirs), b64(&mine)]}]});
        assert!(!c.is_registered_in(&second));
        // Keys without x5c, and documents without keys, match nothing.
        assert!(!c.is_registered_in(&serde_json::json!({})));
        assert!(!c.is_registered_in(&serde_json::json!({"keys": [{"kty": "EC"}]})));
    }

    #[test]
    fn dn_strings_parse_escape_and_round_trip() {
        let dn = DistinguishedName::parse(r"CN=a\+b \2C c\ ,O=\#1,OU=x+UID=y,C=SE").unwrap();
        assert_eq!(dn.to_string(), r"CN=a\+b \, c\ ,O=\#1,OU=x+UID=y,C=SE");
        assert!(
            DistinguishedName::parse(&dn.to_string())
                .unwrap()
                .matches(&dn)
        );
        // Multi-valued RDNs are sets; RDN order matters.
        let a = DistinguishedName::parse("UID=y+OU=x,C=SE").unwrap();
        let b = DistinguishedName::parse("OU=x+UID=y,C=SE").unwrap();
        assert!(a.matches(&b));
        let c = DistinguishedName::parse("C=SE,OU=x+UID=y").unwrap();
        assert!(!b.matches(&c));
        // Types by name, alias or OID; values case- and space-insensitive.
        let x = DistinguishedName::parse("emailAddress=A@Example.com,commonName=Ada  Lovelace")
            .unwrap();
        let y = DistinguishedName::parse(" E = a@example.com ; OID.2.5.4.3=ada lovelace").unwrap();
        assert!(x.matches(&y));
        // BER hex values decode to their string.
        let h = DistinguishedName::parse("CN=#0c0461626364").unwrap();
        assert!(h.matches(&DistinguishedName::parse("CN=abcd").unwrap()));
        assert_eq!(DistinguishedName::parse("").unwrap().to_string(), "");
        for bad in [
            "CN",
            "=x",
            "XX=1",
            "CN=a\\",
            "CN=\\4",
            "CN=#zz",
            "CN=#0c05ab",
        ] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unusual_attributes_of_a_certificate_subject_survive_the_string_form() {
        let k = key();
        let leaf = cert(
            &[
                ("DC", "com"),
                ("DC", "example"),
                ("1.3.6.1.4.1.99999.1", "custom"),
                ("emailAddress", "rp@example.com"),
                ("CN", " padded #1 "),
            ],
            &k,
            None,
            false,
        );
        let c = ClientCertificate::from_der_chain(vec![leaf.to_der().unwrap()], None).unwrap();
        assert_eq!(
            c.subject_dn,
            r"CN=\ padded #1\ ,emailAddress=rp@example.com,1.3.6.1.4.1.99999.1=custom,DC=example,DC=com"
        );
        assert!(c.subject_matches(
            "CN=padded #1,E=rp@example.com,1.3.6.1.4.1.99999.1=Custom,DC=example,DC=com"
        ));
    }
}
