//! The revocation endpoint (RFC 7009): access tokens by value and by reference, refresh tokens
//! taking their whole grant with them, tokens of other clients refused and left alone, unknown
//! tokens answered 200, client authentication (public clients by id), and the audit trail.

use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestClient, spawn_app};
use crate::introspection::{
    define_read, fixture_client, is_active, make_opaque, post_form, public_client, refresh,
    service_client, service_token, signed_in, tenant,
};

/// Revokes `token` as `client` with `extra` parameters; the response.
async fn revoke(
    app: &TestApp,
    slug: &str,
    client: &TestClient,
    token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("token", token)];
    form.extend_from_slice(extra);
    post_form(
        app,
        slug,
        "revoke",
        Some((&client.id, &client.secret)),
        &form,
    )
    .await
}

/// Revokes `token` as `client`; asserts the RFC 7009 §2.2 answer: 200, empty, not cached.
async fn revoked(app: &TestApp, slug: &str, client: &TestClient, token: &str) {
    let resp = revoke(app, slug, client, token, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(resp.text().await.unwrap(), "");
}

/// The `token.revoked` audit events of `client`: `(actor, details, has user)`.
async fn audit_events(app: &TestApp, client: &str) -> Vec<(String, Value, bool)> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT actor, details, CASE WHEN user_id IS NULL THEN 0 ELSE 1 END AS has_user \
                 FROM audit_events WHERE action = 'token.revoked' AND client_id = '{client}' \
                 ORDER BY occurred_at"
            ),
        ))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter()
        .map(|row| {
            let actor: String = row.try_get("", "actor").unwrap();
            let details: String = row.try_get("", "details").unwrap();
            let has_user: i32 = row.try_get("", "has_user").unwrap();
            (
                actor,
                serde_json::from_str(&details).unwrap(),
                has_user == 1,
            )
        })
        .collect()
}

