//! OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: the clients of an ended
//! SSO session are told — logout tokens POSTed from the durable outbox (with retries) to a real
//! HTTP receiver on 127.0.0.1, and the signed-out page's iframes — on RP-initiated logout, when an
//! admin ends the user's sessions, and when an admin sets the user's password.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app_with, within};

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    content_type: String,
    body: String,
}

/// A client's logout endpoint: records every request; answers the scripted statuses in order,
/// then 200.
#[derive(Clone)]
struct Receiver {
    base: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::<Received>::new()));
        let script = Arc::new(Mutex::new(script.into_iter().rev().collect::<Vec<u16>>()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (s, sc) = (Arc::clone(&seen), Arc::clone(&script));
        let server = HttpServer::new(move || {
            let (seen, script) = (Arc::clone(&s), Arc::clone(&sc));
            App::new().default_service(web::to(
                move |req: actix_web::HttpRequest, body: web::Bytes| {
                    let (seen, script) = (Arc::clone(&seen), Arc::clone(&script));
                    async move {
                        seen.lock().unwrap().push(Received {
                            path: req.path().to_owned(),
                            content_type: req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned(),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let status = script.lock().unwrap().pop().unwrap_or(200);
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                            .finish()
                    }
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self { base, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits up to `limit` for `n` requests at `path`.
    async fn wait_for(&self, path: &str, n: usize, limit: Duration) -> Vec<Received> {
        within(limit, || {
            let ok = self.at(path).len() >= n;
            async move { ok }
        })
        .await
        .unwrap_or_else(|| panic!("expected {n} request(s) at {path}, got {:?}", self.at(path)));
        self.at(path)
    }
}

/// A server whose logout worker polls fast and retries after 1 s, 2 s, … (real settings).
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.logout.poll_interval_ms = 100;
        s.logout.retry_base_secs = 1;
        s.logout.max_attempts = 3;
        s.logout.timeout_secs = 2;
    })
    .await
}

async fn patch_options(app: &TestApp, slug: &str, client_id: &str, options: Value) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            &format!("/tenants/{slug}/clients/{client_id}"),
            Some(json!({ "options": options })),
        )
        .await;
    assert_eq!(status, 200, "patch client: {body}");
}

/// A second sign-in client of the fixture's tenant, with `options`.
async fn second_client(app: &TestApp, f: &SignIn, name: &str, options: Value) -> SignIn {
    let token = app.admin_token().await;
    let redirect_uri = format!("http://127.0.0.1:9/{name}/cb");
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{}/clients", f.tenant),
            Some(json!({
                "name": name,
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri],
                "scopes": ["openid", "profile"],
                "first_party": true,
                "options": options,
            })),
        )
        .await;
    assert_eq!(status, 201, "client: {body}");
    SignIn {
        tenant: f.tenant.clone(),
        client_id: body["client_id"].as_str().unwrap().to_owned(),
        client_secret: body["client_secret"].as_str().unwrap().to_owned(),
        redirect_uri,
        post_logout_redirect_uri: String::new(),
        username: f.username.clone(),
        password: f.password.clone(),
    }
}

/// Runs the code flow of `client` in `agent`'s existing session (consenting if asked); returns
/// the token response.
async fn code_in_session(app: &TestApp, agent: &Agent, client: &SignIn) -> Value {
    let verifier = "w".repeat(43);
    let mut step = agent
        .get(&client.authorize_url(app, "openid", &verifier, &[]))
        .await;
    if let Step::Page(_, page) = &step {
        step = agent.consent(page, &["openid"], true).await;
    }
    let code = param(step.location(), "code").expect("a code");
    let (status, body) = client.exchange(app, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Checks a received POST is a valid logout token for `aud` (Back-Channel Logout 1.0 §2.4,
/// §2.5) against the tenant's JWKS; returns its claims.
async fn verify_logout_token(app: &TestApp, slug: &str, aud: &str, got: &Received) -> Value {
    assert_eq!(got.content_type, "application/x-www-form-urlencoded");
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&got.body).unwrap();
    assert_eq!(form.len(), 1, "only logout_token is sent: {form:?}");
    assert_eq!(form[0].0, "logout_token");
    let token = &form[0].1;
    let jwks: JwkSet = app
        .http
        .get(format!("{}/jwks", app.issuer(slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks
        .find(&header.kid.unwrap())
        .expect("the kid is in the JWKS");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[app.issuer(slug)]);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let data = decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the logout token verifies");
    let c = data.claims;
    assert_eq!(c["events"], json!({ BACKCHANNEL_EVENT: {} }));
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(c.get("nonce").is_none(), "a logout token has no nonce: {c}");
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 300, "short-lived: {c}");
    c
}

async fn store(app: &TestApp) -> tessera_store::Store {
    tessera_store::Store::connect(
        &app.database_url,
        &tessera_store::PoolSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap()
}

async fn notices(
    store: &tessera_store::Store,
    slug: &str,
) -> Vec<tessera_store::logout_outbox::LogoutNoticeRecord> {
    let tenant = tessera_store::tenants::find_by_slug(store.conn(), slug)
        .await
        .unwrap()
        .expect("tenant");
    tessera_store::logout_outbox::list(store.conn(), tenant.id)
        .await
        .unwrap()
}

#[actix_web::test]
async fn rp_initiated_logout_notifies_the_session_clients_by_back_and_front_channel() {
    let app = app().await;
    let rp = Receiver::start(vec![]).await;
    let f = sign_in_fixture(&app, "lo-rp", false).await;
    patch_options(
        &app,
        "lo-rp",
        &f.client_id,
        json!({
            "backchannel_logout_uri": rp.url("/bc"),
            "backchannel_logout_session_required": true,
        }),
    )
    .await;
    let front = second_client(
        &app,
        &f,
        "front",
        json!({
            "frontchannel_logout_uri": rp.url("/fc?tenant=x"),
            "frontchannel_logout_session_required": true,
        }),
    )
    .await;
    // Took no part in the session: never notified.
    let bystander = second_client(
        &app,
        &f,
        "bystander",
        json!({ "backchannel_logout_uri": rp.url("/other"), "frontchannel_logout_uri": "https://bystander.example/fc" }),
    )
    .await;

    let verifier = "v".repeat(43);
    let (agent, code) = f.code(&app, "openid profile", &verifier).await;
    let (status, tokens) = f.exchange(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let id = claims(&id_token);
    let sid = id["sid"]
        .as_str()
        .expect("the ID token has a sid")
        .to_owned();
    let front_tokens = code_in_session(&app, &agent, &front).await;
    assert_eq!(
        claims(front_tokens["id_token"].as_str().unwrap())["sid"],
        id["sid"],
        "one SSO session"
    );

    let logout = format!(
        "{}/logout?{}",
        app.issuer("lo-rp"),
        serde_urlencoded::to_string([
            ("id_token_hint", id_token.as_str()),
            (
                "post_logout_redirect_uri",
                f.post_logout_redirect_uri.as_str()
            ),
            ("state", "s-1"),
        ])
        .unwrap()
    );
    let resp = agent.http.get(&logout).send().await.unwrap();
    // Front-channel frames need a page: it continues to the RP once they loaded.
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = resp.text().await.unwrap();
    let frame_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("frame-src"))
        .unwrap_or_else(|| panic!("no frame-src in {csp}"));
    assert_eq!(frame_src, format!("frame-src {}", rp.base));
    let page = unescape(&page);
    let expected_src = format!(
        "{}/fc?tenant=x&iss={}&sid={}",
        rp.base,
        url::form_urlencoded::byte_serialize(app.issuer("lo-rp").as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(sid.as_bytes()).collect::<String>(),
    );
    assert!(
        page.contains(&format!("<iframe src=\"{expected_src}\"")),
        "{expected_src} not framed in {page}"
    );
    assert!(!page.contains("bystander.example"), "{page}");
    assert_eq!(page.matches("<iframe").count(), 1, "{page}");
    assert!(page.contains("state=s-1"), "continues to the RP: {page}");

    let got = rp.wait_for("/bc", 1, Duration::from_secs(10)).await;
    let c = verify_logout_token(&app, "lo-rp", &f.client_id, &got[0]).await;
    assert_eq!(c["sid"].as_str(), Some(sid.as_str()));
    assert_eq!(c["sub"], id["sub"]);
    // The session is over.
    let again = f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]);
    let location = agent.get(&again).await.location().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
    // No other delivery: the front-channel client has no back-channel URI, the bystander took
    // no part in the session.
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rp.at("/bc").len(), 1);
    assert!(rp.at("/other").is_empty(), "{:?}", rp.at("/other"));
    assert!(
        rp.at("/fc").is_empty(),
        "front channel is the browser's job"
    );
    let n = notices(&store(&app).await, "lo-rp").await;
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].state, "delivered");
    assert_eq!(n[0].client_id, f.client_id);
    let _ = bystander;
}

#[actix_web::test]
async fn logout_without_front_channel_clients_still_redirects_at_once() {
    let app = app().await;
    let rp = Receiver::start(vec![]).await;
    let f = sign_in_fixture(&app, "lo-plain", false).await;
    patch_options(
        &app,
        "lo-plain",
        &f.client_id,
        json!({ "backchannel_logout_uri": rp.url("/bc") }),
    )
    .await;
    let verifier = "v".repeat(43);
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, tokens) = f.exchange(&app, &code, &verifier).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = format!(
        "{}/logout?{}",
        app.issuer("lo-plain"),
        serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            (
                "post_logout_redirect_uri",
                f.post_logout_redirect_uri.as_str()
            ),
        ])
        .unwrap()
    );
    let location = agent.get(&logout).await.location().to_owned();
    assert_eq!(location, f.post_logout_redirect_uri);
    let got = rp.wait_for("/bc", 1, Duration::from_secs(10)).await;
    let c = verify_logout_token(&app, "lo-plain", &f.client_id, &got[0]).await;
    assert_eq!(c["sid"], claims(id_token)["sid"]);
}

