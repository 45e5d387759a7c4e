//! Registration checks of a client's subject options: its sector for pairwise subjects (OIDC
//! Core §8.1), the `sector_identifier_uri` document that must list its redirect URIs (OIDC
//! Registration §2, §5), and the algorithm of signed userinfo responses.

use std::time::Duration;

use tessera_core::subject::{parse_sector_identifier_uri, sector_identifier};
use tessera_core::{SigningAlg, SubjectType};
use tessera_store::ClientRecord;

use crate::TenantError;

/// How long the fetch of a `sector_identifier_uri` may take, connection included.
pub const SECTOR_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest `sector_identifier_uri` document accepted.
pub const MAX_SECTOR_DOCUMENT_BYTES: usize = 64 * 1024;

/// Checks the subject options of `client` as it is about to be stored: a pairwise client has
/// one sector (its redirect URIs share a host, or it registered a `sector_identifier_uri`), a
/// `sector_identifier_uri` serves a JSON array holding every registered redirect URI, and
/// `userinfo_signed_response_alg` is an algorithm the tenant (signing with `tenant_alg`) has
/// keys of.
pub(crate) async fn check_subject_options(
    client: &ClientRecord,
    tenant_alg: SigningAlg,
    allow_loopback_http: bool,
) -> Result<(), TenantError> {
    let options = &client.options;
    if let Some(alg) = options.userinfo_signed_response_alg
        && !tessera_keys::ring_algs(tenant_alg).contains(&alg)
    {
        return Err(TenantError::Invalid(format!(
            "the tenant signs with {tenant_alg} and RS256; it cannot sign userinfo responses with {alg}"
        )));
    }
    let sector_uri = options.sector_identifier_uri.as_deref();
    if options.subject_type == SubjectType::Pairwise || sector_uri.is_some() {
        sector_identifier(&client.redirect_uris, sector_uri)
            .map_err(|why| TenantError::Invalid(why.to_owned()))?;
    }
    if let Some(uri) = sector_uri {
        let listed = fetch_sector_document(uri, allow_loopback_http)
            .await
            .map_err(|why| TenantError::Invalid(format!("sector_identifier_uri: {why}")))?;
        // OIDC Registration §5: "the values registered in redirect_uris MUST be included in
        // the elements of the array".
        if let Some(missing) = client
            .redirect_uris
            .iter()
            .find(|uri| !listed.iter().any(|l| l == *uri))
        {
            return Err(TenantError::Invalid(format!(
                "sector_identifier_uri: its document does not list the redirect URI `{}`",
                missing.chars().take(512).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// Fetches a `sector_identifier_uri` (https, or plain http on a loopback host where the
/// deployment allows it) from a public address (see [`crate::outbound`]) within
/// [`SECTOR_FETCH_TIMEOUT`] and at most [`MAX_SECTOR_DOCUMENT_BYTES`], and reads it as a JSON
/// array of URIs. The error is safe to show: it never echoes what the server sent.
async fn fetch_sector_document(
    uri: &str,
    allow_loopback_http: bool,
) -> Result<Vec<String>, &'static str> {
    let url = parse_sector_identifier_uri(uri)?;
    if url.scheme() == "http" && !allow_loopback_http {
        return Err("plain http is not allowed");
    }
    crate::outbound::check_url(&url, allow_loopback_http)?;
    let http = crate::outbound::client(SECTOR_FETCH_TIMEOUT, allow_loopback_http)
        .map_err(|_| "no HTTP client")?;
    let work = async {
        let mut resp = http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| "the request failed or timed out")?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err("the server did not answer 200");
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_SECTOR_DOCUMENT_BYTES as u64)
        {
            return Err("the document is too large");
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| "the request failed or timed out")?
        {
            if body.len() + chunk.len() > MAX_SECTOR_DOCUMENT_BYTES {
                return Err("the document is too large");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    // The client's timeout covers each read; this bounds the whole exchange.
    let body = tokio::time::timeout(SECTOR_FETCH_TIMEOUT, work)
        .await
        .map_err(|_| "the request failed or timed out")??;
    serde_json::from_slice::<Vec<String>>(&body)
        .map_err(|_| "the document is not a JSON array of URIs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{ClientId, ClientOptions, ClientType, ScopeSet, TenantId, TokenFormat};

    fn client(redirect_uris: &[&str], options: ClientOptions) -> ClientRecord {
        ClientRecord {
            tenant_id: TenantId::new(),
            client_id: ClientId::parse("rp").unwrap(),
            name: "RP".to_owned(),
            client_type: ClientType::Confidential,
            secret_hash: None,
            grant_types: vec![],
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            scopes: ScopeSet::default(),
            token_format: TokenFormat::Jwt,
            admin_role: None,
            admin_tenant_id: None,
            post_logout_redirect_uris: vec![],
            first_party: false,
            require_pkce: true,
            id_token_alg: SigningAlg::Rs256,
            options,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn pairwise() -> ClientOptions {
        ClientOptions {
            subject_type: SubjectType::Pairwise,
            ..ClientOptions::default()
        }
    }

    async fn refusal(c: &ClientRecord, alg: SigningAlg) -> String {
        match check_subject_options(c, alg, true).await {
            Err(TenantError::Invalid(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[actix::test]
    async fn a_pairwise_client_needs_one_sector() {
        let one = ["https://a.example.com/cb", "https://a.example.com/x"];
        assert!(
            check_subject_options(&client(&one, pairwise()), SigningAlg::Es256, true)
                .await
                .is_ok()
        );
        let two = ["https://a.example.com/cb", "https://b.example.com/cb"];
        assert!(
            refusal(&client(&two, pairwise()), SigningAlg::Es256)
                .await
                .contains("sector_identifier_uri")
        );
        // Public clients may span hosts.
        assert!(
            check_subject_options(
                &client(&two, ClientOptions::default()),
                SigningAlg::Es256,
                true
            )
            .await
            .is_ok()
        );
        let plain_http = ClientOptions {
            sector_identifier_uri: Some("http://sector.example.com/s.json".into()),
            ..pairwise()
        };
        assert!(
            refusal(&client(&two, plain_http), SigningAlg::Es256)
                .await
                .contains("https")
        );
    }

    #[actix::test]
    async fn userinfo_is_signed_only_with_an_alg_the_tenant_has_keys_of() {
        let with = |alg| ClientOptions {
            userinfo_signed_response_alg: Some(alg),
            ..ClientOptions::default()
        };
        let uris = ["https://a.example.com/cb"];
        for (tenant, alg, ok) in [
            (SigningAlg::Es256, SigningAlg::Es256, true),
            (SigningAlg::Es256, SigningAlg::Rs256, true),
            (SigningAlg::Es256, SigningAlg::EdDsa, false),
            (SigningAlg::Rs256, SigningAlg::Es256, false),
        ] {
            let result = check_subject_options(&client(&uris, with(alg)), tenant, true).await;
            assert_eq!(result.is_ok(), ok, "{tenant} tenant, {alg}");
        }
    }

    #[test]
    fn the_subject_salt_is_stable_and_specific_to_tenant_and_key() {
        let (t1, t2) = (TenantId::new(), TenantId::new());
        let salt = crate::snapshot::subject_salt(b"master", t1).unwrap();
        assert_eq!(salt, crate::snapshot::subject_salt(b"master", t1).unwrap());
        assert_ne!(salt, crate::snapshot::subject_salt(b"master", t2).unwrap());
        assert_ne!(salt, crate::snapshot::subject_salt(b"another", t1).unwrap());
    }
}
