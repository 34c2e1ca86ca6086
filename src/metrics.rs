//! Prometheus metrics (prometheus-client, one explicit registry, no globals) and the health
//! state `/readyz` reads: when the last poll finished, which scopes fail, the last SMTP error.
//!
//! Labels never carry secrets; tenant, scope and tracking id are operator-chosen names.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    pub tenant: String,
    pub scope: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabels {
    pub tenant: String,
    pub scope: String,
    /// `ok` or `error`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// The HTTP status code, or `error` when no response came.
    pub status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabels {
    pub kind: String,
    /// `queued`, `sent`, `deferred` or `failed`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClaimLabels {
    pub tenant: String,
    pub tracking_id: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// Every metric pirwatch exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub polls: Family<PollLabels, Counter>,
    pub poll_duration: Family<ScopeLabels, Histogram>,
    pub arm_requests: Family<StatusLabels, Counter>,
    pub throttle_waits: Counter,
    pub throttle_wait_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    pub events_seen: Family<TenantLabels, Counter>,
    pub incidents: Family<StateLabels, Gauge>,
    pub notifications: Family<MailLabels, Counter>,
    pub recipients: Family<OutcomeLabels, Counter>,
    pub queued: Gauge,
    pub oldest_queued_seconds: Gauge,
    pub claim_deadline_seconds: Family<ClaimLabels, Gauge>,
    pub last_poll: Gauge,
    /// When the last poll finished (ms since the epoch), for `/readyz`.
    last_poll_ms: AtomicI64,
    /// Scopes whose last poll failed, with the error, for `/readyz`.
    failing: Mutex<Vec<(String, String)>>,
    /// The last SMTP error, cleared by a success.
    smtp_error: Mutex<Option<String>>,
    /// Whether the store could not be written (kept across reloads).
    pub store_unwritable: UnwritableWarning,
    /// Per task, until when it is known to be making progress (ms since the epoch): the
    /// systemd watchdog is fed only while every task's lies in the future.
    alive_until_ms: [AtomicI64; 2],
}

/// Rate-limits the warning that the store cannot be written, and says when it can again.
#[derive(Debug, Default)]
pub struct UnwritableWarning {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    /// When the operators were last told.
    alerted: std::sync::Mutex<Option<std::time::Instant>>,
}

impl UnwritableWarning {
    pub fn warn(&self, e: &str) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
            tracing::error!(error = %e, "the store cannot be written: not delivering until it \
                can (nothing is lost; queued mail waits)");
            *last = Some(std::time::Instant::now());
        }
    }

    /// True (and noted) when the operators should be told now: once a day at most.
    pub fn alert_due(&self) -> bool {
        let Ok(mut alerted) = self.alerted.lock() else {
            return false;
        };
        let due = alerted.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(86_400));
        if due {
            *alerted = Some(std::time::Instant::now());
        }
        due
    }

    pub fn clear(&self) {
        if let Ok(mut alerted) = self.alerted.lock() {
            *alerted = None;
        }
        if let Ok(mut last) = self.last.lock()
            && last.take().is_some()
        {
            tracing::info!("the store can be written again: delivering");
        }
    }
}

/// The daemon's long-running tasks, each with its own liveness: a long delivery allowance can
/// never hide a dead poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Polls Azure every interval.
    Poller = 0,
    /// Drains the outbox.
    Deliverer = 1,
}

impl Task {
    pub const ALL: [Self; 2] = [Self::Poller, Self::Deliverer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poller => "poller",
            Self::Deliverer => "deliverer",
        }
    }
}

