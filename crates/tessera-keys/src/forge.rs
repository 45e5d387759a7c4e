//! [`KeyForge`]: generates tenant key pairs on dedicated threads (RSA key generation is CPU-bound)
//! and seals their private halves under the [`MasterKey`] before they ever reach the store.

use std::sync::Arc;

use actix::{Actor, Addr, Handler, Message, SyncContext};
use anyhow::Context;
use openssl::ec::EcKey;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use secrecy::zeroize::Zeroizing;
use tessera_core::{KeyState, Kid, SigningAlg, TenantId};
use tessera_store::KeyRecord;

use crate::{KeyError, MasterKey, jwk};

/// RSA modulus size for RS256 keys.
const RSA_BITS: u32 = 2048;
/// Random bytes in a `kid`: 128 bits makes a collision within a tenant negligible.
const KID_BYTES: usize = 16;

/// Generates key pairs on a `SyncArbiter`; start it with
/// `SyncArbiter::start(n, move || KeyForge::new(master.clone()))`.
#[derive(Debug)]
pub struct KeyForge {
    master: Arc<MasterKey>,
}

impl KeyForge {
    /// A forge sealing keys under `master`.
    pub fn new(master: Arc<MasterKey>) -> Self {
        Self { master }
    }
}

impl Actor for KeyForge {
    type Context = SyncContext<Self>;
}

/// Generate a sealed key pair for a tenant; answered with a [`KeyRecord`] ready to insert.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<KeyRecord, KeyError>")]
pub struct GenerateKeyPair {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Algorithm of the new key.
    pub alg: SigningAlg,
    /// Initial state: `Next` on rotation, `Active` for a new tenant.
    pub state: KeyState,
    /// Unix seconds, for `created_at` (and `activated_at` when Active).
    pub now: i64,
}

impl Handler<GenerateKeyPair> for KeyForge {
    type Result = Result<KeyRecord, KeyError>;

    fn handle(&mut self, msg: GenerateKeyPair, _ctx: &mut Self::Context) -> Self::Result {
        generate_key_pair(&self.master, msg.tenant, msg.alg, msg.state, msg.now)
    }
}

/// Generates every requested key pair on `forge` and returns the records in request order. All
/// requests are queued before the first answer is awaited, so a forge with several threads
/// generates them in parallel (an RSA-2048 key takes tens of milliseconds).
pub async fn forge_key_pairs(
    forge: &Addr<KeyForge>,
    requests: impl IntoIterator<Item = GenerateKeyPair>,
) -> Result<Vec<KeyRecord>, KeyError> {
    let pending: Vec<_> = requests.into_iter().map(|r| forge.send(r)).collect();
    let mut records = Vec::with_capacity(pending.len());
    for answer in pending {
        records.push(answer.await.context("key forge stopped")??);
    }
    Ok(records)
}

/// The associated data binding a sealed private key to its row: tenant UUID bytes ‖ kid bytes.
/// Moving a sealed key to another row makes it fail to open.
pub(crate) fn sealing_aad(tenant: TenantId, kid: &Kid) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + kid.0.len());
    aad.extend_from_slice(tenant.0.as_bytes());
    aad.extend_from_slice(kid.0.as_bytes());
    aad
}

/// Generates a key pair of `alg` (RSA-2048 with e = 65537, P-256 or Ed25519), seals its PKCS#8
/// DER private key under `master`, and returns the record to insert. `activated_at` is `now` iff
/// `state` is Active. This is what [`KeyForge`] runs; the CLI and tests call it directly.
#[tracing::instrument(skip_all, fields(tenant = %tenant, alg = %alg))]
pub fn generate_key_pair(
    master: &MasterKey,
    tenant: TenantId,
    alg: SigningAlg,
    state: KeyState,
    now: i64,
) -> Result<KeyRecord, KeyError> {
    seal_key_pair(master, tenant, alg, state, now, &new_private_key(alg)?)
}

