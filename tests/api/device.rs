//! The device authorization grant (RFC 8628) end to end: a device asks for codes, polls the
//! token endpoint (`authorization_pending`, `slow_down`), a cookie-keeping browser types the
//! code, signs in, compares the code and consents to part of the scopes, and the device's next
//! poll gets exactly those; denial, expiry, wrong and throttled user codes, tenant and client
//! binding, single use, clients without the grant, and discovery.

use reqwest::header::CACHE_CONTROL;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, hidden_fields, sign_in_fixture};
use crate::dpop::DpopKey;
use crate::helpers::{PROPAGATION, TestApp, spawn_app};
use crate::opaque::jwt_claims;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A tenant with the browser fixture (user `alice`, the confidential "Photo App" code client)
/// plus a public device client "Living Room TV" allowed the device and refresh grants, polling
/// every second.
async fn setup(app: &TestApp, slug: &str) -> (SignIn, String) {
    let fixture = sign_in_fixture(app, slug, false).await;
    let tv = device_client(app, slug, "Living Room TV").await;
    patch_settings(
        app,
        slug,
        json!({"tokens": {"device_poll_interval_secs": 1}}),
    )
    .await;
    (fixture, tv)
}

/// Registers a public client allowed the device and refresh grants; its client_id.
async fn device_client(app: &TestApp, slug: &str, name: &str) -> String {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(json!({
                "name": name,
                "public": true,
                "grant_types": [DEVICE_GRANT, "refresh_token"],
                "scopes": ["openid", "profile", "email", "offline_access"],
            })),
        )
        .await;
    assert_eq!(status, 201, "device client: {body}");
    assert!(body["client_secret"].is_null(), "a public client: {body}");
    body["client_id"].as_str().unwrap().to_owned()
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

/// `POST /device_authorization` as a public client; status and JSON body.
async fn authorize(app: &TestApp, slug: &str, client_id: &str, scope: &str) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer(slug)))
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status == 200 {
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    }
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// One poll of the token endpoint by a public client; status and JSON body.
async fn poll(app: &TestApp, slug: &str, client_id: &str, device_code: &str) -> (u16, Value) {
    let resp = app
        .post_token(
            slug,
            None,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

fn error(body: &Value) -> &str {
    text(body, "error")
}

/// Opens the `verification_uri_complete` in a fresh browser, submits the prefilled code and
/// signs in; returns the browser and the confirmation page.
async fn open_and_sign_in(f: &SignIn, codes: &Value) -> (Agent, String) {
    let agent = Agent::new();
    let step = agent.get(text(codes, "verification_uri_complete")).await;
    let (status, form) = step.page();
    assert_eq!(status, 200, "{form}");
    let canonical = text(codes, "user_code").replace('-', "");
    assert!(
        form.contains(&format!("value=\"{canonical}\"")),
        "the code is prefilled: {form}"
    );
    // The browser submits the prefilled text field as it is.
    let step = agent.submit(form, &[("user_code", &canonical)]).await;
    let (status, login) = step.page();
    assert_eq!(status, 200, "{login}");
    let step = agent.login(login, &f.username, &f.password).await;
    let (status, confirm) = step.page();
    assert_eq!(status, 200, "{confirm}");
    (agent, confirm.to_owned())
}

/// Verifies an ID token against the tenant's JWKS (ES256) for `client_id`; its claims.
async fn verify_id_token(app: &TestApp, slug: &str, client_id: &str, jwt: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).expect("JWS header");
    let kid = header.kid.expect("a kid");
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(format!("{}/jwks", app.issuer(slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[app.issuer(slug)]);
    validation.set_audience(&[client_id]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .expect("the ID token verifies")
        .claims
}

#[actix_web::test]
async fn device_gets_only_the_scopes_the_user_granted_after_sign_in_and_confirmation() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    let (status, codes) = authorize(&app, "acme", &tv, "openid profile email").await;
    assert_eq!(status, 200, "{codes}");
    // RFC 8628 §3.2 and §6.1.
    assert!(text(&codes, "device_code").len() >= 43, "{codes}");
    let user_code = text(&codes, "user_code").to_owned();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .bytes()
            .filter(|b| *b != b'-')
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)),
        "{user_code}"
    );
    let verification_uri = format!("{}/device", app.issuer("acme"));
    assert_eq!(text(&codes, "verification_uri"), verification_uri);
    assert_eq!(
        text(&codes, "verification_uri_complete"),
        format!(
            "{verification_uri}?user_code={}",
            user_code.replace('-', "")
        )
    );
    assert_eq!(codes["expires_in"], 600);
    assert_eq!(codes["interval"], 1);
    let device_code = text(&codes, "device_code").to_owned();

    // RFC 8628 §3.5: pending, then too fast.
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "authorization_pending"));
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "slow_down"), "{body}");
    // The interval grew by 5 seconds, for this and every later poll.
    assert!(
        text(&body, "error_description").contains("at least 6 seconds"),
        "{body}"
    );

    // The user types the code (prefilled by the complete URI), signs in and sees the code, the
    // device's name and the requested scopes.
    let (agent, confirm) = open_and_sign_in(&f, &codes).await;
    assert!(
        confirm.contains(&user_code),
        "the code to compare: {confirm}"
    );
    assert!(confirm.contains("Living Room TV"), "{confirm}");
    for scope in ["openid", "profile", "email"] {
        assert!(
            confirm.contains(&format!("value=\"{scope}\"")),
            "{scope}: {confirm}"
        );
    }
    // Partial consent: profile yes, email no.
    let step = agent.consent(&confirm, &["profile"], true).await;
    let (status, done) = step.page();
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Device connected"), "{done}");

    // Polled again once the grown interval (1 + 5 seconds) has passed.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(6200)).await;
    let (status, tokens) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(text(&tokens, "token_type"), "Bearer");
    assert_eq!(text(&tokens, "scope"), "openid profile");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let claims = verify_id_token(&app, "acme", &tv, text(&tokens, "id_token")).await;
    assert!(
        claims["sub"].is_string() && claims["sid"].is_string(),
        "{claims}"
    );
    assert_eq!(claims["azp"], tv.as_str());
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["auth_time"].is_i64(), "{claims}");

    // Userinfo releases the granted claims only.
    let info: Value = app
        .http
        .get(format!("{}/userinfo", app.issuer("acme")))
        .bearer_auth(text(&tokens, "access_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["given_name"], "Alice", "profile was granted: {info}");
    assert!(info["email"].is_null(), "email was not granted: {info}");

    // The code is single-use, and the refresh token works.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(6200)).await;
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    let refresh = app
        .post_token(
            "acme",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", text(&tokens, "refresh_token")),
                ("client_id", &tv),
            ],
        )
        .await;
    assert_eq!(refresh.status().as_u16(), 200);
}

