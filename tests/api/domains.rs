//! Custom domains (issue 7): a tenant served on its own host, chosen by the `Host` header among
//! verified domains. A pending domain is not routed; only an operator verifies; the verified
//! domain is the tenant's issuer everywhere (discovery, tokens, JWKS, pages); unknown hosts get
//! the JSON 404 while the operational endpoints answer on any host; every node routes a change
//! within a second. Requests reach the domain through `reqwest`'s resolver override, so `Host`
//! carries the name and the test server's port.

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{s256, sign_in_fixture};
use crate::helpers::{
    PROPAGATION, TestApp, published_key, second_node, spawn_app, spawn_app_with, within,
};

const DOMAIN: &str = "login.acme.test";
const ISSUER: &str = "https://login.acme.test";

/// An HTTP client that reaches `app` under each of `hosts`; URLs then are
/// `http://{host}:{port}/…`.
fn client_for(app: &TestApp, hosts: &[&str]) -> reqwest::Client {
    let addr: std::net::SocketAddr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("the test address is ip:port");
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(2));
    for host in hosts {
        builder = builder.resolve(host, addr);
    }
    builder.build().expect("http client")
}

/// `http://{host}:{port}{path}` for `app`.
fn url(app: &TestApp, host: &str, path: &str) -> String {
    let port = app.address.rsplit(':').next().expect("a port");
    format!("http://{host}:{port}{path}")
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = http.get(url).send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts that `DOMAIN` does not route `path` (`what` names the failure) while tenant `acme`
/// still answers it on the path form, as its own issuer.
async fn assert_not_routed(app: &TestApp, http: &reqwest::Client, path: &str, what: &str) {
    let (status, body) = get(http, &url(app, DOMAIN, path)).await;
    assert_not_found(status, &body, what);
    let (_, doc) = get(&app.http, &format!("{}{path}", app.issuer("acme"))).await;
    assert_eq!(doc["issuer"], app.issuer("acme"));
}

/// Sets and verifies `domain` for `tenant` as the operator.
async fn set_verified(app: &TestApp, operator: &str, tenant: &str, domain: &str) {
    let path = format!("/tenants/{tenant}/domain");
    let (status, body) = app
        .admin(
            operator,
            Method::PUT,
            &path,
            Some(json!({"domain": domain})),
        )
        .await;
    assert_eq!(status, 200, "set domain: {body}");
    let (status, body) = app
        .admin(operator, Method::POST, &format!("{path}/verify"), None)
        .await;
    assert_eq!(status, 200, "verify domain: {body}");
}

fn assert_not_found(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 404, "{what}: {body}");
    assert_eq!(body["error"], "not_found", "{what}: {body}");
}

