//! Consent management: the account page (`/t/{tenant}/account`) listing the apps holding a
//! user's access and revoking one of them — over HTTP with the cookie agent and in a real
//! Chromium — and the admin API's grant listing and revocation per user and per client.

use reqwest::Method;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tessera_store::audit::{self, AuditFilter};
use tessera_store::{AuditEventRecord, PoolSettings, Store};

use crate::agent::{Agent, SignIn, Step, hidden_fields, sign_in_fixture};
use crate::browser::Browser;
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app};

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

/// The fixture's tenant, user `alice` and app "Photo App", plus a second app "Mail App".
async fn two_apps(app: &TestApp, slug: &str) -> (SignIn, SignIn) {
    let photo = sign_in_fixture(app, slug, false).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(json!({
                "name": "Mail App",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [photo.redirect_uri],
                "scopes": ["openid", "profile", "email", "offline_access"],
            })),
        )
        .await;
    assert_eq!(status, 201, "second client: {body}");
    let mail = SignIn {
        tenant: photo.tenant.clone(),
        client_id: body["client_id"].as_str().unwrap().to_owned(),
        client_secret: body["client_secret"].as_str().unwrap().to_owned(),
        redirect_uri: photo.redirect_uri.clone(),
        post_logout_redirect_uri: photo.post_logout_redirect_uri.clone(),
        username: photo.username.clone(),
        password: photo.password.clone(),
    };
    (photo, mail)
}

/// The same app signed in as another user.
pub(crate) fn as_user(f: &SignIn, username: &str, password: &str) -> SignIn {
    SignIn {
        tenant: f.tenant.clone(),
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
        redirect_uri: f.redirect_uri.clone(),
        post_logout_redirect_uri: f.post_logout_redirect_uri.clone(),
        username: username.to_owned(),
        password: password.to_owned(),
    }
}

/// Signs the user in to the app (login, consent to every scope) and redeems the code; the agent
/// (holding the SSO session) and the token response. `prompt=consent`, so `offline_access` is
/// honoured (OIDC Core §11).
pub(crate) async fn tokens(app: &TestApp, f: &SignIn, scope: &str) -> (Agent, Value) {
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(app, scope, VERIFIER, &[("prompt", "consent")]))
        .await;
    let step = agent.login(step.page().1, &f.username, &f.password).await;
    let all: Vec<&str> = scope.split(' ').collect();
    let step = agent.consent(step.page().1, &all, true).await;
    let code = crate::agent::param(step.location(), "code").expect("a code");
    let (status, body) = f.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "code exchange: {body}");
    assert!(body["refresh_token"].is_string(), "a refresh token: {body}");
    (agent, body)
}

