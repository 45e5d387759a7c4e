//! Password reset by e-mail link and password change from the account page, end to end: the
//! "forgot" form queues a mail that leaves the real server over SMTP to the test's SMTP server;
//! the test reads the link out of the message, follows it and sets a new password. Negative
//! cases: an unknown account gets a byte-identical answer (after the per-response CSP nonce) and
//! no mail, links work once and expire, a newer link kills the older, a weak password keeps the
//! link usable, forms need their CSRF token, mails per account and requests per address are
//! capped, and a wrong current password is throttled like sign-in.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::json;
use tessera_store::audit::{self, AuditFilter};
use tessera_store::{PoolSettings, Store};

use crate::account::{refresh, tokens};
use crate::agent::{Agent, SignIn, Step, hidden_fields, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app_with, within};
use crate::mail::smtp_to;
use crate::signup::patch_settings;
use crate::smtp::{SmtpServer, parse};

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";
const NEW_PASSWORD: &str = "a brand new passphrase 42";
/// The scope the app asks for: `offline_access` yields a refresh token.
const SCOPE: &str = "openid profile offline_access";

/// A server mailing to a fresh SMTP server, and the sign-in fixture (user `alice`,
/// `alice@example.com`) at tenant `slug`.
async fn setup(slug: &str) -> (TestApp, SmtpServer, SignIn) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let f = sign_in_fixture(&app, slug, false).await;
    (app, smtp, f)
}

fn forgot_url(app: &TestApp, slug: &str) -> String {
    format!("{}/password/forgot", app.issuer(slug))
}

/// An answer with its per-response CSP nonce replaced by a placeholder: the only bytes two
/// answers of the same page may differ in.
struct Answer {
    status: u16,
    body: String,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let csp = resp
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    let nonce = csp
        .split('\'')
        .find_map(|part| part.strip_prefix("nonce-"))
        .map(str::to_owned);
    let body = match nonce {
        Some(nonce) => body.replace(&nonce, "NONCE"),
        None => body,
    };
    Answer { status, body }
}

/// Asks for a reset for `identifier` with `agent` (its CSRF cookie from the form page).
async fn request_reset(agent: &Agent, app: &TestApp, slug: &str, identifier: &str) -> Answer {
    let step = agent.get(&forgot_url(app, slug)).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let mut form = hidden_fields(page);
    form.push(("identifier".into(), identifier.into()));
    answer(
        agent
            .http
            .post(forgot_url(app, slug))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn wait_for_messages(smtp: &SmtpServer, n: usize) {
    let arrived = within(Duration::from_secs(15), || async {
        smtp.received().len() >= n
    })
    .await;
    assert!(
        arrived.is_some(),
        "expected {n} messages, got {}",
        smtp.received().len()
    );
}

/// Waits long enough for any mail queued by now to have been sent (the Mailer polls every
/// 100 ms), then returns how many arrived.
async fn settled_count(smtp: &SmtpServer) -> usize {
    actix_web::rt::time::sleep(Duration::from_millis(2_000)).await;
    smtp.received().len()
}

/// The `/password/reset?token=` link in the text part of message `i`.
fn reset_link(smtp: &SmtpServer, i: usize) -> String {
    let received = smtp.received();
    let parsed = parse(&received[i].data);
    let text = parsed.part("text/plain").expect("a text part");
    let at = text.find("/password/reset?token=").expect("a reset link");
    let start = text[..at].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let end = text[at..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| at + i);
    text[start..end].to_owned()
}

/// Requests a reset for `alice` and returns the link of the `n`-th message (1-based).
async fn mailed_link(app: &TestApp, smtp: &SmtpServer, slug: &str, n: usize) -> String {
    let a = request_reset(&Agent::new(), app, slug, "alice").await;
    assert_eq!(a.status, 200, "{}", a.body);
    wait_for_messages(smtp, n).await;
    reset_link(smtp, n - 1)
}

/// Opens a reset link with `agent`; the new-password page.
async fn open_link(agent: &Agent, link: &str) -> String {
    let step = agent.get(link).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"confirmation\""), "{page}");
    page.to_owned()
}

