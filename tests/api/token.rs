//! The token endpoint: the client credentials grant through a real OAuth library, RFC 9068 JWT
//! access tokens verified against the tenant's JWKS, key rotation, and every RFC 6749 §5.2
//! error the endpoint promises (status, code, JSON, `Cache-Control: no-store`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, TokenData, Validation, decode, decode_header};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreTokenType};
use openidconnect::{AuthType, ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, Scope};
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, spawn_app};

/// Scopes the tests define in their tenants.
const READ: &str = "orders:read";
const WRITE: &str = "orders:write";
const ADMIN: &str = "orders:admin";

/// An HTTP client for openidconnect, built as its docs say: redirects off (SSRF).
fn oidc_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("openidconnect http client")
}

/// The jsonwebtoken algorithm of a tenant `alg`.
fn algorithm(alg: &str) -> Algorithm {
    match alg {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        other => panic!("unexpected alg {other}"),
    }
}

/// Defines custom scopes in `tenant` through the admin API.
async fn define_scopes(app: &TestApp, tenant: &str, names: &[&str]) {
    let token = app.admin_token().await;
    for name in names {
        let (status, body) = app
            .admin(
                &token,
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/scopes"),
                Some(json!({"name": name, "description": format!("Test scope {name}")})),
            )
            .await;
        assert_eq!(status, 201, "define scope {name}: {body}");
    }
}

/// A tenant of `alg` with the test scopes and a client allowed `READ` and `WRITE`.
async fn tenant_with_client(app: &TestApp, slug: &str, alg: &str) -> TestClient {
    app.create_tenant(slug, alg).await;
    define_scopes(app, slug, &[READ, WRITE, ADMIN]).await;
    app.create_client(slug, &[READ, WRITE]).await
}

/// The tenant's JWKS, fetched over HTTP.
async fn fetch_jwks(app: &TestApp, tenant: &str) -> JwkSet {
    let resp = app
        .http
        .get(format!("{}/t/{tenant}/jwks", app.address))
        .send()
        .await
        .expect("GET jwks");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("a JWKS jsonwebtoken can parse")
}

/// The kids of a JWKS.
fn kids(jwks: &JwkSet) -> Vec<String> {
    jwks.keys
        .iter()
        .map(|k| k.common.key_id.clone().expect("kid"))
        .collect()
}

/// Verifies `token` with one given key: signature, `alg`, `exp`, `iss` and `aud`.
fn verify_with(
    token: &str,
    jwk: &Jwk,
    alg: Algorithm,
    issuer: &str,
    aud: &str,
) -> jsonwebtoken::errors::Result<TokenData<Value>> {
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation)
}

/// Verifies `token` against a JWKS the way a resource server does: the header's `kid` picks the
/// key. Panics if the kid is unknown or the token does not verify.
fn verify(token: &str, jwks: &JwkSet, alg: Algorithm, issuer: &str, aud: &str) -> TokenData<Value> {
    let header = decode_header(token).expect("a JWS header");
    let kid = header.kid.expect("a kid in the header");
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid `{kid}` not in the JWKS"));
    verify_with(token, jwk, alg, issuer, aud)
        .unwrap_or_else(|e| panic!("token does not verify: {e:?}"))
}

/// The space-delimited `scope` as a sorted list.
fn scope_list(scope: &str) -> Vec<String> {
    let mut list: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    list.sort();
    list
}

/// A raw token request with Basic credentials and a body of bytes sent as given.
async fn post_raw(
    app: &TestApp,
    tenant: &str,
    client: Option<&TestClient>,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/t/{tenant}/token", app.address))
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if let Some(client) = client {
        req = req.basic_auth(&client.id, Some(&client.secret));
    }
    req.send().await.expect("token request")
}

/// Asserts an RFC 6749 §5.2 error: status, JSON body with `error`, `Cache-Control: no-store`.
/// Returns the headers for further checks.
async fn assert_oauth_error(
    resp: reqwest::Response,
    status: u16,
    error: &str,
) -> reqwest::header::HeaderMap {
    let headers = resp.headers().clone();
    let actual = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(actual, status, "status; body: {text}");
    let cache = headers
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cache.contains("no-store"), "Cache-Control `{cache}`");
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type `{ct}`");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    assert_eq!(body["error"], error, "body: {body}");
    headers
}

