//! Pairwise subject identifiers (OIDC Core §8.1): clients of one sector see the same `sub`,
//! clients of another sector another one, public clients the user id; the ID token, the access
//! token, userinfo and introspection agree for each client; `sector_identifier_uri` is fetched
//! and checked at registration; the values survive a restart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{TestApp, spawn_app, spawn_app_on, spawn_app_with};

/// What a tiny sector-document server answers.
#[derive(Clone)]
pub enum Serve {
    /// 200 with this body.
    Body(String),
    /// Never answers (the fetch must time out).
    Silence,
}

/// A tiny HTTP server on 127.0.0.1 answering every request as `what` says; its URL.
pub async fn serve(what: Serve) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sector.json", listener.local_addr().unwrap());
    actix_web::rt::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let what = what.clone();
            actix_web::rt::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                match what {
                    Serve::Body(body) => {
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(resp.as_bytes()).await;
                    }
                    Serve::Silence => {
                        actix_web::rt::time::sleep(std::time::Duration::from_secs(10)).await;
                    }
                }
            });
        }
    });
    url
}

/// Registers a first-party code-flow client with `redirect_uris` and `options`; status and body.
pub async fn register(
    app: &TestApp,
    tenant: &str,
    redirect_uris: &[&str],
    options: Value,
) -> (u16, Value) {
    let token = app.admin_token().await;
    app.admin(
        &token,
        reqwest::Method::POST,
        &format!("/tenants/{tenant}/clients"),
        Some(json!({
            "name": "Pairwise App",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": redirect_uris,
            "scopes": ["openid", "profile", "email", "offline_access"],
            "first_party": true,
            "options": options,
        })),
    )
    .await
}

/// The sign-in fixture as the client just registered (`body`) with its first redirect URI.
pub fn as_client(base: &SignIn, body: &Value, redirect_uri: &str) -> SignIn {
    SignIn {
        tenant: base.tenant.clone(),
        client_id: body["client_id"].as_str().unwrap().to_owned(),
        client_secret: body["client_secret"].as_str().unwrap().to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        post_logout_redirect_uri: base.post_logout_redirect_uri.clone(),
        username: base.username.clone(),
        password: base.password.clone(),
    }
}

/// Registers a client that must be accepted; the fixture as that client.
pub async fn client(
    app: &TestApp,
    base: &SignIn,
    redirect_uris: &[&str],
    options: Value,
) -> SignIn {
    let (status, body) = register(app, &base.tenant, redirect_uris, options).await;
    assert_eq!(status, 201, "register: {body}");
    as_client(base, &body, redirect_uris[0])
}

/// The claims of a JWT, unverified (the tests that verify signatures do so elsewhere).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The `sub` each view states for `who` after a code flow: ID token, access token (JWT),
/// userinfo and introspection. Asserts they are one value and returns it.
pub async fn subject(app: &TestApp, who: &SignIn) -> String {
    let verifier = "pairwise-verifier-0123456789-0123456789-0123456789";
    let (_, code) = who.code(app, "openid profile", verifier).await;
    let (status, tokens) = who.exchange(app, &code, verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_sub = jwt_claims(tokens["id_token"].as_str().unwrap())["sub"].clone();
    let access_token = tokens["access_token"].as_str().unwrap();
    let at_sub = jwt_claims(access_token)["sub"].clone();
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.issuer(&who.tenant)))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let introspection: Value = app
        .http
        .post(format!("{}/introspect", app.issuer(&who.tenant)))
        .basic_auth(&who.client_id, Some(&who.client_secret))
        .form(&[("token", access_token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspection["active"], true, "{introspection}");
    let refresh: Value = app
        .http
        .post(format!("{}/introspect", app.issuer(&who.tenant)))
        .basic_auth(&who.client_id, Some(&who.client_secret))
        .form(&[(
            "token",
            tokens["refresh_token"].as_str().unwrap_or_default(),
        )])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(id_sub.is_string(), "{tokens}");
    assert_eq!(id_sub, at_sub, "access token sub");
    assert_eq!(id_sub, userinfo["sub"], "userinfo sub: {userinfo}");
    assert_eq!(id_sub, introspection["sub"], "introspection sub");
    if refresh["active"] == true {
        assert_eq!(id_sub, refresh["sub"], "refresh token introspection sub");
    }
    id_sub.as_str().unwrap().to_owned()
}

/// The id of user `username` of `tenant`, through the admin API.
pub async fn user_id(app: &TestApp, tenant: &str, username: &str) -> String {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::GET,
            &format!("/tenants/{tenant}/users"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .expect("the user")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn clients_of_one_sector_share_a_pairwise_sub_and_other_sectors_do_not() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "pw-sectors", true).await;
    let pairwise = json!({"subject_type": "pairwise"});
    let a1 = client(&app, &base, &["https://a.example.com/cb"], pairwise.clone()).await;
    let a2 = client(
        &app,
        &base,
        &["https://a.example.com/other", "https://A.example.com/third"],
        pairwise.clone(),
    )
    .await;
    let b = client(&app, &base, &["https://b.example.com/cb"], pairwise).await;

    let user = user_id(&app, "pw-sectors", "alice").await;
    let public = subject(&app, &base).await;
    assert_eq!(public, user, "a public client keeps the user id");
    let sub_a1 = subject(&app, &a1).await;
    let sub_a2 = subject(&app, &a2).await;
    let sub_b = subject(&app, &b).await;
    assert_eq!(sub_a1, sub_a2, "one sector, one sub");
    assert_ne!(sub_a1, sub_b, "another sector, another sub");
    for sub in [&sub_a1, &sub_b] {
        assert_ne!(sub, &user);
        assert_eq!(sub.len(), 43, "base64url of a SHA-256");
    }
    // The same client again gets the same value.
    assert_eq!(subject(&app, &a1).await, sub_a1);
}

#[actix_web::test]
async fn pairwise_subs_survive_a_restart_on_the_same_database() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "pw-restart", true).await;
    let a = client(
        &app,
        &base,
        &["https://a.example.com/cb"],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    let before = subject(&app, &a).await;
    let TestApp {
        data_dir,
        database_url,
        ..
    } = app;
    let restarted = spawn_app_on(data_dir, database_url).await;
    assert_eq!(subject(&restarted, &a).await, before);
}

