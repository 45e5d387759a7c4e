//! Token exchange (RFC 8693) over HTTP: a gateway trades a user's opaque access token for a JWT
//! for an API (the phantom-token pattern), with `act` when it acts as a named actor; the
//! client's registered policy bounds audiences, subject token types and delegation; a dead
//! subject token, a wider scope or a client without a policy is refused with the RFC's errors;
//! and the exchanged token dies with the user's grant.

use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, param, sign_in_fixture};
use crate::helpers::{TestApp, TestClient, spawn_app};
use crate::opaque::{
    authorize_as, create_resource_server, define_scopes, jwt_claims, register_client, settle, text,
    token_request, userinfo,
};

const VERIFIER: &str = "exchange-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The public API: opaque tokens.
const ORDERS: &str = "https://api.acme.test/orders";
/// The service behind the gateway: JWTs.
const INTERNAL: &str = "https://internal.acme.test/orders";
/// An API the gateway may not get tokens for.
const BILLING: &str = "https://api.acme.test/billing";

/// A tenant with its APIs, a gateway allowed to exchange, and a user's tokens from a code flow.
struct World {
    app: TestApp,
    f: SignIn,
    gateway: TestClient,
    /// The user's opaque access token for `ORDERS` (scope `openid orders:read`).
    user_access: String,
    user_refresh: String,
    /// The user's `sub`.
    user_sub: String,
    /// The ID token of the user's sign-in.
    id_token: String,
    /// The user's browser, signed in.
    agent: Agent,
}

async fn world(slug: &str) -> World {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, slug, true).await;
    define_scopes(&app, slug, &["orders:read", "orders:write", "billing:read"]).await;
    for (identifier, format, scopes) in [
        (ORDERS, "opaque", json!(["orders:read", "orders:write"])),
        (INTERNAL, "jwt", json!(["orders:read", "orders:write"])),
        (BILLING, "jwt", json!(["billing:read"])),
    ] {
        create_resource_server(
            &app,
            slug,
            json!({"identifier": identifier, "name": "API", "scopes": scopes,
                   "token_format": format}),
        )
        .await;
    }
    crate::opaque::patch_client(
        &app,
        slug,
        &f.client_id,
        json!({"scopes": ["openid", "profile", "offline_access", "orders:read", "orders:write"]}),
    )
    .await;
    let gateway = register_client(
        &app,
        slug,
        json!({"name": "Gateway", "grant_types": ["client_credentials"], "scopes": ["orders:read"],
               "options": {"token_exchange": {
                   "audiences": [ORDERS, INTERNAL],
                   "subject_token_types": [ACCESS_TOKEN],
                   "allow_delegation": true}}}),
    )
    .await;
    settle().await;
    let agent = Agent::new();
    let location = authorize_as(
        &agent,
        &app,
        &f,
        "openid orders:read",
        VERIFIER,
        &[("resource", ORDERS)],
    )
    .await;
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let (status, body) = f.exchange(&app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let user_access = text(&body, "access_token").to_owned();
    assert!(
        !user_access.contains('.'),
        "expected an opaque token: {user_access}"
    );
    let user_sub = text(&jwt_claims(text(&body, "id_token")), "sub").to_owned();
    World {
        user_refresh: text(&body, "refresh_token").to_owned(),
        id_token: text(&body, "id_token").to_owned(),
        agent,
        app,
        f,
        gateway,
        user_access,
        user_sub,
    }
}

