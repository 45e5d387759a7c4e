//! Second factors of the [`Authenticator`]: TOTP enrolment and verification (RFC 6238, see
//! [`crate::totp`]), single-use recovery codes, removal and admin reset, and the `acr` values
//! that say which were used. TOTP seeds are sealed under the master key (AES-256-GCM, bound to
//! tenant and user); recovery codes are high-entropy and stored as SHA-256 hashes. Every wrong
//! code counts in the same per-account and per-address counters as a wrong password.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use tessera_core::secret::{random_chars, sha256_hex};
use tessera_core::{TenantId, UserId, UserStatus};
use tessera_keys::MasterKey;
use tessera_store::{AuditEventRecord, StoreError, TenantRecord, UserRecord, audit, mfa};

use crate::throttle::{self, Reservation, ip_key, user_key};
use crate::totp;
use crate::{Authenticator, AuthnError, LoginError};

/// `acr` of a password-only sign-in: ISO/IEC 29115 level 1 (OIDC Core §2 reserves "0" for
/// authentications that do not meet it).
pub const ACR_PASSWORD: &str = "1";
/// `acr` of a sign-in with a password and a second factor (TOTP or a recovery code).
pub const ACR_MFA: &str = "2";
/// Every `acr` a session can carry, weakest first (OIDC Discovery §3 `acr_values_supported`).
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (base32: 50 bits each).
const RECOVERY_CODE_CHARS: usize = 10;
/// An unconfirmed enrolment is shown again (same secret) for this long, seconds; after that a
/// visit to the enrolment page starts afresh.
const ENROLMENT_REUSE_SECS: i64 = 10 * 60;
/// The base32 alphabet recovery codes are drawn from (RFC 4648 §6).
const RECOVERY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A second factor presented at sign-in.
#[derive(Debug)]
pub enum SecondFactor<'a> {
    /// A six-digit code from the authenticator app.
    Totp(&'a str),
    /// One of the user's recovery codes.
    RecoveryCode(&'a str),
}

/// Which second factor was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// A TOTP code.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A passkey bound to its device (not backup-eligible, WebAuthn §6.1.3).
    HardwareKey,
    /// A passkey the authenticator may sync to other devices (backup-eligible).
    SoftwareKey,
}

impl Factor {
    /// The RFC 8176 §2 method values this factor adds to a session's `amr`. A TOTP code is
    /// `otp`; a recovery code has no registered value of its own (it is neither a one-time
    /// password from a device nor knowledge like `pwd`), so it adds only `mfa`, which says that
    /// more than one factor was used. A passkey is proof of possession of a key: `hwk` when the
    /// key cannot leave its device, `swk` when it may be synced.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Factor::Totp => &["otp", "mfa"],
            Factor::RecoveryCode => &["mfa"],
            Factor::HardwareKey => &["hwk", "mfa"],
            Factor::SoftwareKey => &["swk", "mfa"],
        }
    }
}

/// The `amr` of a session that had `first` and then passed `factor`, without duplicates.
pub fn amr_with(first: &[String], factor: Factor) -> Vec<String> {
    let mut amr = first.to_vec();
    for method in factor.amr() {
        if !amr.iter().any(|m| m == method) {
            amr.push((*method).to_owned());
        }
    }
    amr
}

/// An enrolment in progress: what the authenticator app needs.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The secret, base32 without padding, for typing in by hand.
    pub secret: SecretString,
    /// The `otpauth://` key URI for the QR code.
    pub uri: SecretString,
}

/// What second factors a user has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfaStatus {
    /// Whether a confirmed TOTP authenticator exists.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
    /// Registered passkeys.
    pub passkeys: u64,
}

impl MfaStatus {
    /// Whether the user has any second factor (an authenticator app or a passkey).
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// Associated data binding a sealed seed to its tenant and user.
fn seed_aad(tenant: TenantId, user: UserId) -> Vec<u8> {
    format!("tessera-totp|{tenant}|{user}").into_bytes()
}

/// A recovery code as typed, normalized: uppercase, without spaces and dashes; `None` when it
/// cannot be one of ours.
fn normalize_recovery_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The stored form of a recovery code: SHA-256 over tenant, user and code, so equal codes of
/// two users never share a hash.
fn recovery_hash(tenant: TenantId, user: UserId, normalized: &str) -> String {
    sha256_hex(&format!("tessera-recovery|{tenant}|{user}|{normalized}"))
}

/// Fresh recovery codes (`XXXXX-XXXXX`) and their hashes.
fn new_recovery_codes(tenant: TenantId, user: UserId) -> (Vec<SecretString>, Vec<String>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let code = random_chars(RECOVERY_ALPHABET, RECOVERY_CODE_CHARS);
            let hash = recovery_hash(tenant, user, &code);
            let shown = format!("{}-{}", &code[..5], &code[5..]);
            (SecretString::from(shown), hash)
        })
        .unzip()
}

