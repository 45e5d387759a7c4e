//! Two-step sign-in with an authenticator app (TOTP, RFC 6238) and recovery codes, over HTTP
//! with the cookie agent: enrolment from the account page, the second sign-in step and the
//! `amr`/`acr` it puts in ID tokens, wrong and replayed codes, single-use recovery codes,
//! removal, the `required` policy, `acr_values` step-up and the admin and CLI resets. Codes are
//! computed by an independent implementation (`totp-lite`), never by the server's code.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::{TenantId, UserId};
use tessera_store::audit::{self, AuditFilter};
use tessera_store::{PoolSettings, Store, mfa};
use totp_lite::{Sha1, totp_custom};

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app};
use crate::pairwise::jwt_claims;

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

/// The RFC 6238 time step of now.
pub(crate) fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// The six-digit code of `secret` (base32, as the page shows it) for time step `step`.
pub(crate) fn code(secret: &str, step: u64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    totp_custom::<Sha1>(30, 6, &key, step * 30)
}

/// A six-digit string that is not the code of any step near now.
fn wrong_code(secret: &str) -> String {
    let now = step_now();
    let near: Vec<String> = (now - 2..=now + 3).map(|s| code(secret, s)).collect();
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// The text of the element with `id`.
fn text_of(page: &str, id: &str) -> Option<String> {
    let start = page.find(&format!("id=\"{id}\""))?;
    let rest = &page[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim().to_owned())
}

/// The recovery codes listed on the page.
fn recovery_codes(page: &str) -> Vec<String> {
    let Some(start) = page.find("id=\"recovery-codes\"") else {
        return vec![];
    };
    let list = &page[start..start + page[start..].find("</ol>").unwrap()];
    list.match_indices("<li>")
        .map(|(i, _)| {
            let rest = &list[i + 4..];
            rest[..rest.find("</li>").unwrap()].trim().to_owned()
        })
        .collect()
}

/// Submits the form of `page` whose action ends with `suffix`, with that form's hidden fields
/// plus `fields`.
async fn submit_to(agent: &Agent, page: &str, suffix: &str, fields: &[(&str, &str)]) -> Step {
    let marker = format!("{suffix}\"");
    let at = page
        .match_indices("<form")
        .map(|(i, _)| i)
        .find(|&i| page[i..i + page[i..].find('>').unwrap()].contains(&marker))
        .unwrap_or_else(|| panic!("no form posting to {suffix}: {page}"));
    let form = &page[at..at + page[at..].find("</form>").unwrap()];
    agent.submit(form, fields).await
}

/// Whether the page is the second sign-in step.
fn is_code_page(page: &str) -> bool {
    page.contains("name=\"ticket\"") && page.contains("name=\"recovery_code\"")
}

/// Signs `agent` in on the account page with the password (no second factor asked).
async fn account_sign_in(app: &TestApp, f: &SignIn, agent: &Agent) {
    let account = format!("{}/account", app.issuer(&f.tenant));
    let step = agent.get(&account).await;
    let step = agent.login(step.page().1, &f.username, &f.password).await;
    assert!(step.location().ends_with("/account"), "{step:?}");
}

/// Enrols an authenticator from the account page of a signed-in `agent` with a code of the
/// current step; returns the secret and the recovery codes.
async fn enrol(app: &TestApp, f: &SignIn, agent: &Agent) -> (String, Vec<String>) {
    let account = agent
        .get(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    assert!(
        account.page().1.contains("/account/mfa\""),
        "the account page links to the authenticator page"
    );
    let step = agent
        .get(&format!("{}/account/mfa", app.issuer(&f.tenant)))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let secret = text_of(page, "totp-secret").expect("the key is shown as text");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    // The QR code is drawn by the server: an inline SVG data URL, no external service.
    let qr_start = page
        .find("src=\"data:image/svg+xml;base64,")
        .expect("an SVG QR code");
    let qr = &page[qr_start + 31..];
    let qr = &qr[..qr.find('"').unwrap()].replace("&#x3D;", "=");
    let svg = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, qr).unwrap();
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    let step = agent
        .submit(page, &[("code", &code(&secret, step_now()))])
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let codes = recovery_codes(page);
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once: {page}");
    (secret, codes)
}

/// Starts an authorization with `extra` parameters for a fresh agent and signs in with the
/// password; the agent and the step after the password.
async fn password_step(app: &TestApp, f: &SignIn, extra: &[(&str, &str)]) -> (Agent, Step) {
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(app, "openid profile", VERIFIER, extra))
        .await;
    let step = agent.login(step.page().1, &f.username, &f.password).await;
    (agent, step)
}

