//! Redirect URIs, parsed once at the edge and matched by exact string (RFC 9700 §4.1.3,
//! OIDC Core §3.1.2.1).

use serde::Serialize;

/// Why a redirect URI was refused at registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRedirectUri {
    /// Not an absolute URI.
    #[error("redirect URI `{0}` is not an absolute URI")]
    NotAbsolute(String),
    /// Has a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI `{0}` must not contain a fragment")]
    Fragment(String),
    /// Plain http to a host other than loopback (RFC 9700 §2.6, RFC 8252 §7.3).
    #[error("redirect URI `{0}` must use https (plain http is allowed only for loopback)")]
    InsecureHttp(String),
}

/// A registered redirect URI. Matching is exact string comparison of the registered text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Parses a redirect URI for registration: absolute, no fragment, https or loopback http
    /// (private-use schemes of native apps, RFC 8252 §7.1, are allowed).
    pub fn parse(raw: &str) -> Result<Self, InvalidRedirectUri> {
        let trimmed: String = raw.chars().take(200).collect();
        if raw.len() > 2000 || raw.contains('#') {
            return Err(if raw.contains('#') {
                InvalidRedirectUri::Fragment(trimmed)
            } else {
                InvalidRedirectUri::NotAbsolute(trimmed)
            });
        }
        let url =
            url::Url::parse(raw).map_err(|_| InvalidRedirectUri::NotAbsolute(trimmed.clone()))?;
        if url.cannot_be_a_base() && url.scheme() != "urn" && !url.scheme().contains('.') {
            return Err(InvalidRedirectUri::NotAbsolute(trimmed));
        }
        if url.scheme() == "http" {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(InvalidRedirectUri::InsecureHttp(trimmed));
            }
        }
        Ok(Self(raw.to_owned()))
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules_of_rfc_9700() {
        for good in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
        assert!(matches!(
            RedirectUri::parse("https://a.example/cb#x"),
            Err(InvalidRedirectUri::Fragment(_))
        ));
        assert!(matches!(
            RedirectUri::parse("/relative"),
            Err(InvalidRedirectUri::NotAbsolute(_))
        ));
        assert!(matches!(
            RedirectUri::parse("http://evil.example/cb"),
            Err(InvalidRedirectUri::InsecureHttp(_))
        ));
    }
}
