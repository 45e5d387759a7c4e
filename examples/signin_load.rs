//! `signin_load`: a closed-loop load generator for browser sign-in at one Tessera tenant.
//!
//! Each virtual user runs one scenario in a loop for a fixed time and never retries a failed
//! request: anything but the expected answer is counted as an error, keyed by stage and status.
//!
//! - `login`: `GET /authorize` (the login page and its CSRF cookie) then `POST /login` with the
//!   password, with an empty cookie jar each time. One unit = one redirect back to the client with
//!   a `code` (a password sign-in).
//! - `flow`: `login` plus the code exchange at `POST /token` with the PKCE verifier (RFC 7636
//!   §4.5). One unit = one token response.
//! - `refresh`: each virtual user signs in once (not measured), then loops refresh grants
//!   (RFC 6749 §6), always presenting the token the previous grant returned (rotation).
//! - `userinfo`: each virtual user signs in once (not measured), then loops `GET /userinfo` with
//!   its access token (OIDC Core §5.3, RFC 6750 §2.1).
//!
//! It prints one JSON line on stdout: units completed inside the measured window, their rate, unit
//! latency percentiles, per-stage latencies, errors, and — with `--server-pid` — the server's CPU
//! time (utime + stime from `/proc/PID/stat`) over exactly that window, per unit and per HTTP
//! request, and its RSS. Secrets, passwords, codes and tokens are never printed.
//!
//! ```sh
//! SIGNIN_LOAD_CLIENT_SECRET=… SIGNIN_LOAD_PASSWORD=… cargo run --release --example signin_load -- \
//!     --issuer http://127.0.0.1:8080/t/acme --client-id ID --redirect-uri http://127.0.0.1/cb \
//!     --username alice --scenario flow --concurrency 32 --duration 20
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Parser, ValueEnum};
use rand::RngCore;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// What each virtual user repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// GET authorize + POST login, fresh cookie jar: password sign-ins.
    Login,
    /// GET authorize + POST login + code exchange: full authorization-code flows.
    Flow,
    /// Refresh grants, each presenting the token the previous one returned.
    Refresh,
    /// GET /userinfo with a bearer access token.
    Userinfo,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Login => "login",
            Scenario::Flow => "flow",
            Scenario::Refresh => "refresh",
            Scenario::Userinfo => "userinfo",
        }
    }

    /// What one counted unit is, for the report.
    fn unit(self) -> &'static str {
        match self {
            Scenario::Login => "password sign-ins (authorize page + login POST ending in a code)",
            Scenario::Flow => "authorization-code flows (authorize + login + code exchange)",
            Scenario::Refresh => "refresh grants",
            Scenario::Userinfo => "userinfo requests",
        }
    }
}

/// Load generator for browser sign-in (authorization code + PKCE, refresh, userinfo).
#[derive(Debug, Parser)]
#[command(name = "signin_load")]
struct Cli {
    /// The tenant's issuer, e.g. http://127.0.0.1:8080/t/acme.
    #[arg(long)]
    issuer: String,
    /// Client id of a confidential, first-party client.
    #[arg(long)]
    client_id: String,
    /// Its secret (client_secret_basic). Prefer the environment variable: argv is world-readable.
    #[arg(long, env = "SIGNIN_LOAD_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// A redirect URI registered for the client.
    #[arg(long)]
    redirect_uri: String,
    /// The user who signs in; with `--users N` (N > 1) the users `{username}1` … `{username}N`,
    /// virtual user i signing in as number `i mod N + 1`.
    #[arg(long)]
    username: String,
    /// How many users the virtual users spread over (see `--username`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    users: u64,
    /// Give the virtual users this many distinct loopback source addresses (127.1.x.y), so the
    /// server's per-address sign-in throttle sees distinct clients, as it would in production.
    /// Only for a server on loopback; 0 lets the OS pick (everything from 127.0.0.1).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    source_ips: u64,
    /// The user's password. Prefer the environment variable.
    #[arg(long, env = "SIGNIN_LOAD_PASSWORD", hide_env_values = true)]
    password: String,
    /// Scenario to run.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Scope of the authorization requests.
    #[arg(long, default_value = "openid profile")]
    scope: String,
    /// Virtual users (each with its own loop; HTTP/1.1 keep-alive connections are pooled).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    concurrency: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,
    /// Seconds of unmeasured warm-up before the measured window (same loop, same users).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,
    /// Timeout of every HTTP request, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000))]
    timeout_ms: u64,
    /// Worker threads of the generator's runtime (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,
    /// PID of the server: its CPU time and RSS over the measured window are reported.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also report the CPU time of the processes whose command line contains this text, e.g. the
    /// PostgreSQL backends of the server's database (`postgres: user DBNAME …`).
    #[arg(long)]
    db_match: Option<String>,
    /// Another node's origin (e.g. http://127.0.0.1:8081) for the measured refresh and userinfo
    /// loops: sign-in still goes to the issuer, the loop's requests go to the same paths at this
    /// origin (a second node of a cluster sharing the database).
    #[arg(long)]
    loop_base: Option<String>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    clk_tck: u64,
}

