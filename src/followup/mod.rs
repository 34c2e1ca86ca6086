//! Follow-up policy: what the team must do after an incident, and by when: review the PIR,
//! file (or decline) the SLA claim, and when to remind them. Pure: no I/O and no clock reads;
//! `now` is always a parameter.
//!
//! [`assess`] is the one answer to "what is this incident's follow-up state and what is due",
//! read by the daemon, the CLI reports and (later) the web page alike.

pub mod actions;
pub mod assess;
pub mod calendar;
pub mod claim;
pub mod pir;
pub mod schedule;
pub mod support;

pub use assess::{ClaimStatus, FollowUp, ReviewStatus, TenantPolicy, assess};

/// A resolved service issue for the tests of this module's parts.
#[cfg(test)]
pub(crate) fn test_incident(start: &str) -> crate::incident::Incident {
    use crate::incident::{EventType, Incident, PirState};
    let at: jiff::Timestamp = start.parse().expect("ts");
    Incident {
        tenant: "t".into(),
        tracking_id: "X".into(),
        event_type: EventType::ServiceIssue,
        status: "Resolved".into(),
        title: "x".into(),
        summary: None,
        description: None,
        article: None,
        level: None,
        impact_start: Some(at),
        mitigated_at: Some(at + jiff::SignedDuration::from_hours(3)),
        last_update: None,
        pir: PirState::None,
        pir_seen: None,
        false_positive: false,
        impacts: Vec::new(),
        subscriptions: std::collections::BTreeSet::new(),
        updates: Vec::new(),
        first_seen: at,
        sensitive: false,
        details_unavailable: false,
        announced: true,
    }
}
