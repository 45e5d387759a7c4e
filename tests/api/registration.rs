//! Dynamic client registration (RFC 7591) and management (RFC 7592) under the tenant policy:
//! open registration with the `openidconnect` crate and a code flow with the new client, a
//! confidential client using its secret, read/update/delete with the registration access token,
//! disabled and initial-access-token modes, redirect-URI patterns and allowed grants, malformed
//! bodies, discovery, and tokens stored only as hashes.

use openidconnect::core::{CoreClientAuthMethod, CoreClientRegistrationRequest, CoreGrantType};
use openidconnect::{RedirectUrl, RegistrationUrl};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use sha2::Digest;

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{TestApp, TestClient, spawn_app};

fn sha256_hex(s: &str) -> String {
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sets the tenant's registration policy through the admin API.
async fn set_policy(app: &TestApp, slug: &str, policy: Value) {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(json!({ "registration": policy })),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
}

/// POSTs `body` to `/register` with an optional bearer token; status and JSON body.
async fn register(app: &TestApp, slug: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/register", app.issuer(slug)))
        .json(body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    if status == 201 {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sends `method` to the client configuration endpoint `uri` with `token`.
async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, uri);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    if status == 401 {
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
        );
    }
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn discovery(app: &TestApp, slug: &str) -> Value {
    app.http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer(slug)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn db_rows(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap();
    db.close().await.ok();
    rows
}

#[actix_web::test]
async fn an_openly_registered_public_native_client_signs_a_user_in() {
    let app = spawn_app().await;
    let fixture = sign_in_fixture(&app, "dcr-open", false).await;
    set_policy(&app, "dcr-open", json!({"mode": "open"})).await;
    let meta = discovery(&app, "dcr-open").await;
    let endpoint = meta["registration_endpoint"].as_str().unwrap().to_owned();
    assert_eq!(endpoint, format!("{}/register", app.issuer("dcr-open")));

    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect_uri = "http://127.0.0.1:9/native-cb";
    let response = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(redirect_uri.to_owned()).unwrap()],
        Default::default(),
    )
    .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::None))
    .set_grant_types(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .register_async(&RegistrationUrl::new(endpoint).unwrap(), &http)
    .await
    .unwrap();
    let client_id = response.client_id().as_str().to_owned();
    assert!(response.client_secret().is_none());
    assert!(response.registration_access_token().is_some());

    // The new client is real: a code flow with PKCE, then the token endpoint by client_id.
    let client = SignIn {
        client_id: client_id.clone(),
        client_secret: String::new(),
        redirect_uri: redirect_uri.to_owned(),
        ..fixture
    };
    let verifier = "v".repeat(50);
    let (_, code) = client.code(&app, "openid profile", &verifier).await;
    let resp = app
        .post_token(
            "dcr-open",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &verifier),
                ("client_id", &client_id),
            ],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
}

