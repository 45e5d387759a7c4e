//! Structured logging with `tracing`: pretty or JSON to stderr, filtered by `RUST_LOG` or the
//! configured filter. The per-request span lives in `tessera_web::observe` (DEBUG level).

use tracing_subscriber::EnvFilter;

use crate::settings::LogSettings;

/// Installs the global subscriber once; later calls are no-ops (tests call it per server).
pub fn init(log: &LogSettings) {
    tessera_store::audit::set_log_stream(log.audit);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
