//! Settling one delivery attempt: from what each recipient's server said, the new state of
//! every recipient and of the delivery. Pure, with table tests.
//!
//! A recipient accepted is done. A permanent rejection (5xx) is retried a few times, in case it
//! was a misconfiguration since fixed, then given up on; a temporary failure (4xx, a dead
//! connection, the time limit) is retried with backoff for as long as it takes. The delivery is
//! queued while any recipient is still to be tried, sent once at least one recipient got it and
//! none is left, failed when nobody got it.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

pub use crate::incident::notice::Settlement;
use crate::incident::notice::{DeliveryState, RecipientRecord, RecipientState};
use crate::notify::channel::smtp::SmtpFailure;

/// After this many permanent rejections a recipient is given up on.
pub const MAX_REJECTIONS: i64 = 3;

/// Backoff before the next try: `base` (`smtp.retry_backoff`), doubling, at most one hour.
pub fn retry_delay(base: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    base.saturating_mul(1 << exp).min(Duration::from_secs(3600))
}

/// Settles an attempt made at `now` after `attempts` earlier ones, retried after `backoff`
/// (doubling). `before`: the recipients' records before it, by address; `outcomes`: what each
/// recipient tried now got.
pub fn settle(
    before: &HashMap<String, RecipientRecord>,
    outcomes: &[(String, Result<(), SmtpFailure>)],
    attempts: i64,
    backoff: Duration,
    now: Timestamp,
) -> Settlement {
    let mut recipients = Vec::with_capacity(outcomes.len());
    let mut error = None;
    for (address, outcome) in outcomes {
        let rejections = before.get(address).map_or(0, |r| r.rejections);
        let record = match outcome {
            Ok(()) => RecipientRecord {
                address: address.clone(),
                state: RecipientState::Sent,
                rejections,
                error: None,
            },
            Err(f) => {
                error.get_or_insert_with(|| f.message.clone());
                let rejections = rejections + i64::from(f.permanent);
                let state = match (f.permanent, rejections >= MAX_REJECTIONS) {
                    (false, _) => RecipientState::Deferred,
                    (true, false) => RecipientState::Rejected,
                    (true, true) => RecipientState::Failed,
                };
                RecipientRecord {
                    address: address.clone(),
                    state,
                    rejections,
                    error: Some(f.message.clone()),
                }
            }
        };
        recipients.push(record);
    }
    let now_or_before = |a: &String| {
        recipients
            .iter()
            .find(|r| &r.address == a)
            .or_else(|| before.get(a))
            .map(|r| r.state)
    };
    let mut all: Vec<&String> = before
        .keys()
        .chain(outcomes.iter().map(|(a, _)| a))
        .collect();
    all.sort();
    all.dedup();
    let states: Vec<RecipientState> = all.into_iter().filter_map(now_or_before).collect();
    let state = if states.iter().any(|s| s.pending()) {
        DeliveryState::Queued
    } else if states.contains(&RecipientState::Sent) {
        DeliveryState::Sent
    } else {
        DeliveryState::Failed
    };
    let delay = SignedDuration::try_from(retry_delay(backoff, attempts))
        .unwrap_or(SignedDuration::from_hours(1));
    Settlement {
        recipients,
        state,
        next_attempt: now.checked_add(delay).unwrap_or(now),
        error,
    }
}

/// Every outcome of an attempt that failed as a whole (no connection, time limit, AUTH).
pub fn all_failed(
    recipients: &[String],
    failure: &SmtpFailure,
) -> Vec<(String, Result<(), SmtpFailure>)> {
    recipients
        .iter()
        .map(|a| (a.clone(), Err(failure.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn fail(permanent: bool) -> Result<(), SmtpFailure> {
        Err(SmtpFailure {
            permanent,
            message: if permanent {
                "550 no such user"
            } else {
                "451 try later"
            }
            .into(),
        })
    }

    fn record(address: &str, state: RecipientState, rejections: i64) -> RecipientRecord {
        RecipientRecord {
            address: address.into(),
            state,
            rejections,
            error: None,
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(30);
        assert_eq!(retry_delay(base, 0), Duration::from_secs(30));
        assert_eq!(retry_delay(base, 1), Duration::from_secs(60));
        assert_eq!(retry_delay(base, 6), Duration::from_secs(1920));
        assert_eq!(retry_delay(base, 7), Duration::from_secs(3600));
        assert_eq!(retry_delay(base, 1000), Duration::from_secs(3600));
        assert_eq!(
            retry_delay(Duration::from_secs(1), 3),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn each_recipient_settles_on_its_own() {
        use RecipientState::*;
        let now = ts("2026-11-01T10:00:00Z");
        // (before, outcomes) → (recipient states now, delivery state)
        type Case = (
            Vec<RecipientRecord>,
            Vec<(&'static str, Result<(), SmtpFailure>)>,
            Vec<RecipientState>,
            DeliveryState,
        );
        let cases: Vec<Case> = vec![
            // Everyone accepted.
            (
                vec![],
                vec![("a", Ok(())), ("b", Ok(()))],
                vec![Sent, Sent],
                DeliveryState::Sent,
            ),
            // One 550: the other still gets it; the rejected one is retried.
            (
                vec![],
                vec![("a", Ok(())), ("b", fail(true))],
                vec![Sent, Rejected],
                DeliveryState::Queued,
            ),
            // The third 550 gives that recipient up; the mail went to the other: sent.
            (
                vec![record("a", Sent, 0), record("b", Rejected, 2)],
                vec![("b", fail(true))],
                vec![Failed],
                DeliveryState::Sent,
            ),
            // 451 is retried however often it comes.
            (
                vec![record("a", Deferred, 0)],
                vec![("a", fail(false))],
                vec![Deferred],
                DeliveryState::Queued,
            ),
            // Nobody ever got it: failed.
            (
                vec![record("a", Rejected, 2)],
                vec![("a", fail(true))],
                vec![Failed],
                DeliveryState::Failed,
            ),
        ];
        for (i, (before, outcomes, want, delivery)) in cases.into_iter().enumerate() {
            let before: HashMap<String, RecipientRecord> =
                before.into_iter().map(|r| (r.address.clone(), r)).collect();
            let outcomes: Vec<(String, Result<(), SmtpFailure>)> = outcomes
                .into_iter()
                .map(|(a, r)| (a.to_owned(), r))
                .collect();
            let s = settle(&before, &outcomes, 0, Duration::from_secs(30), now);
            let got: Vec<RecipientState> = s.recipients.iter().map(|r| r.state).collect();
            assert_eq!((got, s.state), (want, delivery), "case {i}");
        }
    }

    #[test]
    fn a_whole_attempt_failing_retries_later_from_the_failure() {
        let now = ts("2026-11-01T10:00:00Z");
        let down = SmtpFailure {
            permanent: false,
            message: "connection refused".into(),
        };
        let outcomes = all_failed(&["a".into(), "b".into()], &down);
        let s = settle(&HashMap::new(), &outcomes, 2, Duration::from_secs(30), now);
        assert_eq!(s.state, DeliveryState::Queued);
        assert_eq!(s.next_attempt, ts("2026-11-01T10:02:00Z"));
        assert_eq!(s.error.as_deref(), Some("connection refused"));
    }
}
