//! Webhooks: one HTTP POST per delivery, bounded in time, to a receiver whose URL is a secret
//! (read from a file, never logged: errors name the webhook, not its URL). The `generic` kind
//! is signed: `X-Pirwatch-Signature: sha256=<hex HMAC-SHA-256 of the raw body>`. What comes
//! back decides the retry: 2xx is done; 429, 408 and 5xx (or no answer) are tried again —
//! not before the receiver's `Retry-After`; any other answer is a rejection.

pub mod payload;

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;
use sha2::Sha256;

/// What a webhook speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// pirwatch's JSON ([`payload::Document`]), signed.
    Generic,
    /// A Microsoft Teams Workflows webhook: an Adaptive Card.
    Teams,
    /// A Slack incoming webhook: Block Kit.
    Slack,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Teams => "teams",
            Self::Slack => "slack",
        }
    }
}

/// A `[[webhooks]]` entry with its secrets read.
pub struct Webhook {
    pub name: String,
    pub kind: WebhookKind,
    /// The URL (a secret: it is the credential of Teams and Slack webhooks).
    pub url: SecretString,
    /// The generic kind's HMAC key.
    pub secret: Option<SecretBox<Vec<u8>>>,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The first retry's wait, doubling, at most an hour.
    pub retry_backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"[secret]")
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Why a POST did not go through. Never carries the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WebhookFailure {
    /// The receiver refused it for good (a 4xx other than 408/429, a redirect).
    pub permanent: bool,
    pub message: String,
    /// The receiver asked to wait this long (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// The longest `Retry-After` honoured; a longer one is taken as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Posts webhook bodies.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

/// The HTTP client could not be built (no TLS roots, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct ClientError(#[source] reqwest::Error);

impl WebhookSender {
    pub fn new() -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pirwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)?;
        Ok(Self { client })
    }

    /// POSTs `body` (JSON) to `hook`, within its timeout. `id` (stable across retries) goes
    /// in `X-Pirwatch-Delivery`.
    pub async fn post(
        &self,
        hook: &Webhook,
        id: &str,
        body: Vec<u8>,
    ) -> Result<(), WebhookFailure> {
        let name = &hook.name;
        let mut req = self
            .client
            .post(hook.url.expose_secret())
            .timeout(hook.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Pirwatch-Delivery", id);
        if let Some(key) = &hook.secret {
            req = req.header(
                "X-Pirwatch-Signature",
                signature(key.expose_secret(), &body),
            );
        }
        let answer = req.body(body).send().await.map_err(|e| WebhookFailure {
            permanent: false,
            message: format!("webhook {name}: {}", transport(&e)),
            retry_after: None,
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, jiff::Timestamp::now()));
        Err(classify(name, status.as_u16(), retry_after))
    }
}

/// `sha256=<hex>`: the HMAC-SHA-256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// What an HTTP status means for the delivery.
fn classify(name: &str, status: u16, retry_after: Option<Duration>) -> WebhookFailure {
    let temporary = matches!(status, 408 | 425 | 429) || status >= 500;
    let what = match status {
        300..=399 => format!("HTTP {status} (redirects are not followed; fix the URL)"),
        s => format!("HTTP {s}"),
    };
    WebhookFailure {
        permanent: !temporary,
        message: format!("webhook {name}: {what}"),
        retry_after: retry_after.filter(|_| temporary),
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (after `now`), at most a day.
pub fn retry_after(v: &str, now: jiff::Timestamp) -> Option<Duration> {
    let v = v.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
            Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A transport failure in words, without the URL (which is a secret).
fn transport(e: &reqwest::Error) -> String {
    use std::error::Error;
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The source chain says why (refused, DNS, TLS); reqwest's own text would name the URL.
    let mut cause = String::new();
    let mut next = e.source();
    while let Some(s) = next {
        cause = s.to_string();
        next = s.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_hmac_of_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn statuses_decide_the_retry() {
        let wait = Some(Duration::from_secs(7));
        for (status, permanent, kept) in [
            (429, false, true),
            (503, false, true),
            (500, false, true),
            (408, false, true),
            (400, true, false),
            (404, true, false),
            (410, true, false),
            (301, true, false),
        ] {
            let f = classify("w", status, wait);
            assert_eq!(f.permanent, permanent, "{status}");
            assert_eq!(f.retry_after.is_some(), kept, "{status}");
            assert!(f.message.starts_with("webhook w: HTTP"), "{}", f.message);
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now: jiff::Timestamp = "2026-12-02T10:00:00Z".parse().expect("ts");
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 10:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
    }
}
