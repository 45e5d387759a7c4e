//! Passkeys (WebAuthn) end to end: a real Chromium with a DevTools virtual authenticator
//! (`WebAuthn.addVirtualAuthenticator`: CTAP2, internal transport, resident keys, user
//! verification) registers a named passkey on the account page, signs in with it without a
//! password and as the second factor after one, and the ID tokens say so in `amr`/`acr`
//! (RFC 8176). The refusals — a removed passkey, a tampered or foreign ceremony state, another
//! user's passkey, a missing CSRF token, an IP-address issuer — go through HTTP or the browser.
//!
//! WebAuthn needs a domain as relying party id (an IP address is none), so these servers are
//! reached as `localhost`.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::{TenantId, UserId};
use tessera_store::{PoolSettings, Store, passkeys};

use crate::agent::{Agent, SignIn, Step, hidden_fields, param, s256, sign_in_fixture};
use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::pairwise::jwt_claims;
use crate::signup::patch_settings;

const VERIFIER: &str = "passkey-verifier-0123456789-0123456789-0123456789";

/// A server whose public URL (and so every issuer) is `http://localhost:{port}`.
async fn spawn_localhost_app() -> TestApp {
    let mut app = spawn_app_with(|s| {
        s.server.public_url = s.server.public_url.replace("127.0.0.1", "localhost");
    })
    .await;
    app.address = app.address.replace("127.0.0.1", "localhost");
    app
}

