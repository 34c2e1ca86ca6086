//! What the team is asked to do about an incident at an instant: each open action with its
//! deadline, and the sentences that explain a claim date. Pure; mails (and later the web page)
//! say exactly this, so what they say is true when it is said.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::followup::assess::{ClaimStatus, FollowUp, ReviewStatus};
use crate::followup::claim::{ClaimDates, DeadlineKind};
use crate::incident::ack::{ClaimDecision, PirStage};
use crate::incident::notice::{ReminderKey, Series, Step};

/// The SLA claim while it is still to be filed, as of one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimDue {
    /// The date to file by now (a margin date, the partner's or the SLA's).
    pub file_by: Date,
    pub kind: DeadlineKind,
    /// Days from today (the team's zone) to `file_by`; 0 = today.
    pub days_left: i32,
    pub dates: ClaimDates,
    /// The partner's deadline, once it passed (the SLA's window still open).
    pub partner_passed: Option<Date>,
}

impl ClaimDue {
    /// The claim's state at `now`, if it is open.
    pub fn of(claim: &ClaimStatus, now: Timestamp, tz: &TimeZone) -> Option<Self> {
        let ClaimStatus::Open(dates) = claim else {
            return None;
        };
        let (kind, file_by) = dates.file_by(now, tz);
        let today = now.to_zoned(tz.clone()).date();
        Some(Self {
            file_by,
            kind,
            days_left: (file_by - today).get_days(),
            dates: *dates,
            partner_passed: dates.partner_passed(now, tz),
        })
    }

    /// Why the date to file by is that date, one sentence each, beyond the SLA rule.
    pub fn explanation(&self) -> Vec<String> {
        let d = &self.dates;
        let mut out = Vec::new();
        if let Some(passed) = self.partner_passed {
            out.push(format!(
                "Your partner's deadline passed on {}; Microsoft's SLA deadline is {}.",
                long(passed),
                long(d.sla_deadline)
            ));
        } else if let Some(partner) = d.partner_deadline {
            out.push(format!(
                "This counts to your partner's deadline, {}; Microsoft's SLA deadline is {}.",
                long(partner),
                long(d.sla_deadline)
            ));
        }
        match self.kind {
            DeadlineKind::PartnerMargin | DeadlineKind::SlaMargin => out.push(format!(
                "pirwatch counts to {} days before the deadline ({}), as configured \
                 (claim_margin_days).",
                d.margin_days,
                long(
                    self.file_by
                        .saturating_add(jiff::ToSpan::days(i64::from(d.margin_days)))
                )
            )),
            DeadlineKind::Partner | DeadlineKind::Sla if d.margin_days > 0 => out.push(format!(
                "The {}-day margin you set has passed; this is the deadline itself.",
                d.margin_days
            )),
            _ => {}
        }
        if let Some(next) = d.next_period_deadline {
            out.push(format!(
                "The incident ran on into the next billing period, whose claim deadline is {}; \
                 pirwatch reminds the earlier date.",
                long(next)
            ));
        }
        out
    }

    /// What the date to file by is, completing "In 7 days (Thursday 2026-12-31) …".
    pub fn what_the_date_is(&self) -> String {
        let d = &self.dates;
        let m = d.margin_days;
        match (self.kind, d.partner_deadline) {
            (DeadlineKind::Sla, _) => {
                "is the last day to file the SLA credit claim for this incident".to_owned()
            }
            (DeadlineKind::Partner, _) => format!(
                "is your partner's deadline for the SLA credit claim of this incident \
                 (Microsoft's own is {})",
                long(d.sla_deadline)
            ),
            (DeadlineKind::PartnerMargin, Some(p)) => format!(
                "is the date you set for the SLA credit claim of this incident, {m} days before \
                 your partner's deadline ({})",
                long(p)
            ),
            (DeadlineKind::SlaMargin | DeadlineKind::PartnerMargin, _) => format!(
                "is the date you set for the SLA credit claim of this incident, {m} days before \
                 the last day ({})",
                long(d.sla_deadline)
            ),
        }
    }

