//! The reminder schedule of one incident, and which reminder is due now.
//!
//! Four series, each stopped by its acknowledgement:
//! * `pir_review`: every N working days after the PIR was first seen, at most M times, until
//!   someone acknowledges having reviewed it;
//! * `claim`: at 14, 7, 3 and 1 days before the claim deadline (moved to the previous working
//!   day), until the claim is acknowledged as filed or declined;
//! * `window_closed`: once, on the first working day after the deadline passed unacknowledged;
//! * `pir_nudge`: once, when no PIR came N days after mitigation ("you can request one").
//!
//! Reminders go out at the opening of the team's working day. The schedule is recomputed from
//! the stored incident every cycle; the outbox remembers which steps went out. Only the newest
//! due step of a series is sent, so a daemon that was down for a week sends one reminder, not
//! seven, and a restart never repeats one (steps are keyed) nor skips the one due.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::ClaimDates;
use crate::followup::pir;
use crate::incident::{Incident, PirState};

/// A reminder series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    PirReview,
    Claim,
    WindowClosed,
    PirNudge,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PirReview => "pir_review",
            Self::Claim => "claim",
            Self::WindowClosed => "window_closed",
            Self::PirNudge => "pir_nudge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pir_review" => Self::PirReview,
            "claim" => Self::Claim,
            "window_closed" => Self::WindowClosed,
            "pir_nudge" => Self::PirNudge,
            _ => return None,
        })
    }
}

/// When to remind, per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderPolicy {
    pub review_every_working_days: u32,
    pub review_max: u32,
    /// Days before the claim deadline.
    pub claim_days_before: Vec<u32>,
    pub window_closed_notice: bool,
    pub pir_nudge_after: SignedDuration,
}

impl Default for ReminderPolicy {
    fn default() -> Self {
        Self {
            review_every_working_days: 3,
            review_max: 5,
            claim_days_before: vec![14, 7, 3, 1],
            window_closed_notice: true,
            pir_nudge_after: pir::NUDGE_AFTER,
        }
    }
}

/// What the team has acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acks {
    pub reviewed: bool,
    /// Filed or declined.
    pub claim_decided: bool,
}

/// One planned reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub series: Series,
    /// 1-based position in its series.
    pub step: u32,
    /// When it goes out.
    pub at: Timestamp,
    /// For claim reminders: the days before the deadline it was planned for.
    pub days_before: Option<u32>,
}

/// Everything about an incident the schedule depends on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    /// When pirwatch first saw a PIR for it.
    pub pir_seen: Option<Timestamp>,
    /// Its claim deadlines (service issues only).
    pub claim: Option<ClaimDates>,
    pub acks: &'a Acks,
}

