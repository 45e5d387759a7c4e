//! The authorization code and refresh token grants and the userinfo endpoint over HTTP: every
//! negative rule of the token endpoint (replayed code, PKCE, redirect URI, client binding,
//! expiry, refresh reuse and grace, scope narrowing) and RFC 6750 behaviour of userinfo.

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ORIGIN, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, spawn_app};

const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

async fn setup(slug: &str) -> (TestApp, SignIn) {
    let app = spawn_app().await;
    let fixture = sign_in_fixture(&app, slug, true).await;
    (app, fixture)
}

/// Sends a token request authenticated as the fixture's client; status and JSON body.
async fn token(app: &TestApp, f: &SignIn, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = app
        .post_token(&f.tenant, Some((&f.client_id, &f.client_secret)), form)
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn refresh(
    app: &TestApp,
    f: &SignIn,
    refresh_token: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(app, f, &form).await
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// Patches the tenant's settings and waits for the snapshot to pick them up.
async fn patch_settings(app: &TestApp, slug: &str, patch: Value) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(patch),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;
}

fn userinfo_url(app: &TestApp, slug: &str) -> String {
    format!("{}/userinfo", app.issuer(slug))
}

#[actix_web::test]
async fn replayed_code_is_invalid_grant_and_revokes_what_the_first_exchange_issued() {
    let (app, f) = setup("acme").await;
    let (_, code) = f.code(&app, "openid email", VERIFIER).await;
    let (status, first) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{first}");
    let access = text(&first, "access_token").to_owned();
    let ok = app
        .http
        .get(userinfo_url(&app, "acme"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    let (status, replay) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!((status, text(&replay, "error")), (400, "invalid_grant"));

    // Everything the first exchange issued is revoked: its refresh token and access token.
    let (status, body) = refresh(&app, &f, text(&first, "refresh_token"), None).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    let revoked = app
        .http
        .get(userinfo_url(&app, "acme"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 401);
    let challenge = revoked.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[actix_web::test]
async fn code_is_bound_to_the_pkce_verifier_redirect_uri_and_client() {
    let (app, f) = setup("acme").await;
    let (_, code) = f.code(&app, "openid", VERIFIER).await;
    let wrong_verifier = "z".repeat(43);
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "PKCE mismatch",
            vec![
                ("redirect_uri", &f.redirect_uri),
                ("code_verifier", &wrong_verifier),
            ],
        ),
        ("missing verifier", vec![("redirect_uri", &f.redirect_uri)]),
        (
            "wrong redirect_uri",
            vec![
                ("redirect_uri", "http://127.0.0.1:9/other"),
                ("code_verifier", VERIFIER),
            ],
        ),
        ("missing redirect_uri", vec![("code_verifier", VERIFIER)]),
    ];
    for (case, extra) in cases {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(extra);
        let (status, body) = token(&app, &f, &form).await;
        assert_eq!(
            (status, text(&body, "error")),
            (400, "invalid_grant"),
            "{case}: {body}"
        );
    }

    // Another client of the tenant, with the same redirect URI, cannot redeem it.
    let admin = app.admin_token().await;
    let (status, other) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/acme/clients",
            Some(json!({
                "name": "Other App",
                "grant_types": ["authorization_code"],
                "redirect_uris": [f.redirect_uri],
                "scopes": ["openid"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let resp = app
        .post_token(
            "acme",
            Some((text(&other, "client_id"), text(&other, "client_secret"))),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &f.redirect_uri),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_grant");

    // None of the refused attempts used the code up.
    let (status, body) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(text(&body, "token_type"), "Bearer");
    assert_eq!(text(&body, "scope"), "openid");
}

#[actix_web::test]
async fn expired_code_is_invalid_grant() {
    let (app, f) = setup("acme").await;
    patch_settings(&app, "acme", json!({"tokens": {"code_ttl_secs": 1}})).await;
    let (_, code) = f.code(&app, "openid", VERIFIER).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );
    assert!(
        text(&body, "error_description").contains("expired"),
        "{body}"
    );
}

#[actix_web::test]
async fn refresh_rotates_narrows_never_widens_and_reuse_revokes_the_family() {
    let (app, f) = setup("acme").await;
    let (_, code) = f.code(&app, "openid email offline_access", VERIFIER).await;
    let (_, first) = f.exchange(&app, &code, VERIFIER).await;
    let r1 = text(&first, "refresh_token").to_owned();

    let (status, narrowed) = refresh(&app, &f, &r1, Some("openid")).await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(text(&narrowed, "scope"), "openid");
    assert!(narrowed["id_token"].is_string());
    let r2 = text(&narrowed, "refresh_token").to_owned();
    assert_ne!(r1, r2);

    let (status, wider) = refresh(&app, &f, &r2, Some("openid profile")).await;
    assert_eq!(
        (status, text(&wider, "error")),
        (400, "invalid_scope"),
        "{wider}"
    );

    // r1 was rotated: using it again revokes the family, so r2 dies with it.
    let (status, reuse) = refresh(&app, &f, &r1, None).await;
    assert_eq!((status, text(&reuse, "error")), (400, "invalid_grant"));
    let (status, after) = refresh(&app, &f, &r2, None).await;
    assert_eq!((status, text(&after, "error")), (400, "invalid_grant"));
    let (status, garbage) = refresh(&app, &f, "not-a-token", None).await;
    assert_eq!((status, text(&garbage, "error")), (400, "invalid_grant"));
}

#[actix_web::test]
async fn grace_window_lets_a_concurrent_client_reuse_a_rotated_token_once() {
    let (app, f) = setup("acme").await;
    patch_settings(
        &app,
        "acme",
        json!({"tokens": {"rotation_grace_secs": 30, "rotation_grace_count": 1}}),
    )
    .await;
    let (_, code) = f.code(&app, "openid", VERIFIER).await;
    let (_, first) = f.exchange(&app, &code, VERIFIER).await;
    let r1 = text(&first, "refresh_token").to_owned();
    let (status, a) = refresh(&app, &f, &r1, None).await;
    assert_eq!(status, 200, "{a}");
    let (status, b) = refresh(&app, &f, &r1, None).await;
    assert_eq!(status, 200, "inside the grace window: {b}");
    assert_ne!(text(&a, "refresh_token"), text(&b, "refresh_token"));
    let (status, c) = refresh(&app, &f, &r1, None).await;
    assert_eq!(
        (status, text(&c, "error")),
        (400, "invalid_grant"),
        "allowance spent"
    );
    let (status, d) = refresh(&app, &f, text(&a, "refresh_token"), None).await;
    assert_eq!(
        (status, text(&d, "error")),
        (400, "invalid_grant"),
        "family revoked"
    );
}

#[actix_web::test]
async fn userinfo_takes_the_token_in_the_header_or_the_body_and_answers_rfc_6750_errors() {
    let (app, f) = setup("acme").await;
    let (_, code) = f.code(&app, "openid email", VERIFIER).await;
    let (_, tokens) = f.exchange(&app, &code, VERIFIER).await;
    let access = text(&tokens, "access_token").to_owned();
    let url = userinfo_url(&app, "acme");

    let resp = app
        .http
        .get(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let claims: Value = resp.json().await.unwrap();
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(
        claims.get("given_name").is_none(),
        "profile was not granted"
    );
    let sub = text(&claims, "sub").to_owned();

    let resp = app
        .http
        .post(&url)
        .form(&[("access_token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["sub"], sub.as_str());

    let both = app
        .http
        .post(&url)
        .bearer_auth(&access)
        .form(&[("access_token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(both).await, "invalid_request");

    // No token at all: a bare challenge (RFC 6750 §3.1).
    let none = app.http.get(&url).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    let challenge = none.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");

    for bad in ["garbage", tokens["id_token"].as_str().unwrap()] {
        let resp = app.http.get(&url).bearer_auth(bad).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let challenge = resp.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }

    // A client-credentials token names no user.
    let cc = app.create_client("acme", &["openid"]).await;
    let cc_token = app
        .client_credentials_token("acme", &cc, Some("openid"))
        .await;
    let resp = app
        .http
        .get(&url)
        .bearer_auth(&cc_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // A token of another tenant does not verify here.
    let g = sign_in_fixture(&app, "globex", true).await;
    let (_, code) = g.code(&app, "openid", VERIFIER).await;
    let (_, theirs) = g.exchange(&app, &code, VERIFIER).await;
    let resp = app
        .http
        .get(&url)
        .bearer_auth(text(&theirs, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[actix_web::test]
async fn userinfo_cors_admits_the_origins_of_the_tenants_clients_only() {
    let (app, f) = setup("acme").await;
    let (_, code) = f.code(&app, "openid", VERIFIER).await;
    let (_, tokens) = f.exchange(&app, &code, VERIFIER).await;
    let url = userinfo_url(&app, "acme");
    let client_origin = "http://127.0.0.1:9";

    let resp = app
        .http
        .get(&url)
        .header(ORIGIN, client_origin)
        .bearer_auth(text(&tokens, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], client_origin);
    assert_eq!(resp.headers()["vary"], "Origin");

    let resp = app
        .http
        .get(&url)
        .header(ORIGIN, "https://evil.example")
        .bearer_auth(text(&tokens, "access_token"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header(ORIGIN, client_origin)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(
        preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        client_origin
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("Authorization"), "{allowed}");
}
