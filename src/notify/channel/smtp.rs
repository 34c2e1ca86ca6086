//! One SMTP conversation, driven step by step over lettre's connection primitives, so that:
//!
//! * the whole conversation — connect, greeting, STARTTLS, AUTH, every command, DATA — has one
//!   time limit (`smtp.timeout`); lettre itself bounds only the TCP connect;
//! * each recipient gets its own outcome: a `550` for one address does not stop the mail to the
//!   others (lettre's own `send` gives up at the first rejected RCPT);
//! * nothing is pooled: a conversation abandoned half-way (time limit, SIGTERM) takes its
//!   connection with it, so a half-used connection is never reused.
//!
//! Plain and STARTTLS connections are made by pirwatch with `TCP_NODELAY`, so the final `.` of
//! DATA is not held back by Nagle's algorithm waiting for a delayed ACK.

use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

/// How to reach and speak to the server.
#[derive(Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// How to log in (none: no AUTH).
    pub login: Option<Login>,
    /// The limit of one whole conversation.
    pub timeout: Duration,
    pub hello: ClientId,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpServer({}:{})", self.host, self.port)
    }
}

/// A source of OAuth bearer tokens for XOAUTH2 (an Entra ID credential with its cache).
#[async_trait::async_trait]
pub trait BearerToken: Send + Sync {
    /// A token valid for a while yet; why not, in words (never a secret).
    async fn bearer(&self) -> Result<secrecy::SecretString, String>;
}

/// How pirwatch logs in to the server.
#[derive(Clone)]
pub enum Login {
    /// AUTH PLAIN or LOGIN with a password.
    Password(Credentials),
    /// AUTH XOAUTH2 as `user` with a fresh token (Microsoft 365 without a password).
    OAuth {
        user: String,
        token: std::sync::Arc<dyn BearerToken>,
    },
}

/// How the connection is protected.
#[derive(Clone)]
pub enum TlsMode {
    None,
    /// STARTTLS, required.
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Wrapper(TlsParameters),
}

/// A failure, with whether it is for good (5xx, or the mail itself is malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SmtpFailure {
    pub permanent: bool,
    pub message: String,
}

impl SmtpFailure {
    fn from_lettre(step: &str, e: &lettre::transport::smtp::Error) -> Self {
        Self {
            permanent: e.is_permanent(),
            message: format!("{step}: {e}"),
        }
    }
}

/// What became of each recipient of one conversation.
pub type RecipientOutcomes = Vec<(Address, Result<(), SmtpFailure>)>;

/// Delivers `message` to `recipients` in one conversation. `Err`: nothing was delivered to
/// anyone (connection, greeting, AUTH or MAIL FROM failed, or the time limit passed); `Ok`: the
/// outcome per recipient.
pub async fn deliver(
    server: &SmtpServer,
    from: &Address,
    recipients: &[Address],
    message: &[u8],
) -> Result<RecipientOutcomes, SmtpFailure> {
    let limit = server.timeout;
    match tokio::time::timeout(limit, conversation(server, from, recipients, message)).await {
        Ok(result) => result,
        Err(_) => Err(SmtpFailure {
            permanent: false,
            message: format!(
                "{}:{}: no answer within smtp.timeout ({})",
                server.host,
                server.port,
                humantime::format_duration(limit)
            ),
        }),
    }
}

/// Checks that the server greets and accepts the login, within the time limit.
pub async fn check(server: &SmtpServer) -> Result<(), SmtpFailure> {
    let limit = server.timeout;
    let checked = async {
        let mut conn = connect(server).await?;
        let _ = conn.quit().await;
        Ok(())
    };
    tokio::time::timeout(limit, checked)
        .await
        .unwrap_or_else(|_| {
            Err(SmtpFailure {
                permanent: false,
                message: format!(
                    "{}:{}: no answer within smtp.timeout",
                    server.host, server.port
                ),
            })
        })
}

