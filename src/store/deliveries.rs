//! The fate of each delivery: one record per recipient address (a rejected address never stops
//! the others), an attempt settled in one transaction, and what an operator does about a
//! delivery that failed for good (`pirwatch outbox list|retry|dismiss`).

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;

use super::codec::ms;
use super::{QueuedDelivery, Store, StoreError};
use crate::incident::MessageId;
use crate::incident::notice::{DeliveryState, NoticeKind, RecipientRecord, Settlement};

const D: &str = "deliveries";
const R: &str = "delivery_recipients";

/// SQL: a delivery (aliased `d`) that failed for good, or that gave up on some recipient.
macro_rules! failed {
    () => {
        "(d.state = 'failed' OR EXISTS (SELECT 1 FROM delivery_recipients fr \
         WHERE fr.key = d.key AND fr.receiver = d.receiver AND fr.state = 'failed'))"
    };
}

/// A delivery that is not done, for `pirwatch outbox list`.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub message_id: MessageId,
    pub tenant: String,
    pub kind: NoticeKind,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt: Timestamp,
    pub error: Option<String>,
    pub dismissed_by: Option<String>,
    pub dismissed_at: Option<Timestamp>,
    pub recipients: Vec<RecipientRecord>,
}

impl Store {
    /// The recipients of a delivery tried so far, by address.
    pub async fn recipients(
        &self,
        d: &QueuedDelivery,
    ) -> Result<HashMap<String, RecipientRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM delivery_recipients WHERE key = $1 AND receiver = $2 ORDER BY address",
        )
        .bind(&d.key)
        .bind(d.receiver.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let rec = self.recipient_from_row(r)?;
                Ok((rec.address.clone(), rec))
            })
            .collect()
    }

    /// `delivery_recipients` rows grouped by (key, receiver).
    pub(super) fn recipients_by_delivery(
        &self,
        rows: &[SqliteRow],
    ) -> Result<HashMap<(String, String), Vec<RecipientRecord>>, StoreError> {
        let mut out: HashMap<(String, String), Vec<RecipientRecord>> = HashMap::new();
        for r in rows {
            let key = (
                self.get::<String>(r, "key")?,
                self.get::<String>(r, "receiver")?,
            );
            out.entry(key)
                .or_default()
                .push(self.recipient_from_row(r)?);
        }
        Ok(out)
    }

    pub(super) fn recipient_from_row(&self, r: &SqliteRow) -> Result<RecipientRecord, StoreError> {
        Ok(RecipientRecord {
            address: self.get(r, "address")?,
            state: self.word(r, R, "state")?,
            rejections: self.get(r, "rejections")?,
            error: self.get(r, "last_error")?,
        })
    }

    /// Records an attempt: each recipient tried and the delivery, in one transaction. `subject`
    /// is what the mail said.
    pub async fn settle_attempt(
        &self,
        d: &QueuedDelivery,
        s: &Settlement,
        subject: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.settle_attempts(std::slice::from_ref(d), s, subject, now)
            .await
    }

    /// Records one attempt that carried every delivery in `ds` (a route digest's members), in
    /// one transaction.
    pub async fn settle_attempts(
        &self,
        ds: &[QueuedDelivery],
        s: &Settlement,
        subject: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for d in ds {
            for r in &s.recipients {
                sqlx::query(
                    "INSERT INTO delivery_recipients (key, receiver, address, state, rejections, \
                     last_error, at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (key, receiver, \
                     address) DO UPDATE SET state = excluded.state, \
                     rejections = excluded.rejections, last_error = excluded.last_error, \
                     at_ms = excluded.at_ms",
                )
                .bind(&d.key)
                .bind(d.receiver.as_str())
                .bind(&r.address)
                .bind(r.state.as_str())
                .bind(r.rejections)
                .bind(&r.error)
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            let sent = (s.state == DeliveryState::Sent).then(|| ms(now));
            sqlx::query(
                "UPDATE deliveries SET state = $1, attempts = attempts + 1, next_attempt_ms = $2, \
                 last_error = $3, sent_ms = COALESCE($4, sent_ms), subject = $5 \
                 WHERE key = $6 AND receiver = $7",
            )
            .bind(s.state.as_str())
            .bind(ms(s.next_attempt))
            .bind(&s.error)
            .bind(sent)
            .bind(subject)
            .bind(&d.key)
            .bind(d.receiver.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The notice was no longer true when it could be sent: it is not sent.
    pub async fn mark_superseded(
        &self,
        d: &QueuedDelivery,
        why: &str,
        _at: Timestamp,
    ) -> Result<(), StoreError> {
        self.set_state(d, DeliveryState::Superseded, why).await
    }

    /// The notice can never be sent as it is (its tenant left the config, a template bug).
    pub async fn mark_undeliverable(
        &self,
        d: &QueuedDelivery,
        why: &str,
    ) -> Result<(), StoreError> {
        self.set_state(d, DeliveryState::Failed, why).await
    }

    async fn set_state(
        &self,
        d: &QueuedDelivery,
        state: DeliveryState,
        note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET state = $1, last_error = $2 WHERE key = $3 AND receiver = $4",
        )
        .bind(state.as_str())
        .bind(note)
        .bind(&d.key)
        .bind(d.receiver.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Deliveries that failed for good and that no operator has dismissed.
    pub async fn failed_undismissed(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT COUNT(*) AS n FROM deliveries d WHERE (",
            failed!(),
            ") AND d.dismissed_ms IS NULL"
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        self.get(&row, "n")
    }

    /// Every delivery still queued or failed, oldest first, with its recipients.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT d.*, n.tenant, n.kind FROM deliveries d JOIN notifications n \
                 ON n.key = d.key WHERE d.state = 'queued' OR ",
            failed!(),
            " \
                 ORDER BY n.planned_ms, d.message_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let recipients = sqlx::query(concat!(
            "SELECT r.* FROM delivery_recipients r JOIN deliveries d ON d.key = r.key AND \
                 d.receiver = r.receiver WHERE d.state = 'queued' OR ",
            failed!(),
            " ORDER BY r.address"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut by_delivery = self.recipients_by_delivery(&recipients)?;
        rows.iter()
            .map(|r| {
                let key = (
                    self.get::<String>(r, "key")?,
                    self.get::<String>(r, "receiver")?,
                );
                Ok(OutboxEntry {
                    message_id: MessageId::new(self.get::<String>(r, "message_id")?),
                    tenant: self.get(r, "tenant")?,
                    kind: self.word(r, "notifications", "kind")?,
                    state: self.word(r, D, "state")?,
                    attempts: self.get(r, "attempts")?,
                    next_attempt: self.time(r, D, "next_attempt_ms")?,
                    error: self.get(r, "last_error")?,
                    dismissed_by: self.get(r, "dismissed_by")?,
                    dismissed_at: self.opt_time(r, D, "dismissed_ms")?,
                    recipients: by_delivery.remove(&key).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Makes a queued or failed delivery due at `now` again, its given-up recipients included.
    /// Returns false when no such delivery is queued or failed.
    pub async fn retry_delivery(
        &self,
        message_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let done = sqlx::query(concat!(
            "UPDATE deliveries AS d SET state = 'queued', next_attempt_ms = $1, \
             dismissed_by = NULL, dismissed_ms = NULL WHERE message_id = $2 AND \
             (d.state = 'queued' OR ",
            failed!(),
            ")"
        ))
        .bind(ms(now))
        .bind(message_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(
            "UPDATE delivery_recipients SET state = 'deferred', rejections = 0 WHERE state IN \
             ('failed', 'rejected') AND (key, receiver) IN (SELECT key, receiver FROM deliveries \
             WHERE message_id = $1)",
        )
        .bind(message_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that an operator dealt with a delivery that failed for good. Returns false when
    /// no such failed delivery exists.
    pub async fn dismiss_delivery(
        &self,
        message_id: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE deliveries AS d SET dismissed_by = $1, dismissed_ms = $2 \
             WHERE message_id = $3 AND (",
            failed!(),
            ")"
        ))
        .bind(by)
        .bind(ms(now))
        .bind(message_id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::notice::{Notice, Receiver, RecipientState};
    use crate::notify::channel::smtp::SmtpFailure;
    use crate::notify::settle::settle;
    use crate::store::testing::store;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    #[tokio::test]
    async fn recipients_settle_on_their_own_and_an_operator_retries_or_dismisses() {
        let (_dir, store) = store().await;
        let now = ts("2026-11-01T10:00:00Z");
        let notice = Notice {
            key: "k".into(),
            tenant: "t".into(),
            kind: NoticeKind::New,
            incidents: vec!["A".into()],
            follow_ups: Vec::new(),
            updates_from: None,
            operator: None,
            not_before: now,
            deliveries: vec![crate::incident::notice::PlannedDelivery::immediate(
                Receiver::TenantRecipients,
                MessageId::new("<k@x>"),
            )],
        };
        store.queue(&[notice], now).await.expect("queue");
        let d = store.due_deliveries(now, now).await.expect("due").remove(0);
        let reject = || {
            Err(SmtpFailure {
                permanent: true,
                message: "550 no such user".into(),
            })
        };
        let outcomes = vec![("a@x".to_owned(), Ok(())), ("b@x".to_owned(), reject())];
        let base = std::time::Duration::from_secs(30);
        let s = settle(
            &store.recipients(&d).await.expect("none yet"),
            &outcomes,
            0,
            base,
            now,
        );
        store
            .settle_attempt(&d, &s, "subject", now)
            .await
            .expect("settle");
        let recorded = store.recipients(&d).await.expect("recipients");
        assert_eq!(recorded["a@x"].state, RecipientState::Sent);
        assert_eq!(recorded["b@x"].state, RecipientState::Rejected);
        assert!(
            store
                .due_deliveries(now, now)
                .await
                .expect("backoff")
                .is_empty()
        );
        let later = s.next_attempt;
        let d = store
            .due_deliveries(later, later)
            .await
            .expect("due")
            .remove(0);
        for n in 0..2 {
            let s = settle(
                &store.recipients(&d).await.expect("r"),
                &[("b@x".into(), reject())],
                n + 1,
                base,
                later,
            );
            store
                .settle_attempt(&d, &s, "subject", later)
                .await
                .expect("settle");
        }
        let list = store.outbox().await.expect("outbox");
        assert_eq!(list.len(), 1, "sent to a@x, b@x given up on: still listed");
        assert_eq!(list[0].state, DeliveryState::Sent);
        assert_eq!(
            store.recipients(&d).await.expect("r")["b@x"].state,
            RecipientState::Failed
        );
        assert_eq!(store.failed_undismissed().await.expect("count"), 1);
        assert!(
            !store
                .dismiss_delivery("<none@x>", "ops", later)
                .await
                .expect("no such delivery")
        );
        assert!(
            store
                .dismiss_delivery("<k@x>", "ops", later)
                .await
                .expect("dismiss")
        );
        assert_eq!(store.failed_undismissed().await.expect("count"), 0);
        // Retrying makes it due again, for the given-up b@x only.
        assert!(store.retry_delivery("<k@x>", later).await.expect("retry"));
        let d = store.due_deliveries(later, later).await.expect("due");
        assert_eq!(d.len(), 1);
        let r = store.recipients(&d[0]).await.expect("r");
        assert_eq!(r["b@x"].state, RecipientState::Deferred);
        assert_eq!(r["a@x"].state, RecipientState::Sent);
        // A delivery nobody got is failed for good.
        store
            .mark_undeliverable(&d[0], "tenant gone")
            .await
            .expect("fail");
        assert_eq!(store.failed_undismissed().await.expect("count"), 1);
    }
}
