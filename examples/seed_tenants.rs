//! `seed_tenants`: fills a Tessera database with many tenants quickly, for the scale benchmark
//! (`bench/scale.sh`, which reaches 100,000 tenants with it).
//!
//! Each tenant is created by the server's own operation ([`TenantAdmin::create_tenant_with_keys`]:
//! the tenant row, its standard scopes, its key rings and a change-feed entry in one transaction),
//! so a seeded tenant is the same rows as one created through the admin API. One thing differs:
//! creating a tenant through the API generates two RSA-2048 keys (its RS256 ID-token ring), about
//! 0.25 CPU-s, which limits a 2-core machine to about 7 tenants/s. Here the RSA keys come from a
//! pool of `--rsa-pool` keys generated at start; each use is sealed to its own tenant with its own
//! `kid` (so every seeded tenant signs and verifies like any other), but tenants share RSA moduli.
//! Its ES256 or EdDSA keys are generated per tenant. Never use this on a production database.
//!
//! ```sh
//! cargo run --release --example seed_tenants -- --database-url postgres://… --data-dir DIR \
//!     --prefix s --from 0 --count 90000
//! ```
//!
//! It prints one JSON line: tenants created, seconds, and tenants/s.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use futures_util::{StreamExt, stream};
use openssl::pkey::{PKey, Private};
use rand::Rng;
use tessera::{Overrides, Services, Settings};
use tessera_core::{KeyState, SigningAlg, TenantSlug};
use tessera_keys::{new_private_key, ring_algs, seal_key_pair};
use tessera_tenants::{NewTenant, TenantError};

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Seed many tenants into a Tessera database (benchmarks only)")]
struct Cli {
    /// Database URL (as `tessera --database-url`).
    #[arg(long)]
    database_url: String,
    /// Data directory holding the master key file (as `tessera --data-dir`).
    #[arg(long)]
    data_dir: std::path::PathBuf,
    /// Slug prefix: tenants are named `<prefix><number, 6 digits>`.
    #[arg(long, default_value = "s")]
    prefix: String,
    /// First number.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// How many tenants to create.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    count: u64,
    /// Signing algorithm of the tenants' access tokens.
    #[arg(long, default_value = "ES256")]
    alg: String,
    /// RSA-2048 keys generated at start and shared (each sealed per tenant) by the RS256 rings.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    rsa_pool: u64,
    /// Tenants created concurrently.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
}

#[actix_web::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_tenants: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let alg: SigningAlg = cli
        .alg
        .parse()
        .context("--alg must be RS256, ES256 or EdDSA")?;
    let overrides = Overrides {
        data_dir: Some(cli.data_dir.clone()),
        database_url: Some(cli.database_url.clone()),
        ..Default::default()
    };
    let settings = Settings::load(None, &overrides)?;
    let services = Services::open(&settings).await?;

    let started = Instant::now();
    let pool = rsa_pool(cli.rsa_pool)?;
    eprintln!(
        "seed_tenants: {} RSA keys generated in {:.1} s",
        pool.len(),
        started.elapsed().as_secs_f64()
    );

    let pool_size = pool.len();
    let master = Arc::clone(&services.master);
    let ring_keys = move |tenant, now| {
        let mut records = Vec::with_capacity(4);
        for ring_alg in ring_algs(alg) {
            for state in [KeyState::Active, KeyState::Next] {
                let key = match ring_alg {
                    SigningAlg::Rs256 => pool[rand::rng().random_range(0..pool.len())].clone(),
                    other => new_private_key(other)?,
                };
                records.push(seal_key_pair(&master, tenant, ring_alg, state, now, &key)?);
            }
        }
        Ok::<_, TenantError>(records)
    };

    let started = Instant::now();
    let mut created = 0u64;
    let mut results = stream::iter(cli.from..cli.from + cli.count)
        .map(|n| {
            let admin = &services.admin;
            let ring_keys = &ring_keys;
            let slug = format!("{}{n:06}", cli.prefix);
            async move {
                let slug = TenantSlug::parse(&slug).map_err(|e| anyhow::anyhow!("{slug}: {e}"))?;
                let new = NewTenant {
                    slug,
                    name: None,
                    alg,
                };
                admin
                    .create_tenant_with_keys(new, ring_keys)
                    .await
                    .context("creating a tenant")
            }
        })
        .buffer_unordered(cli.concurrency as usize);
    while let Some(result) = results.next().await {
        result?;
        created += 1;
        if created.is_multiple_of(5_000) {
            eprintln!(
                "seed_tenants: {created} tenants, {:.0}/s",
                created as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "created": created,
            "seconds": (secs * 10.0).round() / 10.0,
            "tenants_per_second": (created as f64 / secs).round(),
            "rsa_pool": pool_size,
        })
    );
    drop(results);
    let _ = services.store.close().await;
    Ok(())
}

/// `n` RSA-2048 keys, generated on every core.
fn rsa_pool(n: u64) -> anyhow::Result<Vec<PKey<Private>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = n.div_ceil(threads as u64);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    (0..per_thread)
                        .map(|_| new_private_key(SigningAlg::Rs256))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut keys = Vec::new();
        for worker in workers {
            let batch = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a key thread panicked"))??;
            keys.extend(batch);
        }
        keys.truncate(n as usize);
        Ok(keys)
    })
}