/// One HTTP step of a scenario; per-stage latencies are reported under these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Authorize,
    Login,
    Token,
    Refresh,
    Userinfo,
}

impl Stage {
    const ALL: [Stage; 5] = [
        Stage::Authorize,
        Stage::Login,
        Stage::Token,
        Stage::Refresh,
        Stage::Userinfo,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Authorize => "authorize",
            Stage::Login => "login",
            Stage::Token => "token",
            Stage::Refresh => "refresh",
            Stage::Userinfo => "userinfo",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a unit failed: a short key such as `login:200` or `token:timeout`, never a secret.
#[derive(Debug)]
struct Failure(String);

impl Failure {
    fn status(stage: Stage, status: StatusCode) -> Self {
        Failure(format!("{}:{}", stage.name(), status.as_u16()))
    }

    fn protocol(stage: Stage, what: &str) -> Self {
        Failure(format!("{}:{what}", stage.name()))
    }

    fn transport(stage: Stage, e: &reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_body() || e.is_decode() {
            "body"
        } else {
            "transport"
        };
        Failure::protocol(stage, kind)
    }
}

/// The measured window, shared by every virtual user.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// End of the warm-up; start of the measured window.
    start: Instant,
    /// End of the measured window; no unit starts after it.
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t <= self.end
    }
}

/// What one virtual user saw. Latencies are in microseconds.
#[derive(Debug, Default)]
struct Stats {
    units: Vec<u32>,
    stages: [Vec<u32>; 5],
    http_requests: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: BTreeMap<String, u64>,
    rebootstraps: u64,
    /// `alg` of ID tokens, keyed by `stage/alg`.
    id_token_algs: BTreeMap<String, u64>,
    /// `alg` of access tokens, keyed by `stage/alg` (`opaque` if not a JWS).
    access_token_algs: BTreeMap<String, u64>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.units.extend(other.units);
        for (mine, theirs) in self.stages.iter_mut().zip(other.stages) {
            mine.extend(theirs);
        }
        self.http_requests += other.http_requests;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.warmup_errors {
            *self.warmup_errors.entry(k).or_default() += v;
        }
        self.rebootstraps += other.rebootstraps;
        for (k, v) in other.id_token_algs {
            *self.id_token_algs.entry(k).or_default() += v;
        }
        for (k, v) in other.access_token_algs {
            *self.access_token_algs.entry(k).or_default() += v;
        }
    }
}

/// Records the stages of one virtual user against the window.
struct Recorder {
    window: Option<Window>,
    stats: Stats,
}

impl Recorder {
    fn in_window(&self, t: Instant) -> bool {
        self.window.is_some_and(|w| w.contains(t))
    }

    fn stage(&mut self, stage: Stage, took: Duration, done: Instant) {
        if self.in_window(done) {
            self.stats.stages[stage.index()].push(micros(took));
            self.stats.http_requests += 1;
        }
    }

    fn failure(&mut self, failure: Failure, done: Instant) {
        let map = if self.in_window(done) {
            &mut self.stats.errors
        } else {
            &mut self.stats.warmup_errors
        };
        *map.entry(failure.0).or_default() += 1;
    }