#[actix_web::test]
async fn a_refused_logout_token_is_retried_with_a_fresh_token_until_accepted() {
    let app = app().await;
    let rp = Receiver::start(vec![500]).await;
    let f = sign_in_fixture(&app, "lo-retry", false).await;
    patch_options(
        &app,
        "lo-retry",
        &f.client_id,
        json!({ "backchannel_logout_uri": rp.url("/bc"), "backchannel_logout_session_required": true }),
    )
    .await;
    let verifier = "v".repeat(43);
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, tokens) = f.exchange(&app, &code, &verifier).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = format!(
        "{}/logout?{}",
        app.issuer("lo-retry"),
        serde_urlencoded::to_string([("id_token_hint", id_token)]).unwrap()
    );
    let (status, _) = agent.get(&logout).await.page().clone_parts();
    assert_eq!(status, 200);
    let got = rp.wait_for("/bc", 2, Duration::from_secs(15)).await;
    let first = verify_logout_token(&app, "lo-retry", &f.client_id, &got[0]).await;
    let second = verify_logout_token(&app, "lo-retry", &f.client_id, &got[1]).await;
    assert_ne!(
        first["jti"], second["jti"],
        "each attempt signs a fresh token"
    );
    assert_eq!(second["sid"], claims(id_token)["sid"]);
    let db = store(&app).await;
    let done = within(Duration::from_secs(5), || {
        let db = &db;
        async move {
            notices(db, "lo-retry")
                .await
                .first()
                .is_some_and(|n| n.state == "delivered")
        }
    })
    .await;
    let n = notices(&db, "lo-retry").await;
    assert!(done.is_some(), "{n:?}");
    assert_eq!(n[0].attempts, 2);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rp.at("/bc").len(), 2, "no delivery after success");
}