/// Submits a new-password form (reset or invitation) with `password` and `confirmation`.
pub(crate) async fn set_password(
    agent: &Agent,
    form_page: &str,
    password: &str,
    confirmation: &str,
) -> Step {
    agent
        .submit(
            form_page,
            &[("password", password), ("confirmation", confirmation)],
        )
        .await
}

/// Signs a fresh agent in on the account page; the agent, or the refused page's status.
async fn account_sign_in(
    app: &TestApp,
    slug: &str,
    username: &str,
    password: &str,
) -> Result<Agent, u16> {
    let agent = Agent::new();
    let step = agent.get(&format!("{}/account", app.issuer(slug))).await;
    let step = agent.login(step.page().1, username, password).await;
    match step {
        Step::Redirect(location) => {
            assert!(location.ends_with("/account"), "{location}");
            Ok(agent)
        }
        Step::Page(status, _) => Err(status),
    }
}

/// Submits a new-password form with [`NEW_PASSWORD`] twice.
async fn set_new_password(agent: &Agent, form_page: &str) -> Step {
    set_password(agent, form_page, NEW_PASSWORD, NEW_PASSWORD).await
}

/// Submits the account page's change-password form with the `current` password, the new
/// `password` and its `confirmation`.
async fn change_password(
    agent: &Agent,
    form_page: &str,
    current: &str,
    password: &str,
    confirmation: &str,
) -> Step {
    agent
        .submit(
            form_page,
            &[
                ("current_password", current),
                ("password", password),
                ("confirmation", confirmation),
            ],
        )
        .await
}

/// Whether `alice` signs in on the account page with `password`.
async fn alice_signs_in(app: &TestApp, slug: &str, password: &str) -> bool {
    account_sign_in(app, slug, "alice", password).await.is_ok()
}

/// Whether `agent` is signed in at the account page (its SSO session works).
async fn signed_in(agent: &Agent, app: &TestApp, slug: &str) -> bool {
    let step = agent.get(&format!("{}/account", app.issuer(slug))).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    page.contains("<h1>Your account</h1>")
}

/// The tenant's audit events with `action`, read from the database.
async fn events(app: &TestApp, slug: &str, action: &str) -> Vec<tessera_store::AuditEventRecord> {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(&token, Method::GET, &format!("/tenants/{slug}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let tenant_id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    let events = audit::list(
        store.conn(),
        tessera_core::TenantId(tenant_id),
        &AuditFilter {
            action: Some(action.to_owned()),
            ..AuditFilter::default()
        },
        100,
    )
    .await
    .unwrap();
    drop(store);
    events
}

#[actix_web::test]
async fn a_mailed_reset_link_sets_a_new_password_and_ends_sessions_and_refresh_tokens() {
    let (app, smtp, f) = setup("reset-flow").await;
    let (sso, issued) = tokens(&app, &f, SCOPE).await;
    assert!(signed_in(&sso, &app, &f.tenant).await);

    // Asked for by e-mail address; the message goes to alice over SMTP.
    let a = request_reset(&Agent::new(), &app, &f.tenant, "alice@example.com").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"forgot-sent\""), "{}", a.body);
    wait_for_messages(&smtp, 1).await;
    let message = &smtp.received()[0];
    assert_eq!(message.rcpt_to, vec!["alice@example.com".to_owned()]);
    let link = reset_link(&smtp, 0);
    assert!(
        link.starts_with(&format!("{}/password/reset?token=", app.issuer(&f.tenant))),
        "{link}"
    );

    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    assert!(form.contains("<strong>alice</strong>"), "{form}");
    let step = set_new_password(&browser, &form).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your password was changed"), "{page}");

    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", &f.password)
            .await
            .err(),
        Some(401),
        "the old password no longer works"
    );
    assert!(alice_signs_in(&app, &f.tenant, NEW_PASSWORD).await);
    assert_eq!(
        refresh(&app, &f, &issued).await,
        (400, "invalid_grant".to_owned()),
        "refresh tokens issued before the reset are revoked"
    );
    assert!(
        !signed_in(&sso, &app, &f.tenant).await,
        "the SSO session from before the reset ended"
    );

    let requested = events(&app, &f.tenant, "user.password_reset_requested").await;
    assert_eq!(requested.len(), 1);
    assert!(
        !requested[0]
            .details
            .to_string()
            .contains("alice@example.com"),
        "no address in the audit log: {:?}",
        requested[0].details
    );
    let done = events(&app, &f.tenant, "user.password_reset").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].details["families_revoked"], json!(1));
}

