//! The management commands, run as the real `tessera` binary against a running server's data
//! directory and database: their JSON output, their error codes, and how soon the server sees
//! their effect through the change feed (the one-second requirement).

use std::time::Instant;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app, within};

/// Runs a command that must succeed; returns its JSON output.
fn ok(app: &TestApp, args: &[&str]) -> Value {
    let (success, json) = app.cli(args);
    assert!(success, "tessera {args:?} failed: {json}");
    json
}

/// Runs a command that must fail; returns its JSON error.
fn fails(app: &TestApp, args: &[&str]) -> Value {
    let (success, json) = app.cli(args);
    assert!(!success, "tessera {args:?} succeeded: {json}");
    json
}

/// Registers a confidential client-credentials client with the CLI.
fn cli_client(app: &TestApp, tenant: &str, scopes: &[&str]) -> TestClient {
    let mut args = vec![
        "client",
        "create",
        tenant,
        "--name",
        "cli client",
        "--grant",
        "client_credentials",
    ];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let json = ok(app, &args);
    TestClient {
        id: json["client_id"].as_str().expect("client_id").to_owned(),
        secret: json["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    }
}

/// The status of a tenant's discovery document.
async fn discovery_status(app: &TestApp, tenant: &str) -> u16 {
    app.http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer(tenant)
        ))
        .send()
        .await
        .expect("discovery")
        .status()
        .as_u16()
}

/// The `kid` in the header of a new token, if the server issues one.
async fn token_kid(app: &TestApp, tenant: &str, client: &TestClient) -> Option<String> {
    let resp = app
        .post_token(
            tenant,
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    if resp.status().as_u16() != 200 {
        return None;
    }
    let body: Value = resp.json().await.ok()?;
    let jwt = body["access_token"].as_str()?;
    jsonwebtoken::decode_header(jwt).ok()?.kid
}

// ---------------------------------------------------------------------------------------------
// Tenants

#[actix_web::test]
async fn cli_creates_lists_and_shows_tenants() {
    let app = spawn_app().await;

    let created = ok(&app, &["tenant", "create", "cli-acme", "--alg", "ES256"]);
    assert_eq!(created["slug"], "cli-acme");
    assert_eq!(created["signing_alg"], "ES256");
    assert_eq!(created["status"], "active");
    let issuer = created["issuer"].as_str().expect("issuer");
    assert!(
        issuer.starts_with("http") && issuer.ends_with("/t/cli-acme"),
        "issuer {issuer}"
    );

    ok(&app, &["tenant", "create", "cli-other", "--name", "Other"]);
    let listed = ok(&app, &["tenant", "list"]);
    let slugs: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["slug"].as_str().expect("slug"))
        .collect();
    assert!(slugs.contains(&"cli-acme"), "{slugs:?}");
    assert!(slugs.contains(&"cli-other"), "{slugs:?}");
    assert!(slugs.contains(&"system"), "{slugs:?}");

    let searched = ok(
        &app,
        &["tenant", "list", "--search", "acme", "--limit", "1"],
    );
    assert_eq!(searched["items"].as_array().expect("items").len(), 1);
    assert_eq!(searched["items"][0]["slug"], "cli-acme");
    let after = ok(
        &app,
        &["tenant", "list", "--search", "acme", "--after", "cli-acme"],
    );
    assert_eq!(after["items"], serde_json::json!([]));
    assert!(after["next"].is_null(), "{after}");

    let shown = ok(&app, &["tenant", "show", "cli-other"]);
    assert_eq!(shown["slug"], "cli-other");
    assert_eq!(shown["name"], "Other");
    assert_eq!(shown["signing_alg"], "RS256");

    // The running server serves the tenant the CLI created.
    let took = within(PROPAGATION, || async {
        discovery_status(&app, "cli-acme").await == 200
    })
    .await;
    assert!(took.is_some(), "the server does not serve the new tenant");
}

