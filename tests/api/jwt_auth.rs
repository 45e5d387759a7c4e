//! JWT client authentication (RFC 7523 §2.2, RFC 7521 §4.2, OIDC Core §9): `private_key_jwt`
//! with keys registered as `jwks` (RS256, ES256) or published at a `jwks_uri` served here on
//! 127.0.0.1 (with key rotation, a slow and an oversized server), `client_secret_jwt` (HS256),
//! every refusal as 401 `invalid_client`, `jti` replay across two nodes, the introspection and
//! revocation endpoints, the admin API's validation and the discovery metadata.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, TestClient, spawn_app, spawn_app_on_with, spawn_app_with};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client key pair: the private half signs assertions, the public JWK is registered.
pub(crate) struct ClientKey {
    alg: Algorithm,
    signing: EncodingKey,
    pub(crate) jwk: Value,
}

impl ClientKey {
    /// A 2048-bit RSA key for RS256, with `kid`.
    fn rsa(kid: &str) -> Self {
        let rsa = Rsa::generate(2048).unwrap();
        let b64 = |n: &openssl::bn::BigNumRef| URL_SAFE_NO_PAD.encode(n.to_vec());
        let jwk =
            json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(rsa.n()), "e": b64(rsa.e())});
        let pem = rsa.private_key_to_pem().unwrap();
        Self {
            alg: Algorithm::RS256,
            signing: EncodingKey::from_rsa_pem(&pem).unwrap(),
            jwk,
        }
    }

    /// A P-256 key for ES256, with `kid`.
    pub(crate) fn ec(kid: &str) -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let c = |n: &BigNum| URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap());
        let jwk = json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": c(&x), "y": c(&y)});
        let pem = PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        Self {
            alg: Algorithm::ES256,
            signing: EncodingKey::from_ec_pem(&pem).unwrap(),
            jwk,
        }
    }

    fn kid(&self) -> &str {
        self.jwk["kid"].as_str().unwrap()
    }

    /// An assertion for `client_id` to `aud`, with `extra` claims added, replaced or (as
    /// `null`) removed.
    pub(crate) fn assertion(&self, client_id: &str, aud: &str, extra: Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid().to_owned());
        sign(&header, &self.signing, &claims(client_id, aud, extra))
    }
}

