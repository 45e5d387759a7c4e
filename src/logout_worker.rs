//! The back-channel logout worker (OpenID Connect Back-Channel Logout 1.0 §2.5): on every node,
//! every `logout.poll_interval_ms`, claims the due notices of the logout outbox (on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`, so two nodes never send the same one), signs a fresh logout token
//! for each, POSTs it to the client's `backchannel_logout_uri`, and records the outcome: delivered,
//! retried later with exponential backoff, or given up after `logout.max_attempts`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};
use tessera_core::Clock;
use tessera_store::logout_outbox::{self, DELIVERED, GIVEN_UP, LogoutNoticeRecord, PENDING};
use tessera_store::{Store, tenants};
use tessera_tenants::Directory;
use tessera_tokens::logout::{LogoutDelivery, logout_token, retry_delay};

use crate::settings::LogoutSettings;

/// Notices claimed per round.
const BATCH: u64 = 32;

/// The delivery actor.
pub struct LogoutWorker {
    store: Store,
    directory: Directory,
    delivery: LogoutDelivery,
    settings: LogoutSettings,
    busy: Arc<AtomicBool>,
}

impl LogoutWorker {
    /// A worker delivering with `settings`.
    pub fn new(
        store: Store,
        directory: Directory,
        settings: LogoutSettings,
    ) -> anyhow::Result<Self> {
        let delivery = LogoutDelivery::new(Duration::from_secs(settings.timeout_secs.max(1)))?;
        Ok(Self {
            store,
            directory,
            delivery,
            settings,
            busy: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Actor for LogoutWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        ctx.run_interval(every, |this, _ctx| {
            // One round at a time per node; a round still running skips this tick.
            if this.busy.swap(true, Ordering::AcqRel) {
                return;
            }
            let round = Round {
                store: this.store.clone(),
                directory: this.directory.clone(),
                delivery: this.delivery.clone(),
                settings: this.settings.clone(),
            };
            let busy = Arc::clone(&this.busy);
            // On the runtime, not in the actor: see `TenantDirectory`'s `detached` for why.
            tokio::spawn(async move {
                if let Err(e) = round.run().await {
                    tracing::warn!(error = %e, "logout delivery round failed");
                }
                busy.store(false, Ordering::Release);
            });
        });
    }
}

/// What one round needs.
#[derive(Clone)]
struct Round {
    store: Store,
    directory: Directory,
    delivery: LogoutDelivery,
    settings: LogoutSettings,
}

impl Round {
    /// Claims the due notices and delivers them concurrently.
    async fn run(self) -> anyhow::Result<()> {
        let now = Clock.now();
        // The lease outlasts one attempt, so a claimed notice is not claimed again meanwhile;
        // if this node dies, another picks it up when the lease ends.
        let lease = i64::try_from(self.settings.timeout_secs).unwrap_or(5) * 2 + 30;
        let notices = logout_outbox::claim_due(self.store.conn(), now, now + lease, BATCH).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for notice in notices {
            let round = self.clone();
            tasks.spawn(async move { round.attempt(notice).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "recording a logout delivery failed");
            }
        }
        Ok(())
    }

    /// One delivery attempt of one notice, and its outcome recorded.
    async fn attempt(&self, notice: LogoutNoticeRecord) -> anyhow::Result<()> {
        let attempts = notice.attempts.saturating_add(1);
        let outcome = self.send(&notice).await;
        let now = Clock.now();
        let (state, next) = match outcome {
            Ok(()) => {
                tracing::info!(tenant = %notice.tenant_id, client = %notice.client_id, attempts, "back-channel logout delivered");
                (DELIVERED, now)
            }
            Err(Failure::Permanent(why)) => {
                tracing::warn!(tenant = %notice.tenant_id, client = %notice.client_id, why, "back-channel logout dropped");
                (GIVEN_UP, now)
            }
            Err(Failure::Retry(why)) if attempts >= self.settings.max_attempts.max(1) => {
                tracing::warn!(tenant = %notice.tenant_id, client = %notice.client_id, attempts, error = %why, "back-channel logout given up");
                (GIVEN_UP, now)
            }
            Err(Failure::Retry(why)) => {
                let delay = retry_delay(self.settings.retry_base_secs, attempts);
                tracing::info!(tenant = %notice.tenant_id, client = %notice.client_id, attempts, retry_in = delay, error = %why, "back-channel logout failed; will retry");
                (PENDING, now + delay)
            }
        };
        logout_outbox::record_attempt(
            self.store.conn(),
            notice.tenant_id,
            notice.id,
            state,
            attempts,
            next,
            now,
        )
        .await?;
        Ok(())
    }

    /// Signs a fresh logout token and POSTs it.
    async fn send(&self, notice: &LogoutNoticeRecord) -> Result<(), Failure> {
        let retry = |e: &dyn std::fmt::Display| Failure::Retry(e.to_string());
        let Some(tenant) = tenants::find_by_id(self.store.conn(), notice.tenant_id)
            .await
            .map_err(|e| retry(&e))?
        else {
            return Err(Failure::Permanent("the tenant is gone"));
        };
        let Some(snapshot) = self
            .directory
            .resolve(tenant.slug.as_ref())
            .await
            .map_err(|e| retry(&e))?
        else {
            return Err(Failure::Permanent("the tenant is gone"));
        };
        let Some(client) = snapshot.client(&notice.client_id).cloned() else {
            return Err(Failure::Permanent("the client is gone"));
        };
        let Some(uri) = client.options.backchannel_logout_uri.clone() else {
            return Err(Failure::Permanent(
                "the client no longer has a backchannel_logout_uri",
            ));
        };
        let Ok(user) = notice.subject.parse::<tessera_core::UserId>() else {
            return Err(Failure::Permanent("the notice names no user"));
        };
        let sid = notice.sid.clone();
        // RSA signing is CPU-bound: off the reactor.
        let token = tokio::task::spawn_blocking(move || {
            logout_token(&snapshot, &client, user, sid.as_deref(), Clock.now())
        })
        .await
        .map_err(|e| retry(&e))?
        .map_err(|_| Failure::Permanent("no logout token can be signed for this client"))?;
        self.delivery
            .deliver(&uri, &token)
            .await
            .map_err(|e| retry(&e))
    }
}

/// Why an attempt failed.
enum Failure {
    /// Worth another attempt later.
    Retry(String),
    /// Nothing to deliver any more.
    Permanent(&'static str),
}