impl World {
    /// A token-exchange request by `client` with `extra` parameters; status and body.
    async fn exchange_as(&self, client: &TestClient, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("grant_type", GRANT)];
        form.extend_from_slice(extra);
        token_request(
            &self.app,
            &self.f.tenant,
            Some((&client.id, &client.secret)),
            &form,
        )
        .await
    }

    /// The gateway exchanges the user's token with `extra` parameters.
    async fn exchange(&self, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![
            ("subject_token", self.user_access.as_str()),
            ("subject_token_type", ACCESS_TOKEN),
        ];
        form.extend_from_slice(extra);
        self.exchange_as(&self.gateway, &form).await
    }

    /// Refreshes the user's tokens at the user's client with `refresh_token`.
    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        token_request(
            &self.app,
            &self.f.tenant,
            Some((&self.f.client_id, &self.f.client_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }
}

#[actix_web::test]
async fn a_gateway_exchanges_an_opaque_user_token_for_a_jwt() {
    let w = world("ex-gateway").await;
    let (status, body) = w
        .exchange(&[("requested_token_type", JWT), ("audience", ORDERS)])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], JWT, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].is_null(), "{body}");
    let jwt = text(&body, "access_token");
    let claims = jwt_claims(jwt);
    assert_eq!(claims["sub"], w.user_sub.as_str(), "{claims}");
    assert_eq!(claims["client_id"], w.gateway.id.as_str(), "{claims}");
    assert_eq!(claims["aud"], ORDERS, "{claims}");
    assert_eq!(claims["scope"], "openid orders:read", "{claims}");
    assert!(claims["act"].is_null(), "{claims}");
    assert!(claims["auth_time"].is_i64(), "{claims}");
    // It speaks for the user wherever the user's token does.
    let (status, info) = userinfo(&w.app, &w.f.tenant, jwt).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], w.user_sub.as_str());

    // Without requested_token_type the audience's own format applies: opaque for ORDERS...
    let (status, body) = w.exchange(&[("audience", ORDERS)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert!(!text(&body, "access_token").contains('.'), "{body}");
    // ...a JWT for INTERNAL, named as a resource this time, with a narrower scope.
    let (status, body) = w
        .exchange(&[("resource", INTERNAL), ("scope", "orders:read")])
        .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["aud"], INTERNAL, "{claims}");
    assert_eq!(claims["scope"], "orders:read", "{claims}");
    assert_eq!(body["scope"], "orders:read");

    // The exchanged JWT is itself an access token of this provider: it can be exchanged again.
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[
                ("subject_token", jwt),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(text(&body, "access_token"))["sub"],
        w.user_sub.as_str()
    );
}

