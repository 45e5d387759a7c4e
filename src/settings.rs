//! Typed configuration: compiled-in `config/default.toml`, then an optional file, then
//! `TESSERA__SECTION__KEY` environment variables, then command-line overrides.

use std::path::{Path, PathBuf};

use anyhow::Context;
use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// Where the process runs.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A developer machine: generated master key allowed, pretty logs.
    Local,
    /// Production: explicit master key and database URL required.
    Production,
}

/// All settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Profile.
    pub environment: Profile,
    /// Data directory (SQLite file, generated master key).
    pub data_dir: PathBuf,
    /// HTTP server.
    pub server: ServerSettings,
    /// Database.
    pub database: DatabaseSettings,
    /// Signing keys.
    pub keys: KeySettings,
    /// Tenancy.
    pub tenants: TenantSettings,
    /// User authentication.
    pub auth: AuthSettings,
    /// Logging.
    pub log: LogSettings,
    /// Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0).
    #[serde(default)]
    pub logout: LogoutSettings,
    /// Outgoing e-mail: the transport and the outbox worker (`tessera-mail`).
    #[serde(default)]
    pub mail: tessera_mail::MailSettings,
    /// Optional Redis for the replay cache and the throttling counters.
    #[serde(default)]
    pub redis: RedisSettings,
}

/// Optional Redis: when `url` is set, the replay cache of one-time proof and assertion ids
/// (RFC 9449 §11.1, RFC 7523 §3) and the sign-in throttling counters live there instead of in
/// the database. Every node of a cluster must use the same Redis and prefix.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db`; empty (the default) keeps everything in the
    /// database. May hold a password: never logged.
    pub url: String,
    /// Prefix of every key, so deployments can share one Redis.
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            prefix: "tessera".to_owned(),
        }
    }
}

/// Back-channel logout delivery settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogoutSettings {
    /// How often each node looks for due logout notices, milliseconds.
    pub poll_interval_ms: u64,
    /// Wait before the first retry, seconds; doubled after each failed attempt (at most 1 h).
    pub retry_base_secs: i64,
    /// Attempts before a notice is given up.
    pub max_attempts: i32,
    /// Timeout of one delivery request, seconds.
    pub timeout_secs: u64,
}

impl Default for LogoutSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            retry_base_secs: 30,
            max_attempts: 8,
            timeout_secs: 5,
        }
    }
}

/// HTTP server settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Bind address.
    pub listen: String,
    /// Public base URL.
    pub public_url: String,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Graceful shutdown window, seconds.
    pub shutdown_timeout_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for login throttling).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The optional HTTPS listener for mutual-TLS client authentication (RFC 8705).
    pub tls: TlsSettings,
    /// Extra host names the deployment answers as itself (besides `public_url`'s host); any
    /// other `Host` is a tenant's verified custom domain or a 404.
    pub hosts: Vec<String>,
}

impl ServerSettings {
    /// Every host name the deployment answers as itself: `public_url`'s host, `hosts`, and the
    /// mutual-TLS listener's (its `public_url` host, else the listen address or `localhost`).
    pub fn own_hosts(&self) -> Vec<String> {
        let url_host = |raw: &str| {
            url::Url::parse(raw)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
        };
        let mut hosts: Vec<String> = url_host(&self.public_url).into_iter().collect();
        hosts.extend(self.hosts.iter().cloned());
        if self.tls.enabled() {
            let tls_url = self
                .tls
                .public_url
                .as_deref()
                .filter(|u| !u.trim().is_empty());
            match tls_url {
                Some(url) => hosts.extend(url_host(url)),
                None => match self.tls.listen.parse::<std::net::SocketAddr>() {
                    Ok(addr) if !addr.ip().is_unspecified() => hosts.push(addr.ip().to_string()),
                    _ => hosts.push("localhost".to_owned()),
                },
            }
        }
        hosts
    }
}