    fn algs(&mut self, stage: Stage, tokens: &Tokens, done: Instant) {
        if !self.in_window(done) {
            return;
        }
        if let Some(alg) = tokens.id_token_alg.as_deref() {
            let key = format!("{}/{alg}", stage.name());
            *self.stats.id_token_algs.entry(key).or_default() += 1;
        }
        let key = format!("{}/{}", stage.name(), tokens.access_token_alg);
        *self.stats.access_token_algs.entry(key).or_default() += 1;
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// A response read to the end: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// Everything the virtual users share.
struct Shared {
    scenario: Scenario,
    issuer: String,
    authorize: Url,
    token: Url,
    /// The token endpoint of the measured refresh loop (`--loop-base`, else `token`).
    loop_token: Url,
    /// The userinfo endpoint of the measured userinfo loop (`--loop-base`, else `userinfo`).
    loop_userinfo: Url,
    basic: String,
    client_id: String,
    redirect_uri: String,
    password: String,
    scope: String,
    timeout: Duration,
}

/// One virtual user: its HTTP client (its own keep-alive connection, optionally from its own
/// source address) and the user it signs in as.
struct Agent {
    shared: Arc<Shared>,
    http: reqwest::Client,
    username: String,
}

impl Agent {
    fn new(shared: Arc<Shared>, username: String, source: Option<IpAddr>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(shared.timeout)
            .connect_timeout(shared.timeout)
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .local_address(source)
            .build()?;
        Ok(Agent {
            shared,
            http,
            username,
        })
    }

    /// Sends a request, reads the whole body, and times both.
    async fn send(
        &self,
        rec: &mut Recorder,
        stage: Stage,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.text().await?;
            Ok::<_, reqwest::Error>(Answer {
                status,
                headers,
                body,
            })
        }
        .await;
        let done = Instant::now();
        match result {
            Ok(answer) => {
                rec.stage(stage, done - started, done);
                Ok(answer)
            }
            Err(e) => Err(Failure::transport(stage, &e)),
        }
    }

    /// `GET /authorize` then `POST /login` with an empty jar: the authorization code and the PKCE
    /// verifier it is bound to.
    async fn sign_in(&self, rec: &mut Recorder) -> Result<(String, String), Failure> {
        let mut jar = CookieJar::default();
        let verifier = random_b64(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_b64(16);
        let nonce = random_b64(16);
        let mut url = self.shared.authorize.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.shared.client_id)
            .append_pair("redirect_uri", &self.shared.redirect_uri)
            .append_pair("scope", &self.shared.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let page = self
            .send(rec, Stage::Authorize, self.http.get(url.clone()))
            .await?;
        if page.status != StatusCode::OK {
            return Err(if page.status.is_redirection() {
                Failure::protocol(Stage::Authorize, "redirect_instead_of_login_page")
            } else {
                Failure::status(Stage::Authorize, page.status)
            });
        }
        jar.absorb(&page.headers);
        let form = LoginForm::parse(&page.body, &url)
            .ok_or_else(|| Failure::protocol(Stage::Authorize, "no_login_form"))?;

        let fields = [
            ("csrf_token", form.csrf_token.as_str()),
            ("request", form.request.as_str()),
            ("username", self.username.as_str()),
            ("password", self.shared.password.as_str()),
        ];
        let mut post = self.http.post(form.action.clone()).form(&fields);
        if let Some(cookies) = jar.header() {
            post = post.header(COOKIE, cookies);
        }
        let answer = self.send(rec, Stage::Login, post).await?;
        if !answer.status.is_redirection() {
            // 200 is the form again: wrong password, throttled, locked or an expired form.
            return Err(Failure::status(Stage::Login, answer.status));
        }
        let location = answer
            .headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| form.action.join(l).ok())
            .ok_or_else(|| Failure::protocol(Stage::Login, "no_location"))?;
        self.code_from(&location, &state)
            .map(|code| (code, verifier))
    }

    /// Reads the authorization response at the redirect URI (RFC 6749 §4.1.2, RFC 9207 §2).
    fn code_from(&self, location: &Url, state: &str) -> Result<String, Failure> {
        let mut target = location.clone();
        target.set_query(None);
        target.set_fragment(None);
        if target.as_str() != self.shared.redirect_uri
            && target.as_str().trim_end_matches('/')
                != self.shared.redirect_uri.trim_end_matches('/')
        {
            return Err(Failure::protocol(Stage::Login, "redirect_elsewhere"));
        }
        let (mut code, mut got_state, mut iss, mut error) = (None, None, None, None);
        for (k, v) in location.query_pairs() {
            match k.as_ref() {
                "code" => code = Some(v.into_owned()),
                "state" => got_state = Some(v.into_owned()),
                "iss" => iss = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                _ => {}
            }
        }
        if let Some(error) = error {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            return Err(Failure::protocol(Stage::Login, &format!("error={error}")));
        }
        if got_state.as_deref() != Some(state) {
            return Err(Failure::protocol(Stage::Login, "state_mismatch"));
        }
        if iss.as_deref() != Some(self.shared.issuer.as_str()) {
            return Err(Failure::protocol(Stage::Login, "iss_mismatch"));
        }
        code.filter(|c| !c.is_empty())
            .ok_or_else(|| Failure::protocol(Stage::Login, "no_code"))
    }

    /// The code exchange (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636 §4.5).
    async fn exchange(
        &self,
        rec: &mut Recorder,
        code: &str,
        verifier: &str,
    ) -> Result<Tokens, Failure> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.shared.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let url = self.shared.token.clone();
        self.token_request(rec, Stage::Token, url, &form).await
    }

