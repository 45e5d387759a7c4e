//! The admin REST API over real HTTP: tenant, client, scope and key management as an operator,
//! bearer-token authentication and the confinement of tenant admins, and request-body rejection.

use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app, within};

/// The claims of a JWT, without verifying it (the tests that need verification do it).
fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(jwt)
        .expect("a JWT")
        .claims
}

/// The `error` code of an admin API JSON body.
fn code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("<no error code>")
}

/// Sends a raw request to the admin API with the operator's token.
async fn raw_admin(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    app.http
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token)
}

// ---------------------------------------------------------------------------------------------
// Tenants

#[actix_web::test]
async fn operator_creates_and_reads_a_tenant() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "acme", "name": "Acme Corp", "alg": "ES256"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["name"], "Acme Corp");
    assert_eq!(body["signing_alg"], "ES256");
    assert_eq!(body["status"], "active");
    assert_eq!(body["is_system"], false);

    let (status, shown) = app.admin(&token, Method::GET, "/tenants/acme", None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["slug"], "acme");
    assert_eq!(shown["name"], "Acme Corp");
    assert_eq!(shown["id"], body["id"]);

    let discovery = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("acme")
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(discovery.status().as_u16(), 200);
}

#[actix_web::test]
async fn duplicate_tenant_slug_is_a_conflict() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("twice", "ES256").await;

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "twice", "alg": "RS256"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "conflict");
}

#[actix_web::test]
async fn malformed_or_reserved_tenant_slugs_are_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    for bad in ["Bad_Slug", "a", "-dash", "dash-", "has space"] {
        let (status, body) = app
            .admin(&token, Method::POST, "/tenants", Some(json!({"slug": bad})))
            .await;
        assert_eq!(status, 400, "slug {bad:?}: {body}");
        assert_eq!(code(&body), "invalid_request", "slug {bad:?}");
    }
    // `system` is a well-formed slug that is already taken by the system tenant.
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "system"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "conflict");

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "good-slug", "alg": "HS256"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
}

#[actix_web::test]
async fn tenant_list_pages_by_slug_and_filters_by_search() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for slug in ["pgx-1", "pgx-2", "pgx-3", "unrelated"] {
        app.create_tenant(slug, "ES256").await;
    }

    let (status, page) = app
        .admin(&token, Method::GET, "/tenants?search=pgx-&limit=2", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let slugs: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs, ["pgx-1", "pgx-2"]);
    let next = page["next"].as_str().expect("a next cursor on a full page");

    let (status, rest) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants?search=pgx-&limit=2&after={next}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rest}");
    let slugs: Vec<&str> = rest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs, ["pgx-3"]);
    assert!(rest["next"].is_null(), "last page: {rest}");

    let (status, body) = app
        .admin(&token, Method::GET, "/tenants?limit=0", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
}

#[actix_web::test]
async fn patched_access_token_ttl_governs_new_tokens_within_a_second() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("ttl", "ES256").await;
    let client = app.create_client("ttl", &[]).await;
    let before = claims(&app.client_credentials_token("ttl", &client, None).await);
    assert_eq!(
        before["exp"].as_i64().expect("exp") - before["iat"].as_i64().expect("iat"),
        600,
        "default ttl"
    );

    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/ttl",
            Some(json!({"name": "Short Lived", "access_token_ttl": 120})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Short Lived");
    assert_eq!(body["access_token_ttl"], 120);

    let took = within(PROPAGATION, || async {
        let jwt = app.client_credentials_token("ttl", &client, None).await;
        let c = claims(&jwt);
        c["exp"].as_i64().unwrap_or(0) - c["iat"].as_i64().unwrap_or(0) == 120
    })
    .await;
    assert!(took.is_some(), "new tokens still use the old ttl after 1 s");

    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/ttl",
            Some(json!({"access_token_ttl": 5})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
}

#[actix_web::test]
async fn disabled_tenant_refuses_tokens_until_enabled_again() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("switch", "ES256").await;
    let client = app.create_client("switch", &[]).await;
    assert_eq!(app.client_credentials_status("switch", &client).await, 200);

    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/switch",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "disabled");
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("switch", &client).await == 403
    })
    .await;
    assert!(
        took.is_some(),
        "disabled tenant still issues tokens after 1 s"
    );
    let resp = app
        .post_token(
            "switch",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(TestApp::oauth_error(resp).await, "access_denied");

    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/switch",
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "active");
    let took = within(PROPAGATION, || async {
        app.client_credentials_status("switch", &client).await == 200
    })
    .await;
    assert!(
        took.is_some(),
        "re-enabled tenant still refuses tokens after 1 s"
    );
}

