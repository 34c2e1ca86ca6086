//! Delivering one mail: over SMTP (one bounded conversation per mail, an outcome per
//! recipient: [`super::smtp`]), or as `.eml` files in a directory for the demo.
//!
//! Every mail is `multipart/alternative` (text, then HTML; inside `multipart/mixed` with a
//! `text/calendar` attachment when it carries the claim deadline) with the `Message-ID` it was
//! queued with, and `In-Reply-To`/`References` pointing at its incident's thread, so a re-send
//! after a crash is folded by mail clients and all mail about one incident threads together.

use std::path::PathBuf;

use lettre::Address;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::{ExposeSecret, SecretString};

use super::smtp::{Login, RecipientOutcomes, SmtpFailure, SmtpServer, TlsMode};
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::incident::MessageId;
use crate::incident::ids::encode_token;

/// Setting up the SMTP transport failed.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("smtp.ca_file: {0}")]
    CaFile(String),
    #[error("smtp: TLS setup for {host}: {message}")]
    Tls { host: String, message: String },
    #[error(
        "smtp.username: AUTH over an unencrypted connection to {host} would send the password \
         in clear text; set smtp.security = \"starttls\" or \"tls\" (unencrypted AUTH is \
         accepted only to a relay on this host: localhost, 127.0.0.1, ::1)"
    )]
    PlainAuth { host: String },
    #[error("smtp.username: [smtp.oauth] logs in as a mailbox; name it (user@example.com)")]
    OauthUser,
}

/// One mail, rendered and addressed, ready for the wire.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub message_id: MessageId,
    /// For file names in the demo's directory: the notice's kind.
    pub kind: &'static str,
    pub to: Vec<Mailbox>,
    /// Also shown and delivered to (a route's `cc`).
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The first mail sent about the incident, which this one replies to.
    pub in_reply_to: Option<MessageId>,
    /// The mail's `Date`: when the notice was planned.
    pub date: jiff::Timestamp,
    /// The claim deadline as an iCalendar attachment.
    pub ics: Option<String>,
    /// `List-Id` (one list per tenant, so people can filter).
    pub list_id: Option<String>,
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office replies do not loop.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// `List-Id` (RFC 2919).
#[derive(Debug, Clone)]
struct ListId(String);

impl lettre::message::header::Header for ListId {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The `List-Id` of a tenant's mail: `pirwatch contoso <contoso.pirwatch.example.com>`.
pub fn list_id(list: &str, domain: &str) -> String {
    format!("pirwatch {list} <{}.pirwatch.{domain}>", encode_token(list))
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        server: SmtpServer,
        from: Mailbox,
    },
    /// Writes each mail as an `.eml` file (the demo).
    Directory {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { server, .. } => write!(f, "Mailer::Smtp({server:?})"),
            Self::Directory { dir, .. } => write!(f, "Mailer::Directory({})", dir.display()),
        }
    }
}