#[actix_web::test]
async fn an_unreachable_client_is_retried_then_given_up_and_the_server_carries_on() {
    let app = app().await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let f = sign_in_fixture(&app, "lo-down", false).await;
    patch_options(
        &app,
        "lo-down",
        &f.client_id,
        json!({ "backchannel_logout_uri": format!("http://127.0.0.1:{closed}/bc") }),
    )
    .await;
    let verifier = "v".repeat(43);
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, tokens) = f.exchange(&app, &code, &verifier).await;
    let logout = format!(
        "{}/logout?{}",
        app.issuer("lo-down"),
        serde_urlencoded::to_string([("id_token_hint", tokens["id_token"].as_str().unwrap())])
            .unwrap()
    );
    let (status, _) = agent.get(&logout).await.page().clone_parts();
    assert_eq!(status, 200);
    // Attempts at 0 s, +1 s, +2 s (max_attempts = 3), then given up.
    let db = store(&app).await;
    let given_up = within(Duration::from_secs(15), || {
        let db = &db;
        async move {
            notices(db, "lo-down")
                .await
                .first()
                .is_some_and(|n| n.state == "given_up")
        }
    })
    .await;
    let n = notices(&db, "lo-down").await;
    assert!(given_up.is_some(), "{n:?}");
    assert_eq!(n[0].attempts, 3, "{n:?}");
    let resp = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("lo-down")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn admin_ending_sessions_or_setting_the_password_sends_logout_tokens() {
    let app = app().await;
    let rp = Receiver::start(vec![]).await;
    let f = sign_in_fixture(&app, "lo-admin", false).await;
    patch_options(
        &app,
        "lo-admin",
        &f.client_id,
        json!({ "backchannel_logout_uri": rp.url("/bc"), "backchannel_logout_session_required": true }),
    )
    .await;
    let token = app.admin_token().await;
    let verifier = "v".repeat(43);

    // DELETE …/sessions.
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, tokens) = f.exchange(&app, &code, &verifier).await;
    let sid1 = claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let (status, body) = app
        .admin(
            &token,
            Method::DELETE,
            "/tenants/lo-admin/users/alice/sessions",
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let got = rp.wait_for("/bc", 1, Duration::from_secs(10)).await;
    let c = verify_logout_token(&app, "lo-admin", &f.client_id, &got[0]).await;
    assert_eq!(c["sid"], sid1);
    let again = f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]);
    let location = agent.get(&again).await.location().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
    // The tokens of the ended session are revoked (as at logout).
    let refresh = app
        .post_token(
            "lo-admin",
            Some((&f.client_id, &f.client_secret)),
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("a refresh token"),
                ),
            ],
        )
        .await;
    assert_eq!(refresh.status().as_u16(), 400);

    // Setting the password ends the new session too.
    let (_, code) = f.code(&app, "openid", &verifier).await;
    let (_, tokens) = f.exchange(&app, &code, &verifier).await;
    let sid2 = claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    assert_ne!(sid1, sid2);
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/lo-admin/users/alice/password",
            Some(json!({ "password": "another long passphrase 42" })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let got = rp.wait_for("/bc", 2, Duration::from_secs(10)).await;
    let c = verify_logout_token(&app, "lo-admin", &f.client_id, &got[1]).await;
    assert_eq!(c["sid"], sid2);

    // Ending sessions of a user without any sends nothing.
    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            "/tenants/lo-admin/users/alice/sessions",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            "/tenants/lo-admin/users/nobody/sessions",
            None,
        )
        .await;
    assert_eq!(status, 404);
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rp.at("/bc").len(), 2);
}