/// Makes the record of an existing key pair `key` of `alg` for `tenant`: a fresh random `kid`,
/// the public JWK, and the PKCS#8 DER private key sealed under `master` and bound to this tenant
/// and kid. [`generate_key_pair`] runs it on a new key; bulk seeding (the scale benchmark's
/// `seed_tenants`) runs it on pre-generated RSA keys, because RSA generation dominates the cost
/// of creating a tenant.
pub fn seal_key_pair(
    master: &MasterKey,
    tenant: TenantId,
    alg: SigningAlg,
    state: KeyState,
    now: i64,
    key: &PKey<Private>,
) -> Result<KeyRecord, KeyError> {
    let kid = Kid(tessera_core::secret::random_token(KID_BYTES));
    let public_jwk = jwk::public_jwk(key, alg, &kid)?;
    let der = Zeroizing::new(
        key.private_key_to_pkcs8()
            .map_err(KeyError::openssl("encoding a private key"))?,
    );
    let sealed_private_key = master.seal(&der, &sealing_aad(tenant, &kid))?;
    tracing::debug!(kid = %kid, state = %state, "generated a signing key");
    Ok(KeyRecord {
        tenant_id: tenant,
        kid,
        alg,
        state,
        public_jwk,
        sealed_private_key,
        kek_id: master.kek_id().to_owned(),
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        expires_at: None,
    })
}

/// A new private key of `alg`: RSA-2048 with e = 65537, P-256 or Ed25519.
pub fn new_private_key(alg: SigningAlg) -> Result<PKey<Private>, KeyError> {
    let fail = KeyError::openssl("generating a key pair");
    match alg {
        // `Rsa::generate` uses e = 65537.
        SigningAlg::Rs256 => Rsa::generate(RSA_BITS)
            .and_then(PKey::from_rsa)
            .map_err(fail),
        SigningAlg::Es256 => {
            let group = jwk::p256()?;
            EcKey::generate(&group)
                .and_then(PKey::from_ec_key)
                .map_err(fail)
        }
        SigningAlg::EdDsa => PKey::generate_ed25519().map_err(fail),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn generated_records_carry_rfc_jwks_and_sealed_pkcs8() {
        let master = MasterKey::generate();
        let tenant = TenantId::new();
        for &alg in SigningAlg::ALL {
            let rec = generate_key_pair(&master, tenant, alg, KeyState::Next, 100).unwrap();
            assert_eq!(rec.kid.0.len(), 22);
            assert_eq!(rec.kek_id, master.kek_id());
            assert_eq!(
                (rec.activated_at, rec.retired_at, rec.expires_at),
                (None, None, None)
            );
            let jwk = &rec.public_jwk;
            assert_eq!(jwk["kid"], rec.kid.0.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "no private members");
            let b = |m: &str| crate::b64::URL.decode(jwk[m].as_str().unwrap()).unwrap();
            match alg {
                SigningAlg::Rs256 => {
                    assert_eq!(jwk["kty"], "RSA");
                    assert_eq!(b("n").len(), 256);
                    assert_eq!(jwk["e"], "AQAB");
                }
                SigningAlg::Es256 => {
                    assert_eq!(
                        (jwk["kty"].as_str(), jwk["crv"].as_str()),
                        (Some("EC"), Some("P-256"))
                    );
                    assert_eq!((b("x").len(), b("y").len()), (32, 32));
                }
                SigningAlg::EdDsa => {
                    assert_eq!(
                        (jwk["kty"].as_str(), jwk["crv"].as_str()),
                        (Some("OKP"), Some("Ed25519"))
                    );
                    assert_eq!(b("x").len(), 32);
                }
            }
            let der = master
                .open(&rec.sealed_private_key, &sealing_aad(tenant, &rec.kid))
                .unwrap();
            assert!(PKey::private_key_from_pkcs8(&der).is_ok());
        }
        let active =
            generate_key_pair(&master, tenant, SigningAlg::EdDsa, KeyState::Active, 7).unwrap();
        assert_eq!(active.activated_at, Some(7));
        assert_eq!(active.created_at, 7);
    }
}