/// Userinfo's status for `access_token`.
async fn userinfo_status(app: &TestApp, slug: &str, access_token: &str) -> u16 {
    app.http
        .get(format!("{}/userinfo", app.issuer(slug)))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn revoked_opaque_access_token_is_inactive_and_audited() {
    let app = spawn_app().await;
    tenant(&app, "rv", "ES256").await;
    let client = service_client(&app, "rv", "opaque").await;
    let token = service_token(&app, "rv", &client, &[]).await;
    let other = service_token(&app, "rv", &client, &[]).await;
    assert!(is_active(&app, "rv", &client, &token).await);

    revoked(&app, "rv", &client, &token).await;
    assert!(!is_active(&app, "rv", &client, &token).await);
    assert!(
        is_active(&app, "rv", &client, &other).await,
        "only that one"
    );

    let events = audit_events(&app, &client.id).await;
    assert_eq!(
        events,
        vec![(
            format!("client:{}", client.id),
            json!({"kind": "access_token"}),
            false
        )]
    );
    // Revoking it again changes nothing and records nothing (RFC 7009 §2.2: still 200).
    revoked(&app, "rv", &client, &token).await;
    assert_eq!(audit_events(&app, &client.id).await.len(), 1);
}

#[actix_web::test]
async fn revoked_jwt_access_token_is_inactive_but_its_grant_lives_on() {
    let app = spawn_app().await;
    tenant(&app, "rvj", "EdDSA").await;
    let service = service_client(&app, "rvj", "jwt").await;
    let jwt = service_token(&app, "rvj", &service, &[]).await;
    assert!(jwt.contains('.'));
    assert!(is_active(&app, "rvj", &service, &jwt).await);
    let resp = revoke(
        &app,
        "rvj",
        &service,
        &jwt,
        &[("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(!is_active(&app, "rvj", &service, &jwt).await);

    // A user's JWT access token: dead at userinfo and introspection, the refresh token not.
    let (f, first) = signed_in(&app, "users").await;
    let client = fixture_client(&f);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, "users", access).await, 200);
    revoked(&app, "users", &client, access).await;
    assert_eq!(userinfo_status(&app, "users", access).await, 401);
    assert!(!is_active(&app, "users", &client, access).await);
    let (status, second) = refresh(&app, &f, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        userinfo_status(&app, "users", second["access_token"].as_str().unwrap()).await,
        200
    );
    let events = audit_events(&app, &f.client_id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, json!({"kind": "access_token"}));
    assert!(events[0].2, "the user is recorded");
}

#[actix_web::test]
async fn revoked_refresh_token_ends_the_grant_and_its_access_tokens() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "grant").await;
    let client = fixture_client(&f);
    let jwt = first["access_token"].as_str().unwrap().to_owned();
    // A second access token of the same grant, this time opaque.
    make_opaque(&app, &f).await;
    let (status, second) = refresh(&app, &f, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{second}");
    let opaque = second["access_token"].as_str().unwrap().to_owned();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert!(!opaque.contains('.'));
    assert_eq!(userinfo_status(&app, "grant", &jwt).await, 200);
    assert!(is_active(&app, "grant", &client, &opaque).await);

    let resp = revoke(
        &app,
        "grant",
        &client,
        &r2,
        &[("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);

    let (status, body) = refresh(&app, &f, &r2).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(userinfo_status(&app, "grant", &jwt).await, 401);
    assert!(!is_active(&app, "grant", &client, &jwt).await);
    assert!(!is_active(&app, "grant", &client, &opaque).await);
    assert!(!is_active(&app, "grant", &client, &r2).await);

    let events = audit_events(&app, &f.client_id).await;
    assert_eq!(
        events,
        vec![(
            format!("client:{}", f.client_id),
            json!({"kind": "refresh_token"}),
            true
        )]
    );
}

#[actix_web::test]
async fn revoking_another_clients_token_is_unauthorized_client_and_revokes_nothing() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "theft").await;
    let owner = fixture_client(&f);
    define_read(&app, "theft").await;
    let thief = service_client(&app, "theft", "opaque").await;
    let victim = service_client(&app, "theft", "opaque").await;
    let victim_opaque = service_token(&app, "theft", &victim, &[]).await;

    for token in [
        first["access_token"].as_str().unwrap(),
        first["refresh_token"].as_str().unwrap(),
        victim_opaque.as_str(),
    ] {
        let resp = revoke(&app, "theft", &thief, token, &[]).await;
        assert_eq!(resp.status().as_u16(), 400);
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(TestApp::oauth_error(resp).await, "unauthorized_client");
    }
    // Everything still works for its owner.
    assert_eq!(
        userinfo_status(&app, "theft", first["access_token"].as_str().unwrap()).await,
        200
    );
    assert!(
        is_active(
            &app,
            "theft",
            &owner,
            first["refresh_token"].as_str().unwrap()
        )
        .await
    );
    let (status, _) = refresh(&app, &f, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(audit_events(&app, &thief.id).await.is_empty());
}

#[actix_web::test]
async fn unknown_and_malformed_tokens_are_answered_200_but_id_tokens_cannot_be_revoked() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "odd").await;
    let client = fixture_client(&f);
    let long = "q".repeat(5000);
    for token in [
        "no-such-token",
        "not a token at all",
        "a.b.c",
        long.as_str(),
    ] {
        revoked(&app, "odd", &client, token).await;
    }
    // An unknown hint is ignored (RFC 7009 §2.1), not refused.
    let resp = revoke(
        &app,
        "odd",
        &client,
        "no-such-token",
        &[("token_type_hint", "id_token")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);

    // An ID token is not a token RFC 7009 revokes (§2.2.1).
    let resp = revoke(
        &app,
        "odd",
        &client,
        first["id_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "unsupported_token_type");
    assert!(audit_events(&app, &f.client_id).await.is_empty());
    assert_eq!(
        userinfo_status(&app, "odd", first["access_token"].as_str().unwrap()).await,
        200
    );
}

#[actix_web::test]
async fn revocation_authenticates_confidential_clients_and_public_ones_by_id() {
    let app = spawn_app().await;
    tenant(&app, "auth", "ES256").await;
    let client = service_client(&app, "auth", "opaque").await;
    let token = service_token(&app, "auth", &client, &[]).await;

    let anonymous = post_form(&app, "auth", "revoke", None, &[("token", &token)]).await;
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key(WWW_AUTHENTICATE));
    assert_eq!(TestApp::oauth_error(anonymous).await, "invalid_client");
    let wrong = post_form(
        &app,
        "auth",
        "revoke",
        Some((&client.id, "wrong")),
        &[("token", &token)],
    )
    .await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(
        is_active(&app, "auth", &client, &token).await,
        "nothing revoked"
    );

    // RFC 7009 §2.1: a public client identifies itself with client_id alone.
    let spa = public_client(&app, "auth").await;
    let public = post_form(
        &app,
        "auth",
        "revoke",
        None,
        &[("token", "unknown-token"), ("client_id", &spa.id)],
    )
    .await;
    assert_eq!(public.status().as_u16(), 200);
    // ... and may not revoke another client's token.
    let public = post_form(
        &app,
        "auth",
        "revoke",
        None,
        &[("token", &token), ("client_id", &spa.id)],
    )
    .await;
    assert_eq!(public.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(public).await, "unauthorized_client");

    // The request rules of the token endpoint.
    let missing = post_form(
        &app,
        "auth",
        "revoke",
        Some((&client.id, &client.secret)),
        &[],
    )
    .await;
    assert_eq!(missing.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(missing).await, "invalid_request");
    let repeated = post_form(
        &app,
        "auth",
        "revoke",
        Some((&client.id, &client.secret)),
        &[("token", &token), ("token", &token)],
    )
    .await;
    assert_eq!(repeated.status().as_u16(), 400);
    let big = "t".repeat(17 * 1024);
    let too_large = post_form(
        &app,
        "auth",
        "revoke",
        Some((&client.id, &client.secret)),
        &[("token", &big)],
    )
    .await;
    assert_eq!(too_large.status().as_u16(), 413);
    let json_body = app
        .http
        .post(format!("{}/revoke", app.issuer("auth")))
        .basic_auth(&client.id, Some(&client.secret))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status().as_u16(), 400);
    assert!(is_active(&app, "auth", &client, &token).await);
}
