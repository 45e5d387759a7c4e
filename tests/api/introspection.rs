//! The introspection endpoint (RFC 7662, RFC 9701): who may introspect, what an active access or
//! refresh token is described with (the same for JWT and opaque forms), what is inactive
//! (expired, rotated, another tenant's, not the caller's), signed JWT responses, and the request
//! rules shared with the token endpoint.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{PROPAGATION, TestApp, TestClient, spawn_app};

/// The scope the client-credentials tests use.
pub const READ: &str = "orders:read";
/// The API the resource-server tests register.
pub const ORDERS_API: &str = "https://api.example.com/orders";
/// PKCE verifier of the code flows.
pub const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

/// POSTs a form to `/t/{slug}/{endpoint}` with optional Basic credentials.
pub async fn post_form(
    app: &TestApp,
    slug: &str,
    endpoint: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/{endpoint}", app.issuer(slug)))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("request")
}

/// Introspects `token` as `client` with `extra` parameters; asserts 200, JSON and no-store.
pub async fn introspect(
    app: &TestApp,
    slug: &str,
    client: (&str, &str),
    token: &str,
    extra: &[(&str, &str)],
) -> Value {
    let mut form = vec![("token", token)];
    form.extend_from_slice(extra);
    let resp = post_form(app, slug, "introspect", Some(client), &form).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    resp.json().await.expect("JSON introspection response")
}

/// Whether `token` is active for `client`.
pub async fn is_active(app: &TestApp, slug: &str, client: &TestClient, token: &str) -> bool {
    let body = introspect(app, slug, (&client.id, &client.secret), token, &[]).await;
    body["active"]
        .as_bool()
        .unwrap_or_else(|| panic!("no active in {body}"))
}

/// Registers a client through the admin API with `body`.
pub async fn register_client(app: &TestApp, slug: &str, body: Value) -> TestClient {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "client: {body}");
    TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A confidential client-credentials client allowed `READ`, issued tokens in `format`.
pub async fn service_client(app: &TestApp, slug: &str, format: &str) -> TestClient {
    register_client(
        app,
        slug,
        json!({"name": "service", "grant_types": ["client_credentials"], "scopes": [READ],
               "token_format": format}),
    )
    .await
}

/// A public code-flow client (no secret).
pub async fn public_client(app: &TestApp, slug: &str) -> TestClient {
    register_client(
        app,
        slug,
        json!({"name": "SPA", "public": true, "grant_types": ["authorization_code"],
               "redirect_uris": ["http://127.0.0.1:9/spa"], "scopes": ["openid"]}),
    )
    .await
}

/// Creates tenant `slug` of `alg` with the `READ` scope.
pub async fn tenant(app: &TestApp, slug: &str, alg: &str) {
    app.create_tenant(slug, alg).await;
    define_read(app, slug).await;
}

/// Defines the `READ` scope in tenant `slug`.
pub async fn define_read(app: &TestApp, slug: &str) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/scopes"),
            Some(json!({"name": READ, "description": "Read orders"})),
        )
        .await;
    assert_eq!(status, 201, "scope: {body}");
}

/// A client-credentials token for `client`, with `extra` parameters (e.g. `resource`).
pub async fn service_token(
    app: &TestApp,
    slug: &str,
    client: &TestClient,
    extra: &[(&str, &str)],
) -> String {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", READ)];
    form.extend_from_slice(extra);
    let resp = app
        .post_token(slug, Some((&client.id, &client.secret)), &form)
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "token: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Registers `identifier` as a resource server of `slug`, its tokens in `format`, introspectable
/// by `introspectors`.
pub async fn register_api(
    app: &TestApp,
    slug: &str,
    identifier: &str,
    format: &str,
    introspectors: &[&str],
) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/resource-servers"),
            Some(
                json!({"identifier": identifier, "name": "Orders", "scopes": [READ],
                        "token_format": format, "introspectors": introspectors}),
            ),
        )
        .await;
    assert_eq!(status, 201, "resource server: {body}");
}

/// The fixture's tenant, client and user after one code flow: its first token response.
pub async fn signed_in(app: &TestApp, slug: &str) -> (SignIn, Value) {
    let f = sign_in_fixture(app, slug, true).await;
    let (_, code) = f.code(app, "openid email", VERIFIER).await;
    let (status, tokens) = f.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    (f, tokens)
}