#[actix_web::test]
async fn verified_domain_serves_the_tenant_as_its_own_issuer_until_removed() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;
    app.create_tenant("acme", "ES256").await;
    let client = app.create_client("acme", &[]).await;
    let admin = app.tenant_admin_token(&operator, "acme").await;
    let http = client_for(&app, &[DOMAIN]);
    let discovery = "/.well-known/openid-configuration";

    // A tenant admin sets the domain; it stays pending, unrouted, and the issuer unchanged.
    let (status, body) = app
        .admin(
            &admin,
            Method::PUT,
            "/tenants/acme/domain",
            Some(json!({"domain": "Login.Acme.TEST"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["domain"], DOMAIN, "the name is lowercased");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["verification"]["type"], "dns-txt");
    assert_eq!(
        body["verification"]["name"],
        "_tessera-challenge.login.acme.test"
    );
    let value = body["verification"]["value"].as_str().expect("a value");
    assert!(
        value.starts_with("tessera-domain-verification=")
            && value.len() > "tessera-domain-verification=".len() + 20,
        "{value}"
    );
    assert!(body.get("issuer").is_none(), "{body}");
    assert_eq!(body["verified_at"], Value::Null);
    let (status, shown) = app
        .admin(&admin, Method::GET, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["verification"]["value"], value);

    assert_not_routed(&app, &http, discovery, "a pending domain is routed").await;

    // Only an operator verifies.
    let (status, body) = app
        .admin(&admin, Method::POST, "/tenants/acme/domain/verify", None)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    let (status, body) = get(&http, &url(&app, DOMAIN, discovery)).await;
    assert_not_found(status, &body, "a domain refused verification is routed");
    let (status, body) = app
        .admin(&operator, Method::POST, "/tenants/acme/domain/verify", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "verified");
    assert_eq!(body["issuer"], ISSUER);
    assert!(body["verified_at"].as_i64().is_some());

    // Discovery on the domain names the domain as issuer, with every endpoint under it.
    let (status, doc) = get(&http, &url(&app, DOMAIN, discovery)).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["issuer"], ISSUER);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    ] {
        let at = doc[endpoint].as_str().expect(endpoint);
        assert!(
            at.starts_with(&format!("{ISSUER}/")) && !at.contains("/t/"),
            "{endpoint} = {at}"
        );
    }
    // RFC 8414 §3: an issuer without a path has its metadata right at the well-known path.
    let (status, meta) = get(
        &http,
        &url(&app, DOMAIN, "/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["issuer"], ISSUER);
    // The path form on the deployment's host keeps working and names the same issuer.
    let (status, doc) = get(&app.http, &format!("{}{discovery}", app.issuer("acme"))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], ISSUER);

    // A token fetched through the domain carries its issuer and verifies with its JWKS.
    let resp = http
        .post(url(&app, DOMAIN, "/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let jwt = body["access_token"].as_str().expect("access_token");
    let key = published_key(&http, &url(&app, DOMAIN, "/jwks"), jwt).await;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .expect("the token verifies with the domain's JWKS")
        .claims;
    assert_eq!(claims["iss"], ISSUER);

    // The domain serves only the tenant's own endpoints.
    for path in [
        "/t/acme/.well-known/openid-configuration",
        "/t/acme/jwks",
        "/admin/v1/tenants",
        "/admin/v1/openapi.json",
        "/",
    ] {
        let (status, body) = get(&http, &url(&app, DOMAIN, path)).await;
        assert_not_found(status, &body, path);
    }

    // Both actions were audited.
    let (status, events) = app
        .admin(&operator, Method::GET, "/tenants/acme/audit-events", None)
        .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"domain.set") && actions.contains(&"domain.verified"),
        "{actions:?}"
    );

    // Removing the domain: it answers 404 again and the issuer reverts.
    let (status, _) = app
        .admin(&admin, Method::DELETE, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 204);
    assert_not_routed(&app, &http, discovery, "a removed domain is routed").await;
    let (status, _) = app
        .admin(&admin, Method::GET, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(&admin, Method::DELETE, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn login_page_on_the_domain_renders_and_posts_to_the_domain() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;
    let fixture = sign_in_fixture(&app, "acme", true).await;
    set_verified(&app, &operator, "acme", DOMAIN).await;
    let http = client_for(&app, &[DOMAIN]);

    let challenge = s256("0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG");
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", fixture.client_id.as_str()),
        ("redirect_uri", fixture.redirect_uri.as_str()),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .expect("query");
    let resp = http
        .get(url(&app, DOMAIN, &format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = resp.text().await.expect("html");
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form action");
    assert_eq!(action, format!("{ISSUER}/login"));
    assert!(!action.contains("/t/"), "{action}");
}

#[actix_web::test]
async fn unknown_hosts_get_the_json_404_but_health_probes_answer_on_any_host() {
    let app = spawn_app().await;
    let http = client_for(&app, &["unknown.example", "localhost"]);

    let (status, body) = get(&http, &url(&app, "unknown.example", "/t/system/jwks")).await;
    assert_not_found(status, &body, "an unknown host");
    // The same body as an unknown path on the deployment's own host.
    let (_, unknown_path) = get(&app.http, &format!("{}/no/such/path", app.address)).await;
    assert_eq!(body, unknown_path);
    for probe in ["/healthz", "/readyz", "/metrics"] {
        let resp = http
            .get(url(&app, "unknown.example", probe))
            .send()
            .await
            .expect("probe");
        assert_eq!(resp.status().as_u16(), 200, "{probe} on an unknown host");
    }
    // `localhost` is one of the deployment's own names by default.
    let (status, _) = get(&http, &url(&app, "localhost", "/t/system/jwks")).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn domains_are_validated_unique_and_confined_to_their_tenants_admins() {
    let app = spawn_app_with(|s| s.server.hosts.push("tessera.example.test".into())).await;
    let operator = app.admin_token().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("rival", "ES256").await;
    let rival_admin = app.tenant_admin_token(&operator, "rival").await;

    let long = format!("{}.example", vec!["a".repeat(60); 5].join("."));
    assert!(long.len() > 253);
    for bad in [
        "127.0.0.1",
        "[::1]",
        "login.acme.test:8443",
        "a..b",
        "127.0.0.1.nip",
        "-bad.example",
        "localhost",
        "https://login.acme.test",
        long.as_str(),
    ] {
        let (status, body) = app
            .admin(
                &operator,
                Method::PUT,
                "/tenants/acme/domain",
                Some(json!({"domain": bad})),
            )
            .await;
        // `127.0.0.1.nip` is a valid name; everything else is refused.
        if bad == "127.0.0.1.nip" {
            assert_eq!(status, 200, "{bad}: {body}");
            continue;
        }
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
    // The deployment's own host names (public URL host and server.hosts) cannot be claimed.
    let (status, body) = app
        .admin(
            &operator,
            Method::PUT,
            "/tenants/acme/domain",
            Some(json!({"domain": "Tessera.Example.Test"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("this deployment")),
        "{body}"
    );
    // The system tenant keeps the deployment's host.
    let (status, _) = app
        .admin(
            &operator,
            Method::PUT,
            "/tenants/system/domain",
            Some(json!({"domain": "ops.example.com"})),
        )
        .await;
    assert_eq!(status, 400);

    // One tenant per domain.
    let (status, _) = app
        .admin(
            &operator,
            Method::PUT,
            "/tenants/acme/domain",
            Some(json!({"domain": DOMAIN})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .admin(
            &rival_admin,
            Method::PUT,
            "/tenants/rival/domain",
            Some(json!({"domain": "LOGIN.acme.test"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");

    // A foreign tenant's admin reaches none of acme's domain routes.
    for (method, path) in [
        (Method::GET, "/tenants/acme/domain"),
        (Method::PUT, "/tenants/acme/domain"),
        (Method::DELETE, "/tenants/acme/domain"),
        (Method::POST, "/tenants/acme/domain/verify"),
    ] {
        let body = (method == Method::PUT).then(|| json!({"domain": "x.rival.test"}));
        let (status, resp) = app.admin(&rival_admin, method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {resp}");
    }
    let (status, shown) = app
        .admin(&operator, Method::GET, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["domain"], DOMAIN);
    assert_eq!(shown["status"], "pending");

    // Deleting the tenant frees its domain.
    let (status, _) = app
        .admin(&operator, Method::DELETE, "/tenants/acme", None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .admin(
            &rival_admin,
            Method::PUT,
            "/tenants/rival/domain",
            Some(json!({"domain": DOMAIN})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn a_domain_verified_at_one_node_is_routed_by_another_within_a_second() {
    let node1 = spawn_app().await;
    let node2 = second_node(&node1).await;
    let operator = node1.admin_token().await;
    node1.create_tenant("acme", "ES256").await;
    let http2 = client_for(&node2, &[DOMAIN]);
    let discovery = url(&node2, DOMAIN, "/.well-known/openid-configuration");

    // Node 2 has remembered that no tenant is served on the domain before it is verified.
    let (status, _) = get(&http2, &discovery).await;
    assert_eq!(status, 404);
    let (status, _) = node1
        .admin(
            &operator,
            Method::PUT,
            "/tenants/acme/domain",
            Some(json!({"domain": DOMAIN})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = get(&http2, &discovery).await;
    assert_eq!(status, 404);

    let (status, _) = node1
        .admin(&operator, Method::POST, "/tenants/acme/domain/verify", None)
        .await;
    assert_eq!(status, 200);
    let took = within(PROPAGATION, || async {
        let (status, doc) = get(&http2, &discovery).await;
        status == 200 && doc["issuer"] == ISSUER
    })
    .await;
    assert!(took.is_some(), "node 2 did not route the domain within 1 s");

    let (status, _) = node1
        .admin(&operator, Method::DELETE, "/tenants/acme/domain", None)
        .await;
    assert_eq!(status, 204);
    let took = within(PROPAGATION, || async {
        get(&http2, &discovery).await.0 == 404
    })
    .await;
    assert!(
        took.is_some(),
        "node 2 still routed the removed domain after 1 s"
    );
    let (_, doc) = get(
        &node2.http,
        &format!("{}/.well-known/openid-configuration", node2.issuer("acme")),
    )
    .await;
    assert_eq!(doc["issuer"], node2.issuer("acme"));
}

#[actix_web::test]
async fn the_command_line_sets_verifies_shows_and_removes_a_domain_as_operator() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let http = client_for(&app, &[DOMAIN]);
    let discovery = url(&app, DOMAIN, "/.well-known/openid-configuration");

    let (ok, out) = app.cli(&["domain", "set", "--tenant", "acme", "LOGIN.acme.test"]);
    assert!(ok, "{out}");
    assert_eq!(out["domain"], DOMAIN);
    assert_eq!(out["status"], "pending");
    let (ok, out) = app.cli(&["domain", "set", "--tenant", "acme", "10.0.0.1"]);
    assert!(!ok);
    assert_eq!(out["error"], "invalid_request", "{out}");

    let (ok, out) = app.cli(&["domain", "verify", "--tenant", "acme"]);
    assert!(ok, "{out}");
    assert_eq!(out["issuer"], ISSUER);
    // The running server learns of it through the change feed.
    let took = within(PROPAGATION, || async {
        let (status, doc) = get(&http, &discovery).await;
        status == 200 && doc["issuer"] == ISSUER
    })
    .await;
    assert!(
        took.is_some(),
        "the server did not route the domain within 1 s"
    );
    let (ok, out) = app.cli(&["domain", "show", "--tenant", "acme"]);
    assert!(ok, "{out}");
    assert_eq!(out["status"], "verified");
    let (ok, out) = app.cli(&["tenant", "show", "acme"]);
    assert!(ok, "{out}");
    assert_eq!(out["issuer"], ISSUER);

    let (ok, out) = app.cli(&["domain", "remove", "--tenant", "acme"]);
    assert!(ok, "{out}");
    assert_eq!(out["removed"], DOMAIN);
    let took = within(PROPAGATION, || async {
        get(&http, &discovery).await.0 == 404
    })
    .await;
    assert!(
        took.is_some(),
        "the server still routed the removed domain after 1 s"
    );
    let (ok, out) = app.cli(&["domain", "show", "--tenant", "acme"]);
    assert!(!ok);
    assert_eq!(out["error"], "not_found", "{out}");
}
