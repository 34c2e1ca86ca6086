//! The claim deadline as an iCalendar file: one all-day VEVENT with a VALARM the afternoon
//! before, so it lands in the team's calendar. Built with the icalendar crate; its UID is
//! stable per incident, so a later reminder updates the same calendar entry.

use icalendar::{Alarm, Calendar, Component, Event, EventLike, Property, Trigger};
use jiff::civil::Date;

use crate::followup::claim::ClaimChannel;

/// The calendar file for an incident's claim deadline.
pub fn claim_deadline(
    tracking_id: &str,
    tenant: &str,
    domain: &str,
    deadline: Date,
    channel: ClaimChannel,
    ack_command: &str,
    stamp: jiff::Timestamp,
) -> String {
    let naive = |d: Date| {
        chrono::NaiveDate::from_ymd_opt(
            i32::from(d.year()),
            u32::from(d.month().unsigned_abs()),
            u32::from(d.day().unsigned_abs()),
        )
        .unwrap_or_default()
    };
    let day = naive(deadline);
    // An all-day event's end is exclusive: the day after.
    let next = naive(deadline.tomorrow().unwrap_or(deadline));
    let stamp = chrono::DateTime::from_timestamp(stamp.as_second(), 0).unwrap_or_default();
    let summary =
        format!("Last day to file the SLA claim for Azure incident {tracking_id} ({tenant})");
    let event = Event::new()
        .uid(&format!("claim-{tracking_id}-{tenant}@{domain}"))
        .timestamp(stamp)
        .summary(&summary)
        .description(&format!(
            "{} Tracking ID: {tracking_id}. Acknowledge with: {ack_command} ack {tracking_id} \
             --claimed --reference <SR number> (or --no-claim).",
            channel.how_to_file()
        ))
        .starts(day)
        .ends(next)
        .alarm(Alarm::display(
            &summary,
            Trigger::before_start(chrono::Duration::hours(15)),
        ))
        .done();
    Calendar::new()
        .append_property(Property::new("METHOD", "PUBLISH"))
        .push(event)
        .done()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_all_day_event_with_an_alarm() {
        let ics = claim_deadline(
            "AB_1",
            "contoso",
            "example.com",
            jiff::civil::date(2027, 1, 30),
            ClaimChannel::Microsoft,
            "sudo -u pirwatch pirwatch",
            "2026-11-22T10:00:00Z".parse().expect("ts"),
        );
        assert!(ics.contains("BEGIN:VEVENT"));
        assert!(ics.contains("DTSTART;VALUE=DATE:20270130"), "{ics}");
        assert!(
            ics.contains("DTEND;VALUE=DATE:20270131"),
            "the end is exclusive: {ics}"
        );
        assert_eq!(
            ics.matches("tracking ID").count() + ics.matches("Tracking ID").count(),
            2,
            "{ics}"
        );
        assert!(ics.contains("UID:claim-AB_1-contoso@example.com"));
        assert!(
            ics.contains("BEGIN:VALARM") && ics.contains("TRIGGER"),
            "{ics}"
        );
        assert!(ics.contains("METHOD:PUBLISH"));
        assert!(ics.contains("\r\n"), "lines end in CRLF");
    }
}
