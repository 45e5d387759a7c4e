//! `spawn_app` and the helpers every test uses.

use std::net::TcpListener;
use std::process::Command;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tessera::{Application, Overrides, Settings};

/// The key that the JWK set at `jwks_url` (fetched with `http`) publishes for the `kid` of
/// `jwt`'s header; panics when it publishes none.
pub async fn published_key(
    http: &reqwest::Client,
    jwks_url: &str,
    jwt: &str,
) -> jsonwebtoken::DecodingKey {
    let kid = jsonwebtoken::decode_header(jwt)
        .expect("JWS header")
        .kid
        .expect("a kid");
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(jwks_url)
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("a JWK set");
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("the JWKS at {jwks_url} lacks {kid}"));
    jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a decoding key")
}

/// How soon a change (admin API, CLI, another node) must reach the protocol endpoints.
pub const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(1);

/// Polls `probe` every 50 ms until it holds; the time it took, or `None` after `limit`.
pub async fn within<F, Fut>(limit: std::time::Duration, mut probe: F) -> Option<std::time::Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if probe().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// HTTP client (no redirects followed).
    pub http: reqwest::Client,
    /// Operator admin client of the system tenant.
    pub operator_id: String,
    /// Its secret.
    pub operator_secret: String,
    /// Data directory (master key; SQLite file when no PostgreSQL URL is given).
    pub data_dir: tempfile::TempDir,
    /// Database URL the server uses.
    pub database_url: String,
    /// Port of the mutual-TLS listener, when the settings configure one.
    pub tls_port: Option<u16>,
}

/// A client registered through the admin API.
pub struct TestClient {
    /// client_id.
    pub id: String,
    /// client_secret (confidential clients).
    pub secret: String,
}

/// A fresh database URL: a new PostgreSQL database when `TESSERA_TEST_DATABASE_URL` is set,
/// otherwise SQLite in `data_dir`.
pub async fn fresh_database(data_dir: &std::path::Path) -> String {
    match std::env::var("TESSERA_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            use sea_orm::{ConnectionTrait, Database};
            let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base)
                .await
                .expect("connect to TESSERA_TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&base).expect("TESSERA_TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
        _ => format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("tessera.db").display()
        ),
    }
}

/// Starts the real server on a random port with a fresh database.
pub async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database(data_dir.path()).await;
    spawn_app_on(data_dir, database_url).await
}

/// Starts the real server on a random port with a fresh database, after `configure` has
/// adjusted the settings (e.g. `server.tls`).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database(data_dir.path()).await;
    spawn_app_on_with(data_dir, database_url, configure).await
}

/// Starts a server on an existing data directory and database (a second node, or a restart).
pub async fn spawn_app_on(data_dir: tempfile::TempDir, database_url: String) -> TestApp {
    spawn_app_on_with(data_dir, database_url, |_| {}).await
}

/// A second node on `first`'s database, sharing its master key.
pub async fn second_node(first: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        first.data_dir.path().join("master.key"),
        dir.path().join("master.key"),
    )
    .expect("copy the master key");
    spawn_app_on(dir, first.database_url.clone()).await
}

/// [`spawn_app_on`] with adjusted settings.
pub async fn spawn_app_on_with(
    data_dir: tempfile::TempDir,
    database_url: String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let (server, app) = build_app_on_with(data_dir, database_url, configure).await;
    actix_web::rt::spawn(server.run_until_stopped());
    app
}

/// Builds the server of [`spawn_app_on_with`] without starting it (for what a test does before
/// the first request, e.g. `create_console_admin`); run it with `run_until_stopped`.
pub async fn build_app_on_with(
    data_dir: tempfile::TempDir,
    database_url: String,
    configure: impl FnOnce(&mut Settings),
) -> (Application, TestApp) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let address = format!("http://127.0.0.1:{port}");
    let overrides = Overrides {
        data_dir: Some(data_dir.path().to_path_buf()),
        database_url: Some(database_url.clone()),
        listen: Some(format!("127.0.0.1:{port}")),
        public_url: Some(address.clone()),
    };
    let mut settings = Settings::load(None, &overrides).expect("settings");
    settings.server.workers = 2;
    configure(&mut settings);
    if std::env::var("TEST_LOG").is_ok() {
        tessera::telemetry::init(&settings.log);
    }
    let mut app = Application::build_on(settings, listener)
        .await
        .expect("build app");
    let (operator_id, operator_secret) = match app.take_operator_credentials() {
        Some(op) => (op.client_id, op.client_secret.expose_secret().to_owned()),
        None => (String::new(), String::new()),
    };
    let tls_port = app.tls_port();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Below the server's 5 s keep-alive: a pooled connection the server is closing is never
        // reused (hyper `IncompleteMessage` on a loaded machine).
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("http client");
    let test_app = TestApp {
        address,
        http,
        operator_id,
        operator_secret,
        data_dir,
        database_url,
        tls_port,
    };
    (app, test_app)
}

