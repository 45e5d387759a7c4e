//! Discovery, JWKS and the authorization endpoint's error handling: OIDC Discovery 1.0 through
//! a real relying-party library, RFC 8414 metadata, tenant resolution errors, and RFC 6749
//! §4.1.2.1 (never redirect to an unverified redirect URI).

use std::collections::HashSet;

use openidconnect::core::{CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{IssuerUrl, JsonWebKey};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The registered redirect URI of the interactive test client.
const REDIRECT_URI: &str = "https://app.example.com/cb";

/// An HTTP client for openidconnect, built as its docs say: redirects off (SSRF).
fn oidc_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("openidconnect http client")
}

/// The value of a response header as a string ("" when absent).
fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// GETs `path` below the server address.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("GET")
}

/// Registers a public authorization-code client with [`REDIRECT_URI`]; returns its client_id.
async fn create_interactive_client(app: &TestApp, tenant: &str) -> String {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(json!({
                "name": "web app",
                "public": true,
                "grant_types": ["authorization_code"],
                "redirect_uris": [REDIRECT_URI],
            })),
        )
        .await;
    assert_eq!(status, 201, "create client: {body}");
    assert_eq!(
        body["redirect_uris"],
        json!([REDIRECT_URI]),
        "registered as given"
    );
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// Asserts an HTML error page with status 400 and no redirect (RFC 6749 §4.1.2.1).
async fn assert_html_error_without_redirect(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status().as_u16(), 400, "{what}");
    assert!(
        resp.headers().get(LOCATION).is_none(),
        "{what}: must not redirect"
    );
    assert!(
        header(&resp, CONTENT_TYPE).starts_with("text/html"),
        "{what}: content type {}",
        header(&resp, CONTENT_TYPE)
    );
    let body = resp.text().await.expect("body");
    assert!(
        body.to_ascii_lowercase().contains("<html"),
        "{what}: an HTML page"
    );
}

/// Asserts a 303 to exactly [`REDIRECT_URI`] and returns its query parameters.
fn assert_redirect_to_client(resp: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(resp.status().as_u16(), 303, "a 303 redirect");
    let location = header(resp, LOCATION);
    let url = url::Url::parse(&location).expect("absolute Location");
    let mut base = url.clone();
    base.set_query(None);
    assert_eq!(
        base.as_str(),
        REDIRECT_URI,
        "redirects to the registered URI exactly"
    );
    assert!(url.fragment().is_none(), "no fragment");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of the one query parameter named `name`.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "`{name}` appears once");
    first
}

/// Discovers a fresh tenant of `alg` with openidconnect and checks what it found.
async fn discovery_through_openidconnect_succeeds(alg: &str) {
    let app = spawn_app().await;
    let slug = format!("disc-{}", alg.to_ascii_lowercase());
    app.create_tenant(&slug, alg).await;
    let issuer = app.issuer(&slug);

    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).expect("issuer URL"),
        &oidc_http(),
    )
    .await
    .unwrap_or_else(|e| panic!("{alg} discovery failed: {e:?}"));

    assert_eq!(metadata.issuer().as_str(), issuer);
    assert_eq!(
        metadata.token_endpoint().map(|u| u.as_str().to_owned()),
        Some(format!("{issuer}/token"))
    );
    assert_eq!(metadata.jwks_uri().as_str(), format!("{issuer}/jwks"));
    assert_eq!(
        metadata.authorization_endpoint().as_str(),
        format!("{issuer}/authorize")
    );

    // OIDC Discovery 1.0 §3: RS256 must be listed for ID tokens, whatever the tenant's alg.
    let id_token_algs = metadata.id_token_signing_alg_values_supported();
    assert!(
        id_token_algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        "{alg}: id_token_signing_alg_values_supported {id_token_algs:?}"
    );

    // Every tenant keeps its own ring (access tokens) and an RS256 ring (ID tokens, OIDC Core
    // §15.1), each with an active and a next key published.
    let rings: Vec<&str> = if alg == "RS256" {
        vec!["RS256"]
    } else {
        vec![alg, "RS256"]
    };
    let keys = metadata.jwks().keys();
    assert_eq!(
        keys.len(),
        2 * rings.len(),
        "{alg}: the active and the next key of every ring are published"
    );
    let kids: Vec<String> = keys
        .iter()
        .map(|k| k.key_id().expect("every key has a kid").to_string())
        .collect();
    let distinct: HashSet<&String> = kids.iter().collect();
    assert_eq!(
        distinct.len(),
        kids.len(),
        "{alg}: kids are distinct: {kids:?}"
    );

    // The same document over plain HTTP: every key is a signing key of one of the rings, the
    // tenant's own active key first.
    let jwks: Value = get(&app, &format!("/t/{slug}/jwks"))
        .await
        .json()
        .await
        .expect("JWKS JSON");
    let raw = jwks["keys"].as_array().expect("keys array");
    assert_eq!(raw.len(), keys.len());
    assert_eq!(raw[0]["alg"], alg, "{jwks}");
    for ring in &rings {
        let of_ring = raw.iter().filter(|k| k["alg"] == *ring).count();
        assert_eq!(of_ring, 2, "{alg}: {ring} ring in {jwks}");
    }
    for key in raw {
        let key_alg = key["alg"].as_str().expect("alg");
        assert!(rings.contains(&key_alg), "{alg}: unexpected key {key}");
        let kty = match key_alg {
            "RS256" => "RSA",
            "ES256" => "EC",
            _ => "OKP",
        };
        assert_eq!(key["kty"], kty, "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "no private member `{private}` in {key}"
            );
        }
    }
}