/// The optional HTTPS listener that asks clients for a certificate, for mutual-TLS client
/// authentication and certificate-bound tokens (RFC 8705). Off while `listen` is empty.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Bind address of the HTTPS listener; empty (the default) turns it off.
    pub listen: String,
    /// PEM file with the server certificate, followed by its intermediates.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the server's private key.
    pub key_file: Option<PathBuf>,
    /// PEM bundle of the CAs whose client certificates `tls_client_auth` accepts
    /// (RFC 8705 §2.1); without it only `self_signed_tls_client_auth` can succeed.
    pub client_ca_file: Option<PathBuf>,
    /// Base URL clients use to reach this listener (RFC 8705 §5 `mtls_endpoint_aliases`);
    /// unset means `https://{listen}` (`localhost` for an unspecified address).
    pub public_url: Option<String>,
}

impl TlsSettings {
    /// Whether the HTTPS listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }

    /// The base URL of the listener once bound to `bound`: `public_url` when set, otherwise
    /// `https://` and the bound address (so a test's port 0 becomes the real port).
    pub fn public_url_for(&self, bound: std::net::SocketAddr) -> String {
        match self.public_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
            _ => {
                let host = match bound.ip() {
                    ip if ip.is_unspecified() => "localhost".to_owned(),
                    std::net::IpAddr::V4(ip) => ip.to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                };
                format!("https://{host}:{}", bound.port())
            }
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        anyhow::ensure!(
            self.cert_file.is_some() && self.key_file.is_some(),
            "server.tls.listen requires server.tls.cert_file and server.tls.key_file"
        );
        if let Some(raw) = self.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
            let url = url::Url::parse(raw).context("server.tls.public_url is not a URL")?;
            anyhow::ensure!(
                url.scheme() == "https" && url.query().is_none() && url.fragment().is_none(),
                "server.tls.public_url must be an https URL without query or fragment"
            );
        }
        Ok(())
    }
}

/// Database settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// URL; empty means SQLite in the data directory.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a connection.
    pub acquire_timeout_secs: u64,
}

/// Key settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// Base64 master key; `None` reads or generates `{data_dir}/master.key`.
    pub master_key: Option<SecretString>,
    /// Key-generation threads.
    pub forge_threads: usize,
    /// Days between scheduled rotations.
    pub rotation_interval_days: i64,
}

/// Tenancy settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Snapshot cache capacity.
    pub cache_capacity: usize,
    /// Change-feed poll interval, milliseconds.
    pub feed_poll_ms: u64,
    /// Access-token lifetime of new tenants, seconds.
    pub default_access_token_ttl_secs: i64,
    /// Fetch a client's `jwks_uri` over plain http when its host is loopback (development and
    /// tests); otherwise only https is fetched. Also lets a Client ID Metadata Document
    /// `client_id` on a loopback host be fetched over plain http.
    #[serde(default)]
    pub allow_loopback_http_jwks_uri: bool,
}

/// User authentication settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Password-hashing threads (0: one per CPU core).
    pub password_threads: usize,
}

impl AuthSettings {
    /// The size of the password-hashing pool.
    pub fn hashing_threads(&self) -> usize {
        match self.password_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Logging settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// tracing filter.
    pub filter: String,
    /// Whether every audit event is also written to the log stream (tracing target `audit`).
    #[serde(default)]
    pub audit: bool,
}

/// Command-line values that override every other layer.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--public-url`.
    pub public_url: Option<String>,
}

