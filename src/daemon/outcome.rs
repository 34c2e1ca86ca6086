//! What a poll returns: per tenant, how its scopes went, what changed and what was queued, and
//! the follow-up gauges. Metrics and the systemd status line are read off this value — no state
//! is shared between the steps of a cycle.

use std::time::Duration;

use jiff::Timestamp;

use crate::incident::{TenantName, TrackingId};
use crate::metrics::{
    ClaimLabels, MailLabels, Metrics, PollLabels, ScopeLabels, StateLabels, TenantLabels,
};
use crate::notify::deliver::DeliveryReport;

/// How one scope's poll went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSummary {
    pub scope: String,
    /// `None` when it was polled.
    pub error: Option<String>,
    /// Polled, but cut short (a paging loop): why.
    pub degraded: Option<String>,
    pub events: usize,
    pub duration: Duration,
}

/// Follow-up gauges of one tenant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FollowUpGauges {
    /// Incidents with a published PIR not yet acknowledged as reviewed.
    pub pir_to_review: i64,
    /// Incidents with a claim still to file.
    pub claim_open: i64,
    /// Per open claim: seconds until its window ends.
    pub claim_deadlines: Vec<(TrackingId, i64)>,
}

/// What one poll of one tenant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantOutcome {
    pub tenant: TenantName,
    pub scopes: Vec<ScopeSummary>,
    /// Malformed events skipped.
    pub skipped: usize,
    pub incidents_changed: usize,
    /// Notices queued by what changed.
    pub notices_queued: usize,
    /// Follow-up reminders queued.
    pub reminders_queued: usize,
    pub follow_ups: FollowUpGauges,
}

/// Deliveries queued and due, and when the oldest of them was planned.
pub type QueueStats = (i64, Option<Timestamp>);

/// What one poll of every tenant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    pub at: Timestamp,
    pub tenants: Vec<TenantOutcome>,
}

/// The totals of a poll.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    pub scopes_ok: usize,
    pub scopes_failed: usize,
    pub events: usize,
    /// Malformed events skipped.
    pub skipped: usize,
    pub incidents_changed: usize,
    pub mails_queued: usize,
    /// Follow-up reminders queued.
    pub reminders_queued: usize,
}

/// What one whole cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleReport {
    pub poll: PollReport,
    pub delivery: DeliveryReport,
    /// Deliveries still queued and due after delivery.
    pub still_queued: i64,
    /// Deliveries failed for good that no operator has dismissed.
    pub failed: i64,
}

impl PollOutcome {
    /// The totals over every tenant.
    pub fn report(&self) -> PollReport {
        let mut r = PollReport::default();
        for t in &self.tenants {
            for s in &t.scopes {
                if s.error.is_some() {
                    r.scopes_failed += 1;
                } else {
                    r.scopes_ok += 1;
                }
                r.events += s.events;
            }
            r.skipped += t.skipped;
            r.incidents_changed += t.incidents_changed;
            r.mails_queued += t.notices_queued;
            r.reminders_queued += t.reminders_queued;
        }
        r
    }

    /// The scopes that failed, as `tenant/scope` and the error.
    pub fn failing(&self) -> Vec<(String, String)> {
        self.tenants
            .iter()
            .flat_map(|t| {
                t.scopes.iter().filter_map(move |s| {
                    s.error
                        .as_ref()
                        .map(|e| (format!("{}/{}", t.tenant, s.scope), e.clone()))
                })
            })
            .collect()
    }

