//! The deployment's `[mail]` settings: which transport delivers the outbox (a file per message
//! under the data directory, or SMTP), the default sender, and the worker's pace and retries.

use std::path::PathBuf;
use std::str::FromStr;

use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::Deserialize;

/// How mail leaves the server.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Each message is written as `{data_dir}/mail/{id}.eml` (the embedded default).
    #[default]
    File,
    /// Each message is sent to `mail.smtp.host`.
    Smtp,
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (RFC 3207); port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (RFC 8314 §3.3 "implicit TLS"); port 465.
    Tls,
    /// No encryption: only for a relay on the loopback interface (tests, a local relay).
    None,
}

/// `[mail.smtp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name (also the name its certificate must carry).
    pub host: String,
    /// Port; unset: 587 (starttls), 465 (tls) or 25 (none).
    pub port: Option<u16>,
    /// Connection security.
    pub tls: SmtpTls,
    /// User name for SMTP AUTH (RFC 4954); unset: no authentication.
    pub username: Option<String>,
    /// Password for SMTP AUTH; never logged.
    pub password: Option<SecretString>,
    /// Timeout of one SMTP command, seconds.
    pub timeout_secs: u64,
    /// PEM file of extra CA certificates to trust for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Allows `tls = "none"` to a host that is not on the loopback interface: only for a relay
    /// on a private network the operator trusts (the docker-compose SMTP catcher). Default false.
    pub allow_plaintext: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            timeout_secs: 10,
            ca_file: None,
            allow_plaintext: false,
        }
    }
}

impl SmtpSettings {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }

    fn host_is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// `[mail]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The transport.
    pub transport: TransportKind,
    /// The default sender, `Name <address>` or `address`; a tenant's `mail.from` and
    /// `mail.from_name` settings override it.
    pub from: String,
    /// How often each node looks for due mail, milliseconds.
    pub poll_interval_ms: u64,
    /// Attempts before a mail is given up.
    pub max_attempts: i32,
    /// Wait before the first retry, seconds; doubled after each failure (at most an hour).
    pub retry_base_secs: i64,
    /// Days a delivered or given-up mail's metadata is kept.
    pub retention_days: i64,
    /// SMTP settings (when `transport = "smtp"`).
    pub smtp: SmtpSettings,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            from: "Tessera <no-reply@localhost>".into(),
            poll_interval_ms: 1000,
            max_attempts: 8,
            retry_base_secs: 30,
            retention_days: 7,
            smtp: SmtpSettings::default(),
        }
    }
}

impl MailSettings {
    /// The default sender, parsed.
    pub fn default_sender(&self) -> anyhow::Result<Mailbox> {
        Mailbox::from_str(self.from.trim()).map_err(|_| {
            anyhow::anyhow!("mail.from is not a mailbox such as `Acme <no-reply@acme.example>`")
        })
    }

    /// Checks the ranges and the rules: a parsable sender, an SMTP host, user name and password
    /// together, and no plaintext SMTP except to the loopback interface.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.default_sender()?;
        anyhow::ensure!(
            self.poll_interval_ms >= 10,
            "mail.poll_interval_ms must be at least 10"
        );
        anyhow::ensure!(
            (1..=100).contains(&self.max_attempts),
            "mail.max_attempts must be 1..=100"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.retry_base_secs),
            "mail.retry_base_secs must be 1..=3600"
        );
        anyhow::ensure!(
            (1..=3650).contains(&self.retention_days),
            "mail.retention_days must be 1..=3650"
        );
        if self.transport == TransportKind::Smtp {
            let smtp = &self.smtp;
            anyhow::ensure!(!smtp.host.trim().is_empty(), "mail.smtp.host is required");
            anyhow::ensure!(
                (1..=300).contains(&smtp.timeout_secs),
                "mail.smtp.timeout_secs must be 1..=300"
            );
            anyhow::ensure!(
                smtp.username.is_some() == smtp.password.is_some(),
                "mail.smtp.username and mail.smtp.password go together"
            );
            anyhow::ensure!(
                smtp.tls != SmtpTls::None || smtp.host_is_loopback() || smtp.allow_plaintext,
                "mail.smtp.tls = \"none\" is allowed only for a server on the loopback interface \
                 (localhost), or with mail.smtp.allow_plaintext; use \"starttls\" or \"tls\""
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_are_valid_and_plaintext_smtp_is_loopback_only() {
        MailSettings::default().validate().unwrap();
        let mut s = MailSettings {
            transport: TransportKind::Smtp,
            ..Default::default()
        };
        s.smtp.tls = SmtpTls::None;
        s.smtp.host = "127.0.0.1".into();
        s.validate().unwrap();
        assert_eq!(s.smtp.port(), 25);
        s.smtp.host = "smtp.example.com".into();
        assert!(s.validate().is_err());
        s.smtp.allow_plaintext = true;
        s.validate().unwrap();
        s.smtp.allow_plaintext = false;
        s.smtp.tls = SmtpTls::Tls;
        s.validate().unwrap();
        assert_eq!(s.smtp.port(), 465);
        s.smtp.username = Some("tessera".into());
        assert!(s.validate().is_err(), "a user name needs its password");
        s.from = "not an address".into();
        s.smtp.username = None;
        assert!(s.validate().is_err());
    }
}
