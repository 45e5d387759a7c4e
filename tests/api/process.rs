//! Real `tessera serve` processes: one [`Server`] (its output collected while it runs, SIGTERM
//! and SIGKILL), and a [`Cluster`] of several on one database behind one public URL, with a
//! round-robin choice of node per request the way a load balancer spreads them.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, fresh_database};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A pipe's text so far, appended to by a reader thread until the pipe closes.
struct Collected {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Collected {
    fn new(mut pipe: impl Read + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .expect("output lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        Self {
            text,
            reader: Some(reader),
        }
    }

    fn so_far(&self) -> String {
        self.text.lock().expect("output lock").clone()
    }

    /// Everything, once the pipe has closed (the process exited).
    fn finish(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("output reader");
        }
        self.so_far()
    }
}

/// A `tessera serve` process whose stdout and stderr are collected by threads.
pub struct Server {
    child: Mutex<Child>,
    /// `http://127.0.0.1:{port}`: where this process listens.
    pub address: String,
    stdout: Collected,
    stderr: Collected,
}

impl Server {
    /// Starts `tessera serve` on a free port, its own address as the public URL.
    pub fn start(data_dir: &std::path::Path, database_url: &str) -> Self {
        let port = free_port();
        Self::spawn(
            data_dir,
            database_url,
            port,
            &format!("http://127.0.0.1:{port}"),
            &[],
        )
    }

    /// Starts `tessera serve` on `port` with `public_url` (every node of a cluster shares one,
    /// so a tenant has one issuer) and extra `TESSERA__…` settings in `env`.
    pub fn spawn(
        data_dir: &std::path::Path,
        database_url: &str,
        port: u16,
        public_url: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let address = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--database-url")
            .arg(database_url)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--public-url", public_url])
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tessera serve");
        let stdout = Collected::new(child.stdout.take().expect("stdout"));
        let stderr = Collected::new(child.stderr.take().expect("stderr"));
        Self {
            child: Mutex::new(child),
            address,
            stdout,
            stderr,
        }
    }