impl Settings {
    /// Loads the layers: defaults, `file`, the process environment, `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        Self::load_with_env(file, overrides, Environment::with_prefix("TESSERA"))
    }

    fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: Environment,
    ) -> anyhow::Result<Self> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            env.prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("server.trusted_proxies")
                .with_list_parse_key("server.hosts"),
        );
        if let Some(v) = &overrides.data_dir {
            builder = builder.set_override("data_dir", v.to_string_lossy().to_string())?;
        }
        if let Some(v) = &overrides.database_url {
            builder = builder.set_override("database.url", v.as_str())?;
        }
        if let Some(v) = &overrides.listen {
            builder = builder.set_override("server.listen", v.as_str())?;
        }
        if let Some(v) = &overrides.public_url {
            builder = builder.set_override("server.public_url", v.as_str())?;
        }
        let settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let url =
            url::Url::parse(&self.server.public_url).context("server.public_url is not a URL")?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https")
                && url.query().is_none()
                && url.fragment().is_none(),
            "server.public_url must be an http(s) URL without query or fragment"
        );
        self.server.tls.validate()?;
        for host in &self.server.hosts {
            let h = host.trim();
            anyhow::ensure!(
                !h.is_empty()
                    && !h.contains("://")
                    && !h.contains('/')
                    && (h.starts_with('[')
                        || h.parse::<std::net::Ipv6Addr>().is_ok()
                        || !h.contains(':')),
                "server.hosts entries are host names without scheme, port or path (got {host:?})"
            );
        }
        self.mail.validate()?;
        anyhow::ensure!(
            self.redis.url.is_empty()
                || self.redis.url.starts_with("redis://")
                || self.redis.url.starts_with("redis+unix://"),
            "redis.url must be a redis:// URL or empty"
        );
        anyhow::ensure!(
            !self.redis.prefix.is_empty() && !self.redis.prefix.contains(char::is_whitespace),
            "redis.prefix must be a non-empty word"
        );
        anyhow::ensure!(
            self.log.format == "pretty" || self.log.format == "json",
            "log.format must be pretty or json"
        );
        anyhow::ensure!(
            (1..=3650).contains(&self.keys.rotation_interval_days),
            "keys.rotation_interval_days must be 1..=3650"
        );
        anyhow::ensure!(
            (60..=86_400).contains(&self.tenants.default_access_token_ttl_secs),
            "tenants.default_access_token_ttl_secs must be 60..=86400"
        );
        if self.environment == Profile::Production {
            anyhow::ensure!(
                self.keys.master_key.is_some(),
                "production requires keys.master_key (TESSERA__KEYS__MASTER_KEY)"
            );
            anyhow::ensure!(
                !self.database.url.is_empty(),
                "production requires database.url (TESSERA__DATABASE__URL)"
            );
        }
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("tessera.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// Where a generated master key lives.
    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Environment {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Environment::with_prefix("TESSERA").source(Some(map))
    }

    #[test]
    fn defaults_load_and_environment_overrides_them() {
        let s = Settings::load_with_env(None, &Overrides::default(), env(&[])).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:8080");
        assert_eq!(s.server.public_url, "http://localhost:8080");
        assert!(s.database_url().starts_with("sqlite://"));
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[
                ("TESSERA__SERVER__LISTEN", "0.0.0.0:9000"),
                ("TESSERA__TENANTS__FEED_POLL_MS", "100"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.listen, "0.0.0.0:9000");
        assert_eq!(s.tenants.feed_poll_ms, 100);
    }

    #[test]
    fn redis_is_off_by_default_and_set_from_the_environment() {
        let s = Settings::load_with_env(None, &Overrides::default(), env(&[])).unwrap();
        assert_eq!(
            (s.redis.url.as_str(), s.redis.prefix.as_str()),
            ("", "tessera")
        );
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[
                ("TESSERA__REDIS__URL", "redis://127.0.0.1:6379/0"),
                ("TESSERA__REDIS__PREFIX", "idp-a"),
            ]),
        )
        .unwrap();
        assert_eq!(s.redis.url, "redis://127.0.0.1:6379/0");
        assert_eq!(s.redis.prefix, "idp-a");
        let bad = env(&[("TESSERA__REDIS__URL", "http://127.0.0.1:6379")]);
        assert!(Settings::load_with_env(None, &Overrides::default(), bad).is_err());
    }

    #[test]
    fn trusted_proxies_come_from_a_comma_separated_variable() {
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[("TESSERA__SERVER__TRUSTED_PROXIES", "10.0.0.2,10.0.0.3")]),
        )
        .unwrap();
        assert_eq!(s.server.trusted_proxies.len(), 2);
        assert!(
            Settings::load_with_env(None, &Overrides::default(), env(&[]))
                .unwrap()
                .server
                .trusted_proxies
                .is_empty()
        );
    }

    #[test]
    fn own_hosts_default_to_loopback_names_and_take_a_list_from_the_environment() {
        let s = Settings::load_with_env(None, &Overrides::default(), env(&[])).unwrap();
        let own = s.server.own_hosts();
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(own.iter().any(|h| h == host), "{host} missing from {own:?}");
        }
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[
                ("TESSERA__SERVER__HOSTS", "id.example.com,node1.internal"),
                ("TESSERA__SERVER__PUBLIC_URL", "https://login.example.com"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.hosts, vec!["id.example.com", "node1.internal"]);
        let own = s.server.own_hosts();
        assert!(own.iter().any(|h| h == "login.example.com"));
        assert!(own.iter().any(|h| h == "node1.internal"));
        assert!(!own.iter().any(|h| h == "localhost"));
        assert!(
            Settings::load_with_env(
                None,
                &Overrides::default(),
                env(&[("TESSERA__SERVER__HOSTS", "id.example.com:8080")]),
            )
            .is_err()
        );
    }

    #[test]
    fn flags_win_over_environment() {
        let o = Overrides {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        let s = Settings::load_with_env(
            None,
            &o,
            env(&[("TESSERA__SERVER__LISTEN", "0.0.0.0:9000")]),
        )
        .unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:1");
    }

    #[test]
    fn tls_listener_is_off_by_default_and_configured_from_the_environment() {
        let s = Settings::load_with_env(None, &Overrides::default(), env(&[])).unwrap();
        assert!(!s.server.tls.enabled());
        assert!(s.server.tls.client_ca_file.is_none());
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[
                ("TESSERA__SERVER__TLS__LISTEN", "127.0.0.1:8443"),
                ("TESSERA__SERVER__TLS__CERT_FILE", "/etc/tessera/tls.crt"),
                ("TESSERA__SERVER__TLS__KEY_FILE", "/etc/tessera/tls.key"),
                (
                    "TESSERA__SERVER__TLS__CLIENT_CA_FILE",
                    "/etc/tessera/clients.pem",
                ),
            ]),
        )
        .unwrap();
        let tls = &s.server.tls;
        assert!(tls.enabled());
        assert_eq!(tls.listen, "127.0.0.1:8443");
        assert_eq!(
            tls.key_file.as_deref(),
            Some(Path::new("/etc/tessera/tls.key"))
        );
        assert_eq!(
            tls.client_ca_file.as_deref(),
            Some(Path::new("/etc/tessera/clients.pem"))
        );
        let bound = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(tls.public_url_for(bound), "https://127.0.0.1:8443");
        assert_eq!(
            tls.public_url_for("0.0.0.0:9443".parse().unwrap()),
            "https://localhost:9443"
        );
        let s = Settings::load_with_env(
            None,
            &Overrides::default(),
            env(&[
                ("TESSERA__SERVER__TLS__LISTEN", "127.0.0.1:8443"),
                ("TESSERA__SERVER__TLS__CERT_FILE", "/c"),
                ("TESSERA__SERVER__TLS__KEY_FILE", "/k"),
                (
                    "TESSERA__SERVER__TLS__PUBLIC_URL",
                    "https://mtls.example.com/",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.server.tls.public_url_for(bound),
            "https://mtls.example.com"
        );
    }

    #[test]
    fn tls_listener_needs_its_key_pair_and_an_https_public_url() {
        let load =
            |vars: &[(&str, &str)]| Settings::load_with_env(None, &Overrides::default(), env(vars));
        assert!(load(&[("TESSERA__SERVER__TLS__LISTEN", "127.0.0.1:8443")]).is_err());
        assert!(
            load(&[
                ("TESSERA__SERVER__TLS__LISTEN", "127.0.0.1:8443"),
                ("TESSERA__SERVER__TLS__CERT_FILE", "/c"),
            ])
            .is_err()
        );
        assert!(
            load(&[
                ("TESSERA__SERVER__TLS__LISTEN", "127.0.0.1:8443"),
                ("TESSERA__SERVER__TLS__CERT_FILE", "/c"),
                ("TESSERA__SERVER__TLS__KEY_FILE", "/k"),
                (
                    "TESSERA__SERVER__TLS__PUBLIC_URL",
                    "http://mtls.example.com"
                ),
            ])
            .is_err()
        );
        assert!(load(&[("TESSERA__SERVER__TLS__LISTN", "x")]).is_err());
    }

    #[test]
    fn unknown_keys_and_unsafe_production_settings_are_refused() {
        assert!(
            Settings::load_with_env(
                None,
                &Overrides::default(),
                env(&[("TESSERA__SERVER__LISTN", "x")])
            )
            .is_err()
        );
        assert!(
            Settings::load_with_env(
                None,
                &Overrides::default(),
                env(&[("TESSERA__ENVIRONMENT", "production")])
            )
            .is_err()
        );
    }
}
