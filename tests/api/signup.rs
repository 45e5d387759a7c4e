//! Self-registration and e-mail confirmation over HTTP with the cookie agent, and a real SMTP
//! server receiving the confirmation mail: the link from the mail is followed (GET shows a
//! button, POST spends it), then the new user signs in through an authorization-code flow and
//! userinfo says `email_verified: true`. Negative cases: sign-up off or by invitation, weak,
//! breached and mismatched passwords, a missing CSRF token, reused, expired and superseded
//! links, sign-in refused while unconfirmed (with a new mail), an address that already has an
//! account (same answer, no second account) and the per-address limit.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app_with, within};
use crate::introspection::sql;
use crate::mail::smtp_to;
use crate::pairwise::jwt_claims;
use crate::smtp::{SmtpServer, parse};

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";
/// A password the default policy accepts.
pub const PASSWORD: &str = "lantern orchard copper 42";

/// Patches the tenant's settings and waits for the change to reach the endpoints.
pub async fn patch_settings(app: &TestApp, slug: &str, settings: Value) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(settings),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    actix_web::rt::time::sleep(PROPAGATION + Duration::from_millis(300)).await;
}

/// A server mailing to a fresh SMTP server, and the sign-in fixture (client + `alice`, whose
/// address alice@example.com is confirmed) with `accounts` settings.
async fn fixture(slug: &str, accounts: Value) -> (TestApp, SmtpServer, SignIn) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let f = sign_in_fixture(&app, slug, false).await;
    patch_settings(&app, slug, json!({ "accounts": accounts })).await;
    (app, smtp, f)
}

/// The messages received for `to`, raw.
pub fn mails_to(smtp: &SmtpServer, to: &str) -> Vec<String> {
    smtp.received()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == to))
        .map(|m| m.data)
        .collect()
}

/// Waits until `n` messages for `to` arrived; the confirmation link of the last one.
pub async fn wait_for_link(smtp: &SmtpServer, to: &str, n: usize) -> String {
    let arrived = within(Duration::from_secs(15), || async {
        mails_to(smtp, to).len() >= n
    })
    .await;
    assert!(
        arrived.is_some(),
        "expected {n} mails to {to}, got {}",
        mails_to(smtp, to).len()
    );
    let last = mails_to(smtp, to).pop().unwrap();
    confirmation_link(&last)
}

/// The `/verify-email?token=` link in the text part of a raw message.
pub fn confirmation_link(raw: &str) -> String {
    let parsed = parse(raw);
    let text = parsed.part("text/plain").expect("a text part");
    let at = text
        .find("/verify-email?token=")
        .expect("a confirmation link");
    let start = text[..at].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let end = text[at..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| at + i);
    text[start..end].to_owned()
}

/// Opens the sign-up page and submits it.
async fn sign_up(
    app: &TestApp,
    slug: &str,
    agent: &Agent,
    username: &str,
    email: &str,
    password: &str,
    confirm: &str,
) -> Step {
    let step = agent.get(&format!("{}/signup", app.issuer(slug))).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    agent
        .submit(
            page,
            &[
                ("username", username),
                ("email", email),
                ("password", password),
                ("password_confirm", confirm),
            ],
        )
        .await
}

/// Follows a confirmation link: the GET shows the button (and spends nothing), the POST
/// confirms. Returns the final step.
async fn confirm(agent: &Agent, link: &str) -> Step {
    let step = agent.get(link).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"confirm-email\""), "{page}");
    agent.submit(page, &[]).await
}

/// The user `username` of tenant `slug` from the admin API (status, body).
async fn admin_user(app: &TestApp, slug: &str, username: &str) -> (u16, Value) {
    let token = app.admin_token().await;
    app.admin(
        &token,
        Method::GET,
        &format!("/tenants/{slug}/users/{username}"),
        None,
    )
    .await
}

/// The userinfo response for the access token of a token response.
pub async fn userinfo(app: &TestApp, slug: &str, tokens: &Value) -> Value {
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer(slug)))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

/// A sign-in fixture for another user of the same tenant and client.
fn as_user(f: &SignIn, username: &str) -> SignIn {
    SignIn {
        tenant: f.tenant.clone(),
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
        redirect_uri: f.redirect_uri.clone(),
        post_logout_redirect_uri: f.post_logout_redirect_uri.clone(),
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
    }
}

