//! The `TenantDirectory` actor: the single owner, per node, of keeping snapshots fresh. It tails
//! the change feed and evicts the snapshots of tenants that changed anywhere in the cluster, runs
//! scheduled key rotation, gives tenants the key rings they lack (tenants created before every
//! tenant kept an RS256 ring), and prunes old feed entries. On PostgreSQL it also `LISTEN`s on the
//! feed's channel and polls as soon as a change commits; the timed poll stays as the catch-up
//! after a lost connection. Request handlers never message it: they read the [`Directory`].

use std::time::{Duration, Instant};

use actix::prelude::*;
use tessera_core::Clock;
use tessera_store::{feed, revocations};

use crate::{Directory, FeedCursor, TenantAdmin};

/// Timing of the directory's background work.
#[derive(Clone, Debug)]
pub struct TenantDirectorySettings {
    /// How often to poll the change feed.
    pub feed_poll: Duration,
    /// How often to look for tenants whose keys are due for rotation or lack a key ring.
    pub rotation_check: Duration,
    /// How long feed entries are kept before pruning.
    pub feed_retention: Duration,
}

impl Default for TenantDirectorySettings {
    fn default() -> Self {
        Self {
            feed_poll: Duration::from_millis(250),
            rotation_check: Duration::from_secs(60),
            feed_retention: Duration::from_secs(3600),
        }
    }
}

/// Keeps one node's snapshots consistent with the database.
pub struct TenantDirectory {
    directory: Directory,
    admin: TenantAdmin,
    settings: TenantDirectorySettings,
    cursor: Option<FeedCursor>,
    polling: bool,
    /// A poll was asked for while one was in flight: run another when it ends.
    repoll: bool,
    rotating: bool,
    /// Rotation checks started so far (the missing-ring sweep runs on every
    /// [`RING_SWEEP_EVERY`]th, starting with the first).
    checks: u64,
}

/// The missing-ring sweep scans every tenant (it looks for the absence of a key), so it runs at
/// start and then on every 10th rotation check (10 minutes by default), not on every one:
/// tenants lack a ring only after an upgrade, or when an older node made them during a rolling one.
const RING_SWEEP_EVERY: u64 = 10;

impl TenantDirectory {
    /// A directory actor over `admin`'s store and `directory`'s cache.
    pub fn new(admin: TenantAdmin, settings: TenantDirectorySettings) -> Self {
        Self {
            directory: admin.directory().clone(),
            admin,
            settings,
            cursor: None,
            polling: false,
            repoll: false,
            rotating: false,
            checks: 0,
        }
    }