/// Finishes an authorization at `step` (consenting if asked) and returns the ID token's claims.
async fn id_token_after(app: &TestApp, f: &SignIn, agent: &Agent, step: Step) -> Value {
    let step = match step {
        Step::Page(_, page) if page.contains("name=\"decision\"") => {
            agent.consent(&page, &["openid", "profile"], true).await
        }
        other => other,
    };
    let location = step.location().to_owned();
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let (status, body) = f.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    jwt_claims(body["id_token"].as_str().unwrap())
}

async fn set_policy(app: &TestApp, slug: &str, settings: Value) {
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
    // Nodes learn of settings changes through the change feed.
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;
}

#[actix_web::test]
async fn a_totp_sign_in_reports_otp_and_mfa_and_refuses_wrong_and_replayed_codes() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-totp", false).await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    let (secret, _) = enrol(&app, &f, &owner).await;
    let enrolled_at = step_now();

    // The password alone no longer signs in: the second step comes, with no session yet.
    let (agent, step) = password_step(&app, &f, &[]).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(is_code_page(page), "{page}");
    let page = page.to_owned();
    let account = agent
        .get(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    assert!(
        account.page().1.contains("name=\"password\""),
        "no session before the second factor"
    );

    // A wrong code is refused.
    let step = agent.submit(&page, &[("code", &wrong_code(&secret))]).await;
    let (status, refused) = step.page();
    assert_eq!(status, 401, "{refused}");
    assert!(refused.contains("That code is not valid"));

    // The next step's code (within the ±1 window; the enrolment spent the current one).
    let next = code(&secret, enrolled_at + 1);
    let step = agent.submit(refused, &[("code", &next)]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2");

    // The same code again, from another browser within the window: refused (RFC 6238 §5.2),
    // and so is the earlier step's code that enrolled.
    let (other, step) = password_step(&app, &f, &[]).await;
    let page = step.page().1.to_owned();
    let step = other.submit(&page, &[("code", &next)]).await;
    let (status, refused) = step.page();
    assert_eq!(status, 401, "a replayed code: {refused}");
    let step = other
        .submit(refused, &[("code", &code(&secret, enrolled_at))])
        .await;
    assert_eq!(step.page().0, 401, "an older step's code");

    // Discovery lists the acr values.
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        app.issuer(&f.tenant)
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(discovery["acr_values_supported"], json!(["1", "2"]));
}

#[actix_web::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-recovery", false).await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    let (_, codes) = enrol(&app, &f, &owner).await;

    let (agent, step) = password_step(&app, &f, &[]).await;
    let page = step.page().1.to_owned();
    // Typed in lowercase without the dash: still the same code.
    let typed = codes[3].replace('-', "").to_lowercase();
    let step = agent.submit(&page, &[("recovery_code", &typed)]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    // RFC 8176 has no value for a recovery code: `mfa` says a second factor was used.
    assert_eq!(claims["amr"], json!(["pwd", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2");

    let (again, step) = password_step(&app, &f, &[]).await;
    let page = step.page().1.to_owned();
    let step = again.submit(&page, &[("recovery_code", &codes[3])]).await;
    assert_eq!(step.page().0, 401, "a spent recovery code");
    let step = again
        .submit(step.page().1, &[("recovery_code", "AAAAA-BBBBB")])
        .await;
    assert_eq!(step.page().0, 401, "a code the user never had");
}

#[actix_web::test]
async fn turning_two_step_verification_off_needs_a_code() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-remove", false).await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    let (secret, codes) = enrol(&app, &f, &owner).await;
    let manage = format!("{}/account/mfa", app.issuer(&f.tenant));

    let step = owner.get(&manage).await;
    let page = step.page().1.to_owned();
    assert!(page.contains("/account/mfa/remove\""), "{page}");
    let step = submit_to(&owner, &page, "/account/mfa/remove", &[("code", "")]).await;
    assert_eq!(step.page().0, 401, "no code");
    let step = submit_to(
        &owner,
        &page,
        "/account/mfa/remove",
        &[("code", &wrong_code(&secret))],
    )
    .await;
    assert_eq!(step.page().0, 401, "a wrong code");
    let (_, step) = password_step(&app, &f, &[]).await;
    assert!(is_code_page(step.page().1), "still on");

    // Without the CSRF token: refused.
    let resp = owner
        .http
        .post(format!("{manage}/remove"))
        .form(&[("code", codes[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let step = submit_to(&owner, &page, "/account/mfa/remove", &[("code", &codes[0])]).await;
    assert!(step.location().ends_with("/account/mfa"), "{step:?}");
    let (agent, step) = password_step(&app, &f, &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "1");
}

#[actix_web::test]
async fn recovery_codes_can_be_renewed_with_a_current_code() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-renew", false).await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    let (secret, old) = enrol(&app, &f, &owner).await;
    let enrolled_at = step_now();
    let step = owner
        .get(&format!("{}/account/mfa", app.issuer(&f.tenant)))
        .await;
    let page = step.page().1.to_owned();
    let step = submit_to(
        &owner,
        &page,
        "/account/mfa/recovery-codes",
        &[("code", &code(&secret, enrolled_at + 1))],
    )
    .await;
    let (status, renewed) = step.page();
    assert_eq!(status, 200, "{renewed}");
    let new = recovery_codes(renewed);
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));

    let (agent, step) = password_step(&app, &f, &[]).await;
    let page = step.page().1.to_owned();
    let step = agent.submit(&page, &[("recovery_code", &old[0])]).await;
    assert_eq!(step.page().0, 401, "the old codes stopped working");
    let step = agent
        .submit(step.page().1, &[("recovery_code", &new[0])])
        .await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "2");
}

#[actix_web::test]
async fn the_required_policy_enrols_a_user_right_after_the_password() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-required", false).await;
    set_policy(&app, &f.tenant, json!({"mfa": {"policy": "required"}})).await;

    let (agent, step) = password_step(&app, &f, &[]).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    let secret = text_of(page, "totp-secret").expect("the enrolment page");
    let page = page.to_owned();
    let step = agent.submit(&page, &[("code", &wrong_code(&secret))]).await;
    assert_eq!(step.page().0, 401);
    assert_eq!(
        text_of(step.page().1, "totp-secret").as_deref(),
        Some(secret.as_str()),
        "the same key is shown again"
    );
    let step = agent
        .submit(step.page().1, &[("code", &code(&secret, step_now()))])
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert_eq!(recovery_codes(page).len(), 10);
    let page = page.to_owned();
    let step = submit_to(&agent, &page, "/login/continue", &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2");

    // From now on the code is asked for.
    let (_, step) = password_step(&app, &f, &[]).await;
    assert!(is_code_page(step.page().1));
}

#[actix_web::test]
async fn acr_values_asks_a_password_session_for_the_second_factor() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-stepup", false).await;

    // No authenticator yet: a plain sign-in is password-only.
    let (agent, step) = password_step(&app, &f, &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "1");
    assert_eq!(claims["amr"], json!(["pwd"]));

    // `acr_values=2` for that session (no authenticator): enrol first, then continue.
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", VERIFIER, &[("acr_values", "2")]))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(
        !page.contains("name=\"password\""),
        "no password asked again"
    );
    let secret = text_of(page, "totp-secret").expect("enrolment");
    let page = page.to_owned();
    let enrolled_at = step_now();
    let step = agent
        .submit(&page, &[("code", &code(&secret, enrolled_at))])
        .await;
    let page = step.page().1.to_owned();
    let step = submit_to(&agent, &page, "/login/continue", &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "2", "{claims}");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));

    // A password-only session of an enrolled user (signed in while MFA was off) is asked for
    // the code when a client sends `acr_values=2`, and only then.
    set_policy(&app, &f.tenant, json!({"mfa": {"policy": "off"}})).await;
    let (agent, step) = password_step(&app, &f, &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "1", "policy off: no second step");
    set_policy(&app, &f.tenant, json!({"mfa": {"policy": "optional"}})).await;
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", VERIFIER, &[]))
        .await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "1", "no step-up without acr_values");
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", VERIFIER, &[("acr_values", "2")]))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(is_code_page(page), "{page}");
    let page = page.to_owned();
    let step = agent
        .submit(&page, &[("code", &code(&secret, enrolled_at + 1))])
        .await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "2", "{claims}");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
}

