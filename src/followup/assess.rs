//! `assess`: one incident's follow-up state at `now` — the claim, the PIR review, the whole
//! reminder schedule, what is due and what comes next. Pure; the daemon, the CLI reports and
//! the delivery step (is a queued reminder still true?) all read this one answer.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::{ClaimDates, ClaimPolicy, claim_of, window_end};
use crate::followup::schedule::{self, Reminder, ReminderPolicy};
use crate::incident::ack::{Acks, ClaimDecision, PirStage};
use crate::incident::notice::{ReminderKey, Series};
use crate::incident::{EventType, Incident};

/// Everything about a tenant that its follow-ups depend on, resolved once from the config.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    pub calendar: WorkCalendar,
    pub claim: ClaimPolicy,
    pub reminders: ReminderPolicy,
    /// Event types that send mail (`notify.event_types`); the others get no reminders.
    pub notify_event_types: BTreeSet<EventType>,
    /// Services the tenant ignores (`ignore_services`, lower-cased): an incident about only
    /// these is recorded and listed, never mailed.
    pub ignore_services: BTreeSet<String>,
}

impl TenantPolicy {
    /// True when `i` sends mail: its event type does, and it is not only about ignored services.
    pub fn notifies(&self, i: &Incident) -> bool {
        let services = i.services();
        self.notify_event_types.contains(&i.event_type)
            && (self.ignore_services.is_empty()
                || services.is_empty()
                || services
                    .iter()
                    .any(|s| !self.ignore_services.contains(&s.to_lowercase())))
    }
}

/// The SLA claim's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Not a service issue, or a false positive.
    NotApplicable,
    /// To be filed: by `dates.file_by(now)`, at the latest by `dates.sla_deadline`.
    Open(ClaimDates),
    /// The deadline passed with no decision.
    WindowClosed(ClaimDates),
    /// Filed or declined.
    Decided {
        dates: ClaimDates,
        decision: ClaimDecision,
        by: String,
        at: Timestamp,
    },
}

impl ClaimStatus {
    /// `not_applicable`, `open`, `window_closed`, `claimed` or `declined`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotApplicable => "not_applicable",
            Self::Open(_) => "open",
            Self::WindowClosed(_) => "window_closed",
            Self::Decided {
                decision: ClaimDecision::Claimed { .. },
                ..
            } => "claimed",
            Self::Decided { .. } => "declined",
        }
    }

    /// The claim's dates, where there is a claim.
    pub fn dates(&self) -> Option<ClaimDates> {
        match self {
            Self::NotApplicable => None,
            Self::Open(d) | Self::WindowClosed(d) | Self::Decided { dates: d, .. } => Some(*d),
        }
    }
}

/// The PIR review's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewStatus {
    /// A false positive: nothing to review.
    NotApplicable,
    /// No PIR published yet.
    NoPir,
    /// This stage is published and not yet acknowledged.
    ToReview(PirStage),
    /// Acknowledged up to `stage`.
    Reviewed {
        stage: PirStage,
        by: String,
        at: Timestamp,
    },
}

impl ReviewStatus {
    /// `not_applicable`, `no_pir`, `to_review` or `reviewed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotApplicable => "not_applicable",
            Self::NoPir => "no_pir",
            Self::ToReview(_) => "to_review",
            Self::Reviewed { .. } => "reviewed",
        }
    }
}

/// One incident's follow-up state at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub claim: ClaimStatus,
    pub review: ReviewStatus,
    /// Every reminder not stopped by an acknowledgement, past and future, in time order.
    pub schedule: Vec<Reminder>,
    /// The reminders to queue now.
    pub due: Vec<Reminder>,
    /// The next reminder still to come.
    pub next: Option<Reminder>,
}

impl FollowUp {
    /// True when a queued reminder is still true at the instant assessed: its series was not
    /// acknowledged and, for a claim reminder, the window is still open.
    pub fn still_applies(&self, key: ReminderKey) -> bool {
        let scheduled = self.schedule.iter().any(|r| r.key == key);
        match key.series {
            Series::Claim | Series::SlaClaim => {
                scheduled && matches!(self.claim, ClaimStatus::Open(_))
            }
            Series::WindowClosed => scheduled && matches!(self.claim, ClaimStatus::WindowClosed(_)),
            Series::PirReview | Series::PirNudge => scheduled,
            Series::ClaimChase => {
                scheduled
                    && matches!(
                        self.claim,
                        ClaimStatus::Decided {
                            decision: ClaimDecision::Claimed { .. },
                            ..
                        }
                    )
            }
        }
    }

    /// The first instant after the day reminders count to at `now` (the end of that day in
    /// UTC or the team's zone, whichever comes first). `None` when no claim is open.
    pub fn claim_window_end(&self, cal: &WorkCalendar, now: Timestamp) -> Option<Timestamp> {
        let ClaimStatus::Open(d) = &self.claim else {
            return None;
        };
        Some(window_end(d.file_by(now, cal.timezone()).1, cal.timezone()))
    }
}