#[actix_web::test]
async fn without_refresh_token_revocation_a_reset_leaves_refresh_tokens_working() {
    let (app, smtp, f) = setup("reset-keep-tokens").await;
    patch_settings(
        &app,
        &f.tenant,
        json!({"accounts": {"reset_revokes_refresh_tokens": false}}),
    )
    .await;
    let (_, issued) = tokens(&app, &f, SCOPE).await;
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    let step = set_new_password(&browser, &form).await;
    assert_eq!(step.page().0, 200);
    assert_eq!(refresh(&app, &f, &issued).await, (200, String::new()));
}

#[actix_web::test]
async fn a_reset_for_an_unknown_account_looks_exactly_like_one_for_a_known_account() {
    let (app, smtp, f) = setup("reset-oracle").await;
    let agent = Agent::new();
    let known = request_reset(&agent, &app, &f.tenant, "alice").await;
    let unknown_name = request_reset(&agent, &app, &f.tenant, "nobody").await;
    let unknown_address = request_reset(&agent, &app, &f.tenant, "nobody@example.com").await;
    let known_address = request_reset(&agent, &app, &f.tenant, "alice@example.com").await;
    assert_eq!(known.status, 200, "{}", known.body);
    for other in [&unknown_name, &unknown_address, &known_address] {
        assert_eq!(other.status, known.status);
        assert_eq!(other.body, known.body, "the answers differ");
    }
    // Two mails for alice; none for the unknown ones.
    wait_for_messages(&smtp, 2).await;
    assert_eq!(settled_count(&smtp).await, 2);
    assert!(
        smtp.received()
            .iter()
            .all(|m| m.rcpt_to == vec!["alice@example.com".to_owned()])
    );
}

#[actix_web::test]
async fn a_reset_link_works_once() {
    let (app, smtp, f) = setup("reset-once").await;
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    assert_eq!(set_new_password(&browser, &form).await.page().0, 200);
    // Reopened, or its form posted again: refused, with the same page as any dead link.
    let step = browser.get(&link).await;
    let (status, page) = step.page();
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("not valid any more"), "{page}");
    let step = set_password(
        &browser,
        &form,
        "yet another passphrase 7",
        "yet another passphrase 7",
    )
    .await;
    assert_eq!(step.page().0, 410);
    assert!(alice_signs_in(&app, &f.tenant, NEW_PASSWORD).await);
    // A made-up token gets the same answer.
    let made_up = format!(
        "{}/password/reset?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        app.issuer(&f.tenant)
    );
    assert_eq!(browser.get(&made_up).await.page().0, 410);
}

#[actix_web::test]
async fn an_expired_reset_link_is_refused() {
    let (app, smtp, f) = setup("reset-expired").await;
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    // Time passes: the link's expiry moves into the past.
    {
        use sea_orm::ConnectionTrait;
        let store = Store::connect(&app.database_url, &PoolSettings::default())
            .await
            .unwrap();
        let past = tessera_core::Clock.now() - 1;
        let updated = store
            .conn()
            .execute_unprepared(&format!("UPDATE account_links SET expires_at = {past}"))
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 1);
    }
    assert_eq!(browser.get(&link).await.page().0, 410);
    let step = set_new_password(&browser, &form).await;
    assert_eq!(step.page().0, 410);
    assert!(alice_signs_in(&app, &f.tenant, &f.password).await);
}

#[actix_web::test]
async fn a_newer_reset_link_kills_the_older_one() {
    let (app, smtp, f) = setup("reset-newer").await;
    let first = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let second = mailed_link(&app, &smtp, &f.tenant, 2).await;
    assert_ne!(first, second);
    let browser = Agent::new();
    assert_eq!(browser.get(&first).await.page().0, 410);
    let form = open_link(&browser, &second).await;
    assert_eq!(set_new_password(&browser, &form).await.page().0, 200);
}