/// Runs the client credentials grant through openidconnect (Basic, then body credentials) and
/// verifies each token against the tenant's JWKS.
async fn library_client_credentials_tokens_verify(alg: &str) {
    let app = spawn_app().await;
    let slug = format!("cc-{}", alg.to_ascii_lowercase());
    let client = tenant_with_client(&app, &slug, alg).await;
    let issuer = app.issuer(&slug);
    let http = oidc_http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).expect("issuer"),
        &http,
    )
    .await
    .unwrap_or_else(|e| panic!("{alg} discovery failed: {e:?}"));
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret.clone())),
    );
    let jwks = fetch_jwks(&app, &slug).await;

    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let what = format!("{alg} {auth:?}");
        let response = oidc
            .clone()
            .set_auth_type(auth)
            .exchange_client_credentials()
            .expect("token endpoint discovered")
            .add_scope(Scope::new(READ.into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{what}: token request failed: {e:?}"));
        assert_eq!(*response.token_type(), CoreTokenType::Bearer, "{what}");
        let expires_in = response.expires_in().expect("expires_in").as_secs() as i64;
        assert!(expires_in > 0, "{what}");
        let granted: Vec<String> = response
            .scopes()
            .expect("scope in response")
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(granted, vec![READ.to_owned()], "{what}");

        let token = response.access_token().secret();
        let header = decode_header(token).expect("header");
        assert_eq!(
            header.typ.as_deref(),
            Some("at+jwt"),
            "{what}: RFC 9068 §2.1 typ"
        );
        assert_eq!(header.alg, algorithm(alg), "{what}");
        let claims = verify(token, &jwks, algorithm(alg), &issuer, &issuer).claims;
        assert_eq!(claims["iss"], issuer.as_str(), "{what}");
        assert_eq!(claims["sub"], client.id.as_str(), "{what}");
        assert_eq!(claims["aud"], issuer.as_str(), "{what}");
        assert_eq!(claims["client_id"], client.id.as_str(), "{what}");
        assert_eq!(claims["scope"], READ, "{what}");
        assert!(
            claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
            "{what}: jti"
        );
        let iat = claims["iat"].as_i64().expect("iat");
        let exp = claims["exp"].as_i64().expect("exp");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        assert!((iat - now).abs() <= 60, "{what}: iat {iat} is now ({now})");
        assert_eq!(exp - iat, expires_in, "{what}: exp - iat == expires_in");
    }
}

#[actix_web::test]
async fn client_credentials_through_openidconnect_issues_verifiable_rs256_tokens() {
    library_client_credentials_tokens_verify("RS256").await;
}

#[actix_web::test]
async fn client_credentials_through_openidconnect_issues_verifiable_es256_tokens() {
    library_client_credentials_tokens_verify("ES256").await;
}

#[actix_web::test]
async fn client_credentials_through_openidconnect_issues_verifiable_eddsa_tokens() {
    library_client_credentials_tokens_verify("EdDSA").await;
}

#[actix_web::test]
async fn requested_scope_subset_is_granted_and_returned() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "scopes", "ES256").await;
    let resp = app
        .post_token(
            "scopes",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials"), ("scope", WRITE)],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["scope"], WRITE);
    let jwks = fetch_jwks(&app, "scopes").await;
    let issuer = app.issuer("scopes");
    let claims = verify(
        body["access_token"].as_str().expect("token"),
        &jwks,
        Algorithm::ES256,
        &issuer,
        &issuer,
    )
    .claims;
    assert_eq!(claims["scope"], WRITE);
}

#[actix_web::test]
async fn scope_not_allowed_for_the_client_is_invalid_scope() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "scopes", "ES256").await;
    // Defined in the tenant but not allowed for this client; then not defined at all.
    for scope in [ADMIN, "orders:read orders:admin", "undefined:scope"] {
        let resp = app
            .post_token(
                "scopes",
                Some((&client.id, &client.secret)),
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope").await;
    }
}

