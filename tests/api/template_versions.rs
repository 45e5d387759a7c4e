//! Template drafts, publication, version history and rollback over real HTTP: a draft (even a
//! broken one) is saved but never reaches the login page until it is published; publishing
//! checks it; every publication is a numbered version; restoring publishes an old version again;
//! previews render pages and e-mails (with a proposed branding); tenant admins stay in their
//! tenant; each step is audited; overrides from before the upgrade become version 1.

use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tessera_store::{PoolSettings, Store};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app, status_and_json, within};

const VERIFIER: &str = "template-versions-verifier-0123456789-abcdefghijklmnop";

/// The login page `f`'s client is shown at `/t/{slug}/authorize` of `app` (any node).
pub(crate) async fn login_page(app: &TestApp, f: &SignIn) -> String {
    let resp = app
        .http
        .get(f.authorize_url(app, "openid", VERIFIER, &[]))
        .send()
        .await
        .expect("authorize request");
    assert_eq!(resp.status().as_u16(), 200, "the login page");
    resp.text().await.expect("an HTML body")
}

/// Waits until `app`'s login page shows every marker (with `shown == false`: none of them).
pub(crate) async fn login_shows(app: &TestApp, f: &SignIn, markers: &[&str], shown: bool) -> bool {
    within(PROPAGATION, || async {
        let page = login_page(app, f).await;
        markers.iter().all(|m| page.contains(m) == shown)
    })
    .await
    .is_some()
}

