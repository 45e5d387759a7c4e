//! The Redis backend of [`Ephemeral`] against a real server: `TESSERA_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`). Without a reachable Redis these tests fail, never skip.
//! Each test uses its own key prefix, so tests (and CI runs) never see each other's keys.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use redis::AsyncCommands;
use tessera_core::TenantId;
use tessera_store::{PoolSettings, RedisCache, Store, ThrottleRecord};

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A store (in-memory SQLite, unused but for transactions) whose ephemeral values live in
/// Redis under a fresh prefix, and a plain client to look at the keys.
async fn redis_store() -> (Store, RedisCache, redis::aio::MultiplexedConnection) {
    let url = redis_url();
    let prefix = format!("tessera-test-{}", uuid::Uuid::new_v4().simple());
    let cache = RedisCache::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| {
            panic!("these tests need Redis at {url} (set TESSERA_TEST_REDIS_URL): {e}")
        });
    let store = Store::connect("sqlite::memory:", &PoolSettings::default())
        .await
        .unwrap()
        .with_redis(cache.clone());
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    (store, cache, conn)
}

fn record(tenant: TenantId, key: &str, failures: u32, at: i64) -> ThrottleRecord {
    ThrottleRecord {
        tenant_id: tenant,
        key: key.into(),
        failures,
        window_started_at: at,
        locked_until: None,
        updated_at: at,
    }
}

#[tokio::test]
async fn replay_keys_are_set_once_per_tenant_and_expire() {
    let (store, cache, mut redis) = redis_store().await;
    let (a, b) = (TenantId::new(), TenantId::new());
    let cached = store.ephemeral();
    let exp = now() + 120;
    assert!(cached.remember(a, "jti-1", exp).await.unwrap());
    assert!(!cached.remember(a, "jti-1", exp).await.unwrap(), "a replay");
    assert!(
        cached.remember(b, "jti-1", exp).await.unwrap(),
        "another tenant"
    );
    let ttl: i64 = redis.ttl(cache.replay_key(a, "jti-1")).await.unwrap();
    assert!((100..=120).contains(&ttl), "expires with the value: {ttl}");

    // Gone once it expired (an expiry in the past still keeps it for a second).
    assert!(cached.remember(a, "jti-2", now() + 1).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(cached.remember(a, "jti-2", now() + 60).await.unwrap());

    // Many nodes at once: exactly one remembers first.
    let wins = futures_of(16, |_| {
        let store = store.clone();
        async move { store.ephemeral().remember(a, "race", now() + 60).await }
    })
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
}

/// Runs `n` futures at once on the multi-threaded runtime; their results.
async fn futures_of<F, Fut>(n: usize, make: F) -> Vec<bool>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<bool, tessera_store::StoreError>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fut = make(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await.unwrap()
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_set_lets_exactly_one_of_concurrent_writers_win() {
    let (store, _, _) = redis_store().await;
    let tenant = TenantId::new();
    let t = now();
    for round in 0..10 {
        let key = format!("user:{round}");
        // From absent: one insert wins.
        let wins = futures_of(8, |i| {
            let store = store.clone();
            let new = record(tenant, &key, 1 + i as u32, t);
            async move {
                store
                    .ephemeral()
                    .compare_and_set_counter(None, &new, t + 60)
                    .await
            }
        })
        .await;
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "insert: {wins:?}");
        // From the same current value: one update wins, and its value is what is stored.
        let current = store
            .ephemeral()
            .find_counter(tenant, &key)
            .await
            .unwrap()
            .unwrap();
        let wins = futures_of(2, |i| {
            let store = store.clone();
            let (old, mut new) = (current.clone(), current.clone());
            new.failures += 10 + i as u32;
            async move {
                store
                    .ephemeral()
                    .compare_and_set_counter(Some(&old), &new, t + 60)
                    .await
            }
        })
        .await;
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "update: {wins:?}");
        let stored = store.ephemeral().find_counter(tenant, &key).await.unwrap();
        let winner = wins.iter().position(|w| *w).unwrap() as u32;
        assert_eq!(stored.unwrap().failures, current.failures + 10 + winner);
    }
}

#[tokio::test]
async fn counters_expire_after_their_window_and_forgive_and_clear_work() {
    let (store, cache, mut redis) = redis_store().await;
    let tenant = TenantId::new();
    let counters = store.ephemeral();
    let t = now();
    let first = record(tenant, "user:a", 1, t);
    assert!(
        counters
            .compare_and_set_counter(None, &first, t + 300)
            .await
            .unwrap()
    );
    // A stale `old` loses.
    let stale = record(tenant, "user:a", 0, t);
    let mut second = first.clone();
    second.failures = 2;
    assert!(
        !counters
            .compare_and_set_counter(Some(&stale), &second, t + 300)
            .await
            .unwrap()
    );
    second.locked_until = Some(t + 900);
    assert!(
        counters
            .compare_and_set_counter(Some(&first), &second, t + 900)
            .await
            .unwrap()
    );
    let key = cache.counter_key(tenant, "user:a");
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!(
        (900..=960).contains(&ttl),
        "kept until the lock ends: {ttl}"
    );

    // Forgiving the attempt that set the lock lifts it and keeps the expiry.
    counters
        .forgive_one(tenant, "user:a", Some(t + 900))
        .await
        .unwrap();
    let now_ = counters.find_counter(tenant, "user:a").await.unwrap();
    assert_eq!(now_.map(|r| (r.failures, r.locked_until)), Some((1, None)));
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!((890..=960).contains(&ttl), "{ttl}");
    // Forgiving an absent counter is fine.
    counters.forgive_one(tenant, "nobody", None).await.unwrap();

    // Cleared inside a (database) transaction: reports whether there was one.
    let txn = store.begin().await.unwrap();
    assert!(
        counters
            .clear_counter_in(&txn, tenant, "user:a")
            .await
            .unwrap()
    );
    assert!(
        !counters
            .clear_counter_in(&txn, tenant, "user:a")
            .await
            .unwrap()
    );
    txn.commit().await.unwrap();
    assert!(!redis.exists::<_, bool>(&key).await.unwrap());

    // A counter whose window is long over is written but goes by itself within a second.
    let old = record(tenant, "ip:x", 1, t - 3600);
    assert!(
        counters
            .compare_and_set_counter(None, &old, t - 3000)
            .await
            .unwrap()
    );
    let ttl: i64 = redis.ttl(cache.counter_key(tenant, "ip:x")).await.unwrap();
    assert!(ttl <= 1, "{ttl}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    counters.delete_counter(tenant, "ip:x").await.unwrap();
    assert!(
        counters
            .find_counter(tenant, "ip:x")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_unreachable_or_silent_redis_is_an_unavailable_error() {
    // Nothing listens there.
    let refused = RedisCache::connect("redis://127.0.0.1:1", "t").await;
    assert!(refused.unwrap_err().is_unavailable());
    // Something accepts and never answers: the timeout turns it into an error, not a hang.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let silent = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        RedisCache::connect(&format!("redis://127.0.0.1:{port}"), "t"),
    )
    .await
    .expect("connecting to a silent Redis must give up by itself");
    assert!(silent.unwrap_err().is_unavailable());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // A garbage URL is refused without echoing it.
    let bad = RedisCache::connect("redis://:s3cret@[nonsense", "t").await;
    let message = bad.unwrap_err().to_string();
    assert!(!message.contains("s3cret"), "{message}");
}
