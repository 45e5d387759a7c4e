//! Per-tenant branding and page templates over real HTTP: overrides reach the tenant's pages (and
//! no other tenant's) within the propagation bound, refused templates say where and why, branding
//! cannot inject markup, previews render sample data, and DELETE rolls back to the default.

use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::{PROPAGATION, TestApp, spawn_app, within};

/// The HTML error page of tenant `slug` (an unknown client is answered with it, never a
/// redirect).
async fn error_page(app: &TestApp, slug: &str) -> String {
    let resp = app
        .http
        .get(format!(
            "{}/t/{slug}/authorize?client_id=unknown",
            app.address
        ))
        .send()
        .await
        .expect("authorize request");
    assert!(resp.status().is_client_error(), "{}", resp.status());
    resp.text().await.expect("an HTML body")
}

/// Sends a raw template body to the admin API; returns status and JSON body (Null if none).
async fn send_template(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    source: &str,
) -> (u16, Value) {
    let resp = app
        .http
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "text/x-handlebars")
        .body(source.to_owned())
        .send()
        .await
        .expect("admin request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// PUTs template `name` of `slug`.
async fn put_template(
    app: &TestApp,
    token: &str,
    slug: &str,
    name: &str,
    source: &str,
) -> (u16, Value) {
    send_template(
        app,
        token,
        Method::PUT,
        &format!("/tenants/{slug}/templates/{name}"),
        source,
    )
    .await
}

const CUSTOM_ERROR: &str = "{{#> layout}}\n<h1 id=\"custom\">ACME-CUSTOM-ERROR</h1>\n<p>{{message}} ({{code}})</p>\n{{/layout}}\n";

#[actix_web::test]
async fn a_template_override_reaches_its_tenants_pages_and_no_other_tenants() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let token = app.admin_token().await;
    // Render both once so stale snapshots are cached before the change.
    assert!(!error_page(&app, "acme").await.contains("ACME-CUSTOM-ERROR"));
    assert!(
        !error_page(&app, "globex")
            .await
            .contains("ACME-CUSTOM-ERROR")
    );

    let (status, body) = put_template(&app, &token, "acme", "error", CUSTOM_ERROR).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "error");
    assert_eq!(body["overridden"], true);
    assert_eq!(body["source"], CUSTOM_ERROR);

    let shown = within(PROPAGATION, || async {
        error_page(&app, "acme").await.contains("ACME-CUSTOM-ERROR")
    })
    .await;
    assert!(shown.is_some(), "the override did not reach the page");
    let page = error_page(&app, "acme").await;
    assert!(
        page.contains("(invalid_"),
        "the page data reached the override: {page}"
    );
    assert!(
        !error_page(&app, "globex")
            .await
            .contains("ACME-CUSTOM-ERROR")
    );

    let (status, body) = app
        .admin(&token, Method::GET, "/tenants/acme/templates", None)
        .await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().expect("items");
    // Every page and every e-mail template (`email.layout`, four kinds × three parts).
    assert_eq!(items.len(), tessera_tenants::TemplateName::ALL.len());
    assert!(
        items
            .iter()
            .any(|i| i["name"] == "email.password_reset.html")
    );
    for item in items {
        assert_eq!(item["overridden"], item["name"] == "error", "{item}");
    }
    let (_, globex) = app
        .admin(&token, Method::GET, "/tenants/globex/templates/error", None)
        .await;
    assert_eq!(globex["overridden"], false);
    assert!(globex["source"].as_str().unwrap().contains("{{#> layout}}"));
}

#[actix_web::test]
async fn delete_rolls_a_template_back_to_the_default() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, _) = put_template(&app, &token, "acme", "error", CUSTOM_ERROR).await;
    assert_eq!(status, 200);
    assert!(
        within(PROPAGATION, || async {
            error_page(&app, "acme").await.contains("ACME-CUSTOM-ERROR")
        })
        .await
        .is_some()
    );

    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            "/tenants/acme/templates/error",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let back = within(PROPAGATION, || async {
        !error_page(&app, "acme").await.contains("ACME-CUSTOM-ERROR")
    })
    .await;
    assert!(back.is_some(), "the default did not come back");
    let (_, body) = app
        .admin(&token, Method::GET, "/tenants/acme/templates/error", None)
        .await;
    assert_eq!(body["overridden"], false);
    assert_eq!(body["updated_at"], Value::Null);
    // Rolling back again is a no-op.
    let (status, _) = app
        .admin(
            &token,
            Method::DELETE,
            "/tenants/acme/templates/error",
            None,
        )
        .await;
    assert_eq!(status, 204);
}

