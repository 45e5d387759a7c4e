//! Pushed authorization requests (RFC 9126) and request objects (RFC 9101): pushing then
//! authorizing with the `request_uri`, JSON errors at `/par`, one-time, expiring, client- and
//! tenant-bound request URIs, "require PAR" per client and per tenant, signed request objects
//! by value and inside a pushed request (the inner `redirect_uri` wins), the refusals of bad
//! ones, unsigned ones only where the client allows them, and discovery.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, s256, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};
use crate::opaque::{patch_client, settle, text};

const VERIFIER: &str = "par-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other-cb";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client's request-object signing key: the private half signs, the public JWK is registered.
struct ClientKey {
    alg: Algorithm,
    signing: EncodingKey,
    jwk: Value,
}

impl ClientKey {
    fn es256(kid: &str) -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let coordinate = |n: &BigNum| URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap());
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": coordinate(&x), "y": coordinate(&y),
                         "kid": kid, "use": "sig"});
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

    fn rs256(kid: &str) -> Self {
        let rsa = Rsa::generate(2048).unwrap();
        let jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
                         "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()), "kid": kid});
        let pem = rsa.private_key_to_pem().unwrap();
        Self {
            alg: Algorithm::RS256,
            signing: EncodingKey::from_rsa_pem(&pem).unwrap(),
            jwk,
        }
    }

    /// A request object carrying `claims`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some("oauth-authz-req+jwt".to_owned());
        header.kid = self.jwk["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.signing).unwrap()
    }
}

/// An unsigned (`alg: none`) request object.
fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A first-party fixture (no consent page) whose client has a second redirect URI.
async fn setup(slug: &str) -> (TestApp, SignIn) {
    let app = spawn_app().await;
    let f = fixture(&app, slug).await;
    (app, f)
}

async fn fixture(app: &TestApp, slug: &str) -> SignIn {
    let f = sign_in_fixture(app, slug, true).await;
    patch_client(
        app,
        slug,
        &f.client_id,
        json!({"redirect_uris": [f.redirect_uri, OTHER_REDIRECT]}),
    )
    .await;
    settle().await;
    f
}

