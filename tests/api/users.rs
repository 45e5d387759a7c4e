//! User management end to end: `tessera user …` run as the real binary and the admin API's
//! `/tenants/{t}/users` routes, against a running server's database. Sign-in and session checks
//! use an [`Authenticator`] opened on that same database, so they see exactly what the server
//! would.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tessera_authn::{Authenticator, LoginError};
use tessera_core::Clock;
use tessera_store::{PoolSettings, Store, TenantRecord, UserRecord};

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery staple";

/// Runs `tessera --json ARGS` against the app's database with `stdin` piped in; returns exit
/// success and the parsed stdout.
fn cli_stdin(app: &TestApp, args: &[&str], stdin: &str) -> (bool, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .arg("--database-url")
        .arg(&app.database_url)
        .arg("--json")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tessera");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("tessera output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.success(), value)
}

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

/// The server's view of users and sessions: an authenticator on the app's own database.
async fn authenticator(app: &TestApp) -> (Authenticator, Store) {
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    (Authenticator::new(store.clone(), 1), store)
}

async fn tenant_record(store: &Store, slug: &str) -> TenantRecord {
    tessera_store::tenants::find_by_slug(store.conn(), slug)
        .await
        .unwrap()
        .unwrap()
}

async fn sign_in(
    authn: &Authenticator,
    tenant: &TenantRecord,
    username: &str,
    password: &str,
) -> Result<UserRecord, LoginError> {
    authn
        .login(
            tenant,
            username,
            &SecretString::from(password),
            None,
            Clock.now(),
        )
        .await
}

/// A user as an API must never show it: with a hash, or anything that looks like one.
fn assert_no_secrets(user: &Value) {
    assert!(user.get("password_hash").is_none(), "{user}");
    assert!(user.get("password").is_none(), "{user}");
    assert!(!user.to_string().contains("argon2"), "{user}");
}

// ---------------------------------------------------------------------------------------------
// CLI