#[actix_web::test]
async fn request_without_scope_is_granted_every_allowed_scope() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "scopes", "ES256").await;
    let resp = app
        .post_token(
            "scopes",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let expected = scope_list(&format!("{READ} {WRITE}"));
    assert_eq!(
        scope_list(body["scope"].as_str().expect("scope in response")),
        expected
    );
    let jwks = fetch_jwks(&app, "scopes").await;
    let issuer = app.issuer("scopes");
    let claims = verify(
        body["access_token"].as_str().expect("token"),
        &jwks,
        Algorithm::ES256,
        &issuer,
        &issuer,
    )
    .claims;
    assert_eq!(
        scope_list(claims["scope"].as_str().expect("scope claim")),
        expected
    );
}

/// Registers an API (resource server) of the tenant through the admin API.
async fn register_api(app: &TestApp, slug: &str, identifier: &str) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/resource-servers"),
            Some(json!({"identifier": identifier, "name": "API"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[actix_web::test]
async fn one_resource_indicator_becomes_the_audience() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "res", "ES256").await;
    let resource = "https://api.example.com/";
    register_api(&app, "res", resource).await;
    let resp = app
        .post_token(
            "res",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials"), ("resource", resource)],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let jwks = fetch_jwks(&app, "res").await;
    let claims = verify(
        body["access_token"].as_str().expect("token"),
        &jwks,
        Algorithm::ES256,
        &app.issuer("res"),
        resource,
    )
    .claims;
    assert_eq!(claims["aud"], resource);
}

#[actix_web::test]
async fn two_resource_indicators_make_an_audience_array() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "res", "ES256").await;
    let (a, b) = ("https://api.example.com/", "https://billing.example.com/v1");
    register_api(&app, "res", a).await;
    register_api(&app, "res", b).await;
    let resp = app
        .post_token(
            "res",
            Some((&client.id, &client.secret)),
            &[
                ("grant_type", "client_credentials"),
                ("resource", a),
                ("resource", b),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let jwks = fetch_jwks(&app, "res").await;
    let token = body["access_token"].as_str().expect("token");
    let claims = verify(token, &jwks, Algorithm::ES256, &app.issuer("res"), b).claims;
    assert_eq!(claims["aud"], json!([a, b]));
}

#[actix_web::test]
async fn resource_with_fragment_or_relative_is_invalid_target() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "res", "ES256").await;
    // RFC 8707 §2: malformed, or not an API this tenant knows.
    for resource in [
        "https://api.example.com/#frag",
        "/relative/api",
        "api.example.com",
        "https://unregistered.example.com/",
    ] {
        let resp = app
            .post_token(
                "res",
                Some((&client.id, &client.secret)),
                &[("grant_type", "client_credentials"), ("resource", resource)],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_target").await;
    }
}

#[actix_web::test]
async fn key_rotation_keeps_old_tokens_verifiable_and_signs_with_the_prepublished_key() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "rot", "ES256").await;
    let issuer = app.issuer("rot");
    let before = fetch_jwks(&app, "rot").await;
    let kids_before = kids(&before);

    let token1 = app.client_credentials_token("rot", &client, None).await;
    let kid1 = decode_header(&token1).expect("header").kid.expect("kid");
    assert!(kids_before.contains(&kid1));
    verify(&token1, &before, Algorithm::ES256, &issuer, &issuer);

    let admin = app.admin_token().await;
    let (status, rotation) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/rot/keys/rotate",
            None,
        )
        .await;
    assert_eq!(status, 200, "rotate: {rotation}");

    let token2 = app.client_credentials_token("rot", &client, None).await;
    let kid2 = decode_header(&token2).expect("header").kid.expect("kid");
    assert_ne!(kid1, kid2, "the new token is signed by another key");
    assert!(
        kids_before.contains(&kid2),
        "the new key `{kid2}` was published before it signed: {kids_before:?}"
    );
    assert_eq!(rotation["activated"], kid2.as_str());
    assert_eq!(rotation["retired"], kid1.as_str());

    let after = fetch_jwks(&app, "rot").await;
    verify(&token1, &after, Algorithm::ES256, &issuer, &issuer);
    verify(&token2, &after, Algorithm::ES256, &issuer, &issuer);
    let next = rotation["next"].as_str().expect("next kid");
    assert!(
        kids(&after).iter().any(|k| k == next),
        "the new next key is published"
    );
}