/// The parameters of a good authorization request of the fixture's client.
fn request_params(f: &SignIn) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", f.client_id.as_str()),
        ("redirect_uri", f.redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", "pushed-state"),
        ("nonce", "pushed-nonce"),
        ("code_challenge", s256(VERIFIER).as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The same request as request-object claims for `iss` = the client and `aud` = the issuer.
fn request_claims(app: &TestApp, f: &SignIn) -> Value {
    let mut claims = json!({
        "iss": f.client_id, "aud": app.issuer(&f.tenant), "exp": now() + 300,
        "nbf": now() - 5, "iat": now(),
    });
    for (k, v) in request_params(f) {
        claims[k] = Value::String(v);
    }
    claims
}

/// Basic credentials: client id and secret.
type Basic<'a> = Option<(&'a str, &'a str)>;

/// Form pairs.
type Form = Vec<(String, String)>;

/// POSTs `form` to `/par`, with Basic credentials when given; status and JSON body.
async fn push(
    app: &TestApp,
    slug: &str,
    basic: Option<(&str, &str)>,
    form: &[(String, String)],
) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/par", app.issuer(slug)))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        cache.as_deref(),
        Some("no-store"),
        "PAR responses are never cached"
    );
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Pushes the fixture's request with `changes` (an empty value removes the parameter) and
/// returns the `request_uri`.
async fn pushed(app: &TestApp, f: &SignIn, changes: &[(&str, &str)]) -> String {
    let mut form = request_params(f);
    for (k, v) in changes {
        form.retain(|(name, _)| name != k);
        if !v.is_empty() {
            form.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    let (status, body) = push(
        app,
        &f.tenant,
        Some((&f.client_id, &f.client_secret)),
        &form,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    text(&body, "request_uri").to_owned()
}

/// `/authorize` with `params` in the query.
fn authorize_url(app: &TestApp, slug: &str, params: &[(&str, &str)]) -> String {
    format!(
        "{}/authorize?{}",
        app.issuer(slug),
        serde_urlencoded::to_string(params).unwrap()
    )
}

/// Signs in on the login page `step` leads to and returns where the browser is sent back to.
async fn sign_in(agent: &Agent, f: &SignIn, step: Step) -> String {
    let (_, page) = step.page();
    agent
        .login(page, &f.username, &f.password)
        .await
        .location()
        .to_owned()
}

/// The error an `/authorize` answer carries: the `error` of a redirect, or the code on the
/// error page.
fn authorize_error(step: &Step) -> String {
    match step {
        Step::Redirect(location) => {
            param(location, "error").unwrap_or_else(|| panic!("no error in {location}"))
        }
        Step::Page(_, body) => {
            let start = body
                .find("Error code: <code>")
                .unwrap_or_else(|| panic!("not an error page: {body}"))
                + "Error code: <code>".len();
            body[start..start + body[start..].find('<').unwrap()].to_owned()
        }
    }
}

/// Exchanges a code the fixture's client got at `redirect_uri`.
async fn redeem(app: &TestApp, f: &SignIn, code: &str, redirect_uri: &str) -> (u16, Value) {
    let resp = app
        .post_token(
            &f.tenant,
            Some((&f.client_id, &f.client_secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_pushed_request_then_authorize_with_its_request_uri_gives_a_code_and_tokens() {
    let (app, f) = setup("acme").await;
    let (status, body) = push(
        &app,
        "acme",
        Some((&f.client_id, &f.client_secret)),
        &request_params(&f),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let request_uri = text(&body, "request_uri");
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:")
            && request_uri.len() >= "urn:ietf:params:oauth:request_uri:".len() + 22,
        "{request_uri}"
    );
    assert_eq!(body["expires_in"], 60, "{body}");

    // Only client_id and request_uri count at /authorize: the other query parameters are
    // ignored (RFC 9126 §4).
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", request_uri),
                ("state", "outer-state"),
                ("scope", "openid email"),
                ("redirect_uri", OTHER_REDIRECT),
            ],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(location.starts_with(&f.redirect_uri), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("pushed-state"));
    let code = param(&location, "code").unwrap();
    let (status, tokens) = redeem(&app, &f, &code, &f.redirect_uri).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile", "{tokens}");
    let id_token = crate::opaque::jwt_claims(text(&tokens, "id_token"));
    assert_eq!(id_token["nonce"], "pushed-nonce");

    // A public client pushes with its client_id alone.
    let token = app.admin_token().await;
    let (status, public) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/acme/clients",
            Some(json!({"name": "SPA", "public": true,
                        "grant_types": ["authorization_code"],
                        "redirect_uris": [f.redirect_uri], "scopes": ["openid"]})),
        )
        .await;
    assert_eq!(status, 201, "{public}");
    settle().await;
    let mut form = request_params(&f);
    form.retain(|(k, _)| k != "client_id" && k != "scope");
    form.push(("client_id".into(), text(&public, "client_id").to_owned()));
    form.push(("scope".into(), "openid".into()));
    let (status, body) = push(&app, "acme", None, &form).await;
    assert_eq!(status, 201, "{body}");
}

#[actix_web::test]
async fn par_errors_are_json_and_never_redirects() {
    let (app, f) = setup("acme").await;
    let basic = Some((f.client_id.as_str(), f.client_secret.as_str()));
    let with = |name: &str, value: &str| {
        let mut form = request_params(&f);
        form.retain(|(k, _)| k != name);
        form.push((name.to_owned(), value.to_owned()));
        form
    };
    let cases: Vec<(Basic<'_>, Form, u16, &str)> = vec![
        (
            basic,
            with("redirect_uri", "https://attacker.example/cb"),
            400,
            "invalid_request",
        ),
        (
            basic,
            with("request_uri", "urn:ietf:params:oauth:request_uri:abc"),
            400,
            "invalid_request",
        ),
        (basic, with("scope", "openid admin"), 400, "invalid_scope"),
        (
            basic,
            with("response_type", "token"),
            400,
            "unsupported_response_type",
        ),
        (
            basic,
            with("code_challenge_method", "plain"),
            400,
            "invalid_request",
        ),
        (
            Some((f.client_id.as_str(), "wrong-secret")),
            request_params(&f),
            401,
            "invalid_client",
        ),
        (
            Some(("no-such-client", "secret")),
            with("client_id", "no-such-client"),
            401,
            "invalid_client",
        ),
        // A confidential client that does not authenticate.
        (None, request_params(&f), 401, "invalid_client"),
    ];
    for (auth, form, status, error) in cases {
        let (got, body) = push(&app, "acme", auth, &form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{form:?}: {body}"
        );
    }
    // A body that is not a form is refused as JSON too.
    let resp = app
        .http
        .post(format!("{}/par", app.issuer("acme")))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .json(&json!({"client_id": f.client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_request");
    // So is an oversized one (as at the token endpoint).
    let mut form = request_params(&f);
    form.push(("login_hint".into(), "x".repeat(20 * 1024)));
    let (status, body) = push(&app, "acme", basic, &form).await;
    assert_eq!(status, 413, "{body}");
}

#[actix_web::test]
async fn a_request_uri_is_used_once() {
    let (app, f) = setup("acme").await;
    let request_uri = pushed(&app, &f, &[]).await;
    let url = authorize_url(
        &app,
        "acme",
        &[("client_id", &f.client_id), ("request_uri", &request_uri)],
    );
    let agent = Agent::new();
    let step = agent.get(&url).await;
    assert_eq!(step.page().0, 200, "the login page");
    // A second use, even before the first finished, is refused.
    let again = Agent::new().get(&url).await;
    assert_eq!(authorize_error(&again), "invalid_request_uri");
    // An unknown one likewise.
    let unknown = Agent::new()
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", "urn:ietf:params:oauth:request_uri:nope"),
            ],
        ))
        .await;
    assert_eq!(authorize_error(&unknown), "invalid_request_uri");
    // The first use still completes.
    let location = sign_in(&agent, &f, step).await;
    assert!(param(&location, "code").is_some(), "{location}");
}

#[actix_web::test]
async fn an_expired_request_uri_is_refused() {
    let (app, f) = setup("acme").await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"authorization": {"pushed_request_ttl_secs": 5}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    settle().await;
    let form = request_params(&f);
    let (status, body) = push(&app, "acme", Some((&f.client_id, &f.client_secret)), &form).await;
    assert_eq!(
        (status, body["expires_in"].as_i64()),
        (201, Some(5)),
        "{body}"
    );
    actix_web::rt::time::sleep(std::time::Duration::from_secs(6)).await;
    let step = Agent::new()
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", text(&body, "request_uri")),
            ],
        ))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request_uri");
}

#[actix_web::test]
async fn another_clients_or_another_tenants_request_uri_is_refused() {
    let (app, f) = setup("acme").await;
    let other = fixture(&app, "globex").await;
    let token = app.admin_token().await;
    let (status, second) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/acme/clients",
            Some(
                json!({"name": "Second", "grant_types": ["authorization_code"],
                        "redirect_uris": [f.redirect_uri], "scopes": ["openid", "profile"],
                        "first_party": true}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    settle().await;
    let request_uri = pushed(&app, &f, &[]).await;

    let step = Agent::new()
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", text(&second, "client_id")),
                ("request_uri", &request_uri),
            ],
        ))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request_uri");
    let step = Agent::new()
        .get(&authorize_url(
            &app,
            "globex",
            &[
                ("client_id", &other.client_id),
                ("request_uri", &request_uri),
            ],
        ))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request_uri");
    // Those attempts did not use it up for its own client.
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[("client_id", &f.client_id), ("request_uri", &request_uri)],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(param(&location, "code").is_some(), "{location}");
}

#[actix_web::test]
async fn a_request_uri_that_is_not_a_pushed_one_is_not_supported() {
    let (app, f) = setup("acme").await;
    let step = Agent::new()
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", &f.redirect_uri),
                ("request_uri", "https://rp.example.com/request.jwt"),
            ],
        ))
        .await;
    assert_eq!(authorize_error(&step), "request_uri_not_supported");
    assert!(
        matches!(step, Step::Redirect(_)),
        "to the registered redirect URI"
    );
}

