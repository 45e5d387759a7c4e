//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02) end to end: a
//! local HTTP server on 127.0.0.1 serves the documents (the deployment lets loopback http stand
//! in for https), a public client whose client_id is a document URL signs a user in with the
//! code flow and PKCE, the document is fetched once, cached and fetched again after its time,
//! and every refusal (policy off, host not allowed, wrong client_id, too large, timeout,
//! redirect, shared secret, unregistered redirect URI) is an error page, never a redirect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::Method;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, s256, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app_with};

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";
const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";

/// What the document server answers at one path.
#[derive(Clone)]
enum Answer {
    /// 200 `application/json` with this body.
    Json(Value),
    /// 200 `application/json` with this raw body.
    Raw(String),
    /// A redirect to this path of the same server.
    Redirect(&'static str),
    /// Nothing, for longer than any fetch may take.
    Hang,
}

/// A client's web server publishing metadata documents; counts the requests per path.
struct DocumentServer {
    base: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocumentServer {
    async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let answers = Arc::new(Mutex::new(HashMap::<String, Answer>::new()));
        let hits = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let (a, h) = (Arc::clone(&answers), Arc::clone(&hits));
        let server = HttpServer::new(move || {
            let (answers, hits) = (Arc::clone(&a), Arc::clone(&h));
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                let (answers, hits) = (Arc::clone(&answers), Arc::clone(&hits));
                async move {
                    let path = req.path().to_owned();
                    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let answer = answers.lock().unwrap().get(&path).cloned();
                    match answer {
                        Some(Answer::Json(doc)) => HttpResponse::Ok()
                            .insert_header(("cache-control", "max-age=3600"))
                            .json(doc),
                        Some(Answer::Raw(body)) => HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body),
                        Some(Answer::Redirect(to)) => HttpResponse::Found()
                            .insert_header(("location", to))
                            .finish(),
                        Some(Answer::Hang) => {
                            actix_web::rt::time::sleep(Duration::from_secs(20)).await;
                            HttpResponse::Ok().finish()
                        }
                        None => HttpResponse::NotFound().finish(),
                    }
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            base,
            answers,
            hits,
        }
    }

    /// The client_id (document URL) of `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn answer(&self, path: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(path.to_owned(), answer);
    }

    /// A valid public-client document at `path`.
    fn publish(&self, path: &str) -> String {
        let url = self.url(path);
        self.answer(path, Answer::Json(document(&url)));
        url
    }

