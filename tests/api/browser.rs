//! A real headless Chromium driven over the Chrome DevTools Protocol, for end-to-end page tests,
//! and a loopback "relying party" that catches the redirect at the end of a sign-in.
//!
//! All DevTools I/O is blocking (tungstenite) and runs on tokio's blocking pool: the server under
//! test runs its actors on the test's own runtime thread, so that thread must never block.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};
use tungstenite::{Message, WebSocket};

/// The longest any single wait may take (browser start, a navigation, a DevTools call).
pub const WAIT: Duration = Duration::from_secs(15);

/// How often a wait re-checks the page.
const POLL: Duration = Duration::from_millis(50);

/// How many browsers may run at once: each is several processes, and tests run in parallel.
static SLOTS: Semaphore = Semaphore::const_new(2);

/// The Chromium binary: `$CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Where screenshots go: `target/test-artifacts/screenshots/` under the package root.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/screenshots")
}

/// A DevTools websocket to one page target, with the id of the next command.
struct Cdp {
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

impl Cdp {
    /// Connects to `ws_url` (blocking; call on the blocking pool).
    fn connect(ws_url: &str, port: u16) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), WAIT)
            .map_err(|e| format!("connect to DevTools port {port}: {e}"))?;
        stream
            .set_read_timeout(Some(WAIT))
            .and_then(|()| stream.set_write_timeout(Some(WAIT)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("configure DevTools socket: {e}"))?;
        let (ws, _) = tungstenite::client(ws_url, stream)
            .map_err(|e| format!("DevTools websocket handshake with {ws_url}: {e}"))?;
        // From now on reads wake up often, so a call can honour its own deadline.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| format!("configure DevTools socket: {e}"))?;
        Ok(Self { ws, next_id: 1 })
    }

    /// Sends one command and reads until its response arrives; events in between are dropped
    /// (the harness polls page state instead of tracking events).
    fn call(&mut self, method: &str, params: &Value, deadline: Instant) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(command.to_string()))
            .map_err(|e| format!("{method}: send failed: {e}"))?;
        loop {
            if Instant::now() >= deadline {
                return Err(format!("{method}: no answer within {WAIT:?}"));
            }
            let text = match self.ws.read() {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => return Err(format!("{method}: DevTools closed")),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue;
                }
                Err(e) => return Err(format!("{method}: read failed: {e}")),
            };
            let reply: Value = serde_json::from_str(text.as_str())
                .map_err(|e| format!("{method}: bad DevTools JSON: {e}"))?;
            if reply["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(reply["result"].clone());
        }
    }
}

/// A headless Chromium with one page, killed (with its profile removed) on drop.
pub struct Browser {
    child: Child,
    cdp: Arc<Mutex<Cdp>>,
    /// Holds the profile (`profile/`) and Chromium's stderr (`chromium.log`); removed on drop,
    /// after Chromium is gone (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
    _slot: SemaphorePermit<'static>,
}

/// The page state a navigation wait looks at.
#[derive(Debug)]
struct DocState {
    time_origin: f64,
    ready: bool,
    url: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile and attaches to its blank page. Panics (failing the
    /// test, never skipping it) when Chromium is missing or does not come up within [`WAIT`].
    pub async fn launch() -> Browser {
        let binary = chromium_path();
        assert!(
            binary.exists(),
            "Chromium not found at {}. The browser tests need it: run `scripts/test`, which installs \
             Debian's `chromium` package, or set $CHROMIUM to a Chromium binary.",
            binary.display()
        );
        let slot = SLOTS
            .acquire()
            .await
            .expect("browser slots are never closed");
        let dir = tempfile::tempdir().expect("browser temp dir");
        let profile = dir.path().join("profile");
        let log_path = dir.path().join("chromium.log");
        let log = std::fs::File::create(&log_path).expect("chromium log file");
        let mut command = Command::new(&binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                // Containers often give /dev/shm only 64 MB, too little for a renderer.
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--password-store=basic",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Its own process group, so drop can kill the renderers and helpers with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut browser_launch = Launching {
            child: Some(child),
            log_path,
        };

        // Chromium writes the port it picked (and the browser target path) once it listens.
        let port_file = profile.join("DevToolsActivePort");
        let start = Instant::now();
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && text.lines().count() >= 2
                && let Some(Ok(port)) = text.lines().next().map(str::parse)
            {
                break port;
            }
            browser_launch.check_alive();
            if start.elapsed() >= WAIT {
                browser_launch.fail(&format!(
                    "{} did not appear within {WAIT:?}",
                    port_file.display()
                ));
            }
            actix_web::rt::time::sleep(POLL).await;
        };

        let ws_url = loop {
            match page_websocket(port).await {
                Ok(Some(url)) => break url,
                Ok(None) => {}
                Err(e) if start.elapsed() >= WAIT => browser_launch.fail(&e),
                Err(_) => {}
            }
            if start.elapsed() >= WAIT {
                browser_launch.fail("no page target in /json/list");
            }
            actix_web::rt::time::sleep(POLL).await;
        };
        let cdp = match tokio::task::spawn_blocking(move || Cdp::connect(&ws_url, port))
            .await
            .expect("DevTools connect task")
        {
            Ok(cdp) => cdp,
            Err(e) => browser_launch.fail(&e),
        };
        let child = browser_launch
            .child
            .take()
            .expect("child is kept until here");
        Browser {
            child,
            cdp: Arc::new(Mutex::new(cdp)),
            _dir: dir,
            _slot: slot,
        }
    }