#[actix_web::test]
async fn token_of_one_tenant_fails_verification_against_another_tenants_jwks() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "alpha", "ES256").await;
    app.create_tenant("beta", "ES256").await;
    let token = app.client_credentials_token("alpha", &client, None).await;
    let issuer = app.issuer("alpha");
    let beta = fetch_jwks(&app, "beta").await;

    let kid = decode_header(&token).expect("header").kid.expect("kid");
    assert!(
        beta.find(&kid).is_none(),
        "alpha's kid is not in beta's JWKS"
    );
    // Even forcing each of beta's ES256 keys, the signature does not verify. (Its RS256 keys,
    // for ID tokens, are refused before any signature check: wrong key type for ES256.)
    for jwk in beta
        .keys
        .iter()
        .filter(|k| k.common.key_algorithm == Some(jsonwebtoken::jwk::KeyAlgorithm::ES256))
    {
        let err = verify_with(&token, jwk, Algorithm::ES256, &issuer, &issuer)
            .expect_err("must not verify");
        assert!(matches!(err.kind(), ErrorKind::InvalidSignature), "{err:?}");
    }
}

#[actix_web::test]
async fn tampered_token_fails_verification() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "tamper", "EdDSA").await;
    let issuer = app.issuer("tamper");
    let jwks = fetch_jwks(&app, "tamper").await;
    let token = app
        .client_credentials_token("tamper", &client, Some(READ))
        .await;
    let jwk = jwks
        .find(&decode_header(&token).expect("header").kid.expect("kid"))
        .expect("key")
        .clone();
    verify_with(&token, &jwk, Algorithm::EdDSA, &issuer, &issuer)
        .expect("the untouched token verifies");

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    // One byte of the decoded payload flipped: the scope claim widened, re-encoded, same signature.
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload");
    let text = String::from_utf8(payload).expect("UTF-8 payload");
    let forged = text.replacen("orders:read", "orders:reae", 1);
    assert_ne!(forged, text);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged),
        parts[2]
    );
    let err = verify_with(&tampered, &jwk, Algorithm::EdDSA, &issuer, &issuer)
        .expect_err("tampered payload");
    assert!(matches!(err.kind(), ErrorKind::InvalidSignature), "{err:?}");

    // One character of the encoded payload changed.
    let mut chars: Vec<char> = parts[1].chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        chars.into_iter().collect::<String>(),
        parts[2]
    );
    assert!(verify_with(&tampered, &jwk, Algorithm::EdDSA, &issuer, &issuer).is_err());
}

#[actix_web::test]
async fn token_request_with_wrong_secret_is_invalid_client() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, "wrong-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let headers = assert_oauth_error(resp, 401, "invalid_client").await;
    let challenge = headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.contains("Basic"),
        "WWW-Authenticate `{challenge}`"
    );
}

#[actix_web::test]
async fn token_request_with_unknown_client_id_is_invalid_client() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            Some(("no-such-client", &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[actix_web::test]
async fn client_secret_post_with_wrong_secret_is_invalid_client() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
                ("client_secret", "wrong-secret"),
            ],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    // The right secret in the body works (client_secret_post).
    let resp = app
        .post_token(
            "errs",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn token_request_without_client_authentication_is_invalid_client() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token("errs", None, &[("grant_type", "client_credentials")])
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    // A confidential client naming itself without a secret is not authenticated either.
    let resp = app
        .post_token(
            "errs",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
            ],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[actix_web::test]
async fn token_request_with_malformed_basic_header_is_invalid_client() {
    let app = spawn_app().await;
    tenant_with_client(&app, "errs", "ES256").await;
    for header in [
        "Basic !!!not-base64",
        "Basic ",
        "Bearer abc.def.ghi",
        "Basic Zm9vYmFy",
    ] {
        let resp = app
            .http
            .post(format!("{}/t/errs/token", app.address))
            .header(AUTHORIZATION, header)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        assert_oauth_error(resp, 401, "invalid_client").await;
    }
}

#[actix_web::test]
async fn token_request_without_grant_type_is_invalid_request() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[("scope", READ)],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[actix_web::test]
async fn unknown_grants_are_unsupported_and_code_and_password_need_the_grant() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    // A client-credentials client may not redeem codes (RFC 6749 §5.2 unauthorized_client).
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", "abc"),
                ("redirect_uri", "https://app.example.com/cb"),
            ],
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    // The resource owner password grant is off unless the client was registered for it
    // (RFC 9700 §2.4; tests/api/password_grant.rs); unknown grants are unsupported.
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "hunter2"),
            ],
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[("grant_type", "urn:example:made-up")],
        )
        .await;
    assert_oauth_error(resp, 400, "unsupported_grant_type").await;
}