#[actix_web::test]
async fn logout_uris_must_be_https_or_loopback_http_without_fragment() {
    let app = app().await;
    app.create_tenant("lo-valid", "ES256").await;
    let token = app.admin_token().await;
    let create = |options: Value| {
        let (app, token) = (&app, &token);
        async move {
            app.admin(
                token,
                Method::POST,
                "/tenants/lo-valid/clients",
                Some(json!({
                    "name": "rp",
                    "grant_types": ["authorization_code"],
                    "redirect_uris": ["https://rp.example/cb"],
                    "scopes": ["openid"],
                    "options": options,
                })),
            )
            .await
        }
    };
    for (field, bad) in [
        ("backchannel_logout_uri", "http://rp.example/bc"),
        ("backchannel_logout_uri", "https://rp.example/bc#frag"),
        ("backchannel_logout_uri", "/bc"),
        ("frontchannel_logout_uri", "javascript:alert(1)"),
        ("frontchannel_logout_uri", "http://10.0.0.1/fc"),
    ] {
        let (status, body) = create(json!({ field: bad })).await;
        assert_eq!(status, 400, "{field}={bad}: {body}");
        assert!(body.to_string().contains(field), "{body}");
    }
    let (status, body) = create(json!({
        "backchannel_logout_uri": "https://rp.example/bc",
        "backchannel_logout_session_required": true,
        "frontchannel_logout_uri": "http://127.0.0.1:8080/fc",
        "frontchannel_logout_session_required": true,
    }))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["options"]["backchannel_logout_uri"],
        "https://rp.example/bc"
    );
    assert_eq!(body["options"]["backchannel_logout_session_required"], true);
    assert_eq!(
        body["options"]["frontchannel_logout_uri"],
        "http://127.0.0.1:8080/fc"
    );
    assert_eq!(
        body["options"]["frontchannel_logout_session_required"],
        true
    );
}

#[actix_web::test]
async fn discovery_advertises_back_and_front_channel_logout_with_sessions() {
    let app = app().await;
    app.create_tenant("lo-disc", "ES256").await;
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("lo-disc")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(meta[field], true, "{field}: {meta}");
    }
    assert!(meta["end_session_endpoint"].is_string());
}