#[actix_web::test]
async fn a_weak_or_mistyped_new_password_is_refused_and_the_link_stays_usable() {
    let (app, smtp, f) = setup("reset-weak").await;
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    let step = set_password(&browser, &form, "short", "short").await;
    let (status, page) = step.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("id=\"reset-error\""), "{page}");
    assert!(
        page.contains("name=\"confirmation\""),
        "the form again: {page}"
    );
    let step = set_password(&browser, &form, NEW_PASSWORD, "a different passphrase 42").await;
    let (status, page) = step.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("not the same"), "{page}");
    // The link still works.
    let form = open_link(&browser, &link).await;
    assert_eq!(set_new_password(&browser, &form).await.page().0, 200);
    assert!(alice_signs_in(&app, &f.tenant, NEW_PASSWORD).await);
}

#[actix_web::test]
async fn recovery_forms_without_their_csrf_token_are_refused() {
    let (app, smtp, f) = setup("reset-csrf").await;
    let agent = Agent::new();
    // The forgot form: no mail is queued.
    let page = agent.get(&forgot_url(&app, &f.tenant)).await;
    assert_eq!(page.page().0, 200);
    let resp = agent
        .http
        .post(forgot_url(&app, &f.tenant))
        .form(&[("identifier", "alice"), ("request", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(settled_count(&smtp).await, 0);

    // The reset form: the password stays.
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let form = open_link(&agent, &link).await;
    let token = hidden_fields(&form)
        .into_iter()
        .find(|(n, _)| n == "token")
        .unwrap()
        .1;
    let resp = agent
        .http
        .post(format!("{}/password/reset", app.issuer(&f.tenant)))
        .form(&[
            ("token", token.as_str()),
            ("password", NEW_PASSWORD),
            ("confirmation", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(alice_signs_in(&app, &f.tenant, &f.password).await);

    // The change form.
    let signed = account_sign_in(&app, &f.tenant, "alice", &f.password)
        .await
        .unwrap();
    let resp = signed
        .http
        .post(format!("{}/account/password", app.issuer(&f.tenant)))
        .form(&[
            ("current_password", f.password.as_str()),
            ("password", NEW_PASSWORD),
            ("confirmation", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(alice_signs_in(&app, &f.tenant, &f.password).await);
}

#[actix_web::test]
async fn reset_mails_per_account_and_requests_per_address_are_capped() {
    let (app, smtp, f) = setup("reset-caps").await;
    let agent = Agent::new();
    let first = request_reset(&agent, &app, &f.tenant, "alice").await;
    for _ in 0..4 {
        let again = request_reset(&agent, &app, &f.tenant, "alice").await;
        assert_eq!(again.status, first.status);
        assert_eq!(again.body, first.body, "a capped request looks the same");
    }
    wait_for_messages(&smtp, 3).await;
    assert_eq!(
        settled_count(&smtp).await,
        3,
        "three mails per hour at most"
    );

    // 20 requests per address and hour: the 21st is refused.
    for _ in 5..20 {
        assert_eq!(
            request_reset(&agent, &app, &f.tenant, "nobody")
                .await
                .status,
            200
        );
    }
    let refused = request_reset(&agent, &app, &f.tenant, "nobody").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
}

#[actix_web::test]
async fn a_reset_unlocks_an_account_locked_by_failed_sign_ins() {
    let (app, smtp, f) = setup("reset-unlock").await;
    patch_settings(
        &app,
        &f.tenant,
        json!({"lockout": {"free_attempts": 2, "lock_after": 2}}),
    )
    .await;
    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", "wrong one")
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", "wrong two")
            .await
            .err(),
        Some(429)
    );
    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", &f.password)
            .await
            .err(),
        Some(429),
        "locked"
    );
    let link = mailed_link(&app, &smtp, &f.tenant, 1).await;
    let browser = Agent::new();
    let form = open_link(&browser, &link).await;
    assert_eq!(set_new_password(&browser, &form).await.page().0, 200);
    assert!(alice_signs_in(&app, &f.tenant, NEW_PASSWORD).await);
}

#[actix_web::test]
async fn the_forgot_form_is_linked_from_sign_in_and_gone_when_resets_are_off() {
    let (app, _smtp, f) = setup("reset-off").await;
    let step = Agent::new()
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let (_, login) = step.page();
    assert!(login.contains("id=\"forgot-link\""), "{login}");
    // The pending request rides along and the answer page leads back to it.
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let href = step
        .page()
        .1
        .split("id=\"forgot-link\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    assert!(href.contains("request="), "{href}");
    let form = agent.get(&href).await;
    let (status, form) = form.page();
    assert_eq!(status, 200, "{form}");
    let step = agent.submit(form, &[("identifier", "alice")]).await;
    let (status, sent) = step.page();
    assert_eq!(status, 200, "{sent}");
    assert!(sent.contains("id=\"back-to-sign-in\""), "{sent}");
    let at = sent.find("id=\"back-to-sign-in\"").unwrap();
    let back = &sent[sent[..at].rfind("<form").unwrap()..];
    let step = agent.submit(back, &[]).await;
    let (status, login) = step.page();
    assert_eq!(status, 200, "{login}");
    assert!(
        login.contains("name=\"password\""),
        "back at sign-in: {login}"
    );

    patch_settings(
        &app,
        &f.tenant,
        json!({"accounts": {"password_reset": false}}),
    )
    .await;
    let step = Agent::new()
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert!(!step.page().1.contains("forgot-link"));
    assert_eq!(
        Agent::new()
            .get(&forgot_url(&app, &f.tenant))
            .await
            .page()
            .0,
        404
    );
}

#[actix_web::test]
async fn changing_the_password_keeps_this_session_ends_the_others_and_revokes_refresh_tokens() {
    let (app, _smtp, f) = setup("change-password").await;
    let (other, issued) = tokens(&app, &f, SCOPE).await;
    let me = account_sign_in(&app, &f.tenant, "alice", &f.password)
        .await
        .unwrap();
    let account = me.get(&format!("{}/account", app.issuer(&f.tenant))).await;
    assert!(account.page().1.contains("id=\"change-password-link\""));
    let url = format!("{}/account/password", app.issuer(&f.tenant));
    let form = me.get(&url).await;
    let (status, form) = form.page();
    assert_eq!(status, 200, "{form}");
    let form = form.to_owned();

    // A wrong current password: refused, nothing changes.
    let step = change_password(&me, &form, "not my password", NEW_PASSWORD, NEW_PASSWORD).await;
    let (status, page) = step.page();
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("current password is not right"), "{page}");
    assert!(signed_in(&other, &app, &f.tenant).await);

    // A weak new one: refused with the policy's message.
    let step = change_password(&me, &form, &f.password, "short", "short").await;
    assert_eq!(step.page().0, 400);

    let step = change_password(&me, &form, &f.password, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(
        step.location().ends_with("/account?password=changed"),
        "{step:?}"
    );
    let page = me.get(step.location()).await;
    assert!(page.page().1.contains("Your password was changed."));
    assert!(signed_in(&me, &app, &f.tenant).await, "this session stays");
    assert!(
        !signed_in(&other, &app, &f.tenant).await,
        "the other session ended"
    );
    assert_eq!(
        refresh(&app, &f, &issued).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", &f.password)
            .await
            .err(),
        Some(401)
    );
    assert!(alice_signs_in(&app, &f.tenant, NEW_PASSWORD).await);
    assert_eq!(
        events(&app, &f.tenant, "user.password_changed").await.len(),
        1
    );

    // Without a session the page sends to the account page's sign-in.
    let step = Agent::new().get(&url).await;
    assert!(step.location().ends_with("/account"));
}

#[actix_web::test]
async fn wrong_current_passwords_are_throttled_like_sign_in() {
    let (app, _smtp, f) = setup("change-throttle").await;
    let me = account_sign_in(&app, &f.tenant, "alice", &f.password)
        .await
        .unwrap();
    let url = format!("{}/account/password", app.issuer(&f.tenant));
    let form = me.get(&url).await.page().1.to_owned();
    // The default policy: three free failures, then a delay.
    for _ in 0..3 {
        let step = change_password(&me, &form, "a guess", NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(step.page().0, 401);
    }
    // Even the right password must wait now, here and at sign-in.
    let step = change_password(&me, &form, &f.password, NEW_PASSWORD, NEW_PASSWORD).await;
    let (status, page) = step.page();
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("Too many failed attempts"), "{page}");
    assert_eq!(
        account_sign_in(&app, &f.tenant, "alice", &f.password)
            .await
            .err(),
        Some(429)
    );
}
