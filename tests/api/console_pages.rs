//! The console's settings, scopes, resource-server, signing-key and template pages in a real
//! Chromium (issue 8), each checked against the admin API it drives and saved as a screenshot
//! `console-<page>`. The console's own sign-in (PKCE with `tessera-console`) is the journey
//! test's subject; here an admin API token is stored in the console's session storage, where
//! the callback page would put it, so each test reaches its page directly.
//! The read-only test signs its auditor and tenant admin in for real instead: the console's
//! role comes from the callback reading the user's own admin record, which a stored token lacks.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::console::{choose, press};
use crate::helpers::{TestApp, spawn_app};

/// Opens the console of the operators (`realm` "system") or of a tenant holding `token`, at
/// `path`, and waits until the page script has started.
async fn open(browser: &Browser, app: &TestApp, realm: &str, token: &str, path: &str) {
    // Any page of the origin gives access to its session storage.
    browser
        .goto(&format!("{}/console/assets/console.css", app.address))
        .await;
    let stored = json!({"access_token": token, "id_token": "", "expires_at": 4_000_000_000u64});
    let key = json!(format!("tessera-console:{realm}"));
    let value = json!(stored.to_string());
    browser
        .eval(&format!("sessionStorage.setItem({key}, {value}); true"))
        .await;
    browser.goto(&format!("{}{path}", app.address)).await;
    browser
        .wait_until("typeof Console === 'object'", "the console script")
        .await;
}

/// Starts a server with tenant `slug` and opens its console page `page` as the operator in a
/// fresh Chromium; returns the server, the operator's admin API token and the browser.
async fn operator_on(slug: &str, page: &str) -> (TestApp, String, Browser) {
    let app = spawn_app().await;
    app.create_tenant(slug, "ES256").await;
    let token = app.admin_token().await;
    let browser = Browser::launch().await;
    let path = format!("/console/tenants/{slug}/{page}");
    open(&browser, &app, "system", &token, &path).await;
    (app, token, browser)
}

/// The text of the element with the id `id`.
async fn text_of(browser: &Browser, id: &str) -> Value {
    let id = json!(id);
    browser
        .eval(&format!("document.getElementById({id}).textContent"))
        .await
}

/// Waits until the layout's notice shows a message containing `text`.
async fn notice(browser: &Browser, text: &str) {
    let t = json!(text);
    browser
        .wait_until(
            &format!("document.getElementById('notice').textContent.includes({t})"),
            &format!("a notice saying {text}"),
        )
        .await;
}

/// Answers the page's confirmation dialog once it is open: confirms it, or with `yes == false`
/// cancels it.
async fn confirm(browser: &Browser, yes: bool) {
    browser
        .wait_until(
            "document.getElementById('confirm-dialog').open",
            "the confirmation dialog",
        )
        .await;
    let button = if yes {
        "#confirm-ok"
    } else {
        "#confirm-cancel"
    };
    press(browser, button).await;
}

/// Asserts that the admin API has nothing at `path` (404) for `token`.
async fn assert_gone(app: &TestApp, token: &str, path: &str) {
    let (status, body) = app.admin(token, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 404, "GET {path}: {body}");
}