/// Redeems `refresh_token` as the fixture's client: status and body.
pub async fn refresh(app: &TestApp, f: &SignIn, refresh_token: &str) -> (u16, Value) {
    let resp = app
        .post_token(
            &f.tenant,
            Some((&f.client_id, &f.client_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Switches the fixture's client to opaque access tokens and waits for it to take effect.
pub async fn make_opaque(app: &TestApp, f: &SignIn) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            &format!("/tenants/{}/clients/{}", f.tenant, f.client_id),
            Some(json!({"token_format": "opaque"})),
        )
        .await;
    assert_eq!(status, 200, "patch client: {body}");
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;
}

/// The fixture client's credentials.
pub fn fixture_client(f: &SignIn) -> TestClient {
    TestClient {
        id: f.client_id.clone(),
        secret: f.client_secret.clone(),
    }
}

/// Runs one SQL statement on the app's database.
pub async fn sql(app: &TestApp, statement: &str) {
    let db = Database::connect(&app.database_url).await.unwrap();
    db.execute_unprepared(statement).await.unwrap();
    db.close().await.ok();
}

/// The sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[actix_web::test]
async fn opaque_client_credentials_token_is_active_with_its_claims() {
    let app = spawn_app().await;
    tenant(&app, "intro", "ES256").await;
    let client = service_client(&app, "intro", "opaque").await;
    let token = service_token(&app, "intro", &client, &[]).await;
    assert!(!token.contains('.'), "an opaque handle, not a JWT");

    let body = introspect(&app, "intro", (&client.id, &client.secret), &token, &[]).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["sub"], client.id.as_str());
    assert_eq!(body["scope"], READ);
    assert_eq!(body["iss"], app.issuer("intro"));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["aud"].is_string(), "{body}");
    assert!(body["jti"].is_string(), "{body}");
    let (iat, exp) = (body["iat"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 600, "the tenant's default lifetime");
    assert!(body.get("username").is_none(), "no user: {body}");
    for private in ["gid", "userinfo_claims"] {
        assert!(body.get(private).is_none(), "{private} leaked: {body}");
    }

    // A wrong hint is only a hint (RFC 7662 §2.1).
    let hinted = introspect(
        &app,
        "intro",
        (&client.id, &client.secret),
        &token,
        &[("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(hinted, body);
    let unknown_hint = introspect(
        &app,
        "intro",
        (&client.id, &client.secret),
        &token,
        &[("token_type_hint", "id_token")],
    )
    .await;
    assert_eq!(unknown_hint, body);

    // client_secret_post authenticates as well as Basic.
    let resp = post_form(
        &app,
        "intro",
        "introspect",
        None,
        &[
            ("token", &token),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), body);
}

#[actix_web::test]
async fn tokens_of_one_tenant_are_inactive_at_another() {
    let app = spawn_app().await;
    tenant(&app, "alpha", "ES256").await;
    tenant(&app, "beta", "ES256").await;
    let alpha_opaque = service_client(&app, "alpha", "opaque").await;
    let alpha_jwt = service_client(&app, "alpha", "jwt").await;
    let beta = service_client(&app, "beta", "opaque").await;
    let opaque = service_token(&app, "alpha", &alpha_opaque, &[]).await;
    let jwt = service_token(&app, "alpha", &alpha_jwt, &[]).await;
    assert!(is_active(&app, "alpha", &alpha_opaque, &opaque).await);
    assert!(is_active(&app, "alpha", &alpha_jwt, &jwt).await);

    // Beta's client asks beta about alpha's tokens: unknown there.
    for token in [&opaque, &jwt] {
        let body = introspect(&app, "beta", (&beta.id, &beta.secret), token, &[]).await;
        assert_eq!(body, json!({"active": false}));
    }
    // Alpha's client is no client of beta.
    let resp = post_form(
        &app,
        "beta",
        "introspect",
        Some((&alpha_opaque.id, &alpha_opaque.secret)),
        &[("token", &opaque)],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 401);
}

#[actix_web::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let app = spawn_app().await;
    tenant(&app, "guard", "ES256").await;
    let client = service_client(&app, "guard", "opaque").await;
    let token = service_token(&app, "guard", &client, &[]).await;

    let anonymous = post_form(&app, "guard", "introspect", None, &[("token", &token)]).await;
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key(WWW_AUTHENTICATE));
    assert_eq!(anonymous.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(TestApp::oauth_error(anonymous).await, "invalid_client");

    let wrong = post_form(
        &app,
        "guard",
        "introspect",
        Some((&client.id, "not-the-secret")),
        &[("token", &token)],
    )
    .await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(wrong).await, "invalid_client");

    // A confidential client sending only its id has not authenticated.
    let id_only = post_form(
        &app,
        "guard",
        "introspect",
        None,
        &[("token", &token), ("client_id", &client.id)],
    )
    .await;
    assert_eq!(id_only.status().as_u16(), 401);

    // A public client cannot authenticate, so it may not introspect.
    let spa = public_client(&app, "guard").await;
    let public = post_form(
        &app,
        "guard",
        "introspect",
        None,
        &[("token", &token), ("client_id", &spa.id)],
    )
    .await;
    assert_eq!(public.status().as_u16(), 401);
    assert_eq!(TestApp::oauth_error(public).await, "invalid_client");
}

#[actix_web::test]
async fn only_the_tokens_client_and_listed_introspectors_may_see_it() {
    let app = spawn_app().await;
    tenant(&app, "rs", "ES256").await;
    let owner = service_client(&app, "rs", "jwt").await;
    let gateway = service_client(&app, "rs", "jwt").await;
    let stranger = service_client(&app, "rs", "jwt").await;
    register_api(&app, "rs", ORDERS_API, "opaque", &[&gateway.id]).await;

    let for_api = service_token(&app, "rs", &owner, &[("resource", ORDERS_API)]).await;
    assert!(!for_api.contains('.'), "the API takes opaque tokens");
    let by_owner = introspect(&app, "rs", (&owner.id, &owner.secret), &for_api, &[]).await;
    assert_eq!(by_owner["active"], true);
    assert_eq!(by_owner["aud"], ORDERS_API);
    let by_gateway = introspect(&app, "rs", (&gateway.id, &gateway.secret), &for_api, &[]).await;
    assert_eq!(
        by_gateway, by_owner,
        "the introspector sees what the owner sees"
    );
    let by_stranger = introspect(&app, "rs", (&stranger.id, &stranger.secret), &for_api, &[]).await;
    assert_eq!(by_stranger, json!({"active": false}));

    // A token for another audience is none of the gateway's business.
    let plain = service_token(&app, "rs", &owner, &[]).await;
    assert!(is_active(&app, "rs", &owner, &plain).await);
    assert!(!is_active(&app, "rs", &gateway, &plain).await);
}

#[actix_web::test]
async fn expired_opaque_token_is_inactive() {
    let app = spawn_app().await;
    tenant(&app, "exp", "ES256").await;
    let client = service_client(&app, "exp", "opaque").await;
    let token = service_token(&app, "exp", &client, &[]).await;
    let other = service_token(&app, "exp", &client, &[]).await;

    // Age the first token past its expiry, as time would. (A node's cached answer about an
    // active token never outlives the token's `exp`; this one was never looked up yet.)
    sql(
        &app,
        &format!(
            "UPDATE access_tokens SET expires_at = issued_at - 1 WHERE token_hash = '{}'",
            tessera_core::secret::sha256_hex(&token)
        ),
    )
    .await;
    assert!(!is_active(&app, "exp", &client, &token).await);
    assert!(is_active(&app, "exp", &client, &other).await);
}

#[actix_web::test]
async fn user_access_tokens_by_value_and_by_reference_have_the_same_shape() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "users").await;
    let client = fixture_client(&f);
    let jwt = first["access_token"].as_str().unwrap();
    assert!(jwt.contains('.'), "JWT access tokens by default");

    let by_value = introspect(&app, "users", (&client.id, &client.secret), jwt, &[]).await;
    assert_eq!(by_value["active"], true, "{by_value}");
    assert_eq!(by_value["username"], "alice");
    assert_eq!(by_value["client_id"], f.client_id.as_str());
    assert_eq!(by_value["scope"], "openid email");
    assert_eq!(by_value["token_type"], "Bearer");
    assert!(by_value["sub"].as_str().is_some_and(|s| s != f.client_id));
    for claim in ["auth_time", "amr", "sid", "iat", "exp", "jti", "aud", "iss"] {
        assert!(by_value.get(claim).is_some(), "no {claim} in {by_value}");
    }
    for private in ["gid", "userinfo_claims"] {
        assert!(
            by_value.get(private).is_none(),
            "{private} leaked: {by_value}"
        );
    }

    make_opaque(&app, &f).await;
    let (status, second) = refresh(&app, &f, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{second}");
    let opaque = second["access_token"].as_str().unwrap();
    assert!(!opaque.contains('.'), "now an opaque handle");
    let by_reference = introspect(&app, "users", (&client.id, &client.secret), opaque, &[]).await;
    assert_eq!(by_reference["active"], true, "{by_reference}");
    assert_eq!(keys(&by_reference), keys(&by_value));
    for same in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "username",
        "auth_time",
        "amr",
        "sid",
        "token_type",
    ] {
        assert_eq!(by_reference[same], by_value[same], "{same}");
    }
    assert_ne!(by_reference["jti"], by_value["jti"]);
}

