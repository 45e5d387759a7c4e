//! Running the schema migrations once per cluster. Migrations are additive, so old nodes keep
//! serving while a new node migrates; what must not happen is two nodes (or two processes on one
//! SQLite file) applying the same migration at once. Each migrator takes a lock, re-reads the
//! pending list under it, and applies the migrations one at a time with progress logged; a
//! migrator that had to wait finds nothing left to do.

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};

use crate::StoreError;

/// The `pg_advisory_lock` key that serialises migrations across a cluster: the ASCII bytes of
/// "tessmigr". Advisory locks share one key space per database, so it only has to differ from
/// the keys of other applications that share the database.
const POSTGRES_LOCK_KEY: i64 = 0x7465_7373_6d69_6772;

/// Serialises migrations of in-memory SQLite databases, which only this process can open.
static IN_MEMORY_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Migrates the PostgreSQL database at `url` under a session-level advisory lock.
///
/// A session lock belongs to the connection that took it, and must be released on that same
/// connection; a pool may hand out a different connection for every statement. So the lock is
/// taken on a dedicated one-connection pool that never recycles its connection (no idle timeout,
/// no maximum lifetime), and the migrations run on that same connection. If the connection
/// breaks, PostgreSQL releases the lock and the failing statement ends the run; each migration
/// is its own transaction on PostgreSQL, so none is left half-applied or recorded twice.
///
/// The alternative — `pg_advisory_xact_lock` in a transaction held open while the migrator runs
/// on the pool — also excludes other migrators, but pins a second connection "idle in
/// transaction" for the whole run, where `idle_in_transaction_session_timeout` can end it and
/// silently release the lock mid-run.
pub(crate) async fn postgres(url: &str) -> Result<(), StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let conn = Database::connect(options).await?;
    let result = postgres_locked(&conn).await;
    // Closing ends the session, which releases the lock even if unlocking failed.
    let _ = conn.close().await;
    result
}

async fn postgres_locked(conn: &DatabaseConnection) -> Result<(), StoreError> {
    let lock = |sql: &str| {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [POSTGRES_LOCK_KEY.into()])
    };
    let row = conn
        .query_one_raw(lock("SELECT pg_try_advisory_lock($1) AS locked"))
        .await?
        .ok_or_else(|| StoreError::Corrupt("pg_try_advisory_lock returned no row".into()))?;
    if !row.try_get::<bool>("", "locked")? {
        tracing::info!("waiting for the migration lock held by another node");
        let waited = Instant::now();
        conn.execute_raw(lock("SELECT pg_advisory_lock($1)"))
            .await?;
        tracing::info!(
            waited_ms = waited.elapsed().as_millis() as u64,
            "migration lock acquired"
        );
    }
    let applied = apply_pending(conn).await;
    let unlocked = conn
        .execute_raw(lock("SELECT pg_advisory_unlock($1)"))
        .await;
    applied?;
    unlocked?;
    Ok(())
}

/// Migrates a SQLite database. A file database is locked with an exclusive `flock` on a lock
/// file next to it (`<database>.migrate-lock`), which every process that can open the file can
/// also see; the lock is released when the file handle closes, so a crashed migrator never
/// leaves it held. An in-memory database is private to this process and uses a process mutex.
pub(crate) async fn sqlite(conn: &DatabaseConnection) -> Result<(), StoreError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?;
    let file = match row {
        Some(row) => row.try_get::<Option<String>>("", "file")?,
        None => None,
    };
    match file.filter(|f| !f.is_empty()) {
        Some(path) => {
            let _lock = lock_file(format!("{path}.migrate-lock")).await?;
            apply_pending(conn).await
        }
        None => {
            let _lock = IN_MEMORY_LOCK.lock().await;
            apply_pending(conn).await
        }
    }
}

/// Opens (creating it if needed) and exclusively locks `path`; the lock lasts as long as the
/// returned handle.
async fn lock_file(path: String) -> Result<std::fs::File, StoreError> {
    let failed = |e: std::io::Error| StoreError::Corrupt(format!("migration lock file: {e}"));
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::info!("waiting for the migration lock held by another process");
                let waited = Instant::now();
                file.lock().map_err(failed)?;
                tracing::info!(
                    waited_ms = waited.elapsed().as_millis() as u64,
                    "migration lock acquired"
                );
                Ok(file)
            }
            Err(std::fs::TryLockError::Error(e)) => Err(failed(e)),
        }
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("migration lock task: {e}")))?
}

/// Applies the pending migrations one at a time, logging each; call only under the lock.
async fn apply_pending(conn: &DatabaseConnection) -> Result<(), StoreError> {
    // Creates `seaql_migrations` if missing: under the lock, so two first starts cannot race.
    let pending: Vec<String> = Migrator::get_pending_migrations(conn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if pending.is_empty() {
        tracing::debug!("no pending migrations");
        return Ok(());
    }
    tracing::info!(
        count = pending.len(),
        migrations = %pending.join(", "),
        "applying pending migrations"
    );
    let total = Instant::now();
    for name in &pending {
        let started = Instant::now();
        tracing::info!(migration = %name, "migration started");
        // Applies the first pending migration, which is `name`: the list cannot change while
        // this migrator holds the lock.
        Migrator::up(conn, Some(1)).await.map_err(|e: DbErr| {
            tracing::error!(migration = %name, error = %e, "migration failed");
            e
        })?;
        tracing::info!(
            migration = %name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "migration finished"
        );
    }
    tracing::info!(
        count = pending.len(),
        elapsed_ms = total.elapsed().as_millis() as u64,
        "migrations applied"
    );
    Ok(())
}
