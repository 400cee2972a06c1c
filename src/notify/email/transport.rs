//! The [`Mailer`]: one of SMTP (lettre, pooled), `.eml` files, or a log line per message.
//!
//! Errors name what failed (the transport, the server, the recipients) and never a
//! credential: the password lives only inside lettre's `Credentials`, and [`Mailer`]'s
//! `Debug` shows the transport kind and server alone.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::MailError;
use crate::config::{EmailTransport, NotifyConfig, SmtpTls};

/// Sends messages through the configured transport (SMTP, file or log).
#[derive(Clone)]
pub struct Mailer {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Smtp(Arc<Smtp>),
    File {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
    Log,
}

struct Smtp {
    /// `host:port`, for messages.
    server: String,
    builder: AsyncSmtpTransportBuilder,
    /// Built on first use: lettre's pool spawns its cleanup task at build time, which needs
    /// a Tokio runtime, and `from_config` may run before one exists (or in a sync test).
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    /// Prepares the transport. Nothing is connected yet: an unreachable SMTP server shows
    /// in [`Mailer::send`]'s error, while bad settings (a TLS host name that cannot be one,
    /// half of a credential pair, a mail folder that cannot be created) fail here.
    pub fn from_config(config: &NotifyConfig) -> Result<Mailer, MailError> {
        let inner = match &config.email {
            EmailTransport::Log => Inner::Log,
            EmailTransport::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    MailError(format!(
                        "cannot create the mail folder {}: {e}",
                        dir.display()
                    ))
                })?;
                Inner::File {
                    dir: dir.clone(),
                    transport: AsyncFileTransport::new(dir),
                }
            }
            EmailTransport::Smtp {
                host,
                port,
                tls,
                username,
                password,
            } => {
                let server = format!("{host}:{port}");
                let tls_error = |e: lettre::transport::smtp::Error| {
                    MailError(format!("SMTP server {server}: TLS setup failed: {e}"))
                };
                let builder = match tls {
                    // STARTTLS is required, never opportunistic: a server (or an attacker
                    // stripping the capability) cannot downgrade us to plain text.
                    SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(tls_error)?,
                    SmtpTls::Tls => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?
                    }
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                };
                // lettre's timeout bounds each SMTP command, so one slow server cannot
                // hold a delivery worker forever.
                let mut builder = builder.port(*port).timeout(Some(config.attempt_timeout));
                match (username, password) {
                    (Some(user), Some(password)) => {
                        if *tls == SmtpTls::None {
                            tracing::warn!(server = %server, "SMTP credentials will be sent without TLS");
                        }
                        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(MailError(format!(
                            "SMTP server {server}: a username and a password are both needed, only one is set"
                        )))
                    }
                }
                Inner::Smtp(Arc::new(Smtp {
                    server,
                    builder,
                    transport: OnceLock::new(),
                }))
            }
        };
        Ok(Mailer { inner })
    }

    /// Sends one message; `Ok` means the SMTP server accepted it (or the file was written,
    /// or the line logged).
    pub async fn send(&self, message: lettre::Message) -> Result<(), MailError> {
        let to = recipients(&message);
        match &self.inner {
            Inner::Smtp(smtp) => {
                let transport = smtp.transport.get_or_init(|| smtp.builder.clone().build());
                transport.send(message).await.map(drop).map_err(|e| {
                    MailError(format!(
                        "sending mail to {to} through SMTP server {} failed: {e}",
                        smtp.server
                    ))
                })
            }
            Inner::File { dir, transport } => {
                // The folder may have been removed since start (a cleaned demo directory).
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    MailError(format!(
                        "cannot create the mail folder {}: {e}",
                        dir.display()
                    ))
                })?;
                transport.send(message).await.map(drop).map_err(|e| {
                    MailError(format!(
                        "writing mail to {to} into {} failed: {e}",
                        dir.display()
                    ))
                })
            }
            Inner::Log => {
                // Recipients and subject only: bodies hold personal links (confirm, manage).
                let subject = message.headers().get_raw("Subject").unwrap_or("");
                tracing::info!(to = %to, subject = %subject, "email (log transport: not sent)");
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Smtp(smtp) => write!(f, "Mailer(smtp {})", smtp.server),
            Inner::File { dir, .. } => write!(f, "Mailer(file {})", dir.display()),
            Inner::Log => f.write_str("Mailer(log)"),
        }
    }
}

/// The envelope recipients, comma-separated, for logs and errors.
fn recipients(message: &Message) -> String {
    let to: Vec<String> = message
        .envelope()
        .to()
        .iter()
        .map(ToString::to_string)
        .collect();
    to.join(", ")
}
