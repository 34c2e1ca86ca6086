//! The SLA credit claim deadline.
//!
//! Azure's rule: the claim must be received "within two months of the end of the billing month
//! in which the Incident occurred". That reads two ways (end of billing month + 2 calendar
//! months, day clamped; or the last day of the second following month); pirwatch takes the
//! earlier. The incident's month is taken in UTC, as Azure bills in UTC. The result is the last
//! day on which the claim can be filed.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::incident::Incident;

/// Where the team files its SLA claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ClaimChannel {
    /// Direct with Microsoft: an Azure support request, Billing → Refund Request.
    #[default]
    #[serde(rename = "microsoft")]
    Microsoft,
    /// Azure China: 21Vianet support, whose billing desk works 9:00-18:00 Beijing time.
    #[serde(rename = "21vianet")]
    Vianet,
    /// A CSP customer: through its partner, who may set an earlier internal deadline.
    #[serde(rename = "partner")]
    Partner,
}

impl ClaimChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Microsoft => "microsoft",
            Self::Vianet => "21vianet",
            Self::Partner => "partner",
        }
    }

    /// Where and how to file, in one paragraph.
    pub fn how_to_file(self) -> &'static str {
        match self {
            Self::Microsoft => {
                "File it with Microsoft: in the Azure portal open a new support request, issue \
                 type Billing, problem type Refund Request, and quote the tracking ID."
            }
            Self::Vianet => {
                "File it with 21Vianet Customer Support (Azure China), not Microsoft: open a \
                 service request in the Azure China portal or call 400-890-365, quoting the \
                 tracking ID. 21Vianet's billing desk works 9:00-18:00 Beijing time on working days."
            }
            Self::Partner => {
                "File it through your Cloud Solution Provider partner, who claims from Microsoft \
                 for you (CSP customers cannot open Azure billing requests themselves). Send the \
                 partner the tracking ID and your tenant ID; mind the partner's own deadline."
            }
        }
    }
}

/// What a claim must contain (SLA General Terms, plus the tracking ID Azure asks for).
pub const CLAIM_CONTENTS: [&str; 6] = [
    "the incident's tracking ID from Azure Service Health",
    "a detailed description of the incident",
    "the time and duration of the downtime",
    "the number and location(s) of affected users, if applicable",
    "the affected services, resources and subscriptions",
    "what you did to resolve the incident at the time",
];

/// How a tenant's claim deadline is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPolicy {
    pub channel: ClaimChannel,
    /// The day billing periods start on (1 = calendar months).
    pub billing_start_day: i8,
    /// Per-subscription overrides of `billing_start_day`.
    pub subscription_start_days: BTreeMap<String, i8>,
    /// `partner` only: the partner's internal deadline, in days after the incident.
    pub partner_deadline_days: Option<u32>,
    /// Reminders and "days left" count to a date this many days before each deadline.
    pub margin_days: u32,
    /// The team's zone, in which the partner's deadline is a date.
    pub timezone: TimeZone,
}

impl Default for ClaimPolicy {
    /// Calendar billing months, direct with Microsoft, in UTC, no margin.
    fn default() -> Self {
        Self {
            channel: ClaimChannel::default(),
            billing_start_day: 1,
            subscription_start_days: BTreeMap::new(),
            partner_deadline_days: None,
            margin_days: 0,
            timezone: TimeZone::UTC,
        }
    }
}

/// A billing period, first and last day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BillingPeriod {
    pub first: Date,
    pub last: Date,
}

/// Which deadline a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// `margin_days` before the partner's deadline.
    PartnerMargin,
    /// The CSP partner's internal deadline.
    Partner,
    /// `margin_days` before the SLA's deadline.
    SlaMargin,
    /// The SLA's own deadline: the last day Microsoft accepts the claim.
    Sla,
}

/// An incident's claim deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClaimDates {
    /// The SLA's own deadline: the earliest over the affected subscriptions' billing periods.
    /// The window closes after this day, whatever the partner's date or the margin.
    pub sla_deadline: Date,
    /// The billing period the incident began in (UTC), which sets `sla_deadline`.
    pub billing_period: BillingPeriod,
    /// An incident that ran on into the next billing period: that period's (later) deadline.
    pub next_period_deadline: Option<Date>,
    /// The CSP partner's internal deadline, if it set one before the SLA's.
    pub partner_deadline: Option<Date>,
    /// The team's buffer: reminders count to dates this many days early.
    pub margin_days: u32,
    /// The first date reminded: the earliest of the deadlines, less the margin.
    pub remind_by: Date,
}

