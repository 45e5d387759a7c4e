//! The admin console (issue 8): its pages, callback and assets over HTTP (security headers, CSP,
//! 404s), and the whole operator → tenant admin journey driven in Chromium.

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::s256;
use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "console-Passw0rd-long-enough";

/// The pages of one tenant's console.
const TENANT_PAGES: [&str; 8] = [
    "settings",
    "clients",
    "scopes",
    "resources",
    "users",
    "keys",
    "templates",
    "audit",
];

/// GETs `path` on the app without following redirects.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("request")
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Asserts the headers every console page carries (issue 8: the sign-in pages' rules).
fn assert_page_headers(resp: &reqwest::Response) {
    assert_eq!(
        header(resp, "content-type"),
        "text/html; charset=utf-8",
        "{}",
        resp.url()
    );
    assert_eq!(header(resp, "cache-control"), "no-store");
    assert_eq!(header(resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(resp, "referrer-policy"), "no-referrer");
    let csp = header(resp, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
}

#[actix_web::test]
async fn operator_console_page_has_the_console_policy_and_the_tenant_list() {
    let app = spawn_app().await;
    let resp = get(&app, "/console").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_page_headers(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"data-realm="system""#), "{html}");
    assert!(html.contains(r#"data-tenant="""#), "{html}");
    assert!(html.contains(r#"data-base="/console""#), "{html}");
    assert!(html.contains(r#"data-page="tenants""#), "{html}");
    for id in [
        r#"id="tenant-search""#,
        r#"id="tenants""#,
        r#"id="tenants-next""#,
        r#"id="create-tenant""#,
        r#"id="notice""#,
        r#"id="sign-out""#,
        r#"id="signed-in-as""#,
        r#"class="skip-link""#,
        r#"<nav aria-label="Console">"#,
        r#"<main id="main""#,
        r#"src="/console/assets/console.js""#,
        r#"src="/console/assets/tenants.js""#,
        r#"href="/console/assets/pages.css""#,
        r#"data-page="tenants" aria-current="page""#,
    ] {
        assert!(html.contains(id), "{id} missing");
    }
    // No inline script: script-src 'self' would block it anyway.
    assert!(!html.contains("<script>"), "{html}");
}

#[actix_web::test]
async fn every_page_of_a_tenant_console_is_served_to_operators_and_tenant_admins() {
    let app = spawn_app().await;
    app.create_tenant("globex", "ES256").await;
    for page in TENANT_PAGES {
        for (path, realm, base) in [
            (
                format!("/console/tenants/globex/{page}"),
                "system",
                "/console/tenants/globex",
            ),
            (
                format!("/t/globex/console/{page}"),
                "globex",
                "/t/globex/console",
            ),
        ] {
            let resp = get(&app, &path).await;
            assert_eq!(resp.status().as_u16(), 200, "{path}");
            assert_page_headers(&resp);
            let html = resp.text().await.unwrap();
            assert!(html.contains(&format!(r#"data-realm="{realm}""#)), "{path}");
            assert!(html.contains(r#"data-tenant="globex""#), "{path}");
            assert!(html.contains(&format!(r#"data-base="{base}""#)), "{path}");
            assert!(html.contains(&format!(r#"data-page="{page}""#)), "{path}");
            assert!(
                html.contains(&format!(r#"src="/console/assets/{page}.js""#)),
                "{path}"
            );
            // The navigation links every page of this console, marking this one.
            for other in TENANT_PAGES {
                assert!(
                    html.contains(&format!(r#"href="{base}/{other}" data-page="{other}""#)),
                    "{path}: no link to {other}"
                );
            }
            assert!(
                html.contains(&format!(r#"data-page="{page}" aria-current="page""#)),
                "{path}"
            );
        }
    }
    // The start pages send to the clients page.
    for (path, to) in [
        ("/t/globex/console", "/t/globex/console/clients"),
        ("/console/tenants/globex", "/console/tenants/globex/clients"),
    ] {
        let resp = get(&app, path).await;
        assert_eq!(resp.status().as_u16(), 303, "{path}");
        assert_eq!(header(&resp, "location"), to);
    }
}

#[actix_web::test]
async fn unknown_console_pages_and_tenants_are_html_404s() {
    let app = spawn_app().await;
    app.create_tenant("initech", "ES256").await;
    for path in [
        "/console/nope",
        "/console/tenants/initech/nope",
        "/console/tenants/nosuchtenant/clients",
        "/console/tenants/NOT%20A%20SLUG/clients",
        "/t/initech/console/nope",
        "/t/initech/console/tenants",
        "/t/nosuchtenant/console/clients",
        "/t/nosuchtenant/console/callback",
        "/console/assets/nope.js",
        "/console/assets/..%2Fconsole.rs",
    ] {
        let resp = get(&app, path).await;
        assert_eq!(resp.status().as_u16(), 404, "{path}");
        assert_eq!(
            header(&resp, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(header(&resp, "cache-control"), "no-store", "{path}");
        assert!(
            header(&resp, "content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("not_found"), "{path}: {html}");
    }
    // The protocol routes of the tenant are untouched by the console's.
    let resp = get(&app, "/t/initech/.well-known/openid-configuration").await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn console_assets_have_their_content_types_and_are_cached_briefly() {
    let app = spawn_app().await;
    for (file, content_type, marker) in [
        ("console.css", "text/css; charset=utf-8", "skip-link"),
        ("pages.css", "text/css; charset=utf-8", ""),
        (
            "console.js",
            "text/javascript; charset=utf-8",
            "window.Console",
        ),
        (
            "callback.js",
            "text/javascript; charset=utf-8",
            "finishSignIn",
        ),
        (
            "tenants.js",
            "text/javascript; charset=utf-8",
            "Console.ready",
        ),
        (
            "users.js",
            "text/javascript; charset=utf-8",
            "Console.ready",
        ),
        (
            "clients.js",
            "text/javascript; charset=utf-8",
            "Console.ready",
        ),
        (
            "audit.js",
            "text/javascript; charset=utf-8",
            "Console.ready",
        ),
        ("settings.js", "text/javascript; charset=utf-8", ""),
        ("scopes.js", "text/javascript; charset=utf-8", ""),
        ("resources.js", "text/javascript; charset=utf-8", ""),
        ("keys.js", "text/javascript; charset=utf-8", ""),
        ("templates.js", "text/javascript; charset=utf-8", ""),
    ] {
        let resp = get(&app, &format!("/console/assets/{file}")).await;
        assert_eq!(resp.status().as_u16(), 200, "{file}");
        assert_eq!(header(&resp, "content-type"), content_type, "{file}");
        assert_eq!(
            header(&resp, "cache-control"),
            "public, max-age=300",
            "{file}"
        );
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{file}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(marker), "{file}");
    }
}

#[actix_web::test]
async fn the_sign_in_callback_pages_are_served() {
    let app = spawn_app().await;
    app.create_tenant("umbrella", "ES256").await;
    for (path, realm) in [
        ("/console/callback", "system"),
        ("/t/umbrella/console/callback", "umbrella"),
    ] {
        let resp = get(&app, &format!("{path}?code=x&state=y")).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_page_headers(&resp);
        let html = resp.text().await.unwrap();
        assert!(html.contains(&format!(r#"data-realm="{realm}""#)), "{path}");
        assert!(html.contains(r#"data-page="callback""#), "{path}");
        assert!(
            html.contains(r#"src="/console/assets/callback.js""#),
            "{path}"
        );
    }
}

/// Clicks `selector` without waiting for a navigation (buttons handled by the page's script).
pub(crate) async fn press(browser: &Browser, selector: &str) {
    let sel = json!(selector);
    browser
        .eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); \
             if (!el) throw new Error('no element matches ' + {sel}); el.click(); return true; }})()"
        ))
        .await;
}

/// Sets the `<select>` matching `selector` to `value`, as a user choosing an option would.
pub(crate) async fn choose(browser: &Browser, selector: &str, value: &str) {
    let (sel, value) = (json!(selector), json!(value));
    let chosen = browser
        .eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); el.value = {value}; \
             el.dispatchEvent(new Event('change', {{bubbles: true}})); return el.value; }})()"
        ))
        .await;
    assert_eq!(chosen, value, "{selector} has no option {value}");
}

/// Waits until the console page at `path` has its token (the signed-in name is shown) and
/// its script has filled the table `table`.
async fn console_ready(browser: &Browser, path: &str, table: &str) {
    let (path_js, table_js) = (json!(path), json!(format!("{table} tr")));
    browser
        .wait_until(
            &format!(
                "location.pathname === {path_js} && window.Console !== undefined \
                 && document.querySelector('#signed-in-as').textContent !== '…' \
                 && document.querySelector({table_js}) !== null"
            ),
            &format!("console page {path} loaded"),
        )
        .await;
    // Console dialogs (delete, restore) are answered yes.
    browser.eval("window.confirm = () => true").await;
}

/// Opens the console page at `path` and waits until it is ready (see [`console_ready`]).
async fn visit(browser: &Browser, app: &TestApp, path: &str, table: &str) {
    browser.goto(&format!("{}{path}", app.address)).await;
    console_ready(browser, path, table).await;
}

/// Edits the client of the table row `row` on the clients page: turns DPoP and PAR on (or off),
/// saves, and waits until the edit form has closed.
async fn set_dpop_and_par(browser: &Browser, row: &str, on: bool) {
    press(browser, &format!("{row} [data-action=edit]")).await;
    browser
        .set_checked("#edit-client [name=require_dpop]", on)
        .await;
    browser
        .set_checked("#edit-client [name=require_par]", on)
        .await;
    press(browser, "#edit-client [type=submit]").await;
    browser
        .wait_until(
            "document.querySelector('#client-edit').hidden",
            "the edited client is saved",
        )
        .await;
}

/// Signs in on the tenant login page the console sent the browser to.
async fn sign_in(browser: &Browser, realm: &str, username: &str) {
    let login = format!("/t/{realm}/");
    browser
        .wait_until(
            &format!(
                "location.pathname.startsWith({}) && document.querySelector('input[name=password]') !== null",
                json!(login)
            ),
            "the console sent the browser to the tenant's login page",
        )
        .await;
    browser.fill("input[name=username]", username).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
}

/// The tenant's real login page for `client_id`, fetched without a session.
async fn login_page(app: &TestApp, client_id: &str, redirect_uri: &str) -> String {
    let challenge = s256("console-journey-verifier-0123456789-abcdefghijklmnop");
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let resp = get(app, &format!("/t/acme/authorize?{query}")).await;
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.unwrap()
}

/// Replaces the template editor's source with `f(source)` and waits for the preview to show
/// `marker`.
async fn edit_template(browser: &Browser, marker: &str) {
    let marker_js = json!(format!("<p id=\"console-marker\">{marker}</p>"));
    browser
        .eval(&format!(
            "(() => {{ const src = document.querySelector('#source'); \
             const old = src.value.replace(/<p id=\"console-marker\">[^<]*<\\/p>\\n?/, ''); \
             src.value = old.includes('{{{{#> layout}}}}') \
               ? old.replace('{{{{#> layout}}}}', '{{{{#> layout}}}}\\n' + {marker_js}) \
               : {marker_js} + '\\n' + old; \
             src.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
        ))
        .await;
    browser
        .wait_until(
            &format!(
                "(document.querySelector('#preview').srcdoc || '').includes({})",
                json!(marker)
            ),
            "the preview shows the edited template",
        )
        .await;
}

#[actix_web::test]
async fn an_operator_and_a_tenant_admin_run_the_console_in_chromium() {
    let app = spawn_app().await;
    let operator_token = app.admin_token().await;

    // An operator user of the system tenant.
    let (status, body) = app
        .admin(
            &operator_token,
            Method::POST,
            "/tenants/system/users",
            Some(json!({"username": "olga", "password": PASSWORD, "role": "operator"})),
        )
        .await;
    assert_eq!(status, 201, "create operator user: {body}");

    // The operator signs in at /console and creates tenant acme through the form.
    {
        let browser = Browser::launch().await;
        browser.goto(&format!("{}/console", app.address)).await;
        sign_in(&browser, "system", "olga").await;
        console_ready(&browser, "/console", "#tenants").await;
        assert!(browser.text().await.contains("olga"));
        browser.fill("#create-tenant [name=slug]", "acme").await;
        browser
            .fill("#create-tenant [name=display_name]", "Acme Corporation")
            .await;
        choose(&browser, "#create-tenant [name=signing_alg]", "ES256").await;
        press(&browser, "#create-tenant [type=submit]").await;
        browser
            .wait_until(
                "document.querySelector('#tenants tr[data-slug=acme]') !== null",
                "the new tenant is listed",
            )
            .await;
        // Search as you type narrows the list.
        browser.fill("#tenant-search", "acm").await;
        browser
            .wait_until(
                "[...document.querySelectorAll('#tenants tr')].every(r => r.dataset.slug === 'acme')",
                "the search keeps only acme",
            )
            .await;
        browser.screenshot("console-tenants").await;

        // Its tenant admin, on acme's users page.
        visit(&browser, &app, "/console/tenants/acme/users", "#users").await;
        browser.fill("#create-user [name=username]", "adam").await;
        browser.fill("#create-user [name=password]", PASSWORD).await;
        browser
            .fill("#create-user [name=email]", "adam@acme.example")
            .await;
        choose(&browser, "#create-user [name=role]", "tenant_admin").await;
        press(&browser, "#create-user [type=submit]").await;
        browser
            .wait_until(
                "document.querySelector('#users tr[data-username=adam]') !== null",
                "the tenant admin is listed",
            )
            .await;
        browser.screenshot("console-operator-users").await;
    }
    let (status, body) = app
        .admin(
            &operator_token,
            Method::GET,
            "/tenants/acme/users/adam",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "tenant_admin", "{body}");

    // The tenant admin signs in to acme's own console in a fresh browser.
    let browser = Browser::launch().await;
    browser
        .goto(&format!("{}/t/acme/console", app.address))
        .await;
    sign_in(&browser, "acme", "adam").await;
    console_ready(&browser, "/t/acme/console/clients", "#clients").await;

    // A client; its secret is shown once.
    let rp = RedirectCatcher::start();
    browser
        .fill("#create-client [name=name]", "Acme Storefront")
        .await;
    browser
        .fill("#create-client [name=redirect_uris]", &rp.uri())
        .await;
    press(&browser, "#create-client [type=submit]").await;
    browser
        .wait_until(
            "!document.querySelector('#client-secret').hidden \
             && document.querySelector('#client-secret-value').value.length > 20",
            "the new client's secret is shown",
        )
        .await;
    let client_id = browser
        .eval("document.querySelector('#client-secret-for').textContent")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    browser
        .wait_until(
            &format!(
                "document.querySelector('#clients tr[data-client-id=\"' + {} + '\"]') !== null",
                json!(client_id)
            ),
            "the new client is listed",
        )
        .await;
    browser.screenshot("console-clients").await;

    // Rotating the secret shows a new one; editing turns on DPoP and PAR (RFC 9449, RFC 9126).
    let first_secret = browser
        .eval("document.querySelector('#client-secret-value').value")
        .await;
    let row = format!("#clients tr[data-client-id=\"{client_id}\"]");
    press(&browser, &format!("{row} [data-action=rotate-secret]")).await;
    browser
        .wait_until(
            &format!(
                "document.querySelector('#client-secret-value').value !== {first_secret} \
                 && document.querySelector('#client-secret-value').value.length > 20"
            ),
            "the rotated secret is shown",
        )
        .await;
    set_dpop_and_par(&browser, &row, true).await;
    browser
        .wait_until(
            "document.querySelector('#notice').textContent.includes('saved')",
            "the saved notice",
        )
        .await;
    let (status, body) = app
        .admin(
            &operator_token,
            Method::GET,
            &format!("/tenants/acme/clients/{client_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["options"]["require_dpop"], true, "{body}");
    assert_eq!(
        body["options"]["require_pushed_authorization_requests"], true,
        "{body}"
    );
    assert_eq!(body["redirect_uris"], json!([rp.uri()]), "{body}");
    // Undo, so the login page below can be fetched without a pushed request.
    set_dpop_and_par(&browser, &row, false).await;
    let secret_shown = browser
        .eval("document.querySelector('#client-secret-value').value")
        .await;
    // Reloading the page does not show it again.
    visit(&browser, &app, "/t/acme/console/clients", "#clients").await;
    assert!(
        !browser
            .text()
            .await
            .contains(secret_shown.as_str().unwrap())
    );

    // Every other page renders for the tenant admin (their data needs H4's scripts).
    for page in ["settings", "scopes", "resources", "keys", "users"] {
        browser
            .goto(&format!("{}/t/acme/console/{page}", app.address))
            .await;
        browser
            .wait_until(
                &format!(
                    "location.pathname === '/t/acme/console/{page}' \
                     && document.querySelector('#signed-in-as').textContent !== '…'"
                ),
                &format!("the {page} page"),
            )
            .await;
        // Let the page's script fill its tables before the picture.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
        browser.screenshot(&format!("console-{page}")).await;
    }

    // The users page's details panel lists the user's facts and grants.
    visit(&browser, &app, "/t/acme/console/users", "#users").await;
    browser
        .wait_until(
            "document.querySelector('#users tr[data-username=adam]') !== null",
            "adam is listed",
        )
        .await;
    press(
        &browser,
        "#users tr[data-username=adam] [data-action=details]",
    )
    .await;
    browser
        .wait_until(
            "!document.querySelector('#user-detail').hidden \
             && document.querySelector('#user-facts').textContent.includes('tenant_admin') \
             && document.querySelector('#user-grants tr') !== null",
            "the details of adam are shown",
        )
        .await;

    // The login template: edit, preview, publish; the real login page shows it.
    browser
        .goto(&format!("{}/t/acme/console/templates", app.address))
        .await;
    browser
        .wait_until(
            "document.querySelector('#template-name') !== null \
             && document.querySelector('#source') !== null \
             && document.querySelector('#source').value.length > 0",
            "the template editor loaded",
        )
        .await;
    browser.eval("window.confirm = () => true").await;
    choose(&browser, "#template-name", "login").await;
    browser
        .wait_until(
            "document.querySelector('#source').value.includes('password')",
            "the login template is in the editor",
        )
        .await;
    edit_template(&browser, "Welcome to Acme").await;
    browser.screenshot("console-templates").await;
    press(&browser, "#publish").await;
    browser
        .wait_until(
            "document.querySelectorAll('#versions [data-restore]').length >= 1",
            "the published version is listed",
        )
        .await;
    let page = login_page(&app, &client_id, &rp.uri()).await;
    assert!(page.contains("Welcome to Acme"), "{page}");

    // A second version, then restoring the first.
    edit_template(&browser, "Acme, version two").await;
    press(&browser, "#publish").await;
    browser
        .wait_until(
            "document.querySelectorAll('#versions [data-restore]').length >= 2",
            "both published versions are listed",
        )
        .await;
    let page = login_page(&app, &client_id, &rp.uri()).await;
    assert!(page.contains("Acme, version two"), "{page}");
    let first: Value = browser
        .eval(
            "Math.min(...[...document.querySelectorAll('#versions [data-restore]')] \
             .map(b => Number(b.dataset.restore)))",
        )
        .await;
    press(&browser, &format!("#versions [data-restore=\"{first}\"]")).await;
    let restored = {
        let mut html = String::new();
        for _ in 0..50 {
            html = login_page(&app, &client_id, &rp.uri()).await;
            if html.contains("Welcome to Acme") {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        html
    };
    assert!(restored.contains("Welcome to Acme"), "{restored}");
    assert!(!restored.contains("Acme, version two"), "{restored}");

    // The audit log lists each step.
    visit(&browser, &app, "/t/acme/console/audit", "#audit").await;
    let actions = browser
        .eval("[...document.querySelectorAll('#audit tr[data-action]')].map(r => r.dataset.action)")
        .await;
    for action in [
        "tenant.created",
        "user.created",
        "client.created",
        "client.secret_rotated",
        "client.updated",
        "template.published",
        "template.rolled_back",
    ] {
        assert!(
            actions
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str() == Some(action)),
            "{action} not in {actions}"
        );
    }
    // Filtering by action narrows the table.
    browser
        .fill("#audit-filters [name=action]", "client.created")
        .await;
    press(&browser, "#audit-filters [type=submit]").await;
    browser
        .wait_until(
            "[...document.querySelectorAll('#audit tr')].every(r => r.dataset.action === 'client.created')",
            "only client.created events are shown",
        )
        .await;
    browser.screenshot("console-audit").await;

    // The export the page offers as a download: JSON lines of the filtered events.
    let export = browser
        .eval(
            "Console.api('GET', '/tenants/acme/audit-events/export?action=client.created', null, {blob: true}) \
             .then(async r => ({status: r.status, lines: (await r.body.text()).trim().split('\\n')}))",
        )
        .await;
    assert_eq!(export["status"], 200, "{export}");
    let lines = export["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{export}");
    let event: Value = serde_json::from_str(lines[0].as_str().unwrap()).unwrap();
    assert_eq!(event["action"], "client.created", "{event}");
    assert_eq!(event["client_id"], client_id.as_str(), "{event}");

    // Signing out ends the tenant session: the console has to sign in again.
    press(&browser, "#sign-out").await;
    browser
        .wait_until(
            "location.pathname.startsWith('/t/acme/') && !location.pathname.includes('/console') \
             && document.querySelector('input[name=password]') !== null",
            "after signing out, the console asks for the password again",
        )
        .await;
    assert_eq!(
        browser
            .eval("sessionStorage.getItem('tessera-console:acme')")
            .await,
        Value::Null
    );
}
