//! DPoP (RFC 9449) over HTTP, with proofs made here by the `jsonwebtoken` crate from P-256 keys
//! that openssl generates (never the server's own code): DPoP-bound tokens and their `cnf.jkt`,
//! refresh tokens of public clients bound to the key, `dpop_jkt` binding of codes, the `DPoP`
//! scheme at userinfo, every proof check at both endpoints, `require_dpop` clients, server
//! nonces, and the discovery metadata.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};
use crate::opaque::{code, jwt_claims, patch_client, register_client, settle, text};

const VERIFIER: &str = "dpop-verifier-0123456789abcdefghijklmnopqrstuvwxyz";

/// A client's DPoP key pair: the private key signs proofs, the public JWK rides in their header.
pub(crate) struct DpopKey {
    signing: EncodingKey,
    jwk: Jwk,
    /// RFC 7638 SHA-256 thumbprint, computed here.
    pub(crate) jkt: String,
}

impl DpopKey {
    /// A fresh P-256 key.
    pub(crate) fn generate() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let coordinate = |n: &BigNum| URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap());
        let (x, y) = (coordinate(&x), coordinate(&y));
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let pem = PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        Self {
            signing: EncodingKey::from_ec_pem(&pem).unwrap(),
            jwk: Jwk {
                common: CommonParameters::default(),
                algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x,
                    y,
                }),
            },
            jkt,
        }
    }

    /// A proof for `htm` `htu` made now with a fresh `jti`; `extra` adds or overrides claims
    /// (`ath`, `nonce`, a stale `iat`, a reused `jti`).
    pub(crate) fn proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm,
            "htu": htu,
            "iat": now(),
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `ath` of an access token (RFC 9449 §4.2).
fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn token_url(app: &TestApp, slug: &str) -> String {
    format!("{}/token", app.issuer(slug))
}

fn userinfo_url(app: &TestApp, slug: &str) -> String {
    format!("{}/userinfo", app.issuer(slug))
}

/// A token endpoint answer: status, body and the `DPoP-Nonce` header.
struct Answer {
    status: u16,
    body: Value,
    nonce: Option<String>,
    challenge: Option<String>,
}