    /// A refresh grant (RFC 6749 §6).
    async fn refresh(&self, rec: &mut Recorder, refresh_token: &str) -> Result<Tokens, Failure> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let url = self.shared.loop_token.clone();
        self.token_request(rec, Stage::Refresh, url, &form).await
    }

    async fn token_request(
        &self,
        rec: &mut Recorder,
        stage: Stage,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<Tokens, Failure> {
        let request = self
            .http
            .post(url)
            .header(AUTHORIZATION, &self.shared.basic)
            .form(form);
        let answer = self.send(rec, stage, request).await?;
        if answer.status != StatusCode::OK {
            return Err(Failure::status(stage, answer.status));
        }
        let tokens = Tokens::parse(&answer.body)
            .ok_or_else(|| Failure::protocol(stage, "no_access_token"))?;
        rec.algs(stage, &tokens, Instant::now());
        Ok(tokens)
    }

    /// `GET /userinfo` with the access token in the header (RFC 6750 §2.1).
    async fn userinfo(&self, rec: &mut Recorder, access_token: &str) -> Result<(), Failure> {
        let request = self
            .http
            .get(self.shared.loop_userinfo.clone())
            .header(AUTHORIZATION, format!("Bearer {access_token}"));
        let answer = self.send(rec, Stage::Userinfo, request).await?;
        if answer.status != StatusCode::OK {
            return Err(Failure::status(Stage::Userinfo, answer.status));
        }
        let claims: Value = serde_json::from_str(&answer.body)
            .map_err(|_| Failure::protocol(Stage::Userinfo, "not_json"))?;
        if claims.get("sub").and_then(Value::as_str).is_none() {
            return Err(Failure::protocol(Stage::Userinfo, "no_sub"));
        }
        Ok(())
    }

    /// A full sign-in with code exchange: what `flow` measures and what `refresh` and `userinfo`
    /// users do once before their loop.
    async fn full_flow(&self, rec: &mut Recorder) -> Result<Tokens, Failure> {
        let (code, verifier) = self.sign_in(rec).await?;
        self.exchange(rec, &code, &verifier).await
    }
}

/// The parts of a token response (RFC 6749 §5.1) the generator uses.
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    id_token_alg: Option<String>,
    access_token_alg: String,
}

impl Tokens {
    fn parse(body: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(body).ok()?;
        let access_token = v.get("access_token")?.as_str()?.to_owned();
        let refresh_token = v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id_token_alg = v
            .get("id_token")
            .and_then(Value::as_str)
            .map(|t| jws_alg(t).unwrap_or_else(|| "invalid".into()));
        let access_token_alg = jws_alg(&access_token).unwrap_or_else(|| "opaque".into());
        Some(Tokens {
            access_token,
            refresh_token,
            id_token_alg,
            access_token_alg,
        })
    }
}

/// The `alg` of a compact JWS's protected header (RFC 7515 §4.1.1), without verifying anything.
fn jws_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}

/// A minimal cookie jar for one sign-in: name → value from `Set-Cookie` (RFC 6265 §5.2), all sent
/// back. The server is a single origin on loopback with `Path=/` cookies, so domain and path
/// matching are not needed; an empty value or `Max-Age=0` deletes.
#[derive(Default)]
struct CookieJar(Vec<(String, String)>);

impl CookieJar {
    fn absorb(&mut self, headers: &HeaderMap) {
        for raw in headers.get_all(SET_COOKIE) {
            let Ok(raw) = raw.to_str() else { continue };
            let mut parts = raw.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let expired = parts.any(|a| {
                a.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k.eq_ignore_ascii_case("max-age") && v.trim() == "0")
            });
            self.0.retain(|(n, _)| n != name);
            if !expired && !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The login page's form: where it posts and its hidden fields.
struct LoginForm {
    action: Url,
    csrf_token: String,
    request: String,
}

impl LoginForm {
    /// Reads the first `<form>` whose inputs include `csrf_token` and `request`.
    fn parse(html: &str, page: &Url) -> Option<Self> {
        let mut rest = html;
        while let Some(at) = rest.find("<form") {
            let form = &rest[at..];
            let end = form.find("</form>").unwrap_or(form.len());
            let body = &form[..end];
            rest = &form[end..];
            let tag_end = body.find('>')?;
            let action = attribute(&body[..tag_end], "action").unwrap_or_default();
            let action = page.join(&action).ok()?;
            let (mut csrf_token, mut request) = (None, None);
            let mut inputs = body;
            while let Some(i) = inputs.find("<input") {
                let tag = &inputs[i..];
                let close = tag.find('>').unwrap_or(tag.len());
                let attrs = &tag[..close];
                match attribute(attrs, "name").as_deref() {
                    Some("csrf_token") => csrf_token = attribute(attrs, "value"),
                    Some("request") => request = attribute(attrs, "value"),
                    _ => {}
                }
                inputs = &tag[close..];
            }
            if let (Some(csrf_token), Some(request)) = (csrf_token, request) {
                return Some(LoginForm {
                    action,
                    csrf_token,
                    request,
                });
            }
            if rest.is_empty() {
                break;
            }
        }
        None
    }
}

/// The decoded value of a double- or single-quoted attribute in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut search = tag;
    loop {
        let at = search.find(name)?;
        let before = search[..at].chars().last();
        let after = &search[at + name.len()..];
        search = after;
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(after) = after.trim_start().strip_prefix('=') else {
            continue;
        };
        let after = after.trim_start();
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            continue;
        }
        let value = &after[1..];
        let end = value.find(quote)?;
        return Some(decode_entities(&value[..end]));
    }
}