/// Assesses `incident` at `now`: `acks` are its acknowledgements, `sent` the reminder steps
/// already queued or sent for it.
pub fn assess(
    incident: &Incident,
    acks: &Acks,
    sent: &BTreeSet<ReminderKey>,
    policy: &TenantPolicy,
    now: Timestamp,
) -> FollowUp {
    let dates = claim_of(incident, &policy.claim);
    let claim = claim_status(incident, dates, acks, &policy.calendar, now);
    let review = review_status(incident, acks);
    let follows = incident.announced && policy.notifies(incident);
    let schedule = if follows {
        schedule::reminders(incident, dates, acks, &policy.reminders, &policy.calendar)
    } else {
        Vec::new()
    };
    let due = schedule::due(&schedule, sent, dates, &policy.calendar, now);
    let next = schedule::next(&schedule, sent, now);
    FollowUp {
        claim,
        review,
        schedule,
        due,
        next,
    }
}

fn claim_status(
    incident: &Incident,
    dates: Option<ClaimDates>,
    acks: &Acks,
    cal: &WorkCalendar,
    now: Timestamp,
) -> ClaimStatus {
    let Some(dates) = dates.filter(|_| !incident.false_positive) else {
        return ClaimStatus::NotApplicable;
    };
    match &acks.claim {
        Some((decision, by, at)) => ClaimStatus::Decided {
            dates,
            decision: decision.clone(),
            by: by.clone(),
            at: *at,
        },
        None if dates.closed(now, cal.timezone()) => ClaimStatus::WindowClosed(dates),
        None => ClaimStatus::Open(dates),
    }
}

