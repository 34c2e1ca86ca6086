//! The outbox: notices (typed, rendered only when sent) and one delivery per notice and
//! receiver. A notice is written in the same transaction as the change that causes it; a
//! delivery is marked sent only after the receiver's server accepted it, so delivery is
//! at-least-once and a re-send keeps its `Message-ID`.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::codec::ms;
use super::{Store, StoreError, Tx};
use crate::incident::notice::{
    DeliveryState, Notice, NoticeKind, OperatorCause, Receiver, RecipientRecord, ReminderKey,
    Series, Step,
};
use crate::incident::{MessageId, TenantName, TrackingId};

const N: &str = "notifications";
const D: &str = "deliveries";
const F: &str = "notification_follow_ups";

/// An incident's follow-ups so far: the steps planned, and when the last goes or went out (at
/// most one follow-up mail a day).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpHistory {
    pub steps: BTreeSet<ReminderKey>,
    pub last_out: Option<Timestamp>,
}

/// A queued delivery with its notice, as read back for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDelivery {
    pub key: String,
    pub receiver: Receiver,
    pub message_id: MessageId,
    pub tenant: TenantName,
    pub kind: NoticeKind,
    pub incidents: Vec<TrackingId>,
    /// The follow-ups it accounts for (reminder steps), in key order.
    pub follow_ups: Vec<ReminderKey>,
    pub updates_from: Option<Timestamp>,
    /// For operator notices: what is wrong.
    pub operator: Option<OperatorCause>,
    /// When the notice was planned (the mail's `Date`).
    pub planned: Timestamp,
    /// The route digest it goes out in, if any.
    pub digest_at: Option<Timestamp>,
    pub attempts: i64,
    pub rejections: i64,
}

/// A line of the mail log: Message-ID, kind, state, and the subject once sent.
pub type MailLogEntry = (MessageId, NoticeKind, DeliveryState, Option<String>);

/// The last mail about an incident, for `pirwatch incidents`.
#[derive(Debug, Clone, Serialize)]
pub struct LastMail {
    pub kind: NoticeKind,
    pub state: DeliveryState,
    /// When it was sent, else when it was queued.
    pub at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Recipients given up on (rejected for good).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_recipients: Vec<String>,
}

/// One delivery about an incident, for `pirwatch show` and `export`.
#[derive(Debug, Clone, Serialize)]
pub struct MailRecord {
    pub kind: NoticeKind,
    /// The follow-ups it accounts for (`claim-d14`, `pir_review-final-2`).
    pub follow_ups: Vec<String>,
    pub receiver: String,
    pub message_id: MessageId,
    pub state: DeliveryState,
    /// What it was sent with (none while queued).
    pub subject: Option<String>,
    pub queued: Timestamp,
    pub sent: Option<Timestamp>,
    pub error: Option<String>,
    /// Each recipient tried, with what became of it.
    pub recipients: Vec<RecipientRecord>,
}

