//! Subject identifier types (OIDC Core §8): a `public` client sees the user id as `sub`, a
//! `pairwise` one a value derived from its sector, so clients of different sectors cannot
//! correlate a user by `sub` (OIDC Core §8.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `subject_type` of a client (OIDC Core §8, OIDC Registration §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// The same `sub` (the user id) for every client.
    #[default]
    Public,
    /// A `sub` per sector identifier (OIDC Core §8.1).
    Pairwise,
}

impl SubjectType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Pairwise => "pairwise",
        }
    }

    /// Whether this is the default, `public`.
    pub fn is_public(&self) -> bool {
        *self == Self::Public
    }
}

/// Longest `sector_identifier_uri` accepted, in bytes.
pub const MAX_SECTOR_URI_LEN: usize = 2048;

/// Parses a `sector_identifier_uri` (OIDC Registration §2): an absolute `https` URL without
/// fragment or credentials, or plain `http` for a loopback host. The error does not echo it.
pub fn parse_sector_identifier_uri(raw: &str) -> Result<url::Url, &'static str> {
    if raw.len() > MAX_SECTOR_URI_LEN {
        return Err("sector_identifier_uri is too long");
    }
    let url = url::Url::parse(raw).map_err(|_| "sector_identifier_uri must be an absolute URL")?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("sector_identifier_uri must not carry a fragment or credentials");
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if crate::client::is_loopback(&url) => Ok(url),
        _ => {
            Err("sector_identifier_uri must be an https URL (plain http only for a loopback host)")
        }
    }
}

/// The sector identifier of a client (OIDC Core §8.1): the host of its `sector_identifier_uri`
/// when it registered one, else the host of its redirect URIs, which must then all share one
/// host. `Ok(None)` when there is neither (a client without redirect URIs and sector URI).
pub fn sector_identifier(
    redirect_uris: &[String],
    sector_identifier_uri: Option<&str>,
) -> Result<Option<String>, &'static str> {
    if let Some(raw) = sector_identifier_uri {
        let url = parse_sector_identifier_uri(raw)?;
        return Ok(url.host_str().map(str::to_ascii_lowercase));
    }
    let mut host: Option<String> = None;
    for raw in redirect_uris {
        let url = url::Url::parse(raw).map_err(|_| "a redirect URI is not an absolute URL")?;
        // A custom-scheme URI of a native app has no host; its scheme names the app.
        let this = url
            .host_str()
            .map_or_else(|| url.scheme().to_owned(), str::to_owned)
            .to_ascii_lowercase();
        match &host {
            None => host = Some(this),
            // OIDC Core §8.1: without a sector_identifier_uri the redirect URIs must share a
            // host, which is then the sector.
            Some(h) if *h != this => {
                return Err(
                    "pairwise subjects need a sector_identifier_uri when the redirect URIs span several hosts (OIDC Core §8.1)",
                );
            }
            Some(_) => {}
        }
    }
    Ok(host)
}

/// The pairwise `sub` of a user at a sector (OIDC Core §8.1): base64url of
/// SHA-256(sector ‖ local account id ‖ salt), the salt being secret to the provider so the
/// value cannot be recomputed by a client, and stable so the same user keeps it.
pub fn pairwise_subject(sector: &str, user: &str, salt: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(sector.as_bytes());
    hash.update(user.as_bytes());
    hash.update(salt);
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn subject_type_defaults_to_public_and_round_trips() {
        assert_eq!(SubjectType::default(), SubjectType::Public);
        for t in [SubjectType::Public, SubjectType::Pairwise] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<SubjectType>(&json).unwrap(), t);
        }
        assert!(serde_json::from_str::<SubjectType>("\"Pairwise\"").is_err());
    }

    #[test]
    fn the_sector_is_the_sector_uri_host_or_the_one_redirect_host() {
        let one_host = uris(&[
            "https://App.example.com/cb",
            "https://app.example.com/other",
        ]);
        assert_eq!(
            sector_identifier(&one_host, None).unwrap().as_deref(),
            Some("app.example.com")
        );
        let two_hosts = uris(&["https://a.example.com/cb", "https://b.example.com/cb"]);
        assert!(sector_identifier(&two_hosts, None).is_err());
        assert_eq!(
            sector_identifier(&two_hosts, Some("https://sector.example.com/uris.json"))
                .unwrap()
                .as_deref(),
            Some("sector.example.com")
        );
        assert_eq!(sector_identifier(&[], None).unwrap(), None);
        assert_eq!(
            sector_identifier(&uris(&["com.example.app:/cb"]), None)
                .unwrap()
                .as_deref(),
            Some("com.example.app")
        );
        assert!(sector_identifier(&two_hosts, Some("http://sector.example.com/u")).is_err());
        assert!(sector_identifier(&[], Some("http://127.0.0.1:9/u")).is_ok());
        assert!(sector_identifier(&[], Some("https://s.example.com/u#f")).is_err());
    }

    #[test]
    fn pairwise_subjects_differ_by_sector_user_and_salt_and_are_stable() {
        let salt = [7u8; 32];
        let a = pairwise_subject("a.example.com", "user-1", &salt);
        assert_eq!(a, pairwise_subject("a.example.com", "user-1", &salt));
        assert_eq!(a.len(), 43);
        assert_ne!(a, pairwise_subject("b.example.com", "user-1", &salt));
        assert_ne!(a, pairwise_subject("a.example.com", "user-2", &salt));
        assert_ne!(a, pairwise_subject("a.example.com", "user-1", &[8u8; 32]));
        assert_ne!(a, "user-1");
    }
}
