//! The janitor: every minute, deletes what has expired — SSO sessions, login-throttle rows,
//! authorization codes (kept an hour past expiry so a late replay still revokes what the code
//! issued, RFC 6749 §4.1.2), refresh tokens, token families, opaque access tokens, revoked JWT
//! ids, the DPoP replay cache (a proof past its age window is refused for its age anyway) and
//! pushed authorization requests (RFC 9126), and device codes (RFC 8628) past their expiry, and
//! back-channel logout notices a week after they were delivered or given up.
//! Every delete is idempotent and
//! indexed by expiry, so each node may run it; no lock is needed.

use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use tessera_authn::Authenticator;
use tessera_core::Clock;
use tessera_store::Store;

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
                match sweep(&store, &authn, Clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "janitor swept expired rows"),
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
