//! Self-registration (tenant policy `accounts.signup = open`): the rules a new account passes,
//! a per-address limit on how many accounts one client may create, and the answer for an
//! address that already has an account — indistinguishable from a fresh sign-up, so the form
//! reveals nothing about which addresses are registered (OWASP Authentication Cheat Sheet,
//! "Authentication and Error Messages"). The confirmation mail is the caller's to send.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::{Clock, TenantId, UserId};
use tessera_store::account_links::{self, LinkKind};
use tessera_store::{
    AuditEventRecord, StandardClaims, StoreError, TenantRecord, ThrottleRecord, UserRecord, audit,
    users,
};

use crate::policy::{check_password, normalize_email, normalize_username};
use crate::throttle::ip_key;
use crate::{Authenticator, AuthnError, NewUser};

/// Accounts one client address (IPv6: one /64) may create per [`SIGNUP_WINDOW_SECS`].
pub const SIGNUPS_PER_WINDOW: u32 = 5;
/// The sign-up counting window, seconds.
pub const SIGNUP_WINDOW_SECS: i64 = 3_600;
/// A new confirmation link is mailed at a refused sign-in only if none was sent this recently,
/// seconds.
pub const VERIFICATION_RESEND_SECS: i64 = 300;
/// The audit action of a self-registration.
pub const USER_SIGNED_UP: &str = "user.signed_up";
/// Re-reads of a counter that concurrent sign-ups keep changing before giving up.
const CAS_ATTEMPTS: usize = 8;

/// The sign-up counter of a client address.
pub fn signup_key(ip: IpAddr) -> String {
    format!("signup:{}", ip_key(ip))
}

/// What the sign-up form submitted.
#[derive(Debug)]
pub struct NewSignUp {
    /// Wanted username (normalized like an admin-created one).
    pub username: String,
    /// E-mail address (required).
    pub email: String,
    /// Password, checked against the tenant's policy.
    pub password: SecretString,
    /// The client's address, for the per-address limit and the audit event.
    pub ip: Option<IpAddr>,
}

/// What a sign-up did. Both are answered alike ("check your e-mail").
#[derive(Debug)]
pub enum SignUp {
    /// A new, unverified account.
    Created(UserRecord),
    /// The address already belongs to this account: nothing was created. The requester must
    /// not learn it; the owner may be mailed.
    AddressInUse(UserRecord),
}

/// Why a sign-up was refused; `Display` is the message for the form.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// Too many accounts from this address lately.
    #[error("Too many accounts were created from your network recently. Try again later.")]
    Throttled {
        /// Seconds until the window ends (the `Retry-After` value).
        retry_after_secs: i64,
    },
    /// The username is taken (a sign-up form cannot avoid saying so).
    #[error("This username is already taken. Choose another one.")]
    UsernameTaken,
    /// A field or the password breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The database or the hashing pool is unavailable.
    #[error("Sign-up is temporarily unavailable. Try again in a moment.")]
    Unavailable,
    /// Anything else; the cause stays in the source chain.
    #[error("Sign-up failed unexpectedly. Try again later.")]
    Unexpected(#[source] anyhow::Error),
}

