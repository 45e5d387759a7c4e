//! The `claims` request parameter (OIDC Core §5.5): claims placed in the ID token or at
//! userinfo, an essential `acr` (§5.5.1.1) that the sign-in must meet, a `sub` asked for by
//! value (§5.5.1); signed userinfo responses (§5.3.2) and their discovery metadata.

use serde_json::{Value, json};

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};
use crate::pairwise::{client, jwt_claims, user_id};

const VERIFIER: &str = "claims-verifier-0123456789-0123456789-0123456789-0123";

/// Runs a flow for a fresh agent with the `claims` parameter `claims` (and `extra`), signing
/// in on the way; the redirect back to the client.
async fn flow(
    app: &TestApp,
    who: &SignIn,
    scope: &str,
    claims: &Value,
    extra: &[(&str, &str)],
) -> String {
    let agent = Agent::new();
    flow_with(app, &agent, who, scope, claims, extra).await
}

/// [`flow`] with a given agent, which may already be signed in.
async fn flow_with(
    app: &TestApp,
    agent: &Agent,
    who: &SignIn,
    scope: &str,
    claims: &Value,
    extra: &[(&str, &str)],
) -> String {
    let claims = claims.to_string();
    let mut params = vec![("claims", claims.as_str())];
    params.extend_from_slice(extra);
    let mut step = agent
        .get(&who.authorize_url(app, scope, VERIFIER, &params))
        .await;
    if let Step::Page(_, page) = &step
        && page.contains("name=\"password\"")
    {
        step = agent.login(page, &who.username, &who.password).await;
    }
    let location = step.location().to_owned();
    assert!(location.starts_with(&who.redirect_uri), "{location}");
    location
}

