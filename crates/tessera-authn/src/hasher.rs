//! Argon2id (RFC 9106) password hashing off the HTTP reactor: the [`PasswordHasher`] actor runs
//! on a `SyncArbiter` pool, and [`HashPool`] bounds how many jobs may wait for it, so a burst of
//! sign-ins queues briefly and then fails fast instead of exhausting memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use anyhow::Context as _;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tessera_core::PasswordPolicy;
use tokio::sync::Semaphore;

use crate::AuthnError;

/// Bytes of random salt per hash (RFC 9106 §3.1 recommends 16).
const SALT_BYTES: usize = 16;
/// Length of the derived key, bytes.
const OUTPUT_BYTES: usize = 32;
/// Jobs allowed to wait per worker thread before callers are turned away.
const QUEUE_PER_THREAD: usize = 64;
/// How long a caller waits for a queue slot before the pool counts as saturated.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Argon2id cost parameters (RFC 9106 §3.1): memory in KiB, passes and lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashParams {
    /// Memory cost `m`, KiB.
    pub memory_kib: u32,
    /// Time cost `t`, passes.
    pub iterations: u32,
    /// Parallelism `p`, lanes.
    pub parallelism: u32,
}

impl From<&PasswordPolicy> for HashParams {
    fn from(p: &PasswordPolicy) -> Self {
        Self {
            memory_kib: p.argon2_memory_kib,
            iterations: p.argon2_iterations,
            parallelism: p.argon2_parallelism,
        }
    }
}

impl HashParams {
    fn argon2(self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_BYTES),
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes `password` with Argon2id under `params` and a fresh random salt; returns the PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), which records the parameters for later verification.
pub fn hash_password(password: &SecretString, params: HashParams) -> anyhow::Result<String> {
    let mut salt = [0u8; SALT_BYTES];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = params
        .argon2()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, under the parameters the PHC string records
/// (so hashes made before a tenant changed its cost still verify). The comparison is constant
/// time. A malformed or non-Argon2id PHC string never matches.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash was made with parameters other than `params` (and should be replaced
/// after the next successful sign-in).
pub fn needs_rehash(phc: &str, params: HashParams) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    match Params::try_from(&parsed) {
        Ok(p) => {
            parsed.algorithm != Algorithm::Argon2id.ident()
                || p.m_cost() != params.memory_kib
                || p.t_cost() != params.iterations
                || p.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

/// Hashes and verifies passwords on a `SyncArbiter` thread; argon2 is CPU- and memory-bound.
#[derive(Debug, Default)]
pub struct PasswordHasher;

impl Actor for PasswordHasher {
    type Context = SyncContext<Self>;
}

/// Hash a new password under the given parameters; answered with its PHC string.
#[derive(Message)]
#[rtype(result = "anyhow::Result<String>")]
pub struct HashPassword {
    /// The password.
    pub password: SecretString,
    /// Argon2id cost.
    pub params: HashParams,
}

/// Check a password against a stored PHC string; answered with whether it matches.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct VerifyPassword {
    /// The presented password.
    pub password: SecretString,
    /// The stored PHC string (or a dummy one, so unknown users cost the same).
    pub phc: String,
}

impl Handler<HashPassword> for PasswordHasher {
    type Result = anyhow::Result<String>;

    fn handle(&mut self, msg: HashPassword, _ctx: &mut Self::Context) -> Self::Result {
        hash_password(&msg.password, msg.params)
    }
}

impl Handler<VerifyPassword> for PasswordHasher {
    type Result = bool;

    fn handle(&mut self, msg: VerifyPassword, _ctx: &mut Self::Context) -> Self::Result {
        verify_password(&msg.password, &msg.phc)
    }
}

/// The bounded front of the hashing pool: callers wait for one of `threads × 64` queue slots
/// (at most ten seconds) before their job is sent to a worker.
#[derive(Clone)]
pub struct HashPool {
    workers: Addr<PasswordHasher>,
    slots: Arc<Semaphore>,
    /// Argon2 operations sent to the workers so far.
    operations: Arc<AtomicU64>,
}

impl HashPool {
    /// Starts `threads` hashing workers. Needs a running actix `System`.
    pub fn start(threads: usize) -> Self {
        let threads = threads.max(1);
        Self {
            workers: SyncArbiter::start(threads, || PasswordHasher),
            slots: Arc::new(Semaphore::new(threads * QUEUE_PER_THREAD)),
            operations: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many argon2 operations (hashes and verifications) were sent to the workers.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AuthnError> {
        match tokio::time::timeout(QUEUE_WAIT, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("password hashing pool saturated");
                Err(AuthnError::Unavailable)
            }
        }
    }

    /// Hashes a password on the pool.
    pub async fn hash(
        &self,
        password: &SecretString,
        params: HashParams,
    ) -> Result<String, AuthnError> {
        let _slot = self.slot().await?;
        self.operations.fetch_add(1, Ordering::Relaxed);
        let msg = HashPassword {
            password: password.clone(),
            params,
        };
        let hash = self
            .workers
            .send(msg)
            .await
            .context("password hasher stopped")??;
        Ok(hash)
    }

    /// Verifies a password on the pool.
    pub async fn verify(&self, password: &SecretString, phc: &str) -> Result<bool, AuthnError> {
        let _slot = self.slot().await?;
        self.operations.fetch_add(1, Ordering::Relaxed);
        let msg = VerifyPassword {
            password: password.clone(),
            phc: phc.to_owned(),
        };
        Ok(self
            .workers
            .send(msg)
            .await
            .context("password hasher stopped")?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hashes_are_salted_argon2id_phc_strings_that_verify_only_their_password() {
        let pw = SecretString::from("correct horse battery staple");
        let a = hash_password(&pw, CHEAP).unwrap();
        let b = hash_password(&pw, CHEAP).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt per hash");
        assert!(verify_password(&pw, &a));
        assert!(verify_password(&pw, &b));
        assert!(!verify_password(
            &SecretString::from("correct horse battery stapl"),
            &a
        ));
        assert!(!verify_password(&pw, "not a phc string"));
        assert!(!verify_password(&pw, ""));
    }

    #[test]
    fn old_parameters_still_verify_and_ask_for_a_rehash() {
        let pw = SecretString::from("s3cret-enough");
        let old = hash_password(&pw, CHEAP).unwrap();
        let new = HashParams {
            memory_kib: 16,
            iterations: 2,
            parallelism: 1,
        };
        assert!(verify_password(&pw, &old));
        assert!(needs_rehash(&old, new));
        assert!(!needs_rehash(&old, CHEAP));
        assert!(needs_rehash("garbage", CHEAP));
    }

    #[test]
    fn argon2i_and_argon2d_hashes_are_refused() {
        let pw = SecretString::from("s3cret-enough");
        let params = Params::new(8, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let phc = Argon2::new(alg, Version::V0x13, params.clone())
                .hash_password(pw.expose_secret().as_bytes(), &salt)
                .unwrap()
                .to_string();
            assert!(!verify_password(&pw, &phc), "{phc}");
            assert!(needs_rehash(&phc, CHEAP));
        }
    }

    #[actix_rt::test]
    async fn the_pool_hashes_and_verifies_off_the_calling_thread() {
        let pool = HashPool::start(2);
        let pw = SecretString::from("pool-password");
        let phc = pool.hash(&pw, CHEAP).await.unwrap();
        assert!(pool.verify(&pw, &phc).await.unwrap());
        assert!(
            !pool
                .verify(&SecretString::from("other"), &phc)
                .await
                .unwrap()
        );
    }
}