/// Refreshes at the app's token endpoint; status and the `error` (empty on success).
pub(crate) async fn refresh(app: &TestApp, f: &SignIn, tokens: &Value) -> (u16, String) {
    let resp = app
        .post_token(
            &f.tenant,
            Some((&f.client_id, &f.client_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The status of a userinfo request with the token response's access token.
async fn userinfo(app: &TestApp, slug: &str, tokens: &Value) -> u16 {
    app.http
        .get(format!("{}/userinfo", app.issuer(slug)))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn account_url(app: &TestApp, slug: &str) -> String {
    format!("{}/account", app.issuer(slug))
}

fn revoke_url(app: &TestApp, slug: &str, client_id: &str) -> String {
    format!("{}/account/grants/{client_id}/revoke", app.issuer(slug))
}

/// The account page as the agent sees it; panics unless it is the signed-in page.
async fn account_page(agent: &Agent, app: &TestApp, slug: &str) -> String {
    let step = agent.get(&account_url(app, slug)).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Your account</h1>"), "{page}");
    page.to_owned()
}

/// The CSRF token of a page's forms.
fn csrf_of(page: &str) -> String {
    hidden_fields(page)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value)
        .unwrap_or_else(|| panic!("no CSRF token on {page}"))
}

/// POSTs the revoke form for `client_id` with `csrf` (or none); the raw response.
async fn post_revoke(
    agent: &Agent,
    app: &TestApp,
    slug: &str,
    client_id: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = csrf.map(|c| ("csrf_token", c)).into_iter().collect();
    agent
        .http
        .post(revoke_url(app, slug, client_id))
        .header(reqwest::header::USER_AGENT, "AccountTest/1.0")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The `id` of a resource the admin API shows at `path`.
async fn admin_id(app: &TestApp, path: &str) -> String {
    let token = app.admin_token().await;
    let (status, body) = app.admin(&token, Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Every `grant.revoked` audit event of the tenant, newest first, read from the database.
async fn revocation_events(app: &TestApp, slug: &str) -> Vec<AuditEventRecord> {
    let tenant_id: uuid::Uuid = admin_id(app, &format!("/tenants/{slug}"))
        .await
        .parse()
        .unwrap();
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    let events = audit::list(
        store.conn(),
        tessera_core::TenantId(tenant_id),
        &AuditFilter {
            action: Some("grant.revoked".to_owned()),
            ..AuditFilter::default()
        },
        100,
    )
    .await
    .unwrap();
    drop(store);
    events
}

/// Creates user `username` through the admin API.
async fn create_user(app: &TestApp, slug: &str, username: &str, password: &str) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{slug}/users"),
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(status, 201, "user: {body}");
}

/// Signs a fresh agent in through the account page's own form; the agent and its CSRF token.
async fn account_sign_in(
    app: &TestApp,
    slug: &str,
    username: &str,
    password: &str,
) -> (Agent, String) {
    let agent = Agent::new();
    let step = agent.get(&account_url(app, slug)).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    let csrf = csrf_of(page);
    let step = agent.login(page, username, password).await;
    assert_eq!(step.location(), account_url(app, slug));
    (agent, csrf)
}

#[actix_web::test]
async fn revoking_one_app_on_the_account_page_cuts_its_tokens_and_leaves_the_other_working() {
    let app = spawn_app().await;
    let (photo, mail) = two_apps(&app, "acct-revoke").await;
    let (agent, photo_tokens) = tokens(&app, &photo, "openid email offline_access").await;
    let (_, mail_tokens) = tokens(&app, &mail, "openid profile").await;

    // Both apps are listed with the scopes they were granted, described.
    let page = account_page(&agent, &app, "acct-revoke").await;
    assert!(
        page.contains("Signed in as <strong>alice</strong>"),
        "{page}"
    );
    for needle in [
        "Photo App",
        "Mail App",
        "openid email offline_access",
        "openid profile",
        "Sign you in; Your e-mail address; Stay signed in while you are away",
        "Sign you in; Your name and basic profile",
        "Access granted",
        "Last used",
        " UTC</dd>",
        &revoke_url(&app, "acct-revoke", &photo.client_id),
        &revoke_url(&app, "acct-revoke", &mail.client_id),
        "aria-label=\"Revoke access for Photo App\"",
        &format!("href=\"{}/logout\"", app.issuer("acct-revoke")),
    ] {
        assert!(page.contains(needle), "the page shows {needle:?}: {page}");
    }

    let resp = post_revoke(
        &agent,
        &app,
        "acct-revoke",
        &photo.client_id,
        Some(&csrf_of(&page)),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!(
            "{}?revoked={}",
            account_url(&app, "acct-revoke"),
            photo.client_id
        )
    );

    // Back on the page: a confirmation, and only the other app.
    let (status, page) = match agent.get(&location).await {
        Step::Page(status, page) => (status, page),
        other => panic!("expected the account page, got {other:?}"),
    };
    assert_eq!(status, 200);
    assert!(
        page.contains("Photo App no longer has access to your account."),
        "{page}"
    );
    assert!(page.contains("role=\"status\""), "{page}");
    assert!(page.contains("Mail App"), "{page}");
    assert!(!page.contains("Revoke access for Photo App"), "{page}");

    // The revoked app's tokens are dead; the other app's are not.
    assert_eq!(
        refresh(&app, &photo, &photo_tokens).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(userinfo(&app, "acct-revoke", &photo_tokens).await, 401);
    assert_eq!(userinfo(&app, "acct-revoke", &mail_tokens).await, 200);
    assert_eq!(refresh(&app, &mail, &mail_tokens).await.0, 200);

    // The next authorization asks for consent again.
    let (_, page) = tokens_consent_page(&app, &photo).await;
    assert!(page.contains("Allow access?"), "{page}");

    // One audit event, naming the user, the app and where the request came from.
    let user_id = admin_id(&app, "/tenants/acct-revoke/users/alice").await;
    let events = revocation_events(&app, "acct-revoke").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.actor, format!("user:{user_id}"));
    assert_eq!(event.user_id.map(|u| u.to_string()), Some(user_id.clone()));
    assert_eq!(
        event.client_id.as_ref().map(|c| c.to_string()),
        Some(photo.client_id.clone())
    );
    assert_eq!(event.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(event.user_agent.as_deref(), Some("AccountTest/1.0"));
    assert_eq!(event.details["scopes"], "openid email offline_access");
    assert_eq!(event.details["families_revoked"], 1);
}

/// A signed-in agent's authorization request for the app: the page it lands on.
async fn tokens_consent_page(app: &TestApp, f: &SignIn) -> (Agent, String) {
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(app, "openid email", VERIFIER, &[]))
        .await;
    let (_, page) = step.page();
    let step = agent.login(page, &f.username, &f.password).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    (agent, page.to_owned())
}

#[actix_web::test]
async fn the_revoke_form_without_its_csrf_token_is_refused_and_revokes_nothing() {
    let app = spawn_app().await;
    let (photo, _) = two_apps(&app, "acct-csrf").await;
    let (agent, photo_tokens) = tokens(&app, &photo, "openid email").await;
    let page = account_page(&agent, &app, "acct-csrf").await;
    let csrf = csrf_of(&page);

    for (what, token) in [
        ("no token", None),
        ("an empty token", Some(String::new())),
        ("a wrong token", Some("x".repeat(43))),
    ] {
        let resp = post_revoke(
            &agent,
            &app,
            "acct-csrf",
            &photo.client_id,
            token.as_deref(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 403, "{what}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("not sent by this site"), "{what}: {body}");
    }
    // The right token from a browser without the CSRF cookie (a cross-site form cannot make the
    // browser send the SameSite=Strict cookie) is refused too.
    let session_only = Agent::new();
    let resp = session_only
        .http
        .post(revoke_url(&app, "acct-csrf", &photo.client_id))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    assert_eq!(refresh(&app, &photo, &photo_tokens).await.0, 200);
    let page = account_page(&agent, &app, "acct-csrf").await;
    assert!(page.contains("Revoke access for Photo App"), "{page}");
    assert!(revocation_events(&app, "acct-csrf").await.is_empty());
}

#[actix_web::test]
async fn a_user_cannot_revoke_another_users_grant() {
    let app = spawn_app().await;
    let (photo, _) = two_apps(&app, "acct-other-user").await;
    let (_, alice_tokens) = tokens(&app, &photo, "openid email").await;
    create_user(&app, "acct-other-user", "bob", "bob's long enough password").await;

    // Bob, signed in on his own account page, posts a revocation of the app Alice uses.
    let (bob, csrf) =
        account_sign_in(&app, "acct-other-user", "bob", "bob's long enough password").await;
    let page = account_page(&bob, &app, "acct-other-user").await;
    assert!(page.contains("Signed in as <strong>bob</strong>"), "{page}");
    assert!(
        page.contains("No apps have access to your account."),
        "{page}"
    );
    let resp = post_revoke(&bob, &app, "acct-other-user", &photo.client_id, Some(&csrf)).await;
    assert_eq!(resp.status().as_u16(), 303);

    // Only Bob's own (absent) grant was concerned: Alice keeps hers, and nothing was audited.
    assert_eq!(refresh(&app, &photo, &alice_tokens).await.0, 200);
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acct-other-user/users/alice/grants",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    assert!(revocation_events(&app, "acct-other-user").await.is_empty());
}

#[actix_web::test]
async fn the_account_page_asks_to_sign_in_and_returns_to_the_page() {
    let app = spawn_app().await;
    let (photo, _) = two_apps(&app, "acct-login").await;
    let agent = Agent::new();
    let step = agent.get(&account_url(&app, "acct-login")).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(page.contains("name=\"password\""), "a sign-in form: {page}");
    assert!(
        page.contains(&format!(
            "action=\"{}/account/login\"",
            app.issuer("acct-login")
        )),
        "{page}"
    );

    // A wrong password: refused with the form again (and counted by the throttle).
    let step = agent.login(page, "alice", "not the password").await;
    let (status, page) = step.page();
    assert_eq!(status, 401);
    assert!(page.contains("Incorrect username or password."), "{page}");

    // Without the CSRF token the form is refused.
    let resp = agent
        .http
        .post(format!("{}/account/login", app.issuer("acct-login")))
        .form(&[("username", "alice"), ("password", photo.password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let step = agent.login(page, "alice", &photo.password).await;
    assert_eq!(step.location(), account_url(&app, "acct-login"));
    let page = account_page(&agent, &app, "acct-login").await;
    assert!(
        page.contains("No apps have access to your account."),
        "{page}"
    );

    // The revoke form without a session leads back to the sign-in form.
    let stranger = Agent::new();
    let step = stranger.get(&account_url(&app, "acct-login")).await;
    let (_, login) = step.page();
    let resp = post_revoke(
        &stranger,
        &app,
        "acct-login",
        &photo.client_id,
        Some(&csrf_of(login)),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(
        resp.headers()[LOCATION].to_str().unwrap(),
        account_url(&app, "acct-login")
    );
}

#[actix_web::test]
async fn the_account_sign_in_form_is_throttled_like_the_login_page() {
    let app = spawn_app().await;
    let (photo, _) = two_apps(&app, "acct-throttle").await;
    let token = app.admin_token().await;
    let lockout =
        json!({"free_attempts": 3, "lock_after": 3, "lock_secs": 900, "window_secs": 900});
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acct-throttle/settings",
            Some(json!({ "lockout": lockout })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;

    let agent = Agent::new();
    let step = agent.get(&account_url(&app, "acct-throttle")).await;
    let mut page = step.page().1.to_owned();
    for attempt in 1..=3 {
        let step = agent
            .login(&page, "alice", &format!("wrong password {attempt}"))
            .await;
        let (status, next) = step.page();
        assert!([401, 429].contains(&status), "attempt {attempt}: {status}");
        page = next.to_owned();
    }
    // Even the right password is refused while the account is locked.
    let step = agent.login(&page, "alice", &photo.password).await;
    let (status, page) = step.page();
    assert_eq!(status, 429, "{page}");
    assert!(
        page.contains("Too many failed attempts: sign-in is locked for a while."),
        "{page}"
    );
}

/// A token of a tenant admin of `tenant`.
async fn tenant_admin_token(app: &TestApp, tenant: &str) -> String {
    app.create_tenant(tenant, "ES256").await;
    let operator = app.admin_token().await;
    let (status, body) = app
        .admin(
            &operator,
            Method::POST,
            &format!("/tenants/{tenant}/admins"),
            Some(json!({"name": format!("{tenant} admin")})),
        )
        .await;
    assert_eq!(status, 201, "tenant admin: {body}");
    let admin = TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    };
    app.client_credentials_token("system", &admin, Some("admin"))
        .await
}

#[actix_web::test]
async fn admins_list_and_revoke_grants_per_user_and_per_client() {
    let app = spawn_app().await;
    let slug = "acct-admin";
    let (photo, mail) = two_apps(&app, slug).await;
    create_user(&app, slug, "bob", "bob's long enough password").await;
    let photo_bob = as_user(&photo, "bob", "bob's long enough password");
    let (_, alice_photo) = tokens(&app, &photo, "openid email").await;
    let (_, alice_mail) = tokens(&app, &mail, "openid profile offline_access").await;
    let (_, bob_photo) = tokens(&app, &photo_bob, "openid").await;
    let operator = app.admin_token().await;

    // Per user: both of Alice's apps, with scopes and times.
    let (status, body) = app
        .admin(
            &operator,
            Method::GET,
            &format!("/tenants/{slug}/users/alice/grants"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    let of = |id: &str| items.iter().find(|g| g["client_id"] == id).unwrap().clone();
    assert_eq!(of(&photo.client_id)["client_name"], "Photo App");
    assert_eq!(of(&photo.client_id)["scopes"], json!(["openid", "email"]));
    assert_eq!(
        of(&mail.client_id)["scopes"],
        json!(["openid", "profile", "offline_access"])
    );
    for g in items {
        assert!(g["created_at"].as_i64().unwrap() > 0, "{g}");
        assert!(g["updated_at"].as_i64().unwrap() > 0, "{g}");
        assert!(g["last_used_at"].as_i64().unwrap() > 0, "{g}");
    }

    // Per client: Alice and Bob granted the photo app.
    let (status, body) = app
        .admin(
            &operator,
            Method::GET,
            &format!("/tenants/{slug}/clients/{}/grants", photo.client_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut users: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["username"].as_str().unwrap())
        .collect();
    users.sort();
    assert_eq!(users, ["alice", "bob"]);

    // A tenant admin of another tenant sees and changes nothing here.
    let outsider = tenant_admin_token(&app, "acct-elsewhere").await;
    for (method, path) in [
        (Method::GET, format!("/tenants/{slug}/users/alice/grants")),
        (
            Method::DELETE,
            format!("/tenants/{slug}/users/alice/grants/{}", mail.client_id),
        ),
        (
            Method::GET,
            format!("/tenants/{slug}/clients/{}/grants", photo.client_id),
        ),
        (
            Method::DELETE,
            format!("/tenants/{slug}/clients/{}/grants", photo.client_id),
        ),
    ] {
        let (status, body) = app.admin(&outsider, method.clone(), &path, None).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    assert_eq!(refresh(&app, &mail, &alice_mail).await.0, 200);

    // Revoke one user's grant to one client.
    let path = format!("/tenants/{slug}/users/alice/grants/{}", mail.client_id);
    let (status, body) = app.admin(&operator, Method::DELETE, &path, None).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app.admin(&operator, Method::DELETE, &path, None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    assert_eq!(
        refresh(&app, &mail, &alice_mail).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(userinfo(&app, slug, &alice_mail).await, 401);
    assert_eq!(refresh(&app, &photo, &alice_photo).await.0, 200);
    let (status, _) = app
        .admin(
            &operator,
            Method::DELETE,
            &format!("/tenants/{slug}/users/nobody/grants/{}", mail.client_id),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Revoke every user's grant to the photo app.
    let (status, body) = app
        .admin(
            &operator,
            Method::DELETE,
            &format!("/tenants/{slug}/clients/{}/grants", photo.client_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}");
    for item in body["items"].as_array().unwrap() {
        assert!(item["families_revoked"].as_u64().unwrap() >= 1, "{item}");
    }
    assert_eq!(
        refresh(&app, &photo, &alice_photo).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(
        refresh(&app, &photo_bob, &bob_photo).await,
        (400, "invalid_grant".to_owned())
    );
    let (status, body) = app
        .admin(
            &operator,
            Method::GET,
            &format!("/tenants/{slug}/clients/{}/grants", photo.client_id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));
    let (status, _) = app
        .admin(
            &operator,
            Method::GET,
            &format!("/tenants/{slug}/clients/no-such-client/grants"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Three audit events, each naming the operator's admin client.
    let events = revocation_events(&app, slug).await;
    assert_eq!(events.len(), 3, "{events:?}");
    for event in &events {
        assert_eq!(event.actor, format!("admin:{}", app.operator_id));
    }
}

#[actix_web::test]
async fn revoking_an_app_in_chromium_leaves_only_the_other() {
    let app = spawn_app().await;
    let slug = "acct-browser";
    let (photo, mail) = two_apps(&app, slug).await;
    let (_, photo_tokens) = tokens(&app, &photo, "openid email offline_access").await;
    let (_, mail_tokens) = tokens(&app, &mail, "openid profile").await;
    let browser = Browser::launch().await;

    // No session in this browser: the account page's own sign-in form.
    browser.goto(&account_url(&app, slug)).await;
    assert!(browser.exists("input[name=password]").await);
    browser.fill("input[name=username]", "alice").await;
    browser.fill("input[name=password]", &photo.password).await;
    browser.click("form button[type=submit]").await;

    assert_eq!(browser.url().await, account_url(&app, slug));
    let text = browser.text().await;
    assert!(text.contains("Your account"), "{text}");
    assert!(text.contains("Photo App"), "{text}");
    assert!(text.contains("Mail App"), "{text}");
    let photo_item = format!("li[data-client-id=\"{}\"]", photo.client_id);
    let mail_item = format!("li[data-client-id=\"{}\"]", mail.client_id);
    assert!(browser.exists(&photo_item).await);
    assert!(browser.exists(&mail_item).await);
    // The page's own styles apply under its CSP nonce.
    assert_eq!(
        browser
            .eval(&format!(
                "getComputedStyle(document.querySelector({})).borderTopStyle",
                json!(photo_item)
            ))
            .await,
        "solid"
    );
    // Each revoke button is labelled with its app and reachable from the keyboard.
    let label = browser
        .eval(&format!(
            "(() => {{ const b = document.querySelector({}); b.focus(); \
             return document.activeElement === b ? b.getAttribute('aria-label') : null; }})()",
            json!(format!("{photo_item} button[type=submit]"))
        ))
        .await;
    assert_eq!(label, "Revoke access for Photo App");
    browser.screenshot("account_two_apps").await;

    browser
        .click(&format!("{photo_item} button[type=submit]"))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Photo App no longer has access to your account."),
        "{text}"
    );
    assert!(!browser.exists(&photo_item).await, "{text}");
    assert!(browser.exists(&mail_item).await, "{text}");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('ul.apps > li').length")
            .await,
        1
    );
    browser.screenshot("account").await;

    // Over HTTP: the other app still refreshes, the revoked one does not.
    assert_eq!(refresh(&app, &mail, &mail_tokens).await.0, 200);
    assert_eq!(
        refresh(&app, &photo, &photo_tokens).await,
        (400, "invalid_grant".to_owned())
    );
}
