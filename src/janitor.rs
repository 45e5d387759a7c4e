//! The janitor: every minute, deletes what has expired — SSO sessions, login-throttle rows,
//! authorization codes (kept an hour past expiry so a late replay still revokes what the code
//! issued, RFC 6749 §4.1.2), refresh tokens, token families, opaque access tokens, revoked JWT
//! ids, the DPoP replay cache (a proof past its age window is refused for its age anyway) and
//! pushed authorization requests (RFC 9126), and device codes (RFC 8628) past their expiry, and
//! back-channel logout notices a week after they were delivered or given up, and each
//! tenant's audit events past its `audit.retention_days`.
//! Every node schedules the sweep, but it runs on one node at a time: on PostgreSQL it holds a
//! cluster-wide advisory lock for the whole sweep and a node that finds it taken skips its turn
//! ([`tessera_store::singleton::run_alone`]). Every delete is idempotent and indexed by expiry,
//! so a sweep that overlaps another (a lost lock) only repeats work. With `redis.url` set, the
//! replay cache and the throttling counters live in Redis and expire there by themselves: the
//! janitor does nothing for them (its sweep of their tables then only finds rows left from
//! before Redis was configured).

use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use tessera_authn::Authenticator;
use tessera_core::Clock;
use tessera_store::Store;
use tessera_store::singleton::{Job, run_alone};

/// How long a code is kept past its expiry for replay detection, seconds.
const CODE_RETENTION_SECS: i64 = 3600;

/// How long a delivered or given-up back-channel logout notice is kept, seconds.
const LOGOUT_RETENTION_SECS: i64 = 7 * 86_400;

/// The periodic cleanup actor.
pub struct Janitor {
    store: Store,
    authn: Authenticator,
    every: Duration,
}

impl Janitor {
    /// A janitor that runs every `every`.
    pub fn new(store: Store, authn: Authenticator, every: Duration) -> Self {
        Self {
            store,
            authn,
            every,
        }
    }
}

/// One sweep; returns the rows removed.
pub async fn sweep(store: &Store, authn: &Authenticator, now: i64) -> anyhow::Result<u64> {
    let db = store.conn();
    let mut removed = authn.prune(now).await?;
    removed += tessera_store::codes::delete_expired(db, now - CODE_RETENTION_SECS).await?;
    removed += tessera_store::refresh::delete_expired(db, now).await?;
    removed += tessera_store::families::delete_expired(db, now).await?;
    removed += tessera_store::access_tokens::delete_expired(db, now).await?;
    removed += tessera_store::replay::delete_expired(db, now).await?;
    removed += tessera_store::device_codes::delete_expired(db, now).await?;
    removed += tessera_store::pushed_requests::delete_expired(db, now).await?;
    // Dead account links are kept a day, so a late click still finds "expired" not "unknown".
    removed += tessera_store::account_links::prune(db, now - 86_400).await?;
    removed +=
        tessera_store::logout_outbox::delete_settled(db, now - LOGOUT_RETENTION_SECS).await?;
    removed += prune_audit_log(store, now).await?;
    Ok(removed)
}

/// Tenants read at a time by [`prune_audit_log`].
const AUDIT_TENANT_PAGE: u64 = 200;
/// Audit events deleted per statement.
const AUDIT_BATCH: u64 = 1000;
/// Batches per tenant and sweep; what is left goes in the next sweep.
const AUDIT_BATCHES_PER_SWEEP: u32 = 10;

/// Deletes each tenant's audit events older than its `audit.retention_days`, in bounded
/// batches (at most [`AUDIT_BATCHES_PER_SWEEP`] × [`AUDIT_BATCH`] per tenant and sweep);
/// returns the events removed.
pub async fn prune_audit_log(store: &Store, now: i64) -> anyhow::Result<u64> {
    let db = store.conn();
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let tenants =
            tessera_store::tenants::list(db, after.as_deref(), None, AUDIT_TENANT_PAGE).await?;
        for tenant in &tenants {
            let days = i64::from(tenant.settings.audit.retention_days.max(1));
            let cutoff = now.saturating_sub(days.saturating_mul(86_400));
            for _ in 0..AUDIT_BATCHES_PER_SWEEP {
                let n = tessera_store::audit::delete_older_than(db, tenant.id, cutoff, AUDIT_BATCH)
                    .await?;
                removed += n;
                if n < AUDIT_BATCH {
                    break;
                }
            }
        }
        match tenants.last() {
            Some(last) if u64::try_from(tenants.len()).is_ok_and(|n| n == AUDIT_TENANT_PAGE) => {
                after = Some(last.slug.to_string());
            }
            _ => break,
        }
    }
    Ok(removed)
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |this, ctx| {
            let store = this.store.clone();
            let authn = this.authn.clone();
            // On the runtime, not in the actor: see `TenantDirectory`'s `detached` for why.
            let task = tokio::spawn(async move {
                let work = sweep(&store, &authn, Clock.now());
                match run_alone(&store, Job::Janitor, work).await {
                    Ok(None) => tracing::debug!("another node is sweeping; skipped"),
                    Ok(Some(0)) => {}
                    Ok(Some(n)) => tracing::debug!(removed = n, "janitor swept expired rows"),
                    Err(e) => tracing::warn!(error = %e, "janitor sweep failed"),
                }
            });
            ctx.spawn(
                async move {
                    let _ = task.await;
                }
                .into_actor(this),
            );
        });
    }
}