impl Store {
    pub(super) async fn insert_notice(
        &self,
        tx: &mut Tx<'_>,
        n: &Notice,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO notifications (key, tenant, kind, updates_from_ms, planned_ms, \
             not_before_ms, operator_cause) VALUES ($1,$2,$3,$4,$5,$6,$7) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&n.key)
        .bind(n.tenant.as_str())
        .bind(n.kind.as_str())
        .bind(n.updates_from.map(ms))
        .bind(ms(now))
        .bind(ms(n.not_before.max(now)))
        .bind(
            n.operator
                .as_ref()
                .map(|c| self.to_json("operator_cause", c))
                .transpose()?,
        )
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
        if !inserted {
            // Planned before: its incidents, follow-ups and deliveries are already there (a
            // follow-up added now would be counted as sent by a mail that never carried it).
            return Ok(());
        }
        for id in &n.incidents {
            sqlx::query(
                "INSERT INTO notification_incidents (key, tenant, tracking_id) VALUES ($1,$2,$3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&n.key)
            .bind(n.tenant.as_str())
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        for f in &n.follow_ups {
            sqlx::query(
                "INSERT INTO notification_follow_ups (key, series, step) VALUES ($1,$2,$3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&n.key)
            .bind(f.series.as_str())
            .bind(f.step.to_string())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        for d in &n.deliveries {
            // A Message-ID shared by two notices is a bug in the scheme: fail, never drop. A
            // digest's member waits for its digest time.
            sqlx::query(
                "INSERT INTO deliveries (key, receiver, message_id, state, attempts, rejections, \
                 next_attempt_ms, digest_ms) VALUES ($1,$2,$3,'queued',0,0,$4,$5) \
                 ON CONFLICT (key, receiver) DO NOTHING",
            )
            .bind(&n.key)
            .bind(d.receiver.as_str())
            .bind(d.message_id.as_str())
            .bind(ms(d.digest_at.unwrap_or(now).max(now)))
            .bind(d.digest_at.map(ms))
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Queued deliveries due at `now` (working hours) whose retry backoff ended by `retry_by`,
    /// oldest first.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        retry_by: Timestamp,
    ) -> Result<Vec<QueuedDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.key, d.receiver, d.message_id, d.attempts, d.rejections, d.digest_ms, \
             n.tenant, n.kind, n.updates_from_ms, n.planned_ms, n.operator_cause, ni.tracking_id \
             FROM deliveries d JOIN notifications n ON n.key = d.key \
             LEFT JOIN notification_incidents ni ON ni.key = n.key \
             WHERE d.state = 'queued' AND (n.not_before_ms <= $1 OR d.digest_ms IS NOT NULL) \
             AND d.next_attempt_ms <= $2 AND NOT EXISTS (SELECT 1 FROM deliveries e \
               JOIN notifications en ON en.key = e.key \
               WHERE e.receiver = d.receiver AND d.receiver LIKE 'webhook:%' \
               AND e.state = 'queued' AND e.next_attempt_ms > $2 \
               AND (en.planned_ms, e.message_id) < (n.planned_ms, d.message_id)) \
             ORDER BY n.planned_ms, d.message_id, ni.tracking_id",
        )
        .bind(ms(now))
        .bind(ms(retry_by))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let follow_ups = self
            .follow_ups_where(
                "JOIN deliveries d ON d.key = f.key WHERE d.state = 'queued'",
                &[],
            )
            .await?;
        let mut out: Vec<QueuedDelivery> = Vec::new();
        for r in &rows {
            let message_id = MessageId::new(self.get::<String>(r, "message_id")?);
            let tracking_id: Option<String> = self.get(r, "tracking_id")?;
            if let Some(last) = out.last_mut().filter(|d| d.message_id == message_id) {
                last.incidents.extend(tracking_id.map(TrackingId::new));
                continue;
            }
            out.push(QueuedDelivery {
                key: self.get(r, "key")?,
                receiver: self.word(r, D, "receiver")?,
                message_id,
                tenant: TenantName::new(self.get::<String>(r, "tenant")?),
                kind: self.word(r, N, "kind")?,
                incidents: tracking_id.map(TrackingId::new).into_iter().collect(),
                follow_ups: follow_ups
                    .get(&self.get::<String>(r, "key")?)
                    .cloned()
                    .unwrap_or_default(),
                updates_from: self.opt_time(r, N, "updates_from_ms")?,
                operator: self.opt_json(r, N, "operator_cause")?,
                planned: self.time(r, N, "planned_ms")?,
                digest_at: self.opt_time(r, D, "digest_ms")?,
                attempts: self.get(r, "attempts")?,
                rejections: self.get(r, "rejections")?,
            });
        }
        Ok(out)
    }

    /// The follow-ups of the notices selected by `filter` (SQL after `FROM
    /// notification_follow_ups f`, with `binds` as `$1`, `$2`, …), per notice key.
    async fn follow_ups_where(
        &self,
        filter: &str,
        binds: &[Option<&str>],
    ) -> Result<HashMap<String, Vec<ReminderKey>>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT f.key, f.series, f.step FROM notification_follow_ups f {filter}"
        );
        // `filter` is one of this module's constants, never input.
        let rows = binds
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, b| q.bind(*b))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let mut out: HashMap<String, Vec<ReminderKey>> = HashMap::new();
        for r in &rows {
            let key = ReminderKey {
                series: self.word::<Series>(r, F, "series")?,
                step: self.word::<Step>(r, F, "step")?,
            };
            out.entry(self.get(r, "key")?).or_default().push(key);
        }
        for keys in out.values_mut() {
            keys.sort();
        }
        Ok(out)
    }

    /// The follow-ups already planned (queued, sent or superseded) per incident of `tenant`
    /// (of every tenant when `None`), and when its last follow-up goes out: one query.
    pub async fn sent_steps(
        &self,
        tenant: Option<&str>,
    ) -> Result<HashMap<(String, TrackingId), FollowUpHistory>, StoreError> {
        let rows = sqlx::query(
            "SELECT ni.tenant, ni.tracking_id, f.series, f.step, n.not_before_ms FROM \
             notification_follow_ups f JOIN notifications n ON n.key = f.key JOIN \
             notification_incidents ni ON ni.key = f.key WHERE ($1 IS NULL OR n.tenant = $1)",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut out: HashMap<(String, TrackingId), FollowUpHistory> = HashMap::new();
        for r in &rows {
            let id = (
                self.get::<String>(r, "tenant")?,
                TrackingId::new(self.get::<String>(r, "tracking_id")?),
            );
            let key = ReminderKey {
                series: self.word::<Series>(r, F, "series")?,
                step: self.word::<Step>(r, F, "step")?,
            };
            let out_at = self.time(r, N, "not_before_ms")?;
            let h = out.entry(id).or_default();
            h.steps.insert(key);
            h.last_out = h.last_out.max(Some(out_at));
        }
        Ok(out)
    }

    /// The first mail actually sent about an incident to `receiver` (digests aside): the root
    /// its later mails reply to.
    pub async fn thread_root(
        &self,
        tenant: &str,
        tracking_id: &str,
        receiver: &Receiver,
    ) -> Result<Option<MessageId>, StoreError> {
        let row = sqlx::query(
            "SELECT d.message_id FROM deliveries d JOIN notifications n ON n.key = d.key \
             JOIN notification_incidents ni ON ni.key = d.key WHERE ni.tenant = $1 AND \
             ni.tracking_id = $2 AND d.receiver = $3 AND d.state = 'sent' AND n.kind <> 'digest' \
             AND d.digest_ms IS NULL \
             ORDER BY d.sent_ms, d.message_id LIMIT 1",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(receiver.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| Ok(MessageId::new(self.get::<String>(&r, "message_id")?)))
            .transpose()
    }

    /// Deliveries queued and due at `now`, and when the oldest of them was planned.
    pub async fn queue_stats(
        &self,
        now: Timestamp,
    ) -> Result<(i64, Option<Timestamp>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(n.planned_ms) AS oldest FROM deliveries d JOIN \
             notifications n ON n.key = d.key WHERE d.state = 'queued' AND n.not_before_ms <= $1",
        )
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok((self.get(&row, "n")?, self.opt_time(&row, N, "oldest")?))
    }

    /// The latest mail about each incident, keyed by (tenant, tracking id): one query.
    pub async fn last_mails(&self) -> Result<HashMap<(String, TrackingId), LastMail>, StoreError> {
        let mut out = HashMap::new();
        for (key, mails) in self.mails_by_incident(None).await? {
            if let Some(m) = mails.into_iter().last() {
                out.insert(key, last_mail(m));
            }
        }
        Ok(out)
    }

    /// Every delivery about one incident, oldest first.
    pub async fn mails_about(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<Vec<MailRecord>, StoreError> {
        let key = (tenant.to_owned(), TrackingId::from(tracking_id));
        Ok(self
            .mails_by_incident(Some((tenant, tracking_id)))
            .await?
            .remove(&key)
            .unwrap_or_default())
    }

    /// Every delivery per incident (of one incident when `only` says which), oldest first.
    pub async fn mails_by_incident(
        &self,
        only: Option<(&str, &str)>,
    ) -> Result<HashMap<(String, TrackingId), Vec<MailRecord>>, StoreError> {
        let rows = sqlx::query(
            "SELECT ni.tenant, ni.tracking_id, n.kind, n.planned_ms, \
             d.key, d.receiver, d.message_id, d.state, d.subject, d.sent_ms, d.last_error \
             FROM notification_incidents ni JOIN notifications n ON n.key = ni.key \
             JOIN deliveries d ON d.key = ni.key \
             WHERE ($1 IS NULL OR ni.tenant = $1) AND ($2 IS NULL OR ni.tracking_id = $2) \
             ORDER BY n.planned_ms, d.message_id",
        )
        .bind(only.map(|o| o.0))
        .bind(only.map(|o| o.1))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let recipients = sqlx::query(
            "SELECT DISTINCT r.* FROM delivery_recipients r JOIN notification_incidents ni \
             ON ni.key = r.key WHERE ($1 IS NULL OR ni.tenant = $1) AND \
             ($2 IS NULL OR ni.tracking_id = $2) ORDER BY r.address",
        )
        .bind(only.map(|o| o.0))
        .bind(only.map(|o| o.1))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let by_delivery = self.recipients_by_delivery(&recipients)?;
        let follow_ups = self
            .follow_ups_where(
                "JOIN notification_incidents ni ON ni.key = f.key WHERE ($1 IS NULL OR \
                 ni.tenant = $1) AND ($2 IS NULL OR ni.tracking_id = $2)",
                &[only.map(|o| o.0), only.map(|o| o.1)],
            )
            .await?;
        let mut out: HashMap<(String, TrackingId), Vec<MailRecord>> = HashMap::new();
        for r in &rows {
            let key = (
                self.get::<String>(r, "tenant")?,
                TrackingId::new(self.get::<String>(r, "tracking_id")?),
            );
            let receiver: Receiver = self.word(r, D, "receiver")?;
            let notice: String = self.get(r, "key")?;
            let delivery = (notice.clone(), receiver.as_str().to_owned());
            out.entry(key).or_default().push(MailRecord {
                kind: self.word(r, N, "kind")?,
                follow_ups: follow_ups
                    .get(&notice)
                    .map(|ks| ks.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                receiver: receiver.as_str(),
                message_id: MessageId::new(self.get::<String>(r, "message_id")?),
                state: self.word(r, D, "state")?,
                subject: self.get(r, "subject")?,
                queued: self.time(r, N, "planned_ms")?,
                sent: self.opt_time(r, D, "sent_ms")?,
                error: self.get(r, "last_error")?,
                recipients: by_delivery.get(&delivery).cloned().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Every delivery, oldest first: (Message-ID, kind, state, subject once sent).
    pub async fn mail_log(&self) -> Result<Vec<MailLogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.message_id, n.kind, d.state, d.subject FROM deliveries d JOIN notifications n \
             ON n.key = d.key ORDER BY n.planned_ms, d.message_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    MessageId::new(self.get::<String>(r, "message_id")?),
                    self.word(r, N, "kind")?,
                    self.word(r, D, "state")?,
                    self.get(r, "subject")?,
                ))
            })
            .collect()
    }
}

/// The last mail of an incident, from its record.
pub fn last_mail(m: MailRecord) -> LastMail {
    let failed_recipients = m
        .recipients
        .iter()
        .filter(|r| r.state == crate::incident::notice::RecipientState::Failed)
        .map(|r| r.address.clone())
        .collect();
    LastMail {
        kind: m.kind,
        state: m.state,
        at: m.sent.unwrap_or(m.queued),
        error: m.error,
        failed_recipients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    /// An attempt that left the delivery in `state`, to be retried at `next`.
    fn settled(state: DeliveryState, next: Timestamp) -> crate::incident::notice::Settlement {
        crate::incident::notice::Settlement {
            recipients: Vec::new(),
            state,
            next_attempt: next,
            error: None,
        }
    }

    fn notice(key: &str, kind: NoticeKind, ids: &[&str]) -> Notice {
        Notice {
            key: key.into(),
            tenant: "t".into(),
            kind,
            incidents: ids.iter().map(|i| TrackingId::from(*i)).collect(),
            follow_ups: Vec::new(),
            updates_from: None,
            operator: None,
            not_before: ts("2026-11-01T09:00:00Z"),
            deliveries: vec![crate::incident::notice::PlannedDelivery::immediate(
                Receiver::TenantRecipients,
                MessageId::new(format!("<{key}@x>")),
            )],
        }
    }

    #[tokio::test]
    async fn a_notice_planned_twice_is_one_row_and_deliveries_move_through_their_states() {
        let (_dir, store) = store().await;
        let now = ts("2026-11-01T08:00:00Z");
        let mut reminder = notice("r1", NoticeKind::Reminder, &["A"]);
        reminder.follow_ups = vec![
            ReminderKey {
                series: Series::PirReview,
                step: Step::Review {
                    stage: crate::incident::ack::PirStage::Final,
                    n: 2,
                },
            },
            ReminderKey {
                series: Series::Claim,
                step: Step::DaysBefore(7),
            },
        ];
        let digest = notice("d1", NoticeKind::Digest, &["A", "B"]);
        store
            .queue(&[reminder.clone(), digest.clone()], now)
            .await
            .expect("queue");
        store.queue(&[reminder.clone()], now).await.expect("again");
        // Not before working hours.
        assert!(
            store
                .due_deliveries(now, now)
                .await
                .expect("due")
                .is_empty()
        );
        let at9 = ts("2026-11-01T09:00:00Z");
        let due = store.due_deliveries(at9, at9).await.expect("due");
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].kind, NoticeKind::Digest);
        assert_eq!(
            due[0].incidents,
            [TrackingId::from("A"), TrackingId::from("B")]
        );
        let mut want = reminder.follow_ups.clone();
        want.sort();
        assert_eq!(due[1].follow_ups, want);
        let steps = store.sent_steps(Some("t")).await.expect("steps");
        let a = &steps[&("t".to_owned(), TrackingId::from("A"))];
        assert_eq!((a.steps.len(), a.last_out), (2, Some(at9)));

        store
            .settle_attempt(
                &due[0],
                &settled(DeliveryState::Sent, at9),
                "digest subject",
                at9,
            )
            .await
            .expect("sent");
        let later = ts("2026-11-01T10:00:00Z");
        store
            .settle_attempt(&due[1], &settled(DeliveryState::Queued, later), "r", at9)
            .await
            .expect("failed");
        assert!(
            store
                .due_deliveries(at9, at9)
                .await
                .expect("backoff")
                .is_empty()
        );
        let again = store.due_deliveries(later, later).await.expect("retry");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        store
            .mark_superseded(&again[0], "claim filed", later)
            .await
            .expect("superseded");
        assert_eq!(store.queue_stats(later).await.expect("stats").0, 0);
        let mails = store.mails_about("t", "A").await.expect("mails");
        let states: Vec<_> = mails.iter().map(|m| m.state).collect();
        assert_eq!(states, [DeliveryState::Sent, DeliveryState::Superseded]);
        assert_eq!(mails[0].subject.as_deref(), Some("digest subject"));
        assert_eq!(store.last_mails().await.expect("last").len(), 2);
        // A digest is never a thread root.
        assert_eq!(
            store
                .thread_root("t", "A", &Receiver::TenantRecipients)
                .await
                .expect("root"),
            None
        );
    }

    #[tokio::test]
    async fn the_thread_root_is_the_first_mail_actually_sent() {
        let (_dir, store) = store().await;
        let now = ts("2026-11-01T10:00:00Z");
        store
            .queue(
                &[
                    notice("new", NoticeKind::New, &["A"]),
                    notice("upd", NoticeKind::Update, &["A"]),
                ],
                now,
            )
            .await
            .expect("queue");
        let due = store.due_deliveries(now, now).await.expect("due");
        store
            .settle_attempt(&due[0], &settled(DeliveryState::Failed, now), "s", now)
            .await
            .expect("failed");
        store
            .settle_attempt(&due[1], &settled(DeliveryState::Sent, now), "s", now)
            .await
            .expect("sent");
        let root = store
            .thread_root("t", "A", &Receiver::TenantRecipients)
            .await
            .expect("root");
        assert_eq!(root, Some(MessageId::new("<upd@x>")));
    }

    #[tokio::test]
    async fn two_notices_can_never_share_a_message_id() {
        let (_dir, store) = store().await;
        let now = ts("2026-11-01T10:00:00Z");
        let mut b = notice("b", NoticeKind::New, &["B"]);
        b.deliveries = notice("a", NoticeKind::New, &["A"]).deliveries;
        let err = store
            .queue(&[notice("a", NoticeKind::New, &["A"]), b], now)
            .await
            .expect_err("duplicate Message-ID");
        assert!(err.to_string().contains("UNIQUE"), "{err}");
    }

    #[tokio::test]
    async fn an_unknown_stored_state_is_an_error_naming_table_and_column() {
        let (_dir, store) = store().await;
        let now = ts("2026-11-01T10:00:00Z");
        store
            .queue(&[notice("a", NoticeKind::New, &["A"])], now)
            .await
            .expect("queue");
        sqlx::query("UPDATE deliveries SET state = 'lost'")
            .execute(&store.pool)
            .await
            .expect("update");
        let err = store.mail_log().await.expect_err("unknown state");
        assert!(err.to_string().contains("deliveries.state"), "{err}");
    }
}