    /// Stops serving `path` (404 from now on).
    fn withdraw(&self, path: &str) {
        self.answers.lock().unwrap().remove(path);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// The metadata document of a public client at `url` (draft §4, RFC 7591 §2).
fn document(url: &str) -> Value {
    json!({
        "client_id": url,
        "client_name": "Doc Notes",
        "client_uri": "http://127.0.0.1/",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile offline_access",
    })
}

/// A server that fetches loopback http documents, a tenant `slug` (sign-in fixture) taking
/// documents from `allowed_hosts` with `cache_ttl_secs`, and the document server.
async fn setup(slug: &str, allowed_hosts: &[&str], ttl: i64) -> (TestApp, SignIn, DocumentServer) {
    let app = spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    let fixture = sign_in_fixture(&app, slug, false).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(json!({"client_id_metadata_documents": {
                "enabled": true, "allowed_hosts": allowed_hosts, "cache_ttl_secs": ttl,
            }})),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
    actix_web::rt::time::sleep(PROPAGATION).await;
    (app, fixture, DocumentServer::start().await)
}

/// The authorization request of `client_id` with PKCE.
fn authorize_url(app: &TestApp, slug: &str, client_id: &str, redirect_uri: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", app.issuer(slug))).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", "st-1")
        .append_pair("code_challenge", &s256(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

/// Asserts an HTML error page (400, no `Location`) that says `says`; returns its body.
async fn error_page(app: &TestApp, url: &str, says: &str) -> String {
    let resp = app.http.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(
        resp.headers().get(LOCATION).is_none(),
        "redirected: {resp:?}"
    );
    let body = resp.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(says), "expected `{says}` in: {body}");
    body
}

/// Signs alice in through consent; the consent page and the code.
async fn sign_in(app: &TestApp, f: &SignIn, client_id: &str) -> (String, String) {
    let agent = Agent::new();
    let login = agent
        .get(&authorize_url(app, &f.tenant, client_id, REDIRECT_URI))
        .await;
    let (status, page) = login.page();
    assert_eq!(status, 200, "{page}");
    let consent = agent.login(page, &f.username, &f.password).await;
    let (status, consent_page) = consent.page();
    assert_eq!(status, 200, "{consent_page}");
    let consent_page = consent_page.to_owned();
    let done = agent.consent(&consent_page, &["profile"], true).await;
    let location = match &done {
        Step::Redirect(l) => l.clone(),
        other => panic!("expected the redirect to the client, got {other:?}"),
    };
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    let code = param(&location, "code").expect("code");
    (consent_page, code)
}

/// Runs the admin client list; the item of `client_id`, if listed.
async fn listed(app: &TestApp, slug: &str, client_id: &str) -> Option<Value> {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/{slug}/clients"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id)
        .cloned()
}

#[actix_web::test]
async fn a_document_client_signs_a_user_in_with_pkce_and_its_document_is_cached() {
    let (app, f, docs) = setup("cimd", &["127.0.0.1"], 5).await;
    let client_id = docs.publish("/client.json");

    // Discovery says so (draft §6) only where the tenant takes documents.
    let discovery: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("cimd")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["client_id_metadata_document_supported"], true);

    // The first request fetches the document; within its time (5 s here) the stored client
    // answers without a second fetch.
    let first_fetch = Instant::now();
    for _ in 0..2 {
        let resp = app
            .http
            .get(authorize_url(&app, "cimd", &client_id, REDIRECT_URI))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(docs.hits("/client.json"), 1);
    }

    let (consent_page, code) = sign_in(&app, &f, &client_id).await;
    // The consent page shows the document's host beside its client_name (draft §8).
    assert!(
        consent_page.contains("Doc Notes (127.0.0.1)"),
        "{consent_page}"
    );

    // The code is exchanged by the public client: client_id, no secret, the PKCE verifier.
    let resp = app
        .post_token(
            "cimd",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let audience = match &claims["aud"] {
        Value::Array(auds) => auds.clone(),
        one => vec![one.clone()],
    };
    assert!(audience.contains(&json!(client_id)), "{claims}");

    // After its time the next request fetches it again (once, however long the sign-in took).
    let ttl = Duration::from_millis(5500);
    if let Some(rest) = ttl.checked_sub(first_fetch.elapsed()) {
        actix_web::rt::time::sleep(rest).await;
    }
    let refreshed = app
        .http
        .get(authorize_url(&app, "cimd", &client_id, REDIRECT_URI))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status().as_u16(), 200);
    assert_eq!(docs.hits("/client.json"), 2);

    // The admin API lists it as a metadata-document client.
    let item = listed(&app, "cimd", &client_id).await.expect("listed");
    let state = &item["options"]["metadata_document"];
    assert!(state["expires_at"].as_i64().unwrap() > state["fetched_at"].as_i64().unwrap());
    assert_eq!(item["client_type"], "public");
    assert_eq!(item["first_party"], false);
    assert_eq!(item["require_pkce"], true);

    // An administrator deletes it; the next use fetches it again, as the policy still allows.
    let token = app.admin_token().await;
    let encoded: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let (status, body) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/cimd/clients/{encoded}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert!(listed(&app, "cimd", &client_id).await.is_none());
    let back = app
        .http
        .get(authorize_url(&app, "cimd", &client_id, REDIRECT_URI))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status().as_u16(), 200);
    assert_eq!(docs.hits("/client.json"), 3);
    assert!(listed(&app, "cimd", &client_id).await.is_some());
}

#[actix_web::test]
async fn documents_are_refused_when_the_policy_is_off_or_the_host_not_allowed() {
    let (app, _f, docs) = setup("cimd", &["127.0.0.1"], 3600).await;
    let client_id = docs.publish("/client.json");

    // A tenant that has not opted in: an unknown client, no fetch, no discovery flag.
    sign_in_fixture(&app, "plain", false).await;
    error_page(
        &app,
        &authorize_url(&app, "plain", &client_id, REDIRECT_URI),
        "not registered",
    )
    .await;
    let discovery: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("plain")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery
            .get("client_id_metadata_document_supported")
            .is_none()
    );

