//! With `redis.url` set, the replay cache (DPoP proofs, RFC 9449 §11.1; client assertions,
//! RFC 7523 §3) and the sign-in throttling counters live in Redis, shared by every node, and
//! the database tables stay empty. Needs Redis at `TESSERA_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`): without it these tests fail, never skip. Each test uses its own
//! key prefix.

use ::redis::AsyncCommands;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::agent::sign_in_fixture;
use crate::dpop::DpopKey;
use crate::helpers::{TestApp, spawn_app_on_with, spawn_app_with, status_and_json};
use crate::jwt_auth::{ClientKey, assert_invalid_client, register, token_with};
use crate::lifecycle_admin::{lock_by_failures, signs_in, strict_lockout};

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh key prefix, so tests never see each other's keys.
fn unique_prefix() -> String {
    format!("tessera-test-{}", uuid::Uuid::new_v4().simple())
}

/// A plain Redis client, to look at what the server stored.
async fn redis_conn() -> ::redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = ::redis::Client::open(url.as_str()).unwrap();
    client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("these tests need Redis at {url} (TESSERA_TEST_REDIS_URL): {e}"))
}

/// The keys under `prefix` matching `pattern` (after `prefix:`).
async fn keys(prefix: &str, pattern: &str) -> Vec<String> {
    redis_conn()
        .await
        .keys(format!("{prefix}:{pattern}"))
        .await
        .unwrap()
}

/// A server whose replay cache and counters live in Redis under `prefix`.
async fn spawn_redis_app(prefix: &str) -> TestApp {
    let prefix = prefix.to_owned();
    spawn_app_with(move |s| {
        s.redis.url = redis_url();
        s.redis.prefix = prefix;
    })
    .await
}

/// A second node on `first`'s database (and master key), same issuer and same Redis prefix.
async fn second_redis_node(first: &TestApp, prefix: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        first.data_dir.path().join("master.key"),
        dir.path().join("master.key"),
    )
    .unwrap();
    let (public_url, prefix) = (first.address.clone(), prefix.to_owned());
    spawn_app_on_with(dir, first.database_url.clone(), move |s| {
        s.server.public_url = public_url;
        s.redis.url = redis_url();
        s.redis.prefix = prefix;
    })
    .await
}

/// Rows in `table` (all tenants).
async fn rows(app: &TestApp, table: &str) -> i64 {
    let db = Database::connect(&app.database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    db.close().await.ok();
    row.try_get::<i64>("", "n").unwrap()
}

/// `GET /readyz` at `app`: status and JSON body.
async fn readyz(app: &TestApp) -> (u16, Value) {
    status_and_json(app.http.get(format!("{}/readyz", app.address))).await
}

/// A client-credentials request at `node` with a `DPoP` proof: status and error code.
async fn dpop_token(
    node: &TestApp,
    slug: &str,
    id: &str,
    secret: &str,
    proof: &str,
) -> (u16, Value) {
    let req = node
        .http
        .post(format!("{}/token", node.issuer(slug)))
        .basic_auth(id, Some(secret))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials")]);
    status_and_json(req).await
}

#[actix_web::test]
async fn a_dpop_proof_is_used_once_across_nodes_through_redis() {
    let prefix = unique_prefix();
    let a = spawn_redis_app(&prefix).await;
    a.create_tenant("rd-dpop", "ES256").await;
    let client = a.create_client("rd-dpop", &["openid"]).await;
    let b = second_redis_node(&a, &prefix).await;
    let key = DpopKey::generate();
    let url = format!("{}/token", a.issuer("rd-dpop"));

    let proof = key.proof("POST", &url, json!({}));
    let (status, body) = dpop_token(&a, "rd-dpop", &client.id, &client.secret, &proof).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    // Replayed at the same node, then at the other node: refused.
    for (node, at) in [(&a, "node A"), (&b, "node B")] {
        let (status, body) = dpop_token(node, "rd-dpop", &client.id, &client.secret, &proof).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap_or_default()),
            (400, "invalid_dpop_proof"),
            "replay at {at}: {body}"
        );
    }
    // A proof first used at node B is refused at node A.
    let proof = key.proof("POST", &url, json!({}));
    let (status, body) = dpop_token(&b, "rd-dpop", &client.id, &client.secret, &proof).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = dpop_token(&a, "rd-dpop", &client.id, &client.secret, &proof).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );

    // The proofs were remembered in Redis, with an expiry, and not in the database.
    let remembered = keys(&prefix, "replay:*").await;
    assert_eq!(remembered.len(), 2, "{remembered:?}");
    let ttl: i64 = redis_conn().await.ttl(&remembered[0]).await.unwrap();
    assert!(ttl > 0, "{ttl}");
    assert_eq!(rows(&a, "replay_cache").await, 0);
}

