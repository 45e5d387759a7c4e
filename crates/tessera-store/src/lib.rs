//! Persistence for Tessera: sea-orm entities and the tenant-scoped repositories over them, on
//! SQLite (embedded default) or PostgreSQL, with the same migrations. Repositories take a
//! [`TenantId`](tessera_core::TenantId) for every tenant-owned row and hand out typed records,
//! never entity models. They are free functions over any `ConnectionTrait`, so one transaction
//! can span several of them.

mod entity;
mod migrate_lock;

pub mod access_tokens;
pub mod account_links;
pub mod audit;
pub mod clients;
pub mod codes;
pub mod device_codes;
pub mod domains;
pub mod ephemeral;
pub mod families;
pub mod feed;
pub mod grants;
pub mod keys;
pub mod logout_outbox;
pub mod mail_outbox;
pub mod mfa;
pub mod passkeys;
pub mod pushed_requests;
pub mod records;
pub mod refresh;
pub mod registration;
pub mod replay;
pub mod resource_servers;
pub mod revocations;
pub mod scopes;
pub mod sessions;
pub mod singleton;
pub mod templates;
pub mod tenants;
pub mod throttle;
pub mod users;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, SqlErr,
    TransactionTrait,
};

pub use ephemeral::{Ephemeral, RedisCache};
pub use records::*;
pub use sea_orm::{DatabaseTransaction, TransactionTrait as Transactions};

/// Failures of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row matched.
    #[error("not found")]
    NotFound,
    /// A unique key is already taken.
    #[error("already exists")]
    Conflict,
    /// A stored value does not parse into its typed form.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error(transparent)]
    Database(DbErr),
    /// Redis (the optional shared cache, [`RedisCache`]) is unreachable or failed a command.
    #[error("the shared cache (Redis) is unavailable: {0}")]
    CacheUnavailable(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            _ => StoreError::Database(err),
        }
    }
}

impl StoreError {
    /// Whether the failure is the database (or Redis) being unreachable rather than a bad
    /// request: no connection to be had, a connection that broke mid-query, or the server
    /// refusing work while it shuts down or starts (SQLSTATE classes 08 "connection exception"
    /// and 57 "operator intervention", e.g. `57P01` when PostgreSQL is stopped under a running
    /// query).
    /// Every Redis failure counts: the commands are well-formed, so an error means Redis is
    /// down, restarting, out of memory or too slow.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::sqlx::Error as Sqlx;
        let err = match self {
            StoreError::Database(err) => err,
            StoreError::CacheUnavailable(_) => return true,
            _ => return false,
        };
        let runtime = match err {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => return true,
            DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
            _ => return false,
        };
        let sea_orm::RuntimeErr::SqlxError(sqlx) = runtime else {
            return false;
        };
        match &**sqlx {
            Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed => true,
            Sqlx::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
            _ => false,
        }
    }
}

