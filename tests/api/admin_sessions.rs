//! Admin API and console: changing a client's grant types (validated as at registration,
//! effective at the token and authorization endpoints) and listing and ending one of a user's
//! SSO sessions, over HTTP and on the console's clients and users pages in Chromium.

use reqwest::Method;
use reqwest::cookie::CookieStore;
use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::browser::Browser;
use crate::console::press;
use crate::helpers::{TestApp, TestClient, spawn_app};
use crate::opaque::jwt_claims;

/// PATCHes client `client_id` of `tenant` with `body` as the operator.
async fn patch_client(app: &TestApp, tenant: &str, client_id: &str, body: Value) -> (u16, Value) {
    let token = app.admin_token().await;
    app.admin(
        &token,
        Method::PATCH,
        &format!("/tenants/{tenant}/clients/{client_id}"),
        Some(body),
    )
    .await
}

/// The audit events of `tenant` with this `action`, newest first.
async fn audit(app: &TestApp, tenant: &str, action: &str) -> Vec<Value> {
    let token = app.admin_token().await;
    app.admin_items(
        &token,
        &format!("/tenants/{tenant}/audit-events?action={action}"),
    )
    .await
}

#[actix_web::test]
async fn adding_grant_types_makes_them_work_at_the_token_endpoint() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "gt-add", true).await;
    let client = TestClient {
        id: sign.client_id.clone(),
        secret: sign.client_secret.clone(),
    };
    // RFC 6749 §5.2: a grant the client is not registered for is unauthorized_client.
    let resp = app
        .post_token(
            "gt-add",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "unauthorized_client");

    // Without refresh_token the code grant issues no refresh token.
    let (status, body) = patch_client(
        &app,
        "gt-add",
        &client.id,
        json!({"grant_types": ["authorization_code"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    let (_, code) = sign
        .code(
            &app,
            "openid",
            "v-one-0123456789-0123456789-0123456789-0123",
        )
        .await;
    let (status, tokens) = sign
        .exchange(&app, &code, "v-one-0123456789-0123456789-0123456789-0123")
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");

    let (status, body) = patch_client(
        &app,
        "gt-add",
        &client.id,
        json!({"grant_types": ["authorization_code", "refresh_token", "client_credentials"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(app.client_credentials_status("gt-add", &client).await, 200);
    let (_, code) = sign
        .code(
            &app,
            "openid",
            "v-two-0123456789-0123456789-0123456789-0123",
        )
        .await;
    let (status, tokens) = sign
        .exchange(&app, &code, "v-two-0123456789-0123456789-0123456789-0123")
        .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let resp = app
        .post_token(
            "gt-add",
            Some((&client.id, &client.secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);

    // Audited like other client updates, naming the changed field and the new grants.
    let events = audit(&app, "gt-add", "client.updated").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["details"]["fields"], json!(["grant_types"]));
    assert_eq!(
        events[0]["details"]["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
}

#[actix_web::test]
async fn removing_the_code_grant_makes_authorize_refuse_the_client() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "gt-remove", true).await;
    let (status, body) = patch_client(
        &app,
        "gt-remove",
        &sign.client_id,
        json!({"grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // RFC 6749 §4.1.2.1: the client and redirect URI are valid, so the error is redirected.
    let url = sign.authorize_url(
        &app,
        "openid",
        "v-0123456789-0123456789-0123456789-0123456",
        &[],
    );
    let step = Agent::new().get(&url).await;
    let location = step.location();
    assert!(location.starts_with(&sign.redirect_uri), "{location}");
    assert_eq!(
        param(location, "error").as_deref(),
        Some("unauthorized_client")
    );
    let client = TestClient {
        id: sign.client_id.clone(),
        secret: sign.client_secret.clone(),
    };
    assert_eq!(
        app.client_credentials_status("gt-remove", &client).await,
        200
    );
}

#[actix_web::test]
async fn invalid_grant_type_combinations_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "gt-bad", false).await;
    let cc = app.create_client("gt-bad", &[]).await;
    let token = app.admin_token().await;
    let (status, public) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/gt-bad/clients",
            Some(json!({
                "name": "Phone app",
                "public": true,
                "redirect_uris": ["http://127.0.0.1:9/app"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{public}");
    let public_id = public["client_id"].as_str().unwrap();
    let cases: [(&str, Value, &str); 6] = [
        (
            &sign.client_id,
            json!(["client_credentials", "refresh_token"]),
            "refresh_token grant needs a grant that issues refresh tokens",
        ),
        (
            &sign.client_id,
            json!(["implicit"]),
            "implicit grant needs the authorization_code grant",
        ),
        (&sign.client_id, json!([]), "at least one grant"),
        (
            public_id,
            json!(["authorization_code", "client_credentials"]),
            "public client cannot use the client_credentials grant",
        ),
        (
            &cc.id,
            json!(["authorization_code"]),
            "needs at least one redirect URI",
        ),
        (&sign.client_id, json!(["no_such_grant"]), "grant"),
    ];
    for (client_id, grants, why) in cases {
        let (status, body) =
            patch_client(&app, "gt-bad", client_id, json!({"grant_types": grants})).await;
        assert_eq!(status, 400, "{grants}: {body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(why), "{grants}: {description}");
    }
    // Nothing changed.
    let (_, body) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/gt-bad/clients/{}", sign.client_id),
            None,
        )
        .await;
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
}

#[actix_web::test]
async fn a_tenant_admin_cannot_touch_another_tenants_clients_or_sessions() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "gt-home", true).await;
    app.create_tenant("gt-other", "ES256").await;
    let operator = app.admin_token().await;
    let other_admin = app.tenant_admin_token(&operator, "gt-other").await;
    let (_browser, sid, _) = signed_in(&app, &sign, "alice").await;
    let requests = [
        (
            Method::PATCH,
            format!("/tenants/gt-home/clients/{}", sign.client_id),
            Some(json!({"grant_types": ["authorization_code", "client_credentials"]})),
        ),
        (
            Method::GET,
            "/tenants/gt-home/users/alice/sessions".to_owned(),
            None,
        ),
        (
            Method::DELETE,
            format!("/tenants/gt-home/users/alice/sessions/{sid}"),
            None,
        ),
    ];
    for (method, path, body) in requests {
        let (status, answer) = app.admin(&other_admin, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    // The home tenant's own admin may.
    let home_admin = app.tenant_admin_token(&operator, "gt-home").await;
    let items = app
        .admin_items(&home_admin, "/tenants/gt-home/users/alice/sessions")
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], sid.as_str());
}

/// Signs `username` of `sign`'s tenant in with a fresh browser; returns the browser and the
/// `sid` of the session (from the ID token, OpenID Connect Front-Channel Logout 1.0 §3) and
/// the refresh token issued in it.
async fn signed_in(app: &TestApp, sign: &SignIn, username: &str) -> (Agent, String, String) {
    let verifier = format!("verifier-{username}-0123456789-0123456789-0123456789");
    let agent = Agent::new();
    let step = agent
        .get(&sign.authorize_url(app, "openid", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let step = agent.login(page, username, &sign.password).await;
    let location = step.location();
    let code = param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let (status, tokens) = sign.exchange(app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .expect("a sid claim")
        .to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (agent, sid, refresh)
}

#[actix_web::test]
async fn one_session_of_a_user_can_be_listed_and_ended() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "sess", true).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/sess/users",
            Some(json!({"username": "bob", "password": sign.password})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (first, first_sid, first_refresh) = signed_in(&app, &sign, "alice").await;
    let (second, second_sid, second_refresh) = signed_in(&app, &sign, "alice").await;
    let (_bob, bob_sid, _) = signed_in(&app, &sign, "bob").await;

    // Listed newest first, with public facts only: no cookie value, no hash of it.
    let (status, listing) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/sess/users/alice/sessions",
            None,
        )
        .await;
    assert_eq!(status, 200, "{listing}");
    let items = listing["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listing}");
    let ids: Vec<&str> = items.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&first_sid.as_str()) && ids.contains(&second_sid.as_str()));
    assert!(items[0]["created_at"].as_i64() >= items[1]["created_at"].as_i64());
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "acr",
                "amr",
                "authenticated_at",
                "created_at",
                "expires_at",
                "id",
                "last_seen_at"
            ]
        );
        assert!(item["expires_at"].as_i64() > item["created_at"].as_i64());
        assert_eq!(item["amr"], json!(["pwd"]), "{item}");
    }
    let text = listing.to_string();
    let issuer: reqwest::Url = app.issuer("sess").parse().unwrap();
    for agent in [&first, &second] {
        let cookies = agent.jar.cookies(&issuer).expect("session cookies");
        for pair in cookies.to_str().unwrap().split("; ") {
            let value = pair.split_once('=').map_or(pair, |(_, v)| v);
            assert!(
                value.len() < 16 || !text.contains(value),
                "a cookie is listed"
            );
        }
    }

    // Ending the first session signs out that browser only and revokes its tokens.
    let (status, body) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/sess/users/alice/sessions/{first_sid}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let verifier = "after-0123456789-0123456789-0123456789-012345";
    let step = first
        .get(&sign.authorize_url(&app, "openid", verifier, &[]))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(page.contains("name=\"password\""), "not the login form");
    match second
        .get(&sign.authorize_url(&app, "openid", verifier, &[]))
        .await
    {
        Step::Redirect(location) => assert!(param(&location, "code").is_some(), "{location}"),
        Step::Page(status, _) => panic!("the other session ended too ({status})"),
    }
    // Back-Channel Logout 1.0 §2.7 / logout: tokens born in the session without
    // offline_access are revoked; the other session's stay.
    for (refresh, expected) in [(&first_refresh, 400), (&second_refresh, 200)] {
        let resp = app
            .post_token(
                "sess",
                Some((&sign.client_id, &sign.client_secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(resp.status().as_u16(), expected);
    }
    let items = app
        .admin_items(&token, "/tenants/sess/users/alice/sessions")
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], second_sid.as_str());

    // Audited.
    let events = audit(&app, "sess", "user.session_ended").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["session"], first_sid.as_str());

    // An ended, unknown or other user's session is 404 and nothing ends.
    for sid in [first_sid.as_str(), "no-such-session", bob_sid.as_str()] {
        let (status, body) = app
            .admin(
                &token,
                Method::DELETE,
                &format!("/tenants/sess/users/alice/sessions/{sid}"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{sid}: {body}");
        assert_eq!(body["error"], "not_found", "{body}");
    }
    let bob = app
        .admin_items(&token, "/tenants/sess/users/bob/sessions")
        .await;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["id"], bob_sid.as_str());
    let (status, _) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/sess/users/nobody/sessions",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// Opens the operators' console at `path` holding `token` (stored where the sign-in callback
/// would put it) and waits until the page script has started.
async fn open_console(browser: &Browser, app: &TestApp, token: &str, path: &str) {
    // Any page of the origin gives access to its session storage.
    browser
        .goto(&format!("{}/console/assets/console.css", app.address))
        .await;
    let stored = json!({"access_token": token, "id_token": "", "expires_at": 4_000_000_000u64});
    let value = json!(stored.to_string());
    browser
        .eval(&format!(
            "sessionStorage.setItem('tessera-console:system', {value}); true"
        ))
        .await;
    browser.goto(&format!("{}{path}", app.address)).await;
    browser
        .wait_until("typeof Console === 'object'", "the console script")
        .await;
}

#[actix_web::test]
async fn the_console_ends_one_session_and_edits_grant_types() {
    let app = spawn_app().await;
    let sign = sign_in_fixture(&app, "sess-ui", true).await;
    let (_first, first_sid, _) = signed_in(&app, &sign, "alice").await;
    let (_second, second_sid, _) = signed_in(&app, &sign, "alice").await;
    let token = app.admin_token().await;
    let browser = Browser::launch().await;

    // The user's details list both sessions, each with an End button.
    open_console(&browser, &app, &token, "/console/tenants/sess-ui/users").await;
    browser
        .wait_until(
            "document.querySelector('#users tr[data-username=alice]') !== null",
            "alice is listed",
        )
        .await;
    press(
        &browser,
        "#users tr[data-username=alice] [data-action=details]",
    )
    .await;
    browser
        .wait_until(
            "document.querySelectorAll('#user-sessions [data-end-session][data-write]').length === 2",
            "both sessions are listed",
        )
        .await;
    browser.screenshot("console-user-sessions").await;
    press(
        &browser,
        &format!("#user-sessions [data-end-session=\"{first_sid}\"]"),
    )
    .await;
    let second = json!(format!(
        "#user-sessions [data-end-session=\"{second_sid}\"]"
    ));
    browser
        .wait_until(
            &format!(
                "document.querySelectorAll('#user-sessions [data-end-session]').length === 1 \
                 && document.querySelector({second}) !== null"
            ),
            "the ended session is gone from the table",
        )
        .await;
    let items = app
        .admin_items(&token, "/tenants/sess-ui/users/alice/sessions")
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], second_sid.as_str());

    // The edit form shows the client's grants as checkboxes and saves a change to them.
    open_console(&browser, &app, &token, "/console/tenants/sess-ui/clients").await;
    let row = format!("#clients tr[data-client-id=\"{}\"]", sign.client_id);
    let row_js = json!(row);
    browser
        .wait_until(
            &format!("document.querySelector({row_js}) !== null"),
            "the client is listed",
        )
        .await;
    press(&browser, &format!("{row} [data-action=edit]")).await;
    browser
        .wait_until(
            "!document.querySelector('#client-edit').hidden",
            "the edit form",
        )
        .await;
    let checked = browser
        .eval(
            "[...document.querySelectorAll('#edit-client [name=grant_types]')]\
             .filter((b) => b.checked).map((b) => b.value)",
        )
        .await;
    assert_eq!(checked, json!(["authorization_code", "refresh_token"]));
    // A refused combination is explained and changes nothing.
    browser.set_checked("#edit-grant-code", false).await;
    press(&browser, "#edit-client [type=submit]").await;
    browser
        .wait_until(
            "document.getElementById('notice').textContent.includes('refresh_token grant needs')",
            "the refusal is shown",
        )
        .await;
    browser.set_checked("#edit-grant-code", true).await;
    browser.set_checked("#edit-grant-cc", true).await;
    press(&browser, "#edit-client [type=submit]").await;
    browser
        .wait_until(
            "document.querySelector('#client-edit').hidden",
            "the edited client is saved",
        )
        .await;
    let (status, body) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/sess-ui/clients/{}", sign.client_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    let client = TestClient {
        id: sign.client_id.clone(),
        secret: sign.client_secret.clone(),
    };
    assert_eq!(app.client_credentials_status("sess-ui", &client).await, 200);
}