/// A first-party client (no consent page) redirecting to `redirect_uri`.
async fn create_client(app: &TestApp, tenant: &str, redirect_uri: &str) -> (String, String) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(json!({
                "name": "Passkey App",
                "grant_types": ["authorization_code"],
                "redirect_uris": [redirect_uri],
                "scopes": ["openid", "profile"],
                "first_party": true,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A browser with a virtual platform authenticator that verifies the user (a passkey on a
/// laptop with a fingerprint reader, as far as the page can tell).
async fn browser_with_authenticator() -> (Browser, String) {
    let browser = Browser::launch().await;
    browser.cdp("WebAuthn.enable", json!({})).await;
    let added = browser
        .cdp(
            "WebAuthn.addVirtualAuthenticator",
            json!({"options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )
        .await;
    let id = added["authenticatorId"].as_str().unwrap().to_owned();
    (browser, id)
}

/// Signs in on the account page with the password and adds a passkey named `name`; returns the
/// passkey's id as the page lists it.
async fn register_passkey(browser: &Browser, app: &TestApp, f: &SignIn, name: &str) -> String {
    let account = format!("{}/account", app.issuer(&f.tenant));
    browser.goto(&account).await;
    if browser.exists("input[name=password]").await {
        browser.fill("input[name=username]", &f.username).await;
        browser.fill("input[name=password]", &f.password).await;
        browser.click("form button[type=submit]").await;
    }
    assert!(
        browser.exists("#add-passkey").await,
        "the account page offers passkeys: {}",
        browser.text().await
    );
    browser.fill("#passkey-name", name).await;
    browser.click("#add-passkey button[type=submit]").await;
    // The passkey page runs the ceremony and posts the answer; the account page lists it.
    browser
        .wait_until(
            &format!(
                "location.pathname.endsWith('/account') && !!document.querySelector('#passkeys') \
                 && document.querySelector('#passkeys').innerText.includes({})",
                json!(name)
            ),
            "the new passkey listed on the account page",
        )
        .await;
    let text = browser.text().await;
    assert!(text.contains("Your passkey was added."), "{text}");
    assert!(text.contains("Kept on one device"), "device-bound: {text}");
    browser
        .eval(&format!(
            "[...document.querySelectorAll('#passkeys li')].find(li => li.innerText.includes({})).dataset.passkeyId",
            json!(name)
        ))
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// The authorization URL of `client_id` for `redirect_uri` with PKCE.
fn authorize_url(app: &TestApp, tenant: &str, client_id: &str, redirect_uri: &str) -> String {
    let challenge = s256(VERIFIER);
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile"),
        ("state", "st-pk"),
        ("nonce", "n-pk"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    format!("{}/authorize?{query}", app.issuer(tenant))
}

/// Waits for the browser to reach the client, then redeems the code; the ID token's claims.
async fn id_token_from(
    app: &TestApp,
    tenant: &str,
    client: &(String, String),
    rp: &RedirectCatcher,
) -> Value {
    let arrived =
        crate::helpers::within(crate::browser::WAIT, || async { !callbacks(rp).is_empty() }).await;
    assert!(arrived.is_some(), "the browser never reached the client");
    let target = callbacks(rp).remove(0);
    let code = param(&format!("http://client.example{target}"), "code")
        .unwrap_or_else(|| panic!("no code in {target}"));
    let resp = app
        .post_token(
            tenant,
            Some((&client.0, &client.1)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &rp.uri()),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    jwt_claims(body["id_token"].as_str().unwrap())
}

/// The requests that reached the client's redirect URI (not, say, a favicon).
fn callbacks(rp: &RedirectCatcher) -> Vec<String> {
    rp.requests()
        .into_iter()
        .filter(|t| t.starts_with("/cb"))
        .collect()
}

/// The tenant's and alice's ids, from the admin API.
async fn ids(app: &TestApp, f: &SignIn) -> (TenantId, UserId) {
    let token = app.admin_token().await;
    let id = |body: &Value| body["id"].as_str().unwrap().parse().unwrap();
    let (_, tenant) = app
        .admin(&token, Method::GET, &format!("/tenants/{}", f.tenant), None)
        .await;
    let (_, user) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/{}/users/{}", f.tenant, f.username),
            None,
        )
        .await;
    (TenantId(id(&tenant)), UserId(id(&user)))
}

/// Creates user `bob` and signs him in on the account page with `agent`; the account page.
async fn bob_on_account_page(app: &TestApp, tenant: &str, agent: &Agent) -> String {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{tenant}/users"),
            Some(json!({"username": "bob", "password": "bob's quiet lantern 77"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let account = format!("{}/account", app.issuer(tenant));
    let step = agent.get(&account).await;
    let step = agent
        .login(step.page().1, "bob", "bob's quiet lantern 77")
        .await;
    assert!(step.location().ends_with("/account"), "{step:?}");
    let step = agent.get(&account).await;
    step.page().1.to_owned()
}

#[actix_web::test]
async fn a_passkey_added_on_the_account_page_signs_in_without_a_password_as_hwk_and_mfa() {
    let app = spawn_localhost_app().await;
    let f = sign_in_fixture(&app, "pk-passwordless", false).await;
    let rp = RedirectCatcher::start();
    let client = create_client(&app, &f.tenant, &rp.uri()).await;
    let (browser, authenticator) = browser_with_authenticator().await;

    let passkey_id = register_passkey(&browser, &app, &f, "Test laptop").await;
    browser.screenshot("passkey_account").await;
    let creds = browser
        .cdp(
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator}),
        )
        .await;
    let creds = creds["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(
        creds[0]["isResidentCredential"], true,
        "discoverable, so it can sign in without a username"
    );
    assert_eq!(creds[0]["rpId"], "localhost");

    // Signed out (a fresh cookie jar, same authenticator): sign in at the client with the
    // passkey alone. The ceremony page's post is copied aside, to be replayed below.
    browser.cdp("Page.enable", json!({})).await;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "HTMLFormElement.prototype.submit = (function (submit) { \
                return function () { if (this.id === 'passkey-form') { \
                localStorage.setItem('passkey-post', JSON.stringify([...new FormData(this)])); } \
                return submit.call(this); }; })(HTMLFormElement.prototype.submit);"}),
        )
        .await;
    browser.cdp("Network.clearBrowserCookies", json!({})).await;
    browser
        .goto(&authorize_url(&app, &f.tenant, &client.0, &rp.uri()))
        .await;
    assert!(
        browser.exists("#passkey-sign-in").await,
        "{}",
        browser.text().await
    );
    browser.screenshot("passkey_login").await;
    browser.click("#passkey-sign-in button[type=submit]").await;
    let claims = id_token_from(&app, &f.tenant, &client, &rp).await;
    let (tenant_id, alice) = ids(&app, &f).await;
    assert_eq!(claims["sub"], alice.to_string());
    // RFC 8176 §2: proof of possession of a device-bound key, a user test, multi-factor.
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2", "{claims}");

    // The same answer posted again (same browser cookies, same sealed state): the ceremony's
    // state is spent, so nothing signs in twice (WebAuthn §13.4.3).
    browser
        .goto(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    let post: Vec<(String, String)> = serde_json::from_str(
        browser
            .eval("localStorage.getItem('passkey-post')")
            .await
            .as_str()
            .expect("the ceremony's post was copied"),
    )
    .unwrap();
    assert!(post.iter().any(|(n, v)| n == "credential" && !v.is_empty()));
    let cookie = browser
        .cookies()
        .await
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["name"].as_str().unwrap(),
                c["value"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let replay = app
        .http
        .post(format!("{}/login/passkey/finish", app.issuer(&f.tenant)))
        .header("cookie", cookie)
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 400);
    assert!(replay.text().await.unwrap().contains("expired"));
    assert_eq!(callbacks(&rp).len(), 1);

    // The use is recorded on the passkey.
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    let stored = passkeys::list_for_user(store.conn(), tenant_id, alice)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Test laptop");
    assert!(stored[0].last_used_at.is_some());
    assert!(!stored[0].backup_eligible);

    // Another user can neither remove alice's passkey nor post without a CSRF token.
    let bob = Agent::new();
    let page = bob_on_account_page(&app, &f.tenant, &bob).await;
    let csrf = hidden_fields(&page)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let remove = format!(
        "{}/account/passkeys/{passkey_id}/remove",
        app.issuer(&f.tenant)
    );
    let resp = bob
        .http
        .post(&remove)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404, "another user's passkey");
    let resp = bob
        .http
        .post(&remove)
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "no CSRF token");
    assert_eq!(
        passkeys::count_for_user(store.conn(), tenant_id, alice)
            .await
            .unwrap(),
        1,
        "alice's passkey is still there"
    );

    // Alice removes it on her account page; the authenticator still holds the credential, but
    // it no longer signs in.
    browser
        .click(&format!(
            "li[data-passkey-id=\"{passkey_id}\"] button[type=submit]"
        ))
        .await;
    let text = browser.text().await;
    assert!(text.contains("The passkey was removed."), "{text}");
    assert!(!text.contains("Test laptop"), "{text}");
    browser.cdp("Network.clearBrowserCookies", json!({})).await;
    browser
        .goto(&authorize_url(&app, &f.tenant, &client.0, &rp.uri()))
        .await;
    browser.click("#passkey-sign-in button[type=submit]").await;
    browser
        .wait_until(
            "document.body.innerText.includes('That passkey could not be verified')",
            "the refusal of a removed passkey",
        )
        .await;
    assert!(
        browser.exists("input[name=password]").await,
        "back on the login page"
    );
    assert_eq!(browser.status().await, 401);
    assert_eq!(callbacks(&rp).len(), 1, "no second code was issued");
}

#[actix_web::test]
async fn a_passkey_satisfies_the_required_policy_as_the_second_factor_after_the_password() {
    let app = spawn_localhost_app().await;
    let f = sign_in_fixture(&app, "pk-second", false).await;
    let rp = RedirectCatcher::start();
    let client = create_client(&app, &f.tenant, &rp.uri()).await;
    let (browser, _) = browser_with_authenticator().await;
    register_passkey(&browser, &app, &f, "Security key").await;
    patch_settings(&app, &f.tenant, json!({ "mfa": { "policy": "required" } })).await;

    browser.cdp("Network.clearBrowserCookies", json!({})).await;
    browser
        .goto(&authorize_url(&app, &f.tenant, &client.0, &rp.uri()))
        .await;
    browser.fill("input[name=username]", &f.username).await;
    browser.fill("input[name=password]", &f.password).await;
    browser.click("form button[type=submit]").await;
    // The second step offers the passkey; no authenticator app has to be set up first.
    let text = browser.text().await;
    assert!(text.contains("Two-step verification"), "{text}");
    assert!(!text.contains("Set up"), "no TOTP enrolment forced: {text}");
    assert!(!browser.exists("input[name=code]").await, "{text}");
    browser.screenshot("passkey_second_factor").await;
    browser
        .click("#passkey-second-factor button[type=submit]")
        .await;
    let claims = id_token_from(&app, &f.tenant, &client, &rp).await;
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2", "{claims}");

    // The account page's sign-in form offers the passkey too, and returns to the account page.
    browser.cdp("Network.clearBrowserCookies", json!({})).await;
    browser
        .goto(&format!("{}/account", app.issuer(&f.tenant)))
        .await;
    browser.click("#passkey-sign-in button[type=submit]").await;
    browser
        .wait_until(
            "location.pathname.endsWith('/account') && document.body.innerText.includes('Signed in as alice')",
            "the account page after a passwordless sign-in",
        )
        .await;

    // The admin reset of second factors removes passkeys too; deleting the user, the rest.
    let (tenant_id, alice) = ids(&app, &f).await;
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(
        passkeys::count_for_user(store.conn(), tenant_id, alice)
            .await
            .unwrap(),
        1
    );
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/{}/users/alice/mfa", f.tenant),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        passkeys::count_for_user(store.conn(), tenant_id, alice)
            .await
            .unwrap(),
        0
    );
    register_passkey(&browser, &app, &f, "Second key").await;
    assert_eq!(
        passkeys::count_for_user(store.conn(), tenant_id, alice)
            .await
            .unwrap(),
        1
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
    assert_eq!(
        passkeys::count_for_user(store.conn(), tenant_id, alice)
            .await
            .unwrap(),
        0,
        "a deleted user's passkeys go with it"
    );
}

/// Posts the login page's passkey form `fields` to `/login/passkey` at `tenant` with `agent`.
async fn start_passwordless(
    app: &TestApp,
    agent: &Agent,
    tenant: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    agent
        .http
        .post(format!("{}/login/passkey", app.issuer(tenant)))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Starts a passwordless ceremony from the login page of an authorization at `tenant` with
/// `agent`; the ceremony page.
async fn ceremony_page(app: &TestApp, f: &SignIn, agent: &Agent) -> String {
    let step = agent
        .get(&f.authorize_url(app, "openid", VERIFIER, &[]))
        .await;
    let login = step.page().1.to_owned();
    let at = login
        .find("id=\"passkey-sign-in\"")
        .expect("a passkey button");
    let form = &login[at..at + login[at..].find("</form>").unwrap()];
    let fields = hidden_fields(form);
    let resp = start_passwordless(app, agent, &f.tenant, &fields).await;
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("navigator.credentials"), "{page}");
    page
}

/// Posts a ceremony page's form with `state` and `credential` in place of its own.
async fn finish(agent: &Agent, page: &str, state: &str, credential: &str) -> (u16, String) {
    let action = "action=\"";
    let start = page.find(action).unwrap() + action.len();
    let url = page[start..start + page[start..].find('"').unwrap()].replace("&#x2F;", "/");
    let mut form: Vec<(String, String)> = hidden_fields(page)
        .into_iter()
        .filter(|(n, _)| n != "state" && n != "credential")
        .collect();
    form.push(("state".into(), state.into()));
    form.push(("credential".into(), credential.into()));
    let resp = agent.http.post(url).form(&form).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn state_of(page: &str) -> String {
    hidden_fields(page)
        .into_iter()
        .find(|(n, _)| n == "state")
        .unwrap()
        .1
}

#[actix_web::test]
async fn a_tampered_or_foreign_ceremony_state_and_a_forged_answer_are_refused() {
    let app = spawn_localhost_app().await;
    let a = sign_in_fixture(&app, "pk-tenant-a", false).await;
    let b = sign_in_fixture(&app, "pk-tenant-b", false).await;
    let agent = Agent::new();
    let page = ceremony_page(&app, &a, &agent).await;
    let state = state_of(&page);
    assert!(!state.is_empty());

    // A forged answer with the genuine state: not verified (and no session).
    let forged = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}
    })
    .to_string();
    let (status, body) = finish(&agent, &page, &state, &forged).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("could not be verified"), "{body}");
    let (status, body) = finish(&agent, &page, &state, "not json").await;
    assert_eq!(status, 401, "{body}");

    // One character of the sealed state changed: refused before the answer is looked at.
    let mut tampered: Vec<char> = state.chars().collect();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let (status, body) = finish(&agent, &page, &tampered, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expired"), "{body}");

    // Tenant B's state at tenant A: sealed to B, it does not open at A.
    let agent_b = Agent::new();
    let page_b = ceremony_page(&app, &b, &agent_b).await;
    let (status, body) = finish(&agent, &page, &state_of(&page_b), &forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expired"), "{body}");
    let (status, _) = finish(&agent, &page, "", &forged).await;
    assert_eq!(status, 400);

    // No session came out of any of it.
    let step = agent
        .get(&format!("{}/account", app.issuer(&a.tenant)))
        .await;
    assert!(
        step.page().1.contains("name=\"password\""),
        "still signed out"
    );
}

#[actix_web::test]
async fn passkey_forms_need_a_csrf_token_and_a_session() {
    let app = spawn_localhost_app().await;
    let f = sign_in_fixture(&app, "pk-csrf", false).await;
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let request = hidden_fields(step.page().1)
        .into_iter()
        .find(|(n, _)| n == "request")
        .unwrap()
        .1;
    let issuer = app.issuer(&f.tenant);
    for path in [
        "/login/passkey",
        "/login/passkey/finish",
        "/login/mfa/passkey",
        "/login/mfa/passkey/finish",
        "/account/passkeys",
        "/account/passkeys/finish",
    ] {
        let resp = agent
            .http
            .post(format!("{issuer}{path}"))
            .form(&[("request", request.as_str()), ("name", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403, "{path} without a CSRF token");
    }
    // With a CSRF token but no session, adding a passkey leads to the account sign-in.
    let csrf = hidden_fields(step.page().1)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let resp = agent
        .http
        .post(format!("{issuer}/account/passkeys"))
        .form(&[("csrf_token", csrf.as_str()), ("name", "Laptop")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/account")
    );
}

#[actix_web::test]
async fn an_ip_address_issuer_offers_no_passkeys() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "pk-ip", false).await;
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", VERIFIER, &[]))
        .await;
    let Step::Page(200, login) = step else {
        panic!("{step:?}")
    };
    assert!(!login.contains("passkey"), "{login}");
    let fields = hidden_fields(&login);
    let resp = start_passwordless(&app, &agent, &f.tenant, &fields).await;
    assert_eq!(resp.status().as_u16(), 404);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Passkeys are not available at this address.")
    );
}