fn poll_buckets() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pirwatch");
        let m = Self {
            polls: Family::default(),
            poll_duration: Family::new_with_constructor(poll_buckets),
            arm_requests: Family::default(),
            throttle_waits: Counter::default(),
            throttle_wait_seconds: Counter::default(),
            events_seen: Family::default(),
            incidents: Family::default(),
            notifications: Family::default(),
            recipients: Family::default(),
            queued: Gauge::default(),
            oldest_queued_seconds: Gauge::default(),
            claim_deadline_seconds: Family::default(),
            last_poll: Gauge::default(),
            last_poll_ms: AtomicI64::new(0),
            failing: Mutex::new(Vec::new()),
            smtp_error: Mutex::new(None),
            store_unwritable: UnwritableWarning::default(),
            alive_until_ms: [AtomicI64::new(0), AtomicI64::new(0)],
            registry: Registry::default(),
        };
        registry.register("polls", "Scope polls by outcome", m.polls.clone());
        registry.register(
            "poll_duration_seconds",
            "Time to poll one scope",
            m.poll_duration.clone(),
        );
        registry.register(
            "arm_requests",
            "Azure Resource Manager requests by HTTP status",
            m.arm_requests.clone(),
        );
        registry.register(
            "throttle_waits",
            "Waits for Retry-After after HTTP 429",
            m.throttle_waits.clone(),
        );
        registry.register(
            "throttle_wait_seconds",
            "Time spent waiting for Retry-After",
            m.throttle_wait_seconds.clone(),
        );
        registry.register(
            "events_seen",
            "Events returned by polls",
            m.events_seen.clone(),
        );
        registry.register(
            "incidents",
            "Stored incidents by state (active, resolved, pir_to_review, claim_open)",
            m.incidents.clone(),
        );
        registry.register(
            "notifications",
            "Mails by kind and outcome (queued, sent, deferred, failed, superseded)",
            m.notifications.clone(),
        );
        registry.register(
            "recipients",
            "Recipients of delivery attempts by outcome (sent, deferred, rejected, failed: given up)",
            m.recipients.clone(),
        );
        registry.register(
            "notifications_queued",
            "Mails waiting in the outbox",
            m.queued.clone(),
        );
        registry.register(
            "oldest_queued_notification_age_seconds",
            "Age of the oldest mail still queued and due",
            m.oldest_queued_seconds.clone(),
        );
        registry.register(
            "claim_deadline_seconds",
            "Seconds until the end of an open, unacknowledged SLA claim window",
            m.claim_deadline_seconds.clone(),
        );
        registry.register(
            "last_poll_timestamp_seconds",
            "When the last poll cycle finished",
            m.last_poll.clone(),
        );
        Self { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// A poll cycle finished at `at`, with these scopes failing.
    pub fn poll_finished(&self, at: jiff::Timestamp, failing: Vec<(String, String)>) {
        self.last_poll_ms
            .store(at.as_millisecond(), Ordering::Relaxed);
        self.last_poll.set(at.as_second());
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }

    /// When the last poll cycle finished.
    pub fn last_poll_at(&self) -> Option<jiff::Timestamp> {
        match self.last_poll_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => jiff::Timestamp::from_millisecond(ms).ok(),
        }
    }

    pub fn failing_scopes(&self) -> Vec<(String, String)> {
        self.failing.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn set_smtp_error(&self, error: Option<String>) {
        if let Ok(mut e) = self.smtp_error.lock() {
            *e = error;
        }
    }

    pub fn smtp_error(&self) -> Option<String> {
        self.smtp_error.lock().ok().and_then(|e| e.clone())
    }

    /// `task` made progress and expects the next within `d` (e.g. a request timeout, or a
    /// `Retry-After` wait): until then it counts as alive.
    pub fn alive_for(&self, task: Task, d: std::time::Duration) {
        let until = jiff::Timestamp::now()
            .as_millisecond()
            .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.alive_until_ms[task as usize].fetch_max(until, Ordering::Relaxed);
    }

    /// Whether `task` is alive at `now`.
    pub fn task_alive(&self, task: Task, now: jiff::Timestamp) -> bool {
        self.alive_until_ms[task as usize].load(Ordering::Relaxed) >= now.as_millisecond()
    }

    /// Whether every task is alive at `now`.
    pub fn is_alive(&self, now: jiff::Timestamp) -> bool {
        Task::ALL.into_iter().all(|t| self.task_alive(t, now))
    }

    /// Counts what became of one recipient of one delivery attempt.
    pub fn recipient_outcome(&self, outcome: &str) {
        self.recipients
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts one ARM response (or transport failure).
    pub fn arm_request(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.arm_requests
            .get_or_create(&StatusLabels { status })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn liveness_extends_and_never_shrinks() {
        let m = Metrics::new();
        let now = jiff::Timestamp::now();
        assert!(!m.is_alive(now), "not alive before the scheduler says so");
        m.alive_for(Task::Deliverer, Duration::from_secs(3600));
        // A Retry-After wait of 5 minutes keeps the poller alive through the wait...
        m.alive_for(Task::Poller, Duration::from_secs(300));
        assert!(m.is_alive(now + jiff::SignedDuration::from_secs(290)));
        // ... and a shorter promise made meanwhile does not cut that short.
        m.alive_for(Task::Poller, Duration::from_secs(10));
        assert!(m.is_alive(now + jiff::SignedDuration::from_secs(290)));
        // With no further progress it lapses, and the watchdog stops being fed — however long
        // the delivery task's allowance.
        let later = now + jiff::SignedDuration::from_secs(400);
        assert!(!m.is_alive(later));
        assert!(m.task_alive(Task::Deliverer, later));
        assert!(!m.task_alive(Task::Poller, later));
    }

    #[test]
    fn the_exposition_names_every_family() {
        let m = Metrics::new();
        m.arm_request(Some(429));
        m.arm_request(None);
        let text = m.encode();
        assert!(
            text.contains("pirwatch_arm_requests_total{status=\"429\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pirwatch_arm_requests_total{status=\"error\"} 1"),
            "{text}"
        );
        for family in [
            "pirwatch_throttle_waits",
            "pirwatch_last_poll_timestamp_seconds",
            "pirwatch_notifications_queued",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family}")),
                "{family}: {text}"
            );
        }
    }
}
