//! The implicit (OIDC Core §3.2) and hybrid (§3.3) flows end to end: the `openidconnect` crate
//! as relying party verifies the ID tokens the authorization endpoint returns in the fragment;
//! `nonce`, `at_hash` and `c_hash`; the form_post response mode; and the negative cases — a
//! client without the implicit grant, a missing nonce, tokens asked for in the query, bare
//! `token` — each answered at the verified redirect URI, never in its query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreClient, CoreIdToken, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, RedirectUrl, Scope,
};
use serde_json::{Value, json};
use sha2::Digest;

use crate::agent::{Agent, SignIn, Step, hidden_fields, param, s256, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app};

const VERIFIER: &str = "implicit-and-hybrid-verifier-0123456789abcdefghijkl";

/// A tenant whose `legacy` client may use the implicit grant besides the code grant, and the
/// fixture's user; `implicit` says whether the grant is given.
async fn setup(slug: &str, implicit: bool) -> (TestApp, SignIn) {
    let app = spawn_app().await;
    let mut f = sign_in_fixture(&app, slug, true).await;
    let token = app.admin_token().await;
    let grants = if implicit {
        json!(["authorization_code", "implicit"])
    } else {
        json!(["authorization_code"])
    };
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(json!({
                "name": "Legacy SPA",
                "grant_types": grants,
                "redirect_uris": [f.redirect_uri],
                "scopes": ["openid", "profile", "email"],
                "first_party": true,
            })),
        )
        .await;
    assert_eq!(status, 201, "client: {body}");
    f.client_id = body["client_id"].as_str().unwrap().to_owned();
    f.client_secret = body["client_secret"].as_str().unwrap().to_owned();
    (app, f)
}

/// The relying party: the `openidconnect` crate configured from discovery.
async fn relying_party(
    app: &TestApp,
    f: &SignIn,
) -> (
    openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    CoreProviderMetadata,
) {
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer(&f.tenant)).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(f.client_id.clone()),
        Some(ClientSecret::new(f.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(f.redirect_uri.clone()).unwrap());
    (client, metadata)
}

/// Signs the fixture's user in at `url` and returns where the provider sent the browser.
pub(crate) async fn sign_in(f: &SignIn, url: &str) -> Step {
    let agent = Agent::new();
    let step = agent.get(url).await;
    let (status, page) = step.page();
    assert_eq!(status, 200, "{page}");
    agent.login(page, &f.username, &f.password).await
}

/// The parameters of a redirect's fragment; the query must carry none of them.
pub(crate) fn fragment(location: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(location).unwrap();
    assert_eq!(url.query(), None, "nothing in the query: {location}");
    let fragment = url
        .fragment()
        .unwrap_or_else(|| panic!("no fragment: {location}"));
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `at_hash` / `c_hash` of `value` for the SHA-256 algorithms (OIDC Core §3.3.2.11), computed
/// here independently of the server.
pub(crate) fn half_hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(value.as_bytes())[..16])
}

/// An authorization URL of `f`'s client with `params` (and PKCE when a code is asked for).
fn authorize_url(app: &TestApp, f: &SignIn, response_type: &str, extra: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", response_type),
        ("client_id", &f.client_id),
        ("redirect_uri", &f.redirect_uri),
        ("scope", "openid profile email"),
        ("state", "st-9"),
    ];
    if response_type.contains("code") {
        params.push(("code_challenge", &challenge));
        params.push(("code_challenge_method", "S256"));
    }
    params.extend_from_slice(extra);
    format!(
        "{}/authorize?{}",
        app.issuer(&f.tenant),
        serde_urlencoded::to_string(&params).unwrap()
    )
}

#[actix_web::test]
async fn implicit_id_token_token_verifies_with_openidconnect_and_its_access_token_works() {
    let (app, f) = setup("imp-rp", true).await;
    let (client, metadata) = relying_party(&app, &f).await;
    let types: Vec<String> = serde_json::from_value(
        serde_json::to_value(&metadata).unwrap()["response_types_supported"].clone(),
    )
    .unwrap();
    for wanted in [
        "code",
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ] {
        assert!(types.iter().any(|t| t == wanted), "{wanted} in {types:?}");
    }
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::Implicit(true),
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .url();
    let step = sign_in(&f, url.as_str()).await;
    let location = step.location().to_owned();
    assert!(
        location.starts_with(&format!("{}#", f.redirect_uri)),
        "{location}"
    );
    let params = fragment(&location);
    assert_eq!(get(&params, "state"), Some(csrf.secret().as_str()));
    assert_eq!(get(&params, "iss"), Some(app.issuer("imp-rp").as_str()));
    assert_eq!(get(&params, "token_type"), Some("Bearer"));
    assert!(get(&params, "expires_in").unwrap().parse::<i64>().unwrap() > 0);
    assert_eq!(get(&params, "code"), None);
    assert_eq!(get(&params, "refresh_token"), None, "RFC 6749 §4.2.2");
    let access_token = get(&params, "access_token").unwrap();
    let raw_id = get(&params, "id_token").unwrap();

    // The RP library verifies signature, issuer, audience, expiry and nonce.
    let id_token: CoreIdToken = raw_id.parse().unwrap();
    let verified = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies");
    let raw = claims(raw_id);
    assert_eq!(raw["nonce"], nonce.secret().as_str());
    assert_eq!(
        raw["at_hash"],
        half_hash(access_token),
        "OIDC Core §3.2.2.10"
    );
    assert!(raw.get("c_hash").is_none());
    // Scope claims are for userinfo, since an access token came with the ID token (§5.4).
    assert!(raw.get("email").is_none(), "{raw}");

    // The access token works at userinfo and names the same user.
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer("imp-rp")))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["sub"].as_str(), Some(verified.subject().as_str()));
    assert_eq!(info["email"], "alice@example.com");

    // It belongs to the sign-in's grant: ending the user's sessions kills it.
    let admin = app.admin_token().await;
    let (status, body) = app
        .admin(
            &admin,
            reqwest::Method::DELETE,
            &format!("/tenants/imp-rp/users/{}/sessions", f.username),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer("imp-rp")))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the session's tokens end with it");
}