#[actix_web::test]
async fn require_par_for_a_client_refuses_plain_requests() {
    let (app, f) = setup("acme").await;
    patch_client(
        &app,
        "acme",
        &f.client_id,
        json!({"options": {"require_pushed_authorization_requests": true}}),
    )
    .await;
    settle().await;
    let step = Agent::new()
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request");
    let request_uri = pushed(&app, &f, &[]).await;
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[("client_id", &f.client_id), ("request_uri", &request_uri)],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(param(&location, "code").is_some(), "{location}");
}

#[actix_web::test]
async fn require_par_for_a_tenant_refuses_plain_requests_and_is_advertised() {
    let (app, f) = setup("acme").await;
    let discovery = |app: &TestApp| {
        let url = format!("{}/.well-known/openid-configuration", app.issuer("acme"));
        let http = app.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        discovery(&app).await["require_pushed_authorization_requests"],
        false
    );
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"authorization": {"require_pushed_authorization_requests": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    settle().await;
    assert_eq!(
        discovery(&app).await["require_pushed_authorization_requests"],
        true
    );
    let step = Agent::new()
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request");
    let request_uri = pushed(&app, &f, &[]).await;
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[("client_id", &f.client_id), ("request_uri", &request_uri)],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(param(&location, "code").is_some(), "{location}");
}

/// Registers `keys` as the fixture client's `jwks`, with `options` besides.
async fn register_keys(app: &TestApp, f: &SignIn, keys: &[&ClientKey], mut options: Value) {
    options["jwks"] = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    patch_client(app, &f.tenant, &f.client_id, json!({ "options": options })).await;
    settle().await;
}

/// `/authorize` with a request object, and outer parameters that must be ignored.
fn by_value(app: &TestApp, f: &SignIn, request: &str) -> String {
    authorize_url(
        app,
        &f.tenant,
        &[
            ("client_id", &f.client_id),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", &f.redirect_uri),
            ("state", "outer-state"),
            ("request", request),
        ],
    )
}

#[actix_web::test]
async fn a_signed_request_object_is_accepted_and_its_redirect_uri_wins() {
    let (app, f) = setup("acme").await;
    let es = ClientKey::es256("es-1");
    let rs = ClientKey::rs256("rs-1");
    register_keys(&app, &f, &[&es, &rs], json!({})).await;
    for key in [&es, &rs] {
        let mut claims = request_claims(&app, &f);
        claims["redirect_uri"] = json!(OTHER_REDIRECT);
        let agent = Agent::new();
        let step = agent.get(&by_value(&app, &f, &key.sign(&claims))).await;
        let location = sign_in(&agent, &f, step).await;
        assert!(location.starts_with(OTHER_REDIRECT), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("pushed-state"));
        let code = param(&location, "code").unwrap();
        let (status, tokens) = redeem(&app, &f, &code, OTHER_REDIRECT).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(
            tokens["scope"], "openid profile",
            "the inner scope: {tokens}"
        );
    }
}

#[actix_web::test]
async fn bad_request_objects_are_refused_with_invalid_request_object() {
    let (app, f) = setup("acme").await;
    let key = ClientKey::es256("es-1");
    let stranger = ClientKey::es256("es-1");
    register_keys(&app, &f, &[&key], json!({})).await;
    let claims = request_claims(&app, &f);
    let changed = |name: &str, value: Value| {
        let mut c = claims.clone();
        c[name] = value;
        c
    };
    let good = key.sign(&claims);
    let (head, rest) = good.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered = format!(
        "{head}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(changed("scope", json!("openid email")).to_string())
    );
    let cases = [
        ("tampered", tampered),
        ("another key", stranger.sign(&claims)),
        (
            "wrong iss",
            key.sign(&changed("iss", json!("someone-else"))),
        ),
        (
            "wrong aud",
            key.sign(&changed("aud", json!("https://other.example"))),
        ),
        ("expired", key.sign(&changed("exp", json!(now() - 600)))),
        (
            "not yet valid",
            key.sign(&changed("nbf", json!(now() + 600))),
        ),
        (
            "other client_id",
            key.sign(&changed("client_id", json!("other"))),
        ),
        ("unsigned", unsigned(&claims)),
    ];
    for (what, request) in cases {
        let step = Agent::new().get(&by_value(&app, &f, &request)).await;
        assert_eq!(authorize_error(&step), "invalid_request_object", "{what}");
        if let Step::Redirect(location) = &step {
            assert!(
                location.starts_with(&f.redirect_uri),
                "{what}: only to the outer registered URI: {location}"
            );
            assert_eq!(param(location, "state").as_deref(), Some("outer-state"));
        }
    }
    // A request object with a registered alg other than the one used.
    register_keys(
        &app,
        &f,
        &[&key],
        json!({"request_object_signing_alg": "RS256"}),
    )
    .await;
    let step = Agent::new().get(&by_value(&app, &f, &good)).await;
    assert_eq!(authorize_error(&step), "invalid_request_object");
}

#[actix_web::test]
async fn unsigned_request_objects_are_accepted_only_where_the_client_allows_them() {
    let (app, f) = setup("acme").await;
    let mut claims = request_claims(&app, &f);
    claims["redirect_uri"] = json!(OTHER_REDIRECT);
    let request = unsigned(&claims);
    let step = Agent::new().get(&by_value(&app, &f, &request)).await;
    assert_eq!(authorize_error(&step), "invalid_request_object");

    patch_client(
        &app,
        "acme",
        &f.client_id,
        json!({"options": {"request_object_signing_alg": "none"}}),
    )
    .await;
    settle().await;
    let agent = Agent::new();
    let step = agent.get(&by_value(&app, &f, &request)).await;
    let location = sign_in(&agent, &f, step).await;
    assert!(location.starts_with(OTHER_REDIRECT), "{location}");
    assert!(param(&location, "code").is_some(), "{location}");
}

#[actix_web::test]
async fn a_client_that_must_sign_cannot_send_plain_requests() {
    let (app, f) = setup("acme").await;
    let key = ClientKey::es256("es-1");
    register_keys(
        &app,
        &f,
        &[&key],
        json!({"require_signed_request_object": true}),
    )
    .await;
    let step = Agent::new()
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request");
    // Nor push them.
    let (status, body) = push(
        &app,
        "acme",
        Some((&f.client_id, &f.client_secret)),
        &request_params(&f),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // A signed one without exp is refused; with it, accepted.
    let mut claims = request_claims(&app, &f);
    claims.as_object_mut().unwrap().remove("exp");
    let step = Agent::new()
        .get(&by_value(&app, &f, &key.sign(&claims)))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request_object");
    let agent = Agent::new();
    let step = agent
        .get(&by_value(&app, &f, &key.sign(&request_claims(&app, &f))))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(param(&location, "code").is_some(), "{location}");
    // The admin API refuses the contradiction of requiring signed objects and allowing none.
    let token = app.admin_token().await;
    let (status, _) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/acme/clients/{}", f.client_id),
            Some(json!({"options": {"require_signed_request_object": true,
                                    "request_object_signing_alg": "none"}})),
        )
        .await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn a_request_object_can_be_pushed() {
    let (app, f) = setup("acme").await;
    let key = ClientKey::rs256("rs-1");
    register_keys(&app, &f, &[&key], json!({})).await;
    let mut claims = request_claims(&app, &f);
    claims["redirect_uri"] = json!(OTHER_REDIRECT);
    let form = vec![
        ("client_id".to_owned(), f.client_id.clone()),
        ("request".to_owned(), key.sign(&claims)),
    ];
    let basic = Some((f.client_id.as_str(), f.client_secret.as_str()));
    let (status, body) = push(&app, "acme", basic, &form).await;
    assert_eq!(status, 201, "{body}");
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", text(&body, "request_uri")),
            ],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(location.starts_with(OTHER_REDIRECT), "{location}");
    let code = param(&location, "code").unwrap();
    let (status, tokens) = redeem(&app, &f, &code, OTHER_REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");

    // A bad one is refused at once, as JSON.
    let form = vec![
        ("client_id".to_owned(), f.client_id.clone()),
        ("request".to_owned(), unsigned(&claims)),
    ];
    let (status, body) = push(&app, "acme", basic, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request_object")),
        "{body}"
    );
}

#[actix_web::test]
async fn discovery_advertises_par_and_request_objects() {
    let (app, _f) = setup("acme").await;
    let issuer = app.issuer("acme");
    for url in [
        format!("{issuer}/.well-known/openid-configuration"),
        format!(
            "{}/.well-known/oauth-authorization-server/t/acme",
            app.address
        ),
    ] {
        let doc: Value = app
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            doc["pushed_authorization_request_endpoint"],
            format!("{issuer}/par"),
            "{doc}"
        );
        assert_eq!(doc["require_pushed_authorization_requests"], false);
        assert_eq!(doc["request_parameter_supported"], true);
        assert_eq!(doc["request_uri_parameter_supported"], true);
        assert_eq!(doc["require_request_uri_registration"], false);
        let algs = doc["request_object_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        for alg in ["RS256", "ES256", "PS256", "EdDSA", "none"] {
            assert!(algs.contains(&json!(alg)), "{alg}: {doc}");
        }
        assert!(!algs.contains(&json!("HS256")), "{doc}");
    }
}

/// Serves `set` as a JWK Set on a loopback port; returns its URL.
async fn serve_jwks(set: Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let body = set.to_string();
    actix_web::rt::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
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
    url
}

#[actix_web::test]
async fn a_private_key_jwt_client_pushes_a_request_object_checked_with_its_jwks_uri() {
    let app =
        crate::helpers::spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    let f = fixture(&app, "acme").await;
    let key = ClientKey::es256("uri-1");
    let jwks_uri = serve_jwks(json!({"keys": [key.jwk]})).await;
    patch_client(
        &app,
        "acme",
        &f.client_id,
        json!({"options": {"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri}}),
    )
    .await;
    settle().await;
    let par_url = format!("{}/par", app.issuer("acme"));
    // RFC 9126 §2: the PAR endpoint URL is an acceptable assertion audience.
    let assertion = key.sign(&json!({
        "iss": f.client_id, "sub": f.client_id, "aud": par_url,
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now(), "exp": now() + 60,
    }));
    let mut claims = request_claims(&app, &f);
    claims["redirect_uri"] = json!(OTHER_REDIRECT);
    let form = vec![
        (
            "client_assertion_type".to_owned(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion".to_owned(), assertion),
        ("request".to_owned(), key.sign(&claims)),
    ];
    let (status, body) = push(&app, "acme", None, &form).await;
    assert_eq!(status, 201, "{body}");
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", text(&body, "request_uri")),
            ],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    assert!(location.starts_with(OTHER_REDIRECT), "{location}");
    assert!(param(&location, "code").is_some(), "{location}");
    // A request object signed with a key the jwks_uri does not publish is refused.
    let stranger = ClientKey::es256("uri-1");
    let step = Agent::new()
        .get(&by_value(
            &app,
            &f,
            &stranger.sign(&request_claims(&app, &f)),
        ))
        .await;
    assert_eq!(authorize_error(&step), "invalid_request_object");
}

#[actix_web::test]
async fn the_cli_registers_the_par_and_request_object_options() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let (ok, created) = app.cli(&[
        "client",
        "create",
        "acme",
        "--name",
        "strict",
        "--redirect-uri",
        "https://rp.example.com/cb",
        "--require-par",
        "--request-object-alg",
        "ES256",
        "--require-signed-request-object",
    ]);
    assert!(ok, "{created}");
    let options = &created["options"];
    assert_eq!(
        options["require_pushed_authorization_requests"], true,
        "{created}"
    );
    assert_eq!(options["request_object_signing_alg"], "ES256", "{created}");
    assert_eq!(options["require_signed_request_object"], true, "{created}");
    for args in [
        &["--request-object-alg", "HS256"][..],
        &[
            "--request-object-alg",
            "none",
            "--require-signed-request-object",
        ],
    ] {
        let mut full = vec!["client", "create", "acme", "--name", "bad"];
        full.extend_from_slice(args);
        let (ok, err) = app.cli(&full);
        assert!(!ok, "{args:?}: {err}");
        assert_eq!(err["error"], "invalid_request", "{args:?}: {err}");
    }
}

/// A DPoP proof (RFC 9449 §4.2) made with `key` for `POST url`.
fn dpop_proof(key: &ClientKey, url: &str) -> String {
    let mut header = Header::new(key.alg);
    header.typ = Some("dpop+jwt".to_owned());
    let mut jwk = key.jwk.clone();
    jwk.as_object_mut().unwrap().remove("kid");
    jwk.as_object_mut().unwrap().remove("use");
    header.jwk = Some(serde_json::from_value(jwk).unwrap());
    let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST", "htu": url,
                        "iat": now()});
    jsonwebtoken::encode(&header, &claims, &key.signing).unwrap()
}

#[actix_web::test]
async fn a_dpop_proof_at_par_binds_the_code_to_its_key() {
    use sha2::Digest;
    let (app, f) = setup("acme").await;
    let key = ClientKey::es256("dpop");
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        text(&key.jwk, "x"),
        text(&key.jwk, "y")
    );
    let jkt = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()));
    let par_url = format!("{}/par", app.issuer("acme"));
    let send = |form: Vec<(String, String)>| {
        let req = app
            .http
            .post(&par_url)
            .basic_auth(&f.client_id, Some(&f.client_secret))
            .header("DPoP", dpop_proof(&key, &par_url))
            .form(&form);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    // RFC 9449 §10.1: a dpop_jkt that is not the proof's key is refused.
    let mut form = request_params(&f);
    form.push(("dpop_jkt".into(), "A".repeat(43)));
    let (status, body) = send(form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );

    let (status, body) = send(request_params(&f)).await;
    assert_eq!(status, 201, "{body}");
    let agent = Agent::new();
    let step = agent
        .get(&authorize_url(
            &app,
            "acme",
            &[
                ("client_id", &f.client_id),
                ("request_uri", text(&body, "request_uri")),
            ],
        ))
        .await;
    let location = sign_in(&agent, &f, step).await;
    let code = param(&location, "code").unwrap();
    let token_url = format!("{}/token", app.issuer("acme"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", f.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    // The code is bound to the key: without a proof it is refused.
    let (status, body) = redeem(&app, &f, &code, &f.redirect_uri).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    let resp = app
        .http
        .post(&token_url)
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .header("DPoP", dpop_proof(&key, &token_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let tokens: Value = resp.json().await.unwrap();
    let claims = crate::opaque::jwt_claims(text(&tokens, "access_token"));
    assert_eq!(claims["cnf"]["jkt"], jkt.as_str(), "{claims}");
}