#[actix_web::test]
async fn refresh_token_is_active_for_its_client_until_rotated() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "rt").await;
    let client = fixture_client(&f);
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let access = introspect(
        &app,
        "rt",
        (&client.id, &client.secret),
        first["access_token"].as_str().unwrap(),
        &[],
    )
    .await;

    for hint in [
        &[][..],
        &[("token_type_hint", "refresh_token")][..],
        &[("token_type_hint", "access_token")][..],
    ] {
        let body = introspect(&app, "rt", (&client.id, &client.secret), &r1, hint).await;
        assert_eq!(body["active"], true, "{body}");
        assert_eq!(body["token_type"], "refresh_token");
        assert_eq!(body["client_id"], f.client_id.as_str());
        assert_eq!(body["sub"], access["sub"]);
        assert_eq!(body["scope"], "openid email");
        assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    }

    // Another client of the tenant may not see it.
    define_read(&app, "rt").await;
    let other = service_client(&app, "rt", "jwt").await;
    let hidden = introspect(&app, "rt", (&other.id, &other.secret), &r1, &[]).await;
    assert_eq!(hidden, json!({"active": false}));

    // Rotated (no grace window by default): dead; its successor is active.
    let (status, second) = refresh(&app, &f, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert!(!is_active(&app, "rt", &client, &r1).await);
    assert!(is_active(&app, "rt", &client, r2).await);

    // Expired: dead.
    sql(&app, "UPDATE refresh_tokens SET expires_at = issued_at - 1").await;
    assert!(!is_active(&app, "rt", &client, r2).await);
}