impl Answer {
    async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let nonce = header("dpop-nonce");
        let challenge = header(WWW_AUTHENTICATE.as_str());
        let body = resp.json().await.unwrap_or(Value::Null);
        Self {
            status,
            body,
            nonce,
            challenge,
        }
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// POSTs a token request with an optional `DPoP` header and Basic credentials.
async fn token(
    app: &TestApp,
    slug: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Answer {
    let mut req = app.http.post(token_url(app, slug)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    Answer::of(req.send().await.unwrap()).await
}

/// `GET /userinfo` with `Authorization: {scheme} {token}` and an optional proof.
async fn userinfo(
    app: &TestApp,
    slug: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> Answer {
    let mut req = app
        .http
        .get(userinfo_url(app, slug))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    Answer::of(req.send().await.unwrap()).await
}

/// Redeems a code for the fixture's confidential client with an optional proof.
async fn redeem(app: &TestApp, f: &SignIn, code: &str, proof: Option<&str>) -> Answer {
    token(
        app,
        &f.tenant,
        Some((&f.client_id, &f.client_secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &f.redirect_uri),
            ("code_verifier", VERIFIER),
        ],
        proof,
    )
    .await
}

/// Refreshes for a public client (no authentication) with an optional proof.
async fn refresh_public(
    app: &TestApp,
    slug: &str,
    client_id: &str,
    refresh_token: &str,
    proof: Option<String>,
) -> Answer {
    token(
        app,
        slug,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ],
        proof.as_deref(),
    )
    .await
}

/// A sign-in tenant and a DPoP-bound user access token of its confidential client.
async fn user_token(app: &TestApp, slug: &str, key: &DpopKey) -> (SignIn, String) {
    let f = sign_in_fixture(app, slug, true).await;
    let code = code(app, &f, "openid profile", VERIFIER, &[]).await;
    let proof = key.proof("POST", &token_url(app, slug), json!({}));
    let answer = redeem(app, &f, &code, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    (f, text(&answer.body, "access_token").to_owned())
}

#[actix_web::test]
async fn client_credentials_with_a_proof_gives_a_dpop_token_bound_to_the_key() {
    let app = spawn_app().await;
    app.create_tenant("dp-cc", "ES256").await;
    let client = app.create_client("dp-cc", &["openid"]).await;
    let key = DpopKey::generate();
    let proof = key.proof("POST", &token_url(&app, "dp-cc"), json!({}));
    let answer = token(
        &app,
        "dp-cc",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        Some(&proof),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    let claims = jwt_claims(text(&answer.body, "access_token"));
    assert_eq!(claims["cnf"]["jkt"], key.jkt.as_str(), "{claims}");
    // Without a nonce policy the server sends no nonce.
    assert_eq!(answer.nonce, None);

    // The same proof again is a replay.
    let answer = token(
        &app,
        "dp-cc",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        Some(&proof),
    )
    .await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_dpop_proof"));

    // Without a proof: an ordinary bearer token with no cnf.
    let answer = token(
        &app,
        "dp-cc",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        None,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert!(jwt_claims(text(&answer.body, "access_token"))["cnf"].is_null());
}

#[actix_web::test]
async fn a_public_clients_refresh_token_needs_a_proof_of_the_same_key() {
    let app = spawn_app().await;
    let fixture = sign_in_fixture(&app, "dp-public", true).await;
    let spa = register_client(
        &app,
        "dp-public",
        json!({"name": "SPA", "public": true,
               "grant_types": ["authorization_code", "refresh_token"],
               "redirect_uris": [fixture.redirect_uri], "scopes": ["openid", "profile"],
               "first_party": true}),
    )
    .await;
    settle().await;
    let f = SignIn {
        client_id: spa.id.clone(),
        client_secret: String::new(),
        ..fixture
    };
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let htu = token_url(&app, "dp-public");
    let code = code(&app, &f, "openid profile", VERIFIER, &[]).await;
    let answer = token(
        &app,
        "dp-public",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &spa.id),
            ("code", &code),
            ("redirect_uri", &f.redirect_uri),
            ("code_verifier", VERIFIER),
        ],
        Some(&key.proof("POST", &htu, json!({}))),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(text(&answer.body, "access_token"))["cnf"]["jkt"],
        key.jkt.as_str()
    );
    let rt = text(&answer.body, "refresh_token").to_owned();
    let refresh = |proof: Option<String>| refresh_public(&app, "dp-public", &spa.id, &rt, proof);

    let answer = refresh(Some(other.proof("POST", &htu, json!({})))).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_dpop_proof"),
        "{}",
        answer.body
    );
    let answer = refresh(None).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.error(), "invalid_dpop_proof");
    // The refused attempts used nothing up: the right key still refreshes.
    let answer = refresh(Some(key.proof("POST", &htu, json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(text(&answer.body, "access_token"))["cnf"]["jkt"],
        key.jkt.as_str()
    );
}

#[actix_web::test]
async fn dpop_jkt_at_authorize_binds_the_code_to_that_key() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "dp-jkt", true).await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let htu = token_url(&app, "dp-jkt");
    let code = code(&app, &f, "openid", VERIFIER, &[("dpop_jkt", &key.jkt)]).await;

    let answer = redeem(&app, &f, &code, None).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_dpop_proof"),
        "{}",
        answer.body
    );
    let answer = redeem(&app, &f, &code, Some(&other.proof("POST", &htu, json!({})))).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_dpop_proof"),
        "{}",
        answer.body
    );
    let answer = redeem(&app, &f, &code, Some(&key.proof("POST", &htu, json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        jwt_claims(text(&answer.body, "access_token"))["cnf"]["jkt"],
        key.jkt.as_str()
    );

    // A dpop_jkt that is no thumbprint is refused at the authorization endpoint.
    let location =
        crate::opaque::authorize(&app, &f, "openid", VERIFIER, &[("dpop_jkt", "abc")]).await;
    assert_eq!(
        crate::agent::param(&location, "error").as_deref(),
        Some("invalid_request"),
        "{location}"
    );
}

#[actix_web::test]
async fn userinfo_takes_a_dpop_token_with_its_proof_and_refuses_it_as_bearer() {
    let app = spawn_app().await;
    let key = DpopKey::generate();
    let (_, access) = user_token(&app, "dp-userinfo", &key).await;
    let url = userinfo_url(&app, "dp-userinfo");

    let proof = key.proof("GET", &url, json!({"ath": ath(&access)}));
    let answer = userinfo(&app, "dp-userinfo", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["given_name"], "Alice");

    // RFC 9449 §7.2: a DPoP-bound token is not a bearer token.
    let answer = userinfo(&app, "dp-userinfo", "Bearer", &access, None).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.error(), "invalid_token");
    // Nor a DPoP token without a proof.
    let answer = userinfo(&app, "dp-userinfo", "DPoP", &access, None).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let challenge = answer.challenge.unwrap_or_default();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(challenge.contains("algs=\""), "{challenge}");
}

#[actix_web::test]
async fn a_bad_proof_at_userinfo_is_401_invalid_dpop_proof() {
    let app = spawn_app().await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let (_, access) = user_token(&app, "dp-bad", &key).await;
    let url = userinfo_url(&app, "dp-bad");
    let good_ath = ath(&access);
    let cases = [
        (
            "wrong htm",
            key.proof("POST", &url, json!({"ath": good_ath})),
        ),
        (
            "wrong htu",
            key.proof("GET", &token_url(&app, "dp-bad"), json!({"ath": good_ath})),
        ),
        (
            "stale iat",
            key.proof("GET", &url, json!({"ath": good_ath, "iat": now() - 3600})),
        ),
        (
            "iat far ahead",
            key.proof("GET", &url, json!({"ath": good_ath, "iat": now() + 3600})),
        ),
        ("missing ath", key.proof("GET", &url, json!({}))),
        (
            "wrong ath",
            key.proof("GET", &url, json!({"ath": ath("another token")})),
        ),
        (
            "another key",
            other.proof("GET", &url, json!({"ath": good_ath})),
        ),
    ];
    for (case, proof) in cases {
        let answer = userinfo(&app, "dp-bad", "DPoP", &access, Some(&proof)).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(
            answer.error(),
            "invalid_dpop_proof",
            "{case}: {}",
            answer.body
        );
        let challenge = answer.challenge.unwrap_or_default();
        assert!(
            challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_dpop_proof\""),
            "{case}: {challenge}"
        );
    }

