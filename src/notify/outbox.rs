//! Draining the outbox: send every due mail, mark it sent only after the server accepted it,
//! and schedule a retry otherwise.
//!
//! A temporary failure (connection refused, timeout, 4xx) is retried with exponential backoff
//! for as long as it takes: an SMTP outage delays mail, it never drops it. A permanent rejection
//! (5xx) is retried a few times, in case it was a misconfiguration since fixed, then recorded
//! as failed, logged, and shown by `pirwatch incidents`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::metrics::{MailLabels, Metrics};
use crate::notify::email::Mailer;
use crate::store::{Store, StoreError};

/// After this many permanent rejections a mail is marked failed.
pub const MAX_REJECTIONS: i64 = 3;

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed this time, will be retried.
    pub deferred: usize,
    /// Given up on.
    pub failed: usize,
}

/// Backoff before the next try: 30 s, doubling, at most one hour.
pub fn retry_delay(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    Duration::from_secs(30u64.saturating_mul(1 << exp)).min(Duration::from_secs(3600))
}

/// Sends every queued mail due at `now` whose retry backoff has ended by `retry_by`
/// (`pirwatch once` passes the far future: its caller's schedule is the backoff). Stops early,
/// leaving the rest queued, when `stop` is cancelled.
pub async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    now: Timestamp,
    retry_by: Timestamp,
    stop: &tokio_util::sync::CancellationToken,
    metrics: &Metrics,
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    for mail in store.due_mails(now, retry_by).await? {
        if stop.is_cancelled() {
            break;
        }
        metrics.alive_for(Duration::from_secs(120));
        let sent = mailer.send(&mail).await;
        let outcome = match &sent {
            Ok(()) => "sent",
            Err(e) if e.permanent && mail.rejections + 1 >= MAX_REJECTIONS => "failed",
            Err(_) => "deferred",
        };
        metrics
            .notifications
            .get_or_create(&MailLabels {
                kind: mail.kind.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        metrics.set_smtp_error(sent.as_ref().err().map(|e| e.message.clone()));
        match sent {
            Ok(()) => {
                store
                    .mark_sent(&mail.message_id, Timestamp::now().max(now))
                    .await?;
                tracing::info!(message_id = %mail.message_id, kind = %mail.kind,
                    tenant = %mail.tenant, recipients = mail.recipients.len(), "mail sent");
                report.sent += 1;
            }
            Err(e) => {
                let rejections = mail.rejections + i64::from(e.permanent);
                let give_up = e.permanent && rejections >= MAX_REJECTIONS;
                let next = now
                    .checked_add(
                        SignedDuration::try_from(retry_delay(mail.attempts)).unwrap_or_default(),
                    )
                    .unwrap_or(now);
                store
                    .mark_attempt_failed(&mail.message_id, &e.message, e.permanent, give_up, next)
                    .await?;
                if give_up {
                    tracing::error!(message_id = %mail.message_id, tenant = %mail.tenant,
                        error = %e, "mail rejected {MAX_REJECTIONS} times; marked failed \
                        (see `pirwatch incidents`)");
                    report.failed += 1;
                } else {
                    tracing::warn!(message_id = %mail.message_id, tenant = %mail.tenant,
                        error = %e, permanent = e.permanent, retry_at = %next,
                        "mail not delivered; will retry");
                    report.deferred += 1;
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(retry_delay(0), Duration::from_secs(30));
        assert_eq!(retry_delay(1), Duration::from_secs(60));
        assert_eq!(retry_delay(6), Duration::from_secs(1920));
        assert_eq!(retry_delay(7), Duration::from_secs(3600));
        assert_eq!(retry_delay(1000), Duration::from_secs(3600));
    }
}
