//! The address of the client behind a request: the peer, or — when the peer is a trusted reverse
//! proxy — the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to
//! its left are client-supplied and cannot be believed).

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The reverse proxies whose `X-Forwarded-For` is believed (app data).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    /// The client address of `req`.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.0.contains(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.0.contains(ip))
                .unwrap_or(peer),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = TrustedProxies(vec![proxy]);
        let direct = TestRequest::default()
            .peer_addr("203.0.113.9:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(
            trusted.client_ip(&direct),
            Some("203.0.113.9".parse().unwrap())
        );
        let proxied = TestRequest::default()
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2"))
            .to_http_request();
        assert_eq!(
            trusted.client_ip(&proxied),
            Some("198.51.100.7".parse().unwrap())
        );
    }
}