/// The default login source with a paragraph holding `marker` under the heading.
async fn login_with(app: &TestApp, token: &str, slug: &str, marker: &str) -> String {
    let (status, body) = app
        .admin(
            token,
            Method::GET,
            &format!("/tenants/{slug}/templates/login"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let source = body["source"].as_str().unwrap();
    assert!(source.contains("<h1>Sign in</h1>"));
    source.replace(
        "<h1>Sign in</h1>",
        &format!("<h1>Sign in</h1>\n<p id=\"marker\">{marker}</p>"),
    )
}

/// The version numbers listed for `name`, newest first, and which one is live.
async fn versions(app: &TestApp, token: &str, slug: &str, name: &str) -> Vec<(i64, bool)> {
    app.admin_items(token, &format!("/tenants/{slug}/templates/{name}/versions"))
        .await
        .iter()
        .map(|v| {
            assert!(v.get("source").is_none(), "a listing holds no source: {v}");
            (v["version"].as_i64().unwrap(), v["live"].as_bool().unwrap())
        })
        .collect()
}

/// The status of reading the draft of the template at `base` with `token`.
async fn draft_status(app: &TestApp, token: &str, base: &str) -> u16 {
    let (status, _) = app
        .admin(token, Method::GET, &format!("{base}/draft"), None)
        .await;
    status
}

const BROKEN: &str = "{{#> layout}}\n<p>half typed</p>\n{{nope}}\n{{/layout}}\n";

#[actix_web::test]
async fn drafts_publish_versions_and_restore_reach_the_login_page() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "acme", false).await;
    let token = app.admin_token().await;
    let base = "/tenants/acme/templates/login";
    assert!(!login_page(&app, &f).await.contains("id=\"marker\""));

    // A broken draft is saved, says where it breaks, and changes nothing users see.
    let (status, saved) = app
        .admin_template(&token, Method::PUT, &format!("{base}/draft"), BROKEN)
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["saved"], true);
    assert_eq!(saved["problem"]["line"], 3, "{saved}");
    assert!(saved["problem"]["column"].is_u64(), "{saved}");
    assert!(saved["problem"]["message"].is_string(), "{saved}");
    let (_, shown) = app.admin(&token, Method::GET, base, None).await;
    assert_eq!(shown["draft"], true, "{shown}");
    assert_eq!(shown["overridden"], false);
    assert_eq!(shown["live_version"], Value::Null);
    let (status, draft) = app
        .admin(&token, Method::GET, &format!("{base}/draft"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(draft["source"], BROKEN);
    assert!(draft["updated_at"].is_i64());
    assert!(!login_page(&app, &f).await.contains("half typed"));

    // Publishing refuses it with the same position, and keeps the draft.
    let (status, refused) = app
        .admin(&token, Method::POST, &format!("{base}/publish"), None)
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_template");
    assert_eq!(refused["line"], 3);
    assert_eq!(versions(&app, &token, "acme", "login").await, vec![]);
    assert_eq!(
        draft_status(&app, &token, base).await,
        200,
        "a refused draft stays"
    );

    // A good draft (sent as JSON) publishes as version 1 and reaches the page.
    let v1 = login_with(&app, &token, "acme", "MARK-ONE").await;
    let (status, saved) = app
        .admin(
            &token,
            Method::PUT,
            &format!("{base}/draft"),
            Some(json!({ "source": v1 })),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["problem"], Value::Null, "{saved}");
    assert!(
        !login_page(&app, &f).await.contains("MARK-ONE"),
        "a draft is not live"
    );
    let (status, published) = app
        .admin(&token, Method::POST, &format!("{base}/publish"), None)
        .await;
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["version"], 1);
    assert_eq!(published["live"], true);
    assert_eq!(published["source"], v1);
    assert!(
        published["created_by"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    assert!(
        login_shows(&app, &f, &["MARK-ONE"], true).await,
        "version 1 reached the page"
    );
    assert_eq!(
        draft_status(&app, &token, base).await,
        404,
        "publishing consumed the draft"
    );
    let (status, body) = app
        .admin(&token, Method::POST, &format!("{base}/publish"), None)
        .await;
    assert_eq!(status, 404, "nothing left to publish: {body}");

    // PUT publishes directly and is version 2.
    let v2 = login_with(&app, &token, "acme", "MARK-TWO").await;
    let (status, stored) = app.admin_template(&token, Method::PUT, base, &v2).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["live_version"], 2);
    assert_eq!(stored["overridden"], true);
    assert!(login_shows(&app, &f, &["MARK-TWO"], true).await);
    assert_eq!(
        versions(&app, &token, "acme", "login").await,
        vec![(2, true), (1, false)],
        "newest first"
    );

    // Restoring version 1 publishes it again as version 3.
    let (status, restored) = app
        .admin(
            &token,
            Method::POST,
            &format!("{base}/versions/1/restore"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{restored}");
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["source"], v1);
    assert!(
        login_shows(&app, &f, &["MARK-ONE"], true).await,
        "version 1 is back"
    );
    assert!(!login_page(&app, &f).await.contains("MARK-TWO"));
    assert_eq!(
        versions(&app, &token, "acme", "login").await,
        vec![(3, true), (2, false), (1, false)]
    );
    let (status, one) = app
        .admin(&token, Method::GET, &format!("{base}/versions/1"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (one["source"].as_str(), one["live"].as_bool()),
        (Some(v1.as_str()), Some(false))
    );
    let (_, shown) = app.admin(&token, Method::GET, base, None).await;
    assert_eq!(
        (shown["live_version"].as_i64(), shown["draft"].as_bool()),
        (Some(3), Some(false))
    );
    for missing in ["9", "0", "-1", "x"] {
        let (status, body) = app
            .admin(
                &token,
                Method::GET,
                &format!("{base}/versions/{missing}"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{missing}: {body}");
        let (status, _) = app
            .admin(
                &token,
                Method::POST,
                &format!("{base}/versions/{missing}/restore"),
                None,
            )
            .await;
        assert_eq!(status, 404, "restore {missing}");
    }

    // A draft can be discarded, once.
    let (status, _) = app
        .admin_template(
            &token,
            Method::PUT,
            &format!("{base}/draft"),
            "{{#> layout}}x{{/layout}}",
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin(&token, Method::DELETE, &format!("{base}/draft"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .admin(&token, Method::DELETE, &format!("{base}/draft"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(draft_status(&app, &token, base).await, 404);

    // Resetting to the default keeps the history; no version is live; a restore brings one back.
    let (status, _) = app.admin(&token, Method::DELETE, base, None).await;
    assert_eq!(status, 204);
    assert!(login_shows(&app, &f, &["MARK-ONE"], false).await);
    let (_, shown) = app.admin(&token, Method::GET, base, None).await;
    assert_eq!(shown["live_version"], Value::Null);
    assert_eq!(
        versions(&app, &token, "acme", "login").await,
        vec![(3, false), (2, false), (1, false)]
    );
    let (status, restored) = app
        .admin(
            &token,
            Method::POST,
            &format!("{base}/versions/2/restore"),
            None,
        )
        .await;
    assert_eq!((status, restored["version"].as_i64()), (201, Some(4)));
    assert!(login_shows(&app, &f, &["MARK-TWO"], true).await);

    // Every step is in the audit log.
    let (status, audit) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/audit-events?action=template.",
            None,
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let events = audit["items"].as_array().expect("items");
    let of =
        |action: &str| -> Vec<&Value> { events.iter().filter(|e| e["action"] == action).collect() };
    assert_eq!(of("template.draft_saved").len(), 3);
    assert_eq!(
        of("template.draft_saved").last().unwrap()["details"]["compiles"],
        false,
        "the first, broken draft"
    );
    assert_eq!(of("template.draft_discarded").len(), 1);
    let published: Vec<i64> = of("template.published")
        .iter()
        .map(|e| {
            assert_eq!(e["details"]["template"], "login");
            e["details"]["version"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(published, vec![2, 1], "newest first");
    let rolled_back: Vec<(i64, i64)> = of("template.rolled_back")
        .iter()
        .map(|e| {
            (
                e["details"]["from_version"].as_i64().unwrap(),
                e["details"]["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rolled_back, vec![(2, 4), (1, 3)]);
    assert_eq!(of("template.reset").len(), 1);
}

#[actix_web::test]
async fn concurrent_publications_get_distinct_version_numbers() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let puts = (1..=6).map(|i| {
        let source = format!("{{{{#> layout}}}}<p>{{{{message}}}} {i}</p>{{{{/layout}}}}");
        let app = &app;
        let token = token.clone();
        async move {
            app.admin_template(
                &token,
                Method::PUT,
                "/tenants/acme/templates/error",
                &source,
            )
            .await
        }
    });
    let results = futures_util::future::join_all(puts).await;
    let mut numbers: Vec<i64> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["live_version"].as_i64().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    let listed = versions(&app, &token, "acme", "error").await;
    assert_eq!(
        listed.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        vec![6, 5, 4, 3, 2, 1]
    );
    assert_eq!(listed.iter().filter(|(_, live)| *live).count(), 1);
    assert!(listed[0].1, "the newest is live");
}

#[actix_web::test]
async fn previews_render_pages_and_emails_with_a_proposed_branding_and_a_given_nonce() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let preview = |name: &str, query: &str, body: Option<Value>| {
        let path = format!("/tenants/acme/templates/{name}/preview{query}");
        app.admin_request(&token, Method::POST, &path, body)
    };

    // An e-mail template: the default, and an edited source.
    let html = preview_html(preview("email.verify_email.html", "", None)).await;
    assert!(html.contains("Confirm e-mail address"), "{html}");
    let html = preview_html(
        preview("email.verify_email.html", "", None)
            .header(CONTENT_TYPE, "text/x-handlebars")
            .body(
                "{{#> layout}}<p id=\"greet\">Hi {{username}}, confirm at {{link}}</p>{{/layout}}",
            ),
    )
    .await;
    assert!(html.contains("<p id=\"greet\">Hi "), "{html}");
    // A subject is shown in an HTML page.
    preview_html(preview("email.verify_email.subject", "", None)).await;
    let (status, body) = app
        .admin_template(
            &token,
            Method::POST,
            "/tenants/acme/templates/email.verify_email.html/preview",
            "{{#> layout}}\n{{#if}}{{/layout}}",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_template");
    assert!(body["line"].is_u64() && body["column"].is_u64(), "{body}");

    // A proposed branding, before it is saved, and the nonce of the embedding page.
    let nonce = "Q29uc29sZU5vbmNlMTIzNA";
    let branding =
        json!({"branding": {"display_name": "Preview Rockets", "primary_color": "#123456"}});
    let resp = preview("login", &format!("?nonce={nonce}"), Some(branding))
        .send()
        .await
        .unwrap();
    let csp = resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("sandbox;") && csp.contains(&format!("'nonce-{nonce}'")),
        "{csp}"
    );
    let html = html_page(resp).await;
    assert!(
        html.contains("Preview Rockets") && html.contains("#123456"),
        "{html}"
    );
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{html}");
    let (_, settings) = app
        .admin(&token, Method::GET, "/tenants/acme/settings", None)
        .await;
    assert_eq!(
        settings["branding"]["display_name"],
        Value::Null,
        "a preview saves nothing"
    );

    for (query, body, refused) in [
        ("?nonce=short'", None, "a nonce that could break the CSP"),
        (
            "",
            Some(json!({"branding": {"primary_color": "red;}</style><script>"}})),
            "a branding that could inject markup",
        ),
        (
            "",
            Some(json!({"source": "{{#> layout}}<p>x</p>{{/layout}}", "extra": 1})),
            "unknown fields",
        ),
    ] {
        let (status, body) = status_and_json(preview("login", query, body)).await;
        assert_eq!(status, 400, "{refused}: {body}");
    }
}

/// Sends the preview request `req`; the page (panics unless 200 `text/html`).
async fn preview_html(req: reqwest::RequestBuilder) -> String {
    let resp = req.send().await.expect("preview request");
    html_page(resp).await
}

/// The page of a successful preview response (200, `text/html`).
async fn html_page(resp: reqwest::Response) -> String {
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    resp.text().await.expect("an HTML body")
}

#[actix_web::test]
async fn a_tenant_admin_cannot_touch_another_tenants_drafts_or_versions() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let operator = app.admin_token().await;
    let acme_admin = app.tenant_admin_token(&operator, "acme").await;
    let source = "{{#> layout}}<p>{{message}}</p>{{/layout}}";
    let (status, _) = app
        .admin_template(
            &operator,
            Method::PUT,
            "/tenants/globex/templates/error",
            source,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin_template(
            &operator,
            Method::PUT,
            "/tenants/globex/templates/error/draft",
            source,
        )
        .await;
    assert_eq!(status, 200);

    let base = "/tenants/globex/templates/error";
    for (method, path) in [
        (Method::GET, format!("{base}/draft")),
        (Method::PUT, format!("{base}/draft")),
        (Method::DELETE, format!("{base}/draft")),
        (Method::POST, format!("{base}/publish")),
        (Method::GET, format!("{base}/versions")),
        (Method::GET, format!("{base}/versions/1")),
        (Method::POST, format!("{base}/versions/1/restore")),
        (Method::POST, format!("{base}/preview")),
    ] {
        let (status, body) = app
            .admin_template(&acme_admin, method.clone(), &path, source)
            .await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["error"], "access_denied");
    }
    assert_eq!(
        versions(&app, &operator, "globex", "error").await,
        vec![(1, true)]
    );
    assert_eq!(
        draft_status(&app, &operator, base).await,
        200,
        "the draft is untouched"
    );

    // Its own tenant works.
    let (status, saved) = app
        .admin_template(
            &acme_admin,
            Method::PUT,
            "/tenants/acme/templates/error/draft",
            source,
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let (status, published) = app
        .admin(
            &acme_admin,
            Method::POST,
            "/tenants/acme/templates/error/publish",
            None,
        )
        .await;
    assert_eq!(
        (status, published["version"].as_i64()),
        (201, Some(1)),
        "{published}"
    );
    let (status, _) = app
        .admin(
            &acme_admin,
            Method::GET,
            "/tenants/acme/templates/nope/versions",
            None,
        )
        .await;
    assert_eq!(status, 404, "an unknown template name");
}

/// Runs `sql` on the server's database.
async fn execute(store: &Store, sql: &str) {
    store
        .conn()
        .execute_raw(Statement::from_string(store.backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[actix_web::test]
async fn an_override_from_before_the_upgrade_becomes_version_1() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let source = "{{#> layout}}<p>OLD-OVERRIDE {{message}}</p>{{/layout}}";
    let (status, _) = app
        .admin_template(&token, Method::PUT, "/tenants/acme/templates/error", source)
        .await;
    assert_eq!(status, 200);

    // Back to the schema before the history: the tables gone, the migration not applied, the
    // override still there; then upgrade in place.
    let store = Store::connect(&app.database_url, &PoolSettings::default())
        .await
        .expect("connect");
    execute(&store, "DROP TABLE template_drafts").await;
    execute(&store, "DROP TABLE template_versions").await;
    execute(
        &store,
        "DELETE FROM seaql_migrations WHERE version = 'm20261128_000017_template_versions'",
    )
    .await;
    store.migrate().await.expect("the upgrade");
    store.close().await.ok();

    let (status, listed) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/templates/error/versions",
            None,
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["version"], 1);
    assert_eq!(items[0]["live"], true);
    assert_eq!(
        items[0]["created_by"],
        Value::Null,
        "recorded by the upgrade"
    );
    let (_, one) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/templates/error/versions/1",
            None,
        )
        .await;
    assert_eq!(one["source"], source);
    let (_, shown) = app
        .admin(&token, Method::GET, "/tenants/acme/templates/error", None)
        .await;
    assert_eq!(
        (shown["live_version"].as_i64(), shown["draft"].as_bool()),
        (Some(1), Some(false))
    );

    // The next publication continues the numbering.
    let (status, stored) = app
        .admin_template(
            &token,
            Method::PUT,
            "/tenants/acme/templates/error",
            "{{#> layout}}<p>{{message}}</p>{{/layout}}",
        )
        .await;
    assert_eq!((status, stored["live_version"].as_i64()), (200, Some(2)));
}

#[actix_web::test]
async fn deleting_a_tenant_deletes_its_template_history_and_drafts() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let source = "{{#> layout}}<p>{{message}}</p>{{/layout}}";
    let base = "/tenants/acme/templates/error";
    let (status, _) = app.admin_template(&token, Method::PUT, base, source).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin_template(&token, Method::PUT, &format!("{base}/draft"), source)
        .await;
    assert_eq!(status, 200);

    let (status, body) = app
        .admin(&token, Method::DELETE, "/tenants/acme", None)
        .await;
    assert_eq!(status, 204, "{body}");
    app.create_tenant("acme", "ES256").await;
    assert_eq!(versions(&app, &token, "acme", "error").await, vec![]);
    assert_eq!(
        draft_status(&app, &token, base).await,
        404,
        "the old tenant's draft is gone"
    );
}
