//! Resource servers (APIs) and client options, managed through the admin API and the CLI:
//! create, list, read, update and delete; the validation errors; how soon the protocol endpoints
//! see a change (an unknown `resource` stops being `invalid_target`); and client options
//! (authentication method, holder-of-key, default resource, token exchange) on create and PATCH.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::agent::{Agent, Step, param, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app, within};

const ORDERS: &str = "https://api.example.com/orders";
/// [`ORDERS`] as one percent-encoded path segment.
const ORDERS_PATH: &str = "https%3A%2F%2Fapi.example.com%2Forders";

/// An admin API call with a fresh operator token.
async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = app.admin_token().await;
    app.admin(&token, method, path, body).await
}

/// A tenant with a custom `orders:read` scope.
async fn tenant(app: &TestApp, slug: &str) {
    app.create_tenant(slug, "ES256").await;
    let (status, body) = admin(
        app,
        Method::POST,
        &format!("/tenants/{slug}/scopes"),
        Some(json!({"name": "orders:read", "description": "Read your orders"})),
    )
    .await;
    assert_eq!(status, 201, "scope: {body}");
}

/// Creates a resource server that must be accepted; returns its JSON.
async fn create_api(app: &TestApp, slug: &str, body: Value) -> Value {
    let (status, created) = admin(
        app,
        Method::POST,
        &format!("/tenants/{slug}/resource-servers"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "create resource server: {created}");
    created
}

/// Registers a client that must be accepted; returns its JSON.
async fn create_client(app: &TestApp, slug: &str, body: Value) -> Value {
    let (status, created) = admin(
        app,
        Method::POST,
        &format!("/tenants/{slug}/clients"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "create client: {created}");
    created
}

/// Asserts a 400 `invalid_request` whose description contains `says`.
fn assert_invalid(status: u16, body: &Value, says: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(says),
        "`{description}` does not mention `{says}`"
    );
}

/// Standard base64 of the DER of a fresh self-signed certificate (an `x5c` entry).
fn self_signed_x5c() -> String {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "self-signed.example.com")
        .unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    STANDARD.encode(cert.build().to_der().unwrap())
}

/// Runs a CLI command that must succeed; returns its JSON output.
fn cli_ok(app: &TestApp, args: &[&str]) -> Value {
    let (success, json) = app.cli(args);
    assert!(success, "tessera {args:?} failed: {json}");
    json
}

/// Runs a CLI command that must fail; returns its error code.
fn cli_error(app: &TestApp, args: &[&str]) -> String {
    let (success, json) = app.cli(args);
    assert!(!success, "tessera {args:?} succeeded: {json}");
    json["error"].as_str().unwrap_or_default().to_owned()
}