    /// One DevTools command, run on the blocking pool.
    async fn try_call(&self, method: &'static str, params: Value) -> Result<Value, String> {
        let cdp = Arc::clone(&self.cdp);
        let deadline = Instant::now() + WAIT;
        tokio::task::spawn_blocking(move || lock(&cdp).call(method, &params, deadline))
            .await
            .map_err(|e| format!("{method}: DevTools task failed: {e}"))?
    }

    /// One DevTools command; panics with the page's state on failure.
    async fn call(&self, method: &'static str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(e) => self.fail(&e).await,
        }
    }

    /// Evaluates `js` in the page (awaiting a promise); the value, or the exception text.
    async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let result = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or_else(|| exception["text"].as_str())
                .unwrap_or("exception");
            return Err(format!("script threw: {text}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `js` in the page and returns its JSON value (`Null` for `undefined`); panics if
    /// it throws.
    pub async fn eval(&self, js: &str) -> Value {
        match self.try_eval(js).await {
            Ok(value) => value,
            Err(e) => self.fail(&format!("{e}\nscript: {js}")).await,
        }
    }

    /// Any DevTools command (e.g. `WebAuthn.addVirtualAuthenticator`); panics on an error.
    #[allow(dead_code)]
    pub async fn cdp(&self, method: &'static str, params: Value) -> Value {
        self.call(method, params).await
    }

    /// Waits until `js` evaluates to `true` in the page, across navigations (evaluations that
    /// fail while a page unloads are retried); panics after [`WAIT`].
    #[allow(dead_code)]
    pub async fn wait_until(&self, js: &str, what: &str) {
        let start = Instant::now();
        loop {
            if let Ok(Value::Bool(true)) = self.try_eval(js).await {
                return;
            }
            if start.elapsed() >= WAIT {
                self.fail(&format!("{what}: not reached within {WAIT:?}"))
                    .await;
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// The page's current URL.
    pub async fn url(&self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the page (`document.body.innerText`).
    pub async fn text(&self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The HTTP status of the current document's main response (Navigation Timing Level 2).
    pub async fn status(&self) -> u16 {
        let status = self
            .eval("performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0")
            .await;
        status
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0)
    }

    /// Navigates to `url` and waits until the new document has loaded.
    pub async fn goto(&self, url: &str) {
        let before = self.doc_state().await;
        let result = self.call("Page.navigate", json!({"url": url})).await;
        if let Some(error) = result["errorText"].as_str() {
            self.fail(&format!("navigation to {url} failed: {error}"))
                .await;
        }
        self.wait_for_new_document(before.time_origin, &format!("load {url}"))
            .await;
    }

    /// Types `value` into the field matching `selector`, replacing its content, as a user would
    /// (focus, then text input events).
    pub async fn fill(&self, selector: &str, value: &str) {
        let sel = json!(selector);
        self.eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); \
             if (!el) throw new Error('no element matches ' + {sel}); \
             el.focus(); el.select && el.select(); el.value = ''; return true; }})()"
        ))
        .await;
        self.call("Input.insertText", json!({"text": value})).await;
        let typed = self
            .eval(&format!("document.querySelector({sel}).value"))
            .await;
        if typed.as_str() != Some(value) {
            self.fail(&format!("typing into {selector} left {typed}"))
                .await;
        }
    }

    /// Ticks or unticks the checkbox matching `selector` by clicking it when needed.
    pub async fn set_checked(&self, selector: &str, checked: bool) {
        let sel = json!(selector);
        let now = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({sel}); \
                 if (!el) throw new Error('no element matches ' + {sel}); \
                 if (el.checked !== {checked}) el.click(); return el.checked; }})()"
            ))
            .await;
        if now.as_bool() != Some(checked) {
            self.fail(&format!("{selector} did not become checked={checked}"))
                .await;
        }
    }

    /// Whether an element matches `selector`.
    pub async fn exists(&self, selector: &str) -> bool {
        let sel = json!(selector);
        self.eval(&format!("document.querySelector({sel}) !== null"))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Clicks the element matching `selector` (a submit button or link) and waits until the
    /// navigation it starts has loaded a new document.
    pub async fn click(&self, selector: &str) {
        let before = self.doc_state().await;
        let sel = json!(selector);
        // Deferred, so the evaluation returns before the page starts unloading.
        self.eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); \
             if (!el) throw new Error('no element matches ' + {sel}); \
             setTimeout(() => el.click(), 0); return true; }})()"
        ))
        .await;
        self.wait_for_new_document(
            before.time_origin,
            &format!("navigation after clicking {selector}"),
        )
        .await;
    }

    /// Saves a PNG of the whole page as `target/test-artifacts/screenshots/{name}.png` and
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let result = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().unwrap_or_default())
            .expect("screenshot is base64");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {name} is not a PNG"
        );
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Every cookie the browser holds, as DevTools `Network.Cookie` objects (`name`, `value`,
    /// `domain`, `path`, `httpOnly`, `secure`, `sameSite`, `session`, …).
    pub async fn cookies(&self) -> Vec<Value> {
        let result = self.call("Network.getAllCookies", json!({})).await;
        result["cookies"].as_array().cloned().unwrap_or_default()
    }

    async fn doc_state(&self) -> DocState {
        match self.try_doc_state().await {
            Ok(state) => state,
            Err(e) => self.fail(&e).await,
        }
    }

    async fn try_doc_state(&self) -> Result<DocState, String> {
        let v = self
            .try_eval("({t: performance.timeOrigin, r: document.readyState, u: location.href})")
            .await?;
        Ok(DocState {
            time_origin: v["t"].as_f64().ok_or("no timeOrigin")?,
            ready: v["r"] == "complete",
            url: v["u"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Waits until a document other than the one that started at `old_origin` has loaded. During
    /// the switch evaluations may fail (the old context is gone): those are retried.
    async fn wait_for_new_document(&self, old_origin: f64, what: &str) {
        let start = Instant::now();
        loop {
            if let Ok(state) = self.try_doc_state().await
                && state.time_origin != old_origin
                && state.ready
            {
                if state.url.starts_with("chrome-error:") {
                    self.fail(&format!("{what}: the browser shows a network error page"))
                        .await;
                }
                return;
            }
            if start.elapsed() >= WAIT {
                self.fail(&format!("{what}: no new page loaded within {WAIT:?}"))
                    .await;
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Panics with `message`, the current URL and the page text.
    async fn fail(&self, message: &str) -> ! {
        let (url, text) = match self
            .try_eval("[location.href, document.body ? document.body.innerText : '']")
            .await
        {
            Ok(v) => (
                v[0].as_str().unwrap_or_default().to_owned(),
                v[1].as_str().unwrap_or_default().to_owned(),
            ),
            Err(e) => (format!("<unknown: {e}>"), String::new()),
        };
        panic!("browser: {message}\n  at URL: {url}\n  page text:\n{text}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Chromium while it is starting: kills it and reports its log if start-up fails.
struct Launching {
    child: Option<Child>,
    log_path: PathBuf,
}

impl Launching {
    fn check_alive(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.fail(&format!("Chromium exited during start-up ({status})"));
        }
    }

    fn fail(&mut self, message: &str) -> ! {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!("browser: {message}\n  Chromium's stderr (last lines):\n{tail}");
    }
}

impl Drop for Launching {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

/// Kills Chromium and every process of its group (renderers, zygote, crash handler), then reaps
/// the browser process.
fn kill_group(child: &mut Child) {
    // The group id equals the browser's pid (`process_group(0)` at spawn).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The websocket URL of the first page target, from `/json/list`.
async fn page_websocket(port: u16) -> Result<Option<String>, String> {
    let http = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .map_err(|e| e.to_string())?;
    let targets: Value = http
        .get(format!("http://127.0.0.1:{port}/json/list"))
        .send()
        .await
        .map_err(|e| format!("GET /json/list: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GET /json/list: {e}"))?;
    Ok(targets.as_array().and_then(|targets| {
        targets
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .map(str::to_owned)
    }))
}

fn lock(cdp: &Mutex<Cdp>) -> MutexGuard<'_, Cdp> {
    cdp.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback relying-party endpoint: answers every request with `200 ok` and records its
/// request target, so a test can see where the browser was sent (e.g. `/cb?code=…&state=…`).
pub struct RedirectCatcher {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RedirectCatcher {
    /// Listens on a random loopback port.
    pub fn start() -> RedirectCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind redirect catcher");
        let port = listener.local_addr().expect("catcher address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let requests = Arc::clone(&requests);
                    // One thread per connection: a speculative preconnect that never sends a
                    // request must not hold up the real one.
                    std::thread::spawn(move || answer(stream, &requests));
                }
            })
        };
        RedirectCatcher {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:{port}/cb`: register this as the client's redirect URI.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/cb", self.port)
    }

    /// The request targets received so far (path and query), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for RedirectCatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request head, records its target and answers `200 ok`.
fn answer(mut stream: TcpStream, requests: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let Some(target) = head.lines().next().and_then(|line| line.split(' ').nth(1)) else {
        return;
    };
    requests
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(target.to_owned());
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
}