impl From<AuthnError> for SignUpError {
    fn from(err: AuthnError) -> Self {
        match err {
            AuthnError::Conflict => SignUpError::UsernameTaken,
            AuthnError::Invalid(message) => SignUpError::Invalid(sentence(&message)),
            AuthnError::Unavailable => SignUpError::Unavailable,
            AuthnError::Unexpected(e) => SignUpError::Unexpected(e),
            other => SignUpError::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<StoreError> for SignUpError {
    fn from(err: StoreError) -> Self {
        AuthnError::from(err).into()
    }
}

/// "password must be…" → "Password must be….": the policy's messages as form sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl Authenticator {
    /// Creates a self-registered account (e-mail unverified) and records `user.signed_up`, or,
    /// when the address already has an account, does the same work and creates nothing. The
    /// fields and password are checked first (free); then the client address is counted
    /// against [`SIGNUPS_PER_WINDOW`].
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn sign_up(
        &self,
        tenant: &TenantRecord,
        new: NewSignUp,
    ) -> Result<SignUp, SignUpError> {
        let username = normalize_username(&new.username)?;
        let email = normalize_email(&new.email)?;
        check_password(
            &tenant.settings.password,
            new.password.expose_secret(),
            &username,
        )?;
        let now = Clock.now();
        if let Some(ip) = new.ip {
            self.count_signup(tenant.id, ip, now).await?;
        }
        let db = self.store.conn();
        if users::find_by_username(db, tenant.id, &username)
            .await?
            .is_some()
        {
            return Err(SignUpError::UsernameTaken);
        }
        if let Some(owner) = self.address_owner(tenant.id, &email).await? {
            // The same argon2 work as a real sign-up, so the answer's timing tells nothing.
            self.hash_for(tenant, &new.password, &username).await?;
            tracing::info!("sign-up with an address that already has an account: nothing created");
            return Ok(SignUp::AddressInUse(owner));
        }
        let user = self
            .create_user(
                tenant,
                NewUser {
                    username,
                    email: Some(email),
                    email_verified: false,
                    claims: StandardClaims::default(),
                    password: Some(new.password),
                },
            )
            .await?;
        audit::insert(
            db,
            &AuditEventRecord {
                id: uuid::Uuid::now_v7(),
                tenant_id: tenant.id,
                occurred_at: now,
                action: USER_SIGNED_UP.to_owned(),
                actor: crate::mfa::user_actor(user.id),
                user_id: Some(user.id),
                client_id: None,
                ip: new.ip.map(|ip| ip.to_string()),
                user_agent: None,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tracing::info!(user = %user.id, "a user signed up");
        Ok(SignUp::Created(user))
    }

    /// The oldest account of the tenant with this address (as typed, or lowercased).
    async fn address_owner(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let db = self.store.conn();
        if let Some(owner) = users::find_by_email(db, tenant, email, 1).await?.pop() {
            return Ok(Some(owner));
        }
        let lower = email.to_lowercase();
        if lower == email {
            return Ok(None);
        }
        Ok(users::find_by_email(db, tenant, &lower, 1).await?.pop())
    }

    /// Counts one sign-up of `ip` in its fixed window; `Throttled` past the limit. The row's
    /// `locked_until` holds the window's end so the janitor keeps it until then.
    async fn count_signup(
        &self,
        tenant: TenantId,
        ip: IpAddr,
        now: i64,
    ) -> Result<(), SignUpError> {
        let key = signup_key(ip);
        let counters = self.store.ephemeral();
        for _ in 0..CAS_ATTEMPTS {
            let old = counters.find_counter(tenant, &key).await?;
            let live = old
                .as_ref()
                .filter(|r| now < r.window_started_at.saturating_add(SIGNUP_WINDOW_SECS));
            let (count, started) = live.map_or((0, now), |r| (r.failures, r.window_started_at));
            if count >= SIGNUPS_PER_WINDOW {
                return Err(SignUpError::Throttled {
                    retry_after_secs: (started + SIGNUP_WINDOW_SECS - now).max(1),
                });
            }
            let new = ThrottleRecord {
                tenant_id: tenant,
                key: key.clone(),
                failures: count + 1,
                window_started_at: started,
                locked_until: Some(started + SIGNUP_WINDOW_SECS),
                updated_at: now,
            };
            let keep_until = started + SIGNUP_WINDOW_SECS;
            if counters
                .compare_and_set_counter(old.as_ref(), &new, keep_until)
                .await?
            {
                return Ok(());
            }
        }
        Err(SignUpError::Unavailable)
    }

    /// Whether a user refused at sign-in for an unconfirmed address should be mailed a new
    /// link: not if a live one was sent in the last [`VERIFICATION_RESEND_SECS`].
    pub async fn verification_due(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<bool, AuthnError> {
        let since = Clock.now() - VERIFICATION_RESEND_SECS;
        Ok(!account_links::issued_since(
            self.store.conn(),
            tenant,
            user,
            LinkKind::VerifyEmail,
            since,
        )
        .await?)
    }
}

/// Whether the tenant refuses `user` at sign-in until the address is confirmed: the policy
/// `accounts.require_verified_email`, for a user who has an address (admin-created users
/// without one are not affected) that is not verified.
pub fn needs_verified_email(tenant: &TenantRecord, user: &UserRecord) -> bool {
    tenant.settings.accounts.require_verified_email && user.email.is_some() && !user.email_verified
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn policy_messages_become_sentences() {
        assert_eq!(
            sentence("password must be at least 12 characters"),
            "Password must be at least 12 characters."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn signup_counters_are_kept_apart_from_sign_in_counters() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(signup_key(ip), "signup:ip:192.0.2.7");
    }
}
