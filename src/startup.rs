//! Wiring: open the database and run migrations, load the master key, start the key forge and
//! the tenant directory, bootstrap the system tenant, and serve HTTP.

use std::any::Any;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, SyncArbiter};
use actix_tls::accept::openssl::TlsStream;
use actix_web::dev::{Extensions, Server};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use openssl::ssl::{
    SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslOptions, SslSessionCacheMode,
    SslVerifyMode,
};
use secrecy::{ExposeSecret, SecretString};
use tessera_keys::{KeyForge, MasterKey};
use tessera_store::{PoolSettings, RedisCache, Store};
use tessera_tenants::{
    Directory, TenantAdmin, TenantDefaults, TenantDirectory, TenantDirectorySettings,
};
use tessera_web::{Metrics, PeerCertificates, Templates, TrustedClientCas};

use crate::settings::{Profile, Settings, TlsSettings};

/// The shared services behind the server and the management commands.
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// The read side of tenancy.
    pub directory: Directory,
    /// Tenant lifecycle operations.
    pub admin: TenantAdmin,
    /// The key-generation pool.
    pub forge: Addr<KeyForge>,
    /// The deployment's master key (seals private keys and pending sign-in requests).
    pub master: Arc<MasterKey>,
    /// Users, password sign-in and SSO sessions (with its password-hashing pool).
    pub authn: tessera_authn::Authenticator,
    /// Queues mail (delivered by a server's Mailer).
    pub outbox: tessera_mail::Outbox,
}

impl Services {
    /// Connects, migrates, loads the master key and starts the key forge. Needs a running actix
    /// `System`.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.database_url();
        if settings.database.url.is_empty() {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("creating data directory {}", settings.data_dir.display())
            })?;
        }
        let pool = PoolSettings {
            max_connections: settings.database.max_connections,
            acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
        };
        let store = Store::connect(&url, &pool)
            .await
            .context("connecting to the database")?;
        store.migrate().await.context("running migrations")?;
        let store = match settings.redis.url.as_str() {
            "" => store,
            url => {
                // Checked with PING now: a node that cannot reach the shared cache must not
                // start and answer 503 to every sign-in.
                let redis = RedisCache::connect(url, &settings.redis.prefix)
                    .await
                    .context("connecting to Redis (redis.url): is it running and reachable?")?;
                tracing::info!(
                    prefix = redis.prefix(),
                    "replay cache and throttling counters in Redis"
                );
                store.with_redis(redis)
            }
        };
        let master = Arc::new(load_master_key(settings)?);
        let forge_master = Arc::clone(&master);
        let forge = SyncArbiter::start(settings.keys.forge_threads.max(1), move || {
            KeyForge::new(Arc::clone(&forge_master))
        });
        let directory = Directory::new(
            store.clone(),
            Arc::clone(&master),
            &settings.server.public_url,
            settings.tenants.cache_capacity,
        )
        .with_own_hosts(settings.server.own_hosts());
        let defaults = TenantDefaults {
            access_token_ttl: settings.tenants.default_access_token_ttl_secs,
            key_rotation_interval: settings.keys.rotation_interval_days * 86_400,
        };
        let admin = TenantAdmin::new(store.clone(), forge.clone(), directory.clone(), defaults)
            .with_loopback_http(settings.tenants.allow_loopback_http_jwks_uri);
        let authn =
            tessera_authn::Authenticator::new(store.clone(), settings.auth.hashing_threads());
        let outbox = tessera_mail::Outbox::new(settings.mail.default_sender()?);
        Ok(Self {
            store,
            directory,
            admin,
            forge,
            master,
            authn,
            outbox,
        })
    }
}

fn load_master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    if let Some(b64) = &settings.keys.master_key {
        return MasterKey::from_base64(b64.expose_secret())
            .context("keys.master_key must be base64 of 32 bytes");
    }
    anyhow::ensure!(
        settings.environment != Profile::Production,
        "production requires keys.master_key"
    );
    let path = settings.master_key_file();
    let (key, generated) = MasterKey::load_or_generate(&path)
        .with_context(|| format!("master key file {}", path.display()))?;
    if generated {
        tracing::warn!(
            path = %path.display(),
            "generated a new master key for signing keys at rest; back it up, and set keys.master_key (TESSERA__KEYS__MASTER_KEY) in production"
        );
    } else {
        tracing::info!(path = %path.display(), "master key read from the data directory; set keys.master_key in production");
    }
    Ok(key)
}

/// The operator admin client created on first start.
pub struct OperatorCredentials {
    /// Client id in the system tenant.
    pub client_id: String,
    /// Its secret, shown this once.
    pub client_secret: SecretString,
}

/// The admin console's first operator user, created on first start.
pub struct ConsoleAdmin {
    /// Where operators sign in: `{public_url}/console`.
    pub console_url: String,
    /// The system-tenant username (`admin`).
    pub username: String,
    /// Its random password, shown this once.
    pub password: SecretString,
}

/// Username of the first operator user.
const CONSOLE_ADMIN_USERNAME: &str = "admin";

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    tls: Option<(u16, String)>,
    server: Server,
    services: Services,
    operator: Option<OperatorCredentials>,
    mailer: Addr<tessera_mail::Mailer>,
}

