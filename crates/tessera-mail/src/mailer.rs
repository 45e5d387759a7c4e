//! The `Mailer` actor: on every node, every `mail.poll_interval_ms`, claims a batch of due
//! mails of the outbox (on PostgreSQL `FOR UPDATE SKIP LOCKED`, with a lease, so two nodes never
//! send the same mail), sends each through the transport, and records the outcome: delivered
//! (bodies wiped), retried later with doubling backoff, or given up after `mail.max_attempts`
//! or a permanent refusal (logged, metadata kept). Now and then it sweeps settled rows older
//! than `mail.retention_days`.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Message};
use lettre::message::{Mailbox, MultiPart};
use tessera_core::Clock;
use tessera_store::Store;
use tessera_store::mail_outbox::{self, MailRecord, Outcome};

use crate::settings::MailSettings;
use crate::transport::{SendFailure, Transport};

/// Mails claimed per round.
const BATCH: u64 = 16;
/// Longest wait between two attempts, seconds.
const MAX_RETRY_DELAY: i64 = 3600;
/// How often settled rows are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// Longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 500;

/// The wait before attempt `attempts + 1`: `base`, doubled after each failure, at most an hour.
pub fn retry_delay(base: i64, attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    base.max(1)
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY)
}

/// The delivery actor.
pub struct Mailer {
    round: Round,
    busy: Arc<AtomicBool>,
    last_sweep: Option<Instant>,
}

impl Mailer {
    /// A mailer delivering the outbox of `store` with `settings`; the file transport writes
    /// under `data_dir`.
    pub fn new(
        store: Store,
        settings: MailSettings,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let transport = Transport::new(&settings, data_dir)?;
        tracing::info!(transport = transport.name(), "mailer ready");
        Ok(Self {
            round: Round {
                store,
                transport,
                settings: Arc::new(settings),
            },
            busy: Arc::new(AtomicBool::new(false)),
            last_sweep: None,
        })
    }
}

impl Actor for Mailer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = Duration::from_millis(self.round.settings.poll_interval_ms.max(10));
        ctx.run_interval(every, |this, _ctx| {
            // One round at a time per node; a round still running skips this tick.
            if this.busy.swap(true, Ordering::AcqRel) {
                return;
            }
            let sweep = this.last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
            if sweep {
                this.last_sweep = Some(Instant::now());
            }
            let round = this.round.clone();
            let busy = Arc::clone(&this.busy);
            // On the runtime, not in the actor, so a slow SMTP server never blocks its mailbox.
            tokio::spawn(async move {
                if let Err(e) = round.run(sweep).await {
                    tracing::warn!(error = %e, "mail delivery round failed");
                }
                busy.store(false, Ordering::Release);
            });
        });
    }
}

/// Stops the mailer (a round in flight finishes on its own).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopMailer;

impl Handler<StopMailer> for Mailer {
    type Result = ();

    fn handle(&mut self, _: StopMailer, ctx: &mut Self::Context) {
        use actix::ActorContext;
        ctx.stop();
    }
}

/// What one round needs.
#[derive(Clone)]
struct Round {
    store: Store,
    transport: Transport,
    settings: Arc<MailSettings>,
}

impl Round {
    /// Claims the due mails and sends them concurrently; sweeps settled rows when asked.
    async fn run(self, sweep: bool) -> anyhow::Result<()> {
        if sweep {
            let before = Clock.now() - self.settings.retention_days * 86_400;
            let removed = mail_outbox::delete_settled(self.store.conn(), before).await?;
            if removed > 0 {
                tracing::debug!(removed, "swept settled mail");
            }
        }
        let now = Clock.now();
        // The lease outlasts one attempt (an SMTP exchange is a handful of commands, each
        // bounded by the timeout), so a claimed mail is not claimed again meanwhile; if this
        // node dies, another takes the mail over when the lease ends.
        let timeout = i64::try_from(self.settings.smtp.timeout_secs).unwrap_or(10);
        let lease = timeout.saturating_mul(8).saturating_add(30);
        let mails = mail_outbox::claim_due(self.store.conn(), now, now + lease, BATCH).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for mail in mails {
            let round = self.clone();
            tasks.spawn(async move { round.attempt(mail).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "recording a mail delivery failed");
            }
        }
        Ok(())
    }