#[actix_web::test]
async fn denied_device_authorization_polls_access_denied() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    let (_, codes) = authorize(&app, "acme", &tv, "openid profile").await;
    let device_code = text(&codes, "device_code").to_owned();
    let (agent, confirm) = open_and_sign_in(&f, &codes).await;

    // The confirmation form sent to the authorization endpoint's consent handler issues no
    // code and approves nothing.
    let mut fields = hidden_fields(&confirm);
    fields.push(("decision".into(), "allow".into()));
    let resp = agent
        .http
        .post(format!("{}/consent", app.issuer("acme")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400, "an error page, not a redirect");
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "authorization_pending"));

    let step = agent.consent(&confirm, &["profile"], false).await;
    let (status, done) = step.page();
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Device not connected"), "{done}");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "access_denied"), "{body}");

    // A decided code cannot be decided again, not even by resubmitting the form.
    let step = agent.consent(&confirm, &["profile"], true).await;
    let (status, again) = step.page();
    assert_eq!(status, 400, "{again}");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "access_denied"), "{body}");
}

#[actix_web::test]
async fn expired_device_code_polls_expired_token_and_its_user_code_is_refused() {
    let app = spawn_app().await;
    let (_, tv) = setup(&app, "acme").await;
    patch_settings(&app, "acme", json!({"tokens": {"device_code_ttl_secs": 1}})).await;
    let (status, codes) = authorize(&app, "acme", &tv, "openid").await;
    assert_eq!(status, 200, "{codes}");
    assert_eq!(codes["expires_in"], 1);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = poll(&app, "acme", &tv, text(&codes, "device_code")).await;
    assert_eq!((status, error(&body)), (400, "expired_token"), "{body}");

    let agent = Agent::new();
    let step = agent.get(text(&codes, "verification_uri_complete")).await;
    let (_, form) = step.page();
    let step = agent
        .submit(form, &[("user_code", text(&codes, "user_code"))])
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("not valid or has expired"), "{page}");
    assert!(!page.contains("name=\"password\""), "no sign-in: {page}");
}

