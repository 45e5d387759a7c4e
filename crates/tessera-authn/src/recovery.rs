//! Limits around account recovery: fixed-window quotas that keep the "forgot password" form
//! from mailing a user (or being driven from one address) without bound, and the change of a
//! signed-in user's password counted against the account's sign-in throttle, so the form cannot
//! be used to guess the current password faster than the sign-in page (OWASP Forgot Password
//! Cheat Sheet; OWASP Authentication Cheat Sheet, "Login Throttling").
//!
//! Quotas live in the sign-in counters' table under their own key prefixes. A quota row carries
//! the end of its window as its `locked_until`, so the pruning of stale sign-in counters (whose
//! window is the tenant's `lockout.window_secs`) keeps it until the quota's own window is over.

use std::net::IpAddr;

use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};
use tessera_core::{Clock, TenantId, UserId};
use tessera_store::{AuditEventRecord, TenantRecord, ThrottleRecord, audit};

use crate::links::PasswordSet;
use crate::policy::check_password;
use crate::throttle::{self, ip_key, user_key};
use crate::{Authenticator, AuthnError, LoginError};

/// Compare-and-swap rounds before a busy quota counts as spent.
const CAS_ATTEMPTS: usize = 8;

/// The quota key of reset requests from one client address (per /64 for IPv6, as sign-in).
pub fn reset_ip_key(ip: IpAddr) -> String {
    format!("reset-{}", ip_key(ip))
}

/// The quota key of reset mails to one account.
pub fn reset_mail_key(user: UserId) -> String {
    format!("reset-mail:{user}")
}

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password is wrong (the attempt was counted).
    #[error("The current password is not right.")]
    WrongCurrent,
    /// The new password breaks the tenant's policy; the message says how.
    #[error("{0}")]
    Weak(String),
    /// The account has no password to change.
    #[error("This account has no password.")]
    NoPassword,
    /// Too many failures: the throttle's message (wait, or locked).
    #[error("{0}")]
    Throttled(LoginError),
    /// The password changed meanwhile (another request won); try again.
    #[error("The password was changed meanwhile. Try again.")]
    Conflict,
    /// The database or the hash pool failed.
    #[error(transparent)]
    Failed(AuthnError),
}

/// Audit action: a password-reset link was mailed.
pub const RESET_REQUESTED: &str = "user.password_reset_requested";
/// Audit action: a password was set from a reset link.
pub const RESET_DONE: &str = "user.password_reset";
/// Audit action: a signed-in user changed the password.
pub const PASSWORD_CHANGED: &str = "user.password_changed";

/// Who asked, for an audit event: the client's address and user agent (never an e-mail
/// address, a token or a password).
#[derive(Clone, Debug, Default)]
pub struct Requester {
    /// Client address.
    pub ip: Option<String>,
    /// User agent, cut to 256 characters.
    pub user_agent: Option<String>,
}

/// Records audit event `action` about `user` on `db` (a connection or the caller's
/// transaction); `actor` is `user:<id>` or `anonymous` (a reset asked for by someone unknown).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    action: &str,
    actor: &str,
    user: UserId,
    requester: &Requester,
    details: serde_json::Value,
) -> Result<(), AuthnError> {
    audit::insert(
        db,
        &AuditEventRecord {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant,
            occurred_at: Clock.now(),
            action: action.to_owned(),
            actor: actor.to_owned(),
            user_id: Some(user),
            client_id: None,
            ip: requester.ip.clone(),
            user_agent: requester
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(256).collect()),
            details,
        },
    )
    .await?;
    Ok(())
}

impl Authenticator {
    /// Takes one unit of the fixed-window quota `key` (`limit` per `window_secs`); `false` when
    /// the window's quota is spent. Safe under concurrency (compare-and-swap on the row).
    pub async fn take_quota(
        &self,
        tenant: TenantId,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<bool, AuthnError> {
        let counters = self.store.ephemeral();
        for _ in 0..CAS_ATTEMPTS {
            let current = counters.find_counter(tenant, key).await?;
            let live = current
                .as_ref()
                .filter(|r| now < r.window_started_at.saturating_add(window_secs));
            let (used, started) = match live {
                Some(r) => (r.failures, r.window_started_at),
                None => (0, now),
            };
            if used >= limit {
                return Ok(false);
            }
            let next = ThrottleRecord {
                tenant_id: tenant,
                key: key.to_owned(),
                failures: used + 1,
                window_started_at: started,
                // Keeps the pruner of sign-in counters off the row until the window ends.
                locked_until: Some(started.saturating_add(window_secs)),
                updated_at: now,
            };
            // The quota matters until its window ends (held in `locked_until` above).
            let keep_until = started.saturating_add(window_secs);
            if counters
                .compare_and_set_counter(current.as_ref(), &next, keep_until)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Changes a signed-in user's password ([`Authenticator::change_password`]) with the
    /// attempt counted on the account's sign-in counter first: a wrong current password is a
    /// failed sign-in (delays, then the temporary lock, shared with the sign-in page); any other
    /// outcome takes the attempt back. The new password's policy is checked before anything is
    /// counted, so a weak new password never costs an attempt.
    pub async fn change_password_throttled(
        &self,
        tenant: &TenantRecord,
        user: UserId,
        current: SecretString,
        new: SecretString,
        keep_sid: Option<&str>,
    ) -> Result<PasswordSet, ChangeError> {
        let record = match self.user(tenant.id, user).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(ChangeError::Failed(AuthnError::NotFound)),
            Err(e) => return Err(ChangeError::Failed(e)),
        };
        if record.password_hash.is_none() {
            return Err(ChangeError::NoPassword);
        }
        if let Err(e) = check_password(
            &tenant.settings.password,
            new.expose_secret(),
            &record.username,
        ) {
            return Err(match e {
                AuthnError::Invalid(message) => ChangeError::Weak(message),
                other => ChangeError::Failed(other),
            });
        }
        let now = Clock.now();
        let reservation = throttle::reserve(
            &self.store,
            tenant.id,
            user_key(user),
            &tenant.settings.lockout,
            now,
        )
        .await
        .map_err(ChangeError::Throttled)?;
        let outcome = self
            .change_password(tenant, user, current, new, keep_sid)
            .await;
        match outcome {
            Ok(set) => {
                // As a successful sign-in: the account's counter starts afresh.
                let counters = self.store.ephemeral();
                if let Err(e) = counters.delete_counter(tenant.id, &reservation.key).await {
                    tracing::warn!(error = %e, "clearing the sign-in counter failed");
                }
                Ok(set)
            }
            // The policy passed and the account has a password: the current one was wrong.
            Err(AuthnError::Invalid(_)) => Err(match reservation.locked_until {
                Some(until) => ChangeError::Throttled(LoginError::Locked {
                    until,
                    locked_now: true,
                }),
                None => ChangeError::WrongCurrent,
            }),
            Err(other) => {
                if let Err(e) = throttle::forgive(&self.store, tenant.id, &reservation).await {
                    tracing::warn!(error = %e, "taking back a password-change attempt failed");
                }
                Err(match other {
                    AuthnError::Conflict => ChangeError::Conflict,
                    e => ChangeError::Failed(e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn quota_keys_never_collide_with_sign_in_counters() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(reset_ip_key(ip), "reset-ip:192.0.2.1");
        assert_ne!(reset_ip_key(ip), ip_key(ip));
        let user = UserId::new();
        assert!(reset_mail_key(user).starts_with("reset-mail:"));
        assert_ne!(reset_mail_key(user), user_key(user));
    }
}
