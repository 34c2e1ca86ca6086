//! Calls of `Microsoft.ResourceHealth/events` over reqwest: paging, retries, throttling.
//!
//! * `nextLink` is followed verbatim (an empty page with a `nextLink` is not the end), but only
//!   to the host the first request went to: a link elsewhere would carry the bearer token away.
//! * 429 waits for `Retry-After` (seconds or an HTTP date); 5xx, resets and timeouts back off
//!   exponentially; 4xx other than 429 fail the scope at once.
//! * One malformed event is logged and skipped; the rest of the page still counts.
//! * Sensitive events get `fetchEventDetails`; a refusal keeps the event without details.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use jiff::Timestamp;
use reqwest::{Method, StatusCode, header};
use url::Url;

use std::sync::Arc;

pub use super::error::{Cause, PollError};
use crate::metrics::Metrics;
use crate::source::azure::credential::TenantToken;
use crate::source::azure::wire::{self, Event, Page};
use crate::source::event::{HealthEvent, Scope};

/// At most this many pages per scope and poll: a safety net against a paging loop.
pub(super) const MAX_PAGES: usize = 1000;
/// Paging stops after this many pages in a row that bring only events already seen in this
/// poll (a `nextLink` with a fresh skip token each time would otherwise run to `MAX_PAGES`).
const STALE_PAGES: usize = 3;
/// ... or this many empty pages in a row (Azure sends a few before data; never this many).
const EMPTY_PAGES: usize = 10;
/// A `Retry-After` longer than this is cut to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What one scope returned.
#[derive(Debug, Default)]
pub struct ScopeEvents {
    pub events: Vec<HealthEvent>,
    /// Items that could not be parsed and were skipped.
    pub skipped: usize,
    /// HTTP requests made, retries included.
    pub requests: usize,
    /// Paging was cut short (a loop): what was fetched counts, and why it was cut.
    pub degraded: Option<String>,
}