#[actix_web::test]
async fn a_replayed_client_assertion_is_refused_across_nodes_through_redis() {
    let prefix = unique_prefix();
    let a = spawn_redis_app(&prefix).await;
    a.create_tenant("rd-jwt", "ES256").await;
    let key = ClientKey::ec("k");
    let client = register(
        &a,
        "rd-jwt",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let b = second_redis_node(&a, &prefix).await;
    let assertion = key.assertion(&client.id, &a.issuer("rd-jwt"), json!({}));
    let resp = token_with(&a, "rd-jwt", &assertion, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    for (node, at) in [(&a, "node A"), (&b, "node B")] {
        let resp = token_with(node, "rd-jwt", &assertion, &[]).await;
        let why = assert_invalid_client(resp, at).await;
        assert!(why.contains("jti"), "{at}: {why}");
    }
    let fresh = key.assertion(&client.id, &a.issuer("rd-jwt"), json!({}));
    let resp = token_with(&b, "rd-jwt", &fresh, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(keys(&prefix, "replay:*").await.len(), 2);
    assert_eq!(rows(&a, "replay_cache").await, 0);
}

#[actix_web::test]
async fn the_lockout_counter_lives_in_redis_and_an_admin_unlock_clears_it() {
    let prefix = unique_prefix();
    let app = spawn_redis_app(&prefix).await;
    let f = sign_in_fixture(&app, "rd-lock", true).await;
    let token = app.admin_token().await;
    strict_lockout(&app, &token, "rd-lock").await;
    lock_by_failures(&app, "rd-lock", "alice", &f.password).await;

    let (status, user) = app
        .admin(&token, Method::GET, "/tenants/rd-lock/users/alice", None)
        .await;
    assert_eq!(status, 200, "{user}");
    let counter = format!(
        "{prefix}:throttle:{}:user:{}",
        user["tenant_id"].as_str().unwrap(),
        user["id"].as_str().unwrap()
    );
    let mut redis = redis_conn().await;
    assert!(
        redis.exists::<_, bool>(&counter).await.unwrap(),
        "{counter}"
    );
    // It expires by itself once the lock (900 s) is served, plus a margin.
    let ttl: i64 = redis.ttl(&counter).await.unwrap();
    assert!((800..=1000).contains(&ttl), "{ttl}");
    assert_eq!(rows(&app, "login_throttle").await, 0);

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/rd-lock/users/alice/unlock",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counter_cleared"], true, "{body}");
    assert!(!redis.exists::<_, bool>(&counter).await.unwrap());
    assert!(signs_in(&app, "rd-lock", "alice", &f.password).await);
    // A successful sign-in leaves no account counter behind.
    assert!(!redis.exists::<_, bool>(&counter).await.unwrap());
    assert_eq!(rows(&app, "login_throttle").await, 0);
}

#[actix_web::test]
async fn a_server_refuses_to_start_without_its_redis() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = tessera::Settings::load(
        None,
        &tessera::Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            database_url: Some(crate::helpers::fresh_database(dir.path()).await),
            listen: Some("127.0.0.1:0".into()),
            public_url: None,
        },
    )
    .unwrap();
    // Nothing listens on port 1.
    settings.redis.url = "redis://:hunter2@127.0.0.1:1/0".into();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let Err(e) = tessera::Application::build_on(settings, listener).await else {
        panic!("a server started without its Redis");
    };
    let message = format!("{e:#}");
    assert!(message.contains("Redis"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

/// A TCP forwarder to the test Redis that the test can cut: the server then finds Redis down.
struct RedisProxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl RedisProxy {
    async fn start() -> Self {
        let upstream = url::Url::parse(&redis_url()).unwrap();
        let upstream = format!(
            "{}:{}",
            upstream.host_str().unwrap(),
            upstream.port().unwrap_or(6379)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        let mut stop = watch.clone();
        actix_web::rt::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let (upstream, mut stop) = (upstream.clone(), watch.clone());
                        actix_web::rt::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await
                            else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = stop.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        Self { port, cut }
    }

    /// Closes every connection and stops listening.
    fn cut(&self) {
        self.cut.send_replace(true);
    }
}

#[actix_web::test]
async fn with_redis_down_requests_that_need_it_are_503_and_readyz_says_so() {
    let proxy = RedisProxy::start().await;
    let prefix = unique_prefix();
    let app = spawn_app_with(move |s| {
        s.redis.url = format!("redis://127.0.0.1:{}", proxy.port);
        s.redis.prefix = prefix;
    })
    .await;
    let f = sign_in_fixture(&app, "rd-down", true).await;
    let client = app.create_client("rd-down", &["openid"]).await;
    assert_eq!(readyz(&app).await.0, 200);

    proxy.cut();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    // A DPoP proof cannot be checked against the replay cache: 503, never accepted unchecked.
    let key = DpopKey::generate();
    let proof = key.proof(
        "POST",
        &format!("{}/token", app.issuer("rd-down")),
        json!({}),
    );
    let resp = app
        .http
        .post(format!("{}/token", app.issuer("rd-down")))
        .basic_auth(&client.id, Some(&client.secret))
        .header("DPoP", &proof)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503, "{:?}", resp.text().await);
    // A password sign-in cannot be counted: 503 (the 503 middleware adds Retry-After), never
    // let through with the right password.
    let agent = crate::agent::Agent::new();
    let step = agent
        .get(&format!("{}/account", app.issuer("rd-down")))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    let step = agent.login(page, "alice", &f.password).await;
    assert_eq!(step.page().0, 503);
    // Readiness reports Redis.
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "redis unreachable", "{body}");
}