/// GETs `path` of the admin API with `token`; the body (panics unless 200).
async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = app.admin(token, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

#[actix_web::test]
async fn the_settings_page_patches_only_what_changed_shows_refusals_and_previews_branding() {
    let (app, token, browser) = operator_on("look", "settings").await;
    browser
        .wait_until(
            "document.getElementById('f-code-ttl').value === '60'",
            "the form filled from the settings document",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('f-signing-alg').value")
            .await,
        "ES256"
    );

    // A value out of range: the server's message is shown next to the form, on that field.
    browser.fill("#f-code-ttl", "600").await;
    press(&browser, "#save-settings").await;
    browser
        .wait_until(
            "!document.getElementById('settings-errors').hidden && \
             document.getElementById('f-code-ttl').getAttribute('aria-invalid') === 'true'",
            "the refusal shown on the field",
        )
        .await;
    let shown = text_of(&browser, "settings-errors").await;
    assert!(shown.as_str().unwrap().contains("code_ttl_secs"), "{shown}");

    // Valid values, branding and a CSS variable; the swatch follows as one types.
    browser.fill("#f-code-ttl", "30").await;
    browser.fill("#f-access-ttl", "900").await;
    browser.fill("#f-primary", "#aa3300").await;
    browser.fill("#f-display-name", "Look Inc").await;
    press(&browser, "#add-css-variable").await;
    browser
        .fill("#css-variables tr:last-child .css-var-name", "radius")
        .await;
    browser
        .fill("#css-variables tr:last-child .css-var-value", "4px")
        .await;
    browser
        .eval("document.getElementById('section-branding').dispatchEvent(new Event('input')); true")
        .await;
    let swatch = browser
        .eval(
            "(() => { const s = getComputedStyle(document.getElementById('branding-preview')); \
             return [s.getPropertyValue('--preview-accent').trim(), s.getPropertyValue('--radius').trim(), \
             document.getElementById('branding-preview-name').textContent]; })()",
        )
        .await;
    assert_eq!(swatch, json!(["#aa3300", "4px", "Look Inc"]));
    press(&browser, "#save-settings").await;
    notice(&browser, "Settings saved").await;
    let settings = get(&app, &token, "/tenants/look/settings").await;
    assert_eq!(settings["tokens"]["code_ttl_secs"], 30);
    assert_eq!(settings["branding"]["primary_color"], "#aa3300");
    assert_eq!(settings["branding"]["display_name"], "Look Inc");
    assert_eq!(
        settings["branding"]["css_variables"],
        json!({"radius": "4px"})
    );
    // Untouched fields keep their values.
    assert_eq!(settings["tokens"]["id_token_ttl_secs"], 3600);
    assert_eq!(
        get(&app, &token, "/tenants/look").await["access_token_ttl"],
        900
    );

    // Removing the variable sends it as null (RFC 7396), which deletes it.
    press(&browser, "#css-variables tr:last-child button").await;
    browser
        .eval("document.getElementById('notice').textContent = ''; true")
        .await;
    press(&browser, "#save-settings").await;
    notice(&browser, "Settings saved").await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#css-variables tr').length")
            .await,
        0
    );
    let settings = get(&app, &token, "/tenants/look/settings").await;
    assert_eq!(settings["branding"]["css_variables"], json!({}));

    // Switching the signing algorithm patches the tenant record; its keys follow.
    browser
        .eval(
            "const s = document.getElementById('f-signing-alg'); s.value = 'RS256'; \
             s.dispatchEvent(new Event('change', {bubbles: true})); true",
        )
        .await;
    browser
        .eval("document.getElementById('notice').textContent = ''; true")
        .await;
    press(&browser, "#save-settings").await;
    notice(&browser, "Settings saved").await;
    assert_eq!(
        get(&app, &token, "/tenants/look").await["signing_alg"],
        "RS256"
    );

    // The custom domain: set (pending, with its TXT record), then verified by this operator.
    browser.fill("#domain", "login.look.example").await;
    press(&browser, "#set-domain").await;
    browser
        .wait_until(
            "document.getElementById('domain-status').textContent.includes('_tessera-challenge.login.look.example')",
            "the pending domain and its TXT record",
        )
        .await;
    browser.screenshot("console-settings").await;
    press(&browser, "#verify-domain").await;
    notice(&browser, "is verified").await;
    assert_eq!(
        get(&app, &token, "/tenants/look/domain").await["status"],
        "verified"
    );
    press(&browser, "#remove-domain").await;
    confirm(&browser, true).await;
    notice(&browser, "Custom domain removed").await;
    assert_gone(&app, &token, "/tenants/look/domain").await;
}

#[actix_web::test]
async fn a_tenant_admin_sees_why_only_an_operator_verifies_a_domain() {
    let app = spawn_app().await;
    app.create_tenant("dom", "ES256").await;
    let operator = app.admin_token().await;
    let token = app.tenant_admin_token(&operator, "dom").await;
    let browser = Browser::launch().await;
    open(&browser, &app, "dom", &token, "/t/dom/console/settings").await;
    browser
        .wait_until(
            "document.getElementById('domain-status').textContent.includes('No custom domain')",
            "the domain section",
        )
        .await;
    browser.fill("#domain", "id.dom.example").await;
    press(&browser, "#set-domain").await;
    notice(&browser, "is pending").await;
    press(&browser, "#verify-domain").await;
    browser
        .wait_until(
            "document.getElementById('domain-errors').textContent.includes('Only an operator')",
            "the operator-only explanation",
        )
        .await;
    assert_eq!(
        get(&app, &operator, "/tenants/dom/domain").await["status"],
        "pending"
    );
}

