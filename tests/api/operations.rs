//! Running Tessera: health, readiness and metrics endpoints, security headers, two nodes sharing
//! one database, and the real binary's first start, credential printing and graceful shutdown.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    PROPAGATION, TestClient, fresh_database, published_key, second_node, spawn_app, within,
};
use crate::process::{Server, printed};

// ---------------------------------------------------------------------------------------------
// Operational endpoints

#[actix_web::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("healthz");
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn readyz_reports_ready_when_the_database_answers() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ready");
}

#[actix_web::test]
async fn metrics_count_tokens_by_grant_and_requests_by_route_pattern() {
    let app = spawn_app().await;
    app.create_tenant("metered", "ES256").await;
    let client = app.create_client("metered", &[]).await;
    app.client_credentials_token("metered", &client, None).await;

    let resp = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("text");

    let issued = text
        .lines()
        .find(|l| l.starts_with("tessera_tokens_issued_total{grant_type=\"client_credentials\"}"))
        .unwrap_or_else(|| panic!("no client_credentials token counter in:\n{text}"));
    let count: f64 = issued
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a sample value");
    assert!(count >= 1.0, "{issued}");

    let token_route = text
        .lines()
        .filter(|l| l.starts_with("tessera_http_requests_total{"))
        .find(|l| l.contains("route=\"/t/{tenant}/token\""))
        .unwrap_or_else(|| panic!("no request counter for /t/{{tenant}}/token in:\n{text}"));
    assert!(token_route.contains("status=\"200\""), "{token_route}");
    assert!(
        !text.contains("/t/metered/"),
        "a tenant slug leaked into metric labels:\n{text}"
    );
}

