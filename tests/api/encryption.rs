//! Encrypted ID tokens and userinfo responses (OIDC Core §10.2, §5.3.2; OIDC Registration §2):
//! clients registering an RSA or EC encryption key in `jwks` or at a `jwks_uri` served here on
//! 127.0.0.1 get nested JWTs (signed, then encrypted) from the code and refresh grants, and
//! encrypted or signed-then-encrypted userinfo; each is decrypted with the independent
//! `josekit` and its inner JWS verified against the tenant JWKS. Registration refuses what
//! cannot work, and an unreachable `jwks_uri` is an RFC 6749 §5.2 error, not a 500.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app, spawn_app_with, within};
use crate::pairwise::{client, jwt_claims, register};

const VERIFIER: &str = "encryption-verifier-0123456789-0123456789-0123456789";

/// A client's encryption key pair: the private half stays in the test.
struct EncKey {
    private: PKey<Private>,
    public_jwk: Value,
}

impl EncKey {
    fn rsa(kid: Option<&str>) -> Self {
        let private = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let rsa = private.rsa().unwrap();
        let mut public_jwk = json!({
            "kty": "RSA",
            "use": "enc",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        });
        if let Some(kid) = kid {
            public_jwk["kid"] = kid.into();
        }
        Self {
            private,
            public_jwk,
        }
    }

    fn ec(nid: Nid, crv: &str, width: i32, kid: Option<&str>) -> Self {
        let group = EcGroup::from_curve_name(nid).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let mut public_jwk = json!({
            "kty": "EC",
            "crv": crv,
            "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(width).unwrap()),
            "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(width).unwrap()),
        });
        if let Some(kid) = kid {
            public_jwk["kid"] = kid.into();
        }
        Self {
            private: PKey::from_ec_key(ec).unwrap(),
            public_jwk,
        }
    }

    /// Decrypts a compact JWE with `josekit`: the plaintext and the protected header.
    fn decrypt(&self, jwe: &str) -> Result<(Vec<u8>, josekit::jwe::JweHeader), String> {
        let pem = self.private.private_key_to_pem_pkcs8().unwrap();
        let result = if self.public_jwk["kty"] == "RSA" {
            let decrypter = josekit::jwe::RSA_OAEP_256.decrypter_from_pem(&pem).unwrap();
            josekit::jwe::deserialize_compact(jwe, &decrypter)
        } else {
            let decrypter = josekit::jwe::ECDH_ES.decrypter_from_pem(&pem).unwrap();
            josekit::jwe::deserialize_compact(jwe, &decrypter)
        };
        result.map_err(|e| e.to_string())
    }
}