/// The `href` of the login page's "Create an account" link, unescaped.
pub fn signup_link(page: &str) -> Option<String> {
    let at = page.find("id=\"signup-link\"")?;
    let tag_start = page[..at].rfind("<a ")?;
    let tag = &page[tag_start..at];
    let start = tag.find("href=\"")? + 6;
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&#x2F;", "/")
            .replace("&#x3D;", "=")
            .replace("&amp;", "&"),
    )
}

/// The `<main>` of a page (what differs from response to response is outside it: the nonce).
fn main_of(page: &str) -> &str {
    let start = page.find("<main>").unwrap_or(0);
    let end = page.find("</main>").unwrap_or(page.len());
    &page[start..end]
}

/// What the "check your e-mail" page says.
fn is_done_page(step: &Step) -> bool {
    matches!(step, Step::Page(200, page) if page.contains("id=\"signup-done\""))
}

/// Signs up with the policy-conforming [`PASSWORD`] and checks for the "check your e-mail" page.
async fn signs_up(app: &TestApp, slug: &str, agent: &Agent, username: &str, email: &str) -> Step {
    let step = sign_up(app, slug, agent, username, email, PASSWORD, PASSWORD).await;
    assert!(is_done_page(&step), "{step:?}");
    step
}

#[actix_web::test]
async fn a_sign_up_confirmed_by_the_mailed_link_signs_in_with_email_verified() {
    let (app, smtp, f) = fixture(
        "su-flow",
        json!({"signup": "open", "require_verified_email": true}),
    )
    .await;
    let agent = Agent::new();
    // The login page offers sign-up, carrying the pending authorization request.
    let step = agent
        .get(&f.authorize_url(&app, "openid email", VERIFIER, &[]))
        .await;
    let (_, login) = step.page();
    let link = signup_link(login).expect("a \"Create an account\" link");
    assert!(
        link.starts_with(&format!("{}/signup?request=", app.issuer(&f.tenant))),
        "{link}"
    );
    signs_up(&app, &f.tenant, &agent, "Bob", "bob@example.com").await;
    let (status, bob) = admin_user(&app, &f.tenant, "bob").await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(bob["email"], "bob@example.com");
    assert_eq!(bob["email_verified"], false);

    let link = wait_for_link(&smtp, "bob@example.com", 1).await;
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", app.issuer(&f.tenant))),
        "{link}"
    );
    // Opening the link (as a mail scanner would) spends nothing: it can be opened again.
    assert_eq!(agent.get(&link).await.page().0, 200);
    let step = confirm(&agent, &link).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"email-confirmed\""), "{page}");
    assert!(page.contains("bob@example.com"), "{page}");
    let (_, bob) = admin_user(&app, &f.tenant, "bob").await;
    assert_eq!(bob["email_verified"], true);

    // Sign in through the authorization-code flow; userinfo and the ID token say verified.
    let b = as_user(&f, "bob");
    let (_, code) = b.code(&app, "openid email", VERIFIER).await;
    let (status, tokens) = b.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], bob["id"], "{id_token}");
    // An access token was issued: the email scope's claims come from userinfo (OIDC Core §5.4).
    let userinfo = userinfo(&app, &f.tenant, &tokens).await;
    assert_eq!(userinfo["email"], "bob@example.com", "{userinfo}");
    assert_eq!(userinfo["email_verified"], true, "{userinfo}");

    // The sign-up is an audit event.
    let token = app.admin_token().await;
    let (status, events) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/{}/audit-events?action=user.signed_up", f.tenant),
            None,
        )
        .await;
    assert_eq!(status, 200, "{events}");
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(items[0]["user_id"], bob["id"], "{events}");
    // No mail went anywhere else.
    assert_eq!(smtp.received().len(), 1);
}

