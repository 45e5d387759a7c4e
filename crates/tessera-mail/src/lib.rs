//! The Mailer: everything Tessera sends by e-mail. It owns the durable mail outbox (a mail is
//! rendered from the tenant's templates and queued, in the caller's transaction, by
//! [`Outbox::enqueue`]), the [`Mailer`] actor that delivers it from every node with retries, and
//! the transports: SMTP through lettre for production, or `.eml` files under the data directory
//! for the embedded default. The templates themselves live with the pages in `tessera-tenants`
//! ([`tessera_tenants::emails`]), so tenants override both through one API.

pub mod links;
mod mailer;
mod outbox;
mod settings;
mod transport;

pub use links::{link_mail, link_url};
pub use mailer::{Mailer, StopMailer, retry_delay};
pub use outbox::{Mail, Outbox, parse_recipient};
pub use settings::{MailSettings, SmtpSettings, SmtpTls, TransportKind};
pub use tessera_tenants::emails::{
    EmailContent, EmailKind, Invitation, PasswordReset, TestEmail, VerifyEmail,
};

/// Failures of queuing a mail.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient is not one plain `local@domain` address.
    #[error("the recipient is not a plain e-mail address")]
    InvalidAddress,
    /// The database is unreachable.
    #[error("the database is unavailable")]
    Unavailable,
    /// Anything else (a broken built-in template, a database error).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<tessera_store::StoreError> for MailError {
    fn from(err: tessera_store::StoreError) -> Self {
        if err.is_unavailable() {
            MailError::Unavailable
        } else {
            MailError::Unexpected(anyhow::Error::new(err).context("mail outbox"))
        }
    }
}
