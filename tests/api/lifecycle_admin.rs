//! Administrator actions on accounts, end to end: an invitation mailed over real SMTP, accepted
//! on `/invitation` and followed by a sign-in whose ID token says `email_verified`; resending
//! the verification link; forcing a password reset (sessions and refresh tokens end, the old
//! password stops working, the mailed link works); unlocking an account locked by failed
//! sign-ins; each action in the audit log; tenant isolation; the CLI variants.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::{TenantId, UserId, UserStatus};
use tessera_store::{PoolSettings, Store, users};

use crate::account::{as_user, refresh};
use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app, spawn_app_with, within};
use crate::mail::smtp_to;
use crate::opaque::jwt_claims;
use crate::password_reset::set_password;
use crate::smtp::{SmtpServer, parse};

const VERIFIER: &str = "lifecycle-admin-verifier-0123456789-abcdefghijklmnop";

/// The administrator's per-user actions: method and path segment under `/users/{username}/`.
const USER_ACTIONS: [(Method, &str); 4] = [
    (Method::POST, "verification"),
    (Method::POST, "password-reset"),
    (Method::POST, "unlock"),
    (Method::DELETE, "mfa"),
];

/// The links to `path` (`/invitation`, `/verify-email`, `/password/reset`) in the text parts of
/// the messages received for `to`, oldest first, once there are at least `n`.
async fn mailed_links(smtp: &SmtpServer, to: &str, path: &str, n: usize) -> Vec<String> {
    let collect = || {
        smtp.received()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == to))
            .filter_map(|m| {
                let parsed = parse(&m.data);
                let text = parsed.part("text/plain")?.to_owned();
                text.split_whitespace()
                    .find(|w| w.contains(&format!("{path}?token=")))
                    .map(str::to_owned)
            })
            .collect::<Vec<_>>()
    };
    let arrived = within(Duration::from_secs(15), || async { collect().len() >= n }).await;
    let links = collect();
    assert!(
        arrived.is_some(),
        "expected {n} mails with {path} links to {to}, got {links:?} of {} messages",
        smtp.received().len()
    );
    links
}

/// Runs the real `tessera` binary like `TestApp::cli`, configured with the server's public URL
/// (as an operator shares the server's configuration with the CLI), so the links it mails
/// point at this server.
fn cli(app: &TestApp, args: &[&str]) -> (bool, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .env("TESSERA__SERVER__PUBLIC_URL", &app.address)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .arg("--database-url")
        .arg(&app.database_url)
        .arg("--json")
        .args(args)
        .output()
        .expect("run tessera");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.success(), value)
}

/// Signs `f`'s user in to the app (consent to every scope) and redeems the code: the agent and
/// the token response.
async fn tokens(app: &TestApp, f: &SignIn, scope: &str) -> (Agent, Value) {
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(app, scope, VERIFIER, &[("prompt", "consent")]))
        .await;
    let step = agent.login(step.page().1, &f.username, &f.password).await;
    let step = match step {
        Step::Page(_, page) => {
            let all: Vec<&str> = scope.split(' ').collect();
            agent.consent(&page, &all, true).await
        }
        redirect => redirect,
    };
    let code = param(step.location(), "code").expect("a code");
    let (status, body) = f.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "code exchange: {body}");
    (agent, body)
}

/// The account page's sign-in form for a fresh agent; the status and page after submitting.
async fn account_sign_in(app: &TestApp, slug: &str, username: &str, password: &str) -> Step {
    let agent = Agent::new();
    let step = agent.get(&format!("{}/account", app.issuer(slug))).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    agent.login(page, username, password).await
}

/// Whether a sign-in on the account page succeeds (it redirects back to the account page).
pub(crate) async fn signs_in(app: &TestApp, slug: &str, username: &str, password: &str) -> bool {
    matches!(
        account_sign_in(app, slug, username, password).await,
        Step::Redirect(_)
    )
}

