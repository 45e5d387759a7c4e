//! Outbound requests to URLs that clients register (`jwks_uri`, `sector_identifier_uri`,
//! client ID metadata documents): a guard against server-side request forgery (CWE-918; the
//! OWASP SSRF prevention cheat sheet). Such a URL must not reach the deployment's own network:
//! every address it resolves to must be a public unicast address — never loopback, private
//! (RFC 1918, RFC 4193), link-local (where cloud metadata services live), shared (RFC 6598),
//! multicast, reserved or unspecified. Loopback is admitted only where the deployment allows
//! plain http to loopback for development and tests. The check runs in the DNS resolver the
//! HTTP client connects through, so the address checked is the address connected to (no
//! time-of-check/time-of-use gap), and for URLs naming an IP address directly, in
//! [`check_url`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether `ip` is a public unicast address a client-registered URL may reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // RFC 6598 shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
        // RFC 6890: IETF protocol assignments 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // RFC 2544 benchmarking 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4 reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique local (RFC 4193).
        || (first & 0xfe00) == 0xfc00
        // fe80::/10 link-local.
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32 documentation (RFC 3849).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // 64:ff9b:1::/48 local-use NAT64 (RFC 8215).
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1))
}

/// Whether `ip` may be reached: public, or loopback when `allow_loopback`.
fn admitted(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public(ip)
        || (allow_loopback
            && match ip {
                IpAddr::V4(v4) => v4.is_loopback(),
                IpAddr::V6(v6) => {
                    v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback())
                }
            })
}

/// Refuses a URL whose host is an IP address that may not be reached (a host name is checked
/// when it is resolved). The error is safe to show.
pub fn check_url(url: &url::Url, allow_loopback: bool) -> Result<(), &'static str> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err("the URL has no host"),
    };
    if admitted(ip, allow_loopback) {
        Ok(())
    } else {
        Err("the URL's address is not a public address")
    }
}

/// A DNS resolver that keeps only the addresses [`is_public`] admits (and loopback ones when
/// allowed); a name with none of them fails to resolve.
#[derive(Debug, Clone, Copy)]
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| admitted(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err("the host has no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client for client-registered URLs: the [`PublicOnly`] resolver, no redirects (a
/// redirect could lead anywhere, including plain http: the registered URL is the one fetched),
/// `timeout` for the connection and each read. Callers still bound the whole exchange and the
/// body size, and call [`check_url`] first.
pub fn client(timeout: Duration, allow_loopback: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
        .user_agent("tessera")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_not_public() {
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip(blocked)), "{blocked}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn loopback_is_admitted_only_when_allowed() {
        assert!(!admitted(ip("127.0.0.1"), false));
        assert!(admitted(ip("127.0.0.1"), true));
        assert!(admitted(ip("::1"), true));
        assert!(!admitted(ip("10.0.0.1"), true), "private stays out");
        let url = url::Url::parse("http://127.0.0.1:8080/jwks").unwrap();
        assert!(check_url(&url, false).is_err());
        assert!(check_url(&url, true).is_ok());
        let metadata = url::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        assert!(check_url(&metadata, true).is_err());
        let named = url::Url::parse("https://rp.example.com/jwks").unwrap();
        assert!(
            check_url(&named, false).is_ok(),
            "names are checked when resolved"
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(
            PublicOnly {
                allow_loopback: false
            }
            .resolve(name)
            .await
            .is_err()
        );
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = PublicOnly {
            allow_loopback: true,
        }
        .resolve(name)
        .await
        .unwrap()
        .collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
