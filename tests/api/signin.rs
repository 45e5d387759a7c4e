//! Browser sign-in end to end: the `openidconnect` crate as relying party against the real
//! server, and every authorization-endpoint, login, consent and logout rule with its negative
//! case, driven over HTTP with a cookie jar.

use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::agent::{Agent, SignIn, Step, param, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};

fn oidc_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Decodes a JWT's payload without verifying it (the tests verify through the RP library or the
/// server; this is for reading claims).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn setup(slug: &str) -> (TestApp, SignIn) {
    let app = spawn_app().await;
    let fixture = sign_in_fixture(&app, slug, false).await;
    (app, fixture)
}

#[actix_web::test]
async fn openidconnect_relying_party_signs_in_refreshes_and_logs_out() {
    let (app, f) = setup("acme").await;
    let http = oidc_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer("acme")).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(f.client_id.clone()),
        Some(ClientSecret::new(f.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(f.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param("prompt", "consent")
        .set_pkce_challenge(challenge)
        .url();

    // The user agent: login form, then consent form, then the redirect to the RP.
    let agent = Agent::new();
    let step = agent.get(url.as_str()).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(page.contains("Photo App"), "login page names the client");
    let step = agent.login(page, &f.username, &f.password).await;
    let (_, page) = step.page();
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(
            page.contains(&format!("value=\"{scope}\"")),
            "consent lists {scope}"
        );
    }
    let step = agent
        .consent(page, &["profile", "email", "offline_access"], true)
        .await;
    let location = step.location();
    assert_eq!(
        param(location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        param(location, "iss"),
        Some(app.issuer("acme")),
        "RFC 9207 iss"
    );
    let code = param(location, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let id_claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(id_claims.issuer().as_str(), app.issuer("acme"));
    assert!(id_claims.auth_time().is_some());
    assert!(id_token.signing_alg().is_ok());
    let raw_id: Value = claims(&id_token.to_string());
    assert_eq!(
        claims(&id_token.to_string())["azp"].as_str(),
        Some(f.client_id.as_str())
    );
    assert!(raw_id["sid"].is_string() && raw_id["at_hash"].is_string());
    assert_eq!(raw_id["acr"], "1");
    assert_eq!(raw_id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(
        jwt_header_alg(&id_token.to_string()),
        "RS256",
        "RS256 by default"
    );

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), id_claims.subject());
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "rotated"
    );

    // RP-initiated logout with the ID token as hint: no confirmation, back to the RP.
    let logout = format!(
        "{}/logout?{}",
        app.issuer("acme"),
        serde_urlencoded::to_string([
            ("id_token_hint", id_token.to_string().as_str()),
            (
                "post_logout_redirect_uri",
                f.post_logout_redirect_uri.as_str()
            ),
            ("state", "bye-1"),
        ])
        .unwrap()
    );
    let location = agent.get(&logout).await.location().to_owned();
    assert_eq!(
        location,
        format!("{}?state=bye-1", f.post_logout_redirect_uri)
    );
    // The session is over: prompt=none now fails with login_required.
    let again = f.authorize_url(&app, "openid", &"v".repeat(43), &[("prompt", "none")]);
    let location = agent.get(&again).await.location().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
}

fn jwt_header_alg(jwt: &str) -> String {
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn unregistered_redirect_uri_or_unknown_client_gets_an_html_page_never_a_redirect() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let mut url = f.authorize_url(&app, "openid", &"v".repeat(43), &[]);
    url = url.replace("127.0.0.1%3A9%2Fcb", "evil.example%2Fcb");
    let (status, page) = agent.get(&url).await.page().clone_parts();
    assert_eq!(status, 400);
    assert!(page.contains("not registered"), "{page}");
    let url = f
        .authorize_url(&app, "openid", &"v".repeat(43), &[])
        .replace(&f.client_id, "nope");
    let (status, _) = agent.get(&url).await.page().clone_parts();
    assert_eq!(status, 400);
}

trait CloneParts {
    fn clone_parts(self) -> (u16, String);
}
impl CloneParts for (u16, &str) {
    fn clone_parts(self) -> (u16, String) {
        (self.0, self.1.to_owned())
    }
}

#[actix_web::test]
async fn prompt_none_without_a_session_is_login_required_at_the_client() {
    let (app, f) = setup("acme").await;
    let url = f.authorize_url(&app, "openid", &"v".repeat(43), &[("prompt", "none")]);
    let location = Agent::new().get(&url).await.location().to_owned();
    assert!(location.starts_with(&f.redirect_uri));
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&location, "iss"), Some(app.issuer("acme")));
}