/// A successful answer: its status, the long-running operation to follow (`Azure-AsyncOperation`
/// or `Location`), the wait it asks for, and the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub operation: Option<String>,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// The Resource Health REST client, shared by all tenants.
#[derive(Debug, Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    pub(super) api_version: String,
    lookback: Duration,
    backoff: ExponentialBuilder,
    /// How long one request may take (for the liveness heartbeat).
    request_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Requests in flight over every tenant (`poll.max_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Slack added to every liveness promise.
const ALIVE_SLACK: Duration = Duration::from_secs(30);

impl ArmClient {
    pub fn new(http: reqwest::Client, api_version: &str, lookback: Duration) -> Self {
        Self {
            http,
            api_version: api_version.to_owned(),
            lookback,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .with_max_times(5)
                .with_jitter(),
            request_timeout: Duration::from_secs(60),
            metrics: Arc::new(Metrics::new()),
            in_flight: Arc::new(tokio::sync::Semaphore::new(32)),
        }
    }

    /// At most `n` requests in flight at once.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.in_flight = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// Records requests, throttling and liveness in `metrics`; `request_timeout` bounds one request.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>, request_timeout: Duration) -> Self {
        self.metrics = metrics;
        self.request_timeout = request_timeout;
        self
    }

    /// Shorter backoff, for tests of the retry logic.
    pub fn with_backoff(mut self, backoff: ExponentialBuilder) -> Self {
        self.backoff = backoff;
        self
    }

    /// One request for the first page of `scope`'s events, not retried: does the endpoint
    /// answer, and does it take the token? Returns how many events the page held.
    pub async fn probe(
        &self,
        arm: &Url,
        token: &TenantToken,
        scope: &Scope,
        now: Timestamp,
    ) -> Result<usize, PollError> {
        let url = self.events_url(arm, scope, now);
        let body = self.send_once(Method::GET, &url, token).await?;
        let page: Page = serde_json::from_str(&body).map_err(|e| PollError::Body(e.to_string()))?;
        Ok(page.value.len())
    }

    /// Lists every event of `scope` updated since `now - lookback`.
    pub async fn list_events(
        &self,
        arm: &Url,
        token: &TenantToken,
        scope: &Scope,
        now: Timestamp,
    ) -> Result<ScopeEvents, PollError> {
        let mut out = ScopeEvents::default();
        let mut url = self.events_url(arm, scope, now);
        let mut links = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        let (mut stale, mut empty) = (0, 0);
        loop {
            if !links.insert(url.to_string()) || links.len() > MAX_PAGES {
                if out.events.is_empty() {
                    return Err(PollError::PagingLoop);
                }
                out.degraded = Some(format!(
                    "paging stopped after {} pages: nextLink repeated or too many pages",
                    links.len() - 1
                ));
                break;
            }
            let body = self
                .send(Method::GET, &url, token, &mut out.requests)
                .await?;
            let page: Page =
                serde_json::from_str(&body).map_err(|e| PollError::Body(e.to_string()))?;
            let items = page.value.len();
            let mut new = 0;
            for item in page.value {
                match self.parse_item(item, scope) {
                    Ok(e) => {
                        new += usize::from(ids.insert(e.tracking_id.clone()));
                        out.events.push(e);
                    }
                    Err(e) => {
                        out.skipped += 1;
                        tracing::warn!(%scope, error = %e, "skipping a malformed event");
                    }
                }
            }
            match (items, new) {
                (0, _) => empty += 1,
                (_, 0) => stale += 1,
                _ => (stale, empty) = (0, 0),
            }
            if stale >= STALE_PAGES || empty >= EMPTY_PAGES {
                out.degraded = Some(format!(
                    "paging stopped after {} pages: {} pages in a row brought nothing new",
                    links.len(),
                    stale.max(empty)
                ));
                break;
            }
            match page.next_link.filter(|l| !l.trim().is_empty()) {
                None => break,
                Some(link) => url = same_host_link(arm, &link)?,
            }
        }
        if let Some(why) = &out.degraded {
            tracing::warn!(%scope, url = %redact(arm), why = %why,
                "scope degraded: keeping the events fetched");
        }
        for e in out.events.iter_mut().filter(|e| e.sensitive) {
            self.fetch_details(arm, token, e, &mut out.requests).await;
        }
        Ok(out)
    }

    fn parse_item(&self, item: serde_json::Value, scope: &Scope) -> Result<HealthEvent, String> {
        let name = item
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("?")
            .to_owned();
        Event::from_value(item)
            .and_then(|e| e.into_health_event(scope.clone()))
            .map_err(|e| format!("event {name}: {e}"))
    }

    /// Fills a sensitive event's details; a refusal is logged and the event kept without them.
    async fn fetch_details(
        &self,
        arm: &Url,
        token: &TenantToken,
        event: &mut HealthEvent,
        requests: &mut usize,
    ) {
        let mut url = scope_base(arm, &event.scope);
        if let Ok(mut p) = url.path_segments_mut() {
            p.extend([event.tracking_id.as_str(), "fetchEventDetails"]);
        }
        url.query_pairs_mut()
            .append_pair("api-version", &self.api_version);
        let detailed = match self.send(Method::POST, &url, token, requests).await {
            Ok(body) => serde_json::from_str::<serde_json::Value>(&body)
                .map_err(|e| e.to_string())
                .and_then(|v| self.parse_item(v, &event.scope)),
            Err(e) => Err(e.to_string()),
        };
        match detailed {
            Ok(d) => *event = d,
            Err(error) => {
                tracing::warn!(
                    scope = %event.scope, tracking_id = %event.tracking_id, %error,
                    "sensitive event: details refused or unreadable; keeping it without details \
                     (fetchEventDetails needs Owner, Contributor or a custom role)"
                );
                event.details_unavailable = true;
            }
        }
    }

    fn events_url(&self, arm: &Url, scope: &Scope, now: Timestamp) -> Url {
        let start = now
            .checked_sub(jiff::SignedDuration::try_from(self.lookback).unwrap_or_default())
            .unwrap_or(now)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let mut url = scope_base(arm, scope);
        url.query_pairs_mut()
            .append_pair("api-version", &self.api_version)
            .append_pair(
                "queryStartTime",
                &format!("{}/{}/{}", start.month(), start.day(), start.year()),
            );
        url
    }

    /// One request, retried while the failure is transient; its body.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &Url,
        token: &TenantToken,
        requests: &mut usize,
    ) -> Result<String, PollError> {
        self.send_json(method, url, token, None, requests)
            .await
            .map(|a| a.body)
    }

    /// One request with an optional JSON body, retried while the failure is transient; the
    /// whole answer (for long-running operations).
    pub(super) async fn send_json(
        &self,
        method: Method,
        url: &Url,
        token: &TenantToken,
        json: Option<&serde_json::Value>,
        requests: &mut usize,
    ) -> Result<Answer, PollError> {
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let once = || async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.send_once_full(method.clone(), url, token, json).await
        };
        let result = once
            .retry(self.backoff)
            .when(PollError::is_transient)
            .adjust(|e, d| d.map(|d| e.retry_after().unwrap_or(d)))
            .notify(|e, wait| {
                if matches!(e, PollError::Http { status: 429, .. }) {
                    self.metrics.throttle_waits.inc();
                    self.metrics.throttle_wait_seconds.inc_by(wait.as_secs_f64());
                }
                self.metrics
                    .alive_for(crate::metrics::Task::Poller, wait + self.request_timeout + ALIVE_SLACK);
                tracing::warn!(url = %redact(url), error = %e, ?wait, "ARM request failed; retrying")
            })
            .await;
        *requests += attempts.into_inner();
        result
    }

    async fn send_once(
        &self,
        method: Method,
        url: &Url,
        token: &TenantToken,
    ) -> Result<String, PollError> {
        self.send_once_full(method, url, token, None)
            .await
            .map(|a| a.body)
    }

    async fn send_once_full(
        &self,
        method: Method,
        url: &Url,
        token: &TenantToken,
        json: Option<&serde_json::Value>,
    ) -> Result<Answer, PollError> {
        self.metrics.alive_for(
            crate::metrics::Task::Poller,
            self.request_timeout + ALIVE_SLACK,
        );
        let bearer = token.bearer().await?;
        // Never closed, so a permit always comes; waiting for one is bounded by the others'
        // request timeouts.
        let _permit = self.in_flight.acquire().await.ok();
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(bearer.secret())
            .header(header::ACCEPT, "application/json");
        match json {
            Some(v) => request = request.json(v),
            None if method == Method::POST => {
                request = request.header(header::CONTENT_LENGTH, "0");
            }
            None => {}
        }
        let response = request.send().await.map_err(|e| {
            self.metrics.arm_request(None);
            transport(url, &e)
        })?;
        let status = response.status();
        self.metrics.arm_request(Some(status.as_u16()));
        let retry_after = retry_after(response.headers());
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let operation = header("azure-asyncoperation").or_else(|| header("location"));
        let body = response.text().await.map_err(|e| transport(url, &e))?;
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                operation,
                retry_after,
                body,
            });
        }
        let (code, message) = wire::error_body(&body);
        Err(PollError::Http {
            status: status.as_u16(),
            code,
            message,
            retry_after: if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after.or(Some(Duration::from_secs(5)))
            } else {
                retry_after
            },
        })
    }
}

/// The events collection URL of a scope (without query).
pub(super) fn scope_base(arm: &Url, scope: &Scope) -> Url {
    let mut url = arm.clone();
    url.set_query(None);
    if let Ok(mut p) = url.path_segments_mut() {
        p.pop_if_empty();
        if let Scope::Subscription(id) = scope {
            p.extend(["subscriptions", id.as_str()]);
        }
        p.extend(["providers", "Microsoft.ResourceHealth", "events"]);
    }
    url
}

/// Accepts a `nextLink` only on the ARM endpoint's scheme, host and port.
pub(super) fn same_host_link(arm: &Url, link: &str) -> Result<Url, PollError> {
    let next = Url::parse(link).map_err(|e| PollError::Body(format!("bad nextLink: {e}")))?;
    let same = next.scheme() == arm.scheme()
        && next.host_str() == arm.host_str()
        && next.port_or_known_default() == arm.port_or_known_default();
    if same {
        Ok(next)
    } else {
        Err(PollError::ForeignNextLink(
            next.host_str().unwrap_or("?").to_owned(),
        ))
    }
}

/// `Retry-After` as delay-seconds or an HTTP date, capped.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
            let secs = (at - Timestamp::now()).get_seconds().max(0);
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A URL fit for logs: scheme, host, port and path; no query (skip tokens are opaque and long)
/// and never credentials.
pub fn redact(url: &Url) -> String {
    let port = url.port().map_or_else(String::new, |p| format!(":{p}"));
    let path = Some(url.path()).filter(|p| *p != "/").unwrap_or("");
    format!(
        "{}://{}{port}{path}",
        url.scheme(),
        url.host_str().unwrap_or("")
    )
}

/// A transport failure of a request to `url`, with its cause.
fn transport(url: &Url, e: &reqwest::Error) -> PollError {
    let (cause, detail) = Cause::of(e);
    PollError::Transport {
        url: redact(url),
        cause,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_per_scope() {
        let arm = Url::parse("https://management.azure.com").expect("url");
        let client = ArmClient::new(
            reqwest::Client::new(),
            "2025-05-01",
            Duration::from_secs(30 * 86400),
        );
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().expect("ts");
        let u = client.events_url(&arm, &Scope::Subscription("abc".into()), now);
        assert_eq!(
            u.as_str(),
            "https://management.azure.com/subscriptions/abc/providers/Microsoft.ResourceHealth/events?api-version=2025-05-01&queryStartTime=10%2F23%2F2026"
        );
        let u = client.events_url(&arm, &Scope::Tenant, now);
        assert!(u.as_str().starts_with(
            "https://management.azure.com/providers/Microsoft.ResourceHealth/events?"
        ));
    }

    #[test]
    fn next_link_must_stay_on_the_arm_host() {
        let arm = Url::parse("https://management.azure.com").expect("url");
        assert!(same_host_link(&arm, "https://management.azure.com/x?$skipToken=1").is_ok());
        assert!(matches!(
            same_host_link(&arm, "https://evil.example/x"),
            Err(PollError::ForeignNextLink(h)) if h == "evil.example"
        ));
        assert!(same_host_link(&arm, "http://management.azure.com/x").is_err());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = header::HeaderMap::new();
        h.insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("99999"),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn transient_errors() {
        let http = |status| PollError::Http {
            status,
            code: None,
            message: None,
            retry_after: None,
        };
        assert!(http(429).is_transient());
        assert!(http(503).is_transient());
        assert!(!http(403).is_transient());
        assert!(!http(404).is_transient());
        let transport = |cause| PollError::Transport {
            url: "http://127.0.0.1:9/x".into(),
            cause,
            detail: "d".into(),
        };
        assert!(transport(Cause::Broken).is_transient());
        assert!(transport(Cause::Timeout).is_transient());
        // A wrong endpoint fails fast.
        assert!(!transport(Cause::Refused).is_transient());
        assert!(!transport(Cause::Dns).is_transient());
        assert!(!transport(Cause::Tls).is_transient());
        assert!(!PollError::PagingLoop.is_transient());
        assert_eq!(
            transport(Cause::Refused).to_string(),
            "http://127.0.0.1:9/x: connection refused: d"
        );
    }

    #[test]
    fn logged_urls_keep_scheme_host_port_and_path_but_no_query() {
        let u =
            Url::parse("http://127.0.0.1:8080/subscriptions/s/events?api-version=1&$skipToken=abc")
                .expect("url");
        assert_eq!(redact(&u), "http://127.0.0.1:8080/subscriptions/s/events");
        let u = Url::parse("https://management.azure.com/").expect("url");
        assert_eq!(redact(&u), "https://management.azure.com");
    }
}