#[actix_web::test]
async fn wrong_codes_count_toward_the_account_lockout() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-lockout", false).await;
    set_policy(
        &app,
        &f.tenant,
        json!({"lockout": {"free_attempts": 3, "lock_after": 3, "lock_secs": 600}}),
    )
    .await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    let (secret, _) = enrol(&app, &f, &owner).await;
    let (agent, step) = password_step(&app, &f, &[]).await;
    let mut page = step.page().1.to_owned();
    for _ in 0..3 {
        let step = agent.submit(&page, &[("code", &wrong_code(&secret))]).await;
        assert_eq!(step.page().0, 401);
        page = step.page().1.to_owned();
    }
    // Locked: even the right code, and the password, wait.
    let step = agent
        .submit(&page, &[("code", &code(&secret, step_now() + 1))])
        .await;
    assert_eq!(step.page().0, 429, "{:?}", step);
    let (_, step) = password_step(&app, &f, &[]).await;
    assert_eq!(step.page().0, 429);
}

#[actix_web::test]
async fn an_admin_or_the_cli_can_reset_a_users_second_factor() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-reset", false).await;
    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    enrol(&app, &f, &owner).await;

    let token = app.admin_token().await;
    let path = format!("/tenants/{}/users/alice/mfa", f.tenant);
    let (status, body) = app.admin(&token, Method::DELETE, &path, None).await;
    assert_eq!(status, 204, "{body}");
    let (agent, step) = password_step(&app, &f, &[]).await;
    let claims = id_token_after(&app, &f, &agent, step).await;
    assert_eq!(claims["acr"], "1", "the password alone signs in again");
    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/{}/users/nobody/mfa", f.tenant),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Enrol again (a new key), then reset from the command line.
    enrol(&app, &f, &owner).await;
    let (_, step) = password_step(&app, &f, &[]).await;
    assert!(is_code_page(step.page().1));
    let (ok, out) = app.cli(&["user", "reset-mfa", &f.tenant, "alice"]);
    assert!(ok, "{out}");
    assert_eq!(out["removed"], true);
    let (_, step) = password_step(&app, &f, &[]).await;
    assert!(
        !matches!(&step, Step::Page(_, page) if is_code_page(page)),
        "reset: {step:?}"
    );

    // Each enrolment and removal is in the audit log, with who did it.
    let (tenant_id, user_id) = ids(&app, &f).await;
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    let actors = |action: &str| {
        let filter = AuditFilter {
            action: Some(action.to_owned()),
            ..AuditFilter::default()
        };
        let store = store.clone();
        async move {
            audit::list(store.conn(), tenant_id, &filter, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.actor)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(actors("mfa.totp.enrolled").await.len(), 2);
    let removed = actors("mfa.removed").await;
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(removed.contains(&"admin:cli".to_owned()), "{removed:?}");
    assert!(
        removed
            .iter()
            .any(|a| a.starts_with("admin:") && a != "admin:cli")
    );

    // Deleting the user deletes its second factors.
    enrol(&app, &f, &owner).await;
    assert!(
        mfa::find_totp(store.conn(), tenant_id, user_id)
            .await
            .unwrap()
            .is_some()
    );
    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/{}/users/alice", f.tenant),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        mfa::find_totp(store.conn(), tenant_id, user_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        mfa::recovery_codes_left(store.conn(), tenant_id, user_id)
            .await
            .unwrap(),
        0
    );
}

