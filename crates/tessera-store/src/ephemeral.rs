//! Short-lived values every node must see at once: the replay cache of one-time proof and
//! assertion ids (RFC 9449 §11.1, RFC 7523 §3, spent passkey ceremonies) and the counters of
//! failed sign-ins and fixed-window quotas. They live in the database ([`replay`],
//! [`throttle`]) or, when `redis.url` is configured, in Redis, where they expire by themselves.
//! Callers use [`Store::ephemeral`] and do not care which.
//!
//! Redis keys are `{prefix}:replay:{tenant}:{key}` and `{prefix}:throttle:{tenant}:{key}`; a
//! counter is stored as `v1|failures|window_started_at|locked_until|updated_at` (`locked_until`
//! empty when there is no lock). Keys hold proof ids and usernames: they are never logged.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use sea_orm::ConnectionTrait;
use tessera_core::TenantId;

use crate::{Store, StoreError, ThrottleRecord, replay, throttle};

/// How long a Redis command (or a connection attempt) may take before the request is answered
/// 503: a hung Redis must not hang sign-ins.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Re-reads of a counter that concurrent writers keep changing before a forgive gives up.
const CAS_ATTEMPTS: usize = 8;

/// How long a counter outlives the moment it stops mattering, seconds (clock skew between
/// nodes; the decision itself never depends on the key being gone).
const COUNTER_MARGIN_SECS: i64 = 60;

/// Writes `ARGV[2]` with expiry `ARGV[3]` (Unix seconds) if the key still holds `ARGV[1]`
/// (`""`: is still absent); 1 when written. One script, so two nodes cannot both win.
const COMPARE_AND_SET: &str = r"
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EXAT', ARGV[3])
  return 1
end
return 0
";

/// As [`COMPARE_AND_SET`] but keeps the key's expiry (a forgiven attempt does not extend it).
const COMPARE_AND_SET_KEEP_TTL: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur ~= false and cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
";

/// Where the replay cache and the throttling counters live: borrow it with [`Store::ephemeral`].
#[derive(Clone, Copy, Debug)]
pub enum Ephemeral<'a> {
    /// The `replay_cache` and `login_throttle` tables; the janitor deletes expired rows.
    Database(&'a Store),
    /// Redis (`redis.url`): keys expire by themselves.
    Redis(&'a RedisCache),
}

impl Ephemeral<'_> {
    /// Remembers `key` until `expires_at`; `false` when it was already remembered (a replay).
    /// Atomic on either backend: of two nodes seeing the same value at once exactly one gets
    /// `true`. On SQLite files the insert runs on the writer thread ([`Store::write`]).
    pub async fn remember(
        &self,
        tenant: TenantId,
        key: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Ephemeral::Database(store) => {
                let work = {
                    let store = (*store).clone();
                    let key = key.to_owned();
                    async move { replay::remember(store.conn(), tenant, &key, expires_at).await }
                };
                store.write(work).await
            }
            Ephemeral::Redis(redis) => redis.remember(tenant, key, expires_at).await,
        }
    }

    /// The counter of one throttle key.
    pub async fn find_counter(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<ThrottleRecord>, StoreError> {
        match self {
            Ephemeral::Database(store) => throttle::find(store.conn(), tenant, key).await,
            Ephemeral::Redis(redis) => redis.find_counter(tenant, key).await,
        }
    }

    /// Writes `new` if the counter is still `old` (`None`: still absent); `false` means a
    /// concurrent attempt changed it first and the caller should re-read. `keep_until` is when
    /// the counter stops mattering (its window's end or its lock's end, whichever is later):
    /// Redis expires it then; in the database the janitor decides by the tenant's policy.
    pub async fn compare_and_set_counter(
        &self,
        old: Option<&ThrottleRecord>,
        new: &ThrottleRecord,
        keep_until: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Ephemeral::Database(store) => throttle::compare_and_set(store.conn(), old, new).await,
            Ephemeral::Redis(redis) => redis.compare_and_set(old, new, keep_until).await,
        }
    }

    /// Takes back one counted attempt (never below zero), and lifts the lock ending at
    /// `lifted_lock` if that attempt set it.
    pub async fn forgive_one(
        &self,
        tenant: TenantId,
        key: &str,
        lifted_lock: Option<i64>,
    ) -> Result<(), StoreError> {
        match self {
            Ephemeral::Database(store) => {
                throttle::forgive_one(store.conn(), tenant, key, lifted_lock).await
            }
            Ephemeral::Redis(redis) => redis.forgive_one(tenant, key, lifted_lock).await,
        }
    }

    /// Deletes the counter of one key (a successful sign-in clears its account).
    pub async fn delete_counter(&self, tenant: TenantId, key: &str) -> Result<(), StoreError> {
        match self {
            Ephemeral::Database(store) => throttle::delete(store.conn(), tenant, key).await,
            Ephemeral::Redis(redis) => redis.delete_counter(tenant, key).await.map(|_| ()),
        }
    }

    /// Deletes the counter of one key as part of the transaction `txn` (an admin unlock, a
    /// password reset); returns whether there was one. With Redis the key is deleted at once,
    /// before `txn` commits: should the transaction then fail, the counter is gone while the
    /// rest is not, which only spares the user the wait the caller meant to lift anyway. Done
    /// after the commit instead, a Redis failure would leave a committed (and audited) unlock
    /// with the account still locked out by its counter.
    pub async fn clear_counter_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        tenant: TenantId,
        key: &str,
    ) -> Result<bool, StoreError> {
        match self {
            Ephemeral::Database(_) => {
                let existed = throttle::find(txn, tenant, key).await?.is_some();
                throttle::delete(txn, tenant, key).await?;
                Ok(existed)
            }
            Ephemeral::Redis(redis) => redis.delete_counter(tenant, key).await,
        }
    }
}