    /// The SLA's rule and how it applies, in one sentence.
    pub fn rule(&self) -> String {
        let p = self.dates.billing_period;
        let period = if p.first.day() == 1 && p.last == p.first.last_of_month() {
            format!("the billing month {}", p.first.strftime("%B %Y"))
        } else {
            format!(
                "the billing period {} to {}",
                p.first.strftime("%-d %B %Y"),
                p.last.strftime("%-d %B %Y")
            )
        };
        format!(
            "The incident began in {period} (UTC); the SLA asks for claims within two months \
             of the end of the billing month in which the incident occurred: by {}.",
            long(self.dates.sla_deadline)
        )
    }
}

/// One thing a mail asks the team to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Read the PIR of `stage` and acknowledge it; `reminder` counts the reminders so far.
    ReviewPir { stage: PirStage, reminder: u32 },
    /// File the SLA claim (or record that you will not).
    FileClaim(ClaimDue),
    /// The SLA's window closed without a decision: record what happened.
    RecordClaimDecision { closed_on: Date },
    /// No PIR came: one may be requested.
    RequestPir,
    /// The claim filed on `filed_on` has had no answer for 45 days: chase it.
    ChaseClaim {
        filed_on: Date,
        reference: Option<String>,
    },
}

impl Action {
    /// Most urgent first: the claim, then its closing, then the PIR.
    fn urgency(&self) -> u8 {
        match self {
            Self::FileClaim(_) => 0,
            Self::RecordClaimDecision { .. } => 1,
            Self::ChaseClaim { .. } => 2,
            Self::ReviewPir { .. } => 3,
            Self::RequestPir => 4,
        }
    }
}

/// The actions the reminders `keys` ask for at `now`, most urgent first: only those still true
/// (the state in `f`, assessed at `now`), one per action.
pub fn actions(f: &FollowUp, keys: &[ReminderKey], now: Timestamp, tz: &TimeZone) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for key in keys.iter().filter(|k| f.still_applies(**k)) {
        let action = match (key.series, &f.claim, &f.review) {
            (Series::Claim | Series::SlaClaim, claim, _) => {
                ClaimDue::of(claim, now, tz).map(Action::FileClaim)
            }
            (Series::WindowClosed, ClaimStatus::WindowClosed(d), _) => {
                Some(Action::RecordClaimDecision {
                    closed_on: d.sla_deadline,
                })
            }
            (Series::PirReview, _, ReviewStatus::ToReview(stage)) => Some(Action::ReviewPir {
                stage: *stage,
                reminder: match key.step {
                    Step::Review { n, .. } => n,
                    _ => 1,
                },
            }),
            (Series::PirNudge, _, ReviewStatus::NoPir) => Some(Action::RequestPir),
            (
                Series::ClaimChase,
                ClaimStatus::Decided {
                    decision: ClaimDecision::Claimed { reference },
                    at,
                    ..
                },
                _,
            ) => Some(Action::ChaseClaim {
                filed_on: at.to_zoned(tz.clone()).date(),
                reference: reference.clone(),
            }),
            _ => None,
        };
        if let Some(a) = action
            && !out.iter().any(|o| o.urgency() == a.urgency())
        {
            out.push(a);
        }
    }
    out.sort_by_key(Action::urgency);
    out
}

