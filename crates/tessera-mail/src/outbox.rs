//! Queuing mail: [`Outbox::enqueue`] renders the tenant's templates (its overrides, its
//! branding) for one message, picks the tenant's sender, and inserts the row, on any connection or
//! transaction, so a mail is queued in the same transaction as the change that causes it.

use std::str::FromStr;

use lettre::Address;
use lettre::message::Mailbox;
use sea_orm::ConnectionTrait;
use tessera_core::Clock;
use tessera_store::mail_outbox::{self, NewMail};
use tessera_tenants::TenantSnapshot;
use tessera_tenants::emails::EmailContent;
use uuid::Uuid;

use crate::MailError;

/// One mail to queue.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The recipient's address (`local@domain`).
    pub to: String,
    /// What it says.
    pub content: EmailContent,
}

/// The enqueue side of the mail outbox; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    default_sender: Mailbox,
}

impl Outbox {
    /// An outbox whose mails come from `default_sender` unless the tenant names its own.
    pub fn new(default_sender: Mailbox) -> Self {
        Self { default_sender }
    }

    /// The sender of `tenant`'s mail: its `mail.from` and `mail.from_name` settings, each
    /// falling back to the deployment's `mail.from`.
    pub fn sender(&self, tenant: &TenantSnapshot) -> Mailbox {
        let policy = &tenant.tenant.settings.mail;
        let address = policy
            .from
            .as_deref()
            .and_then(|a| Address::from_str(a).ok())
            .unwrap_or_else(|| self.default_sender.email.clone());
        let name = policy
            .from_name
            .clone()
            .or_else(|| self.default_sender.name.clone());
        Mailbox::new(name, address)
    }

    /// Renders `mail` with `tenant`'s templates and queues it on `db` (a connection or the
    /// caller's transaction); returns the outbox id. The Mailer sends it within
    /// `mail.poll_interval_ms`.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantSnapshot,
        mail: Mail,
    ) -> Result<Uuid, MailError> {
        let to = parse_recipient(&mail.to)?;
        let rendered = tenant
            .emails()
            .render(&mail.content, &tenant.look())
            .map_err(|e| MailError::Unexpected(anyhow::Error::new(e)))?;
        let new = NewMail {
            tenant_id: tenant.tenant.id,
            template: mail.content.kind().as_str().to_owned(),
            from: self.sender(tenant).to_string(),
            to: to.to_string(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: rendered.html,
        };
        let id = mail_outbox::enqueue(db, &new, Clock.now()).await?;
        tracing::info!(tenant = %tenant.tenant.slug, mail = %id, template = %new.template, "mail queued");
        Ok(id)
    }
}

/// A recipient: one plain address, nothing that could smuggle a second one or a header in.
pub fn parse_recipient(raw: &str) -> Result<Address, MailError> {
    let raw = raw.trim();
    if raw.len() > 254 || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(MailError::InvalidAddress);
    }
    Address::from_str(raw).map_err(|_| MailError::InvalidAddress)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_recipient_is_one_plain_address() {
        assert!(parse_recipient("alice@example.com").is_ok());
        assert!(parse_recipient("alice@example.com\r\nBcc: eve@example.com").is_err());
        assert!(parse_recipient("alice@example.com, eve@example.com").is_err());
        assert!(parse_recipient("Alice <alice@example.com>").is_err());
        assert!(parse_recipient("not-an-address").is_err());
    }

    #[test]
    fn a_stored_sender_parses_back() {
        for name in ["Acme", "Acme, Inc. \"Support\"", "Zürich Bank"] {
            let mailbox = Mailbox::new(
                Some(name.to_owned()),
                Address::from_str("no-reply@acme.example").unwrap(),
            );
            let back = Mailbox::from_str(&mailbox.to_string()).unwrap();
            assert_eq!(back, mailbox, "{name}");
        }
    }
}
