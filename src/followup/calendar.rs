//! A team's working calendar: its time zone, working days, working hours and holidays.
//!
//! Reminders and digests go out inside working hours. A reminder that falls on a day off moves
//! to the previous working day: earlier, never later. jiff does the time-zone arithmetic
//! (DST gaps and folds resolve the "compatible" way: a 09:00 that does not exist becomes
//! 10:00). No business-day library exists for this, so the day walking is here, bounded.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// How far the calendar walks looking for a working day before giving up.
const MAX_WALK_DAYS: i32 = 3660;

/// A calendar that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("no working days")]
    NoWorkingDays,
    #[error("working hours must end after they start")]
    EmptyHours,
}

/// When a team works.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCalendar {
    tz: TimeZone,
    /// Working days, indexed Monday = 0.
    days: [bool; 7],
    start: Time,
    end: Time,
    holidays: BTreeSet<Date>,
    /// Working days despite their weekday (Azure China's make-up days).
    extra: BTreeSet<Date>,
}

impl WorkCalendar {
    pub fn new(
        tz: TimeZone,
        days: impl IntoIterator<Item = Weekday>,
        start: Time,
        end: Time,
        holidays: impl IntoIterator<Item = Date>,
    ) -> Result<Self, CalendarError> {
        let mut set = [false; 7];
        for d in days {
            set[day_index(d)] = true;
        }
        if !set.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        if end <= start {
            return Err(CalendarError::EmptyHours);
        }
        Ok(Self {
            tz,
            days: set,
            start,
            end,
            holidays: holidays.into_iter().collect(),
            extra: BTreeSet::new(),
        })
    }

    /// The same calendar with these dates worked whatever their weekday.
    pub fn with_extra_working_days(mut self, days: impl IntoIterator<Item = Date>) -> Self {
        self.extra = days.into_iter().collect();
        self
    }

    /// 09:00-17:00, Monday to Friday, no holidays.
    pub fn office_hours(tz: TimeZone) -> Self {
        Self {
            tz,
            days: [true, true, true, true, true, false, false],
            start: Time::constant(9, 0, 0, 0),
            end: Time::constant(17, 0, 0, 0),
            holidays: BTreeSet::new(),
            extra: BTreeSet::new(),
        }
    }

    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: Timestamp) -> Date {
        t.to_zoned(self.tz.clone()).date()
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        self.extra.contains(&d)
            || (self.days[day_index(d.weekday())] && !self.holidays.contains(&d))
    }

    /// `d` if it is a working day, else the working day before it.
    pub fn working_day_on_or_before(&self, d: Date) -> Date {
        self.walk(d, -1, true)
    }

    /// The first working day strictly after `d`.
    pub fn next_working_day(&self, d: Date) -> Date {
        self.walk(d, 1, false)
    }

    /// The date `n` working days after `d` (`d` itself need not be a working day).
    pub fn add_working_days(&self, d: Date, n: u32) -> Date {
        (0..n).fold(d, |day, _| self.next_working_day(day))
    }

    /// When work starts on `d`, as an instant.
    pub fn opening(&self, d: Date) -> Timestamp {
        self.local(d, self.start)
    }

    /// `t` if it falls inside working hours, else the next opening.
    pub fn next_open_instant(&self, t: Timestamp) -> Timestamp {
        let day = self.date_of(t);
        if self.is_working_day(day) {
            if t < self.opening(day) {
                return self.opening(day);
            }
            if t < self.local(day, self.end) {
                return t;
            }
        }
        self.opening(self.next_working_day(day))
    }

    fn local(&self, d: Date, time: Time) -> Timestamp {
        d.to_datetime(time)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or_else(|_| {
                d.to_datetime(time)
                    .to_zoned(TimeZone::UTC)
                    .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
            })
    }

    fn walk(&self, d: Date, step: i32, include_start: bool) -> Date {
        let mut day = if include_start {
            d
        } else {
            d.saturating_add(step.days())
        };
        for _ in 0..MAX_WALK_DAYS {
            if self.is_working_day(day) {
                return day;
            }
            day = day.saturating_add(step.days());
        }
        d
    }
}

fn day_index(d: Weekday) -> usize {
    usize::try_from(d.to_monday_zero_offset()).unwrap_or(0)
}