/// The actions (and actors) of the audit events about `username`, newest first.
async fn audit_of(app: &TestApp, token: &str, slug: &str, username: &str) -> Vec<(String, String)> {
    let (status, body) = app
        .admin(
            token,
            Method::GET,
            &format!("/tenants/{slug}/audit-events?user={username}&limit=500"),
            None,
        )
        .await;
    assert_eq!(status, 200, "audit: {body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The admin actor of the operator token.
async fn operator_actor(app: &TestApp) -> String {
    format!("admin:{}", app.operator_id)
}

#[actix_web::test]
async fn an_invited_user_follows_the_mailed_link_sets_a_password_and_signs_in_verified() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let f = sign_in_fixture(&app, "inv-flow", true).await;
    let token = app.admin_token().await;

    // Sign-up is off (the default): an administrator may invite all the same.
    let (status, user) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-flow/invitations",
            Some(json!({"username": "Bob", "email": "bob@example.com", "given_name": "Bob"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["username"], "bob");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["has_password"], false);
    assert_eq!(user["claims"]["given_name"], "Bob");
    assert!(!user.to_string().contains("token"), "{user}");

    let links = mailed_links(&smtp, "bob@example.com", "/invitation", 1).await;
    let link = &links[0];
    assert!(
        link.starts_with(&format!("{}/invitation?token=", app.issuer("inv-flow"))),
        "{link}"
    );
    let message = smtp
        .received()
        .into_iter()
        .find(|m| m.rcpt_to == vec!["bob@example.com".to_owned()])
        .unwrap();
    let text = parse(&message.data).part("text/plain").unwrap().to_owned();
    assert!(text.contains("Hello bob"), "{text}");
    assert!(text.contains("invited you"), "the inviter is named: {text}");

    // The page names the account; refused passwords re-render the form, the link stays usable.
    let agent = Agent::new();
    let (status, page) = agent.get(link).await.page().clone_owned();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Welcome, set your password"), "{page}");
    assert!(page.contains("<strong>bob</strong>"), "{page}");
    let step = set_password(&agent, &page, "one long password", "another").await;
    let (status, page) = step.page();
    assert_eq!(status, 400);
    assert!(page.contains("The two passwords do not match."), "{page}");
    let step = set_password(&agent, page, "short", "short").await;
    let (status, page) = step.page();
    assert_eq!(status, 400);
    assert!(
        page.contains("invitation-error"),
        "a policy message: {page}"
    );
    // Without the CSRF cookie's token the form is refused.
    let stranger = Agent::new();
    let step = set_password(&stranger, page, "bobs new password", "bobs new password").await;
    assert_eq!(step.page().0, 403);

    let password = "bobs new password";
    let step = set_password(&agent, page, password, password).await;
    let (status, done) = step.page();
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Your account is ready"), "{done}");
    assert!(
        done.contains(&format!("{}/account", app.issuer("inv-flow"))),
        "a way to sign in: {done}"
    );

    // The link is spent: the page and the form both say so, without saying why.
    let (status, dead) = Agent::new().get(link).await.page().clone_owned();
    assert_eq!(status, 410);
    assert!(dead.contains("This link is not valid any more"), "{dead}");
    let step = set_password(&agent, page, "yet another one", "yet another one").await;
    assert_eq!(step.page().0, 410);

    // Bob signs in to the app; the ID token and userinfo say the address is verified.
    let bob = as_user(&f, "bob", password);
    let (_, body) = tokens(&app, &bob, "openid email").await;
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user["id"], "{claims}");
    let info: Value = app
        .http
        .get(format!("{}/userinfo", app.issuer("inv-flow")))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "bob@example.com", "{info}");
    assert_eq!(info["email_verified"], true, "{info}");

    let events = audit_of(&app, &token, "inv-flow", "bob").await;
    let actor = operator_actor(&app).await;
    assert!(
        events.contains(&("user.invited".to_owned(), actor)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(a, who)| a == "user.invitation_accepted" && who.starts_with("user:")),
        "{events:?}"
    );
}

/// A page's status and body, owned.
trait CloneOwned {
    fn clone_owned(&self) -> (u16, String);
}

impl CloneOwned for (u16, &str) {
    fn clone_owned(&self) -> (u16, String) {
        (self.0, self.1.to_owned())
    }
}

