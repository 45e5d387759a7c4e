//! Authentication of a tenant's users: user accounts, argon2id passwords hashed off the reactor,
//! failed-login throttling and lockout, second factors (TOTP, recovery codes, passkeys) and server-side
//! SSO sessions.
//!
//! Everything goes through the [`Authenticator`]; [`policy`], [`hasher`] and [`throttle`] hold
//! the rules it applies, usable on their own.

mod authenticator;
mod breached;
mod error;
pub mod hasher;
pub mod links;
pub mod mfa;
pub mod passkeys;
pub mod policy;
pub mod recovery;
pub mod signup;
pub mod throttle;
pub mod totp;

#[cfg(test)]
mod tests;

pub use authenticator::{ActiveSession, Authenticator, NewSession, NewUser, UserPatch};
pub use error::{AuthnError, LoginError};
pub use mfa::{Factor, MfaStatus, SecondFactor, TotpEnrolment};
pub use passkeys::{PasskeyCeremony, PasskeyError, PasskeySignIn, RelyingParty};