#[actix_web::test]
async fn an_invalid_template_is_400_with_line_and_column() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = put_template(
        &app,
        &token,
        "acme",
        "error",
        "{{#> layout}}\n<p>{{message}</p>\n{{/layout}}",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_template");
    assert_eq!(body["line"], 2, "{body}");
    assert!(body["column"].as_u64().is_some(), "{body}");
    assert!(!body["message"].as_str().unwrap().is_empty());
    let (_, stored) = app
        .admin(&token, Method::GET, "/tenants/acme/templates/error", None)
        .await;
    assert_eq!(
        stored["overridden"], false,
        "a refused template is not stored"
    );
}

#[actix_web::test]
async fn an_unknown_variable_is_refused_in_strict_mode() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = put_template(
        &app,
        &token,
        "acme",
        "login",
        "{{#> layout}}\n<p>Hello {{usernme}}</p>\n{{/layout}}",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_template");
    assert!(
        body["message"].as_str().unwrap().contains("usernme"),
        "{body}"
    );
    assert_eq!(body["line"], 2, "{body}");
}

#[actix_web::test]
async fn script_and_unescaped_output_are_refused() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    for source in [
        "{{#> layout}}<script nonce=\"{{page.csp_nonce}}\">alert(1)</script>{{/layout}}",
        "{{#> layout}}<p>{{{message}}}</p>{{/layout}}",
        "{{#> layout}}{{> login}}{{/layout}}",
    ] {
        let (status, body) = put_template(&app, &token, "acme", "error", source).await;
        assert_eq!(status, 400, "{source}: {body}");
        assert_eq!(body["error"], "invalid_template", "{source}");
    }
}

#[actix_web::test]
async fn branding_reaches_the_pages_and_cannot_inject_markup() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    for color in [
        "red;}</style><script>alert(1)</script>",
        "{{{tenant.name}}}",
        "red; background: url(https://evil.example/)",
    ] {
        let (status, body) = app
            .admin(
                &token,
                Method::PUT,
                "/tenants/acme/settings",
                Some(json!({"branding": {"primary_color": color}})),
            )
            .await;
        assert_eq!(status, 400, "{color}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("primary_color")
        );
    }
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"branding": {"css_variables": {"x;}": "1px"}}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"branding": {"logo_url": "javascript:alert(1)"}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"branding": {
                "display_name": "Acme <Rockets>",
                "primary_color": "#123456",
                "css_variables": {"radius": "4px"}
            }})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["branding"]["primary_color"], "#123456");
    let shown = within(PROPAGATION, || async {
        error_page(&app, "acme").await.contains("#123456")
    })
    .await;
    assert!(shown.is_some(), "the colour did not reach the page");
    let page = error_page(&app, "acme").await;
    assert!(page.contains("--radius: 4px;"), "{page}");
    assert!(page.contains("Acme &lt;Rockets&gt;"), "{page}");
    assert!(!page.contains("<Rockets>"));
}