fn review_status(incident: &Incident, acks: &Acks) -> ReviewStatus {
    if incident.false_positive {
        return ReviewStatus::NotApplicable;
    }
    match (&acks.reviewed, incident.pir.stage()) {
        (Some((stage, by, at)), current) if current.is_none_or(|c| c <= *stage) => {
            ReviewStatus::Reviewed {
                stage: *stage,
                by: by.clone(),
                at: *at,
            }
        }
        (_, Some(stage)) => ReviewStatus::ToReview(stage),
        (_, None) => ReviewStatus::NoPir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::test_incident;
    use crate::incident::PirState;
    use crate::incident::ack::{Ack, AckKind, AckSource};
    use crate::incident::notice::Step;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn policy() -> TenantPolicy {
        TenantPolicy {
            calendar: crate::followup::calendar::test_calendar(),
            claim: ClaimPolicy {
                billing_start_day: 1,
                ..Default::default()
            },
            reminders: ReminderPolicy::default(),
            notify_event_types: [EventType::ServiceIssue].into(),
            ignore_services: Default::default(),
        }
    }

    fn ack(kind: AckKind) -> Acks {
        Acks::from_records(&[Ack {
            kind,
            by: "ana".into(),
            at: ts("2026-10-20T10:00:00Z"),
            source: AckSource::Cli,
        }])
    }

    fn final_pir() -> Incident {
        let mut i = test_incident("2026-10-08T10:00:00Z");
        i.pir = PirState::Final;
        i.pir_seen = Some(ts("2026-10-19T08:00:00Z"));
        i
    }

    #[test]
    fn states_over_an_incidents_life() {
        let none = BTreeSet::new();
        let p = policy();
        // (acks, now) → (claim, review, due keys)
        let cases: [(Acks, &str, &str, &str, &[&str]); 5] = [
            (
                Acks::default(),
                "2026-10-20T10:00:00Z",
                "open",
                "to_review",
                &[],
            ),
            (
                Acks::default(),
                "2026-11-05T10:00:00Z",
                "open",
                "to_review",
                &["pir_review-final-4"],
            ),
            (
                ack(AckKind::Reviewed {
                    stage: PirStage::Final,
                }),
                "2026-12-17T10:00:00Z",
                "open",
                "reviewed",
                &["claim-d14"],
            ),
            (
                ack(AckKind::Claimed {
                    reference: Some("SR1".into()),
                }),
                "2026-12-17T10:00:00Z",
                "claimed",
                "to_review",
                // Filed 45 days ago with no answer recorded: chase it.
                &["pir_review-final-5", "claim_chase-once"],
            ),
            (
                Acks::default(),
                "2027-01-01T10:00:00Z",
                "window_closed",
                "to_review",
                &["pir_review-final-5", "window_closed-once"],
            ),
        ];
        for (acks, now, claim, review, due) in cases {
            let f = assess(&final_pir(), &acks, &none, &p, ts(now));
            let got: Vec<String> = f.due.iter().map(|r| r.key.to_string()).collect();
            assert_eq!(
                (f.claim.as_str(), f.review.as_str(), got),
                (claim, review, due.iter().map(|s| s.to_string()).collect()),
                "at {now}"
            );
        }
    }

    /// Defect 3 of issue 7: an incident recorded silently on the first poll (resolved, with a
    /// PIR, claim window closed) still got "review the PIR" reminders.
    #[test]
    fn an_incident_recorded_silently_gets_no_follow_ups() {
        let mut i = final_pir();
        i.announced = false;
        let f = assess(
            &i,
            &Acks::default(),
            &BTreeSet::new(),
            &policy(),
            ts("2026-11-05T10:00:00Z"),
        );
        assert!(f.schedule.is_empty() && f.due.is_empty() && f.next.is_none());
        assert_eq!(f.review.as_str(), "to_review", "the state is still shown");
    }

    #[test]
    fn event_types_that_send_no_mail_get_no_reminders() {
        let mut i = final_pir();
        i.event_type = EventType::PlannedMaintenance;
        let f = assess(
            &i,
            &Acks::default(),
            &BTreeSet::new(),
            &policy(),
            ts("2026-11-05T10:00:00Z"),
        );
        assert!(f.schedule.is_empty());
        assert_eq!(f.claim, ClaimStatus::NotApplicable);
    }

    #[test]
    fn a_queued_reminder_stops_applying_once_acknowledged_or_late() {
        let i = final_pir();
        let p = policy();
        let key = ReminderKey {
            series: Series::Claim,
            step: Step::DaysBefore(14),
        };
        let open = assess(
            &i,
            &Acks::default(),
            &BTreeSet::new(),
            &p,
            ts("2026-12-17T10:00:00Z"),
        );
        assert!(open.still_applies(key));
        let filed = ack(AckKind::NoClaim { reason: None });
        let after = assess(&i, &filed, &BTreeSet::new(), &p, ts("2026-12-17T10:00:00Z"));
        assert!(!after.still_applies(key));
        let late = assess(
            &i,
            &Acks::default(),
            &BTreeSet::new(),
            &p,
            ts("2027-01-01T10:00:00Z"),
        );
        assert!(!late.still_applies(key), "the window closed meanwhile");
        // The window ends at local midnight after Dec 31 (Europe/Amsterdam, UTC+1).
        assert_eq!(
            open.claim_window_end(&p.calendar, ts("2026-12-17T10:00:00Z")),
            Some(ts("2026-12-31T23:00:00Z"))
        );
    }

    #[test]
    fn ignored_services_alone_send_no_mail() {
        let mut policy = policy();
        policy.ignore_services = ["azure devops".to_owned()].into();
        let with = |services: &[&str]| {
            let mut i = test_incident("2026-10-08T10:00:00Z");
            i.impacts = services
                .iter()
                .map(|s| crate::incident::ImpactedRegion {
                    service: (*s).into(),
                    region: "West Europe".into(),
                    status: "Active".into(),
                    subscriptions: BTreeSet::new(),
                })
                .collect();
            i
        };
        for (services, mailed) in [
            (&["Azure DevOps"][..], false),
            (&["Azure DevOps", "Virtual Machines"][..], true),
            (&["Virtual Machines"][..], true),
            (&[][..], true),
        ] {
            assert_eq!(policy.notifies(&with(services)), mailed, "{services:?}");
        }
    }

    #[test]
    fn a_filed_claim_without_an_answer_is_chased_once_after_45_days() {
        let p = policy();
        let at = |s: &str| ts(s);
        let filed = Ack {
            kind: AckKind::Claimed {
                reference: Some("SR9".into()),
            },
            by: "ana".into(),
            at: at("2026-10-20T10:00:00Z"),
            source: AckSource::Cli,
        };
        let answered = Ack {
            kind: AckKind::ClaimOutcome {
                approved: true,
                credit: Some("EUR 12".into()),
            },
            by: "ana".into(),
            at: at("2026-11-20T10:00:00Z"),
            source: AckSource::Cli,
        };
        let declined = Ack {
            kind: AckKind::NoClaim { reason: None },
            ..filed.clone()
        };
        let chase = |records: &[Ack], now: &str| {
            let f = assess(
                &final_pir(),
                &Acks::from_records(records),
                &BTreeSet::new(),
                &p,
                at(now),
            );
            f.due.iter().any(|r| r.series() == Series::ClaimChase)
        };
        // (acknowledgements, now) → chased
        let cases: [(&[Ack], &str, bool); 5] = [
            (std::slice::from_ref(&filed), "2026-12-03T10:00:00Z", false),
            (std::slice::from_ref(&filed), "2026-12-05T10:00:00Z", true),
            (
                &[filed.clone(), answered.clone()],
                "2026-12-05T10:00:00Z",
                false,
            ),
            (
                std::slice::from_ref(&declined),
                "2026-12-05T10:00:00Z",
                false,
            ),
            (&[], "2026-12-05T10:00:00Z", false),
        ];
        for (records, now, want) in cases {
            assert_eq!(chase(records, now), want, "{records:?} at {now}");
        }
        // Once: sent, it is not due again.
        let f = assess(
            &final_pir(),
            &Acks::from_records(&[filed]),
            &BTreeSet::new(),
            &p,
            at("2026-12-05T10:00:00Z"),
        );
        let key = f
            .due
            .iter()
            .find(|r| r.series() == Series::ClaimChase)
            .expect("due")
            .key;
        assert!(f.still_applies(key));
    }
}
