//! Why a scope could not be polled, in an operator's words: the HTTP status with ARM's error
//! code, or the cause under a failed request (refused, DNS, TLS, timeout, broken), and a hint
//! of what to do. Never carries a token.

use std::time::Duration;

use crate::source::azure::credential::CredentialError;

use super::client::MAX_PAGES;

/// Why a scope could not be polled. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The tenant's credential could not even be built (say, an unreadable secret file).
    #[error("{0}")]
    CredentialUnusable(String),
    #[error("HTTP {status}{}", code_message(.code, .message))]
    Http {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("{url}: {cause}: {detail}")]
    Transport {
        /// The request's URL: scheme, host, port and path (never the query or a token).
        url: String,
        cause: Cause,
        detail: String,
    },
    #[error("response is not an events page: {0}")]
    Body(String),
    #[error("nextLink points to another host ({0}); refusing to send the token there")]
    ForeignNextLink(String),
    #[error("paging did not end (nextLink repeated or more than {MAX_PAGES} pages)")]
    PagingLoop,
    #[error("not polled within poll.tenant_budget ({0}); the other tenants went on")]
    OverBudget(String),
}

/// What went wrong under an HTTP request, in an operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens there: a wrong endpoint or port. Not retried within a poll.
    Refused,
    /// The host name does not resolve. Not retried within a poll.
    Dns,
    /// The TLS handshake failed (certificate, protocol). Not retried within a poll.
    Tls,
    /// No answer within `poll.request_timeout`.
    Timeout,
    /// The connection broke off (reset, closed early).
    Broken,
    /// Anything else.
    Other,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Refused => "connection refused",
            Self::Dns => "host name not found (DNS)",
            Self::Tls => "TLS handshake failed",
            Self::Timeout => "timed out (poll.request_timeout)",
            Self::Broken => "connection broken",
            Self::Other => "request failed",
        })
    }
}

impl Cause {
    /// Classifies a reqwest error by walking its chain of sources.
    pub fn of(e: &reqwest::Error) -> (Self, String) {
        // Not `e.to_string()`: it holds the URL with its query.
        let mut detail = String::from("no further detail");
        let mut cause = if e.is_timeout() {
            Self::Timeout
        } else {
            Self::Other
        };
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            detail = s.to_string();
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                cause = match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => Self::Refused,
                    std::io::ErrorKind::TimedOut => Self::Timeout,
                    std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::BrokenPipe => Self::Broken,
                    _ => cause,
                };
            }
            let text = detail.to_ascii_lowercase();
            if cause == Self::Other {
                if text.contains("dns") || text.contains("failed to lookup") {
                    cause = Self::Dns;
                } else if text.contains("certificate") || text.contains("tls") {
                    cause = Self::Tls;
                }
            }
            source = s.source();
        }
        (cause, detail)
    }
}

fn code_message(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (Some(c), None) => format!(" {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

impl PollError {
    /// Worth another try within this poll.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status, .. } => *status == 429 || *status >= 500,
            // A wrong endpoint fails fast: retrying a refused connection only delays the rest.
            Self::Transport { cause, .. } => {
                matches!(cause, Cause::Timeout | Cause::Broken | Cause::Other)
            }
            _ => false,
        }
    }

    /// What an operator can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Credential(_) | Self::CredentialUnusable(_) => {
                "check the tenant's [tenants.credential] (ids, secret file, federation); \
                 `pirwatch check-config --online` tries it"
            }
            Self::Http { status: 401, .. } => {
                "Azure rejected the token: check tenant_id and the credential's client_id"
            }
            Self::Http { status: 403, .. } => {
                "grant the identity the Reader role on the subscription (tenant-level events \
                 need a tenant-admin role)"
            }
            Self::Http { status: 404, .. } => {
                "check the subscription id and the cloud (public, china, usgov)"
            }
            Self::Http { status: 429, .. } => {
                "Azure is throttling: lower poll.concurrency or poll less often"
            }
            Self::Transport {
                cause: Cause::Refused | Cause::Dns,
                ..
            } => "check the tenant's cloud and arm_endpoint (scheme, host and port)",
            Self::Transport {
                cause: Cause::Tls, ..
            } => "check the endpoint's certificate, and any TLS-intercepting proxy",
            Self::Http { .. } | Self::Transport { .. } => {
                "Azure or the network failed; pirwatch retries at the next poll"
            }
            Self::OverBudget(_) => {
                "this tenant's scopes answer too slowly: raise poll.tenant_budget or \
                 poll.concurrency"
            }
            Self::Body(_) | Self::ForeignNextLink(_) | Self::PagingLoop => {
                "an unexpected response; pirwatch retries at the next poll"
            }
        }
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