#[actix_web::test]
async fn wrong_user_codes_are_refused_and_repeated_guessing_is_throttled() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    patch_settings(
        &app,
        "acme",
        json!({"lockout": {"free_attempts": 2, "lock_after": 5, "per_address_factor": 1}}),
    )
    .await;
    let (_, codes) = authorize(&app, "acme", &tv, "openid").await;
    let agent = Agent::new();
    let step = agent.get(&format!("{}/device", app.issuer("acme"))).await;
    let (status, form) = step.page();
    assert_eq!(status, 200);
    let form = form.to_owned();
    // Case, dashes and spaces do not matter, but the code must be one that was issued.
    for wrong in ["BBBB-BBBB", "not a code"] {
        let step = agent.submit(&form, &[("user_code", wrong)]).await;
        let (status, page) = step.page();
        assert_eq!(status, 400, "{wrong}: {page}");
        assert!(page.contains("not valid or has expired"), "{page}");
    }
    // After the free attempts the address must wait: even the right code is refused for now.
    let right = text(&codes, "user_code").to_lowercase().replace('-', " ");
    let step = agent.submit(&form, &[("user_code", &right)]).await;
    let (status, page) = step.page();
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("Too many"), "{page}");

    // Once the delay has passed, the right code (typed in lower case with a space) works.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2200)).await;
    let step = agent.submit(&form, &[("user_code", &right)]).await;
    let (status, login) = step.page();
    assert_eq!(status, 200, "{login}");
    let step = agent.login(login, &f.username, &f.password).await;
    let (_, confirm) = step.page();
    assert!(confirm.contains(text(&codes, "user_code")), "{confirm}");

    // A form without the CSRF token is refused before any code is looked at.
    let resp = agent
        .http
        .post(format!("{}/device", app.issuer("acme")))
        .form(&[("user_code", right.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[actix_web::test]
async fn device_codes_are_bound_to_their_tenant_and_client_and_used_once() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    let (_, other_tv) = setup(&app, "globex").await;
    let same_tenant_other = device_client(&app, "acme", "Kitchen Display").await;
    let (_, codes) = authorize(&app, "acme", &tv, "openid").await;
    let device_code = text(&codes, "device_code").to_owned();

    // Another tenant knows neither code.
    let (status, body) = poll(&app, "globex", &other_tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    let agent = Agent::new();
    let step = agent
        .get(&format!(
            "{}/device?user_code={}",
            app.issuer("globex"),
            text(&codes, "user_code")
        ))
        .await;
    let (_, form) = step.page();
    let step = agent
        .submit(form, &[("user_code", text(&codes, "user_code"))])
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("not valid or has expired"), "{page}");

    // Another client of the same tenant may not poll with it (RFC 8628 §3.4).
    let (status, body) = poll(&app, "acme", &same_tenant_other, &device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");

    // The right client gets tokens once.
    let (agent, confirm) = open_and_sign_in(&f, &codes).await;
    let step = agent.consent(&confirm, &[], true).await;
    assert_eq!(step.page().0, 200);
    let (status, tokens) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(text(&tokens, "scope"), "openid");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = poll(&app, "acme", &tv, &device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    let (status, body) = poll(&app, "acme", &tv, "not-a-device-code").await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");

    // A browser already signed in at the tenant goes straight to the confirmation (SSO).
    let (_, second) = authorize(&app, "acme", &tv, "openid").await;
    let step = agent.get(text(&second, "verification_uri_complete")).await;
    let (_, form) = step.page();
    let step = agent
        .submit(form, &[("user_code", text(&second, "user_code"))])
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"decision\""), "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
}

#[actix_web::test]
async fn clients_without_the_grant_or_with_bad_requests_are_refused() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    // The code-flow client is not allowed the device grant, at either endpoint.
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("acme")))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "unauthorized_client");
    let resp = app
        .post_token(
            "acme",
            Some((&f.client_id, &f.client_secret)),
            &[("grant_type", DEVICE_GRANT), ("device_code", "x")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "unauthorized_client");

    // Client authentication is that of the token endpoint.
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("acme")))
        .basic_auth(&f.client_id, Some("wrong secret"))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_client");
    let (status, body) = authorize(&app, "acme", "no-such-client", "openid").await;
    assert_eq!((status, error(&body)), (401, "invalid_client"), "{body}");

    // Scopes as at the authorization endpoint.
    let (status, body) = authorize(&app, "acme", &tv, "openid admin").await;
    assert_eq!((status, error(&body)), (400, "invalid_scope"), "{body}");
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("acme")))
        .form(&[("client_id", tv.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_scope");
    let resp = app
        .http
        .post(format!("{}/device_authorization", app.issuer("acme")))
        .form(&[
            ("client_id", tv.as_str()),
            ("scope", "openid"),
            ("resource", "https://api.unknown.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_target");

    // A poll without a device code.
    let resp = app
        .post_token(
            "acme",
            None,
            &[("grant_type", DEVICE_GRANT), ("client_id", &tv)],
        )
        .await;
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_request");
}

#[actix_web::test]
async fn a_dpop_proof_at_the_poll_binds_the_device_tokens_to_the_key() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "acme").await;
    let (_, codes) = authorize(&app, "acme", &tv, "openid offline_access").await;
    let (agent, confirm) = open_and_sign_in(&f, &codes).await;
    let step = agent.consent(&confirm, &["offline_access"], true).await;
    assert_eq!(step.page().0, 200);

    let key = DpopKey::generate();
    let token_url = format!("{}/token", app.issuer("acme"));
    let resp = app
        .http
        .post(&token_url)
        .header("DPoP", key.proof("POST", &token_url, json!({})))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", text(&codes, "device_code")),
            ("client_id", &tv),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(text(&tokens, "token_type"), "DPoP", "{tokens}");
    assert_eq!(text(&tokens, "scope"), "openid offline_access");
    let access = jwt_claims(text(&tokens, "access_token"));
    assert_eq!(access["cnf"]["jkt"], key.jkt.as_str(), "{access}");

    // RFC 9449 §5: the public client's refresh token needs a proof of the same key.
    let refresh = text(&tokens, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", tv.as_str()),
    ];
    let resp = app.post_token("acme", None, &form).await;
    assert_eq!(resp.status().as_u16(), 400);
    let resp = app
        .http
        .post(&token_url)
        .header("DPoP", key.proof("POST", &token_url, json!({})))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn discovery_advertises_the_device_authorization_endpoint_and_grant() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let issuer = app.issuer("acme");
    for url in [
        format!("{issuer}/.well-known/openid-configuration"),
        format!(
            "{}/.well-known/oauth-authorization-server/t/acme",
            app.address
        ),
    ] {
        let meta: Value = app
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            meta["device_authorization_endpoint"],
            format!("{issuer}/device_authorization"),
            "{url}"
        );
        let grants = meta["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!(DEVICE_GRANT)), "{url}: {meta}");
    }
}

#[actix_web::test]
async fn the_cli_registers_device_clients_by_the_short_grant_name() {
    let app = spawn_app().await;
    app.create_tenant("acme", "ES256").await;
    let (ok, client) = app.cli(&[
        "client",
        "create",
        "acme",
        "--name",
        "Set-top box",
        "--public",
        "--grant",
        "device_code",
        "--scope",
        "openid",
    ]);
    assert!(ok, "{client}");
    assert_eq!(client["grant_types"], json!([DEVICE_GRANT]), "{client}");
}

#[actix_web::test]
async fn a_user_connects_a_device_in_chromium_and_the_device_gets_its_tokens() {
    let app = spawn_app().await;
    let (f, tv) = setup(&app, "device-browser").await;
    let (status, codes) = authorize(&app, "device-browser", &tv, "openid profile").await;
    assert_eq!(status, 200, "{codes}");
    let device_code = text(&codes, "device_code").to_owned();
    let user_code = text(&codes, "user_code").to_owned();

    // The user types the code as shown on the TV, lower case, into the device page.
    let browser = crate::browser::Browser::launch().await;
    browser.goto(text(&codes, "verification_uri")).await;
    assert_eq!(browser.status().await, 200);
    assert!(browser.text().await.contains("Connect a device"));
    browser.screenshot("device_code").await;
    browser
        .fill("input[name=user_code]", &user_code.to_lowercase())
        .await;
    browser.click("form button[type=submit]").await;

    // Not signed in: the login page, then the confirmation page with the code to compare.
    assert!(browser.exists("input[name=password]").await);
    browser.fill("input[name=username]", &f.username).await;
    browser.fill("input[name=password]", &f.password).await;
    browser.click("form button[type=submit]").await;
    let text_now = browser.text().await;
    assert!(text_now.contains(&user_code), "{text_now}");
    assert!(text_now.contains("Living Room TV"), "{text_now}");
    browser.screenshot("device_confirm").await;
    browser.click("button[name=decision][value=allow]").await;
    let done = browser.text().await;
    assert!(done.contains("Device connected"), "{done}");
    browser.screenshot("device_done").await;

    // The device's next poll gets tokens for the user.
    let tokens = loop {
        let (status, body) = poll(&app, "device-browser", &tv, &device_code).await;
        match (status, body["error"].as_str()) {
            (200, _) => break body,
            (400, Some("authorization_pending" | "slow_down")) => {
                actix_web::rt::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            _ => panic!("{status}: {body}"),
        }
    };
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert_eq!(
        jwt_claims(text(&tokens, "id_token"))["aud"],
        json!([tv.as_str()])
    );
}
