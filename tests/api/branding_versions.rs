//! Branding drafts, publication, version history and rollback over real HTTP: a draft never
//! reaches the login page until it is published; publishing reaches every node; every
//! publication (and every settings change of the branding) is a numbered version; restoring
//! publishes an old one again; drafts are checked like the settings; tenant admins stay in their
//! tenant; each step is audited; `branding` is no template name; and the console's settings page
//! drives the same cycle in a real Chromium.

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::sign_in_fixture;
use crate::browser::Browser;
use crate::console::press;
use crate::helpers::{TestApp, second_node, spawn_app};
use crate::template_versions::{login_page, login_shows};

/// The branding versions of `slug`, newest first, and which one is live.
async fn versions(app: &TestApp, token: &str, slug: &str) -> Vec<(i64, bool)> {
    app.admin_items(token, &format!("/tenants/{slug}/branding/versions"))
        .await
        .iter()
        .map(|v| {
            assert!(
                v.get("branding").is_none(),
                "a listing holds no branding: {v}"
            );
            (v["version"].as_i64().unwrap(), v["live"].as_bool().unwrap())
        })
        .collect()
}

/// Saves `branding` as the draft of `slug`; the answer (panics unless 200).
async fn save_draft(app: &TestApp, token: &str, slug: &str, branding: Value) -> Value {
    let path = format!("/tenants/{slug}/branding/draft");
    let (status, saved) = app.admin(token, Method::PUT, &path, Some(branding)).await;
    assert_eq!(status, 200, "PUT {path}: {saved}");
    saved
}

/// Sends `method` to `path` of the admin API without a body; the status and body.
async fn call(app: &TestApp, token: &str, method: Method, path: &str) -> (u16, Value) {
    app.admin(token, method, path, None).await
}

/// The audit events of `slug` whose action starts with `branding.`, newest first.
async fn branding_events(app: &TestApp, token: &str, slug: &str) -> Vec<Value> {
    app.admin_items(
        token,
        &format!("/tenants/{slug}/audit-events?action=branding."),
    )
    .await
}