#[actix_web::test]
async fn repeated_grant_type_is_invalid_request() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = post_raw(
        &app,
        "errs",
        Some(&client),
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[actix_web::test]
async fn basic_header_and_body_secret_together_are_invalid_request() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[actix_web::test]
async fn json_token_request_is_invalid_request() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = post_raw(
        &app,
        "errs",
        Some(&client),
        "application/json",
        br#"{"grant_type":"client_credentials"}"#.to_vec(),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[actix_web::test]
async fn token_request_body_over_16_kib_is_413_json() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let mut body = b"grant_type=client_credentials&pad=".to_vec();
    body.resize(16 * 1024 + 1, b'a');
    let resp = post_raw(
        &app,
        "errs",
        Some(&client),
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 413);
    let cache = resp
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cache.contains("no-store"), "Cache-Control `{cache}`");
    let body: Value = resp.json().await.expect("a JSON error body");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );

    // Exactly at the limit is still read (and then judged on its content).
    let mut body = b"grant_type=client_credentials&pad=".to_vec();
    body.resize(16 * 1024, b'a');
    let resp = post_raw(
        &app,
        "errs",
        Some(&client),
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn malformed_form_body_is_a_json_4xx_never_500() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let bodies: [&[u8]; 7] = [
        b"%ZZ",
        b"\xff\xfe\xfd",
        b"grant_type=%ZZ",
        b"grant_type=%FF%FE",
        b"grant_type=client_credentials\xff",
        b"grant_type=client_credentials&scope=%FF",
        b"=&&==&grant_type",
    ];
    for body in bodies {
        let resp = post_raw(
            &app,
            "errs",
            Some(&client),
            "application/x-www-form-urlencoded",
            body.to_vec(),
        )
        .await;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = resp.text().await.expect("body");
        assert!(
            (400..500).contains(&status),
            "{body:?}: status {status}, body {text}"
        );
        assert!(
            ct.starts_with("application/json"),
            "{body:?}: content type `{ct}`"
        );
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{body:?}: JSON body {text}"));
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body:?}: {json}"
        );
    }
}

#[actix_web::test]
async fn unknown_token_parameters_are_ignored() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "errs", "ES256").await;
    let resp = app
        .post_token(
            "errs",
            Some((&client.id, &client.secret)),
            &[
                ("grant_type", "client_credentials"),
                ("extra", "foo"),
                ("audience", "whatever"),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn client_without_the_client_credentials_grant_is_unauthorized_client() {
    let app = spawn_app().await;
    app.create_tenant("errs", "ES256").await;
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/errs/clients",
            Some(json!({
                "name": "code-only client",
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example.com/cb"],
            })),
        )
        .await;
    assert_eq!(status, 201, "create client: {body}");
    let id = body["client_id"].as_str().expect("client_id");
    let secret = body["client_secret"]
        .as_str()
        .expect("a confidential client has a secret");
    let resp = app
        .post_token(
            "errs",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
}

#[actix_web::test]
async fn client_of_one_tenant_is_invalid_client_at_another() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "alpha", "ES256").await;
    app.create_tenant("beta", "ES256").await;
    let resp = app
        .post_token(
            "beta",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = app
        .post_token(
            "beta",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[actix_web::test]
async fn successful_token_response_is_an_uncached_bearer_token() {
    let app = spawn_app().await;
    let client = tenant_with_client(&app, "ok", "RS256").await;
    let resp = app
        .post_token(
            "ok",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let cache = resp
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cache.contains("no-store"), "Cache-Control `{cache}`");
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content type `{ct}`");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0), "{body}");
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{body}"
    );
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for client credentials (RFC 6749 §4.4.3)"
    );
}