    /// What the process has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.so_far()
    }

    /// What the process has written to stderr so far (its logs).
    pub fn stderr_so_far(&self) -> String {
        self.stderr.so_far()
    }

    /// Waits until `/healthz` answers 200 (or the process dies, or 60 s pass).
    pub async fn wait_healthy(&mut self) {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let start = Instant::now();
        loop {
            let exited = self.child.get_mut().expect("child lock").try_wait();
            if let Ok(Some(status)) = exited {
                panic!(
                    "tessera serve exited early with {status}\nstderr:\n{}",
                    self.stderr.finish()
                );
            }
            let healthy = http
                .get(format!("{}/healthz", self.address))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 200);
            if healthy {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "tessera serve never became healthy"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the status and the output.
    pub async fn terminate(mut self, limit: Duration) -> (Option<ExitStatus>, String, String) {
        self.signal("TERM");
        let start = Instant::now();
        let status = loop {
            let child = self.child.get_mut().expect("child lock");
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if start.elapsed() >= limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        };
        (status, self.stdout.finish(), self.stderr.finish())
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and reaps it. The `kill` runs
    /// on a blocking thread, so the caller's other tasks keep sending requests meanwhile.
    pub async fn kill_9(&self) {
        let pid = self.child.lock().expect("child lock").id().to_string();
        let killed = actix_web::rt::task::spawn_blocking(move || {
            Command::new("kill").args(["-KILL", &pid]).status()
        })
        .await
        .expect("kill thread")
        .expect("run kill");
        assert!(killed.success(), "kill -KILL failed");
        let status = self.child.lock().expect("child lock").wait().expect("wait");
        assert!(!status.success(), "a SIGKILLed server exited with {status}");
    }

    /// Waits up to `limit` for the process to exit on its own; its status, or `None`.
    pub async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .lock()
                .expect("child lock")
                .try_wait()
                .expect("wait")
            {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM without waiting for the exit.
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.lock().expect("child lock").id();
        let kill = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success(), "kill -{name} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut()
            && let Ok(None) = child.try_wait()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value printed after `label` on a line of the first-start message.
pub fn printed(stdout: &str, label: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
}

/// One node of a [`Cluster`]: the process, and a [`TestApp`] whose helpers talk to it.
pub struct Node {
    /// The process (dropped first: killed before its data directory goes).
    pub server: Server,
    /// Helpers aimed at this node (its address; the cluster's operator; its data directory).
    pub app: TestApp,
    alive: AtomicBool,
}

/// Several `tessera serve` processes on one database, sharing the master key and one public
/// URL (that of the first node), so every tenant has one issuer whichever node answers.
pub struct Cluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    /// The public URL all nodes share.
    pub public_url: String,
    next: AtomicUsize,
}

impl Cluster {
    /// Starts `n` nodes on a fresh database. Each node's pool is kept small, as the whole
    /// suite shares one PostgreSQL server (`max_connections` 100 by default).
    pub async fn start(n: usize) -> Self {
        Self::start_with(n, &[("TESSERA__DATABASE__MAX_CONNECTIONS", "4")]).await
    }

    /// Starts `n` nodes on a fresh database, with extra `TESSERA__…` settings.
    pub async fn start_with(n: usize, env: &[(&str, &str)]) -> Self {
        assert!(n >= 1);
        let first_dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(first_dir.path()).await;
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        let mut first = Server::spawn(first_dir.path(), &database_url, port, &public_url, env);
        first.wait_healthy().await;
        // The first start prints the operator's credentials on stdout (before listening; the
        // reader thread may still be copying them).
        let mut stdout = first.stdout_so_far();
        let start = Instant::now();
        while !stdout.contains("client_secret:") && start.elapsed() < Duration::from_secs(5) {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            stdout = first.stdout_so_far();
        }
        let operator_id = printed(&stdout, "client_id:")
            .unwrap_or_else(|| panic!("no operator client_id printed:\n{stdout}"));
        let operator_secret = printed(&stdout, "client_secret:")
            .unwrap_or_else(|| panic!("no operator client_secret printed:\n{stdout}"));

        let mut nodes = Vec::with_capacity(n);
        let mut dirs = vec![first_dir];
        let mut servers = vec![first];
        for _ in 1..n {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::copy(
                dirs[0].path().join("master.key"),
                dir.path().join("master.key"),
            )
            .expect("copy the master key");
            let server = Server::spawn(dir.path(), &database_url, free_port(), &public_url, env);
            dirs.push(dir);
            servers.push(server);
        }
        for server in servers.iter_mut().skip(1) {
            server.wait_healthy().await;
        }
        for (server, dir) in servers.into_iter().zip(dirs) {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Below the server's keep-alive, as in `spawn_app_on_with`.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("http client");
            let app = TestApp {
                address: server.address.clone(),
                http,
                operator_id: operator_id.clone(),
                operator_secret: operator_secret.clone(),
                data_dir: dir,
                database_url: database_url.clone(),
                tls_port: None,
            };
            nodes.push(Node {
                server,
                app,
                alive: AtomicBool::new(true),
            });
        }
        Self {
            nodes,
            public_url,
            next: AtomicUsize::new(0),
        }
    }

    /// Node `i`'s helpers.
    pub fn node(&self, i: usize) -> &TestApp {
        &self.nodes[i].app
    }

    /// The next live node, round robin: each call (each request) goes to another node, the way
    /// a load balancer that health-checks its backends spreads them.
    pub fn next(&self) -> &TestApp {
        for _ in 0..self.nodes.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
            if self.nodes[i].alive.load(Ordering::Relaxed) {
                return &self.nodes[i].app;
            }
        }
        panic!("no node of the cluster is alive");
    }

    /// The issuer of tenant `slug` (the same at every node).
    pub fn issuer(&self, slug: &str) -> String {
        format!("{}/t/{slug}", self.public_url)
    }

    /// Kills node `i` with SIGKILL while requests keep reaching it; [`Cluster::next`] skips it
    /// once it is dead (as a load balancer's health check would, soon after).
    pub async fn kill_9(&self, i: usize) {
        self.nodes[i].server.kill_9().await;
        self.nodes[i].alive.store(false, Ordering::Relaxed);
    }

    /// Whether node `i` is still running.
    pub fn alive(&self, i: usize) -> bool {
        self.nodes[i].alive.load(Ordering::Relaxed)
    }
}
