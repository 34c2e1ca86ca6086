//! Outbound pacing (`smtp.max_per_minute`): at most so many mails in any 60 seconds, so one
//! Azure outage across 300 customers stays under a mailbox's sending limits. A mail over the
//! limit is not dropped: it stays queued for the next delivery round.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// The sends of the last minute, and the limit.
#[derive(Debug, Default)]
pub struct Pacer {
    max_per_minute: Option<u32>,
    sent: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    pub fn new(max_per_minute: Option<u32>) -> Self {
        Self {
            max_per_minute,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// True, counting the send, when a mail may go out at `now`; false when the last minute
    /// already had `max_per_minute`.
    pub fn try_send(&self, now: Instant) -> bool {
        let Some(max) = self.max_per_minute else {
            return true;
        };
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        allowed(&mut sent, now, max)
    }
}

/// Drops sends older than a minute from `sent`; then, if fewer than `max` remain, records one at
/// `now` and says yes.
fn allowed(sent: &mut VecDeque<Instant>, now: Instant, max: u32) -> bool {
    while sent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        sent.pop_front();
    }
    if sent.len() < usize::try_from(max).unwrap_or(usize::MAX) {
        sent.push_back(now);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_sends_in_any_minute() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut sent = VecDeque::new();
        // (second, allowed?) with max 2
        let cases = [
            (0, true),
            (10, true),
            (20, false),
            (59, false),
            (60, true), // the send at 0 left the window
            (65, false),
            (70, true), // the send at 10 left it
            (71, false),
        ];
        for (s, want) in cases {
            assert_eq!(allowed(&mut sent, at(s), 2), want, "at {s} s");
        }
        assert!(Pacer::new(None).try_send(t0), "no limit");
        let p = Pacer::new(Some(1));
        assert!(p.try_send(t0) && !p.try_send(t0));
    }
}
