//! Cluster-wide singleton jobs: work that every node schedules but that must never run on two
//! nodes at once (the janitor's sweep of expired rows). On PostgreSQL the job holds a
//! transaction-level advisory lock (`pg_try_advisory_xact_lock`) for its whole run, so a node
//! that finds the lock taken skips its turn instead of waiting; the lock goes with the
//! transaction, also when the node dies mid-run. SQLite is one process's database (the CLI does
//! not run jobs), so the job just runs.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Store, StoreError};

/// Advisory-lock keys of the singleton jobs. Advisory locks share one key space per database,
/// so each key only has to differ from the others and from other applications' keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// The janitor's sweep of expired rows (`src/janitor.rs`).
    Janitor,
}

impl Job {
    /// The lock key: the ASCII bytes of "tessjan" and a zero byte (the migration lock's is
    /// "tessmigr").
    fn key(self) -> i64 {
        match self {
            Job::Janitor => 0x7465_7373_6a61_6e00,
        }
    }
}

/// Runs `work` unless another node is running `job` right now; `None` when it skipped.
///
/// The lock lives in a transaction opened here and committed after `work` ends; `work` itself
/// uses the pool as usual. That pins one pooled connection, idle in its transaction, for the
/// run. Should PostgreSQL end that session early (`idle_in_transaction_session_timeout`), the
/// lock is gone before `work` ends and another node may start; the janitor's deletes are
/// idempotent, so that costs only duplicated work, never a wrong result.
pub async fn run_alone<F, T, E>(store: &Store, job: Job, work: F) -> Result<Option<T>, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<StoreError>,
{
    if store.backend() != DbBackend::Postgres {
        return work.await.map(Some);
    }
    let txn = store.begin().await?;
    let locked = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [job.key().into()],
        ))
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| StoreError::Corrupt("pg_try_advisory_xact_lock returned no row".into()))?
        .try_get::<bool>("", "locked")
        .map_err(StoreError::from)?;
    if !locked {
        let _ = txn.rollback().await;
        return Ok(None);
    }
    let result = work.await;
    // Ending the transaction releases the lock; a failed commit has released it too.
    let _ = txn.commit().await;
    result.map(Some)
}