    // A good proof works once; its replay is refused.
    let proof = key.proof("GET", &url, json!({"ath": good_ath}));
    let answer = userinfo(&app, "dp-bad", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = userinfo(&app, "dp-bad", "DPoP", &access, Some(&proof)).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_dpop_proof"));

    // A proof signed by a key other than the one in its header.
    let mut forged = key.proof("GET", &url, json!({"ath": good_ath}));
    let signature_start = forged.rfind('.').unwrap() + 1;
    let foreign = other.proof("GET", &url, json!({"ath": good_ath}));
    forged.replace_range(
        signature_start..,
        &foreign[foreign.rfind('.').unwrap() + 1..],
    );
    let answer = userinfo(&app, "dp-bad", "DPoP", &access, Some(&forged)).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_dpop_proof"));
}

#[actix_web::test]
async fn a_bad_proof_at_the_token_endpoint_is_400_invalid_dpop_proof() {
    let app = spawn_app().await;
    app.create_tenant("dp-token", "ES256").await;
    let client = app.create_client("dp-token", &["openid"]).await;
    let key = DpopKey::generate();
    let url = token_url(&app, "dp-token");
    let replayed = key.proof("POST", &url, json!({}));
    let answer = token(
        &app,
        "dp-token",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        Some(&replayed),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Header::new says typ "JWT": not a DPoP proof (RFC 9449 §4.2).
    let mut no_typ = Header::new(Algorithm::ES256);
    no_typ.jwk = Some(key.jwk.clone());
    let untyped = jsonwebtoken::encode(
        &no_typ,
        &json!({"jti": "j-untyped", "htm": "POST", "htu": url, "iat": now()}),
        &key.signing,
    )
    .unwrap();
    let cases = [
        ("wrong htm", key.proof("GET", &url, json!({}))),
        (
            "wrong htu",
            key.proof("POST", &userinfo_url(&app, "dp-token"), json!({})),
        ),
        (
            "htu of another tenant",
            key.proof("POST", &token_url(&app, "other"), json!({})),
        ),
        (
            "stale iat",
            key.proof("POST", &url, json!({"iat": now() - 3600})),
        ),
        ("replayed jti", replayed),
        ("typ JWT", untyped),
        ("not a JWS", "not-a-proof".to_owned()),
    ];
    for (case, proof) in cases {
        let answer = token(
            &app,
            "dp-token",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
            Some(&proof),
        )
        .await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.body);
        assert_eq!(
            answer.error(),
            "invalid_dpop_proof",
            "{case}: {}",
            answer.body
        );
    }
    // Two DPoP headers (RFC 9449 §4.3 point 1).
    let resp = app
        .http
        .post(&url)
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("grant_type", "client_credentials")])
        .header("DPoP", key.proof("POST", &url, json!({})))
        .header("DPoP", key.proof("POST", &url, json!({})))
        .send()
        .await
        .unwrap();
    let answer = Answer::of(resp).await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_dpop_proof"));
}