/// Decodes the HTML character references a template engine emits in attribute values.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail.find(';').filter(|&i| i <= 10).and_then(|semi| {
            let entity = &tail[1..semi];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        entity.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    code.and_then(char::from_u32)
                }
            };
            ch.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// What a virtual user holds between units.
#[derive(Default)]
struct Held {
    access_token: Option<String>,
    refresh_token: Option<String>,
}

/// Gets the tokens a `refresh` or `userinfo` user needs before its loop.
async fn bootstrap(agent: &Agent, rec: &mut Recorder) -> Result<Held, Failure> {
    let tokens = agent.full_flow(rec).await?;
    if agent.shared.scenario == Scenario::Refresh && tokens.refresh_token.is_none() {
        return Err(Failure::protocol(Stage::Token, "no_refresh_token"));
    }
    Ok(Held {
        access_token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
    })
}

/// One virtual user: units until the window ends. A failed `refresh` or `userinfo` unit drops
/// the held tokens (a rotated refresh token may be spent); the next iteration signs in again
/// (counted as a re-bootstrap, not as a unit).
async fn virtual_user(agent: Agent, window: Window, mut held: Held) -> Stats {
    let mut rec = Recorder {
        window: Some(window),
        stats: Stats::default(),
    };
    loop {
        let started = Instant::now();
        if started >= window.end {
            break;
        }
        let result = match agent.shared.scenario {
            Scenario::Login => agent.sign_in(&mut rec).await.map(|_| ()),
            Scenario::Flow => agent.full_flow(&mut rec).await.map(|_| ()),
            Scenario::Refresh | Scenario::Userinfo if held.access_token.is_none() => {
                let outcome = bootstrap(&agent, &mut rec).await;
                let done = Instant::now();
                if rec.in_window(done) {
                    rec.stats.rebootstraps += 1;
                }
                match outcome {
                    Ok(h) => held = h,
                    Err(f) => rec.failure(f, done),
                }
                continue;
            }
            Scenario::Refresh => {
                let rt = held.refresh_token.take().unwrap_or_default();
                match agent.refresh(&mut rec, &rt).await {
                    Ok(tokens) => match tokens.refresh_token {
                        Some(next) => {
                            held.refresh_token = Some(next);
                            held.access_token = Some(tokens.access_token);
                            Ok(())
                        }
                        None => {
                            held.access_token = None;
                            Err(Failure::protocol(Stage::Refresh, "not_rotated"))
                        }
                    },
                    Err(f) => {
                        held.access_token = None;
                        Err(f)
                    }
                }
            }
            Scenario::Userinfo => {
                let at = held.access_token.clone().unwrap_or_default();
                let outcome = agent.userinfo(&mut rec, &at).await;
                if outcome.is_err() {
                    held.access_token = None;
                }
                outcome
            }
        };
        let done = Instant::now();
        match result {
            Ok(()) => {
                if rec.in_window(done) {
                    rec.stats.units.push(micros(done - started));
                }
            }
            Err(f) => rec.failure(f, done),
        }
    }
    rec.stats
}

/// Server CPU ticks (utime + stime, fields 14 and 15 of `/proc/PID/stat`, counted after the
/// `(comm)` field, which may contain spaces).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy ticks of the whole machine, all cores: the `cpu` line of `/proc/stat` minus idle and
/// iowait (proc(5)), so the report can say how much CPU other processes took.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal (guest is inside user)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    Some(total - ticks.get(3)? - ticks.get(4)?)
}

/// CPU ticks of every process whose command line contains `needle`, by PID.
fn ticks_matching(needle: &str) -> BTreeMap<u32, u64> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle)
            && let Some(ticks) = cpu_ticks(&pid.to_string())
        {
            found.insert(pid, ticks);
        }
    }
    found
}