impl TestApp {
    /// The issuer of tenant `slug`.
    pub fn issuer(&self, slug: &str) -> String {
        format!("{}/t/{slug}", self.address)
    }

    /// POSTs a form to `/t/{tenant}/token` with optional Basic credentials.
    pub async fn post_token(
        &self,
        tenant: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/t/{tenant}/token", self.address))
            .form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("token request")
    }

    /// A client-credentials token; panics unless the server answers 200.
    pub async fn client_credentials_token(
        &self,
        tenant: &str,
        client: &TestClient,
        scope: Option<&str>,
    ) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let resp = self
            .post_token(tenant, Some((&client.id, &client.secret)), &form)
            .await;
        assert_eq!(resp.status().as_u16(), 200, "token request failed");
        let body: Value = resp.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The status of a client-credentials token request by `client` at `tenant`.
    pub async fn client_credentials_status(&self, tenant: &str, client: &TestClient) -> u16 {
        self.post_token(
            tenant,
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
        .status()
        .as_u16()
    }

    /// The kids the JWKS of `tenant` publishes, in its order.
    pub async fn jwks_kids(&self, tenant: &str) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(format!("{}/jwks", self.issuer(tenant)))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// An operator admin API token.
    pub async fn admin_token(&self) -> String {
        let op = TestClient {
            id: self.operator_id.clone(),
            secret: self.operator_secret.clone(),
        };
        self.client_credentials_token("system", &op, Some("admin"))
            .await
    }

    /// Creates a tenant admin of `tenant` through the admin API (as `operator`) and returns
    /// its admin API token.
    pub async fn tenant_admin_token(&self, operator: &str, tenant: &str) -> String {
        let fields = json!({"name": format!("{tenant} admin")});
        self.admin_client(operator, tenant, fields).await.1
    }

    /// Creates an admin client of `tenant` from `fields` (`name`, optional `role`) through the
    /// admin API (as `operator`); returns the creation response and the client's admin API token.
    pub async fn admin_client(
        &self,
        operator: &str,
        tenant: &str,
        fields: Value,
    ) -> (Value, String) {
        let (status, body) = self
            .admin(
                operator,
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/admins"),
                Some(fields),
            )
            .await;
        assert_eq!(status, 201, "create admin client: {body}");
        let admin = TestClient {
            id: body["client_id"].as_str().expect("client_id").to_owned(),
            secret: body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        };
        let token = self
            .client_credentials_token("system", &admin, Some("admin"))
            .await;
        (body, token)
    }

    /// Sends an admin API request with `token`; returns status and JSON body (Null if none).
    pub async fn admin(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        status_and_json(self.admin_request(token, method, path, body)).await
    }

    /// The `items` of the admin API listing at `path`, read with `token`; panics unless 200.
    pub async fn admin_items(&self, token: &str, path: &str) -> Vec<Value> {
        let (status, body) = self.admin(token, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no items in {body}"))
            .clone()
    }

    /// Sends the template `source` (`text/x-handlebars`) to the admin API with `token`; returns
    /// status and JSON body (Null if none).
    pub async fn admin_template(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        source: &str,
    ) -> (u16, Value) {
        let req = self
            .admin_request(token, method, path, None)
            .header(reqwest::header::CONTENT_TYPE, "text/x-handlebars")
            .body(source.to_owned());
        status_and_json(req).await
    }

    /// An admin API request with `token` and the JSON `body`, to add headers to before sending.
    pub fn admin_request(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.address))
            .bearer_auth(token);
        match body {
            Some(body) => req.json(&body),
            None => req,
        }
    }

    /// Creates a tenant through the admin API.
    pub async fn create_tenant(&self, slug: &str, alg: &str) {
        let token = self.admin_token().await;
        let (status, body) = self
            .admin(
                &token,
                reqwest::Method::POST,
                "/tenants",
                Some(json!({"slug": slug, "alg": alg})),
            )
            .await;
        assert_eq!(status, 201, "create tenant: {body}");
    }

    /// Registers a confidential client-credentials client through the admin API.
    pub async fn create_client(&self, tenant: &str, scopes: &[&str]) -> TestClient {
        let token = self.admin_token().await;
        let (status, body) = self
            .admin(
                &token,
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/clients"),
                Some(json!({"name": "test client", "grant_types": ["client_credentials"], "scopes": scopes})),
            )
            .await;
        assert_eq!(status, 201, "create client: {body}");
        TestClient {
            id: body["client_id"].as_str().expect("client_id").to_owned(),
            secret: body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }

    /// Runs the real `tessera` binary against this server's data directory and database with
    /// `--json`; returns exit success and the parsed stdout.
    pub fn cli(&self, args: &[&str]) -> (bool, Value) {
        let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--json")
            .args(args)
            .output()
            .expect("run tessera");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (output.status.success(), value)
    }

    /// The error code of an OAuth error response.
    pub async fn oauth_error(resp: reqwest::Response) -> String {
        let body: Value = resp.json().await.expect("json error body");
        body["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends `req`; returns the status and the JSON body (Null when there is none).
pub async fn status_and_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