fn unexpected(what: &'static str) -> impl FnOnce(tessera_keys::KeyError) -> AuthnError {
    move |e| AuthnError::Unexpected(anyhow::Error::new(e).context(what))
}

impl Authenticator {
    /// Which second factors `user` has.
    pub async fn mfa_status(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<MfaStatus, AuthnError> {
        let db = self.store.conn();
        let totp = mfa::find_totp(db, tenant, user)
            .await?
            .is_some_and(|t| t.confirmed);
        let recovery_codes_left = mfa::recovery_codes_left(db, tenant, user).await?;
        let passkeys = tessera_store::passkeys::count_for_user(db, tenant, user).await?;
        Ok(MfaStatus {
            totp,
            recovery_codes_left,
            passkeys,
        })
    }

    /// Starts (or shows again, for ten minutes) a TOTP enrolment: a new 160-bit secret stored
    /// sealed and unconfirmed. `Conflict` when the user already has a confirmed authenticator.
    /// `issuer` is the name the app shows beside the account.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user.id))]
    pub async fn begin_totp(
        &self,
        tenant: &TenantRecord,
        user: &UserRecord,
        master: &MasterKey,
        issuer: &str,
        now: i64,
    ) -> Result<TotpEnrolment, AuthnError> {
        let db = self.store.conn();
        let aad = seed_aad(tenant.id, user.id);
        let existing = mfa::find_totp(db, tenant.id, user.id).await?;
        let reusable = match &existing {
            Some(t) if t.confirmed => return Err(AuthnError::Conflict),
            Some(t) if now.saturating_sub(t.created_at) < ENROLMENT_REUSE_SECS => {
                let sealed = URL_SAFE_NO_PAD
                    .decode(&t.sealed_secret)
                    .map_err(|e| AuthnError::Unexpected(anyhow::Error::new(e)))?;
                Some(
                    master
                        .open(&sealed, &aad)
                        .map_err(unexpected("opening a TOTP seed"))?,
                )
            }
            _ => None,
        };
        let secret = match reusable {
            Some(secret) => secret,
            None => {
                let secret = totp::generate_secret().to_vec();
                let sealed = master
                    .seal(&secret, &aad)
                    .map_err(unexpected("sealing a TOTP seed"))?;
                mfa::put_unconfirmed_totp(
                    db,
                    tenant.id,
                    user.id,
                    &URL_SAFE_NO_PAD.encode(sealed),
                    now,
                )
                .await?;
                secret
            }
        };
        Ok(TotpEnrolment {
            secret: SecretString::from(totp::base32_encode(&secret)),
            uri: SecretString::from(totp::otpauth_uri(issuer, &user.username, &secret)),
        })
    }

    /// Confirms the enrolment in progress with a first code (which counts as used) and gives
    /// the user fresh recovery codes, to be shown once. A wrong code is a counted failure
    /// (`InvalidCredentials`); no enrolment in progress is `Unexpected`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user.id))]
    pub async fn confirm_totp(
        &self,
        tenant: &TenantRecord,
        user: &UserRecord,
        master: &MasterKey,
        code: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Vec<SecretString>, LoginError> {
        let db = self.store.conn();
        let pending = mfa::find_totp(db, tenant.id, user.id)
            .await?
            .filter(|t| !t.confirmed)
            .ok_or_else(|| {
                LoginError::Unexpected(anyhow::anyhow!("no TOTP enrolment is in progress"))
            })?;
        let reservations = self.reserve(tenant, user.id, client_ip, now).await?;
        let secret = self.open_seed(master, tenant.id, user.id, &pending.sealed_secret)?;
        let Some(step) = totp::matching_step(&secret, code, now) else {
            return Err(LoginError::InvalidCredentials);
        };
        let (codes, hashes) = new_recovery_codes(tenant.id, user.id);
        let (store, tenant_id, user_id, sealed) = (
            self.store.clone(),
            tenant.id,
            user.id,
            pending.sealed_secret.clone(),
        );
        let ip = client_ip.map(|ip| ip.to_string());
        let confirmed = self
            .store
            .write(async move {
                let txn = store.begin().await?;
                if !mfa::confirm_totp(&txn, tenant_id, user_id, &sealed, step).await? {
                    txn.rollback().await?;
                    return Ok(false);
                }
                mfa::replace_recovery_codes(&txn, tenant_id, user_id, &hashes, now).await?;
                audit::insert(
                    &txn,
                    &event(
                        tenant_id,
                        user_id,
                        "mfa.totp.enrolled",
                        user_actor(user_id),
                        ip,
                        now,
                    ),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, StoreError>(true)
            })
            .await?;
        if !confirmed {
            // Another request confirmed (or replaced) it meanwhile: this code proves nothing.
            return Err(LoginError::InvalidCredentials);
        }
        self.forgive_all(tenant.id, &reservations).await;
        tracing::info!("enrolled a TOTP authenticator");
        Ok(codes)
    }

    /// Checks a second factor of `user`, throttled like a password. A TOTP code must match a
    /// step within ±1 of now that is later than the last accepted one (RFC 6238 §5.2: each code
    /// is accepted at most once, across nodes); a recovery code is spent. Wrong, replayed or
    /// spent codes are `InvalidCredentials` and count as failures.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user.id))]
    pub async fn verify_second_factor(
        &self,
        tenant: &TenantRecord,
        user: &UserRecord,
        master: &MasterKey,
        factor: SecondFactor<'_>,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Factor, LoginError> {
        let reservations = self.reserve(tenant, user.id, client_ip, now).await?;
        let db = self.store.conn();
        let accepted = match factor {
            SecondFactor::Totp(code) => {
                match mfa::find_totp(db, tenant.id, user.id)
                    .await?
                    .filter(|t| t.confirmed)
                {
                    Some(row) => {
                        let secret =
                            self.open_seed(master, tenant.id, user.id, &row.sealed_secret)?;
                        match totp::matching_step(&secret, code, now) {
                            Some(step) => mfa::use_totp_step(db, tenant.id, user.id, step)
                                .await?
                                .then_some(Factor::Totp),
                            None => None,
                        }
                    }
                    None => None,
                }
            }
            SecondFactor::RecoveryCode(code) => match normalize_recovery_code(code) {
                Some(normalized) => {
                    let hash = recovery_hash(tenant.id, user.id, &normalized);
                    mfa::use_recovery_code(db, tenant.id, user.id, &hash, now)
                        .await?
                        .then_some(Factor::RecoveryCode)
                }
                None => None,
            },
        };
        let Some(factor) = accepted else {
            return Err(LoginError::InvalidCredentials);
        };
        self.forgive_all(tenant.id, &reservations).await;
        if factor == Factor::RecoveryCode {
            let left = mfa::recovery_codes_left(db, tenant.id, user.id).await?;
            let mut record = event(
                tenant.id,
                user.id,
                "mfa.recovery_code.used",
                user_actor(user.id),
                client_ip.map(|ip| ip.to_string()),
                now,
            );
            record.details = serde_json::json!({ "recovery_codes_left": left });
            if let Err(e) = audit::insert(db, &record).await {
                tracing::warn!(error = %e, "recording a recovery code use failed");
            }
        }
        if user.status != UserStatus::Active {
            return Err(LoginError::AccountDisabled);
        }
        Ok(factor)
    }

    /// Replaces the user's recovery codes with fresh ones, to be shown once. `Invalid` unless
    /// the user has a confirmed authenticator.
    pub async fn regenerate_recovery_codes(
        &self,
        tenant: TenantId,
        user: UserId,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Vec<SecretString>, AuthnError> {
        if !self.mfa_status(tenant, user).await?.totp {
            return Err(AuthnError::Invalid(
                "recovery codes need an authenticator app".into(),
            ));
        }
        let (codes, hashes) = new_recovery_codes(tenant, user);
        let store = self.store.clone();
        let ip = client_ip.map(|ip| ip.to_string());
        self.store
            .write(async move {
                let txn = store.begin().await?;
                mfa::replace_recovery_codes(&txn, tenant, user, &hashes, now).await?;
                audit::insert(
                    &txn,
                    &event(
                        tenant,
                        user,
                        "mfa.recovery_codes.regenerated",
                        user_actor(user),
                        ip,
                        now,
                    ),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(codes)
    }

    /// Removes every second factor of the user — authenticator, recovery codes and passkeys —
    /// recording who did (`actor`: `admin:<who>` for the admin reset of a lost device);
    /// `false` when there was nothing to remove. The caller has checked the caller's rights.
    pub async fn remove_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        actor: String,
        client_ip: Option<String>,
        now: i64,
    ) -> Result<bool, AuthnError> {
        self.remove_factors(tenant, user, actor, client_ip, now, true)
            .await
    }

    /// Removes the user's authenticator and recovery codes but not the passkeys (the user
    /// turning the authenticator app off, with a current code); `false` when there was none.
    pub async fn remove_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        actor: String,
        client_ip: Option<String>,
        now: i64,
    ) -> Result<bool, AuthnError> {
        self.remove_factors(tenant, user, actor, client_ip, now, false)
            .await
    }

    async fn remove_factors(
        &self,
        tenant: TenantId,
        user: UserId,
        actor: String,
        client_ip: Option<String>,
        now: i64,
        with_passkeys: bool,
    ) -> Result<bool, AuthnError> {
        let store = self.store.clone();
        let removed = self
            .store
            .write(async move {
                let txn = store.begin().await?;
                let mut removed = mfa::delete_for_user(&txn, tenant, user).await?;
                if with_passkeys {
                    removed += tessera_store::passkeys::delete_for_user(&txn, tenant, user).await?;
                }
                if removed == 0 {
                    txn.rollback().await?;
                    return Ok(false);
                }
                audit::insert(
                    &txn,
                    &event(tenant, user, "mfa.removed", actor, client_ip, now),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, StoreError>(true)
            })
            .await?;
        if removed {
            tracing::info!(tenant = %tenant, user = %user, "removed a user's second factors");
        }
        Ok(removed)
    }

    /// Opens a sealed seed of `user`.
    fn open_seed(
        &self,
        master: &MasterKey,
        tenant: TenantId,
        user: UserId,
        sealed: &str,
    ) -> Result<Vec<u8>, AuthnError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|e| AuthnError::Unexpected(anyhow::Error::new(e)))?;
        master
            .open(&bytes, &seed_aad(tenant, user))
            .map_err(unexpected("opening a TOTP seed"))
    }

    /// Counts an attempt against the account and the client address, as for a password.
    async fn reserve(
        &self,
        tenant: &TenantRecord,
        user: UserId,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Vec<Reservation>, LoginError> {
        let lockout = &tenant.settings.lockout;
        let account =
            throttle::reserve(&self.store, tenant.id, user_key(user), lockout, now).await?;
        let mut reservations = vec![account];
        if let Some(ip) = client_ip {
            let address = lockout.for_address();
            match throttle::reserve(&self.store, tenant.id, ip_key(ip), &address, now).await {
                Ok(r) => reservations.push(r),
                Err(refusal) => {
                    self.forgive_all(tenant.id, &reservations).await;
                    return Err(refusal);
                }
            }
        }
        Ok(reservations)
    }

    /// Takes back attempts that succeeded; failures only log.
    async fn forgive_all(&self, tenant: TenantId, reservations: &[Reservation]) {
        for r in reservations {
            if let Err(e) = throttle::forgive(&self.store, tenant, r).await {
                tracing::warn!(error = %e, "taking back a sign-in attempt failed");
            }
        }
    }
}

pub(crate) fn user_actor(user: UserId) -> String {
    format!("user:{user}")
}

pub(crate) fn event(
    tenant: TenantId,
    user: UserId,
    action: &str,
    actor: String,
    ip: Option<String>,
    now: i64,
) -> AuditEventRecord {
    AuditEventRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        occurred_at: now,
        action: action.to_owned(),
        actor,
        user_id: Some(user),
        client_id: None,
        ip,
        user_agent: None,
        details: serde_json::json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_normalized_and_bound_to_their_user() {
        assert_eq!(
            normalize_recovery_code("abcde-fgh23").as_deref(),
            Some("ABCDEFGH23")
        );
        assert_eq!(
            normalize_recovery_code(" ABCDE FGH23 ").as_deref(),
            Some("ABCDEFGH23")
        );
        assert_eq!(normalize_recovery_code("ABCDE-FGH21"), None);
        assert_eq!(normalize_recovery_code("ABCDE"), None);
        let (tenant, a, b) = (TenantId::new(), UserId::new(), UserId::new());
        assert_ne!(
            recovery_hash(tenant, a, "ABCDEFGH23"),
            recovery_hash(tenant, b, "ABCDEFGH23")
        );
        let (codes, hashes) = new_recovery_codes(tenant, a);
        assert_eq!(codes.len(), RECOVERY_CODES);
        use secrecy::ExposeSecret;
        for (code, hash) in codes.iter().zip(&hashes) {
            let normalized = normalize_recovery_code(code.expose_secret());
            assert_eq!(
                normalized.map(|n| recovery_hash(tenant, a, &n)).as_deref(),
                Some(hash.as_str())
            );
        }
    }

    #[test]
    fn amr_lists_each_method_once() {
        let pwd = vec!["pwd".to_owned()];
        assert_eq!(amr_with(&pwd, Factor::Totp), ["pwd", "otp", "mfa"]);
        assert_eq!(amr_with(&pwd, Factor::RecoveryCode), ["pwd", "mfa"]);
        let both = amr_with(&amr_with(&pwd, Factor::RecoveryCode), Factor::Totp);
        assert_eq!(both, ["pwd", "mfa", "otp"]);
    }
}