#[actix_web::test]
async fn openidconnect_discovers_an_rs256_tenant() {
    discovery_through_openidconnect_succeeds("RS256").await;
}

#[actix_web::test]
async fn openidconnect_discovers_an_es256_tenant() {
    discovery_through_openidconnect_succeeds("ES256").await;
}

#[actix_web::test]
async fn openidconnect_discovers_an_eddsa_tenant() {
    discovery_through_openidconnect_succeeds("EdDSA").await;
}

#[actix_web::test]
async fn oauth_authorization_server_metadata_advertises_only_what_is_served() {
    let app = spawn_app().await;
    app.create_tenant("meta", "ES256").await;
    let issuer = app.issuer("meta");

    let resp = get(&app, "/.well-known/oauth-authorization-server/t/meta").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(header(&resp, CONTENT_TYPE).starts_with("application/json"));
    let doc: Value = resp.json().await.expect("metadata JSON");

    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code",
            "password",
            "implicit"
        ])
    );
    // RFC 8628 §4 (tests/api/device.rs).
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{issuer}/device_authorization")
    );
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("auth methods");
    assert!(methods.contains(&json!("client_secret_basic")), "{doc}");
    assert!(methods.contains(&json!("client_secret_post")), "{doc}");
    assert!(
        methods.contains(&json!("none")),
        "public clients with PKCE: {doc}"
    );
    // RFC 7523 §2.2 / OIDC Core §9 (tests/api/jwt_auth.rs).
    assert!(methods.contains(&json!("private_key_jwt")), "{doc}");
    assert!(methods.contains(&json!("client_secret_jwt")), "{doc}");
    assert_eq!(methods.len(), 5, "no method that is not implemented: {doc}");
    assert_eq!(
        doc["response_types_supported"],
        json!([
            "code",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token"
        ])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/introspect")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/revoke"));
    assert!(
        doc["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("ES256"))),
        "{doc}"
    );
    // Without a mutual-TLS listener, no certificate-bound tokens and no aliases.
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], false);
    assert!(doc.get("mtls_endpoint_aliases").is_none(), "{doc}");

    // Endpoints of features that do not exist must not be advertised.
    // (userinfo and end_session are OpenID Connect's: in the OIDC document, not RFC 8414's.)
    for absent in [
        "userinfo_endpoint",
        "registration_endpoint",
        "end_session_endpoint",
    ] {
        assert!(
            doc.get(absent).is_none(),
            "`{absent}` advertised but not served: {doc}"
        );
    }
    // Every advertised endpoint answers (anything but 404/405).
    let obj = doc.as_object().expect("object");
    for (name, value) in obj
        .iter()
        .filter(|(k, _)| k.ends_with("_endpoint") || k.ends_with("_uri"))
    {
        let url = value.as_str().expect("a URL");
        assert!(
            url.starts_with(&issuer),
            "`{name}` lies under the issuer: {url}"
        );
        let get_status = app
            .http
            .get(url)
            .send()
            .await
            .expect("GET")
            .status()
            .as_u16();
        let post_status = app
            .http
            .post(url)
            .send()
            .await
            .expect("POST")
            .status()
            .as_u16();
        assert!(
            ![404, 405].contains(&get_status) || ![404, 405].contains(&post_status),
            "`{name}` is advertised but not served: GET {get_status}, POST {post_status}"
        );
    }
}