#[actix_web::test]
async fn invitations_refuse_taken_names_bad_addresses_and_passwords_and_dead_tokens() {
    let app = spawn_app().await;
    sign_in_fixture(&app, "inv-bad", true).await;
    let token = app.admin_token().await;
    let invite = |body: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.admin(
                token,
                Method::POST,
                "/tenants/inv-bad/invitations",
                Some(body),
            )
            .await
        }
    };
    let (status, body) = invite(json!({"username": "alice", "email": "a2@example.com"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    for bad in [
        json!({"username": "carol", "email": "not an address"}),
        json!({"username": "carol"}),
        json!({"username": "carol", "email": "c@example.com", "password": "pw-pw-pw-pw"}),
        json!({"username": "carol", "email": "c@example.com", "email_verified": true}),
        json!({"username": "carol", "email": "c@example.com", "colour": "blue"}),
    ] {
        let (status, body) = invite(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
    // Nothing was created by the refused invitations.
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/inv-bad/users/carol", None)
        .await;
    assert_eq!(status, 404);

    // Made-up and malformed tokens get the dead-link page.
    for token in ["", "made-up-token", "x'%20or%201=1", &"a".repeat(200)] {
        let url = format!("{}/invitation?token={token}", app.issuer("inv-bad"));
        let (status, page) = Agent::new().get(&url).await.page().clone_owned();
        assert_eq!(status, 410, "{token}: {page}");
        assert!(page.contains("This link is not valid any more"), "{page}");
    }
}

#[actix_web::test]
async fn resending_verification_kills_the_old_link_and_the_new_one_confirms_the_address() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    sign_in_fixture(&app, "inv-verify", true).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-verify/users",
            Some(json!({"username": "carol", "email": "carol@example.com", "password": "carols password"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let resend = || async {
        app.admin(
            &token,
            Method::POST,
            "/tenants/inv-verify/users/carol/verification",
            None,
        )
        .await
    };
    let (status, first) = resend().await;
    assert_eq!(status, 202, "{first}");
    assert!(
        first["mail_id"].is_string() && first["expires_at"].is_i64(),
        "{first}"
    );
    let links = mailed_links(&smtp, "carol@example.com", "/verify-email", 1).await;
    let old = links[0].clone();
    let (status, _) = resend().await;
    assert_eq!(status, 202);
    let links = mailed_links(&smtp, "carol@example.com", "/verify-email", 2).await;
    let new = links.iter().find(|l| **l != old).unwrap().clone();

    let (status, page) = Agent::new().get(&old).await.page().clone_owned();
    assert_eq!(status, 410, "the superseded link is dead: {page}");
    let agent = Agent::new();
    let (status, page) = agent.get(&new).await.page().clone_owned();
    assert_eq!(status, 200, "{page}");
    let step = agent.submit(&page, &[]).await;
    assert_eq!(step.page().0, 200, "{:?}", step);
    let (_, user) = app
        .admin(&token, Method::GET, "/tenants/inv-verify/users/carol", None)
        .await;
    assert_eq!(user["email_verified"], true, "{user}");

    // Verified now, or without an address: nothing to resend.
    let (status, body) = resend().await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-verify/users",
            Some(json!({"username": "dan"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-verify/users/dan/verification",
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let events = audit_of(&app, &token, "inv-verify", "carol").await;
    let sent = events
        .iter()
        .filter(|(a, who)| a == "user.verification_sent" && who.starts_with("admin:"))
        .count();
    assert_eq!(sent, 2, "{events:?}");
}

#[actix_web::test]
async fn a_forced_reset_ends_sessions_and_refresh_tokens_and_mails_a_working_link() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let f = sign_in_fixture(&app, "inv-reset", true).await;
    let token = app.admin_token().await;
    let (agent, issued) = tokens(&app, &f, "openid email offline_access").await;
    assert!(issued["refresh_token"].is_string(), "{issued}");

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset/users/alice/password-reset",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_revoked"], true);
    assert_eq!(body["user"]["has_password"], false);
    assert!(body["sessions_ended"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["families_revoked"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["link"]["mail_id"].is_string(), "{body}");
    assert!(!body.to_string().contains("token="), "{body}");

    // The refresh token, the session and the old password are gone.
    assert_eq!(
        refresh(&app, &f, &issued).await,
        (400, "invalid_grant".to_owned())
    );
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[("prompt", "none")]))
        .await;
    assert_eq!(
        param(step.location(), "error").as_deref(),
        Some("login_required")
    );
    assert!(!signs_in(&app, "inv-reset", "alice", &f.password).await);

    // The mailed link sets a new password that works.
    let links = mailed_links(&smtp, "alice@example.com", "/password/reset", 1).await;
    let link = &links[0];
    assert!(
        link.starts_with(&format!(
            "{}/password/reset?token=",
            app.issuer("inv-reset")
        )),
        "{link}"
    );
    let browser = Agent::new();
    let (status, page) = browser.get(link).await.page().clone_owned();
    assert_eq!(status, 200, "{page}");
    let fresh = "alices fresh password";
    let step = set_password(&browser, &page, fresh, fresh).await;
    assert_eq!(step.page().0, 200, "{step:?}");
    assert!(signs_in(&app, "inv-reset", "alice", fresh).await);

    let events = audit_of(&app, &token, "inv-reset", "alice").await;
    assert!(
        events.contains(&(
            "user.password_reset_forced".to_owned(),
            operator_actor(&app).await
        )),
        "{events:?}"
    );
}

#[actix_web::test]
async fn a_forced_reset_can_keep_the_password_and_needs_an_address_unless_it_revokes_it() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "inv-reset2", true).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset2/users/alice/password-reset",
            Some(json!({"revoke_password": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_revoked"], false);
    assert!(signs_in(&app, "inv-reset2", "alice", &f.password).await);

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset2/users/alice/password-reset",
            Some(json!({"revoke": true})),
        )
        .await;
    assert_eq!(status, 400, "unknown members are refused: {body}");

    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset2/users",
            Some(json!({"username": "erin", "password": "erins password"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset2/users/erin/password-reset",
            Some(json!({"revoke_password": false})),
        )
        .await;
    assert_eq!(status, 409, "no address, nothing to do: {body}");
    assert!(signs_in(&app, "inv-reset2", "erin", "erins password").await);
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-reset2/users/erin/password-reset",
            Some(json!({"revoke_password": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["link"], Value::Null);
    assert!(!signs_in(&app, "inv-reset2", "erin", "erins password").await);
}

/// Sets tenant `slug`'s lockout to lock an account after 3 failures, and waits for it to apply.
pub(crate) async fn strict_lockout(app: &TestApp, token: &str, slug: &str) {
    let lockout =
        json!({"free_attempts": 3, "lock_after": 3, "lock_secs": 900, "window_secs": 900});
    let (status, body) = app
        .admin(
            token,
            Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(json!({ "lockout": lockout })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    actix_web::rt::time::sleep(PROPAGATION + Duration::from_millis(300)).await;
}

/// Fails three sign-ins of `username`; then even the right password is refused as locked.
pub(crate) async fn lock_by_failures(app: &TestApp, slug: &str, username: &str, password: &str) {
    for attempt in 1..=3 {
        let step = account_sign_in(app, slug, username, &format!("wrong {attempt}")).await;
        assert!([401, 429].contains(&step.page().0), "attempt {attempt}");
    }
    let step = account_sign_in(app, slug, username, password).await;
    let (status, page) = step.page();
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("locked"), "{page}");
}

#[actix_web::test]
async fn unlocking_a_user_locked_by_failed_sign_ins_lets_it_sign_in_again() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "inv-unlock", true).await;
    let token = app.admin_token().await;
    strict_lockout(&app, &token, "inv-unlock").await;
    lock_by_failures(&app, "inv-unlock", "alice", &f.password).await;

    let unlock = |user: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            app.admin(
                token,
                Method::POST,
                &format!("/tenants/inv-unlock/users/{user}/unlock"),
                None,
            )
            .await
        }
    };
    let (status, body) = unlock("alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counter_cleared"], true);
    assert_eq!(body["was_locked"], false);
    assert_eq!(body["user"]["status"], "active");
    assert!(signs_in(&app, "inv-unlock", "alice", &f.password).await);

    // Idempotent for an active user.
    let (status, body) = unlock("alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counter_cleared"], false);

    // An account set to `locked` (no admin API sets it; some imports do) becomes active.
    let (_, user) = app
        .admin(&token, Method::GET, "/tenants/inv-unlock/users/alice", None)
        .await;
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    users::set_status(
        store.conn(),
        TenantId(user["tenant_id"].as_str().unwrap().parse().unwrap()),
        UserId(user["id"].as_str().unwrap().parse().unwrap()),
        UserStatus::Locked,
        1,
    )
    .await
    .unwrap();
    store.close().await.unwrap();
    assert!(!signs_in(&app, "inv-unlock", "alice", &f.password).await);
    let (status, body) = unlock("alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["was_locked"], true, "{body}");
    assert_eq!(body["user"]["status"], "active");
    assert!(signs_in(&app, "inv-unlock", "alice", &f.password).await);

    // A disabled user is not "unlocked": enabling is another decision.
    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/inv-unlock/users/alice/disable",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = unlock("alice").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    let (_, user) = app
        .admin(&token, Method::GET, "/tenants/inv-unlock/users/alice", None)
        .await;
    assert_eq!(user["status"], "disabled");

    let events = audit_of(&app, &token, "inv-unlock", "alice").await;
    let unlocked = events.iter().filter(|(a, _)| a == "user.unlocked").count();
    assert_eq!(unlocked, 3, "{events:?}");
}

/// A token of a new tenant admin of `tenant`.
async fn tenant_admin_token(app: &TestApp, tenant: &str) -> String {
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
    // A new admin client reaches the system tenant's snapshots within one poll interval.
    actix_web::rt::time::sleep(PROPAGATION).await;
    app.client_credentials_token("system", &admin, Some("admin"))
        .await
}

#[actix_web::test]
async fn tenant_admins_act_on_their_own_users_only_and_every_action_is_audited() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    sign_in_fixture(&app, "inv-a", true).await;
    sign_in_fixture(&app, "inv-b", true).await;
    let operator = app.admin_token().await;
    let (status, _) = app
        .admin(
            &operator,
            Method::POST,
            "/tenants/inv-b/users",
            Some(json!({"username": "zed", "email": "zed@example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    let admin_a = tenant_admin_token(&app, "inv-a").await;

    // Tenant A's admin invites; the mail names the admin client.
    let (status, body) = app
        .admin(
            &admin_a,
            Method::POST,
            "/tenants/inv-a/invitations",
            Some(json!({"username": "frank", "email": "frank@example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    mailed_links(&smtp, "frank@example.com", "/invitation", 1).await;
    let message = smtp
        .received()
        .into_iter()
        .find(|m| m.rcpt_to == vec!["frank@example.com".to_owned()])
        .unwrap();
    let text = parse(&message.data).part("text/plain").unwrap().to_owned();
    assert!(text.contains("inv-a admin invited you"), "{text}");

    // B's tenant and B's users are out of A's admin's reach.
    let (status, body) = app
        .admin(
            &admin_a,
            Method::POST,
            "/tenants/inv-b/invitations",
            Some(json!({"username": "mallory", "email": "m@example.com"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    for (method, action) in USER_ACTIONS {
        // B's tenant: refused; B's user named under A's tenant: no such user.
        let (status, _) = app
            .admin(
                &admin_a,
                method.clone(),
                &format!("/tenants/inv-b/users/zed/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 403, "{action} in another tenant");
        let (status, body) = app
            .admin(
                &admin_a,
                method,
                &format!("/tenants/inv-a/users/zed/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{action} of another tenant's user: {body}");
        assert_eq!(body["error"], "not_found");
    }
    let (status, _) = app
        .admin(&admin_a, Method::GET, "/tenants/inv-b/audit-events", None)
        .await;
    assert_eq!(status, 403);

    // Every action on A's own user is in A's audit log, by A's admin; none leaks into B's.
    for (method, action) in USER_ACTIONS {
        let (status, body) = app
            .admin(
                &admin_a,
                method,
                &format!("/tenants/inv-a/users/frank/{action}"),
                None,
            )
            .await;
        assert!((200..300).contains(&status), "{action}: {status} {body}");
    }
    let events = audit_of(&app, &admin_a, "inv-a", "frank").await;
    let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
    for expected in [
        "user.invited",
        "user.verification_sent",
        "user.password_reset_forced",
        "user.unlocked",
        "user.mfa_reset",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(
        events
            .iter()
            .all(|(_, who)| who == &events[0].1 && who.starts_with("admin:")),
        "{events:?}"
    );
    let (status, body) = app
        .admin(
            &operator,
            Method::GET,
            "/tenants/inv-b/audit-events?action=user.invited",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]), "{body}");
    let (status, _) = app
        .admin(
            &operator,
            Method::GET,
            "/tenants/inv-b/audit-events?user=frank",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn the_cli_invites_resends_forces_resets_and_unlocks_as_audited_cli_actions() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let f = sign_in_fixture(&app, "inv-cli", true).await;
    let token = app.admin_token().await;

    // The CLI queues the invitation; the running server's Mailer delivers it.
    let (ok, out) = cli(
        &app,
        &[
            "user",
            "invite",
            "inv-cli",
            "gina",
            "--email",
            "gina@example.com",
            "--given-name",
            "Gina",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(out["username"], "gina");
    assert_eq!(out["has_password"], false);
    let links = mailed_links(&smtp, "gina@example.com", "/invitation", 1).await;
    let agent = Agent::new();
    let (status, page) = agent.get(&links[0]).await.page().clone_owned();
    assert_eq!(status, 200, "{page}");
    let password = "ginas own password";
    let step = set_password(&agent, &page, password, password).await;
    assert_eq!(step.page().0, 200);
    assert!(signs_in(&app, "inv-cli", "gina", password).await);

    let (ok, out) = cli(
        &app,
        &[
            "user",
            "invite",
            "inv-cli",
            "gina",
            "--email",
            "g2@example.com",
        ],
    );
    assert!(!ok);
    assert_eq!(out["error"], "conflict", "{out}");

    // Unlock after failed sign-ins.
    strict_lockout(&app, &token, "inv-cli").await;
    lock_by_failures(&app, "inv-cli", "alice", &f.password).await;
    let (ok, out) = cli(&app, &["user", "unlock", "inv-cli", "alice"]);
    assert!(ok, "{out}");
    assert_eq!(out["counter_cleared"], true, "{out}");
    assert!(signs_in(&app, "inv-cli", "alice", &f.password).await);
    let (ok, out) = cli(&app, &["user", "unlock", "inv-cli", "nobody"]);
    assert!(!ok);
    assert_eq!(out["error"], "not_found", "{out}");

    // Resend verification (gina's address is confirmed: refused) and a forced reset.
    let (ok, out) = cli(&app, &["user", "resend-verification", "inv-cli", "gina"]);
    assert!(!ok);
    assert_eq!(out["error"], "conflict", "{out}");
    let (ok, out) = cli(&app, &["user", "force-reset", "inv-cli", "gina"]);
    assert!(ok, "{out}");
    assert_eq!(out["password_revoked"], true, "{out}");
    assert!(!signs_in(&app, "inv-cli", "gina", password).await);
    mailed_links(&smtp, "gina@example.com", "/password/reset", 1).await;

    let (ok, _) = cli(&app, &["user", "disable", "inv-cli", "alice"]);
    assert!(ok);
    let (ok, out) = cli(&app, &["user", "unlock", "inv-cli", "alice"]);
    assert!(!ok);
    assert_eq!(out["error"], "conflict", "{out}");

    let gina = audit_of(&app, &token, "inv-cli", "gina").await;
    for expected in ["user.invited", "user.password_reset_forced"] {
        assert!(
            gina.contains(&(expected.to_owned(), "admin:cli".to_owned())),
            "{expected} by cli in {gina:?}"
        );
    }
    let alice = audit_of(&app, &token, "inv-cli", "alice").await;
    assert!(
        alice.contains(&("user.unlocked".to_owned(), "admin:cli".to_owned())),
        "{alice:?}"
    );
}