async fn conversation(
    server: &SmtpServer,
    from: &Address,
    recipients: &[Address],
    message: &[u8],
) -> Result<RecipientOutcomes, SmtpFailure> {
    let mut conn = connect(server).await?;
    let options = mail_options(&conn, recipients, message)?;
    conn.command(Mail::new(Some(from.clone()), options))
        .await
        .map_err(|e| SmtpFailure::from_lettre("MAIL FROM", &e))?;
    let mut outcomes = Vec::with_capacity(recipients.len());
    for to in recipients {
        let accepted = conn
            .command(Rcpt::new(to.clone(), vec![]))
            .await
            .map(|_| ())
            .map_err(|e| SmtpFailure::from_lettre(&format!("RCPT TO <{to}>"), &e));
        outcomes.push((to.clone(), accepted));
    }
    if outcomes.iter().any(|(_, r)| r.is_ok()) {
        let sent = match conn.command(Data).await {
            Ok(_) => conn
                .message(message)
                .await
                .map(|_| ())
                .map_err(|e| SmtpFailure::from_lettre("end of DATA", &e)),
            Err(e) => Err(SmtpFailure::from_lettre("DATA", &e)),
        };
        // The message's fate is the fate of every recipient the server had accepted.
        if let Err(failure) = sent {
            for (_, r) in outcomes.iter_mut().filter(|(_, r)| r.is_ok()) {
                *r = Err(failure.clone());
            }
        }
    }
    let _ = conn.quit().await;
    Ok(outcomes)
}

/// Connects, reads the greeting, says EHLO, upgrades to TLS and logs in as configured.
async fn connect(server: &SmtpServer) -> Result<AsyncSmtpConnection, SmtpFailure> {
    let at = format!("{}:{}", server.host, server.port);
    // The token first: without it there is no point in connecting.
    let login = match &server.login {
        None => None,
        Some(Login::Password(c)) => Some((vec![Mechanism::Plain, Mechanism::Login], c.clone())),
        Some(Login::OAuth { user, token }) => {
            use secrecy::ExposeSecret;
            let t = token.bearer().await.map_err(|m| SmtpFailure {
                permanent: false,
                message: format!("{at}: getting the token for AUTH XOAUTH2: {m}"),
            })?;
            let c = Credentials::new(user.clone(), t.expose_secret().to_owned());
            Some((vec![Mechanism::Xoauth2], c))
        }
    };
    let fail = |step: &str, e: lettre::transport::smtp::Error| SmtpFailure {
        permanent: e.is_permanent(),
        message: format!("{at}: {step}: {e}"),
    };
    let mut conn = match &server.tls {
        TlsMode::Wrapper(tls) => AsyncSmtpConnection::connect_tokio1(
            (server.host.as_str(), server.port),
            Some(server.timeout),
            &server.hello,
            Some(tls.clone()),
            None,
        )
        .await
        .map_err(|e| fail("connecting with TLS", e))?,
        TlsMode::None | TlsMode::Starttls(_) => {
            let tcp = tokio::net::TcpStream::connect((server.host.as_str(), server.port))
                .await
                .map_err(|e| SmtpFailure {
                    permanent: false,
                    message: format!("{at}: connecting: {e}"),
                })?;
            // Best effort: without it only the speed suffers.
            let _ = tcp.set_nodelay(true);
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &server.hello)
                .await
                .map_err(|e| fail("greeting", e))?
        }
    };
    if let TlsMode::Starttls(tls) = &server.tls {
        if !conn.can_starttls() {
            return Err(SmtpFailure {
                permanent: true,
                message: format!("{at}: the server does not offer STARTTLS (smtp.security)"),
            });
        }
        conn.starttls(tls.clone(), &server.hello)
            .await
            .map_err(|e| fail("STARTTLS", e))?;
    }
    if let Some((mechanisms, credentials)) = &login {
        conn.auth(mechanisms, credentials)
            .await
            .map_err(|e| fail("AUTH", e))?;
    }
    Ok(conn)
}

/// 8BITMIME and SMTPUTF8, as lettre's own `send` would ask for them.
fn mail_options(
    conn: &AsyncSmtpConnection,
    recipients: &[Address],
    message: &[u8],
) -> Result<Vec<MailParameter>, SmtpFailure> {
    let mut options = Vec::new();
    let info = conn.server_info();
    if recipients
        .iter()
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
    {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(SmtpFailure {
                permanent: true,
                message: "a recipient address is not ASCII and the server lacks SMTPUTF8".into(),
            });
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(SmtpFailure {
                permanent: true,
                message: "the message is not ASCII and the server lacks 8BITMIME".into(),
            });
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(options)
}