#[actix_web::test]
async fn system_tenant_cannot_be_disabled_or_deleted() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/system",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
    let (status, body) = app
        .admin(&token, Method::DELETE, "/tenants/system", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");

    // The operator still works.
    let (status, _) = app.admin(&token, Method::GET, "/tenants", None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn deleted_tenant_is_gone_from_the_api_and_discovery() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("doomed", "ES256").await;
    let discovery = format!("{}/.well-known/openid-configuration", app.issuer("doomed"));
    let resp = app.http.get(&discovery).send().await.expect("discovery");
    assert_eq!(resp.status().as_u16(), 200);

    let (status, body) = app
        .admin(&token, Method::DELETE, "/tenants/doomed", None)
        .await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = app
        .admin(&token, Method::GET, "/tenants/doomed", None)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "not_found");
    let took = within(PROPAGATION, || async {
        let resp = app.http.get(&discovery).send().await.expect("discovery");
        resp.status().as_u16() == 404
    })
    .await;
    assert!(
        took.is_some(),
        "deleted tenant still has discovery after 1 s"
    );

    let (status, body) = app
        .admin(&token, Method::DELETE, "/tenants/doomed", None)
        .await;
    assert_eq!(status, 404, "{body}");
}

// ---------------------------------------------------------------------------------------------
// Clients

#[actix_web::test]
async fn confidential_client_is_created_with_a_secret_that_is_never_cached() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("conf", "ES256").await;

    let resp = raw_admin(&app, &token, Method::POST, "/tenants/conf/clients")
        .await
        .json(&json!({"name": "backend", "grant_types": ["client_credentials"]}))
        .send()
        .await
        .expect("create client");
    assert_eq!(resp.status().as_u16(), 201);
    let cache_control = resp
        .headers()
        .get(CACHE_CONTROL)
        .expect("Cache-Control")
        .to_str()
        .expect("ASCII");
    assert!(
        cache_control.contains("no-store"),
        "Cache-Control: {cache_control}"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["client_type"], "confidential");
    let secret = body["client_secret"].as_str().expect("client_secret");
    assert!(secret.len() >= 20, "secret too short: {secret:?}");
    assert!(body.get("secret_hash").is_none(), "{body}");

    let client = TestClient {
        id: body["client_id"].as_str().expect("client_id").to_owned(),
        secret: secret.to_owned(),
    };
    assert_eq!(app.client_credentials_status("conf", &client).await, 200);
}