    /// One delivery attempt of one mail, and its outcome recorded.
    async fn attempt(&self, mail: MailRecord) -> anyhow::Result<()> {
        let attempts = mail.attempts.saturating_add(1);
        let result = match build(&mail) {
            Ok(message) => self.transport.send(mail.id, &message).await,
            Err(why) => Err(SendFailure::Permanent(why)),
        };
        let now = Clock.now();
        let (tenant, id, template) = (mail.tenant_id, mail.id, mail.template.as_str());
        let outcome = match result {
            Ok(()) => {
                tracing::info!(%tenant, mail = %id, template, attempts, transport = self.transport.name(), "mail delivered");
                Outcome::Delivered
            }
            Err(SendFailure::Permanent(why)) => {
                tracing::warn!(%tenant, mail = %id, template, attempts, error = %why, "mail refused for good; given up");
                Outcome::GivenUp(bounded(why))
            }
            Err(SendFailure::Transient(why)) if attempts >= self.settings.max_attempts.max(1) => {
                tracing::warn!(%tenant, mail = %id, template, attempts, error = %why, "mail given up after its last attempt");
                Outcome::GivenUp(bounded(why))
            }
            Err(SendFailure::Transient(why)) => {
                let delay = retry_delay(self.settings.retry_base_secs, attempts);
                tracing::info!(%tenant, mail = %id, template, attempts, retry_in = delay, error = %why, "mail delivery failed; will retry");
                Outcome::RetryAt(now + delay, bounded(why))
            }
        };
        if !mail_outbox::record_attempt(self.store.conn(), &mail, &outcome, now).await? {
            tracing::warn!(%tenant, mail = %id, "the mail's lease ran out before its outcome was recorded; another node took it over");
        }
        Ok(())
    }
}

fn bounded(error: String) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// The RFC 5322 message of a stored mail: `multipart/alternative` with the text part first and
/// the HTML part last, the preferred one (RFC 2046 §5.1.4). The `Message-ID` derives from the
/// outbox id, so a mail sent again after a lost outcome carries the same id (RFC 5322 §3.6.4).
fn build(mail: &MailRecord) -> Result<lettre::Message, String> {
    let from = Mailbox::from_str(&mail.from).map_err(|_| "the stored sender does not parse")?;
    let to = Mailbox::from_str(&mail.to).map_err(|_| "the stored recipient does not parse")?;
    let (Some(text), Some(html)) = (mail.text_body.clone(), mail.html_body.clone()) else {
        return Err("the mail has no body".into());
    };
    let message_id = format!("<{}@{}>", mail.id, from.email.domain());
    lettre::Message::builder()
        .message_id(Some(message_id))
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .date_now()
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("the message cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn retries_double_up_to_an_hour() {
        assert_eq!(retry_delay(30, 1), 30);
        assert_eq!(retry_delay(30, 2), 60);
        assert_eq!(retry_delay(30, 3), 120);
        assert_eq!(retry_delay(30, 40), 3600);
        assert_eq!(retry_delay(0, 1), 1);
    }

    #[test]
    fn a_stored_mail_becomes_a_multipart_message_with_a_stable_id() {
        let mail = MailRecord {
            tenant_id: tessera_core::TenantId::new(),
            id: uuid::Uuid::now_v7(),
            template: "test".into(),
            from: "\"Acme, Inc.\" <no-reply@acme.example>".into(),
            to: "alice@example.com".into(),
            subject: "Hello".into(),
            text_body: Some("plain".into()),
            html_body: Some("<p>rich</p>".into()),
            attempts: 0,
            lease_until: 0,
        };
        let raw = String::from_utf8(build(&mail).unwrap().formatted()).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{}@acme.example>", mail.id)));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.find("text/plain").unwrap() < raw.find("text/html").unwrap());
        let wiped = MailRecord {
            text_body: None,
            ..mail
        };
        assert!(build(&wiped).is_err());
    }
}
