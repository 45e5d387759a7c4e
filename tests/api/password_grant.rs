//! The resource owner password credentials grant (RFC 6749 §4.3): off unless a client is
//! registered with it, the sign-in page's throttling at the token endpoint, tokens like a
//! browser sign-in's (`amr` `pwd`, no `sid`), a consent grant the user can revoke, and the
//! negative cases.

use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};
use crate::opaque::jwt_claims;

/// A tenant with the browser fixture (user `alice`, the code-flow "Photo App" that is not
/// allowed the password grant) and a confidential "Legacy App" that is; its id and secret.
async fn setup(app: &TestApp, slug: &str) -> (SignIn, (String, String)) {
    let fixture = sign_in_fixture(app, slug, false).await;
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(json!({
                "name": "Legacy App",
                "grant_types": ["password", "refresh_token"],
                "scopes": ["openid", "profile", "email", "offline_access"],
            })),
        )
        .await;
    assert_eq!(status, 201, "legacy client: {body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    (fixture, (id, secret))
}

/// A password grant request; the status and the JSON body.
async fn password_grant(
    app: &TestApp,
    slug: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut all = vec![("grant_type", "password")];
    all.extend_from_slice(form);
    let resp = app.post_token(slug, Some(client), &all).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[actix_web::test]
async fn an_allowed_client_gets_tokens_for_the_users_password() {
    let app = spawn_app().await;
    let slug = "ropc";
    let (_, (id, secret)) = setup(&app, slug).await;
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[
            ("username", "Alice"),
            ("password", "correct horse battery staple"),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid email");
    assert!(body["refresh_token"].is_string(), "{body}");

    let id_token = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], json!([id]));
    assert_eq!(id_token["amr"], json!(["pwd"]));
    assert_eq!(id_token["acr"], "1");
    assert!(id_token.get("nonce").is_none() && id_token.get("sid").is_none());

    // The access token works at userinfo, releasing what the scopes allow.
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.issuer(slug)))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], id_token["sub"]);
    assert_eq!(userinfo["email"], "alice@example.com");
    assert!(userinfo.get("given_name").is_none(), "no profile scope");

    // The refresh token rotates like any other.
    let resp = app
        .post_token(
            slug,
            Some((&id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);

    // With no scope asked, every scope the client is allowed.
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[
            ("username", "alice"),
            ("password", "correct horse battery staple"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid profile email offline_access");
}

#[actix_web::test]
async fn the_grant_is_off_unless_the_client_is_registered_for_it() {
    let app = spawn_app().await;
    let slug = "ropc-off";
    let (fixture, _) = setup(&app, slug).await;
    let (status, body) = password_grant(
        &app,
        slug,
        (&fixture.client_id, &fixture.client_secret),
        &[
            ("username", "alice"),
            ("password", "correct horse battery staple"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body.get("access_token").is_none());
}

#[actix_web::test]
async fn wrong_credentials_are_invalid_grant_and_repeated_guessing_is_throttled() {
    let app = spawn_app().await;
    let slug = "ropc-guess";
    let (_, (id, secret)) = setup(&app, slug).await;
    let wrong_password = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[("username", "alice"), ("password", "not the password")],
    )
    .await;
    let unknown_user = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[("username", "mallory"), ("password", "not the password")],
    )
    .await;
    for (status, body) in [&wrong_password, &unknown_user] {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant");
    }
    assert_eq!(
        wrong_password.1["error_description"], unknown_user.1["error_description"],
        "an unknown username looks like a wrong password"
    );

    // Three free failures for the account, then a delay: even the right password waits.
    for _ in 0..2 {
        let (status, _) = password_grant(
            &app,
            slug,
            (&id, &secret),
            &[("username", "alice"), ("password", "still wrong")],
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[
            ("username", "alice"),
            ("password", "correct horse battery staple"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("Too many failed attempts")),
        "{body}"
    );
}

#[actix_web::test]
async fn malformed_requests_and_scopes_beyond_the_client_are_refused() {
    let app = spawn_app().await;
    let slug = "ropc-bad";
    let (_, (id, secret)) = setup(&app, slug).await;
    let password = ("password", "correct horse battery staple");
    let (status, body) = password_grant(&app, slug, (&id, &secret), &[password]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = password_grant(&app, slug, (&id, &secret), &[("username", "alice")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[("username", "alice"), password, ("scope", "openid admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let long = "x".repeat(5000);
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, &secret),
        &[("username", &long), ("password", &long)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A wrong client secret never reaches the password check.
    let (status, body) = password_grant(
        &app,
        slug,
        (&id, "wrong secret"),
        &[("username", "alice"), password],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[actix_web::test]
async fn the_user_sees_the_grant_and_revoking_it_or_disabling_the_user_ends_it() {
    let app = spawn_app().await;
    let slug = "ropc-revoke";
    let (_, (id, secret)) = setup(&app, slug).await;
    let login = [
        ("username", "alice"),
        ("password", "correct horse battery staple"),
        ("scope", "openid offline_access"),
    ];
    let (status, first) = password_grant(&app, slug, (&id, &secret), &login).await;
    assert_eq!(status, 200, "{first}");
    let admin = app.admin_token().await;
    let (status, grants) = app
        .admin(
            &admin,
            Method::GET,
            &format!("/tenants/{slug}/users/alice/grants"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{grants}");
    let items = grants["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{grants}");
    assert_eq!(items[0]["client_id"], id.as_str());
    assert_eq!(items[0]["scopes"], json!(["openid", "offline_access"]));

    let (status, _) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!("/tenants/{slug}/users/alice/grants/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let resp = app
        .post_token(
            slug,
            Some((&id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        resp.status(),
        400,
        "the revoked grant's refresh token is dead"
    );

    // A disabled user gets nothing, even with the right password.
    let (status, _) = app
        .admin(
            &admin,
            Method::POST,
            &format!("/tenants/{slug}/users/alice/disable"),
            None,
        )
        .await;
    assert!(status == 200 || status == 204, "disable: {status}");
    let (status, body) = password_grant(&app, slug, (&id, &secret), &login).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[actix_web::test]
async fn discovery_lists_the_grant() {
    let app = spawn_app().await;
    app.create_tenant("ropc-disco", "ES256").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("ropc-disco")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("password")),
        "{doc}"
    );
}
