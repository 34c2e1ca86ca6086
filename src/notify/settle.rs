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
use crate::notify::channel::webhook::WebhookFailure;

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

/// Settles a webhook delivery's attempt made at `now` after `attempts` earlier ones: the
/// webhook is its one recipient (`rejections` so far from `before`). Unlike mail, a receiver that
/// keeps failing — for whatever reason — is given up on after `max_attempts` tries (the
/// operators are told); a rejection, after [`MAX_REJECTIONS`]. The next try waits for the backoff
/// and at least the receiver's `Retry-After`.
pub fn settle_webhook(
    name: &str,
    before: Option<&RecipientRecord>,
    outcome: &Result<(), WebhookFailure>,
    attempts: i64,
    policy: (u32, Duration),
    now: Timestamp,
) -> Settlement {
    let (max_attempts, backoff) = policy;
    let rejections = before.map_or(0, |r| r.rejections);
    let (state, record_state, rejections, error, wait) = match outcome {
        Ok(()) => (
            DeliveryState::Sent,
            RecipientState::Sent,
            rejections,
            None,
            Duration::ZERO,
        ),
        Err(f) => {
            let rejections = rejections + i64::from(f.permanent);
            let spent = attempts + 1 >= i64::from(max_attempts)
                || (f.permanent && rejections >= MAX_REJECTIONS);
            let wait = retry_delay(backoff, attempts).max(f.retry_after.unwrap_or_default());
            let (d, r) = match (spent, f.permanent) {
                (true, _) => (DeliveryState::Failed, RecipientState::Failed),
                (false, true) => (DeliveryState::Queued, RecipientState::Rejected),
                (false, false) => (DeliveryState::Queued, RecipientState::Deferred),
            };
            (d, r, rejections, Some(f.message.clone()), wait)
        }
    };
    let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_hours(24));
    Settlement {
        recipients: vec![RecipientRecord {
            address: name.to_owned(),
            state: record_state,
            rejections,
            error: error.clone(),
        }],
        state,
        next_attempt: now.checked_add(wait).unwrap_or(now),
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

    #[test]
    fn webhooks_retry_after_the_receivers_wait_and_give_up_after_max_attempts() {
        let now = ts("2026-12-02T10:00:00Z");
        let base = Duration::from_secs(30);
        let down = |permanent, wait: Option<u64>| {
            Err(WebhookFailure {
                permanent,
                message: "webhook w: HTTP 503".into(),
                retry_after: wait.map(Duration::from_secs),
            })
        };
        let rejected = RecipientRecord {
            address: "w".into(),
            state: RecipientState::Rejected,
            rejections: 2,
            error: None,
        };
        // (before, outcome, attempts so far) → (state, seconds to the next try)
        type Case<'a> = (
            Option<&'a RecipientRecord>,
            Result<(), WebhookFailure>,
            i64,
            DeliveryState,
            i64,
        );
        let cases: Vec<Case<'_>> = vec![
            (None, Ok(()), 0, DeliveryState::Sent, 0),
            (None, down(false, None), 0, DeliveryState::Queued, 30),
            (None, down(false, None), 2, DeliveryState::Queued, 120),
            // Retry-After longer than the backoff wins; a shorter one does not shorten it.
            (None, down(false, Some(600)), 0, DeliveryState::Queued, 600),
            (None, down(false, Some(5)), 1, DeliveryState::Queued, 60),
            // The tenth try of ten fails: given up on.
            (None, down(false, None), 9, DeliveryState::Failed, 3600),
            (None, down(true, None), 0, DeliveryState::Queued, 30),
            (
                Some(&rejected),
                down(true, None),
                3,
                DeliveryState::Failed,
                240,
            ),
        ];
        for (before, outcome, attempts, state, wait) in cases {
            let s = settle_webhook("w", before, &outcome, attempts, (10, base), now);
            assert_eq!(s.state, state, "{outcome:?} after {attempts}");
            assert_eq!(
                s.next_attempt.duration_since(now).as_secs(),
                wait,
                "{outcome:?} after {attempts}"
            );
            assert_eq!(s.recipients.len(), 1);
            assert_eq!(s.error.is_some(), outcome.is_err());
        }
    }
}