#[actix_web::test]
async fn a_confidential_client_registers_and_authenticates_with_the_returned_secret() {
    let app = spawn_app().await;
    app.create_tenant("dcr-conf", "ES256").await;
    set_policy(
        &app,
        "dcr-conf",
        json!({"mode": "open", "grant_types": ["client_credentials"]}),
    )
    .await;
    let (status, body) = register(
        &app,
        "dcr-conf",
        None,
        &json!({
            "grant_types": ["client_credentials"],
            "client_name": "Batch job",
            "scope": "openid",
            "contacts": ["ops@example.com"],
            "logo_uri": "https://rp.example.com/logo.png",
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["client_name"], "Batch job");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(body["response_types"], json!([]));
    assert!(body["client_id_issued_at"].as_i64().unwrap() > 0);
    assert!(
        body.get("logo_uri").is_none(),
        "unknown metadata is ignored"
    );
    let id = body["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["registration_client_uri"],
        format!("{}/register/{id}", app.issuer("dcr-conf"))
    );
    let client = TestClient {
        id,
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    };
    app.client_credentials_token("dcr-conf", &client, None)
        .await;
    let wrong = TestClient {
        id: client.id.clone(),
        secret: "not-the-secret".into(),
    };
    let resp = app
        .post_token(
            "dcr-conf",
            Some((&wrong.id, &wrong.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    // Never first-party, never an admin client.
    let token = app.admin_token().await;
    let (_, shown) = app
        .admin(
            &token,
            reqwest::Method::GET,
            &format!("/tenants/dcr-conf/clients/{}", client.id),
            None,
        )
        .await;
    assert_eq!(shown["first_party"], false);
    assert!(shown["admin_role"].is_null());
}

#[actix_web::test]
async fn the_registration_access_token_reads_updates_and_deletes_its_client_only() {
    let app = spawn_app().await;
    app.create_tenant("dcr-mgmt", "ES256").await;
    set_policy(
        &app,
        "dcr-mgmt",
        json!({"mode": "open", "grant_types": ["client_credentials", "authorization_code"]}),
    )
    .await;
    let (status, body) = register(
        &app,
        "dcr-mgmt",
        None,
        &json!({"grant_types": ["client_credentials"], "client_name": "One"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let uri = body["registration_client_uri"].as_str().unwrap().to_owned();
    let first = body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stored as a SHA-256 hash only.
    let rows = db_rows(
        &app,
        &format!("SELECT token_hash FROM registration_access_tokens WHERE client_id = '{id}'"),
    )
    .await;
    let hash: String = rows[0].try_get("", "token_hash").unwrap();
    assert_eq!(hash, sha256_hex(&first));

    // Missing, wrong: 401 whatever the client.
    for token in [None, Some("wrong")] {
        let (status, body) = manage(&app, reqwest::Method::GET, &uri, token, None).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_token");
    }
    // An unknown client and an admin-created one answer as a wrong token does.
    let other = app.create_client("dcr-mgmt", &[]).await;
    for client in ["no-such-client", other.id.as_str()] {
        let (status, _) = manage(
            &app,
            reqwest::Method::GET,
            &format!("{}/register/{client}", app.issuer("dcr-mgmt")),
            Some(&first),
            None,
        )
        .await;
        assert_eq!(status, 401);
    }

    // Read: the token rotates; the old one stops working.
    let (status, read) = manage(&app, reqwest::Method::GET, &uri, Some(&first), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_id"], id);
    assert!(read.get("client_secret").is_none());
    let second = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    let (status, _) = manage(&app, reqwest::Method::GET, &uri, Some(&first), None).await;
    assert_eq!(status, 401);

    // Update: client_id must match, a sent secret must match, grants stay, policy applies.
    let update =
        json!({"client_id": id, "grant_types": ["client_credentials"], "client_name": "Two"});
    let bad_id = json!({"client_id": "someone-else", "grant_types": ["client_credentials"]});
    let (status, body) = manage(
        &app,
        reqwest::Method::PUT,
        &uri,
        Some(&second),
        Some(&bad_id),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let mut bad_secret = update.clone();
    bad_secret["client_secret"] = json!("nope");
    let (status, _) = manage(
        &app,
        reqwest::Method::PUT,
        &uri,
        Some(&second),
        Some(&bad_secret),
    )
    .await;
    assert_eq!(status, 400);
    let grants = json!({"client_id": id, "grant_types": ["authorization_code"], "redirect_uris": ["https://rp.example.com/cb"]});
    let (status, _) = manage(
        &app,
        reqwest::Method::PUT,
        &uri,
        Some(&second),
        Some(&grants),
    )
    .await;
    assert_eq!(status, 400);
    let mut good = update.clone();
    good["client_secret"] = json!(secret);
    let (status, updated) =
        manage(&app, reqwest::Method::PUT, &uri, Some(&second), Some(&good)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Two");
    let third = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = TestClient {
        id: id.clone(),
        secret,
    };
    app.client_credentials_token("dcr-mgmt", &client, None)
        .await;

    // Delete: the client is gone and can no longer get tokens; the token no longer works.
    let (status, _) = manage(&app, reqwest::Method::DELETE, &uri, Some("wrong"), None).await;
    assert_eq!(status, 401);
    let resp = app
        .http
        .delete(&uri)
        .bearer_auth(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let resp = app
        .post_token(
            "dcr-mgmt",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _) = manage(&app, reqwest::Method::GET, &uri, Some(&third), None).await;
    assert_eq!(status, 401);
    let rows = db_rows(
        &app,
        &format!("SELECT token_hash FROM registration_access_tokens WHERE client_id = '{id}'"),
    )
    .await;
    assert!(rows.is_empty());
    let rows = db_rows(
        &app,
        &format!("SELECT action FROM audit_events WHERE client_id = '{id}' ORDER BY occurred_at"),
    )
    .await;
    let actions: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "action").unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "client.registered",
            "client.registration_updated",
            "client.registration_deleted"
        ]
    );
}

#[actix_web::test]
async fn disabled_registration_is_not_offered_nor_advertised() {
    let app = spawn_app().await;
    app.create_tenant("dcr-off", "ES256").await;
    assert!(
        discovery(&app, "dcr-off")
            .await
            .get("registration_endpoint")
            .is_none()
    );
    let (status, body) = register(
        &app,
        "dcr-off",
        None,
        &json!({"redirect_uris": ["https://rp.example.com/cb"]}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let resp = app
        .http
        .get(format!("{}/register/anything", app.issuer("dcr-off")))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    // Switching it off again removes it from discovery.
    set_policy(&app, "dcr-off", json!({"mode": "initial_access_token"})).await;
    assert!(discovery(&app, "dcr-off").await["registration_endpoint"].is_string());
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/dcr-off",
            app.address
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta["registration_endpoint"].is_string());
    set_policy(&app, "dcr-off", json!({"mode": "disabled"})).await;
    assert!(
        discovery(&app, "dcr-off")
            .await
            .get("registration_endpoint")
            .is_none()
    );
}

#[actix_web::test]
async fn initial_access_tokens_are_required_checked_spent_and_stored_hashed() {
    let app = spawn_app().await;
    app.create_tenant("dcr-iat", "ES256").await;
    set_policy(&app, "dcr-iat", json!({"mode": "initial_access_token"})).await;
    let admin = app.admin_token().await;
    let (status, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/dcr-iat/registration-tokens",
            Some(json!({"description": "partner", "max_uses": 1, "expires_in": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["id"].as_str().unwrap().to_owned();
    let (status, list) = app
        .admin(
            &admin,
            reqwest::Method::GET,
            "/tenants/dcr-iat/registration-tokens",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], token_id);
    assert!(list["items"][0].get("token").is_none());
    assert!(!list.to_string().contains(&token));
    let rows = db_rows(&app, "SELECT token_hash FROM initial_access_tokens").await;
    let hash: String = rows[0].try_get("", "token_hash").unwrap();
    assert_eq!(hash, sha256_hex(&token));

    let meta = json!({"redirect_uris": ["https://rp.example.com/cb"]});
    for bearer in [None, Some("wrong-token")] {
        let (status, body) = register(&app, "dcr-iat", bearer, &meta).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token"))
        );
    }
    // An invalid registration does not spend the use.
    let bad = json!({"redirect_uris": ["not a uri"]});
    let (status, _) = register(&app, "dcr-iat", Some(&token), &bad).await;
    assert_eq!(status, 400);
    let (status, body) = register(&app, "dcr-iat", Some(&token), &meta).await;
    assert_eq!(status, 201, "{body}");
    // Used up.
    let (status, _) = register(&app, "dcr-iat", Some(&token), &meta).await;
    assert_eq!(status, 401);

    // Expired.
    let (_, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/dcr-iat/registration-tokens",
            Some(json!({})),
        )
        .await;
    let unlimited = created["token"].as_str().unwrap().to_owned();
    let (status, _) = register(&app, "dcr-iat", Some(&unlimited), &meta).await;
    assert_eq!(status, 201);
    let db = Database::connect(&app.database_url).await.unwrap();
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!(
            "UPDATE initial_access_tokens SET expires_at = 1 WHERE token_hash = '{}'",
            sha256_hex(&unlimited)
        ),
    ))
    .await
    .unwrap();
    db.close().await.ok();
    let (status, _) = register(&app, "dcr-iat", Some(&unlimited), &meta).await;
    assert_eq!(status, 401);

    // Deleted.
    let (_, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/dcr-iat/registration-tokens",
            Some(json!({})),
        )
        .await;
    let doomed = created["token"].as_str().unwrap().to_owned();
    let path = format!(
        "/tenants/dcr-iat/registration-tokens/{}",
        created["id"].as_str().unwrap()
    );
    let (status, _) = app
        .admin(&admin, reqwest::Method::DELETE, &path, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .admin(&admin, reqwest::Method::DELETE, &path, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = register(&app, "dcr-iat", Some(&doomed), &meta).await;
    assert_eq!(status, 401);
    // A token of another tenant is not valid here.
    app.create_tenant("dcr-iat2", "ES256").await;
    set_policy(&app, "dcr-iat2", json!({"mode": "initial_access_token"})).await;
    let (_, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            "/tenants/dcr-iat2/registration-tokens",
            Some(json!({})),
        )
        .await;
    let foreign = created["token"].as_str().unwrap().to_owned();
    let (status, _) = register(&app, "dcr-iat", Some(&foreign), &meta).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn the_policy_and_the_metadata_rules_refuse_what_they_should() {
    let app = spawn_app().await;
    app.create_tenant("dcr-pol", "ES256").await;
    set_policy(
        &app,
        "dcr-pol",
        json!({"mode": "open", "redirect_uri_patterns": ["https://*.example.com/cb"]}),
    )
    .await;
    let (status, body) = register(
        &app,
        "dcr-pol",
        None,
        &json!({"redirect_uris": ["https://app.example.com/cb"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for uri in [
        "https://a.b.example.com/cb",
        "https://app.example.com.evil.net/cb",
        "https://app.example.com/other",
        "https://app.example.com/cb#frag",
    ] {
        let (status, body) =
            register(&app, "dcr-pol", None, &json!({"redirect_uris": [uri]})).await;
        assert_eq!(status, 400, "{uri}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
    }
    let cases = [
        json!({"redirect_uris": ["https://app.example.com/cb"], "grant_types": ["client_credentials"]}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "grant_types": ["password"]}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "response_types": ["token"]}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "magic"}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "scope": "openid undefined-scope"}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
        json!({"redirect_uris": "https://app.example.com/cb"}),
    ];
    for case in cases {
        let (status, body) = register(&app, "dcr-pol", None, &case).await;
        assert_eq!(status, 400, "{case}");
        assert_eq!(body["error"], "invalid_client_metadata", "{case}: {body}");
    }
    let endpoint = format!("{}/register", app.issuer("dcr-pol"));
    let resp = app
        .http
        .post(&endpoint)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = app
        .http
        .post(&endpoint)
        .form(&[("redirect_uris", "https://app.example.com/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let huge =
        json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "x".repeat(70_000)});
    let resp = app.http.post(&endpoint).json(&huge).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 413);

    // The policy itself is validated.
    let token = app.admin_token().await;
    for bad in [
        json!({"registration": {"grant_types": ["urn:example:unknown"]}}),
        json!({"registration": {"mode": "sometimes"}}),
        json!({"registration": {"redirect_uri_patterns": ["no-scheme"]}}),
    ] {
        let (status, _) = app
            .admin(
                &token,
                reqwest::Method::PATCH,
                "/tenants/dcr-pol/settings",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[actix_web::test]
async fn the_cli_creates_lists_and_deletes_initial_access_tokens() {
    let app = spawn_app().await;
    app.create_tenant("dcr-cli", "ES256").await;
    set_policy(&app, "dcr-cli", json!({"mode": "initial_access_token"})).await;
    let (ok, created) = app.cli(&[
        "registration-token",
        "create",
        "dcr-cli",
        "--max-uses",
        "2",
        "--description",
        "from the CLI",
    ]);
    assert!(ok, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let (ok, list) = app.cli(&["registration-token", "list", "dcr-cli"]);
    assert!(ok);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["items"][0]["max_uses"], 2);
    assert!(!list.to_string().contains(&token));
    let meta = json!({"redirect_uris": ["https://rp.example.com/cb"]});
    let (status, body) = register(&app, "dcr-cli", Some(&token), &meta).await;
    assert_eq!(status, 201, "{body}");
    let (ok, _) = app.cli(&["registration-token", "delete", "dcr-cli", &id]);
    assert!(ok);
    let (status, _) = register(&app, "dcr-cli", Some(&token), &meta).await;
    assert_eq!(status, 401);
    let (ok, _) = app.cli(&["registration-token", "delete", "dcr-cli", &id]);
    assert!(!ok);
}