#[actix_web::test]
async fn cli_creates_shows_lists_and_deletes_a_user_who_can_then_sign_in() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "acme"]);

    let (success, created) = cli_stdin(
        &app,
        &[
            "user",
            "create",
            "acme",
            "Alice",
            "--email",
            "alice@example.com",
            "--email-verified",
            "--given-name",
            "Alice",
            "--family-name",
            "Liddell",
            "--phone",
            "+441865000000",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(success, "{created}");
    assert_eq!(created["username"], "alice");
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(created["email_verified"], true);
    assert_eq!(created["status"], "active");
    assert_eq!(created["has_password"], true);
    assert_eq!(created["claims"]["given_name"], "Alice");
    assert_eq!(created["claims"]["family_name"], "Liddell");
    assert_eq!(created["claims"]["phone_number"], "+441865000000");
    assert_no_secrets(&created);
    let id = created["id"].as_str().unwrap().to_owned();

    let shown = ok(&app, &["user", "show", "acme", "ALICE"]);
    assert_eq!(shown["id"], id.as_str());
    assert_no_secrets(&shown);
    let listed = ok(&app, &["user", "list", "acme"]);
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_no_secrets(&items[0]);

    // The running server's database now holds a user who signs in with that password (the
    // trailing newline from stdin is not part of it).
    let (authn, store) = authenticator(&app).await;
    let acme = tenant_record(&store, "acme").await;
    let user = sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
    assert_eq!(user.id.to_string(), id);

    let deleted = ok(&app, &["user", "delete", "acme", "alice"]);
    assert_eq!(deleted["deleted"], "alice");
    assert_eq!(
        fails(&app, &["user", "show", "acme", "alice"])["error"],
        "not_found"
    );
    assert!(matches!(
        sign_in(&authn, &acme, "alice", PASSWORD).await,
        Err(LoginError::InvalidCredentials)
    ));
    assert!(
        ok(&app, &["user", "list", "acme"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn cli_user_without_password_stdin_has_no_password() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "acme"]);
    let created = ok(&app, &["user", "create", "acme", "bob"]);
    assert_eq!(created["has_password"], false);
    assert_eq!(created["email"], Value::Null);
    let (authn, store) = authenticator(&app).await;
    let acme = tenant_record(&store, "acme").await;
    assert!(matches!(
        sign_in(&authn, &acme, "bob", "").await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[actix_web::test]
async fn cli_user_errors_are_json_with_their_codes() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "acme"]);
    let create = |name: &str, password: &str| {
        cli_stdin(
            &app,
            &["user", "create", "acme", name, "--password-stdin"],
            password,
        )
    };
    let (success, _) = create("alice", PASSWORD);
    assert!(success);

    let (success, err) = create("ALICE", "another fine passphrase");
    assert!(!success);
    assert_eq!(err["error"], "conflict", "{err}");

    let (success, err) = create("carol", "password123");
    assert!(!success);
    assert_eq!(err["error"], "invalid_request");
    let message = err["error_description"].as_str().unwrap();
    assert!(message.contains("too common"), "{message}");

    let (success, err) = create("carol", "short");
    assert!(!success);
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("at least 8"),
        "{err}"
    );

    let (success, err) = create("has space", PASSWORD);
    assert!(!success);
    assert_eq!(err["error"], "invalid_request");

    let err = fails(
        &app,
        &[
            "user",
            "create",
            "acme",
            "dave",
            "--email",
            "not-an-address",
        ],
    );
    assert_eq!(err["error"], "invalid_request");
    let err = fails(
        &app,
        &["user", "create", "acme", "dave", "--email-verified"],
    );
    assert_eq!(err["error"], "invalid_request");
    let err = fails(&app, &["user", "show", "nowhere", "alice"]);
    assert_eq!(err["error"], "not_found");
    let err = fails(&app, &["user", "disable", "acme", "nobody"]);
    assert_eq!(err["error"], "not_found");
    let err = fails(&app, &["user", "list", "acme", "--after", "not-a-uuid"]);
    assert_eq!(err["error"], "invalid_request");
    // set-password reads stdin only when told to.
    let err = fails(&app, &["user", "set-password", "acme", "alice"]);
    assert_eq!(err["error"], "invalid_request");
}

#[actix_web::test]
async fn cli_set_password_replaces_the_password_and_ends_sessions() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "acme"]);
    let (success, _) = cli_stdin(
        &app,
        &["user", "create", "acme", "alice", "--password-stdin"],
        PASSWORD,
    );
    assert!(success);
    let (authn, store) = authenticator(&app).await;
    let acme = tenant_record(&store, "acme").await;
    let user = sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
    let session = authn
        .start_session(&acme, &user, vec!["pwd".into()], None, Clock.now())
        .await
        .unwrap();

    let (success, out) = cli_stdin(
        &app,
        &["user", "set-password", "acme", "Alice", "--password-stdin"],
        "a completely new passphrase\r\n",
    );
    assert!(success, "{out}");
    assert!(matches!(
        sign_in(&authn, &acme, "alice", PASSWORD).await,
        Err(LoginError::InvalidCredentials)
    ));
    sign_in(&authn, &acme, "alice", "a completely new passphrase")
        .await
        .unwrap();
    let cookie = session.cookie_value.expose_secret();
    assert!(
        authn
            .session(&acme, cookie, Clock.now())
            .await
            .unwrap()
            .is_none()
    );

    let (success, err) = cli_stdin(
        &app,
        &["user", "set-password", "acme", "alice", "--password-stdin"],
        "qwerty123\n",
    );
    assert!(!success);
    assert_eq!(err["error"], "invalid_request");
}

#[actix_web::test]
async fn cli_disable_refuses_sign_in_and_ends_sessions_until_enabled() {
    let app = spawn_app().await;
    ok(&app, &["tenant", "create", "acme"]);
    let (success, _) = cli_stdin(
        &app,
        &["user", "create", "acme", "alice", "--password-stdin"],
        PASSWORD,
    );
    assert!(success);
    let (authn, store) = authenticator(&app).await;
    let acme = tenant_record(&store, "acme").await;
    let user = sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
    let session = authn
        .start_session(&acme, &user, vec!["pwd".into()], None, Clock.now())
        .await
        .unwrap();
    let cookie = session.cookie_value.expose_secret();
    assert!(
        authn
            .session(&acme, cookie, Clock.now())
            .await
            .unwrap()
            .is_some()
    );

    let disabled = ok(&app, &["user", "disable", "acme", "alice"]);
    assert_eq!(disabled["status"], "disabled");
    assert!(
        authn
            .session(&acme, cookie, Clock.now())
            .await
            .unwrap()
            .is_none()
    );
    // A wrong password learns nothing about the status; the right one is told.
    assert!(matches!(
        sign_in(&authn, &acme, "alice", "not the password").await,
        Err(LoginError::InvalidCredentials)
    ));
    assert!(matches!(
        sign_in(&authn, &acme, "alice", PASSWORD).await,
        Err(LoginError::AccountDisabled)
    ));

    let enabled = ok(&app, &["user", "enable", "acme", "alice"]);
    assert_eq!(enabled["status"], "active");
    sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
    assert!(
        authn
            .session(&acme, cookie, Clock.now())
            .await
            .unwrap()
            .is_none(),
        "the old session stays ended"
    );
}

// ---------------------------------------------------------------------------------------------
// Admin API