#[actix_web::test]
async fn unknown_path_is_a_json_404() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/no/such/endpoint", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"], "not_found");

    let resp = app
        .http
        .get(format!(
            "{}/t/nobody/.well-known/openid-configuration",
            app.address
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"], "not_found");
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    app.create_tenant("headers", "ES256").await;
    for path in [
        "/healthz".to_owned(),
        "/no/such/endpoint".to_owned(),
        "/admin/v1/tenants".to_owned(),
        "/t/headers/.well-known/openid-configuration".to_owned(),
        "/t/headers/jwks".to_owned(),
    ] {
        let resp = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("request");
        let headers = resp.headers();
        assert_eq!(
            headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            headers.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Two nodes

#[actix_web::test]
async fn tenant_created_at_one_node_serves_tokens_at_another_within_a_second() {
    let node1 = spawn_app().await;
    let node2 = second_node(&node1).await;
    assert!(
        node2.operator_id.is_empty(),
        "the second node created another operator"
    );

    // Node 2 has looked the tenant up (and remembered that it does not exist) before it is made.
    let resp = node2
        .http
        .get(format!("{}/jwks", node2.issuer("shared")))
        .send()
        .await
        .expect("jwks");
    assert_eq!(resp.status().as_u16(), 404);

    node1.create_tenant("shared", "ES256").await;
    let client = node1.create_client("shared", &[]).await;
    let created = Instant::now();
    let took = within(PROPAGATION, || async {
        node2
            .post_token(
                "shared",
                Some((&client.id, &client.secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .status()
            .as_u16()
            == 200
    })
    .await;
    assert!(
        took.is_some(),
        "node 2 issued no token within 1 s of node 1 creating the client (waited {:?})",
        created.elapsed()
    );

    let jwt = node2
        .client_credentials_token("shared", &client, None)
        .await;
    let jwks_url = format!("{}/jwks", node1.issuer("shared"));
    let key = published_key(&node1.http, &jwks_url, &jwt).await;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[node2.issuer("shared")]);
    validation.set_audience(&[node2.issuer("shared")]);
    let data = jsonwebtoken::decode::<Value>(&jwt, &key, &validation)
        .expect("node 2's token verifies with node 1's JWKS");
    assert_eq!(data.claims["client_id"], client.id.as_str());

    // A change made through node 2 reaches node 1 as well. Each test node has its own public
    // URL, hence its own issuer, so the operator gets its admin token from node 2.
    let operator = TestClient {
        id: node1.operator_id.clone(),
        secret: node1.operator_secret.clone(),
    };
    let token = node2
        .client_credentials_token("system", &operator, Some("admin"))
        .await;
    let (status, body) = node2
        .admin(
            &token,
            Method::PATCH,
            "/tenants/shared",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let took = within(PROPAGATION, || async {
        node1
            .post_token(
                "shared",
                Some((&client.id, &client.secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .status()
            .as_u16()
            == 403
    })
    .await;
    assert!(
        took.is_some(),
        "node 1 still issues tokens 1 s after node 2 disabled the tenant"
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary

#[actix_web::test]
async fn serve_prints_operator_credentials_once_and_exits_cleanly_on_sigterm() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database(data_dir.path()).await;

    // First start: the operator's credentials are printed on stdout, once, and never logged.
    let mut server = Server::start(data_dir.path(), &database_url);
    server.wait_healthy().await;
    let (status, stdout, stderr) = server.terminate(Duration::from_secs(35)).await;
    let status = status.unwrap_or_else(|| {
        panic!("tessera serve did not exit within 35 s of SIGTERM\nstderr:\n{stderr}")
    });
    assert!(status.success(), "exit status {status}\nstderr:\n{stderr}");
    assert_eq!(
        stdout.matches("client_secret").count(),
        1,
        "stdout:\n{stdout}"
    );
    let client_id = printed(&stdout, "client_id:").expect("a printed client_id");
    let secret = printed(&stdout, "client_secret:").expect("a printed client_secret");
    assert!(secret.len() >= 20, "secret {secret:?}");
    assert!(!client_id.is_empty());
    assert!(
        !stderr.contains(&secret),
        "the operator secret appears in the logs:\n{stderr}"
    );

    // Second start on the same data: nothing printed, and the printed credentials still work.
    let mut server = Server::start(data_dir.path(), &database_url);
    server.wait_healthy().await;
    let resp = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
        .post(format!("{}/t/system/token", server.address))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .expect("token request");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "printed credentials do not work"
    );
    let (status, stdout, stderr) = server.terminate(Duration::from_secs(35)).await;
    let status = status.unwrap_or_else(|| {
        panic!("tessera serve did not exit within 35 s of SIGTERM\nstderr:\n{stderr}")
    });
    assert!(status.success(), "exit status {status}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains("client_secret") && !stdout.contains(&secret),
        "credentials printed again:\n{stdout}"
    );
    assert!(!stderr.contains(&secret), "secret logged:\n{stderr}");
}

/// The janitor is a singleton job (issue: expired-row cleanup never runs twice at once): while
/// one node's sweep holds the cluster lock, another node's turn is skipped, and the next turn
/// after it ends runs. On SQLite (one process's database) every turn runs.
#[actix_web::test]
async fn janitor_sweeps_run_on_one_node_at_a_time() {
    use tessera_store::singleton::{Job, run_alone};
    use tessera_store::{PoolSettings, Store, StoreError};

    let app = spawn_app().await;
    let node_a = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .expect("node A's pool");
    let node_b = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .expect("node B's pool");
    let postgres = app.database_url.starts_with("postgres");

    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let a = {
        let node_a = node_a.clone();
        tokio::spawn(async move {
            run_alone(&node_a, Job::Janitor, async {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Ok::<_, StoreError>("a swept")
            })
            .await
        })
    };
    started_rx.await.expect("node A's sweep started");

    let b = run_alone(&node_b, Job::Janitor, async {
        Ok::<_, StoreError>("b swept")
    })
    .await
    .expect("node B's turn");
    if postgres {
        assert_eq!(b, None, "node B must skip its turn while node A sweeps");
    } else {
        assert_eq!(b, Some("b swept"), "SQLite: one process, every turn runs");
    }

    finish_tx.send(()).expect("node A still sweeping");
    let a = a.await.expect("node A's task").expect("node A's sweep");
    assert_eq!(a, Some("a swept"));
    let b = run_alone(&node_b, Job::Janitor, async {
        Ok::<_, StoreError>("b swept")
    })
    .await
    .expect("node B's next turn");
    assert_eq!(
        b,
        Some("b swept"),
        "the lock is released when node A's sweep ends"
    );

    // A failing sweep releases the lock as well.
    let failed = run_alone(&node_a, Job::Janitor, async {
        Err::<(), _>(StoreError::Corrupt("test".into()))
    })
    .await;
    assert!(failed.is_err());
    let again = run_alone(&node_b, Job::Janitor, async { Ok::<_, StoreError>(1) })
        .await
        .expect("after a failed sweep");
    assert_eq!(again, Some(1));
}