#[actix_web::test]
async fn resource_servers_are_created_read_listed_patched_and_deleted_through_the_admin_api() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    let gateway = app.create_client("shop", &[]).await;

    // Create: 201 with the identifier percent-encoded as one segment in Location.
    let token = app.admin_token().await;
    let resp = app
        .http
        .post(format!(
            "{}/admin/v1/tenants/shop/resource-servers",
            app.address
        ))
        .bearer_auth(&token)
        .json(&json!({
            "identifier": ORDERS,
            "name": "Orders API",
            "scopes": ["orders:read", "openid"],
            "token_format": "opaque",
            "access_token_ttl": 300,
            "introspectors": [gateway.id],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/admin/v1/tenants/shop/resource-servers/{ORDERS_PATH}")
    );
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["identifier"], ORDERS);
    assert_eq!(created["name"], "Orders API");
    assert_eq!(created["token_format"], "opaque");
    assert_eq!(created["access_token_ttl"], 300);
    assert_eq!(created["introspectors"], json!([gateway.id]));
    let mut scopes: Vec<&str> = created["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["openid", "orders:read"]);

    // Read it back at its Location; a urn may stay unencoded in the path.
    let (status, shown) = admin(
        &app,
        Method::GET,
        location.trim_start_matches("/admin/v1"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown, created);
    create_api(
        &app,
        "shop",
        json!({"identifier": "urn:example:billing", "name": "Billing"}),
    )
    .await;
    let (status, billing) = admin(
        &app,
        Method::GET,
        "/tenants/shop/resource-servers/urn:example:billing",
        None,
    )
    .await;
    assert_eq!(status, 200, "{billing}");
    assert_eq!(billing["token_format"], "jwt");
    assert_eq!(billing["access_token_ttl"], Value::Null);

    let (status, list) = admin(&app, Method::GET, "/tenants/shop/resource-servers", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ORDERS, "urn:example:billing"]);

    // PATCH: absent fields stay, `null` ttl returns to the tenant's.
    let item = format!("/tenants/shop/resource-servers/{ORDERS_PATH}");
    let (status, patched) = admin(
        &app,
        Method::PATCH,
        &item,
        Some(json!({"name": "Orders", "access_token_ttl": null, "token_format": "jwt"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "Orders");
    assert_eq!(patched["access_token_ttl"], Value::Null);
    assert_eq!(patched["token_format"], "jwt");
    assert_eq!(patched["introspectors"], json!([gateway.id]));
    let (status, body) = admin(
        &app,
        Method::PATCH,
        &item,
        Some(json!({"identifier": "urn:example:renamed"})),
    )
    .await;
    assert_invalid(status, &body, "unknown field");
    let (status, body) = admin(
        &app,
        Method::PATCH,
        &item,
        Some(json!({"access_token_ttl": 30})),
    )
    .await;
    assert_invalid(status, &body, "between 60 and 86400");
    let (status, body) = admin(
        &app,
        Method::PATCH,
        "/tenants/shop/resource-servers/urn:example:nothing",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // DELETE: 204, then 404.
    let (status, _) = admin(&app, Method::DELETE, &item, None).await;
    assert_eq!(status, 204);
    let (status, body) = admin(&app, Method::GET, &item, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "not_found");
    let (status, _) = admin(&app, Method::DELETE, &item, None).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn invalid_resource_servers_are_400_and_a_taken_identifier_is_409() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    let spa = create_client(
        &app,
        "shop",
        json!({"name": "SPA", "public": true, "redirect_uris": ["http://127.0.0.1:9/cb"]}),
    )
    .await;
    let spa_id = spa["client_id"].as_str().unwrap();
    let api = |extra: Value| {
        let mut body = json!({"identifier": "urn:example:orders", "name": "Orders"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (api(json!({"identifier": "orders"})), "absolute URI"),
        (api(json!({"identifier": "/orders"})), "absolute URI"),
        (
            api(json!({"identifier": "https://api.example.com/#x"})),
            "fragment",
        ),
        (
            api(json!({"identifier": "http://api.example.com"})),
            "https URL or a urn",
        ),
        (
            api(json!({"identifier": format!("https://api.example.com/{}", "a".repeat(512))})),
            "512",
        ),
        (api(json!({"scopes": ["orders:write"]})), "not defined"),
        (
            api(json!({"introspectors": ["no-such-client"]})),
            "not a client",
        ),
        (api(json!({"introspectors": [spa_id]})), "public client"),
        (api(json!({"access_token_ttl": 59})), "between 60 and 86400"),
        (api(json!({"token_format": "paseto"})), "unknown variant"),
        (api(json!({"name": ""})), "name"),
        (api(json!({"audience": "x"})), "unknown field"),
    ];
    for (body, says) in cases {
        let (status, error) = admin(
            &app,
            Method::POST,
            "/tenants/shop/resource-servers",
            Some(body.clone()),
        )
        .await;
        assert_invalid(status, &error, says);
    }
    let (_, list) = admin(&app, Method::GET, "/tenants/shop/resource-servers", None).await;
    assert_eq!(list["items"], json!([]), "a refused request stored nothing");

    create_api(&app, "shop", api(json!({}))).await;
    let (status, body) = admin(
        &app,
        Method::POST,
        "/tenants/shop/resource-servers",
        Some(api(json!({"name": "Again"}))),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");

    let (status, _) = admin(
        &app,
        Method::POST,
        "/tenants/nope/resource-servers",
        Some(api(json!({}))),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &app,
        Method::GET,
        "/tenants/shop/resource-servers/urn:example:unknown",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_resource_server_that_is_a_clients_default_resource_cannot_be_deleted() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    create_api(
        &app,
        "shop",
        json!({"identifier": ORDERS, "name": "Orders"}),
    )
    .await;
    create_api(
        &app,
        "shop",
        json!({"identifier": "urn:example:billing", "name": "Billing"}),
    )
    .await;
    let client = create_client(
        &app,
        "shop",
        json!({"name": "svc", "options": {
            "default_resource": ORDERS,
            "token_exchange": {"audiences": ["urn:example:billing"]},
        }}),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap();
    for item in [ORDERS_PATH, "urn:example:billing"] {
        let (status, body) = admin(
            &app,
            Method::DELETE,
            &format!("/tenants/shop/resource-servers/{item}"),
            None,
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"], "conflict");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("default_resource"),
            "{body}"
        );
    }
    // Once the client names neither, both can go.
    let (status, body) = admin(
        &app,
        Method::PATCH,
        &format!("/tenants/shop/clients/{client_id}"),
        Some(json!({"options": {}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["options"]["default_resource"], Value::Null);
    for item in [ORDERS_PATH, "urn:example:billing"] {
        let (status, body) = admin(
            &app,
            Method::DELETE,
            &format!("/tenants/shop/resource-servers/{item}"),
            None,
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
}

/// Whether an authorization request naming `resource` is refused as `invalid_target` (rather
/// than reaching the login page).
async fn is_invalid_target(url: &str) -> bool {
    match Agent::new().get(url).await {
        Step::Redirect(location) => param(&location, "error").as_deref() == Some("invalid_target"),
        Step::Page(status, body) => {
            assert_eq!(status, 200, "authorize: {body}");
            false
        }
    }
}

#[actix_web::test]
async fn a_resource_server_created_with_the_cli_is_a_valid_target_within_a_second() {
    let app = spawn_app().await;
    let fixture = sign_in_fixture(&app, "shop", true).await;
    let verifier = "v".repeat(43);
    let url = fixture.authorize_url(&app, "openid", &verifier, &[("resource", ORDERS)]);
    assert!(is_invalid_target(&url).await, "an unknown resource");

    cli_ok(
        &app,
        &["resource", "create", "shop", ORDERS, "--name", "Orders"],
    );
    let took = within(PROPAGATION, || async { !is_invalid_target(&url).await }).await;
    assert!(
        took.is_some(),
        "the new resource server was not seen within 1 s"
    );

    // And deleting it makes it an invalid target again.
    cli_ok(&app, &["resource", "delete", "shop", ORDERS]);
    let took = within(PROPAGATION, || async { is_invalid_target(&url).await }).await;
    assert!(took.is_some(), "the deletion was not seen within 1 s");
}

#[actix_web::test]
async fn resource_servers_are_managed_with_the_cli() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    let gateway = app.create_client("shop", &[]).await;

    let created = cli_ok(
        &app,
        &[
            "resource",
            "create",
            "shop",
            ORDERS,
            "--name",
            "Orders",
            "--scope",
            "orders:read",
            "--token-format",
            "opaque",
            "--ttl",
            "300",
            "--introspector",
            &gateway.id,
        ],
    );
    assert_eq!(created["identifier"], ORDERS);
    assert_eq!(created["scopes"], json!(["orders:read"]));
    assert_eq!(created["token_format"], "opaque");
    assert_eq!(created["access_token_ttl"], 300);
    assert_eq!(created["introspectors"], json!([gateway.id]));
    // The admin API sees what the CLI stored.
    let (status, shown) = admin(
        &app,
        Method::GET,
        &format!("/tenants/shop/resource-servers/{ORDERS_PATH}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown, created);
    assert_eq!(cli_ok(&app, &["resource", "show", "shop", ORDERS]), created);

    cli_ok(
        &app,
        &[
            "resource",
            "create",
            "shop",
            "urn:example:billing",
            "--name",
            "Billing",
        ],
    );
    let list = cli_ok(&app, &["resource", "list", "shop"]);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ORDERS, "urn:example:billing"]);

    let updated = cli_ok(
        &app,
        &[
            "resource",
            "update",
            "shop",
            ORDERS,
            "--name",
            "Orders v2",
            "--tenant-ttl",
            "--no-introspectors",
        ],
    );
    assert_eq!(updated["name"], "Orders v2");
    assert_eq!(updated["access_token_ttl"], Value::Null);
    assert_eq!(updated["introspectors"], json!([]));
    assert_eq!(updated["token_format"], "opaque");

    // Errors carry the admin API's codes.
    assert_eq!(
        cli_error(
            &app,
            &["resource", "create", "shop", "orders", "--name", "x"]
        ),
        "invalid_request"
    );
    assert_eq!(
        cli_error(&app, &["resource", "create", "shop", ORDERS, "--name", "x"]),
        "conflict"
    );
    assert_eq!(
        cli_error(
            &app,
            &[
                "resource", "create", "shop", "urn:x:y", "--name", "x", "--scope", "nope"
            ]
        ),
        "invalid_request"
    );
    assert_eq!(
        cli_error(&app, &["resource", "show", "shop", "urn:x:none"]),
        "not_found"
    );

    // A default resource cannot be deleted until its client lets go of it.
    let client = cli_ok(
        &app,
        &[
            "client",
            "create",
            "shop",
            "--name",
            "svc",
            "--default-resource",
            ORDERS,
        ],
    );
    let client_id = client["client_id"].as_str().unwrap();
    assert_eq!(
        cli_error(&app, &["resource", "delete", "shop", ORDERS]),
        "conflict"
    );
    let options = app.data_dir.path().join("options.json");
    std::fs::write(&options, "{}").unwrap();
    let updated = cli_ok(
        &app,
        &[
            "client",
            "update",
            "shop",
            client_id,
            "--options-file",
            options.to_str().unwrap(),
        ],
    );
    assert_eq!(updated["options"]["default_resource"], Value::Null);
    assert_eq!(
        cli_ok(&app, &["resource", "delete", "shop", ORDERS])["deleted"],
        ORDERS
    );
    assert_eq!(
        cli_error(&app, &["resource", "delete", "shop", ORDERS]),
        "not_found"
    );
}

#[actix_web::test]
async fn client_options_round_trip_through_the_admin_api() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    create_api(
        &app,
        "shop",
        json!({"identifier": ORDERS, "name": "Orders"}),
    )
    .await;
    let options = json!({
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=payments.example.com,O=Example Bank,C=SE",
        "tls_client_certificate_bound_access_tokens": true,
        "require_dpop": true,
        "default_resource": ORDERS,
        "token_exchange": {
            "audiences": [ORDERS],
            "subject_token_types": ["urn:ietf:params:oauth:token-type:access_token"],
            "allow_delegation": true,
        },
    });
    let created = create_client(
        &app,
        "shop",
        json!({"name": "payments", "token_format": "opaque", "options": options}),
    )
    .await;
    assert_eq!(created["options"], options);
    // Opaque access tokens are served now, so the format is accepted.
    assert_eq!(created["token_format"], "opaque");
    let client_id = created["client_id"].as_str().unwrap();
    let (status, shown) = admin(
        &app,
        Method::GET,
        &format!("/tenants/shop/clients/{client_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown["options"], options);
    assert_eq!(shown["token_format"], "opaque");

    // A self-signed TLS client registers its certificate in jwks.
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x5c": [self_signed_x5c()]}]});
    let created = create_client(
        &app,
        "shop",
        json!({"name": "device", "options": {
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "jwks": jwks,
        }}),
    )
    .await;
    assert_eq!(created["options"]["jwks"], jwks);

    // A public client may say `none` explicitly.
    let created = create_client(
        &app,
        "shop",
        json!({"name": "spa", "public": true, "redirect_uris": ["http://127.0.0.1:9/cb"],
               "options": {"token_endpoint_auth_method": "none", "require_dpop": true}}),
    )
    .await;
    assert_eq!(created["options"]["require_dpop"], true);
}

#[actix_web::test]
async fn invalid_client_options_are_refused_with_400_and_a_reason() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    let spa = |options: Value| {
        json!({"name": "spa", "public": true, "redirect_uris": ["http://127.0.0.1:9/cb"],
               "options": options})
    };
    let svc = |options: Value| json!({"name": "svc", "options": options});
    let cases = [
        (
            spa(json!({"token_endpoint_auth_method": "tls_client_auth"})),
            "public client",
        ),
        (
            spa(json!({"token_endpoint_auth_method": "client_secret_basic"})),
            "public client",
        ),
        (
            svc(json!({"token_endpoint_auth_method": "none"})),
            "confidential",
        ),
        (
            svc(json!({"token_endpoint_auth_method": "tls_client_auth"})),
            "tls_client_auth_subject_dn",
        ),
        (
            svc(json!({"tls_client_auth_subject_dn": "CN=x"})),
            "only with",
        ),
        (
            svc(json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"})),
            "x5c",
        ),
        (
            svc(
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
                       "jwks": {"keys": [{"kty": "EC", "x5c": ["bm90IGEgY2VydA=="]}]}}),
            ),
            "X.509",
        ),
        (svc(json!({"jwks": [{"kty": "EC"}]})), "JWK Set"),
        (
            svc(json!({"jwks": {"keys": [{"kty": "EC", "d": "c2VjcmV0"}]}})),
            "private member `d`",
        ),
        (
            svc(json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}})),
            "private member `k`",
        ),
        (
            svc(json!({"default_resource": ORDERS})),
            "not a resource server",
        ),
        (
            svc(json!({"token_exchange": {"audiences": ["urn:example:nothing"]}})),
            "not a resource server",
        ),
        (
            svc(json!({"token_exchange": {"subject_token_types": ["urn:example:saml"]}})),
            "unknown subject token type",
        ),
        (
            svc(json!({"token_endpoint_auth_method": "client_secret_magic"})),
            "unknown variant",
        ),
        (
            svc(json!({"token_endpoint_auth_method": "private_key_jwt"})),
            "jwks or jwks_uri",
        ),
        (svc(json!({"dpop": true})), "unknown field"),
    ];
    for (body, says) in cases {
        let (status, error) = admin(
            &app,
            Method::POST,
            "/tenants/shop/clients",
            Some(body.clone()),
        )
        .await;
        assert_invalid(status, &error, says);
    }
    let (_, list) = admin(&app, Method::GET, "/tenants/shop/clients", None).await;
    assert_eq!(list["items"], json!([]), "a refused request stored nothing");
}

#[actix_web::test]
async fn patching_a_client_reaches_the_token_endpoint_within_a_second() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    let client: TestClient = app.create_client("shop", &["orders:read"]).await;
    let path = format!("/tenants/shop/clients/{}", client.id);
    let basic = || async {
        app.post_token(
            "shop",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
        .status()
        .as_u16()
    };
    assert_eq!(basic().await, 200);

    // Only client_secret_post from now on: Basic authentication stops working.
    let (status, patched) = admin(
        &app,
        Method::PATCH,
        &path,
        Some(json!({
            "name": "renamed",
            "token_format": "opaque",
            "options": {"token_endpoint_auth_method": "client_secret_post"},
        })),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["token_format"], "opaque");
    assert_eq!(
        patched["options"]["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let took = within(PROPAGATION, || async { basic().await == 401 }).await;
    assert!(
        took.is_some(),
        "the new auth method was not enforced within 1 s"
    );

    // Refused patches change nothing.
    for (body, says) in [
        (json!({"scopes": ["orders:write"]}), "not defined"),
        (
            json!({"options": {"token_endpoint_auth_method": "none"}}),
            "confidential",
        ),
        (json!({"client_type": "public"}), "unknown field"),
        (json!({"redirect_uris": ["not a uri"]}), ""),
    ] {
        let (status, error) = admin(&app, Method::PATCH, &path, Some(body)).await;
        assert_invalid(status, &error, says);
    }
    let (_, shown) = admin(&app, Method::GET, &path, None).await;
    assert_eq!(shown, patched);

    let (status, _) = admin(
        &app,
        Method::PATCH,
        "/tenants/shop/clients/no-such-client",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn client_options_are_set_with_cli_flags() {
    let app = spawn_app().await;
    tenant(&app, "shop").await;
    cli_ok(
        &app,
        &["resource", "create", "shop", ORDERS, "--name", "Orders"],
    );
    let created = cli_ok(
        &app,
        &[
            "client",
            "create",
            "shop",
            "--name",
            "payments",
            "--token-format",
            "opaque",
            "--auth-method",
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=payments.example.com,O=Example Bank,C=SE",
            "--cert-bound",
            "--require-dpop",
            "--default-resource",
            ORDERS,
            "--exchange-audience",
            ORDERS,
            "--exchange-subject-type",
            "urn:ietf:params:oauth:token-type:access_token",
            "--exchange-subject-type",
            "urn:ietf:params:oauth:token-type:jwt",
            "--allow-delegation",
        ],
    );
    assert_eq!(created["token_format"], "opaque");
    assert_eq!(
        created["options"],
        json!({
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "CN=payments.example.com,O=Example Bank,C=SE",
            "tls_client_certificate_bound_access_tokens": true,
            "require_dpop": true,
            "default_resource": ORDERS,
            "token_exchange": {
                "audiences": [ORDERS],
                "subject_token_types": [
                    "urn:ietf:params:oauth:token-type:access_token",
                    "urn:ietf:params:oauth:token-type:jwt",
                ],
                "allow_delegation": true,
            },
        })
    );

    let jwks = json!({"keys": [{"kty": "EC", "x5c": [self_signed_x5c()]}]});
    let jwks_file = app.data_dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let created = cli_ok(
        &app,
        &[
            "client",
            "create",
            "shop",
            "--name",
            "device",
            "--auth-method",
            "self_signed_tls_client_auth",
            "--jwks-file",
            jwks_file.to_str().unwrap(),
        ],
    );
    assert_eq!(created["options"]["jwks"], jwks);

    for args in [
        &["--auth-method", "tls_client_auth"][..],
        &["--auth-method", "bogus"],
        &["--auth-method", "none"],
        &["--default-resource", "urn:example:nothing"],
        &["--exchange-subject-type", "urn:example:saml"],
        &["--jwks-file", "/nonexistent/jwks.json"],
    ] {
        let mut full = vec!["client", "create", "shop", "--name", "bad"];
        full.extend_from_slice(args);
        assert_eq!(cli_error(&app, &full), "invalid_request", "{args:?}");
    }
}

/// The RFC 9728 metadata URL of `identifier` at tenant `slug`.
fn metadata_url(app: &TestApp, slug: &str, identifier: &str) -> String {
    let encoded: String = identifier
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{}/resource-metadata/{encoded}", app.issuer(slug))
}

#[actix_web::test]
async fn each_resource_server_has_protected_resource_metadata() {
    let app = spawn_app().await;
    tenant(&app, "prm").await;
    tenant(&app, "prm-other").await;
    let identifier = "https://api.example.com/orders";
    create_api(
        &app,
        "prm",
        json!({"identifier": identifier, "name": "Orders API", "scopes": ["orders:read"]}),
    )
    .await;
    let found = within(PROPAGATION, || async {
        let resp = app
            .http
            .get(metadata_url(&app, "prm", identifier))
            .send()
            .await
            .unwrap();
        resp.status() == 200
    })
    .await;
    assert!(
        found.is_some(),
        "the metadata appears within {PROPAGATION:?}"
    );
    let resp = app
        .http
        .get(metadata_url(&app, "prm", identifier))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let doc: Value = resp.json().await.unwrap();
    // RFC 9728 §2, §3.3: `resource` is the identifier itself; the tenant is its server.
    assert_eq!(doc["resource"], identifier);
    assert_eq!(doc["authorization_servers"], json!([app.issuer("prm")]));
    assert_eq!(doc["scopes_supported"], json!(["orders:read"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["resource_name"], "Orders API");
    assert!(
        doc["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("ES256"))),
        "{doc}"
    );
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], false);

    // Not a resource server of this tenant (nor of another one): 404.
    for (slug, id) in [
        ("prm", "https://api.example.com/unknown"),
        ("prm-other", identifier),
    ] {
        let resp = app
            .http
            .get(metadata_url(&app, slug, id))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{slug} {id}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}
