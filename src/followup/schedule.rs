//! The reminder schedule of one incident, and which reminder is due now.
//!
//! Four series, each stopped by its acknowledgement:
//! * `pir_review`: every N working days after the PIR was first seen, at most M times, until
//!   someone acknowledges having reviewed it;
//! * `claim`: at 14, 7, 3 and 1 days before the claim deadline (moved to the previous working
//!   day), until the claim is acknowledged as filed or declined;
//! * `window_closed`: once, on the first working day after the deadline passed unacknowledged;
//! * `pir_nudge`: once, when no PIR came N days after mitigation ("you can request one");
//! * `claim_chase`: once, 45 days after the claim was filed with no answer recorded.
//!
//! Reminders go out at the opening of the team's working day. The schedule is recomputed from
//! the stored incident every cycle; the outbox remembers which steps went out. Only the newest
//! due step of a series is sent, so a daemon that was down for a week sends one reminder, not
//! seven, and a restart never repeats one nor skips the one due. A step is keyed by what it is
//! (`claim-d14`, `pir_review-final-2`), never by its position in a list, so editing
//! `claim_days_before` neither repeats nor skips a reminder.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::ClaimDates;
use crate::followup::pir;
use crate::incident::Incident;
use crate::incident::ack::Acks;
pub use crate::incident::notice::{ReminderKey, Series, Step};

/// Microsoft processes a claim within 45 days of receipt; with no answer recorded by then, one
/// reminder asks the team to chase it.
pub const CHASE_AFTER: SignedDuration = SignedDuration::from_hours(45 * 24);

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

/// One planned reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// Which one: series and step.
    pub key: ReminderKey,
    /// When it goes out.
    pub at: Timestamp,
}

impl Reminder {
    pub fn series(&self) -> Series {
        self.key.series
    }

    /// For claim reminders: the days before the deadline it was planned for.
    pub fn days_before(&self) -> Option<u32> {
        match self.key.step {
            Step::DaysBefore(d) => Some(d),
            _ => None,
        }
    }
}

/// How far along its series a step is: later steps are larger (more review reminders, fewer
/// days before the claim deadline).
fn progress(step: Step) -> i64 {
    match step {
        Step::Review { n, .. } => i64::from(n),
        Step::DaysBefore(d) => -i64::from(d),
        Step::Once => 0,
    }
}

/// True when `key`, or a later step of the same series (and PIR stage), was already sent.
fn covered(key: ReminderKey, sent: &BTreeSet<ReminderKey>) -> bool {
    let stage = |s: Step| match s {
        Step::Review { stage, .. } => Some(stage),
        _ => None,
    };
    sent.iter().any(|s| {
        s.series == key.series
            && stage(s.step) == stage(key.step)
            && progress(s.step) >= progress(key.step)
    })
}

