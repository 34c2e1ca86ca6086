//! A resource's downtime in an incident, from its Resource Health availability history: the
//! time it was `Unavailable` (downtime) and `Degraded` (listed beside it), from the incident's
//! impact start until the resource was available again — at most [`AFTER_MITIGATION`] after
//! Microsoft's mitigation, so an unrelated later outage is not counted. Pure.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{Availability, StatusChange};

/// How long after mitigation a resource's own recovery is still counted.
pub const AFTER_MITIGATION: SignedDuration = SignedDuration::from_hours(24);

/// A span of time in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Interval {
    pub fn minutes(&self) -> i64 {
        self.to.duration_since(self.from).as_mins().max(0)
    }
}

/// What a resource's history says about an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Downtime {
    pub unavailable: Vec<Interval>,
    pub degraded: Vec<Interval>,
    pub unavailable_minutes: i64,
    pub degraded_minutes: i64,
}

/// The downtime `history` shows within `window` (impact start, mitigation), the history being
/// known up to `until` (when it was fetched).
pub fn downtime(
    history: &[StatusChange],
    window: (Timestamp, Timestamp),
    until: Timestamp,
) -> Downtime {
    let (start, mitigated) = window;
    let end = super::after(mitigated, AFTER_MITIGATION).min(until);
    let mut changes: Vec<&StatusChange> = history.iter().collect();
    changes.sort_by_key(|c| c.since);
    let mut out = Downtime::default();
    for (n, c) in changes.iter().enumerate() {
        let next = changes.get(n + 1).map_or(until, |c| c.since);
        let from = c.since.max(start);
        let to = next.min(end);
        if to <= from {
            continue;
        }
        let span = Interval { from, to };
        match c.state {
            Availability::Unavailable => out.unavailable.push(span),
            Availability::Degraded => out.degraded.push(span),
            Availability::Available | Availability::Unknown => {}
        }
    }
    out.unavailable_minutes = out.unavailable.iter().map(Interval::minutes).sum();
    out.degraded_minutes = out.degraded.iter().map(Interval::minutes).sum();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        format!("2026-10-08T{s}:00Z").parse().expect("ts")
    }

    fn at(state: Availability, since: &str) -> StatusChange {
        StatusChange {
            state,
            since: ts(since),
            summary: None,
        }
    }

    #[test]
    fn downtime_is_counted_from_impact_start_until_available_again() {
        use Availability::*;
        let window = (ts("10:00"), ts("13:00"));
        let until = ts("23:00");
        // (history, unavailable minutes, degraded minutes)
        let cases = [
            // Down before the incident started: counted from its start.
            (
                vec![
                    at(Available, "08:00"),
                    at(Unavailable, "09:30"),
                    at(Available, "11:00"),
                ],
                60,
                0,
            ),
            // Degraded, then down, then back after mitigation: the resource's own recovery.
            (
                vec![
                    at(Degraded, "10:15"),
                    at(Unavailable, "10:45"),
                    at(Available, "14:15"),
                ],
                210,
                30,
            ),
            // Never available again: at most 24 h after mitigation, and not beyond the fetch.
            (vec![at(Unavailable, "12:00")], 660, 0),
            // Healthy throughout, or only Unknown.
            (vec![at(Available, "01:00")], 0, 0),
            (vec![at(Unknown, "10:30"), at(Available, "11:30")], 0, 0),
            // Out of order, as pages may come.
            (
                vec![at(Available, "11:00"), at(Unavailable, "10:30")],
                30,
                0,
            ),
            (Vec::new(), 0, 0),
        ];
        for (history, down, degraded) in cases {
            let d = downtime(&history, window, until);
            assert_eq!(
                (d.unavailable_minutes, d.degraded_minutes),
                (down, degraded),
                "{history:?}"
            );
        }
    }
}
