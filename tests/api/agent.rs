//! A scripted browser without a browser: a cookie-keeping HTTP client that follows the
//! authorization endpoint's pages the way a user would — reads the login and consent forms'
//! hidden fields, fills them in and submits them — and stops at the redirect to the client.

use std::sync::Arc;

use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A user agent with its own cookie jar.
pub struct Agent {
    /// The client (no redirects followed; cookies kept).
    pub http: reqwest::Client,
    /// Its cookie jar.
    #[allow(dead_code)]
    pub jar: Arc<reqwest::cookie::Jar>,
}

/// What the last response was.
#[derive(Debug)]
pub enum Step {
    /// A redirect away from the login pages: the Location.
    Redirect(String),
    /// An HTML page: status and body.
    Page(u16, String),
}

impl Step {
    /// The Location of a redirect; panics otherwise.
    pub fn location(&self) -> &str {
        match self {
            Step::Redirect(l) => l,
            Step::Page(status, body) => panic!("expected a redirect, got {status}: {body}"),
        }
    }

    /// The body of a page; panics otherwise.
    pub fn page(&self) -> (u16, &str) {
        match self {
            Step::Page(status, body) => (*status, body),
            Step::Redirect(l) => panic!("expected a page, got a redirect to {l}"),
        }
    }
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

impl Agent {
    /// A fresh agent with an empty cookie jar.
    pub fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(Arc::clone(&jar))
            .build()
            .unwrap();
        Self { http, jar }
    }

    async fn step(resp: reqwest::Response) -> Step {
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
            return Step::Redirect(location);
        }
        Step::Page(status, resp.text().await.unwrap())
    }

    /// GETs `url`.
    pub async fn get(&self, url: &str) -> Step {
        Self::step(self.http.get(url).send().await.unwrap()).await
    }

    /// Submits the (first) form of `page` with its hidden fields plus `fields`.
    pub async fn submit(&self, page: &str, fields: &[(&str, &str)]) -> Step {
        let action = attr_after(page, "<form", "action").expect("form action");
        let mut form: Vec<(String, String)> = hidden_fields(page);
        for (name, value) in fields {
            form.push(((*name).to_owned(), (*value).to_owned()));
        }
        Self::step(self.http.post(action).form(&form).send().await.unwrap()).await
    }

    /// Signs in on a login page.
    pub async fn login(&self, page: &str, username: &str, password: &str) -> Step {
        assert!(
            page.contains("name=\"password\""),
            "not a login page: {page}"
        );
        self.submit(page, &[("username", username), ("password", password)])
            .await
    }

    /// Answers a consent page, ticking exactly `scopes` (besides the required ones).
    pub async fn consent(&self, page: &str, scopes: &[&str], allow: bool) -> Step {
        assert!(
            page.contains("name=\"decision\""),
            "not a consent page: {page}"
        );
        let mut fields: Vec<(&str, &str)> = scopes.iter().map(|s| ("scope", *s)).collect();
        fields.push(("decision", if allow { "allow" } else { "deny" }));
        self.submit(page, &fields).await
    }
}

/// The value of `name` in the first tag that starts with `tag` — enough for our own pages.
fn attr_after(html: &str, tag: &str, name: &str) -> Option<String> {
    let start = html.find(tag)?;
    let rest = &html[start..];
    let end = rest.find('>')?;
    attr(&rest[..end], name)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
        .replace("&#x60;", "`")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// Every `<input type="hidden">` of the page.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.match_indices("<input type=\"hidden\"")
        .filter_map(|(i, _)| {
            let rest = &html[i..];
            let tag = &rest[..rest.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// A query (or fragment) parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if let Some(v) = parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
    {
        return Some(v);
    }
    let fragment = parsed.fragment()?;
    url::form_urlencoded::parse(fragment.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A tenant with a sign-in client and a user, ready for browser flows.
pub struct SignIn {
    /// Tenant slug.
    pub tenant: String,
    /// The client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Its one redirect URI.
    pub redirect_uri: String,
    /// Its post-logout redirect URI.
    pub post_logout_redirect_uri: String,
    /// The user's username.
    pub username: String,
    /// The user's password.
    pub password: String,
}

/// Creates tenant `slug` (cheap argon2 so tests stay fast, except where a test changes it), a
/// confidential code+refresh client and the user `alice`.
pub async fn sign_in_fixture(app: &TestApp, slug: &str, first_party: bool) -> SignIn {
    app.create_tenant(slug, "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PUT,
            &format!("/tenants/{slug}/settings"),
            Some(json!({"password": {"argon2_memory_kib": 8, "argon2_iterations": 1}})),
        )
        .await;
    assert_eq!(status, 200, "settings: {body}");
    let redirect_uri = "http://127.0.0.1:9/cb".to_owned();
    let post_logout_redirect_uri = "http://127.0.0.1:9/bye".to_owned();
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/clients"),
            Some(json!({
                "name": "Photo App",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri],
                "post_logout_redirect_uris": [post_logout_redirect_uri],
                "scopes": ["openid", "profile", "email", "offline_access"],
                "first_party": first_party,
            })),
        )
        .await;
    assert_eq!(status, 201, "client: {body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let client_secret = body["client_secret"].as_str().unwrap().to_owned();
    let password = "correct horse battery staple".to_owned();
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{slug}/users"),
            Some(json!({
                "username": "alice",
                "password": password,
                "email": "alice@example.com",
                "email_verified": true,
                "given_name": "Alice",
                "family_name": "Liddell",
            })),
        )
        .await;
    assert_eq!(status, 201, "user: {body}");
    SignIn {
        tenant: slug.to_owned(),
        client_id,
        client_secret,
        redirect_uri,
        post_logout_redirect_uri,
        username: "alice".to_owned(),
        password,
    }
}

impl SignIn {
    /// An authorization URL with PKCE for `verifier`, `state` and `nonce`, plus `extra`.
    pub fn authorize_url(
        &self,
        app: &TestApp,
        scope: &str,
        verifier: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let challenge = s256(verifier);
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", scope),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        format!(
            "{}/authorize?{}",
            app.issuer(&self.tenant),
            serde_urlencoded::to_string(&params).unwrap()
        )
    }

    /// Exchanges a code at the token endpoint; returns status and JSON body.
    pub async fn exchange(&self, app: &TestApp, code: &str, verifier: &str) -> (u16, Value) {
        let resp = app
            .post_token(
                &self.tenant,
                Some((&self.client_id, &self.client_secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Runs the whole browser part of a flow for a fresh agent (login, consent allowing every
    /// offered scope) and returns the agent and the code.
    pub async fn code(&self, app: &TestApp, scope: &str, verifier: &str) -> (Agent, String) {
        let agent = Agent::new();
        let step = agent
            .get(&self.authorize_url(app, scope, verifier, &[]))
            .await;
        let (_, page) = step.page();
        let mut step = agent.login(page, &self.username, &self.password).await;
        if let Step::Page(_, page) = &step {
            let all: Vec<&str> = scope.split(' ').collect();
            step = agent.consent(page, &all, true).await;
        }
        let location = step.location().to_owned();
        assert!(location.starts_with(&self.redirect_uri), "{location}");
        let code = param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
        (agent, code)
    }
}