/// The calendar the policy tests share: Amsterdam, Monday to Friday 09:00-17:00, with
/// Christmas Day and Monday 28 December 2026 off.
#[cfg(test)]
pub(crate) fn test_calendar() -> WorkCalendar {
    tests::amsterdam()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    pub(super) fn amsterdam() -> WorkCalendar {
        let tz = TimeZone::get("Europe/Amsterdam").expect("tz");
        WorkCalendar::new(
            tz,
            [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            Time::constant(9, 0, 0, 0),
            Time::constant(17, 0, 0, 0),
            [date(2026, 12, 25), date(2026, 12, 28)],
        )
        .expect("calendar")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let c = amsterdam();
        let cases = [
            // (date, on or before, next after)
            (date(2026, 11, 20), date(2026, 11, 20), date(2026, 11, 23)), // Friday
            (date(2026, 11, 21), date(2026, 11, 20), date(2026, 11, 23)), // Saturday
            (date(2026, 11, 22), date(2026, 11, 20), date(2026, 11, 23)), // Sunday
            (date(2026, 12, 25), date(2026, 12, 24), date(2026, 12, 29)), // holiday, then weekend + holiday
            (date(2026, 12, 28), date(2026, 12, 24), date(2026, 12, 29)), // holiday Monday
        ];
        for (d, before, after) in cases {
            assert_eq!(c.working_day_on_or_before(d), before, "{d} on or before");
            assert_eq!(c.next_working_day(d), after, "{d} next");
        }
        assert_eq!(
            c.add_working_days(date(2026, 11, 19), 3),
            date(2026, 11, 24)
        );
        assert_eq!(
            c.add_working_days(date(2026, 12, 23), 3),
            date(2026, 12, 30)
        );
        assert_eq!(
            c.add_working_days(date(2026, 11, 21), 0),
            date(2026, 11, 21)
        );
    }

    #[test]
    fn opening_follows_dst() {
        let c = amsterdam();
        // CET (UTC+1) before the switch on 29 March 2026, CEST (UTC+2) after.
        assert_eq!(c.opening(date(2026, 3, 27)), ts("2026-03-27T08:00:00Z"));
        assert_eq!(c.opening(date(2026, 3, 30)), ts("2026-03-30T07:00:00Z"));
        assert_eq!(c.opening(date(2026, 10, 23)), ts("2026-10-23T07:00:00Z"));
        assert_eq!(c.opening(date(2026, 10, 26)), ts("2026-10-26T08:00:00Z"));
    }

    #[test]
    fn next_open_instant_stays_inside_working_hours() {
        let c = amsterdam();
        let cases = [
            ("2026-11-20T07:59:00Z", "2026-11-20T08:00:00Z"), // Friday 08:59 local: wait for 09:00
            ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"), // Friday 11:00: now
            ("2026-11-20T16:00:00Z", "2026-11-23T08:00:00Z"), // Friday 17:00: Monday 09:00
            ("2026-11-21T12:00:00Z", "2026-11-23T08:00:00Z"), // Saturday
            ("2026-12-24T17:30:00Z", "2026-12-29T08:00:00Z"), // Christmas Eve evening
        ];
        for (t, want) in cases {
            assert_eq!(c.next_open_instant(ts(t)), ts(want), "{t}");
        }
    }

    #[test]
    fn a_nonexistent_opening_time_moves_forward() {
        // 02:30 does not exist in Amsterdam on 29 March 2026 (clocks jump 02:00 -> 03:00).
        let tz = TimeZone::get("Europe/Amsterdam").expect("tz");
        let c = WorkCalendar::new(
            tz,
            [Weekday::Sunday],
            Time::constant(2, 30, 0, 0),
            Time::constant(12, 0, 0, 0),
            [],
        )
        .expect("calendar");
        assert_eq!(c.opening(date(2026, 3, 29)), ts("2026-03-29T01:30:00Z"));
    }

    #[test]
    fn bad_calendars_are_refused() {
        let t9 = Time::constant(9, 0, 0, 0);
        assert_eq!(
            WorkCalendar::new(TimeZone::UTC, [], t9, Time::constant(17, 0, 0, 0), []),
            Err(CalendarError::NoWorkingDays)
        );
        assert_eq!(
            WorkCalendar::new(TimeZone::UTC, [Weekday::Monday], t9, t9, []),
            Err(CalendarError::EmptyHours)
        );
    }

    #[test]
    fn make_up_days_are_worked_whatever_their_weekday() {
        // China's 2026 Golden Week make-up Saturday, say.
        let sat = date(2026, 9, 26);
        let cal = amsterdam();
        assert!(!cal.is_working_day(sat));
        let cal = cal.with_extra_working_days([sat]);
        assert!(cal.is_working_day(sat));
        assert_eq!(cal.next_working_day(date(2026, 9, 25)), sat);
    }
}