#[actix_web::test]
async fn a_require_dpop_client_without_a_proof_is_refused() {
    let app = spawn_app().await;
    app.create_tenant("dp-require", "ES256").await;
    let client = register_client(
        &app,
        "dp-require",
        json!({"name": "Bound", "grant_types": ["client_credentials"], "scopes": ["openid"],
               "options": {"require_dpop": true}}),
    )
    .await;
    settle().await;
    let answer = token(
        &app,
        "dp-require",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        None,
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_dpop_proof"),
        "{}",
        answer.body
    );
    let key = DpopKey::generate();
    let answer = token(
        &app,
        "dp-require",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        Some(&key.proof("POST", &token_url(&app, "dp-require"), json!({}))),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");

    // Turning the option off lets bearer tokens through again.
    patch_client(&app, "dp-require", &client.id, json!({"options": {}})).await;
    settle().await;
    let answer = token(
        &app,
        "dp-require",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
}

#[actix_web::test]
async fn a_tenant_that_requires_nonces_hands_one_out_and_accepts_it_on_retry() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "dp-nonce", true).await;
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            "/tenants/dp-nonce/settings",
            Some(json!({"tokens": {"dpop_nonce_required": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokens"]["dpop_nonce_required"], true, "{body}");
    settle().await;
    let key = DpopKey::generate();
    let htu = token_url(&app, "dp-nonce");
    let code = code(&app, &f, "openid profile", VERIFIER, &[]).await;

    // RFC 9449 §8: the first request learns the nonce.
    let answer = redeem(&app, &f, &code, Some(&key.proof("POST", &htu, json!({})))).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "use_dpop_nonce"),
        "{}",
        answer.body
    );
    let nonce = answer.nonce.expect("a DPoP-Nonce header");
    // A made-up nonce is no better.
    let answer = redeem(
        &app,
        &f,
        &code,
        Some(&key.proof("POST", &htu, json!({"nonce": "made-up"}))),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "use_dpop_nonce"),
        "{}",
        answer.body
    );
    let answer = redeem(
        &app,
        &f,
        &code,
        Some(&key.proof("POST", &htu, json!({"nonce": nonce}))),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    let fresh = answer.nonce.expect("a fresh DPoP-Nonce on success");
    let access = text(&answer.body, "access_token").to_owned();

    // RFC 9449 §9: the same at userinfo, as a 401 challenge.
    let url = userinfo_url(&app, "dp-nonce");
    let proof = key.proof("GET", &url, json!({"ath": ath(&access)}));
    let answer = userinfo(&app, "dp-nonce", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let challenge = answer.challenge.clone().unwrap_or_default();
    assert!(
        challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let nonce = answer.nonce.expect("a DPoP-Nonce header at userinfo");
    let proof = key.proof("GET", &url, json!({"ath": ath(&access), "nonce": nonce}));
    let answer = userinfo(&app, "dp-nonce", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The nonce handed out with the token response is good at userinfo too.
    let proof = key.proof("GET", &url, json!({"ath": ath(&access), "nonce": fresh}));
    let answer = userinfo(&app, "dp-nonce", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // A browser client (same origin as the redirect URI) may read the nonce header.
    let resp = app
        .http
        .get(&url)
        .header("Origin", "http://127.0.0.1:9")
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", key.proof("GET", &url, json!({"ath": ath(&access)})))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("dpop-nonce"));
    let exposed = resp
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");

    // A nonce is good only at the tenant that issued it.
    app.create_tenant("dp-nonce-b", "ES256").await;
    let client = app.create_client("dp-nonce-b", &["openid"]).await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            "/tenants/dp-nonce-b/settings",
            Some(json!({"tokens": {"dpop_nonce_required": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    settle().await;
    let htu_b = token_url(&app, "dp-nonce-b");
    let answer = token(
        &app,
        "dp-nonce-b",
        Some((&client.id, &client.secret)),
        &[("grant_type", "client_credentials")],
        Some(&key.proof("POST", &htu_b, json!({"nonce": nonce}))),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "use_dpop_nonce"),
        "{}",
        answer.body
    );
}

#[actix_web::test]
async fn an_opaque_dpop_bound_token_needs_its_proof_at_userinfo_get_and_post() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "dp-opaque", true).await;
    crate::opaque::define_scopes(&app, "dp-opaque", &["orders:read"]).await;
    crate::opaque::create_resource_server(
        &app,
        "dp-opaque",
        json!({"identifier": "urn:acme:orders", "name": "Orders", "scopes": ["orders:read"],
               "token_format": "opaque"}),
    )
    .await;
    patch_client(
        &app,
        "dp-opaque",
        &f.client_id,
        json!({"scopes": ["openid", "profile", "orders:read"]}),
    )
    .await;
    settle().await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let code = code(
        &app,
        &f,
        "openid profile orders:read",
        VERIFIER,
        &[("resource", "urn:acme:orders")],
    )
    .await;
    let proof = key.proof("POST", &token_url(&app, "dp-opaque"), json!({}));
    let answer = redeem(&app, &f, &code, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    let access = text(&answer.body, "access_token").to_owned();
    assert!(!access.contains('.'), "expected an opaque token: {access}");
    let url = userinfo_url(&app, "dp-opaque");

    let proof = key.proof("GET", &url, json!({"ath": ath(&access)}));
    let answer = userinfo(&app, "dp-opaque", "DPoP", &access, Some(&proof)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = userinfo(&app, "dp-opaque", "Bearer", &access, None).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_token"));
    let proof = other.proof("GET", &url, json!({"ath": ath(&access)}));
    let answer = userinfo(&app, "dp-opaque", "DPoP", &access, Some(&proof)).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_dpop_proof"));

    // POST: the proof names POST; a token in the form body is a bearer token, so refused.
    let resp = app
        .http
        .post(&url)
        .header("Authorization", format!("DPoP {access}"))
        .header(
            "DPoP",
            key.proof("POST", &url, json!({"ath": ath(&access)})),
        )
        .send()
        .await
        .unwrap();
    let answer = Answer::of(resp).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let resp = app
        .http
        .post(&url)
        .form(&[("access_token", access.as_str())])
        .header(
            "DPoP",
            key.proof("POST", &url, json!({"ath": ath(&access)})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[actix_web::test]
async fn discovery_lists_the_dpop_signing_algorithms() {
    let app = spawn_app().await;
    app.create_tenant("dp-meta", "ES256").await;
    for path in [
        format!("{}/.well-known/openid-configuration", app.issuer("dp-meta")),
        format!(
            "{}/.well-known/oauth-authorization-server/t/dp-meta",
            app.address
        ),
    ] {
        let meta: Value = app
            .http
            .get(&path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let algs = meta["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap_or_else(|| panic!("no dpop_signing_alg_values_supported: {meta}"));
        assert!(algs.contains(&json!("ES256")), "{meta}");
        assert!(!algs.contains(&json!("none")) && !algs.contains(&json!("HS256")));
    }
}

/// A certificate and its key: a CA when `issuer` is `None`, else a server certificate for
/// 127.0.0.1 signed by `issuer`.
fn certificate(
    issuer: Option<&(openssl::x509::X509, PKey<openssl::pkey::Private>)>,
) -> (openssl::x509::X509, PKey<openssl::pkey::Private>) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    let cn = if issuer.is_some() {
        "localhost"
    } else {
        "DPoP Test CA"
    };
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    match issuer {
        None => b
            .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap(),
        Some((ca, _)) => {
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
    }
    b.sign(issuer.map_or(&key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    (b.build(), key)
}

#[actix_web::test]
async fn on_the_mutual_tls_listener_the_proof_names_the_alias_endpoint() {
    let ca = certificate(None);
    let server = certificate(Some(&ca));
    let files = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (files.path().join("s.crt"), files.path().join("s.key"));
    std::fs::write(&cert_file, server.0.to_pem().unwrap()).unwrap();
    std::fs::write(&key_file, server.1.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.server.tls.listen = "127.0.0.1:0".into();
        settings.server.tls.cert_file = Some(cert_file);
        settings.server.tls.key_file = Some(key_file);
    })
    .await;
    app.create_tenant("dp-mtls", "ES256").await;
    let client = app.create_client("dp-mtls", &["openid"]).await;
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("dp-mtls")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alias = text(&meta["mtls_endpoint_aliases"], "token_endpoint").to_owned();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca.0.to_pem().unwrap()).unwrap())
        .build()
        .unwrap();
    let key = DpopKey::generate();
    let send = |url: String, proof: String| {
        let http = if url.starts_with("https:") {
            &https
        } else {
            &app.http
        };
        http.post(url)
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")])
            .header("DPoP", proof)
            .send()
    };

    // RFC 9449 §4.3 point 9 with RFC 8705 §5: htu is the alias the request went to.
    let resp = send(alias.clone(), key.proof("POST", &alias, json!({})))
        .await
        .unwrap();
    let answer = Answer::of(resp).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(text(&answer.body, "access_token"))["cnf"]["jkt"],
        key.jkt.as_str()
    );
    // A proof for one listener's URL is no good at the other's.
    let plain = token_url(&app, "dp-mtls");
    let resp = send(alias.clone(), key.proof("POST", &plain, json!({})))
        .await
        .unwrap();
    let answer = Answer::of(resp).await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_dpop_proof"));
    let resp = send(plain.clone(), key.proof("POST", &alias, json!({})))
        .await
        .unwrap();
    let answer = Answer::of(resp).await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_dpop_proof"));
}