/// True for `localhost` and loopback addresses.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Mailer {
    /// The SMTP server described by `[smtp]`.
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
        let tls = match cfg.security {
            SmtpSecurity::Starttls => TlsMode::Starttls(tls()?),
            SmtpSecurity::Tls => TlsMode::Wrapper(tls()?),
            SmtpSecurity::None => TlsMode::None,
        };
        let credentials = match (&cfg.username, password) {
            (Some(user), Some(pw)) => Some(Login::Password(Credentials::new(
                user.clone(),
                pw.expose_secret().to_owned(),
            ))),
            _ => None,
        };
        if credentials.is_some() && matches!(tls, TlsMode::None) && !is_loopback_host(&cfg.host) {
            return Err(EmailError::PlainAuth {
                host: cfg.host.clone(),
            });
        }
        let server = SmtpServer {
            host: cfg.host.clone(),
            port: cfg.port(),
            tls,
            login: credentials,
            timeout: cfg.timeout,
            hello: ClientId::default(),
        };
        Ok(Self::Smtp {
            server,
            from: cfg.from.clone(),
        })
    }

    /// Logs in with AUTH XOAUTH2 as `smtp.username`, with tokens from `token` (`[smtp.oauth]`).
    /// Refused, as a password would be, over an unencrypted connection to another host.
    pub fn with_oauth(
        mut self,
        cfg: &SmtpConfig,
        token: std::sync::Arc<dyn super::smtp::BearerToken>,
    ) -> Result<Self, EmailError> {
        if let Self::Smtp { server, .. } = &mut self {
            if matches!(server.tls, TlsMode::None) && !is_loopback_host(&cfg.host) {
                return Err(EmailError::PlainAuth {
                    host: cfg.host.clone(),
                });
            }
            let user = cfg.username.clone().ok_or(EmailError::OauthUser)?;
            server.login = Some(Login::OAuth { user, token });
        }
        Ok(self)
    }

    /// Delivers one mail to `recipients` (its `To` header names every recipient of the mail;
    /// these are the ones still to reach). `Ok`: the outcome per recipient.
    pub async fn send(
        &self,
        mail: &OutgoingMail,
        recipients: &[Address],
    ) -> Result<RecipientOutcomes, SmtpFailure> {
        let (from, message) = match self {
            Self::Smtp { from, .. } | Self::Directory { from, .. } => {
                (from, build_message(mail, from)?)
            }
        };
        match self {
            Self::Smtp { server, .. } => {
                super::smtp::deliver(server, &from.email, recipients, &message.formatted()).await
            }
            Self::Directory { dir, .. } => {
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
                    .map_err(|e| SmtpFailure {
                        permanent: false,
                        message: format!("writing to {}: {e}", dir.display()),
                    })?;
                Ok(recipients.iter().map(|a| (a.clone(), Ok(()))).collect())
            }
        }
    }

    /// Checks the server answers and accepts the login (for `check-config --online`).
    pub async fn test_connection(&self) -> Result<(), SmtpFailure> {
        match self {
            Self::Smtp { server, .. } => super::smtp::check(server).await,
            Self::Directory { .. } => Ok(()),
        }
    }
}

/// The RFC 5322 message for a mail.
pub fn build_message(mail: &OutgoingMail, from: &Mailbox) -> Result<Message, SmtpFailure> {
    let bad = |what: String| SmtpFailure {
        permanent: true,
        message: what,
    };
    let mut b = Message::builder()
        .from(from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.to_string()))
        .date(std::time::SystemTime::from(mail.date))
        .header(AutoSubmitted);
    if let Some(list) = &mail.list_id {
        b = b.header(ListId(list.clone()));
    }
    for to in &mail.to {
        b = b.to(to.clone());
    }
    for cc in &mail.cc {
        b = b.cc(cc.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(host: &str, security: &str) -> SmtpConfig {
        let text = format!(
            "host = \"{host}\"\nsecurity = \"{security}\"\nusername = \"bot\"\n\
             password_file = \"pw\"\nfrom = \"p <p@example.com>\"\n"
        );
        toml::from_str(&text).expect("smtp table")
    }

    #[test]
    fn auth_in_clear_text_is_refused_except_to_a_local_relay() {
        let pw = || Some(SecretString::from("pw".to_owned()));
        let e = Mailer::smtp(&smtp("smtp.example.com", "none"), pw(), None)
            .expect_err("clear-text AUTH to a remote host");
        let e = e.to_string();
        assert!(
            e.contains("smtp.example.com") && e.contains("clear text"),
            "{e}"
        );
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(
                Mailer::smtp(&smtp(host, "none"), pw(), None).is_ok(),
                "{host}"
            );
        }
        assert!(Mailer::smtp(&smtp("smtp.example.com", "starttls"), pw(), None).is_ok());
    }

    #[test]
    fn every_mail_is_marked_auto_generated_and_carries_its_list() {
        let from: Mailbox = "p <p@example.com>".parse().expect("from");
        let mail = OutgoingMail {
            message_id: MessageId::new("<a.b.incident@example.com>"),
            kind: "new",
            to: vec!["x <x@example.com>".parse().expect("to")],
            cc: Vec::new(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
            in_reply_to: None,
            date: "2026-11-01T10:00:00Z".parse().expect("ts"),
            ics: None,
            list_id: Some(list_id("acme.eu", "example.com")),
        };
        let raw = String::from_utf8(build_message(&mail, &from).expect("message").formatted())
            .expect("utf-8");
        assert!(raw.contains("Auto-Submitted: auto-generated\r\n"), "{raw}");
        assert!(
            raw.contains("List-Id: pirwatch acme.eu <acme=2Eeu.pirwatch.example.com>\r\n"),
            "{raw}"
        );
    }
}