/// Asks for a JWT response and verifies it against the tenant's JWKS: `typ`, `iss`, `aud` (the
/// caller), `iat`; returns `token_introspection`.
async fn introspect_as_jwt(
    app: &TestApp,
    slug: &str,
    client: &TestClient,
    token: &str,
    alg: Algorithm,
) -> Value {
    let resp = app
        .http
        .post(format!("{}/introspect", app.issuer(slug)))
        .basic_auth(&client.id, Some(&client.secret))
        .header(ACCEPT, "application/token-introspection+jwt")
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "application/token-introspection+jwt"
    );
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let jwt = resp.text().await.unwrap();

    let jwks: JwkSet = app
        .http
        .get(format!("{}/jwks", app.issuer(slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
    assert_eq!(header.alg, alg);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[app.issuer(slug)]);
    validation.set_audience(&[&client.id]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_exp = false;
    let data = decode::<Value>(&jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("introspection JWT does not verify: {e:?}"));
    assert!(data.claims["iat"].is_i64());
    data.claims["token_introspection"].clone()
}

#[actix_web::test]
async fn jwt_responses_are_signed_by_the_tenant_for_the_caller() {
    let app = spawn_app().await;
    for (slug, alg, algorithm) in [
        ("rsa", "RS256", Algorithm::RS256),
        ("ec", "ES256", Algorithm::ES256),
    ] {
        tenant(&app, slug, alg).await;
        let client = service_client(&app, slug, "opaque").await;
        let token = service_token(&app, slug, &client, &[]).await;
        let plain = introspect(&app, slug, (&client.id, &client.secret), &token, &[]).await;
        let inner = introspect_as_jwt(&app, slug, &client, &token, algorithm).await;
        assert_eq!(inner, plain, "the JWT carries the JSON response");
        assert_eq!(inner["active"], true);
        let inactive = introspect_as_jwt(&app, slug, &client, "no-such-token", algorithm).await;
        assert_eq!(inactive, json!({"active": false}));
    }
}

#[actix_web::test]
async fn malformed_requests_are_refused_as_at_the_token_endpoint() {
    let app = spawn_app().await;
    tenant(&app, "bad", "ES256").await;
    let client = service_client(&app, "bad", "opaque").await;
    let basic = Some((client.id.as_str(), client.secret.as_str()));
    let url = format!("{}/introspect", app.issuer("bad"));

    let json_body = app
        .http
        .post(&url)
        .basic_auth(&client.id, Some(&client.secret))
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(json_body).await, "invalid_request");

    let big = "a".repeat(17 * 1024);
    let too_large = post_form(&app, "bad", "introspect", basic, &[("token", &big)]).await;
    assert_eq!(too_large.status().as_u16(), 413);
    assert_eq!(TestApp::oauth_error(too_large).await, "invalid_request");

    let repeated = post_form(
        &app,
        "bad",
        "introspect",
        basic,
        &[("token", "a"), ("token", "b")],
    )
    .await;
    assert_eq!(repeated.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(repeated).await, "invalid_request");

    let missing = post_form(&app, "bad", "introspect", basic, &[]).await;
    assert_eq!(missing.status().as_u16(), 400);
    assert_eq!(TestApp::oauth_error(missing).await, "invalid_request");

    let long = "z".repeat(4000);
    for garbage in ["not a token", "a.b.c", "x", long.as_str()] {
        let body = introspect(&app, "bad", (&client.id, &client.secret), garbage, &[]).await;
        assert_eq!(body, json!({"active": false}), "{garbage}");
    }
}

#[actix_web::test]
async fn rotated_refresh_token_is_active_while_the_grace_window_would_accept_it() {
    let app = spawn_app().await;
    let (f, first) = signed_in(&app, "grace").await;
    let client = fixture_client(&f);
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            "/tenants/grace/settings",
            Some(json!({"tokens": {"rotation_grace_secs": 30, "rotation_grace_count": 1}})),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
    actix_web::rt::time::sleep(PROPAGATION + std::time::Duration::from_millis(300)).await;

    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, _) = refresh(&app, &f, r1).await;
    assert_eq!(status, 200);
    // Rotated, but one more use inside the window is allowed: still active.
    assert!(is_active(&app, "grace", &client, r1).await);
    let (status, _) = refresh(&app, &f, r1).await;
    assert_eq!(status, 200, "the grace use");
    // The allowance is spent: dead.
    assert!(!is_active(&app, "grace", &client, r1).await);
}