impl ClaimDates {
    /// Every date reminders and "days left" count toward, earliest first, each named.
    pub fn milestones(&self) -> Vec<(DeadlineKind, Date)> {
        let early = |d: Date| d.saturating_sub(i64::from(self.margin_days).days());
        let mut out = Vec::new();
        if let Some(p) = self.partner_deadline {
            out.push((DeadlineKind::PartnerMargin, early(p)));
            out.push((DeadlineKind::Partner, p));
        }
        out.push((DeadlineKind::SlaMargin, early(self.sla_deadline)));
        out.push((DeadlineKind::Sla, self.sla_deadline));
        // Without a margin each margin date is its deadline: keep the deadline's name.
        out.dedup_by(|later, earlier| {
            let same = later.1 == earlier.1;
            if same {
                *earlier = *later;
            }
            same
        });
        out
    }

    /// The date to file by at `now` (the team's zone `tz`): the first milestone whose day has
    /// not ended. After the SLA's day it is the SLA's date, and the window is closed.
    pub fn file_by(&self, now: Timestamp, tz: &TimeZone) -> (DeadlineKind, Date) {
        self.milestones()
            .into_iter()
            .find(|(_, d)| now < window_end(*d, tz))
            .unwrap_or((DeadlineKind::Sla, self.sla_deadline))
    }

    /// True once the SLA's own deadline day ended: no claim can be filed any more.
    pub fn closed(&self, now: Timestamp, tz: &TimeZone) -> bool {
        now >= window_end(self.sla_deadline, tz)
    }

    /// The partner's deadline, when it passed by `now` while the SLA's window is still open.
    pub fn partner_passed(&self, now: Timestamp, tz: &TimeZone) -> Option<Date> {
        self.partner_deadline
            .filter(|p| now >= window_end(*p, tz) && !self.closed(now, tz))
    }

    /// The date the reminders after a passed partner deadline count to (the SLA's, less the
    /// margin), when there is a partner deadline.
    pub fn sla_remind_by(&self) -> Option<Date> {
        self.partner_deadline.map(|_| {
            self.sla_deadline
                .saturating_sub(i64::from(self.margin_days).days())
        })
    }
}

/// The earliest deadline over the subscriptions' billing periods, for an incident at `at`,
/// with its billing period.
fn sla_deadline(
    at: Timestamp,
    subscriptions: &BTreeSet<String>,
    policy: &ClaimPolicy,
) -> (Date, BillingPeriod) {
    let day_for = |s: &String| {
        policy
            .subscription_start_days
            .get(s)
            .copied()
            .unwrap_or(policy.billing_start_day)
    };
    let days: BTreeSet<i8> = if subscriptions.is_empty() {
        [policy.billing_start_day].into()
    } else {
        subscriptions.iter().map(day_for).collect()
    };
    days.into_iter()
        .map(|d| (claim_deadline(at, d), billing_period(at, d)))
        .min_by_key(|(deadline, _)| *deadline)
        .unwrap_or_else(|| {
            let d = policy.billing_start_day;
            (claim_deadline(at, d), billing_period(at, d))
        })
}

/// The claim deadlines of an incident that started at `start` and ended (was mitigated, or
/// last heard of) at `end`, affecting `subscriptions`.
pub fn claim_dates(
    start: Timestamp,
    end: Option<Timestamp>,
    subscriptions: &BTreeSet<String>,
    policy: &ClaimPolicy,
) -> ClaimDates {
    let (sla, period) = sla_deadline(start, subscriptions, policy);
    let next_period_deadline = end
        .map(|e| sla_deadline(e.max(start), subscriptions, policy).0)
        .filter(|d| *d > sla);
    // N days from the incident instant, as a date in the team's zone: never later than the
    // partner's deadline (a UTC date would land a day late west of UTC).
    let partner_deadline = match (policy.channel, policy.partner_deadline_days) {
        (ClaimChannel::Partner, Some(days)) => Some(
            start
                .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
                .unwrap_or(start)
                .to_zoned(policy.timezone.clone())
                .date(),
        ),
        _ => None,
    }
    .filter(|p| *p < sla);
    let earliest = partner_deadline.unwrap_or(sla);
    ClaimDates {
        sla_deadline: sla,
        billing_period: period,
        next_period_deadline,
        partner_deadline,
        margin_days: policy.margin_days,
        remind_by: earliest.saturating_sub(i64::from(policy.margin_days).days()),
    }
}

