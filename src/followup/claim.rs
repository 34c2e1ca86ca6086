//! The SLA credit claim deadline.
//!
//! Azure's rule: the claim must be received "within two months of the end of the billing month
//! in which the Incident occurred". That reads two ways (end of billing month + 2 calendar
//! months, day clamped; or the last day of the second following month); pirwatch takes the
//! earlier. The incident's month is taken in UTC, as Azure bills in UTC. The result is the last
//! day on which the claim can be filed.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan, tz::TimeZone};

/// The last day to file a claim for an incident that started at `incident`, with billing
/// periods starting on day `billing_start_day` (1 = calendar months; 2..=28 otherwise).
pub fn claim_deadline(incident: Timestamp, billing_start_day: i8) -> Date {
    let day = incident.to_zoned(TimeZone::UTC).date();
    let end = billing_period_end(day, billing_start_day.clamp(1, 28));
    let reading_a = end.saturating_add(2.months());
    let reading_b = end
        .first_of_month()
        .saturating_add(2.months())
        .last_of_month();
    reading_a.min(reading_b)
}

/// The last day of the billing period containing `day`.
fn billing_period_end(day: Date, start_day: i8) -> Date {
    let this_month_start = day.first_of_month().saturating_add((start_day - 1).days());
    let period_start = if day >= this_month_start {
        this_month_start
    } else {
        day.first_of_month()
            .saturating_sub(1.month())
            .saturating_add((start_day - 1).days())
    };
    period_start
        .saturating_add(1.month())
        .saturating_sub(1.day())
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