/// The tokens for the code in `location`.
async fn tokens(app: &TestApp, who: &SignIn, location: &str) -> Value {
    let code = param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let (status, tokens) = who.exchange(app, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// GETs userinfo with `access_token`: status, content type and body text.
async fn userinfo(app: &TestApp, tenant: &str, access_token: &str) -> (u16, String, String) {
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer(tenant)))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

#[actix_web::test]
async fn claims_requested_for_the_id_token_and_userinfo_are_released_there() {
    let app = spawn_app().await;
    let who = sign_in_fixture(&app, "cl-members", true).await;
    // Without a claims request the scope claims go to userinfo, not the ID token (§5.4).
    let plain = tokens(
        &app,
        &who,
        &flow(&app, &who, "openid email", &json!({}), &[]).await,
    )
    .await;
    let id = jwt_claims(plain["id_token"].as_str().unwrap());
    assert!(id.get("email").is_none(), "{id}");

    let request = json!({
        "id_token": { "email": { "essential": true }, "given_name": null },
        "userinfo": { "email_verified": null, "family_name": null }
    });
    let location = flow(
        &app,
        &who,
        "openid email profile",
        &request,
        &[("claims_locales", "en de")],
    )
    .await;
    let issued = tokens(&app, &who, &location).await;
    let id = jwt_claims(issued["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "alice@example.com", "{id}");
    assert_eq!(id["given_name"], "Alice", "{id}");
    assert!(
        id.get("family_name").is_none(),
        "only the requested claims: {id}"
    );
    let (status, _, body) =
        userinfo(&app, "cl-members", issued["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["email_verified"], true, "{info}");
    assert_eq!(info["family_name"], "Liddell", "{info}");

    // A claim whose scope was not granted is not released by asking for it.
    let location = flow(
        &app,
        &who,
        "openid",
        &json!({"id_token": {"email": null}, "userinfo": {"email": null}}),
        &[],
    )
    .await;
    let issued = tokens(&app, &who, &location).await;
    let id = jwt_claims(issued["id_token"].as_str().unwrap());
    assert!(id.get("email").is_none(), "{id}");
    let (_, _, body) = userinfo(&app, "cl-members", issued["access_token"].as_str().unwrap()).await;
    assert!(!body.contains("alice@example.com"), "{body}");
}

#[actix_web::test]
async fn an_essential_acr_the_sign_in_meets_is_issued() {
    let app = spawn_app().await;
    let who = sign_in_fixture(&app, "cl-acr-ok", true).await;
    let request = json!({"id_token": {"acr": {"essential": true, "values": ["2", "1"]}}});
    let issued = tokens(&app, &who, &flow(&app, &who, "openid", &request, &[]).await).await;
    assert_eq!(jwt_claims(issued["id_token"].as_str().unwrap())["acr"], "1");
    let single = json!({"id_token": {"acr": {"essential": true, "value": "1"}}});
    let issued = tokens(&app, &who, &flow(&app, &who, "openid", &single, &[]).await).await;
    assert_eq!(jwt_claims(issued["id_token"].as_str().unwrap())["acr"], "1");
    // Not essential: a preference, like acr_values.
    let voluntary = json!({"id_token": {"acr": {"values": ["urn:example:mfa"]}}});
    let location = flow(
        &app,
        &who,
        "openid",
        &voluntary,
        &[("acr_values", "urn:example:mfa")],
    )
    .await;
    assert!(param(&location, "code").is_some(), "{location}");
}

#[actix_web::test]
async fn an_essential_acr_the_sign_in_cannot_meet_fails_the_request() {
    let app = spawn_app().await;
    let who = sign_in_fixture(&app, "cl-acr-no", true).await;
    let request = json!({"id_token": {"acr": {"essential": true, "values": ["urn:example:mfa"]}}});
    let agent = Agent::new();
    let location = flow_with(&app, &agent, &who, "openid", &request, &[]).await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("access_denied"),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
    assert!(param(&location, "code").is_none());
    // Signed in already: refused again, without a code.
    let location = flow_with(&app, &agent, &who, "openid", &request, &[]).await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("access_denied"),
        "{location}"
    );
}

#[actix_web::test]
async fn a_sub_asked_for_by_value_must_be_the_signed_in_user() {
    let app = spawn_app().await;
    let who = sign_in_fixture(&app, "cl-sub", true).await;
    let user = user_id(&app, "cl-sub", "alice").await;

    let agent = Agent::new();
    let other = json!({"id_token": {"sub": {"value": "someone-else"}}});
    let location = flow_with(&app, &agent, &who, "openid", &other, &[]).await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("access_denied"),
        "{location}"
    );
    // With the session: `prompt=none` cannot sign someone else in.
    let location = flow_with(&app, &agent, &who, "openid", &other, &[("prompt", "none")]).await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("login_required"),
        "{location}"
    );
    // Also in the userinfo member.
    let in_userinfo = json!({"userinfo": {"sub": {"value": "someone-else"}}});
    let location = flow_with(
        &app,
        &agent,
        &who,
        "openid",
        &in_userinfo,
        &[("prompt", "none")],
    )
    .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("login_required"),
        "{location}"
    );

    let mine = json!({"id_token": {"sub": {"value": user}}});
    let location = flow_with(&app, &agent, &who, "openid", &mine, &[("prompt", "none")]).await;
    let issued = tokens(&app, &who, &location).await;
    assert_eq!(
        jwt_claims(issued["id_token"].as_str().unwrap())["sub"],
        user.as_str()
    );

    // A pairwise client: its own view of the user is the value to ask for.
    let pairwise = client(
        &app,
        &who,
        &["https://rp.example.com/cb"],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    let as_user_id = json!({"id_token": {"sub": {"value": user}}});
    let location = flow_with(
        &app,
        &agent,
        &pairwise,
        "openid",
        &as_user_id,
        &[("prompt", "none")],
    )
    .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("login_required"),
        "{location}"
    );
    let issued = tokens(
        &app,
        &pairwise,
        &flow_with(&app, &agent, &pairwise, "openid", &json!({}), &[]).await,
    )
    .await;
    let sub = jwt_claims(issued["id_token"].as_str().unwrap())["sub"].clone();
    let location = flow_with(
        &app,
        &agent,
        &pairwise,
        "openid",
        &json!({"id_token": {"sub": {"value": sub}}}),
        &[("prompt", "none")],
    )
    .await;
    assert!(param(&location, "code").is_some(), "{location}");
}

/// Verifies a signed userinfo response against the tenant's JWKS; its header alg and claims.
async fn verify(app: &TestApp, slug: &str, client_id: &str, jwt: &str) -> (String, Value) {
    let header = jsonwebtoken::decode_header(jwt).expect("JWS header");
    let kid = header.kid.clone().expect("a kid");
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
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .expect("the userinfo response verifies")
        .claims;
    (format!("{:?}", header.alg), claims)
}

#[actix_web::test]
async fn a_client_registered_for_signed_userinfo_gets_a_verifiable_jwt() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "cl-signed", true).await;
    for (alg, pairwise) in [("ES256", false), ("RS256", true)] {
        let mut options = json!({"userinfo_signed_response_alg": alg});
        if pairwise {
            options["subject_type"] = json!("pairwise");
        }
        let who = client(&app, &base, &["https://rp.example.com/cb"], options).await;
        let issued = tokens(
            &app,
            &who,
            &flow(&app, &who, "openid email", &json!({}), &[]).await,
        )
        .await;
        let (status, content_type, body) =
            userinfo(&app, "cl-signed", issued["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(content_type, "application/jwt");
        let (header_alg, claims) = verify(&app, "cl-signed", &who.client_id, &body).await;
        assert_eq!(header_alg, alg);
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(
            claims["sub"],
            jwt_claims(issued["id_token"].as_str().unwrap())["sub"],
            "userinfo sub is the ID token's"
        );
    }
    // The fixture client did not register for it: plain JSON.
    let issued = tokens(
        &app,
        &base,
        &flow(&app, &base, "openid", &json!({}), &[]).await,
    )
    .await;
    let (_, content_type, body) =
        userinfo(&app, "cl-signed", issued["access_token"].as_str().unwrap()).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert!(serde_json::from_str::<Value>(&body).is_ok());
    // An alg the tenant (ES256, plus RS256) has no keys of is refused at registration.
    let (status, body) = crate::pairwise::register(
        &app,
        "cl-signed",
        &["https://rp.example.com/cb"],
        json!({"userinfo_signed_response_alg": "EdDSA"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = crate::pairwise::register(
        &app,
        "cl-signed",
        &["https://rp.example.com/cb"],
        json!({"userinfo_signed_response_alg": "HS256"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn discovery_advertises_the_claims_parameter_and_userinfo_signing_algs() {
    let app = spawn_app().await;
    app.create_tenant("cl-discovery", "ES256").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("cl-discovery")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["claims_parameter_supported"], true);
    assert_eq!(
        doc["userinfo_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        doc["userinfo_signing_alg_values_supported"]
    );
}