#[actix_web::test]
async fn pkce_is_required_and_plain_is_refused() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let without = f
        .authorize_url(&app, "openid", &"v".repeat(43), &[])
        .split("&code_challenge=")
        .next()
        .unwrap()
        .to_owned();
    let location = agent.get(&without).await.location().to_owned();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    let plain = f
        .authorize_url(&app, "openid", &"v".repeat(43), &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let location = agent.get(&plain).await.location().to_owned();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        param(&location, "error_description")
            .unwrap()
            .contains("S256")
    );
}

#[actix_web::test]
async fn unsupported_response_type_scope_and_request_objects_are_reported_to_the_client() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let v = "v".repeat(43);
    let cases = [
        (
            f.authorize_url(&app, "openid", &v, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            f.authorize_url(&app, "openid admin", &v, &[]),
            "invalid_scope",
        ),
        (
            f.authorize_url(&app, "openid", &v, &[("request", "eyJ.x.y")]),
            "invalid_request_object",
        ),
        (
            f.authorize_url(&app, "openid", &v, &[("prompt", "none login")]),
            "invalid_request",
        ),
        (
            f.authorize_url(&app, "openid", &v, &[("max_age", "-1")]),
            "invalid_request",
        ),
        (
            f.authorize_url(&app, "openid", &v, &[("id_token_hint", "not.a.jwt")]),
            "invalid_request",
        ),
    ];
    for (url, expected) in cases {
        let location = agent.get(&url).await.location().to_owned();
        assert_eq!(
            param(&location, "error").as_deref(),
            Some(expected),
            "{url}"
        );
        assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
    }
    // Unknown parameters are ignored.
    let url = f.authorize_url(
        &app,
        "openid",
        &v,
        &[
            ("frobnicate", "1"),
            ("display", "page"),
            ("ui_locales", "fr"),
        ],
    );
    let (status, _) = agent.get(&url).await.page().clone_parts();
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn login_form_without_csrf_token_is_refused() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", &"v".repeat(43), &[]))
        .await;
    let (_, page) = step.page();
    let hidden = crate::agent::hidden_fields(page);
    let request = hidden
        .iter()
        .find(|(n, _)| n == "request")
        .unwrap()
        .1
        .clone();
    let resp = agent
        .http
        .post(format!("{}/login", app.issuer("acme")))
        .form(&[
            ("request", request.as_str()),
            ("username", "alice"),
            ("password", f.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // And a tampered sealed request is refused.
    let tampered = page.replace("name=\"request\" value=\"", "name=\"request\" value=\"AAAA");
    let (status, _) = agent
        .login(&tampered, "alice", &f.password)
        .await
        .page()
        .clone_parts();
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn wrong_password_shows_the_form_again_with_a_message() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let step = agent
        .get(&f.authorize_url(&app, "openid", &"v".repeat(43), &[]))
        .await;
    let (_, page) = step.page();
    let (status, page) = agent
        .login(page, "alice", "wrong password!")
        .await
        .page()
        .clone_parts();
    assert_eq!(status, 401);
    assert!(page.contains("role=\"alert\""), "{page}");
    // Unknown users get the very same answer.
    let (status2, page2) = agent
        .login(&page, "mallory", "wrong password!")
        .await
        .page()
        .clone_parts();
    assert_eq!(status2, 401);
    assert!(page2.contains("role=\"alert\""));
}

#[actix_web::test]
async fn partial_consent_grants_exactly_what_was_ticked_and_is_remembered() {
    let (app, f) = setup("acme").await;
    let agent = Agent::new();
    let verifier = "a".repeat(50);
    let step = agent
        .get(&f.authorize_url(&app, "openid profile email", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let step = agent.login(page, &f.username, &f.password).await;
    let (_, page) = step.page();
    // Untick `email`.
    let step = agent.consent(page, &["profile"], true).await;
    let code = param(step.location(), "code").unwrap();
    let (status, body) = f.exchange(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let scope = body["scope"].as_str().unwrap();
    assert!(
        scope.contains("profile") && !scope.contains("email"),
        "{scope}"
    );
    assert!(
        !claims(body["access_token"].as_str().unwrap())["scope"]
            .as_str()
            .unwrap()
            .contains("email")
    );

    // Same scopes again: remembered, no page. A new scope (email) asks again.
    let verifier = "b".repeat(50);
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", &verifier, &[]))
        .await;
    assert!(param(step.location(), "code").is_some());
    let step = agent
        .get(&f.authorize_url(&app, "openid profile email", &verifier, &[]))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(page.contains("name=\"decision\""));
    // prompt=consent always asks.
    let step = agent
        .get(&f.authorize_url(&app, "openid profile", &verifier, &[("prompt", "consent")]))
        .await;
    assert!(step.page().1.contains("name=\"decision\""));
    // Denying answers access_denied.
    let page = step.page().1.to_owned();
    let location = agent.consent(&page, &[], false).await.location().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
}

#[actix_web::test]
async fn first_party_clients_skip_consent_and_prompt_none_reuses_the_session() {
    let app = spawn_app().await;
    let f = sign_in_fixture(&app, "acme", true).await;
    let agent = Agent::new();
    let verifier = "c".repeat(50);
    let step = agent
        .get(&f.authorize_url(&app, "openid profile email", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let step = agent.login(page, &f.username, &f.password).await;
    assert!(param(step.location(), "code").is_some(), "no consent page");
    let step = agent
        .get(&f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .await;
    assert!(
        param(step.location(), "code").is_some(),
        "SSO with prompt=none"
    );
    // prompt=login and max_age=0 ask for the password again.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let step = agent
            .get(&f.authorize_url(&app, "openid", &verifier, &[extra]))
            .await;
        assert!(step.page().1.contains("name=\"password\""), "{extra:?}");
    }
}

#[actix_web::test]
async fn session_cookie_is_http_only_lax_and_a_session_never_crosses_tenants() {
    let app = spawn_app().await;
    let a = sign_in_fixture(&app, "alpha", true).await;
    let b = sign_in_fixture(&app, "bravo", true).await;
    let agent = Agent::new();
    let verifier = "d".repeat(50);
    let step = agent
        .get(&a.authorize_url(&app, "openid", &verifier, &[]))
        .await;
    let (_, page) = step.page();
    let form: Vec<(String, String)> = crate::agent::hidden_fields(page)
        .into_iter()
        .chain([
            ("username".to_owned(), a.username.clone()),
            ("password".to_owned(), a.password.clone()),
        ])
        .collect();
    let resp = agent
        .http
        .post(format!("{}/login", app.issuer("alpha")))
        .form(&form)
        .send()
        .await
        .unwrap();
    let set_cookie: Vec<String> = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("tessera-session-alpha="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    // Signed in at alpha; bravo still asks for a login, and prompt=none there fails.
    let step = agent
        .get(&b.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .await;
    assert_eq!(
        param(step.location(), "error").as_deref(),
        Some("login_required")
    );
    // Even alpha's cookie value presented under bravo's cookie name is unknown there.
    let value = session
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap();
    let resp = app
        .http
        .get(b.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .header("Cookie", format!("tessera-session-bravo={value}"))
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
}

#[actix_web::test]
async fn response_modes_fragment_and_form_post_carry_code_state_and_iss() {
    let (app, f) = setup("acme").await;
    let app = &app;
    let agent = Agent::new();
    let verifier = "e".repeat(50);
    let (agent_signed, _) = f.code(app, "openid", &verifier).await;
    let step = agent_signed
        .get(&f.authorize_url(app, "openid", &verifier, &[("response_mode", "fragment")]))
        .await;
    let location = step.location();
    assert!(location.contains("#code="), "{location}");
    assert_eq!(param(location, "iss"), Some(app.issuer("acme")));
    let step = agent_signed
        .get(&f.authorize_url(app, "openid", &verifier, &[("response_mode", "form_post")]))
        .await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("action=\"{}\"", f.redirect_uri)),
        "{page}"
    );
    assert!(
        page.contains("name=\"code\"") && page.contains("name=\"iss\"") && page.contains("st-123")
    );
    drop(agent);
}

#[actix_web::test]
async fn logout_without_a_hint_asks_first_and_unregistered_return_uri_is_an_error_page() {
    let (app, f) = setup("acme").await;
    let verifier = "f".repeat(50);
    let (agent, _) = f.code(&app, "openid", &verifier).await;
    let bad = format!(
        "{}/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        app.issuer("acme"),
        f.client_id
    );
    let (status, _) = agent.get(&bad).await.page().clone_parts();
    assert_eq!(status, 400);
    let tampered = format!(
        "{}/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30.",
        app.issuer("acme")
    );
    let (status, _) = agent.get(&tampered).await.page().clone_parts();
    assert_eq!(status, 400);
    let url = format!(
        "{}/logout?client_id={}&post_logout_redirect_uri={}&state=s1",
        app.issuer("acme"),
        f.client_id,
        urlencode(&f.post_logout_redirect_uri)
    );
    let step = agent.get(&url).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(page.contains("Sign out?"));
    let page = page.to_owned();
    let step = agent.submit(&page, &[("decision", "logout")]).await;
    assert_eq!(
        step.location(),
        format!("{}?state=s1", f.post_logout_redirect_uri)
    );
    let step = agent
        .get(&f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .await;
    assert_eq!(
        param(step.location(), "error").as_deref(),
        Some("login_required")
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn an_id_token_hint_for_another_user_forces_a_new_login() {
    let (app, f) = setup("acme").await;
    let verifier = "g".repeat(50);
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, body) = f.exchange(&app, &code, &verifier).await;
    let id_token = body["id_token"].as_str().unwrap().to_owned();
    // The genuine hint with prompt=none: code.
    let step = agent
        .get(&f.authorize_url(
            &app,
            "openid",
            &verifier,
            &[("prompt", "none"), ("id_token_hint", &id_token)],
        ))
        .await;
    assert!(param(step.location(), "code").is_some());
    // A tampered hint (signature of another payload) is refused.
    let mut parts: Vec<&str> = id_token.split('.').collect();
    let forged_payload = {
        use base64::Engine;
        let mut c = claims(&id_token);
        c["sub"] = Value::String("someone-else".into());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
    };
    parts[1] = &forged_payload;
    let forged = parts.join(".");
    let step = agent
        .get(&f.authorize_url(
            &app,
            "openid",
            &verifier,
            &[("prompt", "none"), ("id_token_hint", &forged)],
        ))
        .await;
    assert_eq!(
        param(step.location(), "error").as_deref(),
        Some("invalid_request")
    );
}

#[actix_web::test]
async fn discovery_advertises_code_flow_userinfo_logout_and_rs256() {
    let (app, _f) = setup("acme").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("acme")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["response_types_supported"][0], "code",
        "the code flow first; the implicit and hybrid ones follow for clients allowed them"
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(
        doc["userinfo_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/userinfo")
    );
    assert!(
        doc["end_session_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/logout")
    );
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.iter().any(|a| a == "RS256") && algs.iter().any(|a| a == "ES256"));
    let _ = Step::Redirect(String::new());
}

#[actix_web::test]
async fn the_janitor_removes_expired_sessions_and_refresh_tokens() {
    let (app, f) = setup("acme").await;
    let verifier = "h".repeat(50);
    let (agent, code) = f.code(&app, "openid", &verifier).await;
    let (_, body) = f.exchange(&app, &code, &verifier).await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let store = tessera_store::Store::connect(
        &app.database_url,
        &tessera_store::PoolSettings {
            max_connections: 2,
            acquire_timeout: std::time::Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    let authn = tessera_authn::Authenticator::new(store.clone(), 1);
    // Nothing has expired yet.
    let now = tessera_core::Clock.now();
    tessera::janitor::sweep(&store, &authn, now).await.unwrap();
    let step = agent
        .get(&f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .await;
    assert!(param(step.location(), "code").is_some(), "session survives");
    // A year later, everything is gone.
    let removed = tessera::janitor::sweep(&store, &authn, now + 365 * 86_400)
        .await
        .unwrap();
    assert!(removed >= 3, "session, family, refresh token: {removed}");
    let step = agent
        .get(&f.authorize_url(&app, "openid", &verifier, &[("prompt", "none")]))
        .await;
    assert_eq!(
        param(step.location(), "error").as_deref(),
        Some("login_required")
    );
    let resp = app
        .post_token(
            &f.tenant,
            Some((&f.client_id, &f.client_secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_grant");
}