#[actix_web::test]
async fn a_branding_draft_reaches_the_login_page_of_every_node_only_once_published() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "acme", false).await;
    let node2 = second_node(&app).await;
    let token = app.admin_token().await;
    let base = "/tenants/acme/branding";
    let first = ["Draft Rockets", "#0a7d32"];
    let second = ["Second Look", "#aa3300"];
    assert!(login_shows(&app, &f, &first, false).await);
    assert_eq!(versions(&app, &token, "acme").await, vec![]);
    let (status, _) = call(&app, &token, Method::GET, &format!("{base}/draft")).await;
    assert_eq!(status, 404, "no draft yet");

    // A draft is saved and read back, and changes nothing users see.
    let saved = save_draft(
        &app,
        &token,
        "acme",
        json!({"display_name": "Draft Rockets", "primary_color": "#0a7d32"}),
    )
    .await;
    assert_eq!(saved["branding"]["display_name"], "Draft Rockets");
    assert!(saved["updated_at"].is_i64(), "{saved}");
    assert!(saved["updated_by"].as_str().is_some_and(|a| !a.is_empty()));
    let (status, draft) = call(&app, &token, Method::GET, &format!("{base}/draft")).await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(draft["branding"], saved["branding"]);
    let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
    assert_eq!(settings["branding"]["display_name"], Value::Null);
    for node in [&app, &node2] {
        let page = login_page(node, &f).await;
        assert!(
            !page.contains("Draft Rockets") && !page.contains("#0a7d32"),
            "a draft is not live"
        );
    }

    // Publishing: the branding it replaces becomes version 1, the draft version 2, and both
    // nodes show it within the propagation bound.
    let (status, published) = call(&app, &token, Method::POST, &format!("{base}/publish")).await;
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["version"], 2);
    assert_eq!(published["live"], true);
    assert_eq!(published["branding"]["primary_color"], "#0a7d32");
    assert!(
        published["created_by"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    assert!(login_shows(&app, &f, &first, true).await, "node 1");
    assert!(login_shows(&node2, &f, &first, true).await, "node 2");
    let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
    assert_eq!(settings["branding"]["display_name"], "Draft Rockets");
    let (status, _) = call(&app, &token, Method::GET, &format!("{base}/draft")).await;
    assert_eq!(status, 404, "publishing consumed the draft");
    let (status, body) = call(&app, &token, Method::POST, &format!("{base}/publish")).await;
    assert_eq!(status, 404, "nothing left to publish: {body}");
    let (status, original) = call(&app, &token, Method::GET, &format!("{base}/versions/1")).await;
    assert_eq!(status, 200, "{original}");
    assert_eq!(original["branding"]["display_name"], Value::Null);
    assert_eq!(original["created_by"], Value::Null);
    assert_eq!(original["live"], false);

    // A second publication, then the history newest first.
    save_draft(
        &app,
        &token,
        "acme",
        json!({"display_name": "Second Look", "primary_color": "#aa3300"}),
    )
    .await;
    let (status, published) = call(&app, &token, Method::POST, &format!("{base}/publish")).await;
    assert_eq!((status, published["version"].as_i64()), (201, Some(3)));
    assert!(login_shows(&app, &f, &second, true).await);
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![(3, true), (2, false), (1, false)],
        "newest first"
    );
    let (status, two) = call(&app, &token, Method::GET, &format!("{base}/versions/2")).await;
    assert_eq!(status, 200, "{two}");
    assert_eq!(two["branding"]["display_name"], "Draft Rockets");
    assert_eq!(two["live"], false);

    // Restoring version 2 publishes it again as version 4, on every node.
    let (status, restored) = call(
        &app,
        &token,
        Method::POST,
        &format!("{base}/versions/2/restore"),
    )
    .await;
    assert_eq!(status, 201, "{restored}");
    assert_eq!(restored["version"], 4);
    assert_eq!(restored["branding"], two["branding"]);
    assert!(
        login_shows(&app, &f, &first, true).await,
        "version 2 is back"
    );
    assert!(login_shows(&node2, &f, &first, true).await, "on node 2 too");
    assert!(login_shows(&app, &f, &second, false).await);
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![(4, true), (3, false), (2, false), (1, false)]
    );

    // Restoring version 1 brings back the original look.
    let (status, restored) = call(
        &app,
        &token,
        Method::POST,
        &format!("{base}/versions/1/restore"),
    )
    .await;
    assert_eq!((status, restored["version"].as_i64()), (201, Some(5)));
    assert!(login_shows(&app, &f, &first, false).await);
    let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
    assert_eq!(settings["branding"], original["branding"]);

    // Discarding a draft; unknown versions are 404.
    save_draft(&app, &token, "acme", json!({"display_name": "Never"})).await;
    let (status, _) = call(&app, &token, Method::DELETE, &format!("{base}/draft")).await;
    assert_eq!(status, 204);
    for (method, path) in [
        (Method::GET, format!("{base}/draft")),
        (Method::DELETE, format!("{base}/draft")),
        (Method::GET, format!("{base}/versions/99")),
        (Method::GET, format!("{base}/versions/0")),
        (Method::GET, format!("{base}/versions/x")),
        (Method::POST, format!("{base}/versions/99/restore")),
    ] {
        let (status, body) = call(&app, &token, method.clone(), &path).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    assert!(!login_page(&app, &f).await.contains("Never"));

    // Every step is in the audit log, newest first.
    let events = branding_events(&app, &token, "acme").await;
    let of =
        |action: &str| -> Vec<&Value> { events.iter().filter(|e| e["action"] == action).collect() };
    assert_eq!(of("branding.draft_saved").len(), 3);
    assert_eq!(of("branding.draft_discarded").len(), 1);
    let published: Vec<i64> = of("branding.published")
        .iter()
        .map(|e| e["details"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(published, vec![3, 2]);
    let rolled_back: Vec<(i64, i64)> = of("branding.rolled_back")
        .iter()
        .map(|e| {
            (
                e["details"]["from_version"].as_i64().unwrap(),
                e["details"]["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rolled_back, vec![(1, 5), (2, 4)]);
}

#[actix_web::test]
async fn a_branding_draft_is_checked_like_the_settings_and_a_refused_one_is_not_saved() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    for (branding, field) in [
        (
            json!({"primary_color": "red;}</style><script>alert(1)</script>"}),
            "primary_color",
        ),
        (
            json!({"background_color": "url(https://evil.example/)"}),
            "background_color",
        ),
        (json!({"logo_url": "javascript:alert(1)"}), "logo_url"),
        (json!({"css_variables": {"x;}": "1px"}}), "css_variables"),
        (json!({"display_name": ""}), "display_name"),
    ] {
        let (status, refused) = app
            .admin(
                &token,
                Method::PUT,
                "/tenants/acme/branding/draft",
                Some(branding.clone()),
            )
            .await;
        assert_eq!(status, 400, "{branding}: {refused}");
        assert_eq!(refused["error"], "invalid_request");
        let why = refused["error_description"].as_str().unwrap();
        assert!(why.contains(field), "{branding}: {why}");
        // The settings document refuses it with the same words.
        let (status, as_settings) = app
            .admin(
                &token,
                Method::PATCH,
                "/tenants/acme/settings",
                Some(json!({ "branding": branding })),
            )
            .await;
        assert_eq!(status, 400, "{as_settings}");
        assert_eq!(as_settings["error_description"], why);
    }
    for body in [json!({"colour": "#fff"}), json!(["#fff"]), json!("#fff")] {
        let (status, refused) = app
            .admin(
                &token,
                Method::PUT,
                "/tenants/acme/branding/draft",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["error"], "invalid_request");
    }
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/acme/branding/draft", None)
        .await;
    assert_eq!(status, 404, "nothing was saved");
    assert_eq!(versions(&app, &token, "acme").await, vec![]);
}

#[actix_web::test]
async fn a_settings_change_of_the_branding_is_recorded_as_a_version() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "acme", false).await;
    let token = app.admin_token().await;
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![],
        "a policy change is no branding version"
    );

    let (status, patched) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"branding": {"display_name": "Patched Co"}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert!(login_shows(&app, &f, &["Patched Co"], true).await);
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![(2, true), (1, false)]
    );
    let (_, two) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/branding/versions/2",
            None,
        )
        .await;
    assert_eq!(two["branding"], patched["branding"]);
    assert!(two["created_by"].as_str().is_some_and(|a| !a.is_empty()));

    // A change of another section records no branding version.
    let (status, _) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"tokens": {"code_ttl_secs": 30}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(versions(&app, &token, "acme").await.len(), 2);

    // A PUT that sets the branding a draft holds publishes it and consumes that draft.
    save_draft(&app, &token, "acme", json!({"display_name": "Put Co"})).await;
    let mut document = patched.clone();
    document["tokens"]["code_ttl_secs"] = json!(30);
    document["branding"] = json!({"display_name": "Put Co"});
    let (status, stored) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(document),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert!(login_shows(&app, &f, &["Put Co"], true).await);
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![(3, true), (2, false), (1, false)]
    );
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/acme/branding/draft", None)
        .await;
    assert_eq!(status, 404, "the draft went live, so it is consumed");

    // A draft that differs is kept.
    save_draft(&app, &token, "acme", json!({"display_name": "Later Co"})).await;
    let (status, _) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"branding": {"primary_color": "#123456"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, draft) = app
        .admin(&token, Method::GET, "/tenants/acme/branding/draft", None)
        .await;
    assert_eq!(
        (status, &draft["branding"]["display_name"]),
        (200, &json!("Later Co"))
    );
    assert_eq!(versions(&app, &token, "acme").await[0], (4, true));

    let published: Vec<(i64, Value)> = branding_events(&app, &token, "acme")
        .await
        .iter()
        .filter(|e| e["action"] == "branding.published")
        .map(|e| {
            (
                e["details"]["version"].as_i64().unwrap(),
                e["details"]["via"].clone(),
            )
        })
        .collect();
    assert_eq!(
        published,
        vec![
            (4, json!("settings")),
            (3, json!("settings")),
            (2, json!("settings"))
        ]
    );
}