/// How many change-feed entries say that tokens of a tenant were revoked.
async fn revocation_signals(app: &TestApp) -> i64 {
    let db = Database::connect(&app.database_url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM change_feed WHERE what = 'tokens-revoked'",
        ))
        .await
        .unwrap()
        .unwrap();
    db.close().await.ok();
    row.try_get::<i64>("", "n").unwrap()
}

#[actix_web::test]
async fn a_revocation_at_another_node_reaches_cached_answers_through_the_change_feed() {
    let app = spawn_app().await;
    tenant(&app, "feed", "ES256").await;
    let client = service_client(&app, "feed", "opaque").await;
    let token = service_token(&app, "feed", &client, &[]).await;
    // Looked up once: the node now answers from its cache.
    assert!(is_active(&app, "feed", &client, &token).await);

    // What a revocation at another node leaves in the shared database, without this node
    // hearing of it: the row revoked…
    let hash = tessera_core::secret::sha256_hex(&token);
    sql(
        &app,
        &format!("UPDATE access_tokens SET revoked_at = issued_at WHERE token_hash = '{hash}'"),
    )
    .await;
    assert!(
        is_active(&app, "feed", &client, &token).await,
        "until a signal arrives, the cached answer stands (at most 10 s)"
    );
    // …and the change-feed entry it appends in the same transaction.
    sql(
        &app,
        "INSERT INTO change_feed (tenant_id, what, created_at) \
         SELECT id, 'tokens-revoked', 0 FROM tenants WHERE slug = 'feed'",
    )
    .await;
    let deadline = std::time::Instant::now() + PROPAGATION;
    while is_active(&app, "feed", &client, &token).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the signal did not reach the cache within {PROPAGATION:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn revoking_tokens_signals_every_node_and_nothing_else_does() {
    let app = spawn_app().await;
    tenant(&app, "signal", "ES256").await;
    let client = service_client(&app, "signal", "opaque").await;
    let token = service_token(&app, "signal", &client, &[]).await;
    assert!(is_active(&app, "signal", &client, &token).await);
    assert_eq!(revocation_signals(&app).await, 0);

    let resp = post_form(
        &app,
        "signal",
        "revoke",
        Some((&client.id, &client.secret)),
        &[("token", token.as_str())],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(revocation_signals(&app).await, 1);
    assert!(!is_active(&app, "signal", &client, &token).await);
    // Revoking what is already revoked changes nothing and signals nothing.
    post_form(
        &app,
        "signal",
        "revoke",
        Some((&client.id, &client.secret)),
        &[("token", token.as_str())],
    )
    .await;
    assert_eq!(revocation_signals(&app).await, 1);
}