trait CloneParts {
    fn clone_parts(self) -> (u16, String);
}
impl CloneParts for (u16, &str) {
    fn clone_parts(self) -> (u16, String) {
        (self.0, self.1.to_owned())
    }
}

/// Undoes the HTML escaping of our templates.
fn unescape(s: &str) -> String {
    s.replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[actix_web::test]
async fn cli_registers_logout_uris_and_refuses_bad_ones() {
    let app = app().await;
    app.create_tenant("lo-cli", "ES256").await;
    let base = [
        "client",
        "create",
        "lo-cli",
        "--name",
        "cli rp",
        "--grant",
        "authorization_code",
        "--redirect-uri",
        "https://rp.example/cb",
        "--scope",
        "openid",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--backchannel-logout-uri",
        "https://rp.example/bc",
        "--backchannel-logout-session-required",
        "--frontchannel-logout-uri",
        "https://rp.example/fc",
        "--frontchannel-logout-session-required",
    ]);
    let (ok, json) = app.cli(&args);
    assert!(ok, "{json}");
    assert_eq!(
        json["options"]["backchannel_logout_uri"],
        "https://rp.example/bc"
    );
    assert_eq!(json["options"]["backchannel_logout_session_required"], true);
    assert_eq!(
        json["options"]["frontchannel_logout_uri"],
        "https://rp.example/fc"
    );
    assert_eq!(
        json["options"]["frontchannel_logout_session_required"],
        true
    );
    let mut args = base.to_vec();
    args.extend(["--backchannel-logout-uri", "http://rp.example/bc"]);
    let (ok, json) = app.cli(&args);
    assert!(!ok, "plain http to a remote host is refused: {json}");
}

#[actix_web::test]
async fn chromium_loads_the_front_channel_logout_frames_then_returns_to_the_client() {
    let app = app().await;
    let rp = Receiver::start(vec![]).await;
    let f = sign_in_fixture(&app, "lo-chrome", true).await;
    let catcher = crate::browser::RedirectCatcher::start();
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/lo-chrome/clients",
            Some(json!({
                "name": "Framed App",
                "grant_types": ["authorization_code"],
                "redirect_uris": [catcher.uri()],
                "post_logout_redirect_uris": [catcher.uri()],
                "scopes": ["openid"],
                "first_party": true,
                "options": {
                    "frontchannel_logout_uri": rp.url("/fc"),
                    "frontchannel_logout_session_required": true,
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "client: {body}");
    let client = SignIn {
        tenant: f.tenant.clone(),
        client_id: body["client_id"].as_str().unwrap().to_owned(),
        client_secret: body["client_secret"].as_str().unwrap().to_owned(),
        redirect_uri: catcher.uri(),
        post_logout_redirect_uri: catcher.uri(),
        username: f.username.clone(),
        password: f.password.clone(),
    };

    // Sign in in the browser; it lands at the client with a code.
    let verifier = "c".repeat(43);
    let browser = crate::browser::Browser::launch().await;
    browser
        .goto(&client.authorize_url(&app, "openid", &verifier, &[]))
        .await;
    browser.fill("input[name=username]", &client.username).await;
    browser.fill("input[name=password]", &client.password).await;
    browser.click("form button[type=submit]").await;
    let landed = browser.url().await;
    let code = param(&landed, "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let (status, tokens) = client.exchange(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();

    // RP-initiated logout: the signed-out page frames the client's front-channel logout URI
    // (under the page's CSP), then continues to the post-logout redirect URI.
    let logout = format!(
        "{}/logout?{}",
        app.issuer("lo-chrome"),
        serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", catcher.uri().as_str()),
            ("state", "bye-1"),
        ])
        .unwrap()
    );
    browser.goto(&logout).await;
    let framed = within(Duration::from_secs(5), || async {
        !rp.at("/fc").is_empty()
    })
    .await;
    assert!(
        framed.is_some(),
        "the browser loaded the front-channel frame"
    );
    let returned = within(Duration::from_secs(6), || async {
        catcher.requests().iter().any(|r| r.contains("state=bye-1"))
    })
    .await;
    assert!(
        returned.is_some(),
        "the browser went on to the client: {:?}",
        catcher.requests()
    );
    assert_eq!(rp.at("/fc").len(), 1, "one frame, loaded once");
    assert!(browser.url().await.starts_with(&catcher.uri()));
    browser.screenshot("frontchannel_logout_done").await;
}
