//! The demo source: a scripted incident timeline for `pirwatch demo`, so a newcomer without
//! Azure credentials sees the real pipeline work (store, tracker, deadlines, templates, outbox).
//!
//! What it returns depends only on the `now` it is asked at: an incident starts at the
//! anchor, gets an update, is mitigated and resolved, and gets its Final PIR 14 days after
//! mitigation. A second subscription appears two days in, holding an earlier resolved incident
//! (so its first poll sends the digest). Everything it yields is labelled DEMO and it serves
//! only the demo tenant.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

use crate::source::ScopeResult;
use crate::source::event::{
    EventStatus, EventType, HealthEvent, ImpactedRegion, Scope, TAG_FINAL_PIR, Update,
};

/// The demo's only subscription.
pub const DEMO_SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000d3m0";
/// The demo incident's tracking id.
pub const DEMO_TRACKING_ID: &str = "DEMO-7K2P";
/// A second subscription, as if added to the config two days into the demo: its first poll
/// finds an earlier, resolved incident whose claim is still open (the first-poll digest).
pub const DEMO_HISTORY_SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000h15t0";
/// The earlier incident's tracking id.
pub const DEMO_HISTORY_TRACKING_ID: &str = "DEMO-3HX9";
/// When the second subscription is first polled, relative to the anchor.
const HISTORY_FROM: SignedDuration = SignedDuration::from_hours(2 * 24);
/// When the earlier incident started (before the anchor) and how long it lasted.
const HISTORY_STARTED_BEFORE: SignedDuration = SignedDuration::from_hours(12 * 24);
const HISTORY_LASTED: SignedDuration = SignedDuration::from_mins(95);

/// The scripted timeline, anchored at the incident's start.
#[derive(Debug, Clone)]
pub struct DemoSource {
    anchor: Timestamp,
}

/// A step of the script: when it happens, relative to the anchor.
struct Step {
    after: SignedDuration,
    text: &'static str,
    tags: &'static [&'static str],
}

const STEPS: [Step; 4] = [
    Step {
        after: SignedDuration::from_mins(20),
        text: "<p><b>Investigating.</b> Starting at the time above, a subset of customers using \
               Virtual Machines and Azure SQL Database in West Europe may experience connection \
               failures. Engineers are investigating.</p>",
        tags: &[],
    },
    Step {
        after: SignedDuration::from_mins(130),
        text: "<p><b>Update.</b> We identified a network configuration change in one \
               availability zone as the likely cause and are rolling it back.</p>",
        tags: &[],
    },
    Step {
        after: SignedDuration::from_mins(270),
        text: "<p><b>Mitigated.</b> The rollback completed and connectivity has recovered. \
               This incident is resolved; a Post-Incident Review will follow.</p>",
        tags: &[],
    },
    Step {
        after: SignedDuration::from_hours(14 * 24 + 4),
        text: "<h3>Post Incident Review (PIR)</h3><p><b>What happened?</b> A network \
               configuration change in West Europe removed routes for part of one availability \
               zone.</p><p><b>What went wrong and why?</b> The change passed validation in a \
               region whose topology differs.</p><p><b>How are we making incidents like this \
               less likely?</b> Topology-aware validation (completed); slower zone-by-zone \
               rollout (in progress).</p>",
        tags: &[TAG_FINAL_PIR],
    },
];

/// Mitigation, relative to the anchor.
const MITIGATED_AFTER: SignedDuration = SignedDuration::from_mins(240);

impl DemoSource {
    /// A timeline whose incident starts at `anchor`.
    pub fn new(anchor: Timestamp) -> Self {
        Self { anchor }
    }

    /// The instants at which something happens, for the demo to poll at.
    pub fn step_times(&self) -> Vec<Timestamp> {
        let mut out: Vec<Timestamp> = STEPS
            .iter()
            .map(|s| self.at(s.after + SignedDuration::from_mins(5)))
            .chain([self.at(HISTORY_FROM)])
            .collect();
        out.sort();
        out
    }

    fn at(&self, d: SignedDuration) -> Timestamp {
        self.anchor.checked_add(d).unwrap_or(self.anchor)
    }

    /// The demo subscriptions' events as of `now`.
    pub fn poll(&self, now: Timestamp) -> Vec<ScopeResult> {
        let result = |sub: &str, events: Vec<HealthEvent>| ScopeResult {
            scope: Scope::Subscription(sub.to_owned()),
            outcome: Ok(events),
            skipped: 0,
            degraded: None,
            requests: 0,
            duration: std::time::Duration::ZERO,
        };
        let mut out = vec![result(
            DEMO_SUBSCRIPTION,
            self.event(now).into_iter().collect(),
        )];
        if now >= self.at(HISTORY_FROM) {
            out.push(result(
                DEMO_HISTORY_SUBSCRIPTION,
                vec![self.history_event()],
            ));
        }
        out
    }