#[actix_web::test]
async fn scopes_and_resource_servers_are_defined_edited_and_deleted_from_their_pages() {
    let (app, token, browser) = operator_on("apis", "scopes").await;
    browser
        .wait_until(
            "document.querySelector('#scopes tr[data-scope=openid]') !== null",
            "the standard scopes listed",
        )
        .await;
    browser.fill("#scope-name", "orders:read").await;
    browser.fill("#scope-description", "Read your orders").await;
    browser.fill("#scope-claims", "order_count").await;
    press(&browser, "#create-scope button[type=submit]").await;
    browser
        .wait_until(
            "document.querySelector('#scopes tr[data-scope=\"orders:read\"]') !== null",
            "the new scope listed",
        )
        .await;
    browser.screenshot("console-scopes").await;
    let scopes = get(&app, &token, "/tenants/apis/scopes").await;
    let defined = scopes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "orders:read")
        .expect("the scope is stored");
    assert_eq!(defined["claims"], json!(["order_count"]));

    open(
        &browser,
        &app,
        "system",
        &token,
        "/console/tenants/apis/resources",
    )
    .await;
    browser
        .wait_until(
            "[...document.querySelectorAll('#resource-scope-list input')].some(i => i.value === 'orders:read')",
            "the scopes offered",
        )
        .await;
    browser
        .fill("#resource-identifier", "https://api.example.com/orders")
        .await;
    browser.fill("#resource-name", "Orders").await;
    browser
        .eval(
            "[...document.querySelectorAll('#resource-scope-list input')]\
             .find(i => i.value === 'orders:read').click(); true",
        )
        .await;
    browser.fill("#resource-ttl", "600").await;
    press(&browser, "#resource-submit").await;
    let row = "#resources tr[data-identifier=\"https://api.example.com/orders\"]";
    browser
        .wait_until(
            &format!("document.querySelector({}) !== null", json!(row)),
            "the resource server listed",
        )
        .await;
    let item = "/tenants/apis/resource-servers/https%3A%2F%2Fapi.example.com%2Forders";
    let stored = get(&app, &token, item).await;
    assert_eq!(stored["scopes"], json!(["orders:read"]));
    assert_eq!(stored["access_token_ttl"], 600);

    // Edit: rename, and an empty lifetime returns to the tenant's (sent as null).
    press(&browser, &format!("{row} [data-action=edit]")).await;
    browser.fill("#resource-name", "Orders API").await;
    browser.fill("#resource-ttl", "").await;
    press(&browser, "#resource-submit").await;
    notice(&browser, "Orders API saved").await;
    let stored = get(&app, &token, item).await;
    assert_eq!(stored["name"], "Orders API");
    assert_eq!(stored["access_token_ttl"], Value::Null);
    browser.screenshot("console-resources").await;

    press(&browser, &format!("{row} [data-action=delete]")).await;
    confirm(&browser, true).await;
    notice(&browser, "deleted").await;
    assert_gone(&app, &token, item).await;
}

#[actix_web::test]
async fn the_keys_page_rotates_after_confirmation_and_shows_the_public_jwks() {
    let (app, token, browser) = operator_on("keyed", "keys").await;
    let active = |keys: &Value, alg: &str| -> String {
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == "active" && k["alg"] == alg)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .expect("an active key")
    };
    let before = active(&get(&app, &token, "/tenants/keyed/keys").await, "ES256");
    let listed = format!(
        "document.querySelector('#keys tr[data-kid={}][data-state=active]') !== null",
        json!(before)
    );
    browser.wait_until(&listed, "the active key listed").await;
    browser
        .wait_until(
            &format!(
                "document.getElementById('jwks').textContent.includes({})",
                json!(before)
            ),
            "the JWKS shown",
        )
        .await;
    let jwks: Value = serde_json::from_str(text_of(&browser, "jwks").await.as_str().unwrap())
        .expect("the JWKS is shown as JSON");
    assert!(jwks["keys"].as_array().is_some_and(|k| !k.is_empty()));

    // Cancelling the confirmation rotates nothing.
    press(&browser, "#rotate-keys").await;
    confirm(&browser, false).await;
    assert_eq!(
        active(&get(&app, &token, "/tenants/keyed/keys").await, "ES256"),
        before
    );

    press(&browser, "#rotate-keys").await;
    confirm(&browser, true).await;
    notice(&browser, "Keys rotated").await;
    let after = active(&get(&app, &token, "/tenants/keyed/keys").await, "ES256");
    assert_ne!(after, before);
    browser
        .wait_until(
            &format!(
                "document.querySelector('#keys tr[data-kid={}][data-state=active]') !== null \
                 && document.getElementById('jwks').textContent.includes({})",
                json!(after),
                json!(after)
            ),
            "the new active key listed and published",
        )
        .await;
    browser.screenshot("console-keys").await;
}