#[actix_web::test]
async fn redirect_uris_on_several_hosts_need_a_sector_identifier_uri() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "pw-hosts", true).await;
    let two_hosts = ["https://x.example.com/cb", "https://y.example.com/cb"];
    let (status, body) = register(
        &app,
        "pw-hosts",
        &two_hosts,
        json!({"subject_type": "pairwise"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("sector_identifier_uri"),
        "{body}"
    );
    // A public client may have them.
    let (status, body) = register(&app, "pw-hosts", &two_hosts, json!({})).await;
    assert_eq!(status, 201, "{body}");
    // Nor can an update make a pairwise client span two hosts.
    let one = client(
        &app,
        &base,
        &["https://x.example.com/cb"],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::PATCH,
            &format!("/tenants/pw-hosts/clients/{}", one.client_id),
            Some(json!({"redirect_uris": two_hosts})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn a_sector_identifier_uri_listing_the_redirect_uris_makes_its_host_the_sector() {
    // The test's document server is plain http on loopback.
    let app = spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    let base = sign_in_fixture(&app, "pw-sector-uri", true).await;
    let two_hosts = ["https://x.example.com/cb", "https://y.example.com/cb"];
    let url = serve(Serve::Body(json!(two_hosts).to_string())).await;
    let spanning = client(
        &app,
        &base,
        &two_hosts,
        json!({"subject_type": "pairwise", "sector_identifier_uri": url}),
    )
    .await;
    // The sector is the document's host, 127.0.0.1: the host of the fixture's redirect URI,
    // so a pairwise client redirecting there shares the sub.
    let local = client(
        &app,
        &base,
        &[base.redirect_uri.as_str()],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    let other = client(
        &app,
        &base,
        &["https://x.example.com/cb"],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    let sub = subject(&app, &spanning).await;
    assert_eq!(sub, subject(&app, &local).await);
    assert_ne!(sub, subject(&app, &other).await);
}

#[actix_web::test]
async fn a_sector_identifier_uri_that_does_not_serve_the_redirect_uris_is_refused() {
    // The test's document server is plain http on loopback.
    let app = spawn_app_with(|s| s.tenants.allow_loopback_http_jwks_uri = true).await;
    sign_in_fixture(&app, "pw-bad-sector", true).await;
    let uris = ["https://x.example.com/cb", "https://y.example.com/cb"];
    let refused = |body: Value| json!({"subject_type": "pairwise", "sector_identifier_uri": body});

    let cases = [
        (
            "one URI missing",
            serve(Serve::Body(json!([uris[0]]).to_string())).await,
        ),
        (
            "not JSON",
            serve(Serve::Body("<html>hi</html>".into())).await,
        ),
        (
            "not an array",
            serve(Serve::Body(json!({"uris": uris}).to_string())).await,
        ),
        (
            "too big",
            serve(Serve::Body(
                json!([uris[0], uris[1], "x".repeat(70 * 1024)]).to_string(),
            ))
            .await,
        ),
        ("silent", serve(Serve::Silence).await),
    ];
    for (what, url) in cases {
        let started = std::time::Instant::now();
        let (status, body) = register(&app, "pw-bad-sector", &uris, refused(json!(url))).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("sector_identifier_uri"),
            "{what}: {body}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "{what}"
        );
    }
    // Plain http to anything but a loopback host, and nothing listening, are refused too.
    for url in [
        "http://sector.example.com/s.json",
        "http://127.0.0.1:9/s.json",
    ] {
        let (status, body) = register(&app, "pw-bad-sector", &uris, refused(json!(url))).await;
        assert_eq!(status, 400, "{url}: {body}");
    }
}

#[actix_web::test]
async fn discovery_advertises_pairwise_subjects() {
    let app = spawn_app().await;
    app.create_tenant("pw-discovery", "ES256").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("pw-discovery")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["subject_types_supported"],
        json!(["public", "pairwise"])
    );
}

#[actix_web::test]
async fn the_cli_registers_pairwise_clients_with_signed_userinfo() {
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "pw-cli", true).await;
    let create = |uris: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "pw-cli",
            "--name",
            "cli rp",
            "--grant",
            "authorization_code",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--first-party",
            "--subject-type",
            "pairwise",
            "--userinfo-signed-response-alg",
            "ES256",
        ];
        for uri in uris {
            args.extend_from_slice(&["--redirect-uri", *uri]);
        }
        app.cli(&args)
    };
    let (ok, refused) = create(&["https://a.example.com/cb", "https://b.example.com/cb"]);
    assert!(!ok, "two hosts without a sector_identifier_uri: {refused}");
    let (ok, created) = create(&["https://a.example.com/cli"]);
    assert!(ok, "{created}");
    assert_eq!(created["options"]["subject_type"], "pairwise", "{created}");
    assert_eq!(created["options"]["userinfo_signed_response_alg"], "ES256");
    let (ok, bad) = app.cli(&[
        "client",
        "create",
        "pw-cli",
        "--name",
        "bad",
        "--grant",
        "authorization_code",
        "--redirect-uri",
        "https://a.example.com/cb",
        "--subject-type",
        "sometimes",
    ]);
    assert!(!ok, "{bad}");

    let cli_client = as_client(&base, &created, "https://a.example.com/cli");
    let login_page = cli_client.authorize_url(&app, "openid", "v", &[]);
    let seen = crate::helpers::within(3 * crate::helpers::PROPAGATION, || async {
        let resp = app.http.get(&login_page).send().await.unwrap();
        resp.status().as_u16() == 200
    })
    .await;
    assert!(seen.is_some(), "the server learns of the CLI's client");
    let api_client = client(
        &app,
        &base,
        &["https://a.example.com/api"],
        json!({"subject_type": "pairwise"}),
    )
    .await;
    // One sector (a.example.com), one sub; the signed userinfo states it too.
    let verifier = "pairwise-verifier-0123456789-0123456789-0123456789";
    let (_, code) = cli_client.code(&app, "openid profile", verifier).await;
    let (status, tokens) = cli_client.exchange(&app, &code, verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let sub = jwt_claims(tokens["id_token"].as_str().unwrap())["sub"].clone();
    assert_eq!(sub, subject(&app, &api_client).await.as_str());
    let resp = app
        .http
        .get(format!("{}/userinfo", app.issuer("pw-cli")))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/jwt");
    assert_eq!(jwt_claims(&resp.text().await.unwrap())["sub"], sub);
}

#[actix_web::test]
async fn a_sector_identifier_uri_on_the_deployments_own_network_is_never_fetched() {
    // Without the development setting, plain http to loopback is refused before any request,
    // and so is an https URL naming a private or link-local address (SSRF).
    let app = spawn_app().await;
    let base = sign_in_fixture(&app, "pw-ssrf", true).await;
    let uris = ["https://x.example.com/cb", "https://y.example.com/cb"];
    let document = serve(Serve::Body(json!(uris).to_string())).await;
    for sector in [
        document.as_str(),
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/sector.json",
        "https://[::1]/sector.json",
    ] {
        let token = app.admin_token().await;
        let (status, body) = app
            .admin(
                &token,
                reqwest::Method::POST,
                &format!("/tenants/{}/clients", base.tenant),
                Some(json!({
                    "name": "ssrf",
                    "grant_types": ["authorization_code"],
                    "redirect_uris": uris,
                    "scopes": ["openid"],
                    "options": {"subject_type": "pairwise", "sector_identifier_uri": sector},
                })),
            )
            .await;
        assert_eq!(status, 400, "{sector}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .contains("sector_identifier_uri"),
            "{sector}: {body}"
        );
    }
}
