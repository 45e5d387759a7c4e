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
                .with_list_parse_key("server.trusted_proxies"),
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