/// The SLA claim deadlines of an incident: service issues only, counted from when it started.
pub fn claim_of(i: &Incident, policy: &ClaimPolicy) -> Option<ClaimDates> {
    i.event_type
        .is_service_issue()
        .then(|| claim_dates(incident_start(i), incident_end(i), &i.subscriptions, policy))
}

/// When an incident ended as far as is known: its mitigation, else its latest update.
pub fn incident_end(i: &Incident) -> Option<Timestamp> {
    i.mitigated_at
        .or_else(|| i.updates.iter().map(|u| u.published).max())
}

/// The first instant after a claim window that ends on `day`: the end of that day in UTC or in
/// the team's zone `tz`, whichever comes first — so "days left" never promises a day that
/// Azure's clock (UTC) has already ended, nor one the team's has.
pub fn window_end(day: Date, tz: &TimeZone) -> Timestamp {
    let next = day.tomorrow().unwrap_or(day);
    let at = |tz: &TimeZone| {
        next.to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    };
    at(&TimeZone::UTC).min(at(tz))
}

/// When an incident started, failing safe (an earlier start gives an earlier deadline): its
/// impact start, unless its first update or its mitigation came before that (Azure's data can be
/// inconsistent); without an impact start, the earliest of the first update, the mitigation and
/// when pirwatch first saw it.
pub fn incident_start(i: &Incident) -> Timestamp {
    let first_update = i.updates.iter().map(|u| u.published).min();
    let known = [first_update, i.mitigated_at];
    match i.impact_start {
        Some(start) => known.into_iter().flatten().fold(start, Timestamp::min),
        None => known
            .into_iter()
            .flatten()
            .fold(i.first_seen, Timestamp::min),
    }
}

/// The last day to file a claim for an incident that started at `incident`, with billing
/// periods starting on day `billing_start_day` (1 = calendar months; up to 31, clamped to each
/// month's length).
pub fn claim_deadline(incident: Timestamp, billing_start_day: i8) -> Date {
    let day = incident.to_zoned(TimeZone::UTC).date();
    let end = billing_period_end(day, billing_start_day.clamp(1, 31));
    let reading_a = end.saturating_add(2.months());
    let reading_b = end
        .first_of_month()
        .saturating_add(2.months())
        .last_of_month();
    reading_a.min(reading_b)
}

/// The day a billing period starts in the month of `first` (its first day): `start_day`,
/// clamped to the month's length (a period starting on the 31st starts on Feb 28 in February).
fn period_start_in(first: Date, start_day: i8) -> Date {
    let day = start_day.min(first.days_in_month());
    first.saturating_add(i64::from(day - 1).days())
}

/// The billing period containing the instant `at` (UTC), periods starting on `start_day`.
pub fn billing_period(at: Timestamp, start_day: i8) -> BillingPeriod {
    let day = at.to_zoned(TimeZone::UTC).date();
    let last = billing_period_end(day, start_day.clamp(1, 31));
    let first = last
        .saturating_add(1.day())
        .saturating_sub(1.month())
        .first_of_month();
    BillingPeriod {
        first: period_start_in(first, start_day.clamp(1, 31)),
        last,
    }
}