#[actix_web::test]
async fn unknown_tenant_is_json_404_on_discovery_jwks_and_token() {
    let app = spawn_app().await;
    for path in [
        "/t/nowhere/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/nowhere",
        "/t/nowhere/jwks",
    ] {
        let resp = get(&app, path).await;
        assert_eq!(resp.status().as_u16(), 404, "{path}");
        assert!(
            header(&resp, CONTENT_TYPE).starts_with("application/json"),
            "{path}"
        );
        assert_eq!(TestApp::oauth_error(resp).await, "not_found", "{path}");
    }
    let resp = app
        .post_token(
            "nowhere",
            Some(("someone", "secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 404);
    assert!(header(&resp, CONTENT_TYPE).starts_with("application/json"));
    assert_eq!(TestApp::oauth_error(resp).await, "not_found");
}

#[actix_web::test]
async fn disabled_tenant_is_403_access_denied_while_another_keeps_working() {
    let app = spawn_app().await;
    app.create_tenant("gone", "ES256").await;
    app.create_tenant("alive", "ES256").await;
    let gone_client = app.create_client("gone", &[]).await;
    let alive_client = app.create_client("alive", &[]).await;

    // Warm the snapshot cache first, so disabling must invalidate it.
    assert_eq!(get(&app, "/t/gone/jwks").await.status().as_u16(), 200);
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            "/tenants/gone",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "disable tenant: {body}");

    for path in [
        "/t/gone/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/gone",
        "/t/gone/jwks",
    ] {
        let resp = get(&app, path).await;
        assert_eq!(resp.status().as_u16(), 403, "{path}");
        assert!(
            header(&resp, CONTENT_TYPE).starts_with("application/json"),
            "{path}"
        );
        assert_eq!(TestApp::oauth_error(resp).await, "access_denied", "{path}");
    }
    let resp = app
        .post_token(
            "gone",
            Some((&gone_client.id, &gone_client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(TestApp::oauth_error(resp).await, "access_denied");

    for path in ["/t/alive/.well-known/openid-configuration", "/t/alive/jwks"] {
        assert_eq!(get(&app, path).await.status().as_u16(), 200, "{path}");
    }
    app.client_credentials_token("alive", &alive_client, None)
        .await;
}

#[actix_web::test]
async fn jwks_is_cacheable_and_discovery_is_json() {
    let app = spawn_app().await;
    app.create_tenant("cache", "RS256").await;

    let resp = get(&app, "/t/cache/jwks").await;
    assert_eq!(resp.status().as_u16(), 200);
    let cache = header(&resp, CACHE_CONTROL);
    let max_age = cache
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .next()
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|s| s > 0),
        "JWKS Cache-Control with max-age: `{cache}`"
    );
    assert!(header(&resp, CONTENT_TYPE).starts_with("application/json"));
    let jwks: Value = resp.json().await.expect("JWKS JSON");
    assert!(jwks["keys"].is_array());

    let resp = get(&app, "/t/cache/.well-known/openid-configuration").await;
    assert_eq!(resp.status().as_u16(), 200);
    let ct = header(&resp, CONTENT_TYPE);
    assert!(
        ct.starts_with("application/json"),
        "discovery content type `{ct}`"
    );
    let doc: Value = resp.json().await.expect("discovery JSON");
    assert_eq!(doc["issuer"], app.issuer("cache"));
}

#[actix_web::test]
async fn authorize_with_unknown_client_renders_an_html_400_without_redirect() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let resp = app
        .http
        .get(format!("{}/t/authz/authorize", app.address))
        .query(&[
            ("client_id", "no-such-client"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .expect("GET authorize");
    assert_html_error_without_redirect(resp, "unknown client").await;
}

#[actix_web::test]
async fn authorize_with_unregistered_redirect_uri_renders_an_html_400_without_redirect() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    for uri in [
        "https://app.example.com/cb?x=1",
        "https://app.example.com:8443/cb",
        "https://evil.example.com/cb",
        "https://app.example.com/cb/",
        "http://app.example.com/cb",
        "https://app.example.com/cb#frag",
    ] {
        let resp = app
            .http
            .get(format!("{}/t/authz/authorize", app.address))
            .query(&[
                ("client_id", client_id.as_str()),
                ("redirect_uri", uri),
                ("response_type", "code"),
                ("state", "xyz"),
            ])
            .send()
            .await
            .expect("GET authorize");
        assert_html_error_without_redirect(resp, uri).await;
    }
}

#[actix_web::test]
async fn authorize_with_unsupported_response_type_redirects_the_error_with_state_and_iss() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    let state = "s t&a=te/é";
    let resp = app
        .http
        .get(format!("{}/t/authz/authorize", app.address))
        .query(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "token"),
            ("scope", "openid"),
            ("state", state),
        ])
        .send()
        .await
        .expect("GET authorize");
    let pairs = assert_redirect_to_client(&resp);
    assert_eq!(param(&pairs, "error"), Some("unsupported_response_type"));
    assert_eq!(param(&pairs, "state"), Some(state), "state echoed exactly");
    // RFC 9207 §2.
    assert_eq!(param(&pairs, "iss"), Some(app.issuer("authz").as_str()));
    assert!(param(&pairs, "code").is_none());
}

#[actix_web::test]
async fn authorize_without_response_type_redirects_invalid_request() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    let resp = app
        .http
        .get(format!("{}/t/authz/authorize", app.address))
        .query(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("state", "abc"),
        ])
        .send()
        .await
        .expect("GET authorize");
    let pairs = assert_redirect_to_client(&resp);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    assert_eq!(param(&pairs, "state"), Some("abc"));
    assert_eq!(param(&pairs, "iss"), Some(app.issuer("authz").as_str()));
}