#[actix_web::test]
async fn concurrent_branding_publications_get_distinct_versions() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    // Five publications at once: each is one version, after the original look (version 1).
    let publications = (0..5).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            let (status, body) = app
                .admin(
                    token,
                    Method::PATCH,
                    "/tenants/acme/settings",
                    Some(json!({"branding": {"display_name": format!("Racer {i}")}})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    });
    futures_util::future::join_all(publications).await;
    let listed = versions(&app, &token, "acme").await;
    assert_eq!(
        listed.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![6, 5, 4, 3, 2, 1]
    );
    assert_eq!(listed.iter().filter(|v| v.1).count(), 1, "{listed:?}");
    assert!(listed[0].1, "the newest is live: {listed:?}");
    let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
    let (_, newest) = call(
        &app,
        &token,
        Method::GET,
        "/tenants/acme/branding/versions/6",
    )
    .await;
    assert_eq!(settings["branding"], newest["branding"]);
}

#[actix_web::test]
async fn concurrent_patches_of_different_settings_all_take_effect() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    // Each round patches three different settings at once; a patch merged into a copy read
    // before another's write would put that setting back.
    for round in 0..5i64 {
        let patches = [
            json!({"tokens": {"code_ttl_secs": 20 + round}}),
            json!({"branding": {"display_name": format!("Round {round}")}}),
            json!({"audit": {"retention_days": 30 + round}}),
        ];
        let sent = patches.iter().map(|patch| {
            let (app, token) = (&app, &token);
            async move {
                let (status, body) = app
                    .admin(
                        token,
                        Method::PATCH,
                        "/tenants/acme/settings",
                        Some(patch.clone()),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
            }
        });
        futures_util::future::join_all(sent).await;
        let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
        assert_eq!(
            settings["tokens"]["code_ttl_secs"],
            20 + round,
            "{settings}"
        );
        assert_eq!(
            settings["branding"]["display_name"],
            format!("Round {round}"),
            "{settings}"
        );
        assert_eq!(
            settings["audit"]["retention_days"],
            30 + round,
            "{settings}"
        );
    }
    // A patch the settings refuse changes nothing and is a 400.
    let (status, body) = call_with(&app, &token, json!({"tokens": {"code_ttl_secs": 0}})).await;
    assert_eq!(status, 400, "{body}");
    let (_, settings) = call(&app, &token, Method::GET, "/tenants/acme/settings").await;
    assert_eq!(settings["tokens"]["code_ttl_secs"], 24, "{settings}");
}