#[actix_web::test]
async fn cli_disable_and_enable_reach_the_running_server_within_a_second() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-switch", "--alg", "ES256"]);
    let client = cli_client(&app, "cli-switch", &[]);
    // The server has this tenant cached from now on.
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-switch", &client).await == 200
    })
    .await;
    assert!(took.is_some(), "no token before the change");

    let disabled = ok(&app, &["tenant", "disable", "cli-switch"]);
    assert_eq!(disabled["status"], "disabled");
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-switch", &client).await == 403
    })
    .await;
    assert!(
        took.is_some(),
        "the server still issues tokens 1 s after `tenant disable`"
    );

    let enabled = ok(&app, &["tenant", "enable", "cli-switch"]);
    assert_eq!(enabled["status"], "active");
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-switch", &client).await == 200
    })
    .await;
    assert!(
        took.is_some(),
        "the server still refuses tokens 1 s after `tenant enable`"
    );
}

#[actix_web::test]
async fn cli_delete_reaches_the_running_server_within_a_second() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-doomed", "--alg", "ES256"]);
    let took = within(PROPAGATION, || async {
        discovery_status(&app, "cli-doomed").await == 200
    })
    .await;
    assert!(took.is_some(), "no discovery before the change");

    let deleted = ok(&app, &["tenant", "delete", "cli-doomed"]);
    assert_eq!(deleted["deleted"], "cli-doomed");
    let took = within(PROPAGATION, || async {
        discovery_status(&app, "cli-doomed").await == 404
    })
    .await;
    assert!(
        took.is_some(),
        "the server still serves discovery 1 s after `tenant delete`"
    );
    let missing = fails(&app, &["tenant", "show", "cli-doomed"]);
    assert_eq!(missing["error"], "not_found");
}

// ---------------------------------------------------------------------------------------------
// Clients

#[actix_web::test]
async fn cli_created_client_gets_a_token_from_the_running_server_within_a_second() {
    let app = spawn_app().await;
    app.create_tenant("cli-feed", "ES256").await;
    ok(
        &app,
        &[
            "scope",
            "create",
            "cli-feed",
            "invoices.read",
            "--description",
            "Read invoices",
        ],
    );
    // Make the server hold a snapshot of the tenant from before the client exists.
    let took = within(PROPAGATION, || async {
        discovery_status(&app, "cli-feed").await == 200
    })
    .await;
    assert!(took.is_some());

    let json = ok(
        &app,
        &[
            "client",
            "create",
            "cli-feed",
            "--name",
            "feed client",
            "--grant",
            "client_credentials",
            "--scope",
            "invoices.read",
        ],
    );
    let returned = Instant::now();
    let client = TestClient {
        id: json["client_id"].as_str().expect("client_id").to_owned(),
        secret: json["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    };
    assert_eq!(json["client_type"], "confidential");
    assert_eq!(
        json["grant_types"],
        serde_json::json!(["client_credentials"])
    );

    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-feed", &client).await == 200
    })
    .await;
    let elapsed = returned.elapsed();
    assert!(
        took.is_some() && elapsed < PROPAGATION,
        "the running server issued no token within 1 s of `client create` (waited {elapsed:?})"
    );
    let jwt = app
        .client_credentials_token("cli-feed", &client, Some("invoices.read"))
        .await;
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&jwt).expect("claims");
    assert_eq!(claims["scope"], "invoices.read");
    assert_eq!(claims["client_id"], client.id.as_str());
}

#[actix_web::test]
async fn cli_lists_clients_without_secrets_and_deleting_one_revokes_it_within_a_second() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-clients", "--alg", "ES256"]);
    let client = cli_client(&app, "cli-clients", &[]);
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-clients", &client).await == 200
    })
    .await;
    assert!(took.is_some(), "no token before the change");

    let listed = ok(&app, &["client", "list", "cli-clients"]);
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["client_id"], client.id.as_str());
    assert!(
        !listed.to_string().contains(&client.secret),
        "the list reveals the secret"
    );
    assert!(items[0].get("client_secret").is_none(), "{listed}");
    assert!(items[0].get("secret_hash").is_none(), "{listed}");

    let shown = ok(&app, &["client", "show", "cli-clients", &client.id]);
    assert_eq!(shown["client_id"], client.id.as_str());
    assert!(shown.get("client_secret").is_none(), "{shown}");

    let deleted = ok(&app, &["client", "delete", "cli-clients", &client.id]);
    assert_eq!(deleted["deleted"], client.id.as_str());
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("cli-clients", &client).await == 401
    })
    .await;
    assert!(
        took.is_some(),
        "the deleted client still gets tokens 1 s after `client delete`"
    );
    let resp = app
        .post_token(
            "cli-clients",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_client");
    let listed = ok(&app, &["client", "list", "cli-clients"]);
    assert_eq!(listed["items"], serde_json::json!([]));
}