    /// The earlier incident: resolved long before its subscription is first polled.
    fn history_event(&self) -> HealthEvent {
        let start = self
            .anchor
            .checked_sub(HISTORY_STARTED_BEFORE)
            .unwrap_or(self.anchor);
        let end = start.checked_add(HISTORY_LASTED).unwrap_or(start);
        let sub = DEMO_HISTORY_SUBSCRIPTION.to_owned();
        let text = "<p><b>Mitigated.</b> Between the times above, a subset of customers using \
                    Azure Storage in North Europe saw elevated latency. A storage scale unit was \
                    rebalanced.</p>";
        HealthEvent {
            tracking_id: DEMO_HISTORY_TRACKING_ID.to_owned(),
            scope: Scope::Subscription(sub.clone()),
            event_type: EventType::ServiceIssue,
            status: EventStatus::Resolved,
            title: "Elevated latency - Storage - North Europe (resolved)".to_owned(),
            summary: Some("<p>DEMO incident: elevated Storage latency in North Europe.</p>".into()),
            description: None,
            article: None,
            level: Some("Warning".to_owned()),
            impact_start: Some(start),
            mitigated_at: Some(end),
            last_update: Some(end),
            tags: BTreeSet::new(),
            impacts: vec![ImpactedRegion {
                service: "Storage".to_owned(),
                region: "North Europe".to_owned(),
                status: EventStatus::Resolved,
                subscriptions: [sub].into(),
            }],
            updates: vec![Update {
                published: end,
                summary: text.to_owned(),
                tags: BTreeSet::new(),
                service: "Storage".to_owned(),
                region: "North Europe".to_owned(),
            }],
            sensitive: false,
            details_unavailable: false,
        }
    }

    fn event(&self, now: Timestamp) -> Option<HealthEvent> {
        let published: Vec<&Step> = STEPS.iter().filter(|s| self.at(s.after) <= now).collect();
        if published.is_empty() {
            return None;
        }
        let mitigated = self.at(MITIGATED_AFTER) <= now && published.len() >= 3;
        let status = if mitigated {
            EventStatus::Resolved
        } else {
            EventStatus::Active
        };
        let mut tags = BTreeSet::new();
        let mut updates = Vec::new();
        for (service, region) in [
            ("Virtual Machines", "West Europe"),
            ("SQL Database", "West Europe"),
        ] {
            for s in &published {
                tags.extend(s.tags.iter().map(|t| t.to_string()));
                updates.push(Update {
                    published: self.at(s.after),
                    summary: s.text.to_owned(),
                    tags: s.tags.iter().map(|t| t.to_string()).collect(),
                    service: service.to_owned(),
                    region: region.to_owned(),
                });
            }
        }
        let title = if mitigated {
            "Connectivity issues - Virtual Machines and SQL Database - West Europe (resolved)"
        } else {
            "Connectivity issues - Virtual Machines and SQL Database - West Europe"
        };
        Some(HealthEvent {
            tracking_id: DEMO_TRACKING_ID.to_owned(),
            scope: Scope::Subscription(DEMO_SUBSCRIPTION.to_owned()),
            event_type: EventType::ServiceIssue,
            status: status.clone(),
            title: title.to_owned(),
            summary: Some(
                "<p>DEMO incident: connection failures for Virtual Machines and SQL Database \
                 in West Europe.</p>"
                    .to_owned(),
            ),
            description: None,
            article: None,
            level: Some("Warning".to_owned()),
            impact_start: Some(self.anchor),
            mitigated_at: mitigated.then(|| self.at(MITIGATED_AFTER)),
            last_update: updates.iter().map(|u| u.published).max(),
            tags,
            impacts: ["Virtual Machines", "SQL Database"]
                .iter()
                .map(|s| ImpactedRegion {
                    service: (*s).to_owned(),
                    region: "West Europe".to_owned(),
                    status: status.clone(),
                    subscriptions: [DEMO_SUBSCRIPTION.to_owned()].into(),
                })
                .collect(),
            updates,
            sensitive: false,
            details_unavailable: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_unfolds_with_time() {
        let anchor: Timestamp = "2026-11-01T08:00:00Z".parse().expect("ts");
        let demo = DemoSource::new(anchor);
        let events = |t: Timestamp| demo.event(t);
        assert!(events(anchor).is_none());
        let times = demo.step_times();
        let first = events(times[0]).expect("visible");
        assert_eq!(first.status, EventStatus::Active);
        assert_eq!(first.mitigated_at, None);
        let resolved = events(times[2]).expect("visible");
        assert_eq!(resolved.status, EventStatus::Resolved);
        assert!(resolved.mitigated_at.is_some());
        let last = *times.last().expect("steps");
        let pir = events(last).expect("visible");
        assert!(pir.tags.contains(TAG_FINAL_PIR));
        // The second subscription appears two days in, with an earlier resolved incident.
        assert_eq!(demo.poll(times[2]).len(), 1);
        let later = demo.poll(last);
        assert_eq!(later.len(), 2);
        let history = later[1].outcome.as_ref().expect("events");
        assert_eq!(history[0].status, EventStatus::Resolved);
        assert!(history[0].impact_start.is_some_and(|s| s < anchor));
    }
}
