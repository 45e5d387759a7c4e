//! The TLS client certificate of the connection a request came on (RFC 8705): the server's
//! `on_connect` hook stores the DER chain as [`PeerCertificates`], and [`client_certificate`]
//! reads and verifies it against the [`TrustedClientCas`] app data.

use actix_web::{HttpRequest, web};
use tessera_tokens::mtls::ClientCertificate;
pub use tessera_tokens::mtls::TrustedClientCas;

/// The certificates a TLS client sent in its handshake, leaf first, DER; stored in the
/// connection data by `HttpServer::on_connect` and absent on plain-HTTP connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCertificates(pub Vec<Vec<u8>>);

/// The client certificate of the request's connection, its chain verified against the
/// `web::Data<TrustedClientCas>` app data (unverified when there is none). `None` on plain
/// HTTP, when the client sent no certificate, or when it cannot be parsed.
pub fn client_certificate(req: &HttpRequest) -> Option<ClientCertificate> {
    let peer = req.conn_data::<PeerCertificates>()?;
    let trusted = req.app_data::<web::Data<TrustedClientCas>>();
    match ClientCertificate::from_der_chain(peer.0.clone(), trusted.map(|cas| cas.get_ref())) {
        Ok(cert) => Some(cert),
        Err(error) => {
            tracing::debug!(%error, "ignoring an unreadable client certificate");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn plain_connections_have_no_certificate() {
        let req = TestRequest::default().to_http_request();
        assert!(client_certificate(&req).is_none());
    }
}