/// A connection to Redis for the [`Ephemeral`] values; cheap to clone. It reconnects by itself
/// after Redis restarts; meanwhile every call fails with an unavailable [`StoreError`].
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: Arc<str>,
    compare_and_set: Arc<Script>,
    compare_and_set_keep_ttl: Arc<Script>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(err: redis::RedisError) -> StoreError {
    StoreError::CacheUnavailable(err.to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An expiry Redis accepts and that lies in the future: at least a second from now.
fn expiry(at: i64) -> i64 {
    at.max(unix_now().saturating_add(1))
}

fn encode(r: &ThrottleRecord) -> String {
    let locked = r.locked_until.map(|t| t.to_string()).unwrap_or_default();
    format!(
        "v1|{}|{}|{locked}|{}",
        r.failures, r.window_started_at, r.updated_at
    )
}

fn decode(tenant: TenantId, key: &str, raw: &str) -> Result<ThrottleRecord, StoreError> {
    let corrupt = || StoreError::Corrupt("a throttle counter in Redis".to_owned());
    let mut parts = raw.split('|');
    if parts.next() != Some("v1") {
        return Err(corrupt());
    }
    let mut next = || parts.next().ok_or_else(corrupt);
    let failures = next()?.parse().map_err(|_| corrupt())?;
    let window_started_at = next()?.parse().map_err(|_| corrupt())?;
    let locked_until = match next()? {
        "" => None,
        t => Some(t.parse().map_err(|_| corrupt())?),
    };
    let updated_at = next()?.parse().map_err(|_| corrupt())?;
    if parts.next().is_some() {
        return Err(corrupt());
    }
    Ok(ThrottleRecord {
        tenant_id: tenant,
        key: key.to_owned(),
        failures,
        window_started_at,
        locked_until,
        updated_at,
    })
}

impl RedisCache {
    /// Connects to `url` (`redis://[:password@]host:port/db`) and checks it with `PING`; keys
    /// start with `prefix:`. The error never repeats the URL (it may hold a password).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::CacheUnavailable(format!("redis.url is not a Redis URL ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2);
        // Bounded as a whole: the handshake after the TCP connect must not hang either.
        let connecting = ConnectionManager::new_with_config(client, config);
        let conn = tokio::time::timeout(REDIS_TIMEOUT * 3, connecting)
            .await
            .map_err(|_| StoreError::CacheUnavailable("connecting to Redis timed out".into()))?
            .map_err(unavailable)?;
        let cache = Self {
            conn,
            prefix: prefix.into(),
            compare_and_set: Arc::new(Script::new(COMPARE_AND_SET)),
            compare_and_set_keep_ttl: Arc::new(Script::new(COMPARE_AND_SET_KEEP_TTL)),
        };
        cache.ping().await?;
        Ok(cache)
    }

    /// `PING`: the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The key prefix (`redis.prefix`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of a replay-cache entry.
    pub fn replay_key(&self, tenant: TenantId, key: &str) -> String {
        format!("{}:replay:{tenant}:{key}", self.prefix)
    }

    /// The Redis key of a throttle counter.
    pub fn counter_key(&self, tenant: TenantId, key: &str) -> String {
        format!("{}:throttle:{tenant}:{key}", self.prefix)
    }

    async fn remember(
        &self,
        tenant: TenantId,
        key: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        // SET NX: set only when absent, so exactly one caller sees "OK".
        let set: Option<String> = redis::cmd("SET")
            .arg(self.replay_key(tenant, key))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expiry(expires_at))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn find_counter(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<ThrottleRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn
            .get(self.counter_key(tenant, key))
            .await
            .map_err(unavailable)?;
        raw.map(|raw| decode(tenant, key, &raw)).transpose()
    }

    async fn compare_and_set(
        &self,
        old: Option<&ThrottleRecord>,
        new: &ThrottleRecord,
        keep_until: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let keep_until = keep_until.saturating_add(COUNTER_MARGIN_SECS);
        let written: i64 = self
            .compare_and_set
            .key(self.counter_key(new.tenant_id, &new.key))
            .arg(old.map(encode).unwrap_or_default())
            .arg(encode(new))
            .arg(expiry(keep_until))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(written == 1)
    }

    async fn forgive_one(
        &self,
        tenant: TenantId,
        key: &str,
        lifted_lock: Option<i64>,
    ) -> Result<(), StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(current) = self.find_counter(tenant, key).await? else {
                return Ok(());
            };
            let mut next = current.clone();
            next.failures = current.failures.saturating_sub(1);
            if lifted_lock.is_some() && current.locked_until == lifted_lock {
                next.locked_until = None;
            }
            if next == current {
                return Ok(());
            }
            let mut conn = self.conn.clone();
            let written: i64 = self
                .compare_and_set_keep_ttl
                .key(self.counter_key(tenant, key))
                .arg(encode(&current))
                .arg(encode(&next))
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if written == 1 {
                return Ok(());
            }
        }
        // Others keep changing the counter: it stays one higher, which errs on the safe side.
        tracing::debug!("taking back a counted attempt lost every race; left as counted");
        Ok(())
    }

    async fn delete_counter(&self, tenant: TenantId, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = conn
            .del(self.counter_key(tenant, key))
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_through_their_redis_encoding() {
        let tenant = TenantId::new();
        for locked_until in [None, Some(1_900_000_000)] {
            let r = ThrottleRecord {
                tenant_id: tenant,
                key: "user:x".into(),
                failures: 7,
                window_started_at: 1_800_000_000,
                locked_until,
                updated_at: 1_800_000_042,
            };
            assert_eq!(decode(tenant, "user:x", &encode(&r)).ok(), Some(r));
        }
        for bad in ["", "v2|1|2||3", "v1|x|2||3", "v1|1|2||3|4", "v1|1|2|"] {
            assert!(decode(tenant, "k", bad).is_err(), "{bad}");
        }
    }
}
