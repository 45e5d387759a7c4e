//! A new user's whole journey in a real Chromium: from a relying party's authorization request
//! to the sign-up page, registration, the confirmation mail read from a real SMTP server, the
//! link opened and confirmed, sign-in back to the relying party, enrolling an authenticator app
//! on the account page, sign-out, and sign-in with the password and a TOTP code (computed by an
//! independent implementation, `totp-lite`), whose ID token says `amr` has `otp` and `acr` "2".

use serde_json::{Value, json};

use crate::agent::{param, s256};
use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{TestApp, spawn_app_with};
use crate::mail::smtp_to;
use crate::mfa::{code as totp, step_now};
use crate::pairwise::jwt_claims;
use crate::signup::{PASSWORD, patch_settings, userinfo, wait_for_link};
use crate::smtp::SmtpServer;

const SLUG: &str = "journey";

/// An authorization request of the relying party for `verifier`.
fn authorize_url(app: &TestApp, client_id: &str, redirect_uri: &str, verifier: &str) -> String {
    let challenge = s256(verifier);
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid email"),
        ("state", "journey-state"),
        ("nonce", "journey-nonce"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    format!(
        "{}/authorize?{}",
        app.issuer(SLUG),
        serde_urlencoded::to_string(params).unwrap()
    )
}

/// Waits until the browser is back at the relying party; the code it brought.
async fn code_at_rp(browser: &Browser, rp: &RedirectCatcher) -> String {
    let prefix = json!(rp.uri());
    browser
        .wait_until(
            &format!("location.href.startsWith({prefix})"),
            "back at the relying party",
        )
        .await;
    let url = browser.url().await;
    assert_eq!(param(&url, "state").as_deref(), Some("journey-state"));
    param(&url, "code").unwrap_or_else(|| panic!("no code in {url}"))
}

/// Exchanges a code; the ID token's claims and the userinfo response.
async fn id_token(
    app: &TestApp,
    client: &(String, String),
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> (Value, Value) {
    let resp = app
        .post_token(
            SLUG,
            Some((&client.0, &client.1)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    (
        jwt_claims(body["id_token"].as_str().unwrap()),
        userinfo(app, SLUG, &body).await,
    )
}

/// Fills the sign-in form and submits it.
async fn sign_in(browser: &Browser) {
    assert!(browser.exists("input[name=password]").await);
    browser.fill("input[name=username]", "nina").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
}

#[actix_web::test]
async fn a_new_user_signs_up_confirms_enrols_totp_and_signs_in_with_it_in_chromium() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    app.create_tenant(SLUG, "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PUT,
            &format!("/tenants/{SLUG}/settings"),
            Some(json!({"password": {"argon2_memory_kib": 8, "argon2_iterations": 1}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    patch_settings(
        &app,
        SLUG,
        json!({"accounts": {"signup": "open", "require_verified_email": true}}),
    )
    .await;
    let rp = RedirectCatcher::start();
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{SLUG}/clients"),
            Some(json!({
                "name": "Journey App",
                "grant_types": ["authorization_code"],
                "redirect_uris": [rp.uri()],
                "scopes": ["openid", "email"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let client = (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    );
    let browser = Browser::launch().await;

    // The relying party sends the browser to sign in; the login page offers sign-up.
    let verifier = "journey-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    browser
        .goto(&authorize_url(&app, &client.0, &rp.uri(), verifier))
        .await;
    assert!(browser.exists("#signup-link").await);
    browser.screenshot("journey_1_login").await;
    browser.click("#signup-link").await;
    assert!(
        browser
            .url()
            .await
            .starts_with(&format!("{}/signup", app.issuer(SLUG)))
    );
    let text = browser.text().await;
    assert!(text.contains("Create an account"), "{text}");
    assert!(text.contains("Journey App"), "{text}");

    // Register.
    browser.fill("#username", "nina").await;
    browser.fill("#email", "nina@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#password_confirm", PASSWORD).await;
    browser.screenshot("journey_2_signup").await;
    browser.click("#signup-form button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("Check your e-mail"), "{text}");
    browser.screenshot("journey_3_check_mail").await;

    // The mail arrives over SMTP; its link opens a confirm button, which confirms.
    let link = wait_for_link(&smtp, "nina@example.com", 1).await;
    browser.goto(&link).await;
    assert_eq!(browser.status().await, 200);
    assert!(browser.text().await.contains("nina@example.com"));
    browser.screenshot("journey_4_confirm").await;
    browser.click("#confirm-email").await;
    let text = browser.text().await;
    assert!(text.contains("Your address is confirmed"), "{text}");
    browser.screenshot("journey_5_confirmed").await;

    // Sign in for the relying party: password, consent, back with a code.
    browser
        .goto(&authorize_url(&app, &client.0, &rp.uri(), verifier))
        .await;
    sign_in(&browser).await;
    assert!(browser.text().await.contains("Journey App"));
    browser.click("button[value=allow]").await;
    let code = code_at_rp(&browser, &rp).await;
    let (claims, info) = id_token(&app, &client, &rp.uri(), &code, verifier).await;
    assert_eq!(claims["amr"], json!(["pwd"]), "{claims}");
    assert_eq!(info["email"], "nina@example.com", "{info}");
    assert_eq!(info["email_verified"], true, "{info}");

    // The account page: enrol an authenticator app with the key shown on the page.
    browser.goto(&format!("{}/account", app.issuer(SLUG))).await;
    assert!(browser.text().await.contains("nina"));
    browser.click("a[href$=\"/account/mfa\"]").await;
    let secret = browser
        .eval("document.querySelector('#totp-secret').textContent.trim()")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 32, "{secret}");
    browser.screenshot("journey_6_totp_enrol").await;
    let enrolled_at = step_now();
    browser.fill("#code", &totp(&secret, enrolled_at)).await;
    browser.click("form button.primary").await;
    assert!(browser.exists("#recovery-codes").await);
    browser.screenshot("journey_7_recovery_codes").await;

    // Sign out (the account page's link asks to confirm).
    browser.goto(&format!("{}/account", app.issuer(SLUG))).await;
    browser.click("a[href$=\"/logout\"]").await;
    browser.click("button[value=logout]").await;
    browser.screenshot("journey_8_signed_out").await;
    browser.goto(&format!("{}/account", app.issuer(SLUG))).await;
    assert!(browser.exists("input[name=password]").await, "signed out");

    // Sign in again: password, then a code of the next step (the enrolment spent this one).
    let verifier = "journey-verifier-second-0123456789-abcdefghijklmnopqrstuv";
    browser
        .goto(&authorize_url(&app, &client.0, &rp.uri(), verifier))
        .await;
    sign_in(&browser).await;
    assert!(browser.exists("#code").await, "the second step");
    browser.screenshot("journey_9_code").await;
    browser.fill("#code", &totp(&secret, enrolled_at + 1)).await;
    browser.click("form button.primary").await;
    let code = code_at_rp(&browser, &rp).await;
    let (claims, info) = id_token(&app, &client, &rp.uri(), &code, verifier).await;
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"otp"), "{claims}");
    assert_eq!(claims["acr"], "2", "{claims}");
    assert_eq!(info["email_verified"], true, "{info}");
}
