//! The sign-in pages in a real headless Chromium: what a person sees and does at
//! `/t/{tenant}/authorize`, from error page to login, consent and the redirect back to the app.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use openidconnect::PkceCodeChallenge;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app};

/// Registers a confidential authorization-code client redirecting to `redirect_uri`.
async fn create_web_client(
    app: &TestApp,
    tenant: &str,
    redirect_uri: &str,
    scopes: &[&str],
) -> TestClient {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(json!({
                "name": "Browser Test App",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri],
                "scopes": scopes,
            })),
        )
        .await;
    assert_eq!(status, 201, "create client: {body}");
    TestClient {
        id: body["client_id"].as_str().expect("client_id").to_owned(),
        secret: body["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    }
}

/// An authorization request URL of `tenant` for `client`.
fn authorize_url(app: &TestApp, tenant: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).expect("query");
    format!("{}/t/{tenant}/authorize?{query}", app.address)
}

#[actix_web::test]
async fn unregistered_redirect_uri_shows_the_error_page_and_the_browser_stays_on_the_server() {
    let app = spawn_app().await;
    app.create_tenant("pages-err", "RS256").await;
    let rp = RedirectCatcher::start();
    // A live listener that is *not* registered: had the server redirected, it would see it.
    let intruder = RedirectCatcher::start();
    let client = create_web_client(&app, "pages-err", &rp.uri(), &["openid"]).await;
    let browser = Browser::launch().await;

    for bad in ["https://evil.example/cb".to_owned(), intruder.uri()] {
        let url = authorize_url(
            &app,
            "pages-err",
            &[
                ("client_id", &client.id),
                ("redirect_uri", &bad),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "st-1"),
            ],
        );
        browser.goto(&url).await;

        let at = browser.url().await;
        assert!(
            at.starts_with(&format!("{}/t/pages-err/authorize?", app.address)),
            "{bad}: the browser left the server for {at}"
        );
        assert_eq!(browser.status().await, 400, "{bad}");
        let text = browser.text().await;
        assert!(
            text.contains("This sign-in request cannot be completed"),
            "{bad}: page text {text:?}"
        );
        assert!(
            text.contains("The redirect URI is not registered for this application."),
            "{bad}: page text {text:?}"
        );
        assert!(
            text.contains("invalid_request"),
            "{bad}: page text {text:?}"
        );
        assert!(
            !browser.exists("form").await,
            "{bad}: an error page offers no form"
        );
    }
    browser.screenshot("error_unregistered_redirect_uri").await;
    assert_eq!(intruder.requests(), Vec::<String>::new());
    assert_eq!(rp.requests(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Login and consent

/// The password of every test user (long enough for the default policy, not a breached one).
const PASSWORD: &str = "violet tarmac kettle 42";

/// A tenant with cheap argon2 (and `lockout`, when given), a confidential client redirecting to a
/// live loopback catcher, and the user `alice` created through the real CLI.
struct Fixture {
    app: TestApp,
    rp: RedirectCatcher,
    tenant: String,
    client: TestClient,
}

impl Fixture {
    async fn new(tenant: &str, lockout: Option<serde_json::Value>) -> Fixture {
        let app = spawn_app().await;
        app.create_tenant(tenant, "RS256").await;
        let mut settings = json!({"password": {"argon2_memory_kib": 8, "argon2_iterations": 1}});
        if let Some(lockout) = lockout {
            settings["lockout"] = lockout;
        }
        let token = app.admin_token().await;
        let (status, body) = app
            .admin(
                &token,
                Method::PUT,
                &format!("/tenants/{tenant}/settings"),
                Some(settings),
            )
            .await;
        assert_eq!(status, 200, "tenant settings: {body}");
        let rp = RedirectCatcher::start();
        let client =
            create_web_client(&app, tenant, &rp.uri(), &["openid", "profile", "email"]).await;
        create_user(&app, tenant, "alice", PASSWORD).await;
        Fixture {
            app,
            rp,
            tenant: tenant.to_owned(),
            client,
        }
    }

    /// An authorization request for `scope` with `state`, a nonce and a PKCE S256 challenge;
    /// returns the URL and the verifier.
    fn authorize(&self, scope: &str, state: &str) -> (String, String) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let url = authorize_url(
            &self.app,
            &self.tenant,
            &[
                ("response_type", "code"),
                ("client_id", &self.client.id),
                ("redirect_uri", &self.rp.uri()),
                ("scope", scope),
                ("state", state),
                ("nonce", "n-0S6_WzA2Mj"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        (url, verifier.secret().to_owned())
    }

    /// Exchanges `code` at the token endpoint; the 200 JSON body.
    async fn exchange(&self, code: &str, verifier: &str) -> Value {
        let redirect_uri = self.rp.uri();
        let resp = self
            .app
            .post_token(
                &self.tenant,
                Some((&self.client.id, &self.client.secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("token response JSON");
        assert_eq!(status, 200, "code exchange: {body}");
        body
    }

    /// Asserts the browser landed on the client's redirect URI and returns the query parameters.
    async fn landed_at_client(&self, browser: &Browser) -> BTreeMap<String, String> {
        let at = browser.url().await;
        assert!(
            at.starts_with(&format!("{}?", self.rp.uri())),
            "expected the client's redirect URI, at {at}: {}",
            browser.text().await
        );
        assert_eq!(browser.text().await.trim(), "ok", "the catcher's answer");
        let requests = self.rp.requests();
        assert_eq!(
            requests.iter().filter(|r| r.starts_with("/cb?")).count(),
            1,
            "the client saw exactly one redirect: {requests:?}"
        );
        url::Url::parse(&at)
            .expect("URL")
            .query_pairs()
            .into_owned()
            .collect()
    }
}

/// Creates a user with `tessera user create … --password-stdin`, the way an operator would.
async fn create_user(app: &TestApp, tenant: &str, username: &str, password: &str) {
    let data_dir = app.data_dir.path().to_path_buf();
    let database_url = app.database_url.clone();
    let (tenant, username, password) =
        (tenant.to_owned(), username.to_owned(), password.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--database-url")
            .arg(&database_url)
            .arg("--json")
            .args(["user", "create", &tenant, &username])
            .args(["--email", &format!("{username}@example.com")])
            .args(["--given-name", "Alice"])
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tessera");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .expect("write the password");
        drop(stdin);
        child.wait_with_output().expect("tessera user create")
    })
    .await
    .expect("CLI task");
    assert!(
        output.status.success(),
        "tessera user create failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `scope` of a token response as a list.
fn scopes_of(tokens: &Value) -> Vec<String> {
    let mut scopes: Vec<String> = tokens["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes
}

/// The computed background colour of the primary button: proves the page's `<style>` (allowed
/// by its CSP nonce) applies in a real browser.
async fn primary_button_color(browser: &Browser) -> String {
    browser
        .eval("getComputedStyle(document.querySelector('button.primary')).backgroundColor")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Fills in the login form and submits it.
async fn log_in(browser: &Browser, username: &str, password: &str) {
    browser.fill("input[name=username]", username).await;
    browser.fill("input[name=password]", password).await;
    browser.click("form button[type=submit]").await;
}

#[actix_web::test]
async fn signing_in_and_consenting_in_the_browser_returns_code_state_and_iss_to_the_client() {
    let f = Fixture::new("pages-flow", None).await;
    let browser = Browser::launch().await;
    let (url, verifier) = f.authorize("openid profile email", "st-flow-1");

    browser.goto(&url).await;
    let text = browser.text().await;
    assert!(text.contains("Sign in"), "login page: {text}");
    assert!(
        text.contains("Browser Test App"),
        "names the client: {text}"
    );
    assert!(
        browser
            .exists("input[name=username][autocomplete=username]")
            .await
    );
    assert!(browser.exists("input[name=password][type=password]").await);
    assert_eq!(
        primary_button_color(&browser).await,
        "rgb(48, 86, 211)",
        "the layout's styles apply under the page's CSP"
    );
    browser.screenshot("login").await;

    log_in(&browser, "alice", PASSWORD).await;
    let text = browser.text().await;
    assert!(text.contains("Allow access?"), "consent page: {text}");
    assert!(
        text.contains("Browser Test App"),
        "names the client: {text}"
    );
    for scope in ["openid", "profile", "email"] {
        let selector = format!("input[type=checkbox][name=scope][value={scope}]");
        assert!(browser.exists(&selector).await, "consent lists {scope}");
    }
    assert_eq!(
        browser
            .eval("document.querySelector('input[type=checkbox][value=openid]').disabled")
            .await,
        Value::Bool(true),
        "openid cannot be unticked"
    );
    browser.screenshot("consent").await;

    // The session cookie as the browser stored it (cookie attributes, not just headers).
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "tessera-session-pages-flow")
        .unwrap_or_else(|| panic!("a session cookie for the tenant: {cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert_eq!(session["session"], true, "no Max-Age: {session}");
    let csrf = cookies
        .iter()
        .find(|c| c["name"] == "tessera-csrf")
        .unwrap_or_else(|| panic!("a CSRF cookie: {cookies:?}"));
    assert_eq!(csrf["httpOnly"], true, "{csrf}");
    assert_eq!(csrf["sameSite"], "Strict", "{csrf}");

    browser.click("button[name=decision][value=allow]").await;
    let params = f.landed_at_client(&browser).await;
    assert_eq!(params.get("state").map(String::as_str), Some("st-flow-1"));
    assert_eq!(
        params.get("iss"),
        Some(&f.app.issuer("pages-flow")),
        "RFC 9207 iss"
    );
    let code = params.get("code").expect("a code");

    let tokens = f.exchange(code, &verifier).await;
    assert_eq!(scopes_of(&tokens), ["email", "openid", "profile"]);
    assert!(tokens["id_token"].is_string(), "an ID token: {tokens}");
}

#[actix_web::test]
async fn unticking_a_scope_on_the_consent_page_leaves_it_out_of_the_token() {
    let f = Fixture::new("pages-partial", None).await;
    let browser = Browser::launch().await;
    let (url, verifier) = f.authorize("openid profile email", "st-partial");

    browser.goto(&url).await;
    log_in(&browser, "alice", PASSWORD).await;
    browser
        .set_checked("input[type=checkbox][name=scope][value=email]", false)
        .await;
    browser.click("button[name=decision][value=allow]").await;

    let params = f.landed_at_client(&browser).await;
    assert_eq!(params.get("state").map(String::as_str), Some("st-partial"));
    let tokens = f
        .exchange(params.get("code").expect("a code"), &verifier)
        .await;
    assert_eq!(
        scopes_of(&tokens),
        ["openid", "profile"],
        "the unticked scope is not granted: {tokens}"
    );
}

#[actix_web::test]
async fn a_wrong_password_shows_the_login_form_again_with_a_message() {
    let f = Fixture::new("pages-wrong", None).await;
    let browser = Browser::launch().await;
    let (url, _) = f.authorize("openid", "st-wrong");

    browser.goto(&url).await;
    log_in(&browser, "alice", "not the password").await;

    assert_eq!(browser.status().await, 401);
    let text = browser.text().await;
    assert!(
        text.contains("Incorrect username or password."),
        "page text: {text}"
    );
    assert!(
        browser.url().await.starts_with(&f.app.address),
        "still on the server"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('input[name=username]').value")
            .await,
        "alice",
        "the username is kept"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('input[name=password]').value")
            .await,
        "",
        "the password is never echoed back"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('input[name=username]').getAttribute('aria-describedby')")
            .await,
        "login-error",
        "the message is tied to the field for screen readers"
    );
    browser.screenshot("login_wrong_password").await;
    assert!(f.rp.requests().is_empty(), "no redirect to the client");

    // The same form, now with the right password, signs in.
    // `openid` alone needs no consent: straight back to the client.
    log_in(&browser, "alice", PASSWORD).await;
    let params = f.landed_at_client(&browser).await;
    assert_eq!(params.get("state").map(String::as_str), Some("st-wrong"));
    assert!(params.contains_key("code"), "{params:?}");
}

#[actix_web::test]
async fn repeated_failures_lock_sign_in_with_a_message_even_for_the_right_password() {
    let lockout =
        json!({"free_attempts": 3, "lock_after": 3, "lock_secs": 900, "window_secs": 900});
    let f = Fixture::new("pages-lock", Some(lockout)).await;
    let browser = Browser::launch().await;
    let (url, _) = f.authorize("openid", "st-lock");

    browser.goto(&url).await;
    for attempt in 1..=3 {
        log_in(&browser, "alice", &format!("wrong password {attempt}")).await;
        let text = browser.text().await;
        assert!(
            text.contains("Incorrect username or password.")
                || text.contains("Too many failed attempts"),
            "attempt {attempt}: {text}"
        );
    }
    log_in(&browser, "alice", PASSWORD).await;
    assert_eq!(browser.status().await, 429);
    let text = browser.text().await;
    assert!(
        text.contains("Too many failed attempts: sign-in is locked for a while."),
        "locked: {text}"
    );
    assert!(
        !text.contains("Allow access?"),
        "no way past the lock: {text}"
    );
    browser.screenshot("login_locked").await;
    assert!(f.rp.requests().is_empty(), "no redirect to the client");
}

#[actix_web::test]
async fn a_tenant_login_template_and_branding_show_in_the_browser_and_only_for_that_tenant() {
    let f = Fixture::new("pages-brand", None).await;
    let token = f.app.admin_token().await;
    let default = f
        .app
        .admin(
            &token,
            Method::GET,
            "/tenants/pages-brand/templates/login",
            None,
        )
        .await;
    assert_eq!(
        default.0, 200,
        "read the default login template: {}",
        default.1
    );
    let source = default.1["source"]
        .as_str()
        .expect("the template source")
        .replace(
            "<h1>Sign in</h1>",
            "<h1>Sign in</h1>\n<p id=\"banner\">Welcome aboard the Acme galley</p>",
        );
    assert!(
        source.contains("id=\"banner\""),
        "the default has the heading"
    );
    let resp = f
        .app
        .http
        .put(format!(
            "{}/admin/v1/tenants/pages-brand/templates/login",
            f.app.address
        ))
        .bearer_auth(&token)
        .header("content-type", "text/x-handlebars")
        .body(source)
        .send()
        .await
        .expect("PUT template");
    let (status, body) = (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    );
    assert!(
        status == 200 || status == 201,
        "store the template: {status} {body}"
    );
    let (status, body) = f
        .app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/pages-brand/settings",
            Some(json!({
                "branding": {"display_name": "Acme Galley", "primary_color": "#0a7d32"},
            })),
        )
        .await;
    assert_eq!(status, 200, "branding: {body}");

    // Another tenant on the same server keeps the default page.
    f.app.create_tenant("pages-plain", "RS256").await;
    let other_rp = RedirectCatcher::start();
    let other = create_web_client(&f.app, "pages-plain", &other_rp.uri(), &["openid"]).await;

    let browser = Browser::launch().await;
    let (url, verifier) = f.authorize("openid profile", "st-brand");
    // Template and settings changes reach the pages within the propagation limit.
    let start = std::time::Instant::now();
    loop {
        browser.goto(&url).await;
        let text = browser.text().await;
        if text.contains("Welcome aboard the Acme galley") && text.contains("Acme Galley") {
            break;
        }
        assert!(
            start.elapsed() < PROPAGATION * 3,
            "the tenant's template did not show within {:?}: {text}",
            PROPAGATION * 3
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(primary_button_color(&browser).await, "rgb(10, 125, 50)");
    browser.screenshot("login_custom_template").await;

    // The custom page still signs in.
    log_in(&browser, "alice", PASSWORD).await;
    let text = browser.text().await;
    assert!(
        text.contains("Allow access?") && text.contains("Acme Galley"),
        "the consent page carries the branding too: {text}"
    );
    browser.click("button[name=decision][value=allow]").await;
    let params = f.landed_at_client(&browser).await;
    f.exchange(params.get("code").expect("a code"), &verifier)
        .await;

    let plain = authorize_url(
        &f.app,
        "pages-plain",
        &[
            ("response_type", "code"),
            ("client_id", &other.id),
            ("redirect_uri", &other_rp.uri()),
            ("scope", "openid"),
            ("state", "st-plain"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    );
    browser.goto(&plain).await;
    let text = browser.text().await;
    assert!(
        text.contains("Sign in"),
        "the other tenant's login page: {text}"
    );
    assert!(
        !text.contains("Welcome aboard") && !text.contains("Acme Galley"),
        "one tenant's template never shows at another: {text}"
    );
    assert_eq!(primary_button_color(&browser).await, "rgb(48, 86, 211)");
}