/// Ticks the matched processes spent between two scans: the difference for a process seen at
/// both, everything for one that started in between (one that ended in between is lost).
fn matched_delta(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

/// A `Vm…:` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU and memory samples taken on a plain thread at the window's edges.
#[derive(Debug, Default)]
struct Samples {
    server_ticks: Option<(u64, u64)>,
    server_rss_kib: Option<u64>,
    server_hwm_kib: Option<u64>,
    own_ticks: Option<(u64, u64)>,
    machine_ticks: Option<(u64, u64)>,
    /// Ticks of the `--db-match` processes over the window, and how many there were at its end.
    db_ticks: Option<(u64, usize)>,
    actual_secs: f64,
}

fn sample(window: Window, server: Option<String>, db_match: Option<String>) -> Samples {
    let sleep_until = |t: Instant| {
        let now = Instant::now();
        if t > now {
            std::thread::sleep(t - now);
        }
    };
    sleep_until(window.start);
    let t0 = Instant::now();
    let server_before = server.as_deref().and_then(cpu_ticks);
    let own_before = cpu_ticks("self");
    let machine_before = machine_busy_ticks();
    let db_before = db_match.as_deref().map(ticks_matching);
    sleep_until(window.start + (window.end - window.start) / 2);
    let rss = server.as_deref().and_then(|p| status_kib(p, "VmRSS:"));
    sleep_until(window.end);
    let server_after = server.as_deref().and_then(cpu_ticks);
    let own_after = cpu_ticks("self");
    let machine_after = machine_busy_ticks();
    let db_after = db_match.as_deref().map(ticks_matching);
    let t1 = Instant::now();
    Samples {
        server_ticks: server_before.zip(server_after),
        server_rss_kib: rss,
        server_hwm_kib: server.as_deref().and_then(|p| status_kib(p, "VmHWM:")),
        own_ticks: own_before.zip(own_after),
        machine_ticks: machine_before.zip(machine_after),
        db_ticks: db_before
            .zip(db_after)
            .map(|(b, a)| (matched_delta(&b, &a), a.len())),
        actual_secs: (t1 - t0).as_secs_f64(),
    }
}

/// The value at quantile `q` of sorted microseconds, in milliseconds.
fn percentile_ms(sorted: &[u32], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    Some(round3(f64::from(sorted[i]) / 1000.0))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn latency_json(samples: &mut [u32]) -> Value {
    samples.sort_unstable();
    json!({
        "count": samples.len(),
        "p50_ms": percentile_ms(samples, 0.50),
        "p90_ms": percentile_ms(samples, 0.90),
        "p99_ms": percentile_ms(samples, 0.99),
        "max_ms": samples.last().map(|&m| round3(f64::from(m) / 1000.0)),
    })
}

/// Endpoint URL below the issuer.
fn endpoint(issuer: &str, path: &str) -> anyhow::Result<Url> {
    Url::parse(&format!("{}/{path}", issuer.trim_end_matches('/')))
        .map_err(|e| anyhow::anyhow!("issuer `{issuer}` does not make a URL: {e}"))
}

async fn run(cli: Cli) -> anyhow::Result<(Value, bool)> {
    let issuer = cli.issuer.trim_end_matches('/').to_owned();
    let loop_issuer = match &cli.loop_base {
        None => issuer.clone(),
        Some(base) => {
            let at = Url::parse(&issuer)?;
            format!(
                "{}{}",
                base.trim_end_matches('/'),
                at.path().trim_end_matches('/')
            )
        }
    };
    // RFC 6749 §2.3.1: client_secret_basic form-encodes id and secret before base64.
    let pair = format!(
        "{}:{}",
        url::form_urlencoded::byte_serialize(cli.client_id.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(cli.client_secret.as_bytes()).collect::<String>()
    );
    let concurrency = usize::try_from(cli.concurrency)?;
    let shared = Arc::new(Shared {
        scenario: cli.scenario,
        authorize: endpoint(&issuer, "authorize")?,
        token: endpoint(&issuer, "token")?,
        loop_token: endpoint(&loop_issuer, "token")?,
        loop_userinfo: endpoint(&loop_issuer, "userinfo")?,
        issuer,
        basic: format!("Basic {}", STANDARD.encode(pair)),
        client_id: cli.client_id,
        redirect_uri: cli.redirect_uri,
        password: cli.password,
        scope: cli.scope,
        timeout: Duration::from_millis(cli.timeout_ms),
    });
    let mut agents = Vec::with_capacity(concurrency);
    for i in 0..cli.concurrency {
        let username = if cli.users > 1 {
            format!("{}{}", cli.username, i % cli.users + 1)
        } else {
            cli.username.clone()
        };
        let source = (cli.source_ips > 0).then(|| {
            let k = i % cli.source_ips + 1;
            IpAddr::V4(Ipv4Addr::new(127, 1, (k >> 8) as u8, (k & 0xff) as u8))
        });
        agents.push(Agent::new(Arc::clone(&shared), username, source)?);
    }

    // Bootstrap (refresh, userinfo): every user signs in once, concurrently, before the clock.
    let bootstrap_started = Instant::now();
    let mut ready = Vec::with_capacity(concurrency);
    let mut bootstrap_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut bootstrap_stats = Stats::default();
    if matches!(cli.scenario, Scenario::Refresh | Scenario::Userinfo) {
        let mut tasks = tokio::task::JoinSet::new();
        for agent in agents {
            tasks.spawn(async move {
                let mut rec = Recorder {
                    window: None,
                    stats: Stats::default(),
                };
                let outcome = bootstrap(&agent, &mut rec).await;
                (agent, outcome, rec.stats)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (agent, outcome, stats) = joined?;
            bootstrap_stats.merge(stats);
            match outcome {
                Ok(held) => ready.push((agent, held)),
                Err(f) => *bootstrap_errors.entry(f.0).or_default() += 1,
            }
        }
        if ready.is_empty() {
            anyhow::bail!("no virtual user could sign in before the loop: {bootstrap_errors:?}");
        }
    } else {
        ready.extend(agents.into_iter().map(|a| (a, Held::default())));
    }
    let bootstrap_secs = bootstrap_started.elapsed().as_secs_f64();

    let now = Instant::now();
    let start = now + Duration::from_secs(cli.warmup);
    let window = Window {
        start,
        end: start + Duration::from_secs(cli.duration),
    };
    let server = cli.server_pid.map(|p| p.to_string());
    let db_match = cli.db_match.clone();
    let sampler = std::thread::spawn(move || sample(window, server, db_match));

    let users = ready.len();
    let issuer = shared.issuer.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for (agent, held) in ready {
        tasks.spawn(virtual_user(agent, window, held));
    }
    let mut stats = Stats::default();
    while let Some(joined) = tasks.join_next().await {
        stats.merge(joined?);
    }
    let samples = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the sampler thread panicked"))?;

    let secs = cli.duration as f64;
    let completed = stats.units.len() as u64;
    let errors_total: u64 = stats.errors.values().sum();
    let per_second = completed as f64 / secs;
    let tick = 1.0 / cli.clk_tck as f64;
    let server_json = samples.server_ticks.map(|(before, after)| {
        let cpu_s = (after.saturating_sub(before)) as f64 * tick;
        let per = |n: u64| (n > 0).then(|| (cpu_s * 1e6 / n as f64 * 10.0).round() / 10.0);
        json!({
            "pid": cli.server_pid,
            "cpu_s": round3(cpu_s),
            "cpu_share_of_cores": round3(cpu_s / samples.actual_secs.max(1e-9)),
            "cpu_us_per_unit": per(completed),
            "cpu_us_per_http_request": per(stats.http_requests),
            "rss_mib_mid": samples.server_rss_kib.map(|k| round3(k as f64 / 1024.0)),
            "hwm_mib": samples.server_hwm_kib.map(|k| round3(k as f64 / 1024.0)),
        })
    });
    let busy_s = |ticks: Option<(u64, u64)>| {
        ticks.map(|(before, after)| after.saturating_sub(before) as f64 * tick)
    };
    let cores = |cpu_s: Option<f64>| cpu_s.map(|c| round3(c / samples.actual_secs.max(1e-9)));
    let generator_cpu_s = busy_s(samples.own_ticks);
    let machine_cpu_s = busy_s(samples.machine_ticks);
    let server_cpu_s = busy_s(samples.server_ticks);
    let db_cpu_s = samples.db_ticks.map(|(t, _)| t as f64 * tick);
    let others_cpu_s = machine_cpu_s.map(|m| {
        let known =
            generator_cpu_s.unwrap_or(0.0) + server_cpu_s.unwrap_or(0.0) + db_cpu_s.unwrap_or(0.0);
        (m - known).max(0.0)
    });
    let per_unit = |cpu_s: Option<f64>| {
        cpu_s
            .filter(|_| completed > 0)
            .map(|c| (c * 1e6 / completed as f64 * 10.0).round() / 10.0)
    };
    let db_json = samples.db_ticks.map(|(_, processes)| {
        json!({
            "match": cli.db_match,
            "processes": processes,
            "cpu_s": db_cpu_s.map(round3),
            "cpu_us_per_unit": per_unit(db_cpu_s),
        })
    });
    let cpu_json = json!({
        "cores_available": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "machine_busy_cores": cores(machine_cpu_s),
        "server_cores": cores(server_cpu_s),
        "database_cores": cores(db_cpu_s),
        "generator_cores": cores(generator_cpu_s),
        "other_processes_cores": cores(others_cpu_s),
    });
    let mut stages = serde_json::Map::new();
    for stage in Stage::ALL {
        let samples = &mut stats.stages[stage.index()];
        if !samples.is_empty() {
            stages.insert(stage.name().into(), latency_json(samples));
        }
    }
    let latency = latency_json(&mut stats.units);
    let report = json!({
        "scenario": cli.scenario.name(),
        "unit": cli.scenario.unit(),
        "issuer": issuer,
        "concurrency": cli.concurrency,
        "virtual_users": users,
        "users": cli.users,
        "source_ips": cli.source_ips,
        "threads": cli.threads,
        "warmup_s": cli.warmup,
        "duration_s": cli.duration,
        "measured_s": round3(samples.actual_secs),
        "completed": completed,
        "per_second": (per_second * 10.0).round() / 10.0,
        "http_requests": stats.http_requests,
        "http_requests_per_second": ((stats.http_requests as f64 / secs) * 10.0).round() / 10.0,
        "p50_ms": latency["p50_ms"],
        "p90_ms": latency["p90_ms"],
        "p99_ms": latency["p99_ms"],
        "max_ms": latency["max_ms"],
        "errors_total": errors_total,
        "errors": stats.errors,
        "warmup_errors": stats.warmup_errors,
        "rebootstraps": stats.rebootstraps,
        "bootstrap": {
            "seconds": round3(bootstrap_secs),
            "errors": bootstrap_errors,
            "id_token_algs": bootstrap_stats.id_token_algs,
        },
        "stages": stages,
        "id_token_algs": stats.id_token_algs,
        "access_token_algs": stats.access_token_algs,
        "server": server_json,
        "database": db_json,
        "generator_cpu_s": generator_cpu_s.map(round3),
        "cpu": cpu_json,
    });
    Ok((report, completed > 0))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli.threads.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |t| usize::try_from(t).unwrap_or(1),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("signin_load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok((report, any)) => {
            println!("{report}");
            if any {
                ExitCode::SUCCESS
            } else {
                eprintln!("signin_load: no unit completed in the measured window");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("signin_load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_form_is_read_with_escaped_values() {
        let html = r#"<main><form method="get" action="/x"><input name="q"></form>
            <form method="post" action="http://h/t/a/login" novalidate>
            <input type="hidden" name="csrf_token" value="abc&#x3D;_-">
            <input type="hidden" name="request" value="v1.a&amp;b&#x2F;c">
            <input type="text" id="username" name="username" value=""></form>"#;
        let page = Url::parse("http://h/t/a/authorize?x=1").unwrap();
        let form = LoginForm::parse(html, &page).unwrap();
        assert_eq!(form.action.as_str(), "http://h/t/a/login");
        assert_eq!(form.csrf_token, "abc=_-");
        assert_eq!(form.request, "v1.a&b/c");
    }

    #[test]
    fn relative_action_resolves_against_the_page() {
        let html = r#"<form action="login"><input name="request" value="r"><input value="c" name="csrf_token"></form>"#;
        let page = Url::parse("http://h/t/a/authorize").unwrap();
        let form = LoginForm::parse(html, &page).unwrap();
        assert_eq!(form.action.as_str(), "http://h/t/a/login");
        assert_eq!(form.csrf_token, "c");
    }

    #[test]
    fn page_without_the_hidden_fields_has_no_login_form() {
        let page = Url::parse("http://h/").unwrap();
        assert!(LoginForm::parse("<form action=\"/a\"><input name=\"x\"></form>", &page).is_none());
        assert!(LoginForm::parse("<p>error</p>", &page).is_none());
    }

    #[test]
    fn jar_keeps_set_cookies_and_honours_deletion() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append(SET_COOKIE, "b=2; Path=/; SameSite=Strict".parse().unwrap());
        let mut jar = CookieJar::default();
        jar.absorb(&headers);
        assert_eq!(jar.header().as_deref(), Some("a=1; b=2"));
        let mut gone = HeaderMap::new();
        gone.append(SET_COOKIE, "a=; Path=/; Max-Age=0".parse().unwrap());
        jar.absorb(&gone);
        assert_eq!(jar.header().as_deref(), Some("b=2"));
    }

    #[test]
    fn entities_decode_and_stray_ampersands_stay() {
        assert_eq!(decode_entities("a&lt;b&gt;&quot;&#39;&#x60;"), "a<b>\"'`");
        assert_eq!(decode_entities("a & b&unknown;"), "a & b&unknown;");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.5), Some(50.0));
        assert_eq!(percentile_ms(&sorted, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
    }

    #[test]
    fn jws_alg_reads_the_protected_header() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"k"}"#);
        assert_eq!(
            jws_alg(&format!("{header}.e30.sig")).as_deref(),
            Some("ES256")
        );
        assert_eq!(jws_alg("opaque-token"), None);
    }

    #[test]
    fn proc_stat_fields_are_read_after_the_command_name() {
        // Our own process always has a stat file.
        assert!(cpu_ticks("self").is_some());
        assert!(status_kib("self", "VmRSS:").is_some_and(|k| k > 0));
    }
}
