//! Resource indicators (RFC 8707) and access tokens by reference over HTTP: the resource server
//! a token is for decides its format (RFC 9068 JWT or opaque handle), lifetime, audience and
//! scopes; unknown or clashing resources are `invalid_target`; a client's default resource
//! applies when it names none; the code and refresh grants keep or narrow the authorized
//! resources; opaque user tokens unlock userinfo of their own tenant only. Also holds the
//! registration helpers the DPoP and token-exchange tests share.

use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app};

const VERIFIER: &str = "opaque-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
const ORDERS: &str = "https://api.acme.test/orders";
const BILLING: &str = "https://api.acme.test/billing";
const LEDGER: &str = "urn:acme:ledger";

/// Defines scopes in tenant `slug`.
pub(crate) async fn define_scopes(app: &TestApp, slug: &str, names: &[&str]) {
    let admin = app.admin_token().await;
    for name in names {
        let (status, body) = app
            .admin(
                &admin,
                reqwest::Method::POST,
                &format!("/tenants/{slug}/scopes"),
                Some(json!({"name": name, "description": format!("{name} access")})),
            )
            .await;
        assert_eq!(status, 201, "define scope {name}: {body}");
    }
}

/// Registers a resource server (`{identifier, name, scopes, token_format, access_token_ttl}`).
pub(crate) async fn create_resource_server(app: &TestApp, slug: &str, body: Value) {
    let admin = app.admin_token().await;
    let (status, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/resource-servers"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "create resource server: {created}");
}

/// Registers a client from a full admin API body; the secret is empty for a public client.
pub(crate) async fn register_client(app: &TestApp, slug: &str, body: Value) -> TestClient {
    let admin = app.admin_token().await;
    let (status, created) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "create client: {created}");
    TestClient {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// PATCHes a client (e.g. its `scopes` or `options`).
pub(crate) async fn patch_client(app: &TestApp, slug: &str, client_id: &str, body: Value) {
    let admin = app.admin_token().await;
    let (status, patched) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            &format!("/tenants/{slug}/clients/{client_id}"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "patch client: {patched}");
}

/// Waits until admin changes have surely reached the protocol endpoints.
pub(crate) async fn settle() {
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;
}

/// The claims of a JWT, unverified (the server's own checks are what is under test).
pub(crate) fn jwt_claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(jwt)
        .unwrap_or_else(|e| panic!("not a JWT ({e}): {jwt}"))
        .claims
}

/// A string member of a JSON body; panics naming the body when it is missing.
pub(crate) fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// Sends a token request, with Basic credentials when given; status and JSON body.
pub(crate) async fn token_request(
    app: &TestApp,
    slug: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = app.post_token(slug, basic, form).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Runs the browser part of a code flow for the fixture's user with `extra` authorization
/// parameters and returns where the user agent was sent back to (a code, or an error).
pub(crate) async fn authorize(
    app: &TestApp,
    f: &SignIn,
    scope: &str,
    verifier: &str,
    extra: &[(&str, &str)],
) -> String {
    authorize_as(&Agent::new(), app, f, scope, verifier, extra).await
}

/// [`authorize`] in the user agent `agent`, which keeps the SSO session it signs in to.
pub(crate) async fn authorize_as(
    agent: &Agent,
    app: &TestApp,
    f: &SignIn,
    scope: &str,
    verifier: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut step = agent
        .get(&f.authorize_url(app, scope, verifier, extra))
        .await;
    if let Step::Page(_, page) = &step {
        step = agent.login(page, &f.username, &f.password).await;
    }
    if let Step::Page(_, page) = &step {
        let all: Vec<&str> = scope.split(' ').collect();
        step = agent.consent(page, &all, true).await;
    }
    let location = step.location().to_owned();
    assert!(location.starts_with(&f.redirect_uri), "{location}");
    location
}

/// The code of a successful authorization.
pub(crate) async fn code(
    app: &TestApp,
    f: &SignIn,
    scope: &str,
    verifier: &str,
    extra: &[(&str, &str)],
) -> String {
    let location = authorize(app, f, scope, verifier, extra).await;
    param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

/// Redeems `code` for the fixture's confidential client with `extra` parameters.
async fn redeem(app: &TestApp, f: &SignIn, code: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", f.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    form.extend_from_slice(extra);
    token_request(
        app,
        &f.tenant,
        Some((&f.client_id, &f.client_secret)),
        &form,
    )
    .await
}

/// Refreshes for the fixture's client with `extra` parameters.
async fn refresh(
    app: &TestApp,
    f: &SignIn,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    token_request(
        app,
        &f.tenant,
        Some((&f.client_id, &f.client_secret)),
        &form,
    )
    .await
}

/// `GET /userinfo` with a bearer token; status and JSON body.
pub(crate) async fn userinfo(app: &TestApp, slug: &str, token: &str) -> (u16, Value) {
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer(slug)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Whether `token` is an opaque handle: no JWS dots and at least 256 bits in base64url.
fn is_opaque(token: &str) -> bool {
    !token.contains('.') && token.len() >= 43
}

/// A sign-in tenant with scopes `orders:read`, `orders:write` and `billing:read`, the opaque
/// API `ORDERS` (orders scopes, 600 s), the JWT API `BILLING` (billing:read, 900 s) and the
/// scopeless JWT API `LEDGER`; the fixture's client may ask for every one of those scopes.
async fn apis(app: &TestApp, slug: &str) -> SignIn {
    let f = sign_in_fixture(app, slug, true).await;
    define_scopes(app, slug, &["orders:read", "orders:write", "billing:read"]).await;
    create_resource_server(
        app,
        slug,
        json!({"identifier": ORDERS, "name": "Orders", "scopes": ["orders:read", "orders:write"],
               "token_format": "opaque", "access_token_ttl": 600}),
    )
    .await;
    create_resource_server(
        app,
        slug,
        json!({"identifier": BILLING, "name": "Billing", "scopes": ["billing:read"],
               "token_format": "jwt", "access_token_ttl": 900}),
    )
    .await;
    create_resource_server(app, slug, json!({"identifier": LEDGER, "name": "Ledger"})).await;
    patch_client(
        app,
        slug,
        &f.client_id,
        json!({"scopes": ["openid", "profile", "email", "offline_access",
                          "orders:read", "orders:write", "billing:read"]}),
    )
    .await;
    settle().await;
    f
}

#[actix_web::test]
async fn an_opaque_api_gets_opaque_tokens_with_its_lifetime_from_both_grants() {
    let app = spawn_app().await;
    let f = apis(&app, "op-format").await;
    let service = app
        .create_client("op-format", &["orders:read", "billing:read"])
        .await;
    settle().await;

    let (status, body) = token_request(
        &app,
        "op-format",
        Some((&service.id, &service.secret)),
        &[("grant_type", "client_credentials"), ("resource", ORDERS)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let handle = text(&body, "access_token");
    assert!(is_opaque(handle), "not an opaque handle: {handle}");
    assert_eq!(body["expires_in"], 600, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // Only the API's own scopes: billing:read belongs to another API.
    assert_eq!(body["scope"], "orders:read", "{body}");
    // A client's own token is for no user: userinfo refuses it.
    let (status, _) = userinfo(&app, "op-format", handle).await;
    assert_eq!(status, 401);

    let code = code(
        &app,
        &f,
        "openid profile orders:read",
        VERIFIER,
        &[("resource", ORDERS)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let handle = text(&body, "access_token").to_owned();
    assert!(is_opaque(&handle), "not an opaque handle: {handle}");
    assert_eq!(body["expires_in"], 600, "{body}");
    assert!(body["id_token"].is_string(), "{body}");
    // The opaque user token unlocks userinfo, scopes and all.
    let (status, claims) = userinfo(&app, "op-format", &handle).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(
        claims["sub"],
        jwt_claims(text(&body, "id_token"))["sub"],
        "{claims}"
    );
    assert_eq!(claims["given_name"], "Alice", "{claims}");
}

#[actix_web::test]
async fn a_jwt_api_gets_a_jwt_for_its_audience_with_only_its_scopes() {
    let app = spawn_app().await;
    let f = apis(&app, "op-jwt").await;
    let service = app
        .create_client("op-jwt", &["orders:read", "billing:read"])
        .await;
    settle().await;

    let (status, body) = token_request(
        &app,
        "op-jwt",
        Some((&service.id, &service.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read billing:read"),
            ("resource", BILLING),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], BILLING, "{claims}");
    assert_eq!(claims["scope"], "billing:read", "{claims}");
    assert_eq!(body["scope"], "billing:read", "{body}");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    // A user token keeps the OpenID Connect scopes beside the API's own.
    let code = code(
        &app,
        &f,
        "openid profile orders:read billing:read",
        VERIFIER,
        &[("resource", BILLING)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], BILLING, "{claims}");
    assert_eq!(claims["scope"], "openid profile billing:read", "{claims}");
    let (status, info) = userinfo(&app, "op-jwt", text(&body, "access_token")).await;
    assert_eq!(status, 200, "{info}");

    // A resource named twice is one audience.
    let (status, body) = token_request(
        &app,
        "op-jwt",
        Some((&service.id, &service.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", BILLING),
            ("resource", BILLING),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(text(&body, "access_token"))["aud"], BILLING);

    // An API that names no scopes filters none.
    let (status, body) = token_request(
        &app,
        "op-jwt",
        Some((&service.id, &service.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read billing:read"),
            ("resource", LEDGER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], LEDGER, "{claims}");
    assert_eq!(claims["scope"], "orders:read billing:read", "{claims}");
}

#[actix_web::test]
async fn an_unknown_resource_is_invalid_target_at_token_and_authorize() {
    let app = spawn_app().await;
    let f = apis(&app, "op-unknown").await;
    let service = app.create_client("op-unknown", &["orders:read"]).await;
    settle().await;
    for resource in [
        "https://api.other.test/",
        "not a uri",
        "https://api.acme.test/orders#x",
    ] {
        let (status, body) = token_request(
            &app,
            "op-unknown",
            Some((&service.id, &service.secret)),
            &[("grant_type", "client_credentials"), ("resource", resource)],
        )
        .await;
        assert_eq!(
            (status, text(&body, "error")),
            (400, "invalid_target"),
            "{resource}"
        );
    }

    // RFC 8707 §2: the authorization endpoint redirects the error back to the client.
    let location = authorize(
        &app,
        &f,
        "openid",
        VERIFIER,
        &[("resource", "https://api.other.test/")],
    )
    .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_target"),
        "{location}"
    );
    assert_eq!(
        param(&location, "state").as_deref(),
        Some("st-123"),
        "{location}"
    );
    assert!(param(&location, "code").is_none(), "{location}");
}

#[actix_web::test]
async fn resources_of_different_formats_in_one_request_are_invalid_target() {
    let app = spawn_app().await;
    let f = apis(&app, "op-mixed").await;
    let service = app
        .create_client("op-mixed", &["orders:read", "billing:read"])
        .await;
    settle().await;
    let (status, body) = token_request(
        &app,
        "op-mixed",
        Some((&service.id, &service.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", ORDERS),
            ("resource", BILLING),
        ],
    )
    .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );

    // Two JWT APIs share one token, with both audiences and both APIs' scopes.
    let (status, body) = token_request(
        &app,
        "op-mixed",
        Some((&service.id, &service.secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", BILLING),
            ("resource", LEDGER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], json!([BILLING, LEDGER]), "{claims}");

    // The same clash found at the token endpoint of a code flow.
    let code = code(
        &app,
        &f,
        "openid orders:read billing:read",
        VERIFIER,
        &[("resource", ORDERS), ("resource", BILLING)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );
}

#[actix_web::test]
async fn the_clients_default_resource_applies_when_it_names_none() {
    let app = spawn_app().await;
    let f = apis(&app, "op-default").await;
    let service = register_client(
        &app,
        "op-default",
        json!({"name": "Batch", "grant_types": ["client_credentials"],
               "scopes": ["orders:read", "billing:read"],
               "options": {"default_resource": ORDERS}}),
    )
    .await;
    patch_client(
        &app,
        "op-default",
        &f.client_id,
        json!({"options": {"default_resource": BILLING}}),
    )
    .await;
    settle().await;

    let (status, body) = token_request(
        &app,
        "op-default",
        Some((&service.id, &service.secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(is_opaque(text(&body, "access_token")), "{body}");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "orders:read");

    // Naming a resource overrides the default.
    let (status, body) = token_request(
        &app,
        "op-default",
        Some((&service.id, &service.secret)),
        &[("grant_type", "client_credentials"), ("resource", BILLING)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(text(&body, "access_token"))["aud"], BILLING);

    // The code flow's default: the user's token is for Billing.
    let code = code(&app, &f, "openid billing:read orders:read", VERIFIER, &[]).await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], BILLING, "{claims}");
    assert_eq!(claims["scope"], "openid billing:read", "{claims}");
    assert_eq!(body["expires_in"], 900);
}

#[actix_web::test]
async fn a_code_for_one_resource_cannot_be_redeemed_for_another() {
    let app = spawn_app().await;
    let f = apis(&app, "op-code").await;
    let code = code(
        &app,
        &f,
        "openid billing:read",
        VERIFIER,
        &[("resource", BILLING)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[("resource", LEDGER)]).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );
    // The failed attempt did not use the code up.
    let (status, body) = redeem(&app, &f, &code, &[("resource", BILLING)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(text(&body, "access_token"))["aud"], BILLING);
}

#[actix_web::test]
async fn refresh_keeps_the_authorized_resources_or_narrows_them() {
    let app = spawn_app().await;
    let f = apis(&app, "op-refresh").await;
    let code = code(
        &app,
        &f,
        "openid billing:read",
        VERIFIER,
        &[("resource", BILLING), ("resource", LEDGER)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], json!([BILLING, LEDGER]), "{claims}");
    let rt = text(&body, "refresh_token").to_owned();

    // Without resource: the same audiences.
    let (status, body) = refresh(&app, &f, &rt, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(text(&body, "access_token"))["aud"],
        json!([BILLING, LEDGER])
    );
    let rt = text(&body, "refresh_token").to_owned();

    // Narrowed to one of them.
    let (status, body) = refresh(&app, &f, &rt, &[("resource", LEDGER)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(text(&body, "access_token"))["aud"], LEDGER);
    let rt = text(&body, "refresh_token").to_owned();

    // An API the user never authorized is refused, and the refresh token still works.
    let (status, body) = refresh(&app, &f, &rt, &[("resource", ORDERS)]).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );
    let (status, body) = refresh(&app, &f, &rt, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(text(&body, "access_token"))["aud"],
        json!([BILLING, LEDGER])
    );
}

#[actix_web::test]
async fn an_opaque_token_of_one_tenant_is_refused_at_anothers_userinfo() {
    let app = spawn_app().await;
    let f = apis(&app, "op-tenant-a").await;
    app.create_tenant("op-tenant-b", "ES256").await;
    let code = code(
        &app,
        &f,
        "openid orders:read",
        VERIFIER,
        &[("resource", ORDERS)],
    )
    .await;
    let (status, body) = redeem(&app, &f, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let handle = text(&body, "access_token");
    assert!(is_opaque(handle));
    let (status, _) = userinfo(&app, "op-tenant-a", handle).await;
    assert_eq!(status, 200);
    let (status, body) = userinfo(&app, "op-tenant-b", handle).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
    // A handle that was never issued is refused too.
    let forged = format!("{}x", &handle[..handle.len() - 1]);
    let (status, _) = userinfo(&app, "op-tenant-a", &forged).await;
    assert_eq!(status, 401);
}