/// The tenant's and alice's ids, from the admin API.
async fn ids(app: &TestApp, f: &SignIn) -> (TenantId, UserId) {
    let token = app.admin_token().await;
    let id = |body: &Value| body["id"].as_str().unwrap().parse().unwrap();
    let (status, tenant) = app
        .admin(&token, Method::GET, &format!("/tenants/{}", f.tenant), None)
        .await;
    assert_eq!(status, 200, "{tenant}");
    let (status, user) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/{}/users/{}", f.tenant, f.username),
            None,
        )
        .await;
    assert_eq!(status, 200, "{user}");
    (TenantId(id(&tenant)), UserId(id(&user)))
}

#[actix_web::test]
async fn the_password_grant_refuses_an_account_with_a_second_factor() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "mfa-ropc", false).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{}/clients", f.tenant),
            Some(json!({
                "name": "Legacy App",
                "grant_types": ["password"],
                "scopes": ["openid"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let client = (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    );
    let grant = || async {
        let resp = app
            .post_token(
                &f.tenant,
                Some((&client.0, &client.1)),
                &[
                    ("grant_type", "password"),
                    ("username", &f.username),
                    ("password", &f.password),
                    ("scope", "openid"),
                ],
            )
            .await;
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    };
    assert_eq!(grant().await.0, 200, "no second factor yet");

    let owner = Agent::new();
    account_sign_in(&app, &f, &owner).await;
    enrol(&app, &f, &owner).await;
    let (status, body) = grant().await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}