/// The protected header of a compact JWE, as JSON.
fn header_of(jwe: &str) -> Value {
    let header = jwe.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// Verifies a JWS against the tenant's published keys (with `jsonwebtoken`, not our code) as
/// meant for `client_id`; its claims.
async fn verify_jws(app: &TestApp, slug: &str, client_id: &str, jws: &str) -> Value {
    let header = jsonwebtoken::decode_header(jws).expect("JWS header");
    let kid = header.kid.clone().expect("a kid");
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(format!("{}/jwks", app.issuer(slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[app.issuer(slug)]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(jws, &key, &validation)
        .expect("the inner JWS verifies")
        .claims
}

/// Opens an encrypted ID token: decrypts it with `key`, checks the nested-JWT header and
/// verifies the inner JWS; its claims.
async fn open_id_token(
    app: &TestApp,
    who: &SignIn,
    key: &EncKey,
    id_token: &str,
    alg: &str,
    enc: &str,
) -> Value {
    assert_eq!(id_token.split('.').count(), 5, "a compact JWE: {id_token}");
    let (inner, header) = key
        .decrypt(id_token)
        .expect("josekit decrypts the ID token");
    assert_eq!(header.algorithm(), Some(alg));
    assert_eq!(header.content_encryption(), Some(enc));
    // RFC 7519 §5.2: a nested JWT says so.
    assert_eq!(header.content_type(), Some("JWT"));
    assert_eq!(header.key_id(), key.public_jwk["kid"].as_str());
    let inner = String::from_utf8(inner).unwrap();
    assert_eq!(inner.split('.').count(), 3, "the payload is a JWS");
    verify_jws(app, &who.tenant, &who.client_id, &inner).await
}

/// The code flow for `who` with `scope`; the token response.
async fn code_flow(app: &TestApp, who: &SignIn, scope: &str) -> Value {
    let (_, code) = who.code(app, scope, VERIFIER).await;
    let (status, tokens) = who.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// GETs userinfo with `access_token`: status, content type and body text.
async fn userinfo(app: &TestApp, tenant: &str, access_token: &str) -> (u16, String, String) {
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer(tenant)))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

#[actix_web::test]
async fn id_tokens_encrypted_to_an_rsa_jwks_key_decrypt_and_verify_for_code_and_refresh() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "enc-rsa", true).await;
    let key = EncKey::rsa(Some("rp-enc-1"));
    // A signing key of the client comes first: it must not be chosen.
    let signing = EncKey::rsa(Some("rp-sig-1"));
    let mut sig_jwk = signing.public_jwk.clone();
    sig_jwk["use"] = "sig".into();
    let who = client(
        &app,
        &base,
        &["https://rp.example.com/cb"],
        json!({
            "jwks": {"keys": [sig_jwk, key.public_jwk]},
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "id_token_encrypted_response_enc": "A256GCM",
        }),
    )
    .await;
    let tokens = code_flow(&app, &who, "openid email offline_access").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = open_id_token(&app, &who, &key, id_token, "RSA-OAEP-256", "A256GCM").await;
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["azp"], who.client_id.as_str());
    assert!(claims["at_hash"].is_string(), "{claims}");
    assert!(
        signing.decrypt(id_token).is_err(),
        "only the encryption key decrypts it"
    );
    // The access token is not encrypted: it is for the resource server, not the client.
    assert_eq!(
        tokens["access_token"].as_str().unwrap().split('.').count(),
        3
    );

    // The refresh grant issues an encrypted ID token too, for the same user.
    let resp = app
        .post_token(
            &who.tenant,
            Some((&who.client_id, &who.client_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let refreshed: Value = resp.json().await.unwrap();
    let again = open_id_token(
        &app,
        &who,
        &key,
        refreshed["id_token"].as_str().unwrap(),
        "RSA-OAEP-256",
        "A256GCM",
    )
    .await;
    assert_eq!(again["sub"], claims["sub"]);
    assert!(again.get("nonce").is_none(), "OIDC Core §12.2: {again}");

    // A client that registered no encryption still gets a plain JWS.
    let plain = code_flow(&app, &base, "openid").await;
    assert_eq!(
        plain["id_token"].as_str().unwrap().split('.').count(),
        3,
        "signed only"
    );
}

#[actix_web::test]
async fn ecdh_es_id_tokens_use_the_registered_curve_and_default_to_a128cbc_hs256() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "enc-ec", true).await;
    let key = EncKey::ec(Nid::X9_62_PRIME256V1, "P-256", 32, None);
    let who = client(
        &app,
        &base,
        &["https://rp.example.com/cb"],
        json!({
            "jwks": {"keys": [key.public_jwk]},
            "id_token_encrypted_response_alg": "ECDH-ES",
        }),
    )
    .await;
    let tokens = code_flow(&app, &who, "openid profile").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    // OIDC Registration §2: the alg alone means A128CBC-HS256.
    let claims = open_id_token(&app, &who, &key, id_token, "ECDH-ES", "A128CBC-HS256").await;
    assert_eq!(claims["aud"], json!([who.client_id]));
    let header = header_of(id_token);
    assert_eq!(header["epk"]["crv"], "P-256", "{header}");
    assert!(header["epk"].get("d").is_none(), "{header}");
    assert!(header.get("kid").is_none(), "the key has no kid: {header}");
    // Another P-256 key cannot open it.
    let stranger = EncKey::ec(Nid::X9_62_PRIME256V1, "P-256", 32, None);
    assert!(stranger.decrypt(id_token).is_err());
}

/// A server on 127.0.0.1 serving a JWK Set (like a client's `jwks_uri`).
#[derive(Clone)]
struct JwksServer {
    url: String,
    body: Arc<Mutex<String>>,
}

impl JwksServer {
    async fn start(set: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            url: format!("http://{}/jwks.json", listener.local_addr().unwrap()),
            body: Arc::new(Mutex::new(set.to_string())),
        };
        let state = server.clone();
        actix_web::rt::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = state.body.lock().unwrap().clone();
                actix_web::rt::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
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
}

/// A loopback URL nothing listens on.
fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/jwks.json")
}

#[actix_web::test]
async fn jwks_uri_keys_encrypt_id_tokens_and_an_unreachable_one_is_an_oauth_error() {
    let app = spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    // Keys first: RSA generation is slow on a loaded machine.
    let key = EncKey::ec(Nid::SECP384R1, "P-384", 48, Some("rp-p384"));
    let rsa = EncKey::rsa(None);
    let mut sig_jwk = EncKey::rsa(None).public_jwk;
    sig_jwk["use"] = "sig".into();
    let base = sign_in_fixture(&app, "enc-uri", true).await;
    let server = JwksServer::start(json!({"keys": [key.public_jwk]})).await;
    let who = client(
        &app,
        &base,
        &["https://rp.example.com/cb"],
        json!({
            "jwks_uri": server.url,
            "id_token_encrypted_response_alg": "ECDH-ES",
            "id_token_encrypted_response_enc": "A256GCM",
        }),
    )
    .await;
    let tokens = code_flow(&app, &who, "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    open_id_token(&app, &who, &key, id_token, "ECDH-ES", "A256GCM").await;
    assert_eq!(header_of(id_token)["epk"]["crv"], "P-384");

    // A jwks_uri nobody answers at: registration does not fetch it, the token request fails
    // with an RFC 6749 §5.2 error, and the code is not spent.
    let (status, body) = register(
        &app,
        "enc-uri",
        &["https://rp.example.com/cb"],
        json!({"jwks_uri": unreachable_url(), "id_token_encrypted_response_alg": "RSA-OAEP-256"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let broken = crate::pairwise::as_client(&base, &body, "https://rp.example.com/cb");
    let (_, code) = broken.code(&app, "openid", VERIFIER).await;
    let (status, error) = broken.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"], "invalid_request", "{error}");
    let description = error["error_description"].as_str().unwrap();
    assert!(
        description.contains("encryption key could not be obtained"),
        "{description}"
    );
    // Once the client publishes a key where the server can fetch it, the same code works.
    let fixed = JwksServer::start(json!({"keys": [rsa.public_jwk]})).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/enc-uri/clients/{}", broken.client_id),
            Some(json!({"options": {
                "jwks_uri": fixed.url,
                "id_token_encrypted_response_alg": "RSA-OAEP-256",
            }})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let exchanged: Arc<Mutex<Option<Value>>> = Arc::default();
    let probe = || {
        let exchanged = Arc::clone(&exchanged);
        let (broken, app, code) = (&broken, &app, &code);
        async move {
            let (status, tokens) = broken.exchange(app, code, VERIFIER).await;
            if status == 200 {
                *exchanged.lock().unwrap() = Some(tokens);
            }
            status == 200
        }
    };
    assert!(
        within(PROPAGATION * 5, probe).await.is_some(),
        "the code still works"
    );
    let tokens = exchanged.lock().unwrap().take().unwrap();
    open_id_token(
        &app,
        &broken,
        &rsa,
        tokens["id_token"].as_str().unwrap(),
        "RSA-OAEP-256",
        "A128CBC-HS256",
    )
    .await;

    // A jwks_uri holding no key for the algorithm: the same error, saying why.
    let sig_only = JwksServer::start(json!({"keys": [sig_jwk]})).await;
    let (status, body) = register(
        &app,
        "enc-uri",
        &["https://rp.example.com/cb"],
        json!({"jwks_uri": sig_only.url, "id_token_encrypted_response_alg": "RSA-OAEP-256"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let keyless = crate::pairwise::as_client(&base, &body, "https://rp.example.com/cb");
    let (_, code) = keyless.code(&app, "openid", VERIFIER).await;
    let (status, error) = keyless.exchange(&app, &code, VERIFIER).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("no public key usable for RSA-OAEP-256"),
        "{error}"
    );
}

#[actix_web::test]
async fn userinfo_is_encrypted_or_signed_then_encrypted_as_registered() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "enc-ui", true).await;

    // Encrypted only: the JWE's plaintext is the JSON claims (OIDC Core §5.3.2).
    let rsa = EncKey::rsa(Some("ui-rsa"));
    let who = client(
        &app,
        &base,
        &["https://rp.example.com/cb"],
        json!({
            "jwks": {"keys": [rsa.public_jwk]},
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
        }),
    )
    .await;
    let tokens = code_flow(&app, &who, "openid email").await;
    // Only userinfo was registered for encryption: the ID token is a plain JWS.
    let id_claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    let (status, content_type, body) =
        userinfo(&app, "enc-ui", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/jwt");
    assert_eq!(body.split('.').count(), 5, "{body}");
    let (plaintext, header) = rsa.decrypt(&body).expect("josekit decrypts userinfo");
    assert_eq!(header.algorithm(), Some("RSA-OAEP-256"));
    assert_eq!(header.content_encryption(), Some("A128CBC-HS256"));
    assert_eq!(header.content_type(), None, "not a nested JWT");
    assert_eq!(header.key_id(), Some("ui-rsa"));
    let claims: Value = serde_json::from_slice(&plaintext).expect("JSON claims");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["sub"], id_claims["sub"]);

    // Signed, then encrypted: the plaintext is a JWS of the tenant's ES256 key with iss and aud.
    let ec = EncKey::ec(Nid::SECP521R1, "P-521", 66, Some("ui-ec"));
    let who = client(
        &app,
        &base,
        &["https://rp.example.com/cb"],
        json!({
            "jwks": {"keys": [ec.public_jwk]},
            "userinfo_signed_response_alg": "ES256",
            "userinfo_encrypted_response_alg": "ECDH-ES",
            "userinfo_encrypted_response_enc": "A256GCM",
        }),
    )
    .await;
    let tokens = code_flow(&app, &who, "openid email").await;
    let (status, content_type, body) =
        userinfo(&app, "enc-ui", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/jwt");
    let (inner, header) = ec.decrypt(&body).expect("josekit decrypts userinfo");
    assert_eq!(header.algorithm(), Some("ECDH-ES"));
    assert_eq!(header.content_encryption(), Some("A256GCM"));
    assert_eq!(header.content_type(), Some("JWT"));
    let inner = String::from_utf8(inner).unwrap();
    let claims = verify_jws(&app, "enc-ui", &who.client_id, &inner).await;
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(
        jsonwebtoken::decode_header(&inner).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    assert!(
        rsa.decrypt(&body).is_err(),
        "another client's key cannot open it"
    );
}

/// The tenant's registration policy is open to the code grant.
async fn open_registration(app: &TestApp, slug: &str) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(json!({"registration": {"mode": "open"}})),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
}

/// POSTs client metadata to `/register`; status and JSON body.
async fn dynamic_register(app: &TestApp, slug: &str, metadata: Value) -> (u16, Value) {
    let req = app
        .http
        .post(format!("{}/register", app.issuer(slug)))
        .json(&metadata);
    crate::helpers::status_and_json(req).await
}

#[actix_web::test]
async fn registration_refuses_encryption_it_cannot_do_and_discovery_lists_the_algorithms() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "enc-reg", true).await;
    let uris = ["https://rp.example.com/cb"];
    let rsa = EncKey::rsa(None).public_jwk;
    let ec = EncKey::ec(Nid::X9_62_PRIME256V1, "P-256", 32, None).public_jwk;
    for (case, options) in [
        (
            "alg without keys",
            json!({"id_token_encrypted_response_alg": "RSA-OAEP-256"}),
        ),
        (
            "enc without alg",
            json!({"jwks": {"keys": [rsa]}, "userinfo_encrypted_response_enc": "A256GCM"}),
        ),
        (
            "no key of the alg's type",
            json!({"jwks": {"keys": [ec]}, "id_token_encrypted_response_alg": "RSA-OAEP-256"}),
        ),
        (
            "unsupported alg",
            json!({"jwks": {"keys": [rsa]}, "id_token_encrypted_response_alg": "RSA1_5"}),
        ),
        (
            "unsupported enc",
            json!({"jwks": {"keys": [ec]}, "id_token_encrypted_response_alg": "ECDH-ES",
                   "id_token_encrypted_response_enc": "A128GCM"}),
        ),
    ] {
        let (status, body) = register(&app, &base.tenant, &uris, options).await;
        assert_eq!(status, 400, "{case}: {body}");
    }
    // The admin API stores and echoes what it accepted.
    let (status, body) = register(
        &app,
        &base.tenant,
        &uris,
        json!({"jwks": {"keys": [ec]}, "userinfo_encrypted_response_alg": "ECDH-ES"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["options"]["userinfo_encrypted_response_alg"],
        "ECDH-ES"
    );

    // Dynamic registration: `invalid_client_metadata` for the same mistakes.
    open_registration(&app, "enc-reg").await;
    for (case, metadata) in [
        (
            "alg without keys",
            json!({"id_token_encrypted_response_alg": "ECDH-ES"}),
        ),
        (
            "unsupported alg",
            json!({"jwks": {"keys": [rsa]}, "id_token_encrypted_response_alg": "RSA-OAEP"}),
        ),
        (
            "enc without alg",
            json!({"jwks": {"keys": [rsa]}, "id_token_encrypted_response_enc": "A256GCM"}),
        ),
    ] {
        let mut metadata = metadata;
        metadata["redirect_uris"] = json!(uris);
        let (status, body) = dynamic_register(&app, "enc-reg", metadata).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{case}: {body}"
        );
    }
    // Accepted metadata is echoed, with the default enc made explicit (OIDC Registration §2).
    let (status, body) = dynamic_register(
        &app,
        "enc-reg",
        json!({
            "redirect_uris": uris,
            "jwks": {"keys": [rsa]},
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "userinfo_encrypted_response_enc": "A256GCM",
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id_token_encrypted_response_alg"], "RSA-OAEP-256");
    assert_eq!(body["id_token_encrypted_response_enc"], "A128CBC-HS256");
    assert_eq!(body["userinfo_encrypted_response_alg"], "RSA-OAEP-256");
    assert_eq!(body["userinfo_encrypted_response_enc"], "A256GCM");

    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("enc-reg")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for what in ["id_token", "userinfo"] {
        assert_eq!(
            doc[format!("{what}_encryption_alg_values_supported")],
            json!(["RSA-OAEP-256", "ECDH-ES"]),
            "{doc}"
        );
        assert_eq!(
            doc[format!("{what}_encryption_enc_values_supported")],
            json!(["A128CBC-HS256", "A256GCM"]),
            "{doc}"
        );
    }
}

#[actix_web::test]
async fn implicit_and_hybrid_id_tokens_from_the_authorization_endpoint_are_encrypted_too() {
    use crate::implicit::{fragment, get, half_hash, sign_in};
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "enc-implicit", true).await;
    let key = EncKey::rsa(Some("rp-enc-imp"));
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/enc-implicit/clients",
            Some(json!({
                "name": "Legacy encrypted",
                "grant_types": ["authorization_code", "implicit"],
                "redirect_uris": [base.redirect_uri],
                "scopes": ["openid", "email"],
                "first_party": true,
                "options": {
                    "jwks": {"keys": [key.public_jwk]},
                    "id_token_encrypted_response_alg": "RSA-OAEP-256",
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let who = crate::pairwise::as_client(&base, &body, &base.redirect_uri);
    let challenge = crate::agent::s256(VERIFIER);
    let url = format!(
        "{}/authorize?{}",
        app.issuer("enc-implicit"),
        serde_urlencoded::to_string([
            ("response_type", "code id_token token"),
            ("client_id", who.client_id.as_str()),
            ("redirect_uri", who.redirect_uri.as_str()),
            ("scope", "openid email"),
            ("state", "s"),
            ("nonce", "n-enc"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    let location = sign_in(&who, &url).await.location().to_owned();
    let params = fragment(&location);
    let id_token = get(&params, "id_token").unwrap();
    // The registration default enc with only an alg (OIDC Registration §2).
    let claims = open_id_token(&app, &who, &key, id_token, "RSA-OAEP-256", "A128CBC-HS256").await;
    assert_eq!(claims["nonce"], "n-enc");
    assert_eq!(claims["c_hash"], half_hash(get(&params, "code").unwrap()));
    assert_eq!(
        claims["at_hash"],
        half_hash(get(&params, "access_token").unwrap())
    );
}

#[actix_web::test]
async fn an_implicit_client_whose_encryption_key_cannot_be_had_gets_an_error_not_a_plain_id_token()
{
    use crate::implicit::{fragment, get, sign_in};
    let app = spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    let base = sign_in_fixture(&app, "enc-imp-down", true).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/enc-imp-down/clients",
            Some(json!({
                "name": "Legacy, keys down",
                "grant_types": ["authorization_code", "implicit"],
                "redirect_uris": [base.redirect_uri],
                "scopes": ["openid"],
                "first_party": true,
                "options": {
                    "jwks_uri": unreachable_url(),
                    "id_token_encrypted_response_alg": "RSA-OAEP-256",
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let who = crate::pairwise::as_client(&base, &body, &base.redirect_uri);
    let url = format!(
        "{}/authorize?{}",
        app.issuer("enc-imp-down"),
        serde_urlencoded::to_string([
            ("response_type", "id_token"),
            ("client_id", who.client_id.as_str()),
            ("redirect_uri", who.redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", "s"),
            ("nonce", "n"),
        ])
        .unwrap()
    );
    let location = sign_in(&who, &url).await.location().to_owned();
    let params = fragment(&location);
    assert_eq!(get(&params, "error"), Some("invalid_request"), "{location}");
    assert!(
        get(&params, "error_description")
            .unwrap_or_default()
            .contains("encryption key"),
        "{location}"
    );
    assert_eq!(get(&params, "id_token"), None, "never unencrypted instead");
}