#[actix_web::test]
async fn the_template_editor_marks_compile_errors_keeps_drafts_and_styles_its_preview() {
    let (app, token, browser) = operator_on("tpl", "templates").await;
    browser
        .wait_until(
            "document.getElementById('template-name').value === 'login' \
             && document.getElementById('source').value.includes('password') \
             && (document.getElementById('preview').srcdoc || '').includes('password')",
            "the login template and its preview",
        )
        .await;
    // The preview's own inline style applies under the console's CSP (nonce passed along).
    browser
        .wait_until(
            "(() => { const d = document.getElementById('preview').contentDocument; \
             const l = d && d.querySelector('label'); \
             return !!l && getComputedStyle(l).fontWeight === '600'; })()",
            "the preview styled by its layout",
        )
        .await;
    assert_eq!(text_of(&browser, "live-version").await, "Live: default");

    // A broken block on line 2: the error names line and column, the gutter marks the line.
    browser
        .eval(
            "(() => { const s = document.getElementById('source'); \
             s.value = '<p>ok</p>\\n{{#if page.title}}\\n<p>never closed</p>'; \
             s.dispatchEvent(new Event('input', {bubbles: true})); return true; })()",
        )
        .await;
    browser
        .wait_until(
            "!document.getElementById('problem').hidden \
             && document.querySelector('#source-gutter .problem-line') !== null",
            "the compile error shown",
        )
        .await;
    let problem = text_of(&browser, "problem").await;
    assert!(problem.as_str().unwrap().contains("line"), "{problem}");
    browser.screenshot("console-templates-error").await;

    // Saved as a draft even so; the draft is what the editor shows after a reload.
    press(&browser, "#save-draft").await;
    notice(&browser, "Draft saved").await;
    let draft = get(&app, &token, "/tenants/tpl/templates/login/draft").await;
    assert!(draft["source"].as_str().unwrap().contains("never closed"));
    // Publishing it is refused with the error; nothing goes live.
    press(&browser, "#publish").await;
    notice(&browser, "Not published").await;
    assert_eq!(
        get(&app, &token, "/tenants/tpl/templates/login").await["overridden"],
        false
    );
    browser
        .goto(&format!("{}/console/tenants/tpl/templates", app.address))
        .await;
    browser
        .wait_until(
            "document.getElementById('source').value.includes('never closed') \
             && document.getElementById('draft-state').textContent.includes('draft')",
            "the draft loaded",
        )
        .await;
    press(&browser, "#discard-draft").await;
    notice(&browser, "Draft discarded").await;
    browser
        .wait_until(
            "document.getElementById('source').value.includes('password')",
            "the live version back in the editor",
        )
        .await;
    assert_gone(&app, &token, "/tenants/tpl/templates/login/draft").await;

    // E-mail templates preview the same way, their inline style attributes applied.
    choose(&browser, "#template-name", "email.layout").await;
    browser
        .wait_until(
            "(() => { const d = document.getElementById('preview').contentDocument; \
             const t = d && d.querySelector('table[role=presentation] table'); \
             return !!t && getComputedStyle(t).borderTopLeftRadius === '12px'; })()",
            "the e-mail preview styled",
        )
        .await;
}

/// Password of the console users the read-only test signs in with.
const CONSOLE_PASSWORD: &str = "console-pages-Passw0rd-long";