#[actix_web::test]
async fn response_type_id_token_puts_the_scope_claims_in_the_id_token() {
    let (app, f) = setup("imp-only", true).await;
    let url = authorize_url(&app, &f, "id_token", &[("nonce", "n-1")]);
    let location = sign_in(&f, &url).await.location().to_owned();
    let params = fragment(&location);
    assert_eq!(get(&params, "access_token"), None);
    assert_eq!(get(&params, "code"), None);
    let raw = claims(get(&params, "id_token").unwrap());
    assert_eq!(raw["nonce"], "n-1");
    assert_eq!(raw["aud"], json!([f.client_id]));
    // OIDC Core §5.4: no access token, so the scope claims come in the ID token.
    assert_eq!(raw["email"], "alice@example.com");
    assert_eq!(raw["given_name"], "Alice");
    assert!(raw.get("at_hash").is_none() && raw.get("c_hash").is_none());
}

#[actix_web::test]
async fn hybrid_flows_return_what_they_name_with_c_hash_and_at_hash_and_the_code_redeems() {
    let (app, f) = setup("hybrid", true).await;
    for (response_type, has_id, has_at) in [
        ("code id_token", true, false),
        ("code token", false, true),
        ("code id_token token", true, true),
    ] {
        let nonce = format!("nonce-{}", response_type.len());
        let url = authorize_url(&app, &f, response_type, &[("nonce", &nonce)]);
        let location = sign_in(&f, &url).await.location().to_owned();
        let params = fragment(&location);
        let code = get(&params, "code").unwrap_or_else(|| panic!("{response_type}: no code"));
        assert_eq!(
            get(&params, "id_token").is_some(),
            has_id,
            "{response_type}"
        );
        assert_eq!(
            get(&params, "access_token").is_some(),
            has_at,
            "{response_type}"
        );
        if let Some(id_token) = get(&params, "id_token") {
            let raw = claims(id_token);
            assert_eq!(raw["c_hash"], half_hash(code), "{response_type}: c_hash");
            assert_eq!(raw["nonce"], nonce.as_str());
            match get(&params, "access_token") {
                Some(at) => assert_eq!(raw["at_hash"], half_hash(at)),
                None => assert!(raw.get("at_hash").is_none()),
            }
        }
        // The code is the code flow's: PKCE-bound, single use, and its ID token keeps the nonce.
        let (status, tokens) = f.exchange(&app, code, VERIFIER).await;
        assert_eq!(status, 200, "{response_type}: {tokens}");
        let from_token_endpoint = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(from_token_endpoint["nonce"], nonce.as_str());
        let (status, _) = f.exchange(&app, code, VERIFIER).await;
        assert_eq!(status, 400, "{response_type}: a replayed code fails");
    }
}

#[actix_web::test]
async fn form_post_carries_the_tokens_in_an_auto_submitting_form() {
    let (app, f) = setup("imp-post", true).await;
    let url = authorize_url(
        &app,
        &f,
        "code id_token",
        &[("nonce", "n-fp"), ("response_mode", "form_post")],
    );
    let step = sign_in(&f, &url).await;
    let (status, page) = step.page();
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("action=\"{}\"", f.redirect_uri)),
        "{page}"
    );
    let fields = hidden_fields(page);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let code = field("code").expect("code");
    let id_token = field("id_token").expect("id_token");
    assert_eq!(field("state").as_deref(), Some("st-9"));
    assert_eq!(claims(&id_token)["c_hash"], half_hash(&code));
}

