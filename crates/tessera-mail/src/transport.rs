//! The transports: SMTP through lettre (STARTTLS, implicit TLS or, on loopback only, plain;
//! optional AUTH), or one `.eml` file per message under `{data_dir}/mail/`. A failure says
//! whether another attempt may succeed (RFC 5321 §4.2.1: 4yz replies are transient, 5yz
//! permanent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::settings::{MailSettings, SmtpTls, TransportKind};

/// Why a message was not delivered.
#[derive(Debug)]
pub enum SendFailure {
    /// Worth another attempt later (connection refused, timeout, a 4yz reply).
    Transient(String),
    /// The server refused the message for good (a 5yz reply).
    Permanent(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (pooled connections).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// A directory of `.eml` files.
    File(PathBuf),
}

impl Transport {
    /// The transport `settings` describe; the file transport writes under `data_dir/mail`.
    pub fn new(settings: &MailSettings, data_dir: &Path) -> anyhow::Result<Self> {
        match settings.transport {
            TransportKind::File => {
                let dir = data_dir.join("mail");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating the mail directory {}", dir.display()))?;
                Ok(Transport::File(dir))
            }
            TransportKind::Smtp => {
                let smtp = &settings.smtp;
                let host = smtp.host.trim().to_owned();
                let tls_parameters = || -> anyhow::Result<TlsParameters> {
                    let mut builder = TlsParameters::builder(host.clone());
                    if let Some(path) = &smtp.ca_file {
                        let pem = std::fs::read(path).with_context(|| {
                            format!("reading mail.smtp.ca_file {}", path.display())
                        })?;
                        let cert = Certificate::from_pem(&pem)
                            .context("mail.smtp.ca_file is not a PEM certificate")?;
                        builder = builder.add_root_certificate(cert);
                    }
                    builder.build_rustls().context("SMTP TLS parameters")
                };
                let tls = match smtp.tls {
                    SmtpTls::Starttls => Tls::Required(tls_parameters()?),
                    SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
                    SmtpTls::None => Tls::None,
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
                    .port(smtp.port())
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(smtp.timeout_secs.max(1))));
                if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_owned(),
                    ));
                }
                Ok(Transport::Smtp(builder.build()))
            }
        }
    }

    /// Delivers `message`, whose outbox id is `id`.
    pub async fn send(&self, id: Uuid, message: &Message) -> Result<(), SendFailure> {
        match self {
            Transport::Smtp(smtp) => match smtp.send(message.clone()).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendFailure::Permanent(e.to_string())),
                Err(e) => Err(SendFailure::Transient(e.to_string())),
            },
            Transport::File(dir) => {
                // Named by the outbox id: a repeated attempt rewrites the same file. Written
                // aside and renamed, so a reader never sees half a message.
                let path = dir.join(format!("{id}.eml"));
                let partial = dir.join(format!(".{id}.eml.partial"));
                let write = async {
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, &path).await
                };
                write.await.map_err(|e| {
                    SendFailure::Transient(format!("writing {}: {e}", path.display()))
                })?;
                tracing::info!(mail = %id, path = %path.display(), "mail written to {}", path.display());
                Ok(())
            }
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
        }
    }
}