/// Standard assertion claims (RFC 7523 §3) valid for five minutes, adjusted by `extra`.
fn claims(client_id: &str, aud: &str, extra: Value) -> Value {
    let mut claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now(),
        "exp": now() + 300,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn sign(header: &Header, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// An HS256 assertion keyed with the client secret (client_secret_jwt).
fn hs256(client: &TestClient, aud: &str, extra: Value) -> String {
    sign(
        &Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(client.secret.as_bytes()),
        &claims(&client.id, aud, extra),
    )
}

/// Registers a confidential client-credentials client with `options`.
pub(crate) async fn register(app: &TestApp, tenant: &str, options: Value) -> TestClient {
    let (status, body) = try_register(app, tenant, options).await;
    assert_eq!(status, 201, "register: {body}");
    TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

async fn try_register(app: &TestApp, tenant: &str, options: Value) -> (u16, Value) {
    let token = app.admin_token().await;
    app.admin(
        &token,
        reqwest::Method::POST,
        &format!("/tenants/{tenant}/clients"),
        Some(json!({
            "name": "jwt client",
            "grant_types": ["client_credentials"],
            "scopes": [],
            "options": options,
        })),
    )
    .await
}

/// A client-credentials request authenticated by `assertion`, with optional extra fields.
pub(crate) async fn token_with(
    app: &TestApp,
    tenant: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    app.post_token(tenant, None, &form).await
}

/// Status, error code and description of a response.
async fn outcome(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Asserts a 401 `invalid_client` with a challenge, returning the description.
pub(crate) async fn assert_invalid_client(resp: reqwest::Response, case: &str) -> String {
    assert!(
        resp.headers().get(WWW_AUTHENTICATE).is_some(),
        "{case}: 401 carries WWW-Authenticate"
    );
    let (status, error, description) = outcome(resp).await;
    assert_eq!(
        (status, error.as_str()),
        (401, "invalid_client"),
        "{case}: {description}"
    );
    description
}

/// A server on 127.0.0.1 serving a JWK Set that the test can change; counts requests.
#[derive(Clone)]
struct JwksServer {
    url: String,
    body: Arc<Mutex<String>>,
    delay: Arc<Mutex<Option<Duration>>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(initial: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            url: format!("http://{}/jwks.json", listener.local_addr().unwrap()),
            body: Arc::new(Mutex::new(initial.to_string())),
            delay: Arc::new(Mutex::new(None)),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let state = server.clone();
        actix_web::rt::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                state.hits.fetch_add(1, Ordering::SeqCst);
                let body = state.body.lock().unwrap().clone();
                let delay = *state.delay.lock().unwrap();
                actix_web::rt::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(resp.as_bytes()).await;
                });
            }
        });
        server
    }

    fn publish(&self, set: Value) {
        *self.body.lock().unwrap() = set.to_string();
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A server that may fetch plain-http `jwks_uri`s on loopback (the test servers).
async fn spawn_lax_app() -> TestApp {
    spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await
}

#[actix_web::test]
async fn private_key_jwt_with_registered_rs256_and_es256_keys_gets_tokens() {
    let app = spawn_app().await;
    app.create_tenant("pkj", "ES256").await;
    let token_url = format!("{}/token", app.issuer("pkj"));
    let (rsa, ec) = (ClientKey::rsa("r1"), ClientKey::ec("e1"));
    let client = register(
        &app,
        "pkj",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [rsa.jwk, ec.jwk]}}),
    )
    .await;
    // aud: the issuer (draft-ietf-oauth-rfc7523bis), the token endpoint URL (RFC 7523 §3,
    // OIDC Core §9), or an array holding one of them.
    for (key, aud) in [
        (&rsa, json!(app.issuer("pkj"))),
        (&ec, json!(token_url)),
        (&ec, json!(["https://elsewhere.example", app.issuer("pkj")])),
    ] {
        let assertion = key.assertion(&client.id, "", json!({"aud": aud}));
        let resp = token_with(&app, "pkj", &assertion, &[]).await;
        assert_eq!(resp.status().as_u16(), 200, "{aud}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["access_token"].is_string(), "{body}");
    }
    // client_id may be sent too, naming the same client (RFC 7521 §4.2).
    let assertion = rsa.assertion(&client.id, &app.issuer("pkj"), json!({}));
    let resp = token_with(&app, "pkj", &assertion, &[("client_id", &client.id)]).await;
    assert_eq!(resp.status().as_u16(), 200);
    // The client's secret is not an alternative once private_key_jwt is registered.
    let resp = app
        .post_token(
            "pkj",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_invalid_client(resp, "secret for a private_key_jwt client").await;
}

#[actix_web::test]
async fn refused_assertions_are_401_invalid_client() {
    let app = spawn_app().await;
    app.create_tenant("neg", "ES256").await;
    app.create_tenant("other", "ES256").await;
    let issuer = app.issuer("neg");
    let key = ClientKey::ec("k1");
    let stranger = ClientKey::ec("k1");
    let client = register(
        &app,
        "neg",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}, "token_endpoint_auth_signing_alg": "ES256"}),
    )
    .await;
    let peer = register(
        &app,
        "neg",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [ClientKey::ec("p").jwk]}}),
    )
    .await;
    let good = key.assertion(&client.id, &issuer, json!({}));
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut tampered_sig = signature.to_owned();
    let flipped = if tampered_sig[5..6] == *"A" { "B" } else { "A" };
    tampered_sig.replace_range(5..6, flipped);
    let forged_claims = URL_SAFE_NO_PAD
        .encode(claims(&client.id, &issuer, json!({"exp": now() + 500})).to_string());
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
    let hs_with_public_key = sign(
        &Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(key.jwk["x"].as_str().unwrap().as_bytes()),
        &claims(&client.id, &issuer, json!({})),
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by another key",
            stranger.assertion(&client.id, &issuer, json!({})),
        ),
        (
            "tampered signature",
            format!("{head}.{payload}.{tampered_sig}"),
        ),
        (
            "tampered payload",
            format!("{head}.{forged_claims}.{signature}"),
        ),
        ("alg none", format!("{none_header}.{payload}.")),
        ("HS256 keyed with public key material", hs_with_public_key),
        (
            "aud of another tenant",
            key.assertion(&client.id, &app.issuer("other"), json!({})),
        ),
        (
            "aud of another server",
            key.assertion(&client.id, "https://as.example.com", json!({})),
        ),
        (
            "no aud",
            key.assertion(&client.id, &issuer, json!({"aud": null})),
        ),
        (
            "iss of another client",
            key.assertion(&client.id, &issuer, json!({"iss": peer.id})),
        ),
        (
            "sub of another client",
            key.assertion(&client.id, &issuer, json!({"sub": peer.id})),
        ),
        (
            "expired",
            key.assertion(&client.id, &issuer, json!({"exp": now() - 120})),
        ),
        (
            "no exp",
            key.assertion(&client.id, &issuer, json!({"exp": null})),
        ),
        (
            "exp a day ahead",
            key.assertion(&client.id, &issuer, json!({"exp": now() + 86_400})),
        ),
        (
            "nbf in the future",
            key.assertion(&client.id, &issuer, json!({"nbf": now() + 600})),
        ),
        (
            "iat in the future",
            key.assertion(&client.id, &issuer, json!({"iat": now() + 600})),
        ),
        (
            "no jti",
            key.assertion(&client.id, &issuer, json!({"jti": null})),
        ),
        ("not a JWS", "not-a-jwt".to_owned()),
    ];
    for (case, assertion) in cases {
        let resp = token_with(&app, "neg", &assertion, &[]).await;
        let description = assert_invalid_client(resp, case).await;
        assert!(!description.is_empty(), "{case}: a description says why");
    }
    // The assertion itself was fine all along.
    let resp = token_with(&app, "neg", &good, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    // A client_id in the body must name the client the assertion identifies.
    let assertion = key.assertion(&client.id, &issuer, json!({}));
    let resp = token_with(&app, "neg", &assertion, &[("client_id", &peer.id)]).await;
    assert_invalid_client(resp, "client_id of another client").await;
    // Another assertion type, or half of the pair, is refused.
    let assertion = key.assertion(&client.id, &issuer, json!({}));
    let resp = app
        .post_token(
            "neg",
            None,
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_invalid_client(resp, "saml2-bearer").await;
    let resp = app
        .post_token(
            "neg",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(
        outcome(resp).await.1,
        "invalid_request",
        "assertion without its type"
    );
}

#[actix_web::test]
async fn basic_credentials_and_an_assertion_together_are_refused() {
    let app = spawn_app().await;
    app.create_tenant("two", "ES256").await;
    let key = ClientKey::ec("k");
    let client = register(
        &app,
        "two",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let assertion = key.assertion(&client.id, &app.issuer("two"), json!({}));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    // RFC 6749 §2.3: one authentication method per request.
    let resp = app
        .post_token("two", Some((&client.id, &client.secret)), &form)
        .await;
    assert_eq!(outcome(resp).await.1, "invalid_request");
    let mut with_secret = form.to_vec();
    with_secret.push(("client_secret", &client.secret));
    let resp = app.post_token("two", None, &with_secret).await;
    assert_eq!(outcome(resp).await.1, "invalid_request");
}

#[actix_web::test]
async fn an_assertion_from_a_client_registered_for_another_method_is_refused() {
    let app = spawn_app().await;
    app.create_tenant("meth", "ES256").await;
    let key = ClientKey::ec("k");
    // A secret client (no registered method), a client_secret_basic one, and a
    // client_secret_jwt one presented with an asymmetric assertion.
    let plain = register(&app, "meth", json!({"jwks": {"keys": [key.jwk]}})).await;
    let basic = register(
        &app,
        "meth",
        json!({"token_endpoint_auth_method": "client_secret_basic", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let hmac = register(
        &app,
        "meth",
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    for client in [&plain, &basic, &hmac] {
        let assertion = key.assertion(&client.id, &app.issuer("meth"), json!({}));
        let resp = token_with(&app, "meth", &assertion, &[]).await;
        assert_invalid_client(resp, &client.id).await;
    }
    // And a private_key_jwt client cannot use client_secret_jwt with its secret.
    let pkj = register(
        &app,
        "meth",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let resp = token_with(
        &app,
        "meth",
        &hs256(&pkj, &app.issuer("meth"), json!({})),
        &[],
    )
    .await;
    assert_invalid_client(resp, "HS256 for private_key_jwt").await;
}

#[actix_web::test]
async fn client_secret_jwt_with_hs256_gets_a_token_and_a_wrong_secret_does_not() {
    let app = spawn_app().await;
    app.create_tenant("csj", "ES256").await;
    let client = register(
        &app,
        "csj",
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    assert!(
        !client.secret.is_empty(),
        "client_secret_jwt clients get a secret"
    );
    let resp = token_with(
        &app,
        "csj",
        &hs256(&client, &app.issuer("csj"), json!({})),
        &[],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let wrong = TestClient {
        id: client.id.clone(),
        secret: "not-the-secret-but-long-enough-for-hs256-keys".into(),
    };
    let resp = token_with(
        &app,
        "csj",
        &hs256(&wrong, &app.issuer("csj"), json!({})),
        &[],
    )
    .await;
    assert_invalid_client(resp, "wrong secret").await;
    // The secret also works as Basic? No: one method per client (RFC 7591 §2).
    let resp = app
        .post_token(
            "csj",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_invalid_client(resp, "Basic for a client_secret_jwt client").await;
    // HS384 is refused when the client registered HS256 only.
    let only = register(
        &app,
        "csj",
        json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"}),
    )
    .await;
    let hs384 = sign(
        &Header::new(Algorithm::HS384),
        &EncodingKey::from_secret(only.secret.as_bytes()),
        &claims(&only.id, &app.issuer("csj"), json!({})),
    );
    let resp = token_with(&app, "csj", &hs384, &[]).await;
    assert_invalid_client(resp, "HS384 against a registered HS256").await;
    let resp = token_with(
        &app,
        "csj",
        &hs256(&only, &app.issuer("csj"), json!({})),
        &[],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_replayed_jti_is_refused_at_the_same_node_and_at_another_node() {
    let node1 = spawn_app().await;
    node1.create_tenant("rep", "ES256").await;
    let key = ClientKey::ec("k");
    let client = register(
        &node1,
        "rep",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let assertion = key.assertion(&client.id, &node1.issuer("rep"), json!({}));
    let resp = token_with(&node1, "rep", &assertion, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    let resp = token_with(&node1, "rep", &assertion, &[]).await;
    let why = assert_invalid_client(resp, "replay at the same node").await;
    assert!(why.contains("jti"), "{why}");

    // A second node on the same database (and master key), same issuer.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        node1.data_dir.path().join("master.key"),
        dir.path().join("master.key"),
    )
    .unwrap();
    let public_url = node1.address.clone();
    let node2 = spawn_app_on_with(dir, node1.database_url.clone(), move |s| {
        s.server.public_url = public_url;
    })
    .await;
    let resp = token_with(&node2, "rep", &assertion, &[]).await;
    let why = assert_invalid_client(resp, "replay at another node").await;
    assert!(why.contains("jti"), "{why}");
    // A fresh assertion from the same client works there.
    let fresh = key.assertion(&client.id, &node1.issuer("rep"), json!({}));
    let resp = token_with(&node2, "rep", &fresh, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn jwks_uri_keys_are_fetched_cached_and_refetched_for_a_rotated_in_kid() {
    let app = spawn_lax_app().await;
    app.create_tenant("uri", "ES256").await;
    let (old, new) = (ClientKey::ec("2026-01"), ClientKey::rsa("2026-02"));
    let server = JwksServer::start(json!({"keys": [old.jwk]})).await;
    let client = register(
        &app,
        "uri",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": server.url}),
    )
    .await;
    let issuer = app.issuer("uri");
    for _ in 0..2 {
        let resp = token_with(
            &app,
            "uri",
            &old.assertion(&client.id, &issuer, json!({})),
            &[],
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200);
    }
    assert_eq!(server.hits(), 1, "the set is cached");
    // The client rotates: publishes the new key and signs with it; the unknown kid makes the
    // server fetch the set again.
    server.publish(json!({"keys": [new.jwk]}));
    let resp = token_with(
        &app,
        "uri",
        &new.assertion(&client.id, &issuer, json!({})),
        &[],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(server.hits(), 2);
    // The retired key no longer verifies (its kid is unknown, and refetching is rate-limited).
    let resp = token_with(
        &app,
        "uri",
        &old.assertion(&client.id, &issuer, json!({})),
        &[],
    )
    .await;
    assert_invalid_client(resp, "retired key").await;
    // A flood of made-up kids does not make the server fetch again right away.
    let bogus = ClientKey::ec("made-up");
    for _ in 0..3 {
        let resp = token_with(
            &app,
            "uri",
            &bogus.assertion(&client.id, &issuer, json!({})),
            &[],
        )
        .await;
        assert_invalid_client(resp, "unknown kid").await;
    }
    assert_eq!(server.hits(), 2, "refetching is rate-limited");
}

#[actix_web::test]
async fn a_jwks_uri_that_is_slow_or_oversized_is_invalid_client_without_hanging() {
    let app = spawn_lax_app().await;
    app.create_tenant("bad", "ES256").await;
    let key = ClientKey::ec("k");
    let issuer = app.issuer("bad");

    let slow = JwksServer::start(json!({"keys": [key.jwk]})).await;
    *slow.delay.lock().unwrap() = Some(Duration::from_secs(20));
    let client = register(
        &app,
        "bad",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": slow.url}),
    )
    .await;
    let started = Instant::now();
    let resp = token_with(
        &app,
        "bad",
        &key.assertion(&client.id, &issuer, json!({})),
        &[],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let why = assert_invalid_client(resp, "slow jwks_uri").await;
    assert!(why.contains("jwks_uri"), "{why}");

    let padding = "x".repeat(70 * 1024);
    let big = JwksServer::start(json!({"keys": [key.jwk], "padding": padding})).await;
    let client = register(
        &app,
        "bad",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": big.url}),
    )
    .await;
    let resp = token_with(
        &app,
        "bad",
        &key.assertion(&client.id, &issuer, json!({})),
        &[],
    )
    .await;
    let why = assert_invalid_client(resp, "oversized jwks_uri").await;
    assert!(why.contains("too large"), "{why}");
}

#[actix_web::test]
async fn plain_http_jwks_uri_is_not_fetched_unless_the_server_allows_loopback_http() {
    let app = spawn_app().await;
    app.create_tenant("strict", "ES256").await;
    let key = ClientKey::ec("k");
    let server = JwksServer::start(json!({"keys": [key.jwk]})).await;
    let client = register(
        &app,
        "strict",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": server.url}),
    )
    .await;
    let assertion = key.assertion(&client.id, &app.issuer("strict"), json!({}));
    let resp = token_with(&app, "strict", &assertion, &[]).await;
    assert_invalid_client(resp, "http jwks_uri on a strict server").await;
    assert_eq!(server.hits(), 0);
}

#[actix_web::test]
async fn jwt_client_authentication_works_at_introspection_and_revocation() {
    let app = spawn_app().await;
    app.create_tenant("ir", "ES256").await;
    let issuer = app.issuer("ir");
    let key = ClientKey::ec("k");
    let client = register(
        &app,
        "ir",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let resp = token_with(
        &app,
        "ir",
        &key.assertion(&client.id, &issuer, json!({})),
        &[],
    )
    .await;
    let token: Value = resp.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let url = format!("{issuer}/{path}");
        let http = app.http.clone();
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    // Introspection: aud the issuer, the token endpoint or the introspection endpoint.
    for aud in [
        issuer.clone(),
        format!("{issuer}/token"),
        format!("{issuer}/introspect"),
    ] {
        let resp = post(
            "introspect",
            vec![
                ("token", access.clone()),
                ("client_assertion_type", JWT_BEARER.into()),
                (
                    "client_assertion",
                    key.assertion(&client.id, &aud, json!({})),
                ),
            ],
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200, "{aud}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["active"], true, "{aud}: {body}");
    }
    // The revocation endpoint's URL is not an audience at introspection.
    let resp = post(
        "introspect",
        vec![
            ("token", access.clone()),
            ("client_assertion_type", JWT_BEARER.into()),
            (
                "client_assertion",
                key.assertion(&client.id, &format!("{issuer}/revoke"), json!({})),
            ),
        ],
    )
    .await;
    assert_invalid_client(resp, "aud of another endpoint").await;
    // A replayed assertion fails at introspection too.
    let once = key.assertion(&client.id, &issuer, json!({}));
    let form = vec![
        ("token", access.clone()),
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", once),
    ];
    assert_eq!(
        post("introspect", form.clone()).await.status().as_u16(),
        200
    );
    assert_invalid_client(post("introspect", form).await, "replay at introspect").await;

    // Revocation with an assertion whose aud is the revocation endpoint.
    let resp = post(
        "revoke",
        vec![
            ("token", access.clone()),
            ("client_assertion_type", JWT_BEARER.into()),
            (
                "client_assertion",
                key.assertion(&client.id, &format!("{issuer}/revoke"), json!({})),
            ),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let resp = post(
        "introspect",
        vec![
            ("token", access.clone()),
            ("client_assertion_type", JWT_BEARER.into()),
            (
                "client_assertion",
                key.assertion(&client.id, &issuer, json!({})),
            ),
        ],
    )
    .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["active"], false, "revoked: {body}");
    let resp = post(
        "revoke",
        vec![
            ("token", access),
            ("client_assertion_type", JWT_BEARER.into()),
            (
                "client_assertion",
                ClientKey::ec("k").assertion(&client.id, &issuer, json!({})),
            ),
        ],
    )
    .await;
    assert_invalid_client(resp, "wrong key at revoke").await;
}

#[actix_web::test]
async fn the_admin_api_validates_jwt_client_options() {
    let app = spawn_app().await;
    app.create_tenant("adm", "ES256").await;
    let key = ClientKey::ec("k");
    let bad = [
        json!({"token_endpoint_auth_method": "private_key_jwt"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://rp.example.com/jwks"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "/jwks"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example.com/jwks", "jwks": {"keys": [key.jwk]}}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}, "token_endpoint_auth_signing_alg": "HS256"}),
        json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "ES256"}),
        json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "none"}),
        json!({"token_endpoint_auth_signing_alg": "RS256"}),
    ];
    for options in bad {
        let (status, body) = try_register(&app, "adm", options.clone()).await;
        assert_eq!(status, 400, "{options}: {body}");
    }
    for options in [
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example.com/jwks", "token_endpoint_auth_signing_alg": "PS256"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://127.0.0.1:9/jwks"}),
        // Keys for other uses (signed request objects) may be registered with any method.
        json!({"token_endpoint_auth_method": "client_secret_basic", "jwks_uri": "https://rp.example.com/jwks"}),
    ] {
        let (status, body) = try_register(&app, "adm", options.clone()).await;
        assert_eq!(status, 201, "{options}: {body}");
        assert_eq!(
            body["options"]["jwks_uri"], options["jwks_uri"],
            "stored as registered: {body}"
        );
    }
    // client_secret_jwt needs the secret sealed at registration: it cannot be switched on later.
    let client = app.create_client("adm", &[]).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/adm/clients/{}", client.id),
            Some(json!({"options": {"token_endpoint_auth_method": "client_secret_jwt"}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // A client_secret_jwt client may move to a secret method (its sealed copy is dropped),
    // but not back.
    let hmac = register(
        &app,
        "adm",
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    let patch = |options: Value| {
        let (token, path) = (token.clone(), format!("/tenants/adm/clients/{}", hmac.id));
        let app = &app;
        async move {
            app.admin(
                &token,
                reqwest::Method::PATCH,
                &path,
                Some(json!({ "options": options })),
            )
            .await
        }
    };
    let (status, body) = patch(json!({"token_endpoint_auth_method": "client_secret_basic"})).await;
    assert_eq!(status, 200, "{body}");
    let mut basic = 0;
    for _ in 0..40 {
        basic = app
            .post_token(
                "adm",
                Some((&hmac.id, &hmac.secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .status()
            .as_u16();
        if basic == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(basic, 200, "the same secret now works as Basic");
    let (status, body) = patch(json!({"token_endpoint_auth_method": "client_secret_jwt"})).await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn discovery_lists_the_jwt_methods_and_their_algorithms() {
    let app = spawn_app().await;
    app.create_tenant("disc", "ES256").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("disc")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = doc[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field}: {doc}"));
        for m in ["private_key_jwt", "client_secret_jwt"] {
            assert!(methods.contains(&json!(m)), "{field} {m}: {doc}");
        }
    }
    for field in [
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        let algs = doc[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field}: {doc}"));
        for alg in ["RS256", "ES256", "PS256", "EdDSA", "HS256"] {
            assert!(algs.contains(&json!(alg)), "{field} {alg}: {doc}");
        }
        assert!(!algs.contains(&json!("none")), "{doc}");
    }
}

#[actix_web::test]
async fn the_cli_registers_jwt_clients_and_a_client_secret_jwt_secret_works_at_once() {
    let app = spawn_app().await;
    app.create_tenant("cli-jwt", "ES256").await;
    let (ok, json) = app.cli(&[
        "client",
        "create",
        "cli-jwt",
        "--name",
        "hmac",
        "--auth-method",
        "client_secret_jwt",
        "--auth-signing-alg",
        "HS256",
    ]);
    assert!(ok, "{json}");
    let client = TestClient {
        id: json["client_id"].as_str().unwrap().to_owned(),
        secret: json["client_secret"].as_str().unwrap().to_owned(),
    };
    // The running server learns of the client through the change feed.
    let mut status = 0;
    for _ in 0..40 {
        let assertion = hs256(&client, &app.issuer("cli-jwt"), json!({}));
        status = token_with(&app, "cli-jwt", &assertion, &[])
            .await
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);

    let (ok, json) = app.cli(&[
        "client",
        "create",
        "cli-jwt",
        "--name",
        "keys",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://rp.example.com/jwks.json",
    ]);
    assert!(ok, "{json}");
    assert_eq!(
        json["options"]["jwks_uri"],
        "https://rp.example.com/jwks.json"
    );
    let (ok, json) = app.cli(&[
        "client",
        "create",
        "cli-jwt",
        "--name",
        "bad",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "http://rp.example.com/jwks.json",
    ]);
    assert!(!ok, "plain http to a remote host: {json}");
}