/// A settings PATCH of `patch`.
async fn call_with(app: &TestApp, token: &str, patch: Value) -> (u16, Value) {
    app.admin(token, Method::PATCH, "/tenants/acme/settings", Some(patch))
        .await
}

#[actix_web::test]
async fn a_tenant_admin_cannot_touch_another_tenants_branding() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let operator = app.admin_token().await;
    let acme_admin = app.tenant_admin_token(&operator, "acme").await;
    let look = json!({"display_name": "Globex Look"});
    save_draft(&app, &operator, "globex", look.clone()).await;
    let (status, _) = call(
        &app,
        &operator,
        Method::POST,
        "/tenants/globex/branding/publish",
    )
    .await;
    assert_eq!(status, 201);
    save_draft(
        &app,
        &operator,
        "globex",
        json!({"display_name": "Globex Next"}),
    )
    .await;

    let base = "/tenants/globex/branding";
    for (method, path) in [
        (Method::GET, format!("{base}/draft")),
        (Method::PUT, format!("{base}/draft")),
        (Method::DELETE, format!("{base}/draft")),
        (Method::POST, format!("{base}/publish")),
        (Method::GET, format!("{base}/versions")),
        (Method::GET, format!("{base}/versions/1")),
        (Method::POST, format!("{base}/versions/1/restore")),
    ] {
        let body = (method == Method::PUT).then(|| look.clone());
        let (status, refused) = app.admin(&acme_admin, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {refused}");
        assert_eq!(refused["error"], "access_denied");
    }
    assert_eq!(
        versions(&app, &operator, "globex").await,
        vec![(2, true), (1, false)],
        "globex's history is untouched"
    );
    let (status, draft) = call(&app, &operator, Method::GET, &format!("{base}/draft")).await;
    assert_eq!(
        (status, &draft["branding"]["display_name"]),
        (200, &json!("Globex Next"))
    );

    // Its own tenant works.
    save_draft(
        &app,
        &acme_admin,
        "acme",
        json!({"primary_color": "#334455"}),
    )
    .await;
    let (status, published) = call(
        &app,
        &acme_admin,
        Method::POST,
        "/tenants/acme/branding/publish",
    )
    .await;
    assert_eq!(
        (status, published["version"].as_i64()),
        (201, Some(2)),
        "{published}"
    );
    let (status, restored) = call(
        &app,
        &acme_admin,
        Method::POST,
        "/tenants/acme/branding/versions/1/restore",
    )
    .await;
    assert_eq!(
        (status, restored["version"].as_i64()),
        (201, Some(3)),
        "{restored}"
    );
}

#[actix_web::test]
async fn branding_is_not_a_template_name() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    save_draft(&app, &token, "acme", json!({"display_name": "Reserved"})).await;
    let (status, _) = call(&app, &token, Method::POST, "/tenants/acme/branding/publish").await;
    assert_eq!(status, 201);

    let base = "/tenants/acme/templates/branding";
    for (method, path) in [
        (Method::GET, base.to_owned()),
        (Method::PUT, base.to_owned()),
        (Method::GET, format!("{base}/draft")),
        (Method::PUT, format!("{base}/draft")),
        (Method::POST, format!("{base}/publish")),
        (Method::GET, format!("{base}/versions")),
        (Method::GET, format!("{base}/versions/1")),
        (Method::POST, format!("{base}/versions/1/restore")),
    ] {
        let (status, body) = app
            .admin_template(&token, method.clone(), &path, "{{#> layout}}{{/layout}}")
            .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let listed = app.admin_items(&token, "/tenants/acme/templates").await;
    assert!(
        listed
            .iter()
            .all(|t| t["name"] != "branding" && t["draft"] == false),
        "the branding draft and versions are no template's: {listed:?}"
    );
    assert_eq!(
        versions(&app, &token, "acme").await,
        vec![(2, true), (1, false)]
    );
}