/// `Thursday 2026-12-31`.
pub fn long(d: Date) -> String {
    d.strftime("%A %Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::followup::TenantPolicy;
    use crate::followup::assess::assess;
    use crate::followup::claim::{ClaimChannel, ClaimPolicy};
    use crate::followup::schedule::ReminderPolicy;
    use crate::incident::ack::{Ack, AckKind, AckSource, Acks};
    use crate::incident::{EventType, Incident, PirState};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn policy(claim: ClaimPolicy) -> TenantPolicy {
        TenantPolicy {
            calendar: crate::followup::calendar::test_calendar(),
            claim,
            reminders: ReminderPolicy::default(),
            notify_event_types: [EventType::ServiceIssue].into(),
            ignore_services: Default::default(),
        }
    }

    fn incident() -> Incident {
        let mut i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        i.pir = PirState::Final;
        i.pir_seen = Some(ts("2026-10-19T08:00:00Z"));
        i
    }

    fn key(series: Series, step: Step) -> ReminderKey {
        ReminderKey { series, step }
    }

    const CLAIM: ReminderKey = ReminderKey {
        series: Series::Claim,
        step: Step::DaysBefore(14),
    };

    fn review() -> ReminderKey {
        key(
            Series::PirReview,
            Step::Review {
                stage: PirStage::Final,
                n: 5,
            },
        )
    }

    fn says(acks: &[AckKind], keys: &[ReminderKey], claim: ClaimPolicy, now: &str) -> Vec<Action> {
        let p = policy(claim);
        let records: Vec<Ack> = acks
            .iter()
            .map(|k| Ack {
                kind: k.clone(),
                by: "ana".into(),
                at: ts("2026-10-20T10:00:00Z"),
                source: AckSource::Cli,
            })
            .collect();
        let acks = Acks::from_records(&records);
        let f = assess(&incident(), &acks, &BTreeSet::new(), &p, ts(now));
        actions(&f, keys, ts(now), p.calendar.timezone())
    }

    fn names(actions: &[Action]) -> Vec<&'static str> {
        actions
            .iter()
            .map(|a| match a {
                Action::ReviewPir { .. } => "review",
                Action::FileClaim(_) => "claim",
                Action::RecordClaimDecision { .. } => "closed",
                Action::RequestPir => "request",
                Action::ChaseClaim { .. } => "chase",
            })
            .collect()
    }

    #[test]
    fn only_what_is_still_true_is_asked_for() {
        let d = ClaimPolicy::default;
        let claimed = AckKind::Claimed { reference: None };
        let reviewed = AckKind::Reviewed {
            stage: PirStage::Final,
        };
        let closed = key(Series::WindowClosed, Step::Once);
        // (acks, keys, now) → actions
        type Case<'a> = (&'a [AckKind], &'a [ReminderKey], &'a str, &'a [&'a str]);
        let cases: [Case<'_>; 6] = [
            (
                &[],
                &[review(), CLAIM],
                "2026-12-17T10:00:00Z",
                &["claim", "review"],
            ),
            (
                std::slice::from_ref(&reviewed),
                &[review(), CLAIM],
                "2026-12-17T10:00:00Z",
                &["claim"],
            ),
            (
                std::slice::from_ref(&claimed),
                &[CLAIM],
                "2026-12-17T10:00:00Z",
                &[],
            ),
            // The deadline passed while the reminder waited: no "file it".
            (&[], &[CLAIM], "2027-01-01T10:00:00Z", &[]),
            (&[], &[closed], "2027-01-01T10:00:00Z", &["closed"]),
            (
                std::slice::from_ref(&claimed),
                &[closed],
                "2027-01-01T10:00:00Z",
                &[],
            ),
        ];
        for (acks, keys, now, want) in cases {
            assert_eq!(names(&says(acks, keys, d(), now)), want, "{acks:?} {now}");
        }
    }

    #[test]
    fn days_left_and_the_date_follow_the_margin() {
        let margin = ClaimPolicy {
            margin_days: 3,
            ..Default::default()
        };
        let got = says(&[], &[CLAIM], margin, "2026-12-17T10:00:00Z");
        let [Action::FileClaim(c)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(
            (c.file_by, c.days_left),
            (jiff::civil::date(2026, 12, 28), 11)
        );
        assert_eq!(
            c.explanation(),
            vec![
                "pirwatch counts to 3 days before the deadline (Thursday 2026-12-31), as \
                 configured (claim_margin_days)."
                    .to_owned()
            ]
        );
    }

    #[test]
    fn a_passed_partner_deadline_is_said_with_the_slas() {
        let partner = ClaimPolicy {
            channel: ClaimChannel::Partner,
            partner_deadline_days: Some(30),
            timezone: TimeZone::get("Europe/Amsterdam").expect("tz"),
            ..Default::default()
        };
        let got = says(&[], &[CLAIM], partner, "2026-12-17T10:00:00Z");
        let [Action::FileClaim(c)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(
            (c.file_by, c.days_left),
            (jiff::civil::date(2026, 12, 31), 14)
        );
        assert_eq!(
            c.explanation(),
            vec![
                "Your partner's deadline passed on Saturday 2026-11-07; Microsoft's SLA \
                 deadline is Thursday 2026-12-31."
                    .to_owned()
            ]
        );
        assert_eq!(
            c.rule(),
            "The incident began in the billing month October 2026 (UTC); the SLA asks for \
             claims within two months of the end of the billing month in which the incident \
             occurred: by Thursday 2026-12-31."
        );
    }
}
