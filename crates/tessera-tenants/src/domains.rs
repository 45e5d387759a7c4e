//! Custom domains: the host-name rules a tenant's domain must meet ([`CustomDomain::parse`]) and
//! the set of host names the deployment answers as itself ([`OwnHosts`]), which no tenant may
//! claim. Only lowercase ASCII names are stored and compared; internationalised names are given
//! in their A-label (`xn--`) form (RFC 5890 §2.3.2.1).

use std::collections::HashSet;

/// The longest host name (RFC 1035 §2.3.4, written without the root's trailing dot).
pub const MAX_DOMAIN_LEN: usize = 253;

/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid custom domain: lowercase LDH labels (RFC 1123 §2.1, RFC 3696 §2), at
/// least two of them, not an IP address, no port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomDomain(String);

impl CustomDomain {
    /// Lowercases `raw` (and drops one trailing root dot) and checks it; the error says what is
    /// wrong, in words an administrator can act on.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the domain is empty".into());
        }
        if raw.contains("://") || raw.contains('/') {
            return Err("give a host name such as login.example.com, not a URL".into());
        }
        if !raw.is_ascii() {
            return Err(
                "the domain must be ASCII; write an internationalised name in its xn-- form".into(),
            );
        }
        if raw.starts_with('[') || raw.parse::<std::net::IpAddr>().is_ok() {
            return Err("an IP address cannot be a custom domain".into());
        }
        if raw.contains(':') {
            return Err("the domain must not carry a port".into());
        }
        let name = raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase();
        if name.len() > MAX_DOMAIN_LEN {
            return Err(format!(
                "the domain is longer than {MAX_DOMAIN_LEN} characters"
            ));
        }
        let labels: Vec<&str> = name.split('.').collect();
        for label in &labels {
            if label.is_empty() {
                return Err(
                    "the domain has an empty label (two dots in a row, or a leading dot)".into(),
                );
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(format!(
                    "the label `{label}` is longer than {MAX_LABEL_LEN} characters"
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(format!(
                    "the label `{label}` may hold only letters, digits and hyphens"
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!(
                    "the label `{label}` must not begin or end with a hyphen"
                ));
            }
        }
        if labels.len() < 2 {
            return Err("the domain needs at least two labels, e.g. login.example.com".into());
        }
        // A numeric last label is an IPv4 address in one of its many spellings (RFC 3696 §2:
        // top-level domains are never all-numeric).
        if labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("an IP address cannot be a custom domain".into());
        }
        Ok(Self(name))
    }
}

impl AsRef<str> for CustomDomain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host name as configured or sent: lowercase, without IPv6 brackets or a root dot.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// The host names the deployment answers as itself (its public URL's host, `server.hosts`, the
/// mutual-TLS listener's host): requests for them are routed by path, and no tenant may take
/// one as its custom domain.
#[derive(Clone, Debug, Default)]
pub struct OwnHosts(HashSet<String>);

impl OwnHosts {
    /// The set of `hosts`, normalised; empty names are skipped.
    pub fn new<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self(
            hosts
                .into_iter()
                .map(|h| normalize_host(h.as_ref()))
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    /// Whether `host` (already normalised) is one of the deployment's own names.
    pub fn contains(&self, host: &str) -> bool {
        self.0.contains(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        CustomDomain::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .to_string()
    }

    #[test]
    fn host_names_are_lowercased_and_lose_the_root_dot() {
        assert_eq!(ok("Login.ACME.test"), "login.acme.test");
        assert_eq!(ok("login.acme.test."), "login.acme.test");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(ok("a-b.c1.example"), "a-b.c1.example");
    }

    #[test]
    fn ip_literals_ports_urls_and_bad_labels_are_refused() {
        for bad in [
            "",
            "127.0.0.1",
            "10.1",
            "::1",
            "[::1]",
            "login.acme.test:8443",
            "https://login.acme.test",
            "login.acme.test/path",
            "a..b",
            ".acme.test",
            "localhost",
            "-a.example",
            "a-.example",
            "under_score.example",
            "bücher.example",
            "sp ace.example",
        ] {
            assert!(CustomDomain::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn length_limits_follow_rfc_1035() {
        let label = "a".repeat(63);
        assert!(CustomDomain::parse(&format!("{label}.example")).is_ok());
        assert!(CustomDomain::parse(&format!("a{label}.example")).is_err());
        // 4 × 63 + 3 dots = 255 > 253.
        let long = [label.as_str(); 4].join(".");
        assert!(CustomDomain::parse(&long).is_err());
        let exact = format!("{}.{}", "a".repeat(61), [label.as_str(); 3].join("."));
        assert_eq!(exact.len(), 253);
        assert!(CustomDomain::parse(&exact).is_ok());
    }

    #[test]
    fn own_hosts_compare_normalised_names() {
        let own = OwnHosts::new(["LocalHost", "[::1]", "127.0.0.1", ""]);
        assert!(own.contains("localhost"));
        assert!(own.contains("::1"));
        assert!(own.contains("127.0.0.1"));
        assert!(!own.contains(""));
        assert!(!own.contains("login.acme.test"));
    }
}