/// Pool settings for [`Store::connect`].
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A pooled database connection; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite file databases only: a one-connection pool that every transaction runs on. SQLite
    /// admits one writer at a time and makes the others sleep in its busy handler (1, 2, 5, 10 ms
    /// …); queueing transactions on this pool instead wakes the next one the moment the previous
    /// commits. PostgreSQL (row locks, MVCC) and in-memory databases use the main pool.
    writer: Option<DatabaseConnection>,
    /// SQLite file databases only: the thread that runs [`Store::write`] transactions, so each
    /// step of a transaction holding the one writer connection continues at once instead of
    /// waiting its turn behind HTTP work on a busy worker thread.
    writer_thread: Option<std::sync::Arc<WriterThread>>,
    /// The URL it was opened with (may hold a password: never log it).
    url: std::sync::Arc<str>,
    /// Recently read active opaque tokens ([`access_tokens::find_live`]).
    active_tokens: std::sync::Arc<access_tokens::ActiveTokenCache>,
    /// Redis for the replay cache and throttling counters, when `redis.url` is configured.
    redis: Option<RedisCache>,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`). SQLite runs in WAL mode with
    /// a busy timeout and foreign keys on.
    pub async fn connect(url: &str, pool: &PoolSettings) -> Result<Self, StoreError> {
        let options = |max: u32| {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(max)
                .min_connections(1)
                .acquire_timeout(pool.acquire_timeout)
                .connect_timeout(pool.acquire_timeout)
                // No ping before every checkout (a round trip per query); a connection that
                // died is found by the query itself, answered 503, and dropped by the pool.
                .test_before_acquire(false)
                .sqlx_logging(false)
                .map_sqlx_sqlite_opts(|o| {
                    // WAL with synchronous=NORMAL: a commit appends to the WAL without an fsync
                    // (checkpoints still sync). The database cannot be corrupted; a power cut
                    // (not a process crash) may lose the last transactions. That is SQLite's
                    // recommended setting for WAL; PostgreSQL is the durable production store.
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                        .create_if_missing(true)
                });
            opts
        };
        let db = Database::connect(options(pool.max_connections)).await?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if db.get_database_backend() == DatabaseBackend::Sqlite && !in_memory {
            Some(Database::connect(options(1)).await?)
        } else {
            None
        };
        let writer_thread = match writer {
            Some(_) => Some(std::sync::Arc::new(WriterThread::start()?)),
            None => None,
        };
        Ok(Self {
            db,
            writer,
            writer_thread,
            url: url.into(),
            active_tokens: std::sync::Arc::new(access_tokens::ActiveTokenCache::new(
                access_tokens::CACHE_ENTRIES,
            )),
            redis: None,
        })
    }

    /// Keeps the replay cache and the throttling counters in `redis` instead of the database.
    pub fn with_redis(mut self, redis: RedisCache) -> Self {
        self.redis = Some(redis);
        self
    }

    /// Redis, when configured ([`Store::with_redis`]).
    pub fn redis(&self) -> Option<&RedisCache> {
        self.redis.as_ref()
    }

    /// Where the replay cache and the throttling counters live: Redis when configured,
    /// otherwise the database.
    pub fn ephemeral(&self) -> Ephemeral<'_> {
        match &self.redis {
            Some(redis) => Ephemeral::Redis(redis),
            None => Ephemeral::Database(self),
        }
    }

    /// Applies every pending migration, once per cluster: concurrent callers (other nodes,
    /// other processes on the same SQLite file) wait for the one holding the migration lock,
    /// then find nothing pending. Logs the pending migrations and each one's elapsed time.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend() {
            DatabaseBackend::Postgres => migrate_lock::postgres(&self.url).await,
            _ => migrate_lock::sqlite(&self.db).await,
        }
    }

    /// Runs a trivial query: the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// This node's cache of active opaque tokens.
    pub fn active_tokens(&self) -> &access_tokens::ActiveTokenCache {
        &self.active_tokens
    }

    /// The pooled connection, for repository calls outside a transaction.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a transaction (on SQLite files, on the single writer connection: transactions
    /// queue in the pool instead of sleeping on SQLite's lock). Never begin a second transaction
    /// while holding one.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(self.writer.as_ref().unwrap_or(&self.db).begin().await?)
    }

    /// Runs `work` — typically one short write transaction begun with [`Store::begin`] — on
    /// SQLite's writer thread, or in place on PostgreSQL (which has no single writer).
    pub async fn write<F, T>(&self, work: F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer_thread {
            Some(thread) => thread
                .handle
                .spawn(work)
                .await
                .map_err(|_| StoreError::Corrupt("the SQLite writer thread stopped".into()))?,
            None => work.await,
        }
    }

    /// Which database engine is behind the pool.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// The PostgreSQL URL, for a dedicated `LISTEN` connection (None on SQLite).
    pub fn postgres_url(&self) -> Option<&str> {
        (self.backend() == DatabaseBackend::Postgres).then_some(&*self.url)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(self) -> Result<(), StoreError> {
        if let Some(writer) = self.writer {
            writer.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }
}

/// A thread with its own single-threaded Tokio runtime; it stops when the last [`Store`] clone
/// is dropped.
#[derive(Debug)]
struct WriterThread {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    fn start() -> Result<Self, StoreError> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let failed =
            |e: std::io::Error| StoreError::Corrupt(format!("starting the SQLite writer: {e}"));
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(_) => return,
                };
                if handle_tx.send(runtime.handle().clone()).is_ok() {
                    runtime.block_on(async {
                        let _ = stop_rx.await;
                    });
                }
            })
            .map_err(failed)?;
        let handle = handle_rx
            .recv()
            .map_err(|_| StoreError::Corrupt("the SQLite writer runtime did not start".into()))?;
        Ok(Self {
            handle,
            _stop: stop_tx,
        })
    }
}

/// Whether `conn` is PostgreSQL (used for `pg_notify` and advisory locks).
pub fn is_postgres<C: ConnectionTrait>(conn: &C) -> bool {
    conn.get_database_backend() == DatabaseBackend::Postgres
}

/// The row a primary- or unique-key `select` matches, if any. Unlike sea-orm's `.one()` it adds
/// no `LIMIT ?`: SQLite re-plans a prepared statement whose `LIMIT` is a bound parameter on every
/// execution, which cost about a quarter of the server's CPU on the introspection path.
pub(crate) async fn one_by_key<E, C>(
    db: &C,
    select: sea_orm::Select<E>,
) -> Result<Option<E::Model>, DbErr>
where
    E: sea_orm::EntityTrait,
    C: ConnectionTrait,
{
    Ok(select.all(db).await?.into_iter().next())
}

/// A case-insensitive prefix `LIKE` pattern for a search text (compare it with a lowercased
/// column): `%`, `_` and `\` in the text match themselves.
pub(crate) fn prefix_pattern(search: &str) -> sea_orm::sea_query::LikeExpr {
    exact_prefix_pattern(&search.to_lowercase())
}

/// The `LIKE` pattern of the strings starting with `prefix` exactly (case kept), with `%`, `_`
/// and `\` escaped. `LIKE` compares characters, whatever the column's collation, where a range
/// (`>= prefix AND < next`) would follow the collation's order, in which punctuation may be
/// ignored (glibc `en_US`), and miss rows.
pub(crate) fn exact_prefix_pattern(prefix: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    sea_orm::sea_query::LikeExpr::new(format!("{escaped}%")).escape('\\')
}

/// `Ok` when a statement touched a row, [`StoreError::NotFound`] when it touched none.
pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn parse_json_list<T: serde::de::DeserializeOwned>(
    column: &str,
    raw: &str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn parse_enum<T: std::str::FromStr<Err = tessera_core::UnknownValue>>(
    raw: &str,
) -> Result<T, StoreError> {
    raw.parse()
        .map_err(|e: tessera_core::UnknownValue| StoreError::Corrupt(e.to_string()))
}
