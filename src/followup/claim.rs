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
    /// The team's zone, in which the partner's deadline is a date.
    pub timezone: TimeZone,
}

impl Default for ClaimPolicy {
    /// Calendar billing months, direct with Microsoft, in UTC.
    fn default() -> Self {
        Self {
            channel: ClaimChannel::default(),
            billing_start_day: 1,
            subscription_start_days: BTreeMap::new(),
            partner_deadline_days: None,
            timezone: TimeZone::UTC,
        }
    }
}

/// An incident's claim deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClaimDates {
    /// The SLA's own deadline (the earliest over the affected subscriptions' billing periods).
    pub sla_deadline: Date,
    /// The CSP partner's internal deadline, if it set one.
    pub partner_deadline: Option<Date>,
    /// The earlier of the two: the date reminded.
    pub remind_by: Date,
}

/// The claim deadlines of an incident that started at `incident`, affecting `subscriptions`.
pub fn claim_dates(
    incident: Timestamp,
    subscriptions: &BTreeSet<String>,
    policy: &ClaimPolicy,
) -> ClaimDates {
    let day_for = |s: &String| {
        policy
            .subscription_start_days
            .get(s)
            .copied()
            .unwrap_or(policy.billing_start_day)
    };
    let sla_deadline = subscriptions
        .iter()
        .map(|s| claim_deadline(incident, day_for(s)))
        .min()
        .unwrap_or_else(|| claim_deadline(incident, policy.billing_start_day));
    // N days from the incident instant, as a date in the team's zone: never later than the
    // partner's deadline (a UTC date would land a day late west of UTC).
    let partner_deadline = match (policy.channel, policy.partner_deadline_days) {
        (ClaimChannel::Partner, Some(days)) => Some(
            incident
                .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
                .unwrap_or(incident)
                .to_zoned(policy.timezone.clone())
                .date(),
        ),
        _ => None,
    };
    ClaimDates {
        sla_deadline,
        partner_deadline,
        remind_by: partner_deadline.map_or(sla_deadline, |p| p.min(sla_deadline)),
    }
}

/// The SLA claim deadlines of an incident: service issues only, counted from when it started.
pub fn claim_of(i: &Incident, policy: &ClaimPolicy) -> Option<ClaimDates> {
    i.event_type
        .is_service_issue()
        .then(|| claim_dates(incident_start(i), &i.subscriptions, policy))
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
        let d = claim_dates(start, &subs, &policy);
        assert_eq!(
            (d.sla_deadline, d.partner_deadline, d.remind_by),
            (date(2026, 5, 31), None, date(2026, 5, 31))
        );
        // Subscription b bills from the 15th: its period ends Mar 14, so its deadline (May 14) wins.
        policy.subscription_start_days.insert("b".into(), 15);
        assert_eq!(
            claim_dates(start, &subs, &policy).sla_deadline,
            date(2026, 5, 14)
        );
        // 21Vianet: same window.
        policy.channel = ClaimChannel::Vianet;
        policy.partner_deadline_days = Some(30);
        assert_eq!(
            claim_dates(start, &subs, &policy).remind_by,
            date(2026, 5, 14)
        );
        // A CSP partner's 30-day internal deadline comes first.
        policy.channel = ClaimChannel::Partner;
        let d = claim_dates(start, &subs, &policy);
        assert_eq!(d.partner_deadline, Some(date(2026, 4, 1)));
        assert_eq!(d.remind_by, date(2026, 4, 1));
        // ... unless it is later than the SLA's.
        policy.partner_deadline_days = Some(90);
        assert_eq!(
            claim_dates(start, &subs, &policy).remind_by,
            date(2026, 5, 14)
        );
        // No subscriptions known (tenant-level event): the tenant's day.
        let none = BTreeSet::new();
        assert_eq!(
            claim_dates(start, &none, &policy).sla_deadline,
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
        let la = claim_dates(start, &none, &policy("America/Los_Angeles"));
        assert_eq!(la.partner_deadline, Some(date(2026, 3, 31)));
        let ams = claim_dates(start, &none, &policy("Europe/Amsterdam"));
        assert_eq!(ams.partner_deadline, Some(date(2026, 4, 1)));
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
