//! The two error types of this crate's boundary: [`AuthnError`] for account and session
//! management, [`LoginError`] for password sign-in, whose messages are shown to the user.

use tessera_store::StoreError;

/// Failures of user and session management.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    /// No such user (or session).
    #[error("user not found")]
    NotFound,
    /// The username is already taken in this tenant.
    #[error("this username is already taken")]
    Conflict,
    /// A username, e-mail address, claim or password breaks a rule; the message says which and
    /// is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The database or the password-hashing pool is unavailable or saturated; retrying later is
    /// safe.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AuthnError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AuthnError::NotFound,
            StoreError::Conflict => AuthnError::Conflict,
            e if e.is_unavailable() => AuthnError::Unavailable,
            e => AuthnError::Unexpected(anyhow::Error::new(e)),
        }
    }
}

/// Why a password sign-in was refused. `Display` is the message for the sign-in page: it never
/// says whether the username exists, nor an account's status unless the password was right.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown username or wrong password (indistinguishable on purpose).
    #[error("Incorrect username or password.")]
    InvalidCredentials,
    /// Too many recent failures for this account or address: wait this many seconds.
    #[error("Too many failed attempts. Try again in {}.", seconds(*retry_after_secs))]
    Throttled {
        /// Seconds until the next attempt is accepted (the `Retry-After` value).
        retry_after_secs: i64,
    },
    /// Sign-in for this account or address is locked after too many failures, until then.
    #[error("Too many failed attempts: sign-in is locked for a while. Try again later.")]
    Locked {
        /// End of the lock, Unix seconds.
        until: i64,
        /// Whether this very attempt was the failure that set the lock (audited `user.locked`).
        locked_now: bool,
    },
    /// The password was right but an administrator disabled or locked the account.
    #[error("This account is disabled. Contact your administrator.")]
    AccountDisabled,
    /// The database or the hashing pool is unavailable or saturated.
    #[error("Sign-in is temporarily unavailable. Try again in a moment.")]
    Unavailable,
    /// Anything else; the cause stays in the source chain, never in the message.
    #[error("Sign-in failed unexpectedly. Try again later.")]
    Unexpected(#[source] anyhow::Error),
}

impl From<AuthnError> for LoginError {
    fn from(err: AuthnError) -> Self {
        match err {
            AuthnError::Unavailable => LoginError::Unavailable,
            AuthnError::Unexpected(e) => LoginError::Unexpected(e),
            other => LoginError::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(err: StoreError) -> Self {
        AuthnError::from(err).into()
    }
}

/// "1 second", "8 seconds".
fn seconds(n: i64) -> String {
    if n == 1 {
        "1 second".to_owned()
    } else {
        format!("{n} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_messages_are_for_people_and_leak_nothing() {
        assert_eq!(
            LoginError::Throttled {
                retry_after_secs: 8
            }
            .to_string(),
            "Too many failed attempts. Try again in 8 seconds."
        );
        assert_eq!(
            LoginError::Throttled {
                retry_after_secs: 1
            }
            .to_string(),
            "Too many failed attempts. Try again in 1 second."
        );
        let secret = LoginError::Unexpected(anyhow::anyhow!("db password hunter2"));
        assert!(!secret.to_string().contains("hunter2"));
        assert_eq!(
            LoginError::from(AuthnError::Unavailable).to_string(),
            LoginError::Unavailable.to_string()
        );
    }
}