#[actix_web::test]
async fn admin_api_creates_reads_updates_and_deletes_users() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;

    let resp = app
        .http
        .post(format!("{}/admin/v1/tenants/acme/users", app.address))
        .bearer_auth(&token)
        .json(&json!({
            "username": "Alice",
            "email": "alice@example.com",
            "email_verified": true,
            "given_name": "Alice",
            "claims": {"family_name": "Liddell", "address": {"locality": "Oxford"}},
            "password": PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(
        resp.headers()[reqwest::header::LOCATION],
        "/admin/v1/tenants/acme/users/alice"
    );
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["username"], "alice");
    assert_eq!(created["has_password"], true);
    assert_eq!(created["claims"]["given_name"], "Alice");
    assert_eq!(created["claims"]["address"]["locality"], "Oxford");
    assert_no_secrets(&created);

    let (status, shown) = app
        .admin(&token, Method::GET, "/tenants/acme/users/ALICE", None)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["id"], created["id"]);
    assert_no_secrets(&shown);

    // PATCH: a new address is unverified; claims merge (null removes one).
    let (status, patched) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/users/alice",
            Some(json!({
                "email": "alice@wonderland.example",
                "nickname": "Al",
                "claims": {"family_name": null},
            })),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["email"], "alice@wonderland.example");
    assert_eq!(patched["email_verified"], false);
    assert_eq!(patched["claims"]["nickname"], "Al");
    assert_eq!(patched["claims"]["given_name"], "Alice");
    assert!(patched["claims"].get("family_name").is_none(), "{patched}");
    let (status, err) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/users/alice",
            Some(json!({"status": "locked"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], "invalid_request");

    let (status, _) = app
        .admin(&token, Method::DELETE, "/tenants/acme/users/alice", None)
        .await;
    assert_eq!(status, 204);
    let (status, err) = app
        .admin(&token, Method::GET, "/tenants/acme/users/alice", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "not_found");
    let (status, _) = app
        .admin(&token, Method::DELETE, "/tenants/acme/users/alice", None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn admin_api_refuses_duplicates_weak_passwords_and_bad_names_clearly() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let create = |body: Value| app.admin(&token, Method::POST, "/tenants/acme/users", Some(body));

    let (status, _) = create(json!({"username": "alice", "password": PASSWORD})).await;
    assert_eq!(status, 201);
    let (status, err) = create(json!({"username": "ALICE", "password": PASSWORD})).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"], "conflict");

    for (body, needle) in [
        (
            json!({"username": "bob", "password": "123456789"}),
            "too common",
        ),
        (
            json!({"username": "bob", "password": "short"}),
            "at least 8",
        ),
        (
            json!({"username": "bobby-tables", "password": "Bobby-Tables"}),
            "not be the username",
        ),
        (json!({"username": "b o b"}), "username"),
        (json!({"username": "bob", "email": "bob"}), "email"),
        (
            json!({"username": "bob", "email_verified": true}),
            "email_verified",
        ),
        (
            json!({"username": "bob", "colour": "blue"}),
            "unknown field `colour`",
        ),
        (json!({"email": "bob@example.com"}), "username"),
    ] {
        let (status, err) = create(body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"], "invalid_request");
        let message = err["error_description"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    // The password route applies the same policy.
    let (status, err) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users/alice/password",
            Some(json!({"password": "qwerty"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users/nobody/password",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/nowhere/users", None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn admin_api_sets_passwords_and_disables_and_enables_users() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users",
            Some(json!({"username": "alice"})),
        )
        .await;
    assert_eq!(status, 201);
    let (authn, store) = authenticator(&app).await;
    let acme = tenant_record(&store, "acme").await;
    assert!(matches!(
        sign_in(&authn, &acme, "alice", PASSWORD).await,
        Err(LoginError::InvalidCredentials)
    ));

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users/alice/password",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let user = sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
    let (_, shown) = app
        .admin(&token, Method::GET, "/tenants/acme/users/alice", None)
        .await;
    assert_eq!(shown["has_password"], true);

    let session = authn
        .start_session(&acme, &user, vec!["pwd".into()], None, Clock.now())
        .await
        .unwrap();
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users/alice/disable",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "disabled");
    let cookie = session.cookie_value.expose_secret();
    assert!(
        authn
            .session(&acme, cookie, Clock.now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        sign_in(&authn, &acme, "alice", PASSWORD).await,
        Err(LoginError::AccountDisabled)
    ));

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/acme/users/alice/enable",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "active");
    sign_in(&authn, &acme, "alice", PASSWORD).await.unwrap();
}

#[actix_web::test]
async fn admin_api_lists_users_page_by_page() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for name in ["u1", "u2", "u3"] {
        let (status, body) = app
            .admin(
                &token,
                Method::POST,
                "/tenants/acme/users",
                Some(json!({"username": name})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/tenants/acme/users?limit=2&after={a}"),
            None => "/tenants/acme/users?limit=2".to_owned(),
        };
        let (status, page) = app.admin(&token, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            assert_no_secrets(item);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for bad in ["limit=0", "limit=1001", "after=nope", "sort=name"] {
        let (status, body) = app
            .admin(
                &token,
                Method::GET,
                &format!("/tenants/acme/users?{bad}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[actix_web::test]
async fn admin_api_searches_users_by_username_or_address_prefix_page_by_page() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("other", "ES256").await;
    let token = app.admin_token().await;
    let users = [
        ("acme", "alice", "Alice@Example.com"),
        ("acme", "alfred", "fred@example.com"),
        ("acme", "bob", "al.bob@example.com"),
        ("acme", "carol", "carol@example.com"),
        ("acme", "a_b", "ab@example.com"),
        ("acme", "axb", "axb@example.com"),
        ("other", "alma", "alma@example.com"),
    ];
    for (tenant, name, email) in users {
        let (status, body) = app
            .admin(
                &token,
                Method::POST,
                &format!("/tenants/{tenant}/users"),
                Some(json!({"username": name, "email": email})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    // A prefix of the name or of the address, whatever its case; never another tenant's user.
    let (status, page) = app
        .admin(&token, Method::GET, "/tenants/acme/users?search=AL", None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["alice", "alfred", "bob"]);
    // Paged like the plain listing.
    let (_, first) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/users?search=al&limit=2",
            None,
        )
        .await;
    assert_eq!(names(&first), ["alice", "alfred"]);
    let next = first["next"].as_str().unwrap();
    let (_, second) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/acme/users?search=al&limit=2&after={next}"),
            None,
        )
        .await;
    assert_eq!(names(&second), ["bob"]);
    assert!(second["next"].is_null(), "{second}");
    // LIKE wildcards are plain characters: `a_` finds `a_b`, not `axb`.
    let (_, page) = app
        .admin(&token, Method::GET, "/tenants/acme/users?search=a_", None)
        .await;
    assert_eq!(names(&page), ["a_b"]);
    let (_, page) = app
        .admin(&token, Method::GET, "/tenants/acme/users?search=%25", None)
        .await;
    assert_eq!(names(&page), Vec::<String>::new());
    let long = "a".repeat(201);
    let (status, body) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/acme/users?search={long}"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn users_belong_to_one_tenant_and_a_tenant_admin_reaches_only_its_own() {
    let app = spawn_app().await;
    app.create_tenant("alpha", "ES256").await;
    app.create_tenant("bravo", "ES256").await;
    let operator = app.admin_token().await;
    let alpha_admin = app.tenant_admin_token(&operator, "alpha").await;

    let (status, a) = app
        .admin(
            &alpha_admin,
            Method::POST,
            "/tenants/alpha/users",
            Some(json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    // The same username in another tenant is another user.
    let (status, b) = app
        .admin(
            &operator,
            Method::POST,
            "/tenants/bravo/users",
            Some(json!({"username": "alice", "password": "bravo's own passphrase"})),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_ne!(a["id"], b["id"]);

    for (method, path) in [
        (Method::GET, "/tenants/bravo/users"),
        (Method::GET, "/tenants/bravo/users/alice"),
        (Method::DELETE, "/tenants/bravo/users/alice"),
        (Method::POST, "/tenants/bravo/users/alice/disable"),
    ] {
        let (status, body) = app.admin(&alpha_admin, method.clone(), path, None).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    let (status, list) = app
        .admin(&alpha_admin, Method::GET, "/tenants/alpha/users", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Each tenant signs in its own alice, with her own password.
    let (authn, store) = authenticator(&app).await;
    let alpha = tenant_record(&store, "alpha").await;
    let bravo = tenant_record(&store, "bravo").await;
    let at_alpha = sign_in(&authn, &alpha, "alice", PASSWORD).await.unwrap();
    assert_eq!(at_alpha.id.to_string(), a["id"].as_str().unwrap());
    assert!(sign_in(&authn, &bravo, "alice", PASSWORD).await.is_err());
    let session = authn
        .start_session(&alpha, &at_alpha, vec!["pwd".into()], None, Clock.now())
        .await
        .unwrap();
    assert!(
        authn
            .session(&bravo, session.cookie_value.expose_secret(), Clock.now())
            .await
            .unwrap()
            .is_none()
    );
}

#[actix_web::test]
async fn user_routes_need_an_admin_token() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let resp = app
        .http
        .post(format!("{}/admin/v1/tenants/acme/users", app.address))
        .json(&json!({"username": "mallory", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let token = app.admin_token().await;
    let (_, list) = app
        .admin(&token, Method::GET, "/tenants/acme/users", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
}
