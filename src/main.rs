//! `tessera`: the command line. Parses arguments, loads settings, and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tessera::commands::{
    self, ClientCommand, DomainCommand, KeysCommand, Output, RegistrationTokenCommand,
    ResourceCommand, ScopeCommand, TenantCommand, UserCommand,
};
use tessera::{Application, Overrides, Services, Settings, telemetry};
use tessera_tenants::TenantError;

/// Tessera: a multi-tenant OAuth 2 / OpenID Connect provider.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    /// Configuration file layered over the built-in defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (embedded SQLite, generated master key). Default ./data.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve {
        /// Address to bind (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Public base URL (default http://localhost:8080).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage a tenant's resource servers (the APIs its access tokens are for).
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Manage a tenant's scope definitions.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Manage a tenant's initial access tokens for dynamic client registration (RFC 7591).
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
    /// Manage a tenant's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage a tenant's users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage a tenant's custom domain (the command line acts as an operator).
    #[command(subcommand)]
    Domain(DomainCommand),
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let asked_json = std::env::args().any(|a| a == "--json");
            if asked_json && !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                let rendered = e.render().to_string();
                let description = rendered
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                let description = description.trim_start_matches("error: ");
                println!(
                    "{}",
                    serde_json::json!({ "error": "invalid_request", "error_description": description })
                );
                return ExitCode::from(2);
            }
            e.exit()
        }
    };
    let mut overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        ..Default::default()
    };
    if let Command::Serve { listen, public_url } = &cli.command {
        overrides.listen = listen.clone();
        overrides.public_url = public_url.clone();
    }
    let settings = match Settings::load(cli.config.as_deref(), &overrides) {
        Ok(s) => s,
        Err(e) => return fail(cli.json, "invalid_configuration", &format!("{e:#}")),
    };
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        command => {
            // Management commands stay quiet unless something is wrong.
            let mut log = settings.log.clone();
            log.filter = if matches!(command, Command::Migrate) {
                // A long migration reports its progress (pending list, per-migration timing).
                "warn,sqlx=error,tessera_store=info".into()
            } else {
                "warn,sqlx=error".into()
            };
            telemetry::init(&log);
            let services = match Services::open(&settings).await {
                Ok(s) => s,
                Err(e) => return fail(cli.json, "server_error", &format!("{e:#}")),
            };
            let result = match command {
                Command::Migrate => Ok(Output {
                    json: serde_json::json!({"migrated": true}),
                    text: "database is up to date".into(),
                }),
                Command::Tenant(c) => commands::tenant(&services, c).await,
                Command::Client(c) => commands::client(&services, c).await,
                Command::Resource(c) => commands::resource(&services, c).await,
                Command::Scope(c) => commands::scope(&services, c).await,
                Command::RegistrationToken(c) => commands::registration_token(&services, c).await,
                Command::Keys(c) => commands::keys(&services, c).await,
                Command::User(c) => commands::user(&services, c).await,
                Command::Domain(c) => commands::domain(&services, c).await,
                Command::Serve { .. } => unreachable!("handled above"),
            };
            let _ = services.store.close().await;
            match result {
                Ok(out) => {
                    if cli.json {
                        println!("{}", out.json);
                    } else {
                        println!("{}", out.text);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    let code = match e {
                        TenantError::NotFound(_) => "not_found",
                        TenantError::Conflict(_)
                        | TenantError::Concurrent(_)
                        | TenantError::InUse(_) => "conflict",
                        TenantError::Invalid(_) => "invalid_request",
                        TenantError::Unavailable => "temporarily_unavailable",
                        TenantError::Unexpected(_) => "server_error",
                    };
                    fail(cli.json, code, &format!("{e:#}"))
                }
            }
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    telemetry::init(&settings.log);
    let public_url = settings.server.public_url.clone();
    let mut app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "startup failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(port = app.port(), public_url = %public_url, "tessera is serving");
    if let Some(op) = app.take_operator_credentials() {
        let console = match app.create_console_admin().await {
            Ok(console) => Some(console),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "creating the console admin user failed");
                None
            }
        };
        // Printed on stdout, once, never logged.
        println!(
            "\nFirst start: created the system tenant and its operator admin client.\n\
             Store these credentials now; they are not shown again.\n\n  \
             client_id:     {id}\n  client_secret: {secret}\n\n\
             Get an admin API token:\n  \
             curl -s -u '{id}:{secret}' -d grant_type=client_credentials -d scope=admin {public_url}/t/system/token\n\n\
             Then call the admin API, e.g.:\n  \
             curl -s -H \"Authorization: Bearer $TOKEN\" {public_url}/admin/v1/tenants\n",
            id = op.client_id,
            secret = op.client_secret.expose_secret(),
        );
        if let Some(console) = console {
            println!(
                "Sign in to the admin console as an operator:\n  \
                 console:  {url}\n  \
                 username: {username}\n  \
                 password: {password}\n",
                url = console.console_url,
                username = console.username,
                password = console.password.expose_secret(),
            );
        }
    }
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn fail(json: bool, code: &str, message: &str) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": code, "error_description": message })
        );
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::FAILURE
}