#[actix_web::test]
async fn refusals_reach_the_client_in_the_fragment_never_the_query() {
    let (app, f) = setup("imp-neg", true).await;
    let agent = Agent::new();
    let refusal = |location: &str| {
        let params = fragment(location);
        (
            get(&params, "error").unwrap_or_default().to_owned(),
            get(&params, "state").map(str::to_owned),
        )
    };
    // OIDC Core §3.2.2.1: nonce is required when an ID token comes from the endpoint.
    for rt in [
        "id_token",
        "id_token token",
        "code id_token",
        "code id_token token",
    ] {
        let step = agent.get(&authorize_url(&app, &f, rt, &[])).await;
        let (error, state) = refusal(step.location());
        assert_eq!(error, "invalid_request", "{rt} without nonce");
        assert_eq!(state.as_deref(), Some("st-9"));
    }
    // `code token` gives no ID token from the endpoint: nonce stays optional there.
    let step = agent.get(&authorize_url(&app, &f, "code token", &[])).await;
    assert_eq!(step.page().0, 200, "the login page");
    // Tokens never travel in the query: refused, and the refusal itself uses the fragment.
    let step = agent
        .get(&authorize_url(
            &app,
            &f,
            "id_token",
            &[("nonce", "n"), ("response_mode", "query")],
        ))
        .await;
    assert_eq!(refusal(step.location()).0, "invalid_request");
    // Without `openid` there is no implicit or hybrid flow.
    let url = authorize_url(&app, &f, "id_token token", &[("nonce", "n")])
        .replace("scope=openid+profile+email", "scope=profile");
    assert_eq!(
        refusal(agent.get(&url).await.location()).0,
        "invalid_request"
    );
    // Bare `token` (the OAuth implicit grant) and unknown values are not supported.
    for rt in ["token", "code code", "id_token none"] {
        let step = agent
            .get(&authorize_url(&app, &f, rt, &[("nonce", "n")]))
            .await;
        let location = step.location();
        let error = param(location, "error").unwrap();
        assert_eq!(error, "unsupported_response_type", "{rt}: {location}");
    }

    // A client not allowed the implicit grant gets `unauthorized_client`, in the fragment.
    let (app, f) = setup("imp-off", false).await;
    for rt in ["id_token", "code id_token", "code token"] {
        let step = agent
            .get(&authorize_url(&app, &f, rt, &[("nonce", "n")]))
            .await;
        assert_eq!(refusal(step.location()).0, "unauthorized_client", "{rt}");
    }
    // The code flow still works for it.
    let step = agent.get(&authorize_url(&app, &f, "code", &[])).await;
    assert_eq!(step.page().0, 200);
}

#[actix_web::test]
async fn the_implicit_grant_is_off_by_default_and_needs_the_code_grant() {
    let app = spawn_app().await;
    app.create_tenant("imp-adm", "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/imp-adm/clients",
            Some(json!({"name": "x", "grant_types": ["implicit"],
                        "redirect_uris": ["https://app.example.com/cb"]})),
        )
        .await;
    assert_eq!(status, 400, "implicit alone: {body}");
    // A new public client gets the code grant only.
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            "/tenants/imp-adm/clients",
            Some(json!({"name": "spa", "public": true,
                        "redirect_uris": ["https://app.example.com/cb"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        !body["grant_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "implicit"),
        "{body}"
    );
    // The token endpoint knows no `implicit` grant.
    let resp = app
        .post_token(
            "imp-adm",
            None,
            &[
                ("grant_type", "implicit"),
                ("client_id", body["client_id"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(TestApp::oauth_error(resp).await, "unsupported_grant_type");
}

#[actix_web::test]
async fn dynamic_registration_accepts_the_implicit_grant_only_where_the_policy_allows_it() {
    let app = spawn_app().await;
    app.create_tenant("imp-dcr", "ES256").await;
    let register = |metadata: Value| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(format!("{}/register", app.issuer("imp-dcr")))
                .json(&metadata)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let settings = |grants: Value| {
        let app = &app;
        async move {
            let token = app.admin_token().await;
            let (status, body) = app
                .admin(
                    &token,
                    reqwest::Method::PATCH,
                    "/tenants/imp-dcr/settings",
                    Some(json!({"registration": {"mode": "open", "grant_types": grants}})),
                )
                .await;
            assert_eq!(status, 200, "settings: {body}");
        }
    };
    let legacy = json!({
        "redirect_uris": ["https://legacy.example.com/cb"],
        "grant_types": ["authorization_code", "implicit"],
        "response_types": ["code", "code id_token"],
        "token_endpoint_auth_method": "none",
    });
    settings(json!(["authorization_code"])).await;
    let (status, body) = register(legacy.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");

    settings(json!(["authorization_code", "implicit"])).await;
    let (status, body) = register(legacy).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["grant_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "implicit"),
        "{body}"
    );
    assert!(
        body["response_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "code id_token"),
        "{body}"
    );
    // response_types must agree with grant_types (RFC 7591 §2.1).
    let (status, body) = register(json!({
        "redirect_uris": ["https://legacy.example.com/cb"],
        "response_types": ["code id_token"],
        "token_endpoint_auth_method": "none",
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
}
