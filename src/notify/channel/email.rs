//! Delivering one mail: SMTP through lettre (STARTTLS, implicit TLS or none; AUTH), or `.eml`
//! files in a directory for the demo.
//!
//! Every mail is `multipart/alternative` (text, then HTML; inside `multipart/mixed` with a
//! `text/calendar` attachment when it carries the claim deadline) with the `Message-ID` it was queued
//! with, and `In-Reply-To`/`References` pointing at its incident's thread, so a re-send after a
//! crash is folded by mail clients and all mail about one incident threads together.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{PoolConfig, authentication::Mechanism};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{SmtpConfig, SmtpSecurity};
use crate::incident::MessageId;
use crate::incident::ids::encode_token;

/// One mail, rendered and addressed, ready for the wire.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub message_id: MessageId,
    /// For file names in the demo's directory: the notice's kind.
    pub kind: &'static str,
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The first mail sent about the incident, which this one replies to.
    pub in_reply_to: Option<MessageId>,
    /// The mail's `Date`: when the notice was planned.
    pub date: jiff::Timestamp,
    /// The claim deadline as an iCalendar attachment.
    pub ics: Option<String>,
}

/// Setting up the SMTP transport failed.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("smtp.ca_file: {0}")]
    CaFile(String),
    #[error("smtp: TLS setup for {host}: {message}")]
    Tls { host: String, message: String },
}

/// A delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The server rejected the mail for good (5xx), or the mail itself is malformed.
    pub permanent: bool,
    pub message: String,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// Writes each mail as an `.eml` file (the demo).
    Directory { dir: PathBuf, from: Mailbox },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { .. } => f.write_str("Mailer::Smtp"),
            Self::Directory { dir, .. } => write!(f, "Mailer::Directory({})", dir.display()),
        }
    }
}

impl Mailer {
    /// The SMTP transport described by `[smtp]`.
    pub fn smtp(
        cfg: &SmtpConfig,
        password: Option<SecretString>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, EmailError> {
        let tls = || -> Result<TlsParameters, EmailError> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if let Some(pem) = ca_pem {
                let cert =
                    Certificate::from_pem(pem).map_err(|e| EmailError::CaFile(e.to_string()))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| EmailError::Tls {
                host: cfg.host.clone(),
                message: e.to_string(),
            })
        };
        let security = match cfg.security {
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port())
            .tls(security)
            .timeout(Some(cfg.timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(2)
                    .idle_timeout(Duration::from_secs(60)),
            );
        if let (Some(user), Some(pw)) = (&cfg.username, password) {
            builder = builder
                .credentials(Credentials::new(
                    user.clone(),
                    pw.expose_secret().to_owned(),
                ))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Self::Smtp {
            transport: builder.build(),
            from: cfg.from.clone(),
        })
    }

    /// Delivers one mail. Success means the server accepted it.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        match self {
            Self::Smtp { transport, from } => {
                let message = build_message(mail, from)?;
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: e.is_permanent(),
                        message: e.to_string(),
                    })
            }
            Self::Directory { dir, from } => {
                let message = build_message(mail, from)?;
                // The id's local part is unique and file-safe when pirwatch made it; anything
                // else is encoded.
                let id = mail.message_id.trim_matches(['<', '>']);
                let local = id.split_once('@').map_or(id, |(l, _)| l);
                let safe = local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=.".contains(c));
                let local = if safe {
                    local.to_owned()
                } else {
                    encode_token(local)
                };
                let name = format!("{}-{}-{local}.eml", mail.date.as_millisecond(), mail.kind);
                tokio::fs::create_dir_all(dir)
                    .await
                    .and(tokio::fs::write(dir.join(name), message.formatted()).await)
                    .map_err(|e| SendError {
                        permanent: false,
                        message: format!("writing to {}: {e}", dir.display()),
                    })
            }
        }
    }

    /// Checks the server answers and accepts the login (for `check-config --online`).
    pub async fn test_connection(&self) -> Result<(), SendError> {
        match self {
            Self::Smtp { transport, .. } => match transport.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(SendError {
                    permanent: false,
                    message: "server did not answer NOOP".into(),
                }),
                Err(e) => Err(SendError {
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                }),
            },
            Self::Directory { .. } => Ok(()),
        }
    }
}

/// The RFC 5322 message for a mail.
pub fn build_message(mail: &OutgoingMail, from: &Mailbox) -> Result<Message, SendError> {
    let bad = |what: String| SendError {
        permanent: true,
        message: what,
    };
    let mut b = Message::builder()
        .from(from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.to_string()))
        .date(std::time::SystemTime::from(mail.date));
    for to in &mail.to {
        b = b.to(to.clone());
    }
    if let Some(thread) = mail.in_reply_to.as_ref().filter(|t| **t != mail.message_id) {
        b = b
            .in_reply_to(thread.to_string())
            .references(thread.to_string());
    }
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(mail.html.clone()),
        );
    let body = match &mail.ics {
        None => alternative,
        Some(ics) => {
            let calendar = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                .map_err(|e| bad(format!("calendar content type: {e}")))?;
            MultiPart::mixed().multipart(alternative).singlepart(
                Attachment::new("claim-deadline.ics".to_owned()).body(ics.clone(), calendar),
            )
        }
    };
    b.multipart(body)
        .map_err(|e| bad(format!("building the message: {e}")))
}