impl Application {
    /// Builds the server on `settings.server.listen` (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        Self::build_on(settings, listener).await
    }

    /// Builds the server on an already bound listener (tests bind first to learn the port that
    /// goes into `public_url`).
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let services = Services::open(&settings).await?;
        let bootstrap = services
            .admin
            .bootstrap_system()
            .await
            .context("creating the system tenant")?;
        let operator = bootstrap.operator.and_then(|reg| {
            reg.client_secret.map(|secret| OperatorCredentials {
                client_id: reg.client.client_id.to_string(),
                client_secret: secret,
            })
        });

        TenantDirectory::new(
            services.admin.clone(),
            TenantDirectorySettings {
                feed_poll: Duration::from_millis(settings.tenants.feed_poll_ms.max(10)),
                ..Default::default()
            },
        )
        .start();
        crate::janitor::Janitor::new(
            services.store.clone(),
            services.authn.clone(),
            Duration::from_secs(60),
        )
        .start();
        // OpenID Connect Back-Channel Logout 1.0: delivers the logout outbox.
        crate::logout_worker::LogoutWorker::new(
            services.store.clone(),
            services.directory.clone(),
            settings.logout.clone(),
        )
        .context("starting the logout worker")?
        .start();
        // The mail outbox (tessera-mail): queued by the handlers, delivered by every node.
        let mailer = tessera_mail::Mailer::new(
            services.store.clone(),
            settings.mail.clone(),
            &settings.data_dir,
        )
        .context("starting the mailer")?
        .start();
        let outbox = web::Data::new(tessera_mail::Outbox::new(settings.mail.default_sender()?));

        let port = listener.local_addr()?.port();
        let metrics = web::Data::new(Metrics::new().context("registering metrics")?);
        let templates = web::Data::new(
            Templates::new(settings.environment == Profile::Local).context("loading templates")?,
        );
        let directory = web::Data::new(services.directory.clone());
        let admin = web::Data::new(services.admin.clone());
        let store = web::Data::new(services.store.clone());
        let proxies = web::Data::new(tessera_web::TrustedProxies(
            settings.server.trusted_proxies.clone(),
        ));
        let master = web::Data::from(Arc::clone(&services.master));
        let authn = web::Data::new(services.authn.clone());
        // RFC 7523 §2.2 private_key_jwt: clients' jwks_uri documents, fetched and cached.
        let client_keys = web::Data::new(
            tessera_tokens::client_keys::ClientKeyResolver::new(
                settings.tenants.allow_loopback_http_jwks_uri,
            )
            .context("building the jwks_uri client")?,
        );
        // draft-ietf-oauth-client-id-metadata-document: URL client_ids, fetched under the
        // tenant's opt-in policy; loopback http only with the same deployment setting.
        let metadata_documents = web::Data::new(
            tessera_tenants::MetadataDocuments::new(settings.tenants.allow_loopback_http_jwks_uri)
                .context("building the client metadata document client")?,
        );
        let tls_settings = &settings.server.tls;
        let tls = if tls_settings.enabled() {
            Some(TlsListener::open(tls_settings)?)
        } else {
            None
        };
        let client_cas = web::Data::new(tls.as_ref().map(|t| t.cas.clone()).unwrap_or_default());
        // RFC 8705 §5: discovery names the mutual-TLS listener's endpoints.
        let mtls_origin = web::Data::new(tessera_web::MtlsOrigin(match &tls {
            Some(t) => Some(
                settings
                    .server
                    .tls
                    .public_url_for(t.listener.local_addr()?)
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => None,
        }));
        let mut server = HttpServer::new(move || {
            App::new()
                // Innermost: a request for a custom domain is rewritten before routing, and
                // its refusals still get the security headers and are counted.
                .wrap(from_fn(tessera_web::route_by_host))
                .wrap(tessera_web::security_headers())
                .wrap(from_fn(tessera_web::observe))
                .app_data(directory.clone())
                .app_data(admin.clone())
                .app_data(metrics.clone())
                .app_data(templates.clone())
                .app_data(store.clone())
                .app_data(proxies.clone())
                .app_data(master.clone())
                .app_data(authn.clone())
                .app_data(client_cas.clone())
                .app_data(mtls_origin.clone())
                .app_data(client_keys.clone())
                .app_data(outbox.clone())
                .app_data(metadata_documents.clone())
                .configure(tessera_web::configure)
                .configure(tessera_admin::configure)
                .default_service(web::to(not_found))
        })
        .on_connect(keep_peer_certificates)
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .listen(listener)?;
        let tls = match tls {
            Some(t) => {
                let bound = t.listener.local_addr()?;
                server = server.listen_openssl(t.listener, t.acceptor)?;
                let url = settings.server.tls.public_url_for(bound);
                tracing::info!(%bound, %url, "mutual-TLS listener ready");
                Some((bound.port(), url))
            }
            None => None,
        };
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        Ok(Self {
            port,
            tls,
            server: server.run(),
            services,
            operator,
            mailer,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound port of the mutual-TLS listener, when `server.tls` configures one.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|(port, _)| *port)
    }

    /// The base URL of the mutual-TLS listener (RFC 8705 §5 aliases), when configured.
    pub fn tls_public_url(&self) -> Option<&str> {
        self.tls.as_ref().map(|(_, url)| url.as_str())
    }

    /// The services behind the server (tests use them to inspect state).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Takes the operator credentials created by this start, if it was the first.
    pub fn take_operator_credentials(&mut self) -> Option<OperatorCredentials> {
        self.operator.take()
    }

    /// Creates the system-tenant user `admin` with a random password and the operator role, so
    /// the admin console can be used at once. Called by `tessera serve` on first start (when
    /// [`Self::take_operator_credentials`] returned credentials); the password is returned this
    /// once and never logged.
    pub async fn create_console_admin(&self) -> anyhow::Result<ConsoleAdmin> {
        let services = &self.services;
        let system = services
            .admin
            .tenant(tessera_core::TenantSlug::system().as_ref())
            .await
            .context("reading the system tenant")?;
        // 192 random bits; base64url never contains whitespace.
        let password = SecretString::from(tessera_core::secret::random_token(24));
        let user = services
            .authn
            .create_user(
                &system,
                tessera_authn::NewUser {
                    username: CONSOLE_ADMIN_USERNAME.to_owned(),
                    email: None,
                    email_verified: false,
                    claims: Default::default(),
                    password: Some(password.clone()),
                },
            )
            .await
            .context("creating the console admin user")?;
        tessera_store::users::set_admin_role(
            services.store.conn(),
            system.id,
            user.id,
            Some(tessera_core::AdminRole::Operator),
            tessera_core::Clock.now(),
        )
        .await
        .context("granting the console admin the operator role")?;
        tracing::info!(user = %user.id, "created the console admin user of the system tenant");
        Ok(ConsoleAdmin {
            console_url: format!("{}/console", services.directory.public_url()),
            username: user.username,
            password,
        })
    }

    /// Serves until SIGTERM/SIGINT (drained gracefully) or [`Server::stop`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.mailer.do_send(tessera_mail::StopMailer);
        let _ = self.services.store.close().await;
        result
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

async fn not_found() -> actix_web::HttpResponse {
    tessera_web::json_error(
        actix_web::http::StatusCode::NOT_FOUND,
        tessera_core::OAuthErrorCode::NotFound,
        Some("no such endpoint"),
    )
}

/// The bound HTTPS listener of `server.tls`, its acceptor and the trusted client CAs.
struct TlsListener {
    listener: TcpListener,
    acceptor: SslAcceptorBuilder,
    cas: TrustedClientCas,
}

impl TlsListener {
    fn open(tls: &TlsSettings) -> anyhow::Result<Self> {
        let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else {
            anyhow::bail!("server.tls needs cert_file and key_file");
        };
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        acceptor
            .set_certificate_chain_file(cert)
            .with_context(|| format!("server.tls.cert_file {}", cert.display()))?;
        acceptor
            .set_private_key_file(key, SslFiletype::PEM)
            .with_context(|| format!("server.tls.key_file {}", key.display()))?;
        acceptor
            .check_private_key()
            .context("server.tls.key_file does not match cert_file")?;
        // RFC 8705 §2: ask for a certificate but never require one, and let any certificate
        // through (self-signed ones included, §2.2): client authentication validates chains
        // itself. No CA names are advertised, so clients offer self-signed certificates too.
        acceptor.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        // A resumed session carries no certificate chain: make every connection a full
        // handshake, so each request sees the chain the client sent.
        acceptor.set_session_cache_mode(SslSessionCacheMode::OFF);
        acceptor.set_options(SslOptions::NO_TICKET);
        let cas = match &tls.client_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| {
                    format!("reading server.tls.client_ca_file {}", path.display())
                })?;
                TrustedClientCas::from_pem(&pem).context("server.tls.client_ca_file")?
            }
            None => TrustedClientCas::none(),
        };
        let listener = TcpListener::bind(&tls.listen)
            .with_context(|| format!("binding server.tls.listen {}", tls.listen))?;
        Ok(Self {
            listener,
            acceptor,
            cas,
        })
    }
}

/// `on_connect` hook: keeps the certificates a TLS client sent (leaf first, DER) in the
/// connection data for [`tessera_web::client_certificate`]. Plain connections get nothing.
fn keep_peer_certificates(conn: &dyn Any, data: &mut Extensions) {
    let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() else {
        return;
    };
    let ssl = tls.ssl();
    let Some(leaf) = ssl.peer_certificate().and_then(|c| c.to_der().ok()) else {
        return;
    };
    // Server side, OpenSSL's peer chain leaves the leaf out; skip it should a build keep it.
    let rest = ssl
        .peer_cert_chain()
        .into_iter()
        .flatten()
        .filter_map(|c| c.to_der().ok())
        .filter(|der| *der != leaf);
    let chain = std::iter::once(leaf.clone()).chain(rest).collect();
    data.insert(PeerCertificates(chain));
}