    fn poll_feed(&mut self, ctx: &mut Context<Self>) {
        if self.polling {
            self.repoll = true;
            return;
        }
        self.polling = true;
        self.repoll = false;
        let store = self.directory.store().clone();
        let floor = self.cursor.as_ref().map(FeedCursor::floor);
        let fut = async move {
            match floor {
                None => feed::head(store.conn())
                    .await
                    .map(|head| (Some(head), vec![])),
                Some(floor) => feed::since(store.conn(), floor, 1000)
                    .await
                    .map(|batch| (None, batch)),
            }
        };
        ctx.spawn(detached(fut).into_actor(self).map(|result, act, ctx| {
            act.polling = false;
            let Some(result) = result else {
                return;
            };
            match result {
                Ok((Some(head), _)) => {
                    // Whatever changed before we started is already reflected: the cache starts empty.
                    act.cursor = Some(FeedCursor::at(head));
                    act.directory.invalidate_all();
                }
                Ok((None, batch)) => {
                    let fresh = match act.cursor.as_mut() {
                        Some(cursor) => cursor.accept(batch, Instant::now()),
                        None => vec![],
                    };
                    for change in fresh {
                        // Tokens revoked at some node: only the token caches are stale.
                        if change.what == revocations::FEED_WHAT {
                            if let Some(tenant) = change.tenant_id {
                                revocations::bump(tenant);
                            }
                            continue;
                        }
                        match change.tenant_slug.as_deref() {
                            Some(slug) => act.directory.invalidate(slug),
                            None => act.directory.invalidate_all(),
                        }
                        tracing::debug!(seq = change.seq, tenant = ?change.tenant_slug, what = %change.what, "snapshot invalidated");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "change feed poll failed"),
            }
            if act.repoll {
                act.poll_feed(ctx);
            }
        }));
    }

    fn rotate_due(&mut self, ctx: &mut Context<Self>) {
        if self.rotating {
            return;
        }
        self.rotating = true;
        let sweep_rings = self.checks.is_multiple_of(RING_SWEEP_EVERY);
        self.checks += 1;
        let admin = self.admin.clone();
        let retention = self.settings.feed_retention.as_secs() as i64;
        let fut = async move {
            // Upgrade in place: a tenant created before it kept an RS256 ring (or by an older
            // node during a rolling upgrade) gets it here, before any rotation.
            if sweep_rings {
                match admin.upgrade_key_rings().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(tenants = n, "added missing signing key rings"),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for tenants lacking a key ring")
                    }
                }
            }
            match admin.due_for_rotation(100).await {
                Ok(due) => {
                    for tenant in due {
                        match admin.rotate(&tenant).await {
                            Ok(Some(rotations)) => {
                                record_rotation(admin.store(), &tenant, &rotations).await
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(tenant = %tenant.slug, error = %e, "scheduled key rotation failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not list tenants due for key rotation"),
            }
            if let Err(e) = feed::prune(admin.store().conn(), Clock.now() - retention).await {
                tracing::warn!(error = %e, "change feed prune failed");
            }
        };
        ctx.spawn(
            detached(fut)
                .into_actor(self)
                .map(|_, act, _| act.rotating = false),
        );
    }
}

/// Records the scheduled rotation of a tenant's keys (`key.rotated`, actor `system`).
async fn record_rotation(
    store: &tessera_store::Store,
    tenant: &tessera_store::TenantRecord,
    rotations: &[tessera_keys::Rotation],
) {
    let event = tessera_store::AuditEventRecord::new(tenant.id, "key.rotated", "system")
        .details(serde_json::json!({ "scheduled": true, "rings": rotations }));
    tessera_store::audit::record(store.conn(), event).await;
}

/// Runs `fut` as a task of the Tokio runtime rather than inside the actor. When the system stops
/// with a query in flight, the actor's future (only a join handle) is dropped wherever actix
/// drops it, while the query itself, holding a pooled connection, is dropped by the runtime
/// inside its own context, where the pool can take the connection back. (Dropping a checked-out
/// connection outside a Tokio context panics, and during teardown that aborts the process.)
/// `None` when the task did not finish (the runtime is shutting down).
pub(crate) async fn detached<F>(fut: F) -> Option<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut).await.ok()
}

/// Poll the change feed now (sent by the PostgreSQL listener).
#[derive(Message)]
#[rtype(result = "()")]
struct PollNow;

impl Handler<PollNow> for TenantDirectory {
    type Result = ();

    fn handle(&mut self, _: PollNow, ctx: &mut Context<Self>) {
        self.poll_feed(ctx);
    }
}

/// Forwards every `NOTIFY` on the feed channel to the actor until the actor is gone. It runs on a
/// thread of its own with its own runtime: sqlx's listener spawns a task when dropped, which must
/// happen inside a live runtime, and the server's runtime may already be shutting down by then.
fn spawn_listener(url: String, addr: Addr<TenantDirectory>) {
    let spawned = std::thread::Builder::new()
        .name("feed-listener".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(listen(url, addr)),
                Err(e) => {
                    tracing::warn!(error = %e, "change feed listener has no runtime; polling only")
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "change feed listener thread failed to start; polling only");
    }
}

async fn listen(url: String, addr: Addr<TenantDirectory>) {
    use sea_orm::sqlx::postgres::PgListener;
    while addr.connected() {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(feed::NOTIFY_CHANNEL).await {
                Ok(()) => {
                    // A change may have committed while we were not listening.
                    addr.do_send(PollNow);
                    while addr.connected() {
                        match tokio::time::timeout(Duration::from_secs(1), listener.recv()).await {
                            Ok(Ok(_)) => addr.do_send(PollNow),
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "change feed listener lost its connection");
                                break;
                            }
                            Err(_) => {} // quiet second: check the actor is still there
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "LISTEN on the change feed failed"),
            },
            Err(e) => tracing::warn!(error = %e, "change feed listener could not connect"),
        }
        if addr.connected() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

impl Actor for TenantDirectory {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.poll_feed(ctx);
        if let Some(url) = self.directory.store().postgres_url() {
            spawn_listener(url.to_owned(), ctx.address());
        }
        ctx.run_interval(self.settings.feed_poll, Self::poll_feed);
        ctx.run_interval(self.settings.rotation_check, Self::rotate_due);
        // Once at start too, so missing key rings are added without waiting for the first tick.
        self.rotate_due(ctx);
    }
}