/// Waits until the console page in `browser` satisfies the JavaScript condition `js`.
async fn page_shows(browser: &Browser, js: &str, what: &str) {
    browser.wait_until(js, what).await;
}

#[actix_web::test]
async fn the_settings_page_stages_publishes_and_restores_the_branding() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "look", false).await;
    let token = app.admin_token().await;
    let browser = Browser::launch().await;
    // The operator's token where the console's callback would store it.
    browser
        .goto(&format!("{}/console/assets/console.css", app.address))
        .await;
    let stored = json!({"access_token": token, "id_token": "", "expires_at": 4_000_000_000u64});
    let (key, value) = (json!("tessera-console:system"), json!(stored.to_string()));
    browser
        .eval(&format!("sessionStorage.setItem({key}, {value}); true"))
        .await;
    browser
        .goto(&format!("{}/console/tenants/look/settings", app.address))
        .await;
    page_shows(
        &browser,
        "typeof Console === 'object' && document.getElementById('branding-draft-state')\
         .textContent.includes('No branding draft') && document.querySelector('#branding-versions li') !== null",
        "the branding section filled",
    )
    .await;

    // Save draft: the draft swatch follows the editor, the live one and the pages do not.
    browser.fill("#f-display-name", "Staged Look").await;
    browser.fill("#f-primary", "#123abc").await;
    browser
        .eval("document.getElementById('section-branding').dispatchEvent(new Event('input')); true")
        .await;
    press(&browser, "#save-branding-draft").await;
    page_shows(
        &browser,
        "document.getElementById('notice').textContent.includes('Branding draft saved') \
         && !document.getElementById('discard-branding-draft').hidden",
        "the draft saved",
    )
    .await;
    let swatches = browser
        .eval(
            "[document.getElementById('branding-preview-name').textContent, \
              document.getElementById('branding-live-name').textContent]",
        )
        .await;
    assert_eq!(swatches[0], "Staged Look");
    assert_ne!(
        swatches[1], "Staged Look",
        "the live swatch shows the live look"
    );
    let (status, draft) = app
        .admin(&token, Method::GET, "/tenants/look/branding/draft", None)
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(draft["branding"]["primary_color"], "#123abc");
    assert!(!login_page(&app, &f).await.contains("Staged Look"));

    // Save settings leaves a draft alone: nothing is published by it.
    browser.fill("#f-code-ttl", "30").await;
    press(&browser, "#save-settings").await;
    page_shows(
        &browser,
        "document.getElementById('notice').textContent.includes('Settings saved')",
        "the settings saved",
    )
    .await;
    assert_eq!(versions(&app, &token, "look").await, vec![]);

    // Publish: version 2 is live (1 is the look it replaced) and reaches the login page.
    press(&browser, "#publish-branding").await;
    page_shows(
        &browser,
        "document.querySelector('#branding-versions li.live[data-version=\"2\"]') !== null \
         && document.getElementById('branding-live-name').textContent === 'Staged Look' \
         && document.getElementById('discard-branding-draft').hidden",
        "version 2 listed as live",
    )
    .await;
    assert!(login_shows(&app, &f, &["Staged Look", "#123abc"], true).await);
    assert_eq!(
        versions(&app, &token, "look").await,
        vec![(2, true), (1, false)]
    );
    browser.screenshot("console-branding-versions").await;

    // Restore version 1 after confirming: version 3, the original look again.
    press(&browser, "[data-restore-branding=\"1\"]").await;
    page_shows(
        &browser,
        "document.getElementById('confirm-dialog').open",
        "the confirmation dialog",
    )
    .await;
    press(&browser, "#confirm-ok").await;
    page_shows(
        &browser,
        "document.querySelector('#branding-versions li.live[data-version=\"3\"]') !== null",
        "version 3 listed as live",
    )
    .await;
    assert!(login_shows(&app, &f, &["Staged Look"], false).await);
    let (_, settings) = app
        .admin(&token, Method::GET, "/tenants/look/settings", None)
        .await;
    assert_eq!(settings["branding"]["display_name"], Value::Null);
    assert_eq!(settings["tokens"]["code_ttl_secs"], 30);
}