#[actix_web::test]
async fn a_sign_up_from_the_login_page_continues_the_authorization_when_confirmation_can_wait() {
    let (app, smtp, f) = fixture("su-continue", json!({"signup": "open"})).await;
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid email", VERIFIER, &[]))
        .await;
    let (_, login) = step.page();
    let url = signup_link(login).expect("a \"Create an account\" link");
    let step = agent.get(&url).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Photo App"), "the client is named: {page}");
    let step = agent
        .submit(
            page,
            &[
                ("username", "carol"),
                ("email", "carol@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    // Signed in: the consent page, then the code.
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let step = agent.consent(page, &["openid", "email"], true).await;
    let location = step.location().to_owned();
    assert!(location.starts_with(&f.redirect_uri), "{location}");
    let code = crate::agent::param(&location, "code").unwrap();
    let (status, tokens) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], json!(["pwd"]), "{id_token}");
    let userinfo = userinfo(&app, &f.tenant, &tokens).await;
    assert_eq!(userinfo["email"], "carol@example.com", "{userinfo}");
    assert_eq!(userinfo["email_verified"], false, "{userinfo}");
    // The confirmation mail still went out.
    wait_for_link(&smtp, "carol@example.com", 1).await;
}

#[actix_web::test]
async fn sign_up_is_not_found_when_off_and_has_no_form_by_invitation() {
    let (app, smtp, f) = fixture("su-closed", json!({"signup": "off"})).await;
    let agent = Agent::new();
    let url = format!("{}/signup", app.issuer(&f.tenant));
    let (status, page) = match agent.get(&url).await {
        Step::Page(s, p) => (s, p),
        other => panic!("{other:?}"),
    };
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
    let resp = app
        .http
        .post(&url)
        .form(&[("username", "eve"), ("email", "eve@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert!(!step.page().1.contains("signup"), "no sign-up link");

    patch_settings(
        &app,
        &f.tenant,
        json!({"accounts": {"signup": "invitation"}}),
    )
    .await;
    let (status, page) = match agent.get(&url).await {
        Step::Page(s, p) => (s, p),
        other => panic!("{other:?}"),
    };
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("invitation only"), "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    assert!(!step.page().1.contains("signup"), "no sign-up link");
    assert_eq!(admin_user(&app, &f.tenant, "eve").await.0, 404);
    assert!(smtp.received().is_empty());
}

#[actix_web::test]
async fn bad_passwords_and_fields_re_render_the_form_with_a_message() {
    let (app, smtp, f) = fixture("su-rules", json!({"signup": "open"})).await;
    let agent = Agent::new();
    let cases: [(&str, &str, &str, &str, u16, &str); 6] = [
        (
            "dave",
            "dave@example.com",
            "short",
            "short",
            400,
            "at least 8 characters",
        ),
        (
            "dave",
            "dave@example.com",
            "password1",
            "password1",
            400,
            "too common",
        ),
        (
            "dave",
            "dave@example.com",
            PASSWORD,
            "lantern orchard copper 43",
            400,
            "do not match",
        ),
        ("dave", "dave@", PASSWORD, PASSWORD, 400, "name@example.com"),
        (
            "da ve",
            "dave@example.com",
            PASSWORD,
            PASSWORD,
            400,
            "spaces",
        ),
        (
            "Alice",
            "dave@example.com",
            PASSWORD,
            PASSWORD,
            409,
            "already taken",
        ),
    ];
    for (username, email, password, confirm, status, message) in cases {
        let step = sign_up(&app, &f.tenant, &agent, username, email, password, confirm).await;
        let (got, page) = step.page();
        assert_eq!(got, status, "{username} {password}: {page}");
        assert!(page.contains(message), "{message}: {page}");
        assert!(page.contains("id=\"signup-error\""), "{page}");
        // The form comes back refilled, without the passwords.
        assert!(page.contains("id=\"signup-form\""), "{page}");
        assert!(!page.contains(password) || password == "short", "{page}");
    }
    assert_eq!(admin_user(&app, &f.tenant, "dave").await.0, 404);
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.received().is_empty());
}

#[actix_web::test]
async fn a_sign_up_without_the_csrf_token_is_forbidden() {
    let (app, _smtp, f) = fixture("su-csrf", json!({"signup": "open"})).await;
    let agent = Agent::new();
    let step = agent
        .get(&format!("{}/signup", app.issuer(&f.tenant)))
        .await;
    let (_, page) = step.page();
    let mut fields = crate::agent::hidden_fields(page);
    fields.retain(|(name, _)| name != "csrf_token");
    let form: Vec<(String, String)> = fields
        .into_iter()
        .chain(
            [
                ("username", "erin"),
                ("email", "erin@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .collect();
    let resp = agent
        .http
        .post(format!("{}/signup", app.issuer(&f.tenant)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(admin_user(&app, &f.tenant, "erin").await.0, 404);

    // Nor can the confirmation be posted without it.
    let resp = agent
        .http
        .post(format!("{}/verify-email", app.issuer(&f.tenant)))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[actix_web::test]
async fn a_confirmation_link_works_once_and_not_after_it_expires() {
    let (app, smtp, f) = fixture(
        "su-links",
        json!({"signup": "open", "verification_link_ttl_secs": 300}),
    )
    .await;
    let agent = Agent::new();
    signs_up(&app, &f.tenant, &agent, "frank", "frank@example.com").await;
    let link = wait_for_link(&smtp, "frank@example.com", 1).await;
    let text = parse(&mails_to(&smtp, "frank@example.com")[0])
        .part("text/plain")
        .unwrap()
        .to_owned();
    assert!(text.contains("5 minutes"), "{text}");
    assert_eq!(confirm(&agent, &link).await.page().0, 200);
    // Reused: both the GET and a replayed POST get the dead-link page.
    let step = agent.get(&link).await;
    let (status, page) = step.page();
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("not valid any more"), "{page}");
    let token = link.split("token=").nth(1).unwrap();
    let step = agent
        .get(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    let csrf = crate::agent::hidden_fields(step.page().1)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let replay = agent
        .http
        .post(format!("{}/verify-email", app.issuer(&f.tenant)))
        .form(&[("token", token), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 410);
    let unknown = agent
        .get(&format!(
            "{}/verify-email?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            app.issuer(&f.tenant)
        ))
        .await;
    assert_eq!(unknown.page().0, 410);

    // Expired: another user's link, past its time.
    signs_up(&app, &f.tenant, &agent, "grace", "grace@example.com").await;
    let link = wait_for_link(&smtp, "grace@example.com", 1).await;
    sql(
        &app,
        "UPDATE account_links SET expires_at = expires_at - 301 WHERE kind = 'verify_email' AND used_at IS NULL",
    )
    .await;
    let step = agent.get(&link).await;
    let (status, page) = step.page();
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("not valid any more"), "{page}");
    let (_, grace) = admin_user(&app, &f.tenant, "grace").await;
    assert_eq!(grace["email_verified"], false);
}

#[actix_web::test]
async fn an_unconfirmed_user_is_refused_at_sign_in_and_mailed_a_newer_link_that_supersedes_the_old()
{
    let (app, smtp, f) = fixture(
        "su-refuse",
        json!({"signup": "open", "require_verified_email": true}),
    )
    .await;
    let agent = Agent::new();
    signs_up(&app, &f.tenant, &agent, "heidi", "heidi@example.com").await;
    let first = wait_for_link(&smtp, "heidi@example.com", 1).await;
    let h = as_user(&f, "heidi");

    // Right after the sign-up, a refused sign-in sends no second mail (one per 5 minutes).
    let browser = Agent::new();
    let step = browser
        .get(&h.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let step = browser.login(step.page().1, "heidi", PASSWORD).await;
    let (status, page) = step.page();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Confirm your e-mail address first"), "{page}");
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(mails_to(&smtp, "heidi@example.com").len(), 1);

    // Five minutes later (the link's row made older), the refusal mails a new link.
    sql(
        &app,
        "UPDATE account_links SET created_at = created_at - 600 WHERE kind = 'verify_email'",
    )
    .await;
    let step = browser
        .get(&h.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let step = browser.login(step.page().1, "heidi", PASSWORD).await;
    assert_eq!(step.page().0, 403);
    let second = wait_for_link(&smtp, "heidi@example.com", 2).await;
    assert_ne!(first, second);

    // The account page's sign-in refuses too; a wrong password says nothing about it.
    let step = browser
        .get(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    let step = browser.login(step.page().1, "heidi", PASSWORD).await;
    let (status, page) = step.page();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Confirm your e-mail address first"), "{page}");
    let step = browser
        .get(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    let step = browser
        .login(step.page().1, "heidi", "wrong password 1")
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 401, "{page}");
    assert!(!page.contains("Confirm your e-mail"), "{page}");

    // The older link was superseded; the newer one confirms, and sign-in then works.
    assert_eq!(agent.get(&first).await.page().0, 410);
    assert_eq!(confirm(&agent, &second).await.page().0, 200);
    let (_, code) = h.code(&app, "openid email", VERIFIER).await;
    let (status, tokens) = h.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    // Admin-created alice, confirmed, was never affected.
    f.code(&app, "openid", VERIFIER).await;
}

#[actix_web::test]
async fn an_address_with_an_account_gets_the_same_answer_and_no_second_account() {
    let (app, smtp, f) = fixture("su-taken", json!({"signup": "open"})).await;
    let agent = Agent::new();
    let fresh = sign_up(
        &app,
        &f.tenant,
        &agent,
        "ivan",
        "ivan@example.com",
        PASSWORD,
        PASSWORD,
    )
    .await;
    assert!(is_done_page(&fresh), "{fresh:?}");
    // alice@example.com is alice's (confirmed): same page, nothing created, nothing mailed.
    for (username, email) in [
        ("mallory", "alice@example.com"),
        ("trudy", "ALICE@example.com"),
    ] {
        let step = signs_up(&app, &f.tenant, &agent, username, email).await;
        assert_eq!(
            main_of(step.page().1),
            main_of(fresh.page().1),
            "the very same page"
        );
        assert_eq!(admin_user(&app, &f.tenant, username).await.0, 404);
    }
    // ivan's address, still unconfirmed: no second account, but ivan's first link stands.
    signs_up(&app, &f.tenant, &agent, "ivan2", "ivan@example.com").await;
    assert_eq!(admin_user(&app, &f.tenant, "ivan2").await.0, 404);
    wait_for_link(&smtp, "ivan@example.com", 1).await;
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert!(mails_to(&smtp, "alice@example.com").is_empty());
    assert_eq!(mails_to(&smtp, "ivan@example.com").len(), 1);
    let token = app.admin_token().await;
    let (_, users) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/{}/users", f.tenant),
            None,
        )
        .await;
    let names: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[actix_web::test]
async fn sign_ups_from_one_address_are_limited() {
    let (app, _smtp, f) = fixture("su-limit", json!({"signup": "open"})).await;
    let agent = Agent::new();
    for n in 0..5 {
        let step = sign_up(
            &app,
            &f.tenant,
            &agent,
            &format!("user{n}"),
            &format!("user{n}@example.com"),
            PASSWORD,
            PASSWORD,
        )
        .await;
        assert!(is_done_page(&step), "{n}: {step:?}");
    }
    let page = agent
        .get(&format!("{}/signup", app.issuer(&f.tenant)))
        .await;
    let (_, page) = page.page();
    let resp = agent
        .http
        .post(format!("{}/signup", app.issuer(&f.tenant)))
        .form(
            &crate::agent::hidden_fields(page)
                .into_iter()
                .chain(
                    [
                        ("username", "user5"),
                        ("email", "user5@example.com"),
                        ("password", PASSWORD),
                        ("password_confirm", PASSWORD),
                    ]
                    .map(|(k, v)| (k.to_owned(), v.to_owned())),
                )
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("Too many accounts"), "{body}");
    assert_eq!(admin_user(&app, &f.tenant, "user5").await.0, 404);
}

#[actix_web::test]
async fn the_password_grant_refuses_an_unconfirmed_address_when_required() {
    let (app, smtp, f) = fixture(
        "su-ropc",
        json!({"signup": "open", "require_verified_email": true}),
    )
    .await;
    let token = app.admin_token().await;
    let (status, client) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{}/clients", f.tenant),
            Some(json!({"name": "Legacy App", "grant_types": ["password"], "scopes": ["openid"]})),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let agent = Agent::new();
    signs_up(&app, &f.tenant, &agent, "judy", "judy@example.com").await;
    let form = [
        ("grant_type", "password"),
        ("username", "judy"),
        ("password", PASSWORD),
        ("scope", "openid"),
    ];
    let resp = app.post_token(&f.tenant, Some((id, secret)), &form).await;
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("confirm your e-mail"),
        "{body}"
    );
    let link = wait_for_link(&smtp, "judy@example.com", 1).await;
    confirm(&agent, &link).await;
    let resp = app.post_token(&f.tenant, Some((id, secret)), &form).await;
    assert_eq!(resp.status().as_u16(), 200);
}