/// The incident's whole schedule, past and future, in time order. `claim`: its claim dates
/// (service issues only); `acks`: what the team acknowledged.
pub fn reminders(
    incident: &Incident,
    claim: Option<ClaimDates>,
    acks: &Acks,
    policy: &ReminderPolicy,
    cal: &WorkCalendar,
) -> Vec<Reminder> {
    if incident.false_positive {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let (Some(seen), Some(stage), false) = (
        incident.pir_seen,
        incident.pir.stage(),
        acks.reviewed(incident.pir),
    ) {
        let start = cal.date_of(seen);
        for n in 1..=policy.review_max {
            let day = cal.add_working_days(start, policy.review_every_working_days * n);
            let step = Step::Review { stage, n };
            out.push(reminder(Series::PirReview, step, cal.opening(day)));
        }
    }
    if let (Some(claim), false) = (claim, acks.claim_decided()) {
        out.extend(claim_reminders(incident, &claim, policy, cal));
    }
    if !acks.reviewed(incident.pir)
        && let Some(at) = pir::nudge_at(incident, policy.pir_nudge_after)
        && at >= incident.first_seen
    {
        let at = cal.next_open_instant(at);
        out.push(reminder(Series::PirNudge, Step::Once, at));
    }
    if let Some(filed) = acks.awaiting_outcome() {
        let at = cal.next_open_instant(filed.saturating_add(CHASE_AFTER).unwrap_or(filed));
        out.push(reminder(Series::ClaimChase, Step::Once, at));
    }
    out.sort_by_key(|r| (r.at, r.key.series, progress(r.key.step)));
    out
}

/// The claim reminders: toward the first deadline (the partner's, or the SLA's; less the
/// margin), then, once a partner's deadline passed, toward the SLA's; and the window-closed
/// notice after the SLA's own deadline. None before the incident was first seen.
fn claim_reminders(
    incident: &Incident,
    claim: &ClaimDates,
    policy: &ReminderPolicy,
    cal: &WorkCalendar,
) -> Vec<Reminder> {
    let known_from = cal.date_of(incident.first_seen);
    let days: BTreeSet<u32> = policy.claim_days_before.iter().copied().collect();
    let mut out = Vec::new();
    let mut toward = |series: Series, target: jiff::civil::Date, after: jiff::civil::Date| {
        for &before in &days {
            let day = cal.working_day_on_or_before(target.saturating_sub(i64::from(before).days()));
            if day >= known_from && day > after {
                out.push(reminder(series, Step::DaysBefore(before), cal.opening(day)));
            }
        }
    };
    toward(Series::Claim, claim.remind_by, jiff::civil::Date::MIN);
    if let (Some(partner), Some(sla)) = (claim.partner_deadline, claim.sla_remind_by()) {
        toward(Series::SlaClaim, sla, partner);
    }
    if policy.window_closed_notice && claim.sla_deadline >= known_from {
        let day = cal.next_working_day(claim.sla_deadline);
        out.push(reminder(Series::WindowClosed, Step::Once, cal.opening(day)));
    }
    out
}

fn reminder(series: Series, step: Step, at: Timestamp) -> Reminder {
    Reminder {
        key: ReminderKey { series, step },
        at,
    }
}

/// The reminders to send at `now`: per series, the newest step that is due, unless it or a
/// later step was already sent (`sent`: the steps in the outbox). Claim reminders are no longer
/// due once the SLA's deadline passed (`window_closed` takes over), nor those toward a
/// partner's deadline once that passed (`sla_claim` takes over).
pub fn due(
    all: &[Reminder],
    sent: &BTreeSet<ReminderKey>,
    claim: Option<ClaimDates>,
    cal: &WorkCalendar,
    now: Timestamp,
) -> Vec<Reminder> {
    let tz = cal.timezone();
    let window_open = claim.is_some_and(|c| !c.closed(now, tz));
    let partner_passed = claim.is_some_and(|c| c.partner_passed(now, tz).is_some());
    let mut newest: std::collections::BTreeMap<Series, Reminder> = Default::default();
    for r in all.iter().filter(|r| r.at <= now) {
        let stale = match r.key.series {
            Series::Claim => !window_open || partner_passed,
            Series::SlaClaim => !window_open,
            _ => false,
        };
        if stale {
            continue;
        }
        let later = newest
            .get(&r.key.series)
            .is_none_or(|n| (r.at, progress(r.key.step)) > (n.at, progress(n.key.step)));
        if later {
            newest.insert(r.key.series, *r);
        }
    }
    newest
        .into_values()
        .filter(|r| !covered(r.key, sent))
        .collect()
}

/// The next reminder after `now` that is still to be sent.
pub fn next(all: &[Reminder], sent: &BTreeSet<ReminderKey>, now: Timestamp) -> Option<Reminder> {
    all.iter()
        .filter(|r| r.at > now && !covered(r.key, sent))
        .min_by_key(|r| r.at)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::claim::{ClaimPolicy, claim_dates};
    use crate::incident::ack::{Ack, AckKind, AckSource, PirStage};
    use crate::incident::{EventType, PirState};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn cal() -> WorkCalendar {
        crate::followup::calendar::test_calendar()
    }

    fn incident(start: &str, pir: PirState) -> Incident {
        let mut i = crate::followup::test_incident(start);
        i.pir = pir;
        i
    }

    fn claim(i: &Incident) -> Option<ClaimDates> {
        let policy = ClaimPolicy {
            billing_start_day: 1,
            ..Default::default()
        };
        Some(claim_dates(
            i.impact_start.expect("start"),
            None,
            &i.subscriptions,
            &policy,
        ))
    }

    fn plan_with(i: &Incident, acks: &Acks, policy: &ReminderPolicy) -> Vec<Reminder> {
        reminders(i, claim(i), acks, policy, &cal())
    }

    fn plan(i: &Incident, pir_seen: Option<&str>, acks: &Acks) -> Vec<Reminder> {
        let mut i = i.clone();
        i.pir_seen = pir_seen.map(ts);
        plan_with(&i, acks, &ReminderPolicy::default())
    }

    fn acks(kinds: &[AckKind]) -> Acks {
        let records: Vec<Ack> = kinds
            .iter()
            .map(|k| Ack {
                kind: k.clone(),
                by: "t".into(),
                at: ts("2026-10-01T00:00:00Z"),
                source: AckSource::Cli,
            })
            .collect();
        Acks::from_records(&records)
    }

    fn local(r: &Reminder) -> String {
        r.at.to_zoned(cal().timezone().clone())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    fn keys(rs: &[Reminder]) -> Vec<String> {
        rs.iter().map(|r| r.key.to_string()).collect()
    }

    #[test]
    fn the_default_schedule() {
        // Incident on Thu 2026-10-08; Final PIR seen Mon 2026-10-19 10:00 local.
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default());
        let table: Vec<(String, String)> =
            all.iter().map(|r| (r.key.to_string(), local(r))).collect();
        let want = [
            ("pir_review-final-1", "Thu 2026-10-22 09:00"),
            ("pir_review-final-2", "Tue 2026-10-27 09:00"),
            ("pir_review-final-3", "Fri 2026-10-30 09:00"),
            ("pir_review-final-4", "Wed 2026-11-04 09:00"),
            ("pir_review-final-5", "Mon 2026-11-09 09:00"),
            // Deadline: October → Dec 31 (a Thursday).
            ("claim-d14", "Thu 2026-12-17 09:00"),
            // Dec 24 is a Thursday: 7 days before.
            ("claim-d7", "Thu 2026-12-24 09:00"),
            // Dec 28 (3 days before) is a holiday Monday: the Thursday before.
            ("claim-d3", "Thu 2026-12-24 09:00"),
            ("claim-d1", "Wed 2026-12-30 09:00"),
            // First working day after Dec 31: Fri Jan 1 is not a holiday here.
            ("window_closed-once", "Fri 2027-01-01 09:00"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        assert_eq!(table, want);
    }

    #[test]
    fn acknowledgements_stop_their_series() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let reviewed = acks(&[AckKind::Reviewed {
            stage: PirStage::Final,
        }]);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &reviewed);
        assert!(all.iter().all(|r| r.series() != Series::PirReview));
        assert!(all.iter().any(|r| r.series() == Series::Claim));
        let both = acks(&[
            AckKind::Reviewed {
                stage: PirStage::Final,
            },
            AckKind::NoClaim { reason: None },
        ]);
        assert!(plan(&i, Some("2026-10-19T08:00:00Z"), &both).is_empty());
    }

    #[test]
    fn a_final_pir_after_a_reviewed_preliminary_one_starts_its_own_reviews() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let reviewed = acks(&[AckKind::Reviewed {
            stage: PirStage::Preliminary,
        }]);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &reviewed);
        let reviews: Vec<String> = keys(&all)
            .into_iter()
            .filter(|k| k.starts_with("pir_review"))
            .collect();
        assert_eq!(reviews.len(), 5);
        assert_eq!(reviews[0], "pir_review-final-1");
    }

    #[test]
    fn false_positives_and_non_service_issues_get_nothing_to_claim() {
        let mut i = incident("2026-10-08T10:00:00Z", PirState::Final);
        i.false_positive = true;
        assert!(plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default()).is_empty());
        let mut i = incident("2026-10-08T10:00:00Z", PirState::None);
        i.event_type = EventType::SecurityAdvisory;
        let all = reminders(
            &i,
            None,
            &Acks::default(),
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
            .filter(|r| r.series() == Series::PirNudge)
            .collect();
        assert_eq!(nudges.len(), 1);
        assert_eq!(local(nudges[0]), "Thu 2026-10-29 14:00");
    }

    #[test]
    fn only_the_newest_due_step_goes_out_and_never_twice() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let c = claim(&i);
        let all = plan(&i, Some("2026-10-19T08:00:00Z"), &Acks::default());
        let mut sent = BTreeSet::new();
        // Down from Oct 20 to Nov 5: one review reminder (step 4), not four.
        let now = ts("2026-11-05T10:00:00Z");
        let d = due(&all, &sent, c, &cal(), now);
        assert_eq!(keys(&d), ["pir_review-final-4"]);
        sent.insert(d[0].key);
        assert!(
            due(&all, &sent, c, &cal(), now).is_empty(),
            "sent steps are not repeated"
        );
        let n = next(&all, &sent, now).expect("next");
        assert_eq!(n.key.to_string(), "pir_review-final-5");
        // Before opening on a reminder day nothing is due yet.
        let early = ts("2026-11-09T07:59:00Z");
        assert!(due(&all, &sent, c, &cal(), early).is_empty());
        assert_eq!(
            due(&all, &sent, c, &cal(), ts("2026-11-09T08:00:00Z")).len(),
            1
        );
    }

    /// Defect 4 of issue 7: a claim reminder was identified by its position in the sorted
    /// list, so editing `claim_days_before` re-sent one or skipped one.
    #[test]
    fn editing_claim_days_before_neither_repeats_nor_skips_a_reminder() {
        let i = incident("2026-10-08T10:00:00Z", PirState::None);
        let c = claim(&i);
        let policy = |days: &[u32]| ReminderPolicy {
            claim_days_before: days.to_vec(),
            ..Default::default()
        };
        // The 14-day reminder went out on Dec 17.
        let dec17 = ts("2026-12-17T08:05:00Z");
        let before = plan_with(&i, &Acks::default(), &policy(&[14, 7, 3, 1]));
        let claims = |rs: Vec<Reminder>| -> Vec<Reminder> {
            rs.into_iter()
                .filter(|r| r.series() == Series::Claim)
                .collect()
        };
        let sent: BTreeSet<ReminderKey> = claims(due(&before, &BTreeSet::new(), c, &cal(), dec17))
            .iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(
            sent.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            ["claim-d14"]
        );
        // A 30-day step added five minutes later does not re-send the 14-day one.
        let later = plan_with(&i, &Acks::default(), &policy(&[30, 14, 7, 3, 1]));
        let five_min = ts("2026-12-17T08:10:00Z");
        assert!(claims(due(&later, &sent, c, &cal(), five_min)).is_empty());
        // Shortened to [7, 1]: the 7-day reminder still goes out on Dec 24.
        let short = plan_with(&i, &Acks::default(), &policy(&[7, 1]));
        let dec24 = ts("2026-12-24T08:05:00Z");
        assert_eq!(
            keys(&claims(due(&short, &sent, c, &cal(), dec24))),
            ["claim-d7"]
        );
    }

    #[test]
    fn claim_reminders_end_with_the_window() {
        let i = incident("2026-10-08T10:00:00Z", PirState::Final);
        let c = claim(&i);
        let all = plan(&i, None, &Acks::default());
        let sent = BTreeSet::new();
        let after = due(&all, &sent, c, &cal(), ts("2027-01-01T09:00:00Z"));
        assert_eq!(
            after.iter().map(|r| r.series()).collect::<Vec<_>>(),
            [Series::WindowClosed]
        );
    }

    #[test]
    fn an_incident_seen_late_gets_no_reminders_for_before_it_was_known() {
        // First seen Dec 22: the 14-day reminder (Dec 17) predates it.
        let mut i = incident("2026-10-08T10:00:00Z", PirState::None);
        i.first_seen = ts("2026-12-22T10:00:00Z");
        let claim_steps: Vec<String> = keys(&plan(&i, None, &Acks::default()))
            .into_iter()
            .filter(|k| k.starts_with("claim"))
            .collect();
        assert_eq!(claim_steps, ["claim-d7", "claim-d3", "claim-d1"]);
        // Seen after the window closed: no window-closed notice either.
        i.first_seen = ts("2027-01-05T10:00:00Z");
        assert!(
            plan(&i, None, &Acks::default())
                .iter()
                .all(|r| r.series() == Series::PirNudge)
        );
    }

    #[test]
    fn leap_year_february_and_dst() {
        // Incident Feb 10 2028 → deadline Apr 29 2028 (Saturday) → 1-day reminder (Apr 28, Fri).
        let i = incident("2028-02-10T10:00:00Z", PirState::None);
        let all = plan(&i, None, &Acks::default());
        let one_day = all
            .iter()
            .find(|r| r.days_before() == Some(1))
            .expect("1 day");
        assert_eq!(local(one_day), "Fri 2028-04-28 09:00");
        // Across the March DST switch the local time stays 09:00.
        let fourteen = all
            .iter()
            .find(|r| r.days_before() == Some(14))
            .expect("14 days");
        assert_eq!(local(fourteen), "Fri 2028-04-14 09:00");
        assert_eq!(fourteen.at, ts("2028-04-14T07:00:00Z"));
    }
}