#[actix_web::test]
async fn settings_are_read_replaced_and_patched_with_ranges_checked() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, defaults) = app
        .admin(&token, Method::GET, "/tenants/acme/settings", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(defaults["tokens"]["code_ttl_secs"], 60);

    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"tokens": {"code_ttl_secs": 600}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("code_ttl_secs")
    );
    let (status, _) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"nope": 1})),
        )
        .await;
    assert_eq!(status, 400);

    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/settings",
            Some(json!({"session": {"idle_secs": 600, "absolute_secs": 3600}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session"]["idle_secs"], 600);
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"tokens": {"code_ttl_secs": 30}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokens"]["code_ttl_secs"], 30);
    assert_eq!(body["session"]["idle_secs"], 600, "PATCH keeps the rest");
    let (_, stored) = app
        .admin(&token, Method::GET, "/tenants/acme/settings", None)
        .await;
    assert_eq!(stored, body);
}

#[actix_web::test]
async fn preview_renders_sample_data_with_the_tenants_branding() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, _) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/acme/settings",
            Some(json!({"branding": {"display_name": "Acme Preview Co"}})),
        )
        .await;
    assert_eq!(status, 200);

    let resp = app
        .http
        .post(format!(
            "{}/admin/v1/tenants/acme/templates/consent/preview",
            app.address
        ))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/x-handlebars")
        .body("{{#> layout}}<p id=\"who\">{{client_name}} asks {{username}}</p><ul>{{#each scopes}}<li>{{this.name}}</li>{{/each}}</ul>{{/layout}}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = resp.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("sandbox;"), "{csp}");
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("<p id=\"who\">Acme Wiki asks alice</p>"),
        "{html}"
    );
    assert_eq!(html.matches("<li>").count(), 2, "two sample scopes");
    assert!(html.contains("Acme Preview Co"), "{html}");

    // Without a body: the version in use (the default), which stays unchanged.
    let resp = app
        .http
        .post(format!(
            "{}/admin/v1/tenants/acme/templates/consent/preview",
            app.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("Acme Wiki"));
    let (_, body) = app
        .admin(&token, Method::GET, "/tenants/acme/templates/consent", None)
        .await;
    assert_eq!(body["overridden"], false, "a preview stores nothing");

    let (status, body) = send_template(
        &app,
        &token,
        Method::POST,
        "/tenants/acme/templates/consent/preview",
        "{{#> layout}}{{nope}}{{/layout}}",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_template");
}

#[actix_web::test]
async fn bad_names_bodies_and_sizes_are_refused() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = put_template(&app, &token, "acme", "form_post", "<p>x</p>").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/acme/templates/nope", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(&token, Method::GET, "/tenants/nope/templates", None)
        .await;
    assert_eq!(status, 404);

    let url = format!("{}/admin/v1/tenants/acme/templates/error", app.address);
    let resp = app
        .http
        .put(&url)
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("source=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400, "a form is not a template body");
    let (status, _) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/templates/error",
            Some(json!({"source": CUSTOM_ERROR, "extra": 1})),
        )
        .await;
    assert_eq!(status, 400, "unknown JSON fields are refused");
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/templates/error",
            Some(json!({ "source": CUSTOM_ERROR })),
        )
        .await;
    assert_eq!(status, 200, "JSON {{source}} is accepted too: {body}");
    assert_eq!(body["source"], CUSTOM_ERROR);

    let huge = format!("{{{{#> layout}}}}{}{{{{/layout}}}}", "x".repeat(70 * 1024));
    let (status, body) = put_template(&app, &token, "acme", "error", &huge).await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/acme/templates/error",
            Some(json!({ "source": huge })),
        )
        .await;
    assert_eq!(status, 413, "{body}");
}

#[actix_web::test]
async fn a_tenant_admin_manages_its_own_branding_only() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("globex", "ES256").await;
    let operator = app.admin_token().await;
    let acme_admin = app.tenant_admin_token(&operator, "acme").await;

    let (status, _) = put_template(&app, &acme_admin, "acme", "error", CUSTOM_ERROR).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin(&acme_admin, Method::GET, "/tenants/acme/settings", None)
        .await;
    assert_eq!(status, 200);

    let (status, body) = put_template(&app, &acme_admin, "globex", "error", CUSTOM_ERROR).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    for (method, path) in [
        (Method::GET, "/tenants/globex/settings"),
        (Method::PUT, "/tenants/globex/settings"),
        (Method::GET, "/tenants/globex/templates"),
        (Method::DELETE, "/tenants/globex/templates/error"),
        (Method::POST, "/tenants/globex/templates/error/preview"),
    ] {
        let body = (method == Method::PUT).then(|| json!({}));
        let (status, _) = app.admin(&acme_admin, method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}");
    }
    assert!(
        !error_page(&app, "globex")
            .await
            .contains("ACME-CUSTOM-ERROR")
    );
}
