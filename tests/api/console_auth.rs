//! The admin API for admin console users (issue 8): users holding an admin role sign in through
//! the built-in public client `tessera-console` (authorization code + PKCE S256) and call
//! `/admin/v1` with that access token; auditors only read; client secrets rotate.

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{Agent, Step, param, s256};
use crate::dpop::DpopKey;
use crate::helpers::{TestApp, build_app_on_with, fresh_database, spawn_app, status_and_json};

const CONSOLE: &str = "tessera-console";
const PASSWORD: &str = "correct horse battery staple";

/// The console's redirect URI in tenant `slug`.
fn callback(app: &TestApp, slug: &str) -> String {
    format!("{}/t/{slug}/console/callback", app.address)
}

/// Makes password hashing in `slug` cheap, so sign-ins stay fast.
async fn cheap_hashing(app: &TestApp, token: &str, slug: &str) {
    let (status, body) = app
        .admin(
            token,
            Method::PUT,
            &format!("/tenants/{slug}/settings"),
            Some(json!({"password": {"argon2_memory_kib": 8, "argon2_iterations": 1}})),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
}

/// Creates tenant `slug` with cheap hashing.
async fn tenant(app: &TestApp, slug: &str) {
    app.create_tenant(slug, "ES256").await;
    cheap_hashing(app, &app.admin_token().await, slug).await;
}

/// Creates `username` in `slug` with `role` (JSON: a role or null); returns the response body.
async fn user(app: &TestApp, token: &str, slug: &str, username: &str, role: Value) -> Value {
    let (status, body) = app
        .admin(
            token,
            Method::POST,
            &format!("/tenants/{slug}/users"),
            Some(json!({"username": username, "password": PASSWORD, "role": role})),
        )
        .await;
    assert_eq!(status, 201, "create user: {body}");
    body
}

/// The authorization URL of the first-party public client `client_id` in `slug` for
/// `verifier` (PKCE S256), with `redirect_uri`.
fn authorize_url(
    app: &TestApp,
    slug: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: &str,
) -> String {
    let challenge = s256(verifier);
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    format!(
        "{}/authorize?{}",
        app.issuer(slug),
        serde_urlencoded::to_string(params).unwrap()
    )
}

/// Signs `username` in to the first-party public client `client_id` of `slug` through the login
/// form (no consent page) and exchanges the code; returns the token response.
async fn sign_in_at(
    app: &TestApp,
    slug: &str,
    client_id: &str,
    redirect_uri: &str,
    username: &str,
    password: &str,
) -> Value {
    sign_in_with_proof(app, slug, client_id, redirect_uri, username, password, None).await
}

/// [`sign_in_at`], the code exchange carrying a DPoP proof of `dpop` when given (RFC 9449 §5).
async fn sign_in_with_proof(
    app: &TestApp,
    slug: &str,
    client_id: &str,
    redirect_uri: &str,
    username: &str,
    password: &str,
    dpop: Option<&DpopKey>,
) -> Value {
    let agent = Agent::new();
    let verifier = "console-verifier-0123456789-0123456789-0123456789";
    let step = agent
        .get(&authorize_url(app, slug, client_id, redirect_uri, verifier))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let step = agent.login(page, username, password).await;
    let location = match &step {
        Step::Redirect(l) => l.clone(),
        Step::Page(status, body) => panic!("no redirect after sign-in ({status}): {body}"),
    };
    assert!(location.starts_with(redirect_uri), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    let code = param(&location, "code").expect("a code");
    let token_url = format!("{}/t/{slug}/token", app.address);
    let mut req = app.http.post(&token_url).form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", &code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]);
    if let Some(key) = dpop {
        req = req.header("DPoP", key.proof("POST", &token_url, json!({})));
    }
    let resp = req.send().await.expect("token request");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "token: {body}");
    body
}

/// A console access token of `username` in `slug`.
async fn console_token(app: &TestApp, slug: &str, username: &str) -> String {
    let body = sign_in_at(app, slug, CONSOLE, &callback(app, slug), username, PASSWORD).await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// The `field` of every item of the admin API listing at `path`, read with `token`.
async fn listed(app: &TestApp, token: &str, path: &str, field: &str) -> Vec<String> {
    app.admin_items(token, path)
        .await
        .iter()
        .map(|item| match item[field].as_str() {
            Some(value) => value.to_owned(),
            None => panic!("{path}: no {field} in {item}"),
        })
        .collect()
}

/// Lists the users of `acme` with `token`: status and body.
async fn acme_users(app: &TestApp, token: &str) -> (u16, Value) {
    app.admin(token, Method::GET, "/tenants/acme/users", None)
        .await
}

/// Sets the role of `username` of `acme` (JSON: a role or null) as `op`; returns the user.
async fn set_role(app: &TestApp, op: &str, username: &str, role: Value) -> Value {
    let (status, body) = app
        .admin(
            op,
            Method::PATCH,
            &format!("/tenants/acme/users/{username}"),
            Some(json!({ "role": role })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Creates tenant `slug` with `token`: status and body.
async fn create_tenant_as(app: &TestApp, token: &str, slug: &str) -> (u16, Value) {
    let body = json!({"slug": slug, "alg": "ES256"});
    app.admin(token, Method::POST, "/tenants", Some(body)).await
}

/// `path` of a route with its parameters filled in for tenant `slug`.
fn concrete(path: &str, slug: &str) -> String {
    path.replace("{slug}", slug)
        .replace("{client_id}", "some-client")
        .replace("{username}", "alice")
        .replace("{resource}", "api")
        .replace("{id}", "0190d0c4-7a3e-7000-8000-000000000001")
        .replace("{name}", "login")
        .replace("{version}", "1")
}

/// Sends one route (`{}` as the body of a writing method) with `token`; returns the status.
async fn call(app: &TestApp, token: &str, method: &str, path: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
    app.admin(token, method, path, body).await
}

/// Every route of tenant `other` answers 403 to `token`, a token of another tenant's admin;
/// `/tenants` creation is operator-only (403) and its listing shows only the caller's tenant.
async fn assert_locked_out_of(app: &TestApp, token: &str, other: &str) {
    let mut checked = 0;
    for (method, path) in tessera_admin::routes() {
        if *path == "/openapi.json" {
            continue;
        }
        if *path == "/tenants" && *method == "get" {
            let slugs = listed(app, token, path, "slug").await;
            assert!(!slugs.iter().any(|s| s == other), "{slugs:?}");
            continue;
        }
        let concrete = concrete(path, other);
        let (status, body) = call(app, token, method, &concrete).await;
        assert_eq!(status, 403, "{method} {concrete}: {body}");
        assert_eq!(
            body["error"], "access_denied",
            "{method} {concrete}: {body}"
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} routes checked");
}

/// The number of routes of tenant `slug` that answer a read-only `token` 403 for writing and
/// neither 401 nor 403 (nor 5xx) for reading.
async fn assert_read_only_in(app: &TestApp, token: &str, slug: &str) {
    let (mut reads, mut writes) = (0, 0);
    for (method, path) in tessera_admin::routes() {
        if *path == "/openapi.json" || *path == "/tenants" {
            continue;
        }
        let concrete = concrete(path, slug);
        let (status, body) = call(app, token, method, &concrete).await;
        if *method == "get" {
            assert!(
                ![401, 403].contains(&status) && status < 500,
                "GET {concrete}: {status} {body}"
            );
            reads += 1;
        } else {
            assert_eq!(status, 403, "{method} {concrete}: {body}");
            assert_eq!(body["error"], "access_denied");
            writes += 1;
        }
    }
    assert!(reads > 10 && writes > 20, "{reads} reads, {writes} writes");
}

#[actix_web::test]
async fn tenant_admin_user_reaches_its_tenant_through_the_console_and_no_other() {
    let app = spawn_app().await;
    tenant(&app, "acme").await;
    app.create_tenant("globex", "ES256").await;
    let op = app.admin_token().await;
    let created = user(&app, &op, "acme", "bob", json!("tenant_admin")).await;
    assert_eq!(created["role"], "tenant_admin");

    let token = console_token(&app, "acme", "bob").await;
    let users = app.admin_items(&token, "/tenants/acme/users").await;
    let bob = users.iter().find(|u| u["username"] == "bob").unwrap();
    assert_eq!(bob["role"], "tenant_admin");
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users",
            Some(json!({"username": "carol", "role": "auditor"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], "auditor");

    // The audit log names the console user, and the role grant is its own event.
    let path = "/tenants/acme/audit-events?action=user.role_changed";
    let actors = listed(&app, &op, path, "actor").await;
    assert!(actors.iter().any(|a| a == "user:bob@acme"), "{actors:?}");

    assert_locked_out_of(&app, &token, "globex").await;
    // So is the system tenant.
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/system/users", None)
        .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn tenant_admin_client_is_locked_out_of_every_route_of_another_tenant() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let op = app.admin_token().await;
    let token = app.tenant_admin_token(&op, "acme").await;
    assert_locked_out_of(&app, &token, "globex").await;
}

#[actix_web::test]
async fn auditor_users_read_and_never_write() {
    let app = spawn_app().await;
    tenant(&app, "acme").await;
    let op = app.admin_token().await;
    cheap_hashing(&app, &op, "system").await;
    user(&app, &op, "acme", "alice", json!(null)).await;
    user(&app, &op, "acme", "audrey", json!("auditor")).await;
    let token = console_token(&app, "acme", "audrey").await;
    assert_read_only_in(&app, &token, "acme").await;

    // An auditor of the system tenant reads every tenant, and writes none.
    user(&app, &op, "system", "sysaudit", json!("auditor")).await;
    let token = console_token(&app, "system", "sysaudit").await;
    let (status, body) = app.admin(&token, Method::GET, "/tenants", None).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only_in(&app, &token, "acme").await;
    let (status, _) = create_tenant_as(&app, &token, "nope").await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn auditor_clients_read_and_never_write() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let op = app.admin_token().await;
    for slug in ["acme", "system"] {
        let fields = json!({"name": "auditor", "role": "auditor"});
        let (body, auditor) = app.admin_client(&op, slug, fields).await;
        assert_eq!(body["role"], "auditor");
        assert_read_only_in(&app, &auditor, "acme").await;
    }
    // Only auditors may be created on the system tenant.
    let (status, body) = app
        .admin(
            &op,
            Method::POST,
            "/tenants/system/admins",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn operator_user_signs_in_to_the_system_console_and_creates_a_tenant_and_its_admin() {
    let app = spawn_app().await;
    let op = app.admin_token().await;
    cheap_hashing(&app, &op, "system").await;
    user(&app, &op, "system", "olivia", json!("operator")).await;
    // The operators' console callback is registered for the system tenant.
    let body = sign_in_at(
        &app,
        "system",
        CONSOLE,
        &format!("{}/console/callback", app.address),
        "olivia",
        PASSWORD,
    )
    .await;
    let token = body["access_token"].as_str().unwrap();
    let (status, body) = create_tenant_as(&app, token, "initech").await;
    assert_eq!(status, 201, "{body}");
    cheap_hashing(&app, token, "initech").await;
    user(&app, token, "initech", "peter", json!("tenant_admin")).await;
    let peter = console_token(&app, "initech", "peter").await;
    let (status, body) = app
        .admin(&peter, Method::GET, "/tenants/initech/clients", None)
        .await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn roles_are_refused_where_they_do_not_belong() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let op = app.admin_token().await;
    for (slug, role) in [("acme", "operator"), ("system", "tenant_admin")] {
        let (status, body) = app
            .admin(
                &op,
                Method::POST,
                &format!("/tenants/{slug}/users"),
                Some(json!({"username": "x", "role": role})),
            )
            .await;
        assert_eq!(status, 400, "{slug} {role}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    user(&app, &op, "acme", "y", json!(null)).await;
    let (status, body) = app
        .admin(
            &op,
            Method::PATCH,
            "/tenants/acme/users/y",
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .admin(&op, Method::GET, "/tenants/acme/users/y", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["role"], Value::Null);
}

#[actix_web::test]
async fn console_tokens_stop_working_with_the_role_or_the_user() {
    let app = spawn_app().await;
    tenant(&app, "acme").await;
    let op = app.admin_token().await;
    user(&app, &op, "acme", "bob", json!("tenant_admin")).await;
    user(&app, &op, "acme", "nobody", json!(null)).await;

    // A user without a role: 403.
    let token = console_token(&app, "acme", "nobody").await;
    let (status, body) = acme_users(&app, &token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");

    // A tampered token: 401.
    let token = console_token(&app, "acme", "bob").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let flipped = if parts[1].ends_with('A') { 'B' } else { 'A' };
    parts[1].pop();
    parts[1].push(flipped);
    let (status, body) = acme_users(&app, &parts.join(".")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");

    // The role removed: refused at once.
    assert_eq!(acme_users(&app, &token).await.0, 200);
    let bob = set_role(&app, &op, "bob", Value::Null).await;
    assert_eq!(bob["role"], Value::Null);
    assert_eq!(acme_users(&app, &token).await.0, 403);

    // Restored, then the user disabled: 401.
    set_role(&app, &op, "bob", json!("tenant_admin")).await;
    assert_eq!(acme_users(&app, &token).await.0, 200);
    let (status, _) = app
        .admin(&op, Method::POST, "/tenants/acme/users/bob/disable", None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = acme_users(&app, &token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");

    // Filtering by role finds the admins.
    let path = "/tenants/acme/users?role=tenant_admin";
    assert_eq!(listed(&app, &op, path, "username").await, ["bob"]);
}

#[actix_web::test]
async fn tokens_of_other_clients_are_not_console_tokens() {
    let app = spawn_app().await;
    tenant(&app, "acme").await;
    let op = app.admin_token().await;
    user(&app, &op, "acme", "bob", json!("tenant_admin")).await;
    // The same admin user, signed in through another first-party client of the tenant.
    let redirect_uri = "http://127.0.0.1:9/cb";
    let (status, body) = app
        .admin(
            &op,
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({
                "name": "Other app",
                "public": true,
                "grant_types": ["authorization_code"],
                "redirect_uris": [redirect_uri],
                "scopes": ["openid", "profile"],
                "first_party": true,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let other = body["client_id"].as_str().unwrap().to_owned();
    let body = sign_in_at(&app, "acme", &other, redirect_uri, "bob", PASSWORD).await;
    let token = body["access_token"].as_str().unwrap();
    let (status, body) = acme_users(&app, token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");

    // A client-credentials token of a client of the tenant: the same.
    let client = app.create_client("acme", &[]).await;
    let token = app.client_credentials_token("acme", &client, None).await;
    assert_eq!(acme_users(&app, &token).await.0, 401);

    // The console's ID token is no access token.
    let body = sign_in_at(
        &app,
        "acme",
        CONSOLE,
        &callback(&app, "acme"),
        "bob",
        PASSWORD,
    )
    .await;
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(acme_users(&app, id_token).await.0, 401);

    // A console token bound to a DPoP key (cnf.jkt) is no bearer token (RFC 9449 §7.1).
    let key = DpopKey::generate();
    let body = sign_in_with_proof(
        &app,
        "acme",
        CONSOLE,
        &callback(&app, "acme"),
        "bob",
        PASSWORD,
        Some(&key),
    )
    .await;
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let (status, body) = acme_users(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
    // The same user's unbound console token works: the refusals above are about the tokens.
    let token = console_token(&app, "acme", "bob").await;
    assert_eq!(acme_users(&app, &token).await.0, 200);
}

#[actix_web::test]
async fn the_console_client_is_built_in_and_reserved() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let op = app.admin_token().await;
    // Each refusal says why: the console client is built in, and a client id is never chosen
    // by the caller (it is no field of a registration).
    let console = format!("/tenants/acme/clients/{CONSOLE}");
    for (method, path, body, why) in [
        (
            Method::PATCH,
            console.clone(),
            Some(json!({"name": "mine"})),
            "built-in",
        ),
        (Method::DELETE, console.clone(), None, "built-in"),
        (
            Method::POST,
            "/tenants/acme/clients".to_owned(),
            Some(json!({"name": "x", "client_id": CONSOLE})),
            "unknown field `client_id`",
        ),
        (Method::POST, format!("{console}/secret"), None, "built-in"),
    ] {
        let (status, body) = app.admin(&op, method.clone(), &path, body).await;
        assert_eq!(status, 400, "{method} {path}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(why), "{method} {path}: {body}");
    }
    let clients = listed(&app, &op, "/tenants/acme/clients", "client_id").await;
    assert!(!clients.iter().any(|c| c == CONSOLE), "{clients:?}");

    // Any other redirect URI is refused before any redirect (RFC 6749 §4.1.2.1).
    for uri in [
        "https://evil.example/console/callback".to_owned(),
        format!("{}/t/acme/console/callback/x", app.address),
        format!("{}/console/callback", app.address),
    ] {
        let resp = Agent::new()
            .http
            .get(authorize_url(&app, "acme", CONSOLE, &uri, &"v".repeat(43)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{uri}");
        assert!(resp.headers().get("location").is_none(), "{uri}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{ct}");
    }
}

#[actix_web::test]
async fn rotating_a_client_secret_retires_the_old_one_at_once() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let op = app.admin_token().await;
    let client = app.create_client("acme", &[]).await;
    let path = format!("/tenants/acme/clients/{}/secret", client.id);
    let resp = app
        .admin_request(&op, Method::POST, &path, None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_id"], client.id.as_str());
    let new_secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, client.secret);

    let resp = app
        .post_token(
            "acme",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_client");
    let resp = app
        .post_token(
            "acme",
            Some((&client.id, &new_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);

    // Audited, refused to another tenant's admin, and meaningless for a public client.
    let rotations = app
        .admin_items(
            &op,
            "/tenants/acme/audit-events?action=client.secret_rotated",
        )
        .await;
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    let foreign = app.tenant_admin_token(&op, "globex").await;
    let (status, _) = status_and_json(app.admin_request(&foreign, Method::POST, &path, None)).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .admin(
            &op,
            Method::POST,
            "/tenants/acme/clients",
            Some(
                json!({"name": "spa", "public": true, "redirect_uris": ["http://127.0.0.1:9/cb"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .admin(
            &op,
            Method::POST,
            &format!(
                "/tenants/acme/clients/{}/secret",
                body["client_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn first_start_creates_an_operator_user_for_the_console() {
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(data_dir.path()).await;
    let (server, app) = build_app_on_with(data_dir, database_url, |_| {}).await;
    assert!(
        !app.operator_id.is_empty(),
        "first start creates the operator client"
    );
    let console = server.create_console_admin().await.unwrap();
    let address = app.address.clone();
    assert_eq!(console.console_url, format!("{address}/console"));
    assert_eq!(console.username, "admin");
    actix_web::rt::spawn(server.run_until_stopped());

    let password = secrecy::ExposeSecret::expose_secret(&console.password).to_owned();
    let body = sign_in_at(
        &app,
        "system",
        CONSOLE,
        &format!("{address}/console/callback"),
        "admin",
        &password,
    )
    .await;
    let token = body["access_token"].as_str().unwrap();
    let (status, body) = create_tenant_as(&app, token, "first").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .admin(
            &app.admin_token().await,
            Method::GET,
            "/tenants/system/users/admin",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "operator");
}