#[actix_web::test]
async fn authorize_by_form_post_behaves_like_get() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    let url = format!("{}/t/authz/authorize", app.address);

    let resp = app
        .http
        .post(&url)
        .form(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "token"),
            ("scope", "openid"),
            ("state", "post-state"),
        ])
        .send()
        .await
        .expect("POST authorize");
    let pairs = assert_redirect_to_client(&resp);
    assert_eq!(param(&pairs, "error"), Some("unsupported_response_type"));
    assert_eq!(param(&pairs, "state"), Some("post-state"));
    assert_eq!(param(&pairs, "iss"), Some(app.issuer("authz").as_str()));

    let resp = app
        .http
        .post(&url)
        .form(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("state", "p2"),
        ])
        .send()
        .await
        .expect("POST authorize");
    let pairs = assert_redirect_to_client(&resp);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    assert_eq!(param(&pairs, "state"), Some("p2"));

    let resp = app
        .http
        .post(&url)
        .form(&[
            ("client_id", "no-such-client"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
        ])
        .send()
        .await
        .expect("POST authorize");
    assert_html_error_without_redirect(resp, "POST, unknown client").await;

    let resp = app
        .http
        .post(&url)
        .form(&[
            ("client_id", client_id.as_str()),
            ("redirect_uri", "https://app.example.com/cb?x=1"),
            ("response_type", "code"),
        ])
        .send()
        .await
        .expect("POST authorize");
    assert_html_error_without_redirect(resp, "POST, unregistered redirect URI").await;
}

#[actix_web::test]
async fn authorize_with_repeated_client_id_or_redirect_uri_renders_an_html_400() {
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    let url = format!("{}/t/authz/authorize", app.address);
    for repeated in ["client_id", "redirect_uri"] {
        let mut query = vec![
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("state", "abc"),
        ];
        let again = query
            .iter()
            .find(|(k, _)| *k == repeated)
            .expect("present")
            .1;
        query.push((repeated, again));
        let resp = app
            .http
            .get(&url)
            .query(&query)
            .send()
            .await
            .expect("GET authorize");
        assert_html_error_without_redirect(resp, repeated).await;
    }
}

#[actix_web::test]
async fn authorize_with_another_repeated_parameter_redirects_invalid_request() {
    // RFC 6749 §3.1 forbids repeated parameters; once the client and redirect URI are
    // verified, the error goes to the client (RFC 6749 §4.1.2.1).
    let app = spawn_app().await;
    app.create_tenant("authz", "ES256").await;
    let client_id = create_interactive_client(&app, "authz").await;
    let url = format!("{}/t/authz/authorize", app.address);
    for (repeated, value) in [("response_type", "token"), ("state", "other")] {
        let query = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("state", "abc"),
            (repeated, value),
        ];
        let resp = app
            .http
            .get(&url)
            .query(&query)
            .send()
            .await
            .expect("GET authorize");
        let pairs = assert_redirect_to_client(&resp);
        assert_eq!(
            param(&pairs, "error"),
            Some("invalid_request"),
            "{repeated}"
        );
        assert_eq!(
            param(&pairs, "iss"),
            Some(app.issuer("authz").as_str()),
            "{repeated}"
        );
        if repeated != "state" {
            assert_eq!(param(&pairs, "state"), Some("abc"), "{repeated}");
        }
    }
}