#[actix_web::test]
async fn cli_refuses_invalid_clients() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-strict", "--alg", "ES256"]);

    let cases: [&[&str]; 5] = [
        &["--public", "--grant", "client_credentials"],
        &["--grant", "authorization_code"],
        &[
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "http://app.example.com/cb",
        ],
        &[
            "--grant",
            "client_credentials",
            "--scope",
            "undefined.scope",
        ],
        &["--grant", "urn:example:unknown"],
    ];
    for extra in cases {
        let mut args = vec!["client", "create", "cli-strict", "--name", "bad"];
        args.extend_from_slice(extra);
        let err = fails(&app, &args);
        assert_eq!(err["error"], "invalid_request", "{extra:?}: {err}");
    }
    let listed = ok(&app, &["client", "list", "cli-strict"]);
    assert_eq!(listed["items"], serde_json::json!([]));
}

#[actix_web::test]
async fn cli_admin_of_makes_a_tenant_admin_confined_to_that_tenant() {
    let app = spawn_app().await;
    app.create_tenant("cli-owned", "ES256").await;
    app.create_tenant("cli-foreign", "ES256").await;

    let json = ok(
        &app,
        &[
            "client",
            "create",
            "system",
            "--name",
            "owned admin",
            "--admin-of",
            "cli-owned",
        ],
    );
    assert_eq!(json["admin_role"], "tenant_admin");
    let admin = TestClient {
        id: json["client_id"].as_str().expect("client_id").to_owned(),
        secret: json["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    };
    let took = within(PROPAGATION, || async {
        let resp = app
            .post_token(
                "system",
                Some((&admin.id, &admin.secret)),
                &[("grant_type", "client_credentials"), ("scope", "admin")],
            )
            .await;
        resp.status().as_u16() == 200
    })
    .await;
    assert!(
        took.is_some(),
        "the server issued no admin token within 1 s"
    );
    let token = app
        .client_credentials_token("system", &admin, Some("admin"))
        .await;

    let (status, body) = app
        .admin(&token, Method::GET, "/tenants/cli-owned/clients", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .admin(&token, Method::GET, "/tenants/cli-foreign/clients", None)
        .await;
    assert_eq!(status, 403, "{body}");

    // A plain system client gets no admin role.
    let plain = ok(
        &app,
        &[
            "client",
            "create",
            "system",
            "--name",
            "x",
            "--grant",
            "client_credentials",
        ],
    );
    assert!(plain["admin_role"].is_null(), "{plain}");
}

// ---------------------------------------------------------------------------------------------
// Scopes and keys

#[actix_web::test]
async fn cli_defines_and_lists_scopes() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-scopes", "--alg", "ES256"]);

    let scope = ok(
        &app,
        &[
            "scope",
            "create",
            "cli-scopes",
            "billing",
            "--description",
            "See your bills",
            "--claim",
            "billing_id",
            "--claim",
            "plan",
        ],
    );
    assert_eq!(scope["name"], "billing");
    assert_eq!(scope["description"], "See your bills");
    assert_eq!(scope["claims"], serde_json::json!(["billing_id", "plan"]));

    let listed = ok(&app, &["scope", "list", "cli-scopes"]);
    let names: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    for name in ["billing", "openid", "profile", "email", "address", "phone"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }

    let dup = fails(
        &app,
        &[
            "scope",
            "create",
            "cli-scopes",
            "billing",
            "--description",
            "again",
        ],
    );
    assert_eq!(dup["error"], "conflict");
}

#[actix_web::test]
async fn cli_key_rotation_reaches_jwks_and_new_tokens_within_a_second() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-keys", "--alg", "ES256"]);
    let client = cli_client(&app, "cli-keys", &[]);

    let keys = ok(&app, &["keys", "list", "cli-keys"]);
    let items = keys["items"].as_array().expect("items");
    // The tenant's own ring; its RS256 ring (for ID tokens) rotates alongside.
    let kid = |state: &str| -> Vec<String> {
        items
            .iter()
            .filter(|k| k["state"] == state && k["alg"] == "ES256")
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    };
    let (active, next) = (kid("active"), kid("next"));
    assert_eq!((active.len(), next.len()), (1, 1), "{keys}");
    let algs: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|k| k["alg"].as_str().expect("alg"))
        .collect();
    assert_eq!(algs, ["ES256", "RS256"].into(), "{keys}");

    // The server holds the pre-rotation snapshot.
    let took = within(PROPAGATION, || async {
        token_kid(&app, "cli-keys", &client).await.as_ref() == Some(&active[0])
    })
    .await;
    assert!(took.is_some(), "tokens are not signed by the active key");
    let published = app.jwks_kids("cli-keys").await;
    assert!(
        published.contains(&active[0]) && published.contains(&next[0]),
        "{published:?}"
    );

    let rotation = ok(&app, &["keys", "rotate", "cli-keys"]);
    assert_eq!(rotation["activated"], next[0].as_str(), "{rotation}");
    assert_eq!(rotation["retired"], active[0].as_str(), "{rotation}");
    assert_eq!(rotation["rings"][1]["alg"], "RS256", "{rotation}");
    let new_next = rotation["next"].as_str().expect("next").to_owned();

    let took = within(PROPAGATION, || async {
        let kids = app.jwks_kids("cli-keys").await;
        kids.first() == Some(&next[0]) && kids.contains(&new_next) && kids.contains(&active[0])
    })
    .await;
    assert!(
        took.is_some(),
        "the JWKS does not lead with the new active key 1 s after `keys rotate`"
    );
    let took = within(PROPAGATION, || async {
        token_kid(&app, "cli-keys", &client).await.as_ref() == Some(&next[0])
    })
    .await;
    assert!(
        took.is_some(),
        "new tokens are not signed by the new active key 1 s after `keys rotate`"
    );

    let keys = ok(&app, &["keys", "list", "cli-keys"]);
    let states: Vec<(String, String)> = keys["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().expect("kid").to_owned(),
                k["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(next[0].clone(), "active".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(active[0].clone(), "retired".into())),
        "{states:?}"
    );
    assert!(states.contains(&(new_next, "next".into())), "{states:?}");
}

// ---------------------------------------------------------------------------------------------
// Errors and migrations

#[actix_web::test]
async fn cli_errors_are_json_with_a_code_and_a_failing_exit_status() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "cli-dup", "--alg", "ES256"]);

    let dup = fails(&app, &["tenant", "create", "cli-dup"]);
    assert_eq!(dup["error"], "conflict", "{dup}");
    let reserved = fails(&app, &["tenant", "create", "system"]);
    assert_eq!(reserved["error"], "conflict", "{reserved}");

    for args in [
        &["tenant", "show", "no-such-tenant"][..],
        &["tenant", "disable", "no-such-tenant"],
        &["tenant", "delete", "no-such-tenant"],
        &["client", "list", "no-such-tenant"],
        &["scope", "list", "no-such-tenant"],
        &["keys", "rotate", "no-such-tenant"],
        &["client", "show", "cli-dup", "no-such-client"],
        // Generated client ids may begin with '-'; they are values, not flags.
        &["client", "show", "cli-dup", "-no-such-client"],
        &["client", "delete", "cli-dup", "-no-such-client"],
    ] {
        let err = fails(&app, args);
        assert_eq!(err["error"], "not_found", "{args:?}: {err}");
    }

    for slug in ["Bad_Slug", "a", "x-", "UPPER"] {
        let err = fails(&app, &["tenant", "create", slug]);
        assert_eq!(err["error"], "invalid_request", "{slug}: {err}");
        assert!(err["error_description"].is_string(), "{err}");
    }
    let bad_alg = fails(&app, &["tenant", "create", "cli-alg", "--alg", "HS256"]);
    assert_eq!(bad_alg["error"], "invalid_request", "{bad_alg}");
    let missing = fails(&app, &["tenant", "show", "cli-alg"]);
    assert_eq!(missing["error"], "not_found");

    let system = fails(&app, &["tenant", "disable", "system"]);
    assert_eq!(system["error"], "invalid_request", "{system}");
}

#[actix_web::test]
async fn cli_migrate_succeeds_on_an_up_to_date_database() {
    let app = spawn_app().await;
    let json = ok(&app, &["migrate"]);
    assert_eq!(json["migrated"], true);
    // Running it again changes nothing and still succeeds; the server keeps serving.
    ok(&app, &["migrate"]);
    let resp = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status().as_u16(), 200);
}
