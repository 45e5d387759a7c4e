//! Online upgrades: several nodes (in-process stores and `tessera migrate` processes) migrate
//! one fresh database at the same time. One of them applies each migration under the cluster's
//! migration lock; the others wait, find nothing pending and succeed. SQLite by default,
//! PostgreSQL with `TESSERA_TEST_DATABASE_URL`.

use std::process::{Command, Stdio};

use sea_orm::{ConnectionTrait, Statement};
use tessera_store::{PoolSettings, Store};

use crate::helpers::fresh_database;

/// Base64 of 32 bytes: a fixed master key, so concurrent processes never race to create one.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Starts `tessera migrate` (or another command) against `database_url` without waiting.
fn tessera(data_dir: &std::path::Path, database_url: &str, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url)
        .arg("--json")
        .args(args)
        .env("TESSERA__KEYS__MASTER_KEY", MASTER_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tessera")
}

/// `(version, times recorded)` for every row of `seaql_migrations`.
async fn recorded(store: &Store) -> Vec<(String, i64)> {
    let rows = store
        .conn()
        .query_all_raw(Statement::from_string(
            store.backend(),
            "SELECT version, COUNT(*) AS n FROM seaql_migrations GROUP BY version ORDER BY version",
        ))
        .await
        .expect("read seaql_migrations");
    rows.iter()
        .map(|row| {
            (
                row.try_get::<String>("", "version").expect("version"),
                row.try_get::<i64>("", "n").expect("count"),
            )
        })
        .collect()
}

#[actix_web::test]
async fn concurrent_migrators_apply_each_migration_once() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(data_dir.path()).await;

    // Two `tessera migrate` processes and four in-process stores, all started at once.
    let processes: Vec<_> = (0..2)
        .map(|_| tessera(data_dir.path(), &url, &["migrate"]))
        .collect();
    let stores: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let store = Store::connect(&url, &PoolSettings::default())
                    .await
                    .expect("connect");
                store.migrate().await.map(|()| store)
            })
        })
        .collect();
    let mut migrated = Vec::new();
    for task in stores {
        let store = task.await.expect("migrator task");
        migrated.push(store.expect("a concurrent migrate succeeds"));
    }
    for child in processes {
        let output = child.wait_with_output().expect("tessera migrate");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "tessera migrate failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json output");
        assert_eq!(json["migrated"], true);
    }

    // Every migration recorded exactly once, none missing from what a later node sees.
    let store = &migrated[0];
    let rows = recorded(store).await;
    assert!(!rows.is_empty(), "no migrations recorded");
    for (version, n) in &rows {
        assert_eq!(*n, 1, "migration {version} recorded {n} times");
    }
    assert!(
        rows.iter().any(|(v, _)| v.contains("create_tenancy")),
        "the tenants migration is recorded: {rows:?}"
    );

    // A node that starts later finds nothing pending and leaves the record unchanged.
    let late = Store::connect(&url, &PoolSettings::default())
        .await
        .expect("connect");
    late.migrate().await.expect("migrate with nothing pending");
    assert_eq!(recorded(&late).await, rows);

    // The schema works: the CLI creates a tenant on it and lists it.
    let created = tessera(
        data_dir.path(),
        &url,
        &["tenant", "create", "migrated", "--alg", "ES256"],
    )
    .wait_with_output()
    .expect("tessera tenant create");
    assert!(
        created.status.success(),
        "tenant create failed: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let listed = tessera(data_dir.path(), &url, &["tenant", "list"])
        .wait_with_output()
        .expect("tessera tenant list");
    let listed: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&listed.stdout).trim()).expect("json list");
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|t| t["slug"] == "migrated"),
        "{listed}"
    );

    for store in migrated {
        store.close().await.ok();
    }
    late.close().await.ok();
}