/// The incident's whole schedule, past and future, in time order.
pub fn reminders(i: Inputs<'_>, policy: &ReminderPolicy, cal: &WorkCalendar) -> Vec<Reminder> {
    if i.incident.false_positive {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let (Some(seen), false) = (i.pir_seen, i.acks.reviewed)
        && i.incident.pir > PirState::None
    {
        let start = cal.date_of(seen);
        for step in 1..=policy.review_max {
            let day = cal.add_working_days(start, policy.review_every_working_days * step);
            out.push(reminder(Series::PirReview, step, cal.opening(day), None));
        }
    }
    if let (Some(claim), false) = (i.claim, i.acks.claim_decided) {
        let known_from = cal.date_of(i.incident.first_seen);
        let mut days = policy.claim_days_before.clone();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        for (n, before) in days.into_iter().enumerate() {
            let day = cal
                .working_day_on_or_before(claim.remind_by.saturating_sub(i64::from(before).days()));
            if day >= known_from {
                let step = u32::try_from(n + 1).unwrap_or(u32::MAX);
                out.push(reminder(
                    Series::Claim,
                    step,
                    cal.opening(day),
                    Some(before),
                ));
            }
        }
        if policy.window_closed_notice && claim.remind_by >= known_from {
            let day = cal.next_working_day(claim.remind_by);
            out.push(reminder(Series::WindowClosed, 1, cal.opening(day), None));
        }
    }
    if !i.acks.reviewed
        && let Some(at) = pir::nudge_at(i.incident, policy.pir_nudge_after)
        && at >= i.incident.first_seen
    {
        out.push(reminder(
            Series::PirNudge,
            1,
            cal.next_open_instant(at),
            None,
        ));
    }
    out.sort_by_key(|r| (r.at, r.series, r.step));
    out
}

fn reminder(series: Series, step: u32, at: Timestamp, days_before: Option<u32>) -> Reminder {
    Reminder {
        series,
        step,
        at,
        days_before,
    }
}

/// The reminders to send at `now`: per series, the newest step that is due and newer than any
/// step already sent (`sent`: the highest step per series in the outbox). Claim reminders are
/// no longer due once the deadline has passed (`window_closed` takes over).
pub fn due(
    all: &[Reminder],
    sent: &BTreeMap<Series, u32>,
    claim: Option<ClaimDates>,
    cal: &WorkCalendar,
    now: Timestamp,
) -> Vec<Reminder> {
    let window_open = claim.is_some_and(|c| cal.date_of(now) <= c.remind_by);
    let mut newest: BTreeMap<Series, Reminder> = BTreeMap::new();
    for r in all.iter().filter(|r| r.at <= now) {
        if r.series == Series::Claim && !window_open {
            continue;
        }
        if sent.get(&r.series).is_some_and(|s| *s >= r.step) {
            continue;
        }
        let keep = newest.get(&r.series).is_none_or(|n| r.step > n.step);
        if keep {
            newest.insert(r.series, *r);
        }
    }
    newest.into_values().collect()
}

/// The next reminder after `now` that is still to be sent.
pub fn next(all: &[Reminder], sent: &BTreeMap<Series, u32>, now: Timestamp) -> Option<Reminder> {
    all.iter()
        .filter(|r| r.at > now && sent.get(&r.series).is_none_or(|s| r.step > *s))
        .min_by_key(|r| r.at)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::claim::{ClaimPolicy, claim_dates};
    use crate::source::event::EventType;
    use std::collections::BTreeSet;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn cal() -> WorkCalendar {
        crate::followup::calendar::test_calendar()
    }

    fn incident(start: &str, pir: PirState) -> Incident {
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
            impact_start: Some(ts(start)),
            mitigated_at: Some(ts(start) + SignedDuration::from_hours(3)),
            last_update: None,
            pir,
            pir_seen: None,
            false_positive: false,
            impacts: Vec::new(),
            subscriptions: BTreeSet::new(),
            updates: Vec::new(),
            first_seen: ts(start),
            sensitive: false,
            details_unavailable: false,
        }
    }

    fn claim(i: &Incident) -> Option<ClaimDates> {
        let policy = ClaimPolicy {
            billing_start_day: 1,
            ..Default::default()
        };
        Some(claim_dates(
            i.impact_start.expect("start"),
            &i.subscriptions,
            &policy,
        ))
    }

    fn plan(i: &Incident, pir_seen: Option<&str>, acks: &Acks) -> Vec<Reminder> {
        reminders(
            Inputs {
                incident: i,
                pir_seen: pir_seen.map(ts),
                claim: claim(i),
                acks,
            },
            &ReminderPolicy::default(),
            &cal(),
        )
    }

    fn local(r: &Reminder) -> String {
        r.at.to_zoned(cal().timezone().clone())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn the_default_schedule() {
        // Incident on Thu 2026-10-08; Final PIR seen Mon 2026-10-19 10:00 local.
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default());
        let table: Vec<(Series, u32, String)> =
            all.iter().map(|r| (r.series, r.step, local(r))).collect();
        let want = [
            (Series::PirReview, 1, "Thu 2026-10-22 09:00"),
            (Series::PirReview, 2, "Tue 2026-10-27 09:00"),
            (Series::PirReview, 3, "Fri 2026-10-30 09:00"),
            (Series::PirReview, 4, "Wed 2026-11-04 09:00"),
            (Series::PirReview, 5, "Mon 2026-11-09 09:00"),
            // Deadline: October → Dec 31 (a Thursday).
            (Series::Claim, 1, "Thu 2026-12-17 09:00"),
            // Dec 24 is a Thursday: 7 days before.
            (Series::Claim, 2, "Thu 2026-12-24 09:00"),
            // Dec 28 (3 days before) is a holiday Monday: the Thursday before.
            (Series::Claim, 3, "Thu 2026-12-24 09:00"),
            (Series::Claim, 4, "Wed 2026-12-30 09:00"),
            // First working day after Dec 31: Fri Jan 1 is not a holiday here.
            (Series::WindowClosed, 1, "Fri 2027-01-01 09:00"),
        ];
        let want: Vec<(Series, u32, String)> = want
            .iter()
            .map(|(s, n, t)| (*s, *n, t.to_string()))
            .collect();
        assert_eq!(table, want);
    }

    #[test]
    fn acknowledgements_stop_their_series() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let reviewed = Acks {
            reviewed: true,
            claim_decided: false,
        };
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &reviewed);
        assert!(all.iter().all(|r| r.series != Series::PirReview));
        assert!(all.iter().any(|r| r.series == Series::Claim));
        let both = Acks {
            reviewed: true,
            claim_decided: true,
        };
        assert!(plan(&i, Some("2026-10-19T08:00:00Z"), &both).is_empty());
    }

    #[test]
    fn false_positives_and_non_service_issues_get_nothing_to_claim() {
        let mut i = incident("2026-10-08T10:00:00Z", PirState::Final);
        i.false_positive = true;
        assert!(plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default()).is_empty());
        let mut i = incident("2026-10-08T10:00:00Z", PirState::None);
        i.event_type = EventType::SecurityAdvisory;
        let all = reminders(
            Inputs {
                incident: &i,
                pir_seen: None,
                claim: None,
                acks: &Acks::default(),
            },
            &ReminderPolicy::default(),
            &cal(),
        );
        assert!(all.is_empty());
    }

    #[test]
    fn no_pir_three_weeks_after_mitigation_nudges_once() {
        // Mitigated Thu 2026-10-08 13:00Z (15:00 local); +21 days = Thu 2026-10-29 15:00 local.
        let i = incident("2026-10-08T10:00:00Z", PirState::None);
        let all = plan(&i, None, &Acks::default());
        let nudges: Vec<_> = all
            .iter()
            .filter(|r| r.series == Series::PirNudge)
            .collect();
        assert_eq!(nudges.len(), 1);
        assert_eq!(local(nudges[0]), "Thu 2026-10-29 14:00");
    }

    #[test]
    fn only_the_newest_due_step_goes_out_and_never_twice() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let c = claim(&i);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default());
        let mut sent = BTreeMap::new();
        // Down from Oct 20 to Nov 5: one review reminder (step 4), not four.
        let now = ts("2026-11-05T10:00:00Z");
        let d = due(&all, &sent, c, &cal(), now);
        assert_eq!(
            d.iter().map(|r| (r.series, r.step)).collect::<Vec<_>>(),
            [(Series::PirReview, 4)]
        );
        sent.insert(Series::PirReview, 4);
        assert!(
            due(&all, &sent, c, &cal(), now).is_empty(),
            "sent steps are not repeated"
        );
        let n = next(&all, &sent, now).expect("next");
        assert_eq!((n.series, n.step), (Series::PirReview, 5));
        // Before opening on a reminder day nothing is due yet.
        let early = ts("2026-11-09T07:59:00Z");
        assert!(due(&all, &sent, c, &cal(), early).is_empty());
        assert_eq!(
            due(&all, &sent, c, &cal(), ts("2026-11-09T08:00:00Z")).len(),
            1
        );
    }

    #[test]
    fn claim_reminders_end_with_the_window() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let c = claim(&i);
        let all = plan(&i, None, &Acks::default());
        let sent = BTreeMap::new();
        let after = due(&all, &sent, c, &cal(), ts("2027-01-01T09:00:00Z"));
        assert_eq!(
            after.iter().map(|r| r.series).collect::<Vec<_>>(),
            [Series::WindowClosed]
        );
    }

    #[test]
    fn an_incident_seen_late_gets_no_reminders_for_before_it_was_known() {
        // First seen Dec 22: the 14-day reminder (Dec 17) predates it.
        let mut i = incident("2026-10-08T10:00:00Z", PirState::None);
        i.first_seen = ts("2026-12-22T10:00:00Z");
        let claim_steps: Vec<u32> = plan(&i, None, &Acks::default())
            .iter()
            .filter(|r| r.series == Series::Claim)
            .map(|r| r.step)
            .collect();
        assert_eq!(claim_steps, [2, 3, 4]);
        // Seen after the window closed: no window-closed notice either.
        i.first_seen = ts("2027-01-05T10:00:00Z");
        assert!(
            plan(&i, None, &Acks::default())
                .iter()
                .all(|r| r.series == Series::PirNudge)
        );
    }

    #[test]
    fn leap_year_february_and_dst() {
        // Incident Feb 10 2028 → deadline Apr 29 2028 (Saturday) → 1-day reminder (Apr 28, Fri).
        let i = incident("2028-02-10T10:00:00Z", PirState::None);
        let all = plan(&i, None, &Acks::default());
        let one_day = all
            .iter()
            .find(|r| r.days_before == Some(1))
            .expect("1 day");
        assert_eq!(local(one_day), "Fri 2028-04-28 09:00");
        // Across the March DST switch the local time stays 09:00.
        let fourteen = all
            .iter()
            .find(|r| r.days_before == Some(14))
            .expect("14 days");
        assert_eq!(local(fourteen), "Fri 2028-04-14 09:00");
        assert_eq!(fourteen.at, ts("2028-04-14T07:00:00Z"));
    }
}