/// The last day of the billing period containing `day`.
fn billing_period_end(day: Date, start_day: i8) -> Date {
    let this_month = period_start_in(day.first_of_month(), start_day);
    let next_start = if day >= this_month {
        period_start_in(day.first_of_month().saturating_add(1.month()), start_day)
    } else {
        this_month
    };
    next_start.saturating_sub(1.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn calendar_months_follow_reading_a() {
        let cases = [
            ("2026-01-15T10:00:00Z", date(2026, 3, 31)),
            ("2026-02-01T00:00:00Z", date(2026, 4, 28)),
            ("2026-06-30T23:59:59Z", date(2026, 8, 30)),
            ("2026-11-02T08:00:00Z", date(2027, 1, 30)),
            ("2026-12-31T12:00:00Z", date(2027, 2, 28)),
            ("2027-12-10T12:00:00Z", date(2028, 2, 29)),
            ("2028-02-29T12:00:00Z", date(2028, 4, 29)),
        ];
        for (incident, want) in cases {
            assert_eq!(claim_deadline(at(incident), 1), want, "incident {incident}");
        }
    }

    #[test]
    fn the_month_is_taken_in_utc() {
        // 00:30 on 1 March in Amsterdam is still February in UTC.
        assert_eq!(
            claim_deadline(at("2026-02-28T23:30:00Z"), 1),
            date(2026, 4, 28)
        );
        assert_eq!(
            claim_deadline(at("2026-03-01T00:30:00Z"), 1),
            date(2026, 5, 31)
        );
    }

    #[test]
    fn channels_and_per_subscription_billing_periods() {
        let start = at("2026-03-02T10:00:00Z");
        let subs: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        let mut policy = ClaimPolicy {
            billing_start_day: 1,
            ..Default::default()
        };
        let d = claim_dates(start, None, &subs, &policy);
        assert_eq!(
            (d.sla_deadline, d.partner_deadline, d.remind_by),
            (date(2026, 5, 31), None, date(2026, 5, 31))
        );
        // Subscription b bills from the 15th: its period ends Mar 14, so its deadline (May 14) wins.
        policy.subscription_start_days.insert("b".into(), 15);
        assert_eq!(
            claim_dates(start, None, &subs, &policy).sla_deadline,
            date(2026, 5, 14)
        );
        // 21Vianet: same window.
        policy.channel = ClaimChannel::Vianet;
        policy.partner_deadline_days = Some(30);
        assert_eq!(
            claim_dates(start, None, &subs, &policy).remind_by,
            date(2026, 5, 14)
        );
        // A CSP partner's 30-day internal deadline comes first.
        policy.channel = ClaimChannel::Partner;
        let d = claim_dates(start, None, &subs, &policy);
        assert_eq!(d.partner_deadline, Some(date(2026, 4, 1)));
        assert_eq!(d.remind_by, date(2026, 4, 1));
        // ... unless it is later than the SLA's.
        policy.partner_deadline_days = Some(90);
        assert_eq!(
            claim_dates(start, None, &subs, &policy).remind_by,
            date(2026, 5, 14)
        );
        // No subscriptions known (tenant-level event): the tenant's day.
        let none = BTreeSet::new();
        assert_eq!(
            claim_dates(start, None, &none, &policy).sla_deadline,
            date(2026, 5, 31)
        );
    }

    #[test]
    fn billing_periods_starting_on_the_29th_to_31st_are_clamped_to_the_month() {
        // Start day 31: February's period starts on the 28th (2026 is no leap year).
        // Feb 10 lies in Jan 31 - Feb 27 → deadline Apr 27.
        assert_eq!(
            claim_deadline(at("2026-02-10T00:00:00Z"), 31),
            date(2026, 4, 27)
        );
        // Feb 28 starts Feb 28 - Mar 30 → May 30.
        assert_eq!(
            claim_deadline(at("2026-02-28T12:00:00Z"), 31),
            date(2026, 5, 30)
        );
        // Start day 30, leap year: Feb 29 starts Feb 29 - Mar 29 → May 29.
        assert_eq!(
            claim_deadline(at("2028-02-29T12:00:00Z"), 30),
            date(2028, 5, 29)
        );
        // Start day 29 in a 31-day month behaves as written.
        assert_eq!(
            claim_deadline(at("2026-03-30T00:00:00Z"), 29),
            date(2026, 6, 28)
        );
    }

    #[test]
    fn an_incident_starts_at_the_earliest_instant_known() {
        use crate::incident::Update;
        let mut i = crate::followup::test_incident("2026-10-31T22:00:00Z");
        i.first_seen = at("2026-11-02T10:00:00Z");
        i.mitigated_at = Some(at("2026-11-01T01:00:00Z"));
        let update = |s: &str| Update {
            published: at(s),
            summary: String::new(),
            tags: Default::default(),
            service: String::new(),
            region: String::new(),
        };
        // (impact start, first update) → start
        let cases = [
            (Some("2026-10-31T22:00:00Z"), None, "2026-10-31T22:00:00Z"),
            // An impact start after the mitigation: the mitigation.
            (Some("2026-11-01T05:00:00Z"), None, "2026-11-01T01:00:00Z"),
            // After the first update: the update.
            (
                Some("2026-11-01T00:30:00Z"),
                Some("2026-10-31T23:50:00Z"),
                "2026-10-31T23:50:00Z",
            ),
            // None: the earliest of first update, mitigation and first sight.
            (None, Some("2026-11-01T00:10:00Z"), "2026-11-01T00:10:00Z"),
            (None, None, "2026-11-01T01:00:00Z"),
        ];
        for (start, first, want) in cases {
            i.impact_start = start.map(at);
            i.updates = first.map(update).into_iter().collect();
            assert_eq!(incident_start(&i), at(want), "{start:?} {first:?}");
        }
        // A month boundary moves the deadline: October's incident is due Dec 31, not Jan 31.
        i.impact_start = None;
        i.updates = vec![update("2026-10-31T23:00:00Z")];
        let policy = ClaimPolicy {
            billing_start_day: 1,
            ..Default::default()
        };
        assert_eq!(
            claim_of(&i, &policy).map(|c| c.sla_deadline),
            Some(date(2026, 12, 31))
        );
    }

    #[test]
    fn the_window_ends_with_the_earlier_of_the_utc_and_the_team_day() {
        let day = date(2026, 12, 31);
        let zone = |z: &str| TimeZone::get(z).expect("tz");
        // East of UTC: the team's day ends first (23:00 UTC).
        assert_eq!(
            window_end(day, &zone("Europe/Amsterdam")),
            at("2026-12-31T23:00:00Z")
        );
        // West of UTC: UTC's day ends first (16:00 in Los Angeles).
        assert_eq!(
            window_end(day, &zone("America/Los_Angeles")),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(window_end(day, &TimeZone::UTC), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn the_partners_deadline_is_n_days_after_the_instant_in_the_teams_zone() {
        let policy = |tz: &str| ClaimPolicy {
            channel: ClaimChannel::Partner,
            billing_start_day: 1,
            partner_deadline_days: Some(30),
            timezone: TimeZone::get(tz).expect("tz"),
            ..Default::default()
        };
        // 02:00 UTC on Mar 2 is 18:00 on Mar 1 in Los Angeles: 30 days later is Mar 31 there.
        let start = at("2026-03-02T02:00:00Z");
        let none = BTreeSet::new();
        let la = claim_dates(start, None, &none, &policy("America/Los_Angeles"));
        assert_eq!(la.partner_deadline, Some(date(2026, 3, 31)));
        let ams = claim_dates(start, None, &none, &policy("Europe/Amsterdam"));
        assert_eq!(ams.partner_deadline, Some(date(2026, 4, 1)));
    }

    #[test]
    fn a_margin_counts_early_but_the_window_closes_with_the_real_date() {
        let policy = ClaimPolicy {
            margin_days: 3,
            ..Default::default()
        };
        let none = BTreeSet::new();
        let d = claim_dates(at("2026-10-08T10:00:00Z"), None, &none, &policy);
        assert_eq!(
            (d.sla_deadline, d.remind_by),
            (date(2026, 12, 31), date(2026, 12, 28))
        );
        let tz = TimeZone::UTC;
        // (now) → (file by, closed)
        let cases = [
            (
                "2026-12-20T10:00:00Z",
                (DeadlineKind::SlaMargin, date(2026, 12, 28)),
                false,
            ),
            (
                "2026-12-28T23:59:00Z",
                (DeadlineKind::SlaMargin, date(2026, 12, 28)),
                false,
            ),
            (
                "2026-12-29T00:00:00Z",
                (DeadlineKind::Sla, date(2026, 12, 31)),
                false,
            ),
            (
                "2027-01-01T00:00:00Z",
                (DeadlineKind::Sla, date(2026, 12, 31)),
                true,
            ),
        ];
        for (now, file_by, closed) in cases {
            assert_eq!(
                (d.file_by(at(now), &tz), d.closed(at(now), &tz)),
                (file_by, closed),
                "at {now}"
            );
        }
    }

    #[test]
    fn a_passed_partner_deadline_hands_over_to_the_slas() {
        let policy = ClaimPolicy {
            channel: ClaimChannel::Partner,
            partner_deadline_days: Some(30),
            ..Default::default()
        };
        let none = BTreeSet::new();
        let d = claim_dates(at("2026-10-08T10:00:00Z"), None, &none, &policy);
        assert_eq!(d.partner_deadline, Some(date(2026, 11, 7)));
        assert_eq!(d.remind_by, date(2026, 11, 7));
        assert_eq!(d.sla_remind_by(), Some(date(2026, 12, 31)));
        let tz = TimeZone::UTC;
        let cases = [
            ("2026-11-07T12:00:00Z", DeadlineKind::Partner, None, false),
            (
                "2026-11-08T00:00:00Z",
                DeadlineKind::Sla,
                Some(date(2026, 11, 7)),
                false,
            ),
            ("2027-01-01T00:00:00Z", DeadlineKind::Sla, None, true),
        ];
        for (now, kind, passed, closed) in cases {
            let now = at(now);
            assert_eq!(
                (
                    d.file_by(now, &tz).0,
                    d.partner_passed(now, &tz),
                    d.closed(now, &tz)
                ),
                (kind, passed, closed),
                "at {now}"
            );
        }
        // With a margin: four milestones.
        let margin = ClaimPolicy {
            margin_days: 2,
            ..policy
        };
        let d = claim_dates(at("2026-10-08T10:00:00Z"), None, &none, &margin);
        assert_eq!(
            d.milestones(),
            vec![
                (DeadlineKind::PartnerMargin, date(2026, 11, 5)),
                (DeadlineKind::Partner, date(2026, 11, 7)),
                (DeadlineKind::SlaMargin, date(2026, 12, 29)),
                (DeadlineKind::Sla, date(2026, 12, 31)),
            ]
        );
    }

    #[test]
    fn an_incident_spanning_two_billing_months_shows_both_deadlines() {
        let policy = ClaimPolicy::default();
        let none = BTreeSet::new();
        let start = at("2026-10-31T22:00:00Z");
        let d = claim_dates(start, Some(at("2026-11-01T03:00:00Z")), &none, &policy);
        assert_eq!(
            (d.sla_deadline, d.next_period_deadline, d.remind_by),
            (
                date(2026, 12, 31),
                Some(date(2027, 1, 30)),
                date(2026, 12, 31)
            )
        );
        assert_eq!(
            d.billing_period,
            BillingPeriod {
                first: date(2026, 10, 1),
                last: date(2026, 10, 31)
            }
        );
        // Within one month: no second date.
        let same = claim_dates(start, Some(at("2026-10-31T23:00:00Z")), &none, &policy);
        assert_eq!(same.next_period_deadline, None);
    }

    #[test]
    fn billing_periods_as_shown() {
        let cases = [
            (
                "2026-03-02T00:00:00Z",
                15,
                date(2026, 2, 15),
                date(2026, 3, 14),
            ),
            (
                "2026-02-10T00:00:00Z",
                31,
                date(2026, 1, 31),
                date(2026, 2, 27),
            ),
            (
                "2026-02-28T00:00:00Z",
                31,
                date(2026, 2, 28),
                date(2026, 3, 30),
            ),
            (
                "2026-12-31T23:00:00Z",
                1,
                date(2026, 12, 1),
                date(2026, 12, 31),
            ),
        ];
        for (t, day, first, last) in cases {
            assert_eq!(
                billing_period(at(t), day),
                BillingPeriod { first, last },
                "{t} day {day}"
            );
        }
    }

    #[test]
    fn mid_month_billing_periods() {
        // Billing period Feb 15 - Mar 14, incident Mar 2 -> period ends Mar 14 -> May 14.
        assert_eq!(
            claim_deadline(at("2026-03-02T00:00:00Z"), 15),
            date(2026, 5, 14)
        );
        // On the start day itself the new period has begun: Mar 15 - Apr 14 -> Jun 14.
        assert_eq!(
            claim_deadline(at("2026-03-15T00:00:00Z"), 15),
            date(2026, 6, 14)
        );
    }
}