#[actix_web::test]
async fn delegation_with_an_actor_token_names_the_actor_in_act() {
    let w = world("ex-act").await;
    let actor = w
        .app
        .client_credentials_token(&w.f.tenant, &w.gateway, None)
        .await;
    let (status, body) = w
        .exchange(&[
            ("requested_token_type", JWT),
            ("audience", INTERNAL),
            ("actor_token", &actor),
            ("actor_token_type", ACCESS_TOKEN),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let jwt = text(&body, "access_token").to_owned();
    let claims = jwt_claims(&jwt);
    assert_eq!(claims["sub"], w.user_sub.as_str(), "{claims}");
    assert_eq!(claims["act"]["sub"], w.gateway.id.as_str(), "{claims}");

    // A further delegation nests the prior actor inside (RFC 8693 §4.1).
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[
                ("subject_token", &jwt),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS_TOKEN),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(text(&body, "access_token"));
    assert_eq!(claims["act"]["sub"], w.gateway.id.as_str(), "{claims}");
    assert_eq!(
        claims["act"]["act"]["sub"],
        w.gateway.id.as_str(),
        "{claims}"
    );

    // An actor token without its type, and a dead actor token, are refused.
    let (status, body) = w
        .exchange(&[("audience", INTERNAL), ("actor_token", &actor)])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_request"),
        "{body}"
    );
    let (status, body) = w
        .exchange(&[
            ("audience", INTERNAL),
            ("actor_token", "not-a-token"),
            ("actor_token_type", ACCESS_TOKEN),
        ])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );

    // A client whose policy does not allow delegation may exchange, but not as an actor.
    let plain = register_client(
        &w.app,
        &w.f.tenant,
        json!({"name": "Proxy", "grant_types": ["client_credentials"], "scopes": ["orders:read"],
               "options": {"token_exchange": {
                   "audiences": [INTERNAL], "subject_token_types": [ACCESS_TOKEN]}}}),
    )
    .await;
    settle().await;
    let (status, body) = w
        .exchange_as(
            &plain,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS_TOKEN),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = w
        .exchange_as(
            &plain,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(jwt_claims(text(&body, "access_token"))["act"].is_null());
}

#[actix_web::test]
async fn an_audience_outside_the_policy_is_invalid_target() {
    let w = world("ex-target").await;
    for audience in [BILLING, "https://nowhere.test/api"] {
        let (status, body) = w
            .exchange(&[("requested_token_type", JWT), ("audience", audience)])
            .await;
        assert_eq!(
            (status, text(&body, "error")),
            (400, "invalid_target"),
            "{audience}: {body}"
        );
    }
    // One allowed and one not: still refused.
    let (status, body) = w
        .exchange(&[("audience", INTERNAL), ("resource", BILLING)])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_client_without_an_exchange_policy_is_unauthorized_client() {
    let w = world("ex-nopolicy").await;
    let other = w.app.create_client(&w.f.tenant, &["orders:read"]).await;
    settle().await;
    let (status, body) = w
        .exchange_as(
            &other,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "unauthorized_client"),
        "{body}"
    );
    // A public client's policy would be everybody's: registration refuses it (RFC 8693 §5).
    let admin = w.app.admin_token().await;
    let (status, body) = w
        .app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{}/clients", w.f.tenant),
            Some(json!({"name": "Public gateway", "public": true,
                   "grant_types": ["authorization_code"],
                   "redirect_uris": ["http://127.0.0.1:9/spa"], "scopes": ["openid"],
                   "options": {"token_exchange": {
                       "audiences": [INTERNAL], "subject_token_types": [ACCESS_TOKEN]}}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("confidential")),
        "{body}"
    );
    // Nor may the user's own client, which has no policy either.
    let user_client = TestClient {
        id: w.f.client_id.clone(),
        secret: w.f.client_secret.clone(),
    };
    let (status, body) = w
        .exchange_as(
            &user_client,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "unauthorized_client"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_subject_token_type_outside_the_policy_is_invalid_request() {
    let w = world("ex-types").await;
    for subject_type in [
        JWT,
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:refresh_token",
        "urn:example:saml",
    ] {
        let (status, body) = w
            .exchange_as(
                &w.gateway,
                &[
                    ("subject_token", &w.user_access),
                    ("subject_token_type", subject_type),
                    ("audience", INTERNAL),
                ],
            )
            .await;
        assert_eq!(
            (status, text(&body, "error")),
            (400, "invalid_request"),
            "{subject_type}: {body}"
        );
    }
    // A client allowed JWT subjects: an opaque handle is no JWT, whatever the request says.
    let both = register_client(
        &w.app,
        &w.f.tenant,
        json!({"name": "Both", "grant_types": ["client_credentials"], "scopes": ["orders:read"],
               "options": {"token_exchange": {
                   "audiences": [INTERNAL], "subject_token_types": [ACCESS_TOKEN, JWT]}}}),
    )
    .await;
    settle().await;
    let (status, body) = w
        .exchange_as(
            &both,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", JWT),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_request"),
        "{body}"
    );
    let (status, body) = w
        .exchange_as(
            &both,
            &[
                ("subject_token", &w.user_access),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let jwt = text(&body, "access_token").to_owned();
    let (status, body) = w
        .exchange_as(
            &both,
            &[
                ("subject_token", &jwt),
                ("subject_token_type", JWT),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Missing subject token or type.
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[("subject_token_type", ACCESS_TOKEN), ("audience", INTERNAL)],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_request"),
        "{body}"
    );
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[("subject_token", &w.user_access), ("audience", INTERNAL)],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_request"),
        "{body}"
    );
    // An unknown requested token type.
    let (status, body) = w
        .exchange(&[
            ("audience", INTERNAL),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_request"),
        "{body}"
    );
}

#[actix_web::test]
async fn an_invalid_or_revoked_subject_token_is_invalid_grant() {
    let w = world("ex-dead").await;
    // One signature character changed, far from the end: the last character of a base64url
    // ES256 signature carries only two bits, so replacing it may leave the token unchanged.
    let at = w.user_access.len() - 20;
    let swapped = if &w.user_access[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = format!(
        "{}{swapped}{}",
        &w.user_access[..at],
        &w.user_access[at + 1..]
    );
    assert_ne!(forged, w.user_access);
    // An ID token is not an access token (RFC 9068 §4), though signed by the same key.
    for subject in ["garbage", forged.as_str(), "a.b.c", w.id_token.as_str()] {
        let (status, body) = w
            .exchange_as(
                &w.gateway,
                &[
                    ("subject_token", subject),
                    ("subject_token_type", ACCESS_TOKEN),
                    ("audience", INTERNAL),
                ],
            )
            .await;
        assert_eq!(
            (status, text(&body, "error")),
            (400, "invalid_grant"),
            "{subject}: {body}"
        );
    }
    // A valid token of another tenant is no subject token here.
    w.app.create_tenant("ex-dead-other", "ES256").await;
    let stranger = w.app.create_client("ex-dead-other", &["openid"]).await;
    let foreign = w
        .app
        .client_credentials_token("ex-dead-other", &stranger, None)
        .await;
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[
                ("subject_token", &foreign),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );

    // The admin revokes the user's grant to the client: its tokens can no longer be exchanged.
    let admin = w.app.admin_token().await;
    let (status, body) = w
        .app
        .admin(
            &admin,
            reqwest::Method::DELETE,
            &format!(
                "/tenants/{}/users/alice/grants/{}",
                w.f.tenant, w.f.client_id
            ),
            None,
        )
        .await;
    assert!(
        (200..300).contains(&status),
        "revoke grant: {status} {body}"
    );
    let (status, body) = w.exchange(&[("audience", INTERNAL)]).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_scope_wider_than_the_subject_tokens_is_invalid_scope() {
    let w = world("ex-scope").await;
    let (status, body) = w
        .exchange(&[
            ("audience", INTERNAL),
            ("scope", "openid orders:read orders:write"),
        ])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_scope"),
        "{body}"
    );
    let (status, body) = w
        .exchange(&[("audience", INTERNAL), ("scope", "openid profile")])
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_scope"),
        "{body}"
    );
    let (status, body) = w
        .exchange(&[("audience", INTERNAL), ("scope", "openid")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(text(&body, "access_token"))["scope"], "openid");
}

#[actix_web::test]
async fn the_exchanged_token_dies_with_the_users_grant() {
    let w = world("ex-revoke").await;
    let (status, body) = w
        .exchange(&[("requested_token_type", JWT), ("audience", ORDERS)])
        .await;
    assert_eq!(status, 200, "{body}");
    let jwt = text(&body, "access_token").to_owned();
    let (status, body) = w.exchange(&[("audience", ORDERS)]).await;
    assert_eq!(status, 200, "{body}");
    let opaque = text(&body, "access_token").to_owned();
    for token in [&jwt, &opaque] {
        let (status, info) = userinfo(&w.app, &w.f.tenant, token).await;
        assert_eq!(status, 200, "{info}");
    }

    // The user's client rotates its refresh token, then the old one is replayed: RFC 9700
    // §4.14.2 revokes the whole grant, and with it every token exchanged from it.
    let (status, body) = w.refresh(&w.user_refresh).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w.refresh(&w.user_refresh).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );
    for token in [&jwt, &opaque, &w.user_access] {
        let (status, info) = userinfo(&w.app, &w.f.tenant, token).await;
        assert_eq!(status, 401, "{info}");
        assert_eq!(info["error"], "invalid_token");
    }
    let (status, body) = w
        .exchange_as(
            &w.gateway,
            &[
                ("subject_token", &jwt),
                ("subject_token_type", ACCESS_TOKEN),
                ("audience", INTERNAL),
            ],
        )
        .await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );
}

#[actix_web::test]
async fn the_exchanged_token_dies_when_the_user_signs_out() {
    let w = world("ex-logout").await;
    let (status, body) = w
        .exchange(&[("requested_token_type", JWT), ("audience", INTERNAL)])
        .await;
    assert_eq!(status, 200, "{body}");
    let jwt = text(&body, "access_token").to_owned();
    let (status, info) = userinfo(&w.app, &w.f.tenant, &jwt).await;
    assert_eq!(status, 200, "{info}");

    // RP-initiated logout with a valid hint ends the session and its grants at once.
    let logout = format!(
        "{}/logout?{}",
        w.app.issuer(&w.f.tenant),
        serde_urlencoded::to_string([
            ("id_token_hint", w.id_token.as_str()),
            (
                "post_logout_redirect_uri",
                w.f.post_logout_redirect_uri.as_str()
            ),
        ])
        .unwrap()
    );
    let location = w.agent.get(&logout).await.location().to_owned();
    assert!(
        location.starts_with(&w.f.post_logout_redirect_uri),
        "{location}"
    );
    for token in [&jwt, &w.user_access] {
        let (status, info) = userinfo(&w.app, &w.f.tenant, token).await;
        assert_eq!(status, 401, "{info}");
    }
}

#[actix_web::test]
async fn the_exchanged_token_dies_when_the_user_is_disabled() {
    let w = world("ex-disabled").await;
    let (status, body) = w.exchange(&[("audience", ORDERS)]).await;
    assert_eq!(status, 200, "{body}");
    let opaque = text(&body, "access_token").to_owned();
    let admin = w.app.admin_token().await;
    let (status, body) = w
        .app
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/tenants/{}/users/alice/disable", w.f.tenant),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "disable: {status} {body}");
    let (status, info) = userinfo(&w.app, &w.f.tenant, &opaque).await;
    assert_eq!(status, 401, "{info}");
    let (status, body) = w.exchange(&[("audience", ORDERS)]).await;
    assert_eq!(
        (status, text(&body, "error")),
        (400, "invalid_grant"),
        "{body}"
    );
}
