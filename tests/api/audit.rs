//! The audit log: every security event and admin action lands in the tenant's log with its
//! actor, subject, origin and details (never a secret); the admin API filters, pages by an
//! opaque cursor and exports JSON lines; the janitor applies each tenant's retention.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::{Clock, TenantId};
use tessera_store::{AuditEventRecord, Store};

use crate::agent::{Agent, param, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app, status_and_json};

const UA: &str = "audit-test/1.0";

/// An admin API request with a recognisable user agent.
async fn admin_ua(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = app.admin_request(token, method, path, body);
    status_and_json(req.header(reqwest::header::USER_AGENT, UA)).await
}

/// Every event of the tenant matching `query`, all pages followed.
async fn all_events(app: &TestApp, token: &str, slug: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/tenants/{slug}/audit-events?limit=500&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = app.admin(token, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

fn find<'a>(events: &'a [Value], action: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in {:?}", actions(events)))
}

async fn store(app: &TestApp) -> Store {
    Store::connect(
        &app.database_url,
        &tessera_store::PoolSettings {
            max_connections: 2,
            acquire_timeout: std::time::Duration::from_secs(5),
        },
    )
    .await
    .unwrap()
}

async fn tenant_id(app: &TestApp, token: &str, slug: &str) -> TenantId {
    let (status, body) = app
        .admin(token, Method::GET, &format!("/tenants/{slug}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["id"].clone()).unwrap()
}

#[actix_web::test]
async fn sign_in_success_failure_lockout_and_consent_are_recorded() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "aud-signin", false).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/aud-signin/settings",
            Some(json!({"lockout": {"free_attempts": 3, "lock_after": 3, "lock_secs": 600}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A successful sign-in and a consent.
    let agent = Agent::new();
    let verifier = "a".repeat(50);
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let step = agent.login(page, &f.username, &f.password).await;
    let (_, page) = step.page();
    let step = agent.consent(page, &["profile"], true).await;
    assert!(param(step.location(), "code").is_some());

    // An unknown user, then wrong passwords until the account locks.
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let (status, page) = match agent.login(page, "mallory", "mallory-secret-1").await {
        crate::agent::Step::Page(s, p) => (s, p),
        other => panic!("{other:?}"),
    };
    assert_eq!(status, 401);
    let mut page = page;
    let mut last = 0;
    for i in 0..3 {
        match agent
            .login(&page, &f.username, &format!("wrong-password-{i}"))
            .await
        {
            crate::agent::Step::Page(s, p) => {
                last = s;
                page = p;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(last, 429, "the third failure locks");

    let events = all_events(&app, &token, "aud-signin", "").await;
    let (_, alice) = app
        .admin(&token, Method::GET, "/tenants/aud-signin/users/alice", None)
        .await;
    let alice_id = alice["id"].as_str().unwrap();

    let signed_in = find(&events, "user.signed_in");
    assert_eq!(signed_in["actor"], format!("user:{alice_id}"));
    assert_eq!(signed_in["user_id"], alice_id);
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert_eq!(signed_in["details"]["amr"], json!(["pwd"]));

    let consent = find(&events, "consent.granted");
    assert_eq!(consent["actor"], format!("user:{alice_id}"));
    assert_eq!(consent["user_id"], alice_id);
    assert_eq!(consent["client_id"], f.client_id);
    assert_eq!(consent["details"]["scopes"], "openid profile");

    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "user.sign_in_failed")
        .collect();
    let unknown = failures
        .iter()
        .find(|e| e["details"]["username"] == "mallory")
        .expect("the unknown user's failure");
    assert_eq!(unknown["user_id"], Value::Null);
    assert_eq!(unknown["actor"], "anonymous");
    assert_eq!(unknown["client_id"], f.client_id);
    assert_eq!(unknown["ip"], "127.0.0.1");
    let wrong: Vec<_> = failures
        .iter()
        .filter(|e| e["user_id"] == alice_id)
        .collect();
    assert_eq!(wrong.len(), 2, "{failures:?}");
    assert_eq!(wrong[0]["details"]["reason"], "invalid_credentials");
    let locked = find(&events, "user.locked");
    assert_eq!(locked["user_id"], alice_id);
    assert!(locked["details"]["locked_until"].as_i64().is_some());

    // No password ever reaches the log.
    let all = serde_json::to_string(&events).unwrap();
    for secret in [
        f.password.as_str(),
        "mallory-secret-1",
        "wrong-password-0",
        "wrong-password-2",
        f.client_secret.as_str(),
    ] {
        assert!(!all.contains(secret), "{secret} is in the audit log");
    }
}

#[actix_web::test]
async fn admin_actions_are_recorded_with_actor_origin_and_no_secret() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let slug = "aud-admin";
    let t = format!("/tenants/{slug}");
    let mut secrets: Vec<String> = Vec::new();
    let call = async |method: Method, path: String, body: Option<Value>, want: u16| {
        let (status, body) = admin_ua(&app, &token, method, &path, body).await;
        assert_eq!(status, want, "{path}: {body}");
        body
    };
    call(
        Method::POST,
        "/tenants".into(),
        Some(json!({"slug": slug, "alg": "ES256"})),
        201,
    )
    .await;
    call(
        Method::PATCH,
        t.clone(),
        Some(json!({"name": "Audited"})),
        200,
    )
    .await;
    let client = call(
        Method::POST,
        format!("{t}/clients"),
        Some(json!({"name": "App", "grant_types": ["client_credentials"], "scopes": []})),
        201,
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    secrets.push(client["client_secret"].as_str().unwrap().to_owned());
    call(
        Method::PATCH,
        format!("{t}/clients/{client_id}"),
        Some(json!({"name": "App 2"})),
        200,
    )
    .await;
    let password = "audit-user-password-1";
    secrets.push(password.to_owned());
    let user = call(
        Method::POST,
        format!("{t}/users"),
        Some(json!({"username": "bob", "password": password})),
        201,
    )
    .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    call(
        Method::PATCH,
        format!("{t}/users/bob"),
        Some(json!({"email": "bob@example.com"})),
        200,
    )
    .await;
    let password2 = "audit-user-password-2";
    secrets.push(password2.to_owned());
    call(
        Method::POST,
        format!("{t}/users/bob/password"),
        Some(json!({"password": password2})),
        204,
    )
    .await;
    let resource = "resource-servers/urn:example:orders";
    let steps = [
        (Method::POST, "users/bob/disable", None, 200),
        (Method::POST, "users/bob/enable", None, 200),
        (Method::DELETE, "users/bob/sessions", None, 204),
        (
            Method::POST,
            "scopes",
            Some(json!({"name": "orders.read", "description": "Read orders"})),
            201,
        ),
        (
            Method::POST,
            "resource-servers",
            Some(
                json!({"identifier": "urn:example:orders", "name": "Orders", "scopes": ["orders.read"]}),
            ),
            201,
        ),
        (
            Method::PATCH,
            resource,
            Some(json!({"name": "Orders API"})),
            200,
        ),
        (Method::DELETE, resource, None, 204),
        (
            Method::PATCH,
            "settings",
            Some(json!({"session": {"idle_secs": 600}})),
            200,
        ),
        (
            Method::PUT,
            "templates/error",
            Some(json!({"source": "{{#> layout}}<p>{{message}}</p>{{/layout}}"})),
            200,
        ),
        (Method::DELETE, "templates/error", None, 204),
    ];
    for (method, path, body, want) in steps {
        call(method, format!("{t}/{path}"), body, want).await;
    }
    let admin = call(
        Method::POST,
        format!("{t}/admins"),
        Some(json!({"name": "ops"})),
        201,
    )
    .await;
    secrets.push(admin["client_secret"].as_str().unwrap().to_owned());
    let iat = call(
        Method::POST,
        format!("{t}/registration-tokens"),
        Some(json!({"max_uses": 1})),
        201,
    )
    .await;
    secrets.push(iat["token"].as_str().unwrap().to_owned());
    let iat_id = iat["id"].as_str().unwrap().to_owned();
    call(
        Method::DELETE,
        format!("{t}/registration-tokens/{iat_id}"),
        None,
        204,
    )
    .await;
    call(Method::POST, format!("{t}/keys/rotate"), None, 200).await;
    call(Method::DELETE, format!("{t}/users/bob"), None, 204).await;
    call(
        Method::DELETE,
        format!("{t}/clients/{client_id}"),
        None,
        204,
    )
    .await;

    let events = all_events(&app, &token, slug, "").await;
    let actor = format!("admin:{}", app.operator_id);
    for action in [
        "tenant.created",
        "tenant.updated",
        "client.created",
        "client.updated",
        "client.deleted",
        "user.created",
        "user.updated",
        "user.password_set",
        "user.disabled",
        "user.enabled",
        "user.sessions_ended",
        "user.deleted",
        "scope.created",
        "resource_server.created",
        "resource_server.updated",
        "resource_server.deleted",
        "settings.updated",
        "template.published",
        "template.reset",
        "admin.created",
        "registration_token.created",
        "registration_token.deleted",
        "key.rotated",
    ] {
        let e = find(&events, action);
        assert_eq!(e["actor"], actor, "{action}");
        assert_eq!(e["ip"], "127.0.0.1", "{action}");
        assert_eq!(e["user_agent"], UA, "{action}");
    }
    for action in [
        "user.created",
        "user.password_set",
        "user.disabled",
        "user.deleted",
    ] {
        assert_eq!(find(&events, action)["user_id"], user_id, "{action}");
    }
    for action in ["client.created", "client.updated", "client.deleted"] {
        assert_eq!(find(&events, action)["client_id"], client_id, "{action}");
    }
    assert_eq!(
        find(&events, "settings.updated")["details"]["sections"],
        json!(["session"])
    );
    assert_eq!(
        find(&events, "template.published")["details"]["template"],
        "error"
    );
    assert!(
        !find(&events, "key.rotated")["details"]["rings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let all = serde_json::to_string(&events).unwrap();
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "a secret is in the audit log: {all}"
        );
    }

    // The deletion of a tenant lands in the system tenant's log.
    call(Method::DELETE, t.clone(), None, 204).await;
    let system = all_events(&app, &token, "system", "action=tenant.deleted").await;
    assert_eq!(system.len(), 1);
    assert_eq!(system[0]["details"]["slug"], slug);
    assert_eq!(system[0]["actor"], actor);
}

/// `n` events in `tenant`, all in the same second `at`, cycling through three actions.
async fn insert_burst(store: &Store, tenant: TenantId, at: i64, n: usize) {
    for i in 0..n {
        let action = ["user.created", "user.deleted", "client.created"][i % 3];
        let actor = if i % 2 == 0 { "admin:a" } else { "system" };
        let e = AuditEventRecord::new(tenant, action, actor)
            .at(at)
            .details(json!({"i": i}));
        tessera_store::audit::insert(store.conn(), &e)
            .await
            .unwrap();
    }
}

#[actix_web::test]
async fn filters_cursor_and_export() {
    let app = spawn_app().await;
    app.create_tenant("aud-query", "ES256").await;
    let token = app.admin_token().await;
    let tenant = tenant_id(&app, &token, "aud-query").await;
    let store = store(&app).await;
    // 120 events in one second: a time-only cursor would skip or repeat them.
    let at = Clock.now() - 1000;
    insert_burst(&store, tenant, at, 120).await;
    insert_burst(&store, tenant, at - 500, 6).await;

    // Pages of 50 by cursor: every event exactly once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/tenants/aud-query/audit-events?limit=50&until={at}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = app.admin(&token, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        for e in body["items"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 126);
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 126, "an event was repeated");

    // Filters: prefix (`.` or `*`), exact, actor, since/until.
    let window = format!("since={at}&until={at}");
    let users = all_events(
        &app,
        &token,
        "aud-query",
        &format!("action=user.*&{window}"),
    )
    .await;
    assert_eq!(users.len(), 80);
    assert!(actions(&users).iter().all(|a| a.starts_with("user.")));
    let users2 = all_events(&app, &token, "aud-query", &format!("action=user.&{window}")).await;
    assert_eq!(users2.len(), 80);
    // `_` and `%` in a prefix are literal characters, not LIKE wildcards.
    for literal in ["user_*", "user%25.", "%25.", "_ser."] {
        let none = all_events(
            &app,
            &token,
            "aud-query",
            &format!("action={literal}&{window}"),
        )
        .await;
        assert!(none.is_empty(), "{literal}: {none:?}");
    }
    let deleted = all_events(
        &app,
        &token,
        "aud-query",
        &format!("action=user.deleted&{window}"),
    )
    .await;
    assert_eq!(deleted.len(), 40);
    let by_system = all_events(&app, &token, "aud-query", &format!("actor=system&{window}")).await;
    assert_eq!(by_system.len(), 60);
    assert!(by_system.iter().all(|e| e["actor"] == "system"));
    let older = all_events(&app, &token, "aud-query", &format!("until={}", at - 1)).await;
    assert_eq!(older.len(), 6);
    let (status, _) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/aud-query/audit-events?cursor=nonsense",
            None,
        )
        .await;
    assert_eq!(status, 400);
    // The old time-only cursor still works.
    let before = all_events(&app, &token, "aud-query", &format!("before={at}")).await;
    assert_eq!(before.len(), 6);

    // Export: JSON lines, same filters.
    let resp = app
        .http
        .get(format!(
            "{}/admin/v1/tenants/aud-query/audit-events/export?action=client.*&{window}",
            app.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()[reqwest::header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 40);
    assert!(lines.iter().all(|e| e["action"] == "client.created"));
    // Everything, across the internal batches of 500.
    insert_burst(&store, tenant, at - 100, 600).await;
    let text = app
        .http
        .get(format!(
            "{}/admin/v1/tenants/aud-query/audit-events/export?until={at}",
            app.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: std::collections::BTreeSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 726);
    let limited = app
        .http
        .get(format!(
            "{}/admin/v1/tenants/aud-query/audit-events/export?limit=7",
            app.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(limited.lines().count(), 7);
}

#[actix_web::test]
async fn a_tenant_admin_cannot_read_another_tenants_log() {
    let app = spawn_app().await;
    app.create_tenant("aud-a", "ES256").await;
    app.create_tenant("aud-b", "ES256").await;
    let operator = app.admin_token().await;
    let admin_a = app.tenant_admin_token(&operator, "aud-a").await;
    let (status, _) = app
        .admin(&admin_a, Method::GET, "/tenants/aud-a/audit-events", None)
        .await;
    assert_eq!(status, 200);
    for path in [
        "/tenants/aud-b/audit-events",
        "/tenants/aud-b/audit-events/export",
    ] {
        let (status, body) = app.admin(&admin_a, Method::GET, path, None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
}

#[actix_web::test]
async fn the_janitor_applies_each_tenants_retention() {
    let app = spawn_app().await;
    app.create_tenant("aud-keep", "ES256").await;
    app.create_tenant("aud-short", "ES256").await;
    let token = app.admin_token().await;
    let (status, _) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/aud-short/settings",
            Some(json!({"audit": {"retention_days": 0}})),
        )
        .await;
    assert_eq!(status, 400, "0 days is refused");
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/aud-short/settings",
            Some(json!({"audit": {"retention_days": 30}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"]["retention_days"], 30);
    let short = tenant_id(&app, &token, "aud-short").await;
    let keep = tenant_id(&app, &token, "aud-keep").await;
    let store = store(&app).await;
    let now = Clock.now();
    let day = 86_400;
    for (tenant, age, action) in [
        (short, 40 * day, "test.old"),
        (short, 10 * day, "test.new"),
        (keep, 40 * day, "test.old"),
    ] {
        let e = AuditEventRecord::new(tenant, action, "system").at(now - age);
        tessera_store::audit::insert(store.conn(), &e)
            .await
            .unwrap();
    }
    let removed = tessera::janitor::prune_audit_log(&store, now)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let short_events = all_events(&app, &token, "aud-short", "action=test.*").await;
    assert_eq!(actions(&short_events), vec!["test.new"]);
    let keep_events = all_events(&app, &token, "aud-keep", "action=test.*").await;
    assert_eq!(actions(&keep_events), vec!["test.old"]);
}

#[actix_web::test]
async fn the_password_grant_records_sign_ins_and_failures_with_its_client() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "aud-ropc", false).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/aud-ropc/clients",
            Some(json!({"name": "Legacy", "grant_types": ["password"], "scopes": ["openid"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    for (password, want) in [("ropc-wrong-password", 400), (f.password.as_str(), 200)] {
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", password),
            ("scope", "openid"),
        ];
        let resp = app
            .post_token("aud-ropc", Some((&id, &secret)), &form)
            .await;
        assert_eq!(resp.status().as_u16(), want);
    }
    let events = all_events(&app, &token, "aud-ropc", "action=user.*").await;
    let failed = find(&events, "user.sign_in_failed");
    assert_eq!(failed["client_id"], id);
    assert_eq!(failed["details"]["method"], "password_grant");
    let signed_in = find(&events, "user.signed_in");
    assert_eq!(signed_in["client_id"], id);
    assert_eq!(signed_in["details"]["method"], "password_grant");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("ropc-wrong-password") && !all.contains(&f.password));
}

#[actix_web::test]
async fn a_scheduled_key_rotation_is_recorded_as_the_system_actor() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("due", "ES256").await;
    // Make the tenant's keys due: a node rotates what is due when it starts, then every minute.
    let db = store(&app).await;
    let res = db
        .conn()
        .execute_unprepared("UPDATE tenants SET keys_rotate_at = 0 WHERE slug = 'due'")
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
    assert!(
        all_events(&app, &token, "due", "action=key.rotated")
            .await
            .is_empty()
    );

    let _second = crate::helpers::second_node(&app).await;
    let recorded = crate::helpers::within(std::time::Duration::from_secs(20), || async {
        !all_events(&app, &token, "due", "action=key.rotated")
            .await
            .is_empty()
    })
    .await;
    assert!(recorded.is_some(), "no key.rotated event within 20 s");
    let events = all_events(&app, &token, "due", "action=key.rotated").await;
    let event = find(&events, "key.rotated");
    assert_eq!(event["actor"], "system", "{event}");
    assert_eq!(event["details"]["scheduled"], true, "{event}");
    assert!(
        !event["details"]["rings"].as_array().unwrap().is_empty(),
        "{event}"
    );
}

/// Audit events of one admin action in the JSON logs of a `tessera serve` process started with
/// `env`: the `audit`-target lines naming `tenant.created` for `slug`, and the whole log.
async fn streamed_tenant_creation(env: &[(&str, &str)], slug: &str) -> (Vec<Value>, String) {
    let mut env = env.to_vec();
    env.extend([
        ("TESSERA__LOG__FORMAT", "json"),
        ("TESSERA__DATABASE__MAX_CONNECTIONS", "4"),
    ]);
    let cluster = crate::process::Cluster::start_with(1, &env).await;
    let node = cluster.node(0);
    let token = node.admin_token().await;
    let (status, body) = node
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": slug, "name": "Streamed", "alg": "ES256"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The event is in the database once the answer came; the log line follows it.
    let mut log = String::new();
    let mut lines = Vec::new();
    for _ in 0..50 {
        log = cluster.nodes[0].server.stderr_so_far();
        lines = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["target"] == "audit")
            .filter(|l| {
                let fields = if l["fields"].is_object() {
                    &l["fields"]
                } else {
                    l
                };
                fields["action"] == "tenant.created"
            })
            .collect();
        if !lines.is_empty() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!log.is_empty(), "no log at all");
    assert!(
        !log.contains(&node.operator_secret),
        "the operator secret reached the log"
    );
    (lines, log)
}

#[actix_web::test]
async fn log_audit_writes_each_event_to_the_log_stream_and_is_off_by_default() {
    let (lines, log) =
        streamed_tenant_creation(&[("TESSERA__LOG__AUDIT", "true")], "streamed").await;
    assert_eq!(lines.len(), 1, "one audit line for one action:\n{log}");
    let line = &lines[0];
    let fields = if line["fields"].is_object() {
        &line["fields"]
    } else {
        line
    };
    assert_eq!(line["level"], "INFO", "{line}");
    assert!(
        fields["actor"].as_str().unwrap_or("").starts_with("admin:"),
        "{line}"
    );
    for field in ["id", "tenant", "occurred_at", "details"] {
        assert!(!fields[field].is_null(), "no {field} in {line}");
    }
    assert!(fields["details"].to_string().contains("streamed"), "{line}");

    let (lines, log) = streamed_tenant_creation(&[], "quiet").await;
    assert!(lines.is_empty(), "audit lines without log.audit:\n{log}");
}