    /// Publishes the poll's counters and gauges, with the store's incident counts by status
    /// and its queue (count, oldest). The gauges are replaced at once, so a scrape during a
    /// poll never sees them half-filled.
    pub fn publish(&self, metrics: &Metrics, statuses: &[(String, i64)], queue: QueueStats) {
        for t in &self.tenants {
            for s in &t.scopes {
                let outcome = match (&s.error, &s.degraded) {
                    (Some(_), _) => "error",
                    (None, Some(_)) => "degraded",
                    (None, None) => "ok",
                };
                let (tenant, scope) = (t.tenant.to_string(), s.scope.clone());
                metrics
                    .polls
                    .get_or_create(&PollLabels {
                        tenant: tenant.clone(),
                        scope: scope.clone(),
                        outcome: outcome.to_owned(),
                    })
                    .inc();
                metrics
                    .poll_duration
                    .get_or_create(&ScopeLabels { tenant, scope })
                    .observe(s.duration.as_secs_f64());
            }
            let events: usize = t.scopes.iter().map(|s| s.events).sum();
            metrics
                .events_seen
                .get_or_create(&TenantLabels {
                    tenant: t.tenant.to_string(),
                })
                .inc_by(u64::try_from(events).unwrap_or(u64::MAX));
        }
        metrics.incidents.clear();
        for (status, n) in statuses {
            let state = status.to_ascii_lowercase();
            metrics
                .incidents
                .get_or_create(&StateLabels { state })
                .set(*n);
        }
        metrics.queued.set(queue.0);
        let age = queue
            .1
            .map_or(0, |t| self.at.duration_since(t).as_secs().max(0));
        metrics.oldest_queued_seconds.set(age);
        metrics.claim_deadline_seconds.clear();
        let (mut review, mut open) = (0, 0);
        for t in &self.tenants {
            review += t.follow_ups.pir_to_review;
            open += t.follow_ups.claim_open;
            for (id, secs) in &t.follow_ups.claim_deadlines {
                let labels = ClaimLabels {
                    tenant: t.tenant.to_string(),
                    tracking_id: id.to_string(),
                };
                metrics
                    .claim_deadline_seconds
                    .get_or_create(&labels)
                    .set(*secs);
            }
        }
        for (state, n) in [("pir_to_review", review), ("claim_open", open)] {
            metrics
                .incidents
                .get_or_create(&StateLabels {
                    state: state.into(),
                })
                .set(n);
        }
        metrics.poll_finished(self.at, self.failing());
    }
}

/// Counts queued notices by kind.
pub fn count_queued(metrics: &Metrics, kinds: impl IntoIterator<Item = &'static str>) {
    for kind in kinds {
        metrics
            .notifications
            .get_or_create(&MailLabels {
                kind: kind.to_owned(),
                outcome: "queued".into(),
            })
            .inc();
    }
}

/// `STATUS=` for systemd: the last poll's result in one line.
pub fn status_line(at: Timestamp, r: &CycleReport) -> String {
    format!(
        "last poll {}: {} scope(s) ok, {} failed, {} event(s); {} mail(s) sent, {} queued",
        at.strftime("%Y-%m-%d %H:%M UTC"),
        r.poll.scopes_ok,
        r.poll.scopes_failed,
        r.poll.events,
        r.delivery.sent,
        r.still_queued
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(name: &str, error: Option<&str>, events: usize) -> ScopeSummary {
        ScopeSummary {
            scope: name.into(),
            error: error.map(str::to_owned),
            degraded: None,
            events,
            duration: Duration::from_millis(5),
        }
    }

    #[test]
    fn totals_and_failing_scopes_come_from_the_outcome() {
        let tenant = |name: &str, scopes| TenantOutcome {
            tenant: name.into(),
            scopes,
            skipped: 1,
            incidents_changed: 2,
            notices_queued: 3,
            reminders_queued: 1,
            follow_ups: FollowUpGauges {
                pir_to_review: 1,
                claim_open: 1,
                claim_deadlines: vec![("X".into(), 3600)],
            },
        };
        let o = PollOutcome {
            at: "2026-11-01T10:00:00Z".parse().expect("ts"),
            tenants: vec![
                tenant("a", vec![scope("s1", None, 4), scope("s2", Some("403"), 0)]),
                tenant("b", vec![scope("s3", None, 2)]),
            ],
        };
        let r = o.report();
        assert_eq!((r.scopes_ok, r.scopes_failed, r.events), (2, 1, 6));
        assert_eq!((r.skipped, r.mails_queued, r.reminders_queued), (2, 6, 2));
        assert_eq!(o.failing(), [("a/s2".to_owned(), "403".to_owned())]);
        let m = Metrics::new();
        o.publish(&m, &[("Active".into(), 3)], (1, Some(o.at)));
        let text = m.encode();
        assert!(
            text.contains("pirwatch_incidents{state=\"claim_open\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("pirwatch_incidents{state=\"active\"} 3"),
            "{text}"
        );
        assert_eq!(m.failing_scopes().len(), 1);
        assert_eq!(m.last_poll_at(), Some(o.at));
    }
}