/// Signs `username` in to tenant `realm`'s console through its real sign-in (the login page,
/// then the callback, which reads the user's role from its own admin record) and waits until
/// `path` shows the user with the role label `role`.
async fn sign_in_to(
    browser: &Browser,
    app: &TestApp,
    realm: &str,
    username: &str,
    path: &str,
    role: &str,
) {
    browser.goto(&format!("{}{path}", app.address)).await;
    let login = json!(format!("/t/{realm}/"));
    browser
        .wait_until(
            &format!(
                "location.pathname.startsWith({login}) && !location.pathname.includes('/console') \
                 && document.querySelector('input[name=password]') !== null"
            ),
            "the console sent the browser to the tenant's login page",
        )
        .await;
    browser.fill("input[name=username]", username).await;
    browser.fill("input[name=password]", CONSOLE_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    let shown = json!(format!("{username} ({role})"));
    browser
        .wait_until(
            &format!(
                "location.pathname === {} && typeof Console === 'object' \
                 && document.getElementById('signed-in-as').textContent === {shown}",
                json!(path)
            ),
            &format!("{path} signed in as {username} ({role})"),
        )
        .await;
}

/// What a page offers for writing: whether the body is marked read-only, how many `[data-write]`
/// elements it has, those not computed `display: none`, and its `[data-action=delete]` buttons
/// (all, and those rendered).
const WRITE_CONTROLS: &str = "(() => { \
    const rendered = (e) => e.getClientRects().length > 0; \
    const writes = [...document.querySelectorAll('[data-write]')]; \
    const deletes = [...document.querySelectorAll('[data-action=delete]')]; \
    return { read_only: document.body.classList.contains('read-only'), writes: writes.length, \
      displayed: writes.filter((e) => getComputedStyle(e).display !== 'none') \
        .map((e) => e.id || e.outerHTML.slice(0, 120)), \
      deletes: deletes.length, rendered_deletes: deletes.filter(rendered).length }; })()";

#[actix_web::test]
async fn an_auditor_finds_every_tenant_page_read_only_and_a_tenant_admin_does_not() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let operator = app.admin_token().await;
    let resource = "https://api.acme.example/orders";
    // Rows for every table, and a CSS variable: a settings control added after the page locked.
    for (path, body) in [
        (
            "/tenants/acme/scopes",
            json!({"name": "orders:read", "description": "Read your orders", "claims": []}),
        ),
        (
            "/tenants/acme/clients",
            json!({"name": "Acme Storefront", "grant_types": ["client_credentials"], "scopes": ["orders:read"]}),
        ),
        (
            "/tenants/acme/resource-servers",
            json!({"identifier": resource, "name": "Orders", "scopes": ["orders:read"]}),
        ),
        (
            "/tenants/acme/users",
            json!({"username": "audrey", "password": CONSOLE_PASSWORD, "role": "auditor"}),
        ),
        (
            "/tenants/acme/users",
            json!({"username": "adam", "password": CONSOLE_PASSWORD, "role": "tenant_admin"}),
        ),
    ] {
        let (status, created) = app
            .admin(&operator, reqwest::Method::POST, path, Some(body))
            .await;
        assert_eq!(status, 201, "POST {path}: {created}");
    }
    let (status, patched) = app
        .admin(
            &operator,
            reqwest::Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"branding": {"css_variables": {"radius": "4px"}}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");

    // Each page, with what shows its tables filled, and whether it has write controls at all.
    let pages = [
        (
            "settings",
            "document.getElementById('f-code-ttl').value !== '' \
             && document.querySelector('#css-variables tr .css-var-name') !== null \
             && document.querySelector('#domain-status dt') !== null",
            true,
        ),
        (
            "clients",
            "document.querySelector('#clients tr[data-client-id]') !== null",
            true,
        ),
        (
            "scopes",
            "document.querySelector('#scopes tr[data-scope=\"orders:read\"]') !== null",
            true,
        ),
        (
            "resources",
            "document.querySelector('#resources tr[data-identifier]') !== null \
             && document.querySelector('#resource-scope-list input') !== null",
            true,
        ),
        (
            "users",
            "document.querySelector('#users tr[data-username=audrey]') !== null",
            true,
        ),
        (
            "keys",
            "document.querySelector('#keys tr[data-kid]') !== null \
             && document.getElementById('jwks').textContent.includes('\"keys\"')",
            true,
        ),
        (
            "templates",
            "document.getElementById('source').value.length > 0 \
             && document.getElementById('live-version').textContent !== ''",
            true,
        ),
        (
            "audit",
            "document.querySelector('#audit tr[data-action]') !== null",
            false,
        ),
    ];

    let browser = Browser::launch().await;
    sign_in_to(
        &browser,
        &app,
        "acme",
        "audrey",
        "/t/acme/console/settings",
        "auditor",
    )
    .await;
    // The role came from the user's own admin record, read by the callback.
    let stored = browser
        .eval("JSON.parse(sessionStorage.getItem('tessera-console:acme'))")
        .await;
    assert_eq!(stored["role"], "auditor", "{stored}");
    assert_eq!(stored["username"], "audrey", "{stored}");
    let auditor = stored["access_token"].as_str().expect("a stored token");

    for (page, filled, has_writes) in pages {
        let path = format!("/t/acme/console/{page}");
        browser.goto(&format!("{}{path}", app.address)).await;
        browser
            .wait_until(
                &format!(
                    "location.pathname === {} && typeof Console === 'object' && ({filled})",
                    json!(path)
                ),
                &format!("the {page} page filled"),
            )
            .await;
        let found = browser.eval(WRITE_CONTROLS).await;
        assert_eq!(found["read_only"], true, "{page}: {found}");
        assert_eq!(found["displayed"], json!([]), "{page}: {found}");
        if has_writes {
            assert!(found["writes"].as_u64() > Some(0), "{page}: {found}");
        }
        match page {
            "settings" => {
                let unlocked = browser
                    .eval(
                        "(() => { const f = [...document.getElementById('settings-form').elements] \
                         .filter((c) => c.matches('input, select, textarea, button')); \
                         return { controls: f.length, css: document.querySelectorAll('#css-variables input').length, \
                           unlocked: f.filter((c) => !c.matches(':disabled')).map((c) => c.id || c.name || c.className) }; })()",
                    )
                    .await;
                assert!(unlocked["controls"].as_u64() > Some(20), "{unlocked}");
                assert_eq!(unlocked["css"], 2, "{unlocked}");
                assert_eq!(unlocked["unlocked"], json!([]), "{unlocked}");
            }
            "templates" => {
                assert_eq!(
                    browser
                        .eval("document.getElementById('source').readOnly")
                        .await,
                    true
                );
            }
            "clients" | "resources" => {
                assert!(found["deletes"].as_u64() > Some(0), "{page}: {found}");
                assert_eq!(found["rendered_deletes"], 0, "{page}: {found}");
            }
            _ => {}
        }
        if matches!(page, "settings" | "clients") {
            browser.screenshot(&format!("console-auditor-{page}")).await;
        }
    }

    // The admin API refuses the auditor's writes whatever the page shows (403), and reads.
    let (status, refused) = app
        .admin(
            auditor,
            reqwest::Method::POST,
            "/tenants/acme/scopes",
            Some(json!({"name": "orders:write", "description": "Change your orders"})),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"], "access_denied", "{refused}");
    let scopes = get(&app, auditor, "/tenants/acme/scopes").await;
    let names: Vec<&str> = scopes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"orders:read"), "{scopes}");
    assert!(!names.contains(&"orders:write"), "{scopes}");
    drop(browser);

    // A tenant admin's scopes page, by contrast, offers its form.
    let browser = Browser::launch().await;
    sign_in_to(
        &browser,
        &app,
        "acme",
        "adam",
        "/t/acme/console/scopes",
        "tenant admin",
    )
    .await;
    browser
        .wait_until(pages[2].1, "the scopes page filled for the tenant admin")
        .await;
    let found = browser.eval(WRITE_CONTROLS).await;
    assert_eq!(found["read_only"], false, "{found}");
    assert_ne!(found["displayed"], json!([]), "{found}");
    let form = browser
        .eval(
            "(() => { const f = document.getElementById('create-scope'); \
             return getComputedStyle(f.closest('[data-write]')).display !== 'none' \
               && f.getClientRects().length > 0; })()",
        )
        .await;
    assert_eq!(form, true, "#create-scope is shown to a tenant admin");
}