    // The same document under a host name the allow-list does not hold.
    let by_name = client_id.replace("127.0.0.1", "localhost");
    error_page(
        &app,
        &authorize_url(&app, "cimd", &by_name, REDIRECT_URI),
        "does not accept client metadata documents from this host",
    )
    .await;
    assert_eq!(docs.hits("/client.json"), 0);

    // Turning the policy off stops a stored document client at once.
    let ok = app
        .http
        .get(authorize_url(&app, "cimd", &client_id, REDIRECT_URI))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/cimd/settings",
            Some(json!({"client_id_metadata_documents": {"enabled": false}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    actix_web::rt::time::sleep(PROPAGATION).await;
    error_page(
        &app,
        &authorize_url(&app, "cimd", &client_id, REDIRECT_URI),
        "does not accept client metadata documents from this host",
    )
    .await;
    assert_eq!(docs.hits("/client.json"), 1);
}

#[actix_web::test]
async fn broken_documents_get_an_error_page_and_never_a_redirect() {
    let (app, _f, docs) = setup("cimd", &["127.0.0.1"], 3600).await;
    let page = |client_id: String, says: &'static str| {
        let url = authorize_url(&app, "cimd", &client_id, REDIRECT_URI);
        let app = &app;
        async move { error_page(app, &url, says).await }
    };

    // Draft §4: the document's client_id is its own URL exactly.
    let mismatch = docs.url("/mismatch.json");
    docs.answer(
        "/mismatch.json",
        Answer::Json(document(&docs.url("/other.json"))),
    );
    page(mismatch, "client_id is not the URL it was fetched from").await;

    // Draft §8.7: at most 5 KiB.
    let large = docs.url("/large.json");
    let mut doc = document(&large);
    doc["padding"] = Value::String("x".repeat(6 * 1024));
    docs.answer("/large.json", Answer::Raw(doc.to_string()));
    page(large, "larger than 5 KiB").await;

    // A server that never answers costs at most the fetch timeout (3 s).
    let slow = docs.url("/slow.json");
    docs.answer("/slow.json", Answer::Hang);
    let started = Instant::now();
    page(slow, "failed or timed out").await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // Draft §5: a redirect is not followed, even to a valid document.
    docs.publish("/client.json");
    let moved = docs.url("/moved.json");
    docs.answer("/moved.json", Answer::Redirect("/client.json"));
    page(moved, "redirect, which is not followed").await;
    assert_eq!(docs.hits("/moved.json"), 1);
    assert_eq!(docs.hits("/client.json"), 0);

    // Draft §4: no shared secret, in any form.
    let basic = docs.url("/basic.json");
    let mut doc = document(&basic);
    doc["token_endpoint_auth_method"] = json!("client_secret_basic");
    docs.answer("/basic.json", Answer::Json(doc));
    page(basic, "token_endpoint_auth_method must be").await;
    let secret = docs.url("/secret.json");
    let mut doc = document(&secret);
    doc["client_secret"] = json!("s3cret-s3cret");
    docs.answer("/secret.json", Answer::Json(doc));
    let body = page(secret, "must not contain client_secret").await;
    assert!(!body.contains("s3cret-s3cret"));

    // None of them became a client.
    for path in [
        "/mismatch.json",
        "/large.json",
        "/slow.json",
        "/moved.json",
        "/basic.json",
        "/secret.json",
    ] {
        assert!(
            listed(&app, "cimd", &docs.url(path)).await.is_none(),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn a_redirect_uri_the_document_does_not_list_gets_the_error_page() {
    let (app, _f, docs) = setup("cimd", &["127.0.0.1"], 3600).await;
    let client_id = docs.publish("/client.json");
    error_page(
        &app,
        &authorize_url(&app, "cimd", &client_id, "http://127.0.0.1:9/elsewhere"),
        "redirect URI is not registered",
    )
    .await;
    // The document was fetched and the client stored; only the redirect URI was refused.
    assert_eq!(docs.hits("/client.json"), 1);
    assert!(listed(&app, "cimd", &client_id).await.is_some());
}

#[actix_web::test]
async fn pushed_and_device_requests_fetch_documents_and_refuse_bad_ones_as_invalid_client() {
    let (app, _f, docs) = setup("cimd", &["127.0.0.1"], 3600).await;
    let client_id = docs.publish("/client.json");
    let challenge = s256(VERIFIER);
    let par = |client_id: String| {
        let (app, challenge) = (&app, challenge.clone());
        async move {
            app.http
                .post(format!("{}/par", app.issuer("cimd")))
                .form(&[
                    ("client_id", client_id.as_str()),
                    ("redirect_uri", REDIRECT_URI),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let pushed = par(client_id.clone()).await;
    assert_eq!(pushed.status().as_u16(), 201);
    assert_eq!(docs.hits("/client.json"), 1);

    let mismatch = docs.url("/mismatch.json");
    docs.answer(
        "/mismatch.json",
        Answer::Json(document(&docs.url("/other.json"))),
    );
    let refused = par(mismatch.clone()).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(refused).await, "invalid_client");

    // RFC 8628 §3.1 with a document client that lists the device grant.
    let device = docs.url("/device.json");
    let mut doc = document(&device);
    doc["grant_types"] = json!(["urn:ietf:params:oauth:grant-type:device_code"]);
    doc.as_object_mut().unwrap().remove("response_types");
    doc.as_object_mut().unwrap().remove("redirect_uris");
    docs.answer("/device.json", Answer::Json(doc));
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/cimd/settings",
            Some(json!({"registration": {"grant_types": [
                "authorization_code", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    actix_web::rt::time::sleep(PROPAGATION).await;
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("cimd")))
        .form(&[("client_id", device.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["device_code"].is_string(), "{body}");
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("cimd")))
        .form(&[("client_id", mismatch.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[actix_web::test]
async fn a_failed_refetch_serves_the_stored_client_for_one_more_ttl_then_refuses() {
    let (app, _f, docs) = setup("cimd", &["127.0.0.1"], 3).await;
    let client_id = docs.publish("/client.json");
    let get = || {
        app.http
            .get(authorize_url(&app, "cimd", &client_id, REDIRECT_URI))
            .send()
    };
    let t0 = Instant::now();
    assert_eq!(get().await.unwrap().status().as_u16(), 200);
    assert_eq!(docs.hits("/client.json"), 1);
    let until = |at: Duration| async move {
        if let Some(rest) = at.checked_sub(t0.elapsed()) {
            actix_web::rt::time::sleep(rest).await;
        }
    };

    // Past its time (3 s) the document is gone: the fetch fails, the stored client still serves.
    docs.withdraw("/client.json");
    until(Duration::from_millis(3500)).await;
    assert_eq!(get().await.unwrap().status().as_u16(), 200);
    assert_eq!(docs.hits("/client.json"), 2);

    // One more time later the stored client is no longer served.
    until(Duration::from_millis(6500)).await;
    error_page(
        &app,
        &authorize_url(&app, "cimd", &client_id, REDIRECT_URI),
        "did not answer 200",
    )
    .await;
}