#[actix_web::test]
async fn public_client_with_a_redirect_uri_gets_no_secret() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("spa", "ES256").await;

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/spa/clients",
            Some(json!({
                "name": "browser app",
                "public": true,
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example.com/callback"],
                "scopes": ["openid", "profile"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["client_type"], "public");
    assert!(
        body.get("client_secret").is_none() || body["client_secret"].is_null(),
        "public client got a secret: {body}"
    );
    assert_eq!(
        body["redirect_uris"],
        json!(["https://app.example.com/callback"])
    );
}

#[actix_web::test]
async fn invalid_client_registrations_are_invalid_request() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("strict", "ES256").await;

    let cases = [
        (
            "public client with client_credentials",
            json!({"name": "x", "public": true, "grant_types": ["client_credentials"]}),
        ),
        (
            "authorization_code without a redirect URI",
            json!({"name": "x", "grant_types": ["authorization_code"]}),
        ),
        (
            "plain http redirect to a non-loopback host",
            json!({"name": "x", "grant_types": ["authorization_code"],
                   "redirect_uris": ["http://app.example.com/cb"]}),
        ),
        (
            "redirect URI with a fragment",
            json!({"name": "x", "grant_types": ["authorization_code"],
                   "redirect_uris": ["https://app.example.com/cb#frag"]}),
        ),
        (
            "undefined scope",
            json!({"name": "x", "grant_types": ["client_credentials"],
                   "scopes": ["never.defined"]}),
        ),
        (
            "unknown grant type",
            json!({"name": "x", "grant_types": ["urn:example:unknown"]}),
        ),
        ("empty name", json!({"name": " "})),
    ];
    for (what, body) in cases {
        let (status, resp) = app
            .admin(&token, Method::POST, "/tenants/strict/clients", Some(body))
            .await;
        assert_eq!(status, 400, "{what}: {resp}");
        assert_eq!(code(&resp), "invalid_request", "{what}: {resp}");
        assert!(
            resp["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: no description: {resp}"
        );
    }

    let (status, list) = app
        .admin(&token, Method::GET, "/tenants/strict/clients", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["items"],
        json!([]),
        "a refused registration left a client"
    );
}

#[actix_web::test]
async fn client_listing_is_paged_by_client_id_and_searchable_by_id_or_name_prefix() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("acme", "ES256").await;
    app.create_tenant("other", "ES256").await;
    let mut ids = std::collections::BTreeMap::new();
    for (tenant, name) in [
        ("acme", "Billing API"),
        ("acme", "billing worker"),
        ("acme", "Shop"),
        ("acme", "b_x"),
        ("acme", "bxx"),
        ("other", "Billing elsewhere"),
    ] {
        let (status, body) = app
            .admin(
                &token,
                Method::POST,
                &format!("/tenants/{tenant}/clients"),
                Some(json!({"name": name, "grant_types": ["client_credentials"]})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.insert(
            name,
            body["client_id"].as_str().expect("client_id").to_owned(),
        );
    }
    let names = |page: &Value| -> std::collections::BTreeSet<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_owned())
            .collect()
    };

    // Page by page in client_id order: every client once, `next` only while pages are full.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for round in 0.. {
        assert!(round < 5, "the listing never ended");
        let query = match &after {
            Some(a) => format!("limit=2&after={a}"),
            None => "limit=2".to_owned(),
        };
        let (status, page) = app
            .admin(
                &token,
                Method::GET,
                &format!("/tenants/acme/clients?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["client_id"].as_str().expect("client_id").to_owned());
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<String> = ids
        .iter()
        .filter(|(name, _)| **name != "Billing elsewhere")
        .map(|(_, id)| id.clone())
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "pages out of order, repeated or missing");

    // A name prefix, whatever its case; never another tenant's client.
    let (status, page) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/acme/clients?search=BILL",
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let want: std::collections::BTreeSet<String> =
        ["Billing API", "billing worker"].map(str::to_owned).into();
    assert_eq!(names(&page), want);
    // A client_id prefix.
    let shop = &ids["Shop"];
    let (_, page) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/acme/clients?search={shop}"),
            None,
        )
        .await;
    assert_eq!(names(&page), ["Shop".to_owned()].into());
    // LIKE wildcards are plain characters: `b_` finds `b_x`, not `bxx`.
    let (_, page) = app
        .admin(&token, Method::GET, "/tenants/acme/clients?search=b_", None)
        .await;
    assert_eq!(names(&page), ["b_x".to_owned()].into());
    for bad in [
        "limit=0",
        "limit=1001",
        &format!("search={}", "a".repeat(201)),
        "sort=name",
    ] {
        let (status, body) = app
            .admin(
                &token,
                Method::GET,
                &format!("/tenants/acme/clients?{bad}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[actix_web::test]
async fn client_list_and_show_never_reveal_secrets() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("lister", "ES256").await;
    let client = app.create_client("lister", &[]).await;

    let resp = raw_admin(&app, &token, Method::GET, "/tenants/lister/clients")
        .await
        .send()
        .await
        .expect("list clients");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("body");
    assert!(
        !text.contains(&client.secret),
        "the list reveals the secret"
    );
    let list: Value = serde_json::from_str(&text).expect("json");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["client_id"], client.id.as_str());
    for item in items {
        assert!(item.get("client_secret").is_none(), "{item}");
        assert!(item.get("secret_hash").is_none(), "{item}");
    }

    let resp = raw_admin(
        &app,
        &token,
        Method::GET,
        &format!("/tenants/lister/clients/{}", client.id),
    )
    .await
    .send()
    .await
    .expect("show client");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("body");
    assert!(!text.contains(&client.secret), "show reveals the secret");
    let shown: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(shown["client_id"], client.id.as_str());
    assert_eq!(shown["grant_types"], json!(["client_credentials"]));
    assert!(shown.get("client_secret").is_none(), "{shown}");
    assert!(shown.get("secret_hash").is_none(), "{shown}");

    let (status, body) = app
        .admin(
            &token,
            Method::GET,
            "/tenants/lister/clients/no-such-client",
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "not_found");
}

#[actix_web::test]
async fn deleted_client_is_invalid_client_at_the_token_endpoint() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("revoke", "ES256").await;
    let client = app.create_client("revoke", &[]).await;
    assert_eq!(app.client_credentials_status("revoke", &client).await, 200);

    let (status, body) = app
        .admin(
            &token,
            Method::DELETE,
            &format!("/tenants/revoke/clients/{}", client.id),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let took = within(PROPAGATION, || async {
        app.client_credentials_status("revoke", &client).await == 401
    })
    .await;
    assert!(took.is_some(), "deleted client still gets tokens after 1 s");
    let resp = app
        .post_token(
            "revoke",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_client");

    let (status, _) = app
        .admin(
            &token,
            Method::GET,
            &format!("/tenants/revoke/clients/{}", client.id),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

// ---------------------------------------------------------------------------------------------
// Scopes

#[actix_web::test]
async fn defined_scope_can_be_allowed_to_a_client_and_granted() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("shop", "ES256").await;

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/shop/scopes",
            Some(json!({"name": "orders.read", "description": "Read your orders", "claims": ["orders"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "orders.read");
    assert_eq!(body["is_standard"], false);

    let client = app.create_client("shop", &["orders.read"]).await;
    let jwt = app
        .client_credentials_token("shop", &client, Some("orders.read"))
        .await;
    assert_eq!(claims(&jwt)["scope"], "orders.read");
}

#[actix_web::test]
async fn duplicate_scope_is_a_conflict() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("dupscope", "ES256").await;
    let scope = json!({"name": "reports", "description": "Read reports"});

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/dupscope/scopes",
            Some(scope.clone()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/dupscope/scopes",
            Some(scope),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "conflict");

    // Standard scopes exist in every tenant, so defining one again conflicts too.
    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/dupscope/scopes",
            Some(json!({"name": "email", "description": "again"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "conflict");
}

#[actix_web::test]
async fn scope_list_includes_the_standard_scopes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("std", "ES256").await;

    let (status, body) = app
        .admin(&token, Method::GET, "/tenants/std/scopes", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    for standard in ["openid", "profile", "email", "address", "phone"] {
        assert!(
            names.contains(&standard),
            "{standard} missing from {names:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// `(kid, state)` of every key of the `alg` ring the admin API lists.
async fn key_states(app: &TestApp, token: &str, tenant: &str, alg: &str) -> Vec<(String, String)> {
    let (status, body) = app
        .admin(
            token,
            Method::GET,
            &format!("/tenants/{tenant}/keys?alg={alg}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| {
            assert!(k.get("sealed_private_key").is_none(), "{k}");
            assert!(
                k["public_jwk"].get("d").is_none(),
                "private key listed: {k}"
            );
            assert_eq!(k["alg"], alg, "{k}");
            (
                k["kid"].as_str().expect("kid").to_owned(),
                k["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

fn kid_in(keys: &[(String, String)], state: &str) -> Vec<String> {
    keys.iter()
        .filter(|(_, s)| s == state)
        .map(|(k, _)| k.clone())
        .collect()
}

#[actix_web::test]
async fn key_rotation_activates_the_next_key_and_keeps_the_retired_one_in_jwks() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_tenant("rotor", "ES256").await;

    let before = key_states(&app, &token, "rotor", "ES256").await;
    let rsa_before = key_states(&app, &token, "rotor", "RS256").await;
    assert_eq!(
        rsa_before.len(),
        2,
        "the RS256 ring for ID tokens: {rsa_before:?}"
    );
    let active = kid_in(&before, "active");
    let next = kid_in(&before, "next");
    assert_eq!(active.len(), 1, "{before:?}");
    assert_eq!(next.len(), 1, "{before:?}");
    assert_eq!(before.len(), 2, "{before:?}");

    let (status, rotation) = app
        .admin(&token, Method::POST, "/tenants/rotor/keys/rotate", None)
        .await;
    assert_eq!(status, 200, "{rotation}");
    assert_eq!(rotation["activated"], next[0].as_str());
    assert_eq!(rotation["retired"], active[0].as_str());
    let new_next = rotation["next"].as_str().expect("next").to_owned();
    assert_ne!(new_next, active[0]);
    assert_ne!(new_next, next[0]);
    // Every ring rotates at once; the tenant's own ring is also the top-level answer.
    let rings = rotation["rings"].as_array().expect("rings");
    assert_eq!(rings.len(), 2, "{rotation}");
    assert_eq!(rings[0]["alg"], "ES256");
    assert_eq!(rings[0]["activated"], rotation["activated"]);
    assert_eq!(rings[1]["alg"], "RS256");
    assert_eq!(
        rings[1]["activated"],
        kid_in(&rsa_before, "next")[0].as_str()
    );
    assert_eq!(
        rings[1]["retired"],
        kid_in(&rsa_before, "active")[0].as_str()
    );

    let after = key_states(&app, &token, "rotor", "ES256").await;
    assert_eq!(kid_in(&after, "active"), next);
    assert_eq!(kid_in(&after, "retired"), active);
    assert_eq!(kid_in(&after, "next"), std::slice::from_ref(&new_next));

    let kids = app.jwks_kids("rotor").await;
    for kid in [&active[0], &next[0], &new_next] {
        assert!(kids.contains(kid), "{kid} missing from JWKS {kids:?}");
    }

    let client = app.create_client("rotor", &[]).await;
    let jwt = app.client_credentials_token("rotor", &client, None).await;
    let header = jsonwebtoken::decode_header(&jwt).expect("JWS header");
    assert_eq!(header.kid.as_deref(), Some(next[0].as_str()));
}

// ---------------------------------------------------------------------------------------------
// Authentication

#[actix_web::test]
async fn admin_request_without_a_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;

    let resp = app
        .http
        .get(format!("{}/admin/v1/tenants", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("WWW-Authenticate")
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    // RFC 6750 §3.1: no credentials were sent, so the challenge names no error.
    assert!(!challenge.contains("error="), "{challenge}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(code(&body), "invalid_token");
}

#[actix_web::test]
async fn garbage_bearer_token_is_401() {
    let app = spawn_app().await;

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let (status, body) = app.admin(garbage, Method::GET, "/tenants", None).await;
        assert_eq!(status, 401, "{garbage}: {body}");
        assert_eq!(code(&body), "invalid_token");
    }
    let resp = app
        .http
        .get(format!("{}/admin/v1/tenants", app.address))
        .basic_auth(&app.operator_id, Some(&app.operator_secret))
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.status().as_u16(),
        401,
        "Basic credentials are not a bearer token"
    );
}

#[actix_web::test]
async fn token_of_another_tenant_is_401_at_the_admin_api() {
    let app = spawn_app().await;
    app.create_tenant("outsider", "ES256").await;
    let client = app.create_client("outsider", &[]).await;
    let foreign = app
        .client_credentials_token("outsider", &client, None)
        .await;

    let (status, body) = app.admin(&foreign, Method::GET, "/tenants", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(code(&body), "invalid_token");
    let (status, _) = app
        .admin(&foreign, Method::GET, "/tenants/outsider", None)
        .await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn system_token_without_the_admin_scope_is_403_insufficient_scope() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;
    let plain = app.create_client("system", &[]).await;
    let token = app.client_credentials_token("system", &plain, None).await;

    let resp = app
        .http
        .get(format!("{}/admin/v1/tenants", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 403);
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("WWW-Authenticate")
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(code(&body), "insufficient_scope");

    // The admin scope alone does not make an admin: the client also needs an admin role.
    let scoped = app.create_client("system", &["admin"]).await;
    let token = app
        .client_credentials_token("system", &scoped, Some("admin"))
        .await;
    let (status, body) = app.admin(&token, Method::GET, "/tenants", None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "access_denied");

    let (status, _) = app.admin(&operator, Method::GET, "/tenants", None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn tampered_admin_token_is_401() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (status, _) = app.admin(&token, Method::GET, "/tenants", None).await;
    assert_eq!(status, 200);

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS");
    let mut payload: Vec<u8> = parts[1].bytes().collect();
    let i = payload.len() / 2;
    payload[i] = if payload[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(payload).expect("ASCII"),
        parts[2]
    );
    assert_ne!(tampered, token);

    let (status, body) = app.admin(&tampered, Method::GET, "/tenants", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(code(&body), "invalid_token");
}

// ---------------------------------------------------------------------------------------------
// Tenant admins

#[actix_web::test]
async fn tenant_admin_token_is_confined_to_its_own_tenant() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;
    app.create_tenant("alpha", "ES256").await;
    app.create_tenant("bravo", "ES256").await;

    let (status, created) = app
        .admin(
            &operator,
            Method::POST,
            "/tenants/alpha/admins",
            Some(json!({"name": "alpha admin"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["client_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        created["client_secret"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let admin = app.tenant_admin_token(&operator, "alpha").await;

    // Its own tenant: full client and scope management.
    let (status, body) = app
        .admin(&admin, Method::GET, "/tenants/alpha/clients", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .admin(
            &admin,
            Method::POST,
            "/tenants/alpha/clients",
            Some(json!({"name": "alpha app", "grant_types": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.admin(&admin, Method::GET, "/tenants/alpha", None).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = app.admin(&admin, Method::GET, "/tenants", None).await;
    assert_eq!(status, 200, "{body}");
    let slugs: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs, ["alpha"]);

    // Everything else is forbidden.
    let forbidden = [
        (Method::GET, "/tenants/bravo", None),
        (Method::GET, "/tenants/bravo/clients", None),
        (
            Method::POST,
            "/tenants/bravo/clients",
            Some(json!({"name": "sneaky", "grant_types": ["client_credentials"]})),
        ),
        (Method::GET, "/tenants/bravo/keys", None),
        (Method::POST, "/tenants", Some(json!({"slug": "charlie"}))),
        (Method::DELETE, "/tenants/alpha", None),
        (
            Method::PATCH,
            "/tenants/alpha",
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::POST,
            "/tenants/alpha/admins",
            Some(json!({"name": "another"})),
        ),
        (Method::GET, "/tenants/system", None),
        (Method::GET, "/tenants/system/clients", None),
        (
            Method::POST,
            "/tenants/system/clients",
            Some(json!({"name": "escalate", "scopes": ["admin"]})),
        ),
        (Method::GET, "/tenants/no-such-tenant", None),
    ];
    for (method, path, body) in forbidden {
        let (status, resp) = app.admin(&admin, method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {resp}");
        assert_eq!(code(&resp), "access_denied", "{method} {path}");
    }

    // Nothing changed behind the refusals.
    let (status, alpha) = app
        .admin(&operator, Method::GET, "/tenants/alpha", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(alpha["status"], "active");
    let (_, bravo_clients) = app
        .admin(&operator, Method::GET, "/tenants/bravo/clients", None)
        .await;
    assert_eq!(bravo_clients["items"], json!([]));
    let (status, _) = app
        .admin(&operator, Method::GET, "/tenants/charlie", None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn system_tenant_has_no_tenant_admins() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;

    let (status, body) = app
        .admin(
            &operator,
            Method::POST,
            "/tenants/system/admins",
            Some(json!({"name": "root"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
    let (status, body) = app
        .admin(
            &operator,
            Method::POST,
            "/tenants/missing/admins",
            Some(json!({"name": "ghost"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "not_found");
}

// ---------------------------------------------------------------------------------------------
// Document and request bodies

#[actix_web::test]
async fn openapi_document_is_public_and_describes_the_routes() {
    let app = spawn_app().await;

    let resp = app
        .http
        .get(format!("{}/admin/v1/openapi.json", app.address))
        .send()
        .await
        .expect("openapi.json");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .expect("Content-Type")
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = resp.json().await.expect("json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/admin/v1/tenants",
        "/admin/v1/tenants/{slug}",
        "/admin/v1/tenants/{slug}/clients",
        "/admin/v1/tenants/{slug}/clients/{client_id}",
        "/admin/v1/tenants/{slug}/scopes",
        "/admin/v1/tenants/{slug}/keys",
        "/admin/v1/tenants/{slug}/keys/rotate",
        "/admin/v1/tenants/{slug}/admins",
    ] {
        assert!(paths.contains_key(path), "{path} undocumented");
    }
}

#[actix_web::test]
async fn malformed_json_body_is_invalid_request() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let resp = raw_admin(&app, &token, Method::POST, "/tenants")
        .await
        .header(CONTENT_TYPE, "application/json")
        .body("{\"slug\": \"broken\"")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("a JSON error");
    assert_eq!(code(&body), "invalid_request");
}

#[actix_web::test]
async fn unknown_field_in_a_body_is_invalid_request() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let (status, body) = app
        .admin(
            &token,
            Method::POST,
            "/tenants",
            Some(json!({"slug": "fine", "owner": "mallory"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request");
    let (status, _) = app.admin(&token, Method::GET, "/tenants/fine", None).await;
    assert_eq!(status, 404, "the refused body created a tenant");
}

#[actix_web::test]
async fn body_with_a_wrong_content_type_is_a_json_client_error() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let resp = raw_admin(&app, &token, Method::POST, "/tenants")
        .await
        .header(CONTENT_TYPE, "text/plain")
        .body(r#"{"slug": "plain"}"#)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    assert!(status.is_client_error(), "{status}");
    let body: Value = resp.json().await.expect("a JSON error");
    assert_eq!(code(&body), "invalid_request");
    let (status, _) = app.admin(&token, Method::GET, "/tenants/plain", None).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let body = json!({"slug": "huge", "name": "n".repeat(70 * 1024)});
    let resp = raw_admin(&app, &token, Method::POST, "/tenants")
        .await
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.expect("a JSON error");
    assert!(body["error"].is_string(), "{body}");
}

#[actix_web::test]
async fn unknown_admin_route_is_json_404_and_wrong_method_is_405() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let (status, body) = app.admin(&token, Method::GET, "/tenantz", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "not_found");
    let (status, body) = app.admin(&token, Method::PUT, "/tenants", None).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(code(&body), "invalid_request");
}

/// Verifies `jwt` against the tenant's published JWKS and returns its header's `alg`.
async fn verified_alg(app: &TestApp, slug: &str, jwt: &str) -> jsonwebtoken::Algorithm {
    let jwks_url = format!("{}/jwks", app.issuer(slug));
    let key = crate::helpers::published_key(&app.http, &jwks_url, jwt).await;
    let alg = jsonwebtoken::decode_header(jwt).expect("JWS header").alg;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("verifies with the JWKS");
    alg
}

#[actix_web::test]
async fn switching_the_signing_algorithm_adds_its_ring_and_old_tokens_still_verify() {
    let app = spawn_app().await;
    let operator = app.admin_token().await;
    app.create_tenant("switch", "RS256").await;
    let client = app.create_client("switch", &[]).await;
    let before = app.client_credentials_token("switch", &client, None).await;
    assert_eq!(
        verified_alg(&app, "switch", &before).await,
        jsonwebtoken::Algorithm::RS256
    );
    let kids_before = app.jwks_kids("switch").await;

    // An algorithm the tenant cannot sign with is refused, and nothing changes.
    let (status, body) = app
        .admin(
            &operator,
            Method::PATCH,
            "/tenants/switch",
            Some(json!({"alg": "HS256"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.jwks_kids("switch").await, kids_before);

    // A tenant admin may switch its own tenant's algorithm.
    let admin = app.tenant_admin_token(&operator, "switch").await;
    let (status, body) = app
        .admin(
            &admin,
            Method::PATCH,
            "/tenants/switch",
            Some(json!({"alg": "ES256"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signing_alg"], "ES256", "{body}");
    let after = app.client_credentials_token("switch", &client, None).await;
    assert_eq!(
        verified_alg(&app, "switch", &after).await,
        jsonwebtoken::Algorithm::ES256
    );
    // The RS256 token of before still verifies: its key is still published.
    assert_eq!(
        verified_alg(&app, "switch", &before).await,
        jsonwebtoken::Algorithm::RS256
    );
    let kids_after = app.jwks_kids("switch").await;
    assert!(kids_before.iter().all(|k| kids_after.contains(k)));
    assert!(kids_after.len() > kids_before.len(), "{kids_after:?}");

    // Back to RS256: its ring exists, so no key is added.
    let (status, body) = app
        .admin(
            &admin,
            Method::PATCH,
            "/tenants/switch",
            Some(json!({"alg": "RS256"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut kids_back = app.jwks_kids("switch").await;
    let mut kids_after = kids_after;
    kids_back.sort();
    kids_after.sort();
    assert_eq!(
        kids_back, kids_after,
        "the same keys, in the primary's order"
    );
    let again = app.client_credentials_token("switch", &client, None).await;
    assert_eq!(
        verified_alg(&app, "switch", &again).await,
        jsonwebtoken::Algorithm::RS256
    );
}
