//! Acknowledgements, one row per incident and kind (`reviewed_preliminary`, `reviewed_final`,
//! `claim`). Recording the same one again changes nothing; a queued reminder it makes untrue is
//! superseded when delivery comes to it.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;

use super::codec::ms;
use super::{Store, StoreError};
use jiff::Timestamp;

use crate::incident::ack::{Ack, AckKind, AckRequest, AckSource, PirStage};
use crate::incident::{Incident, TrackingId};

const T: &str = "acks";

/// The stored columns of an acknowledgement: (kind, outcome, reference, reason); a claim's
/// outcome keeps its credit in the `credit` column.
fn columns(kind: &AckKind) -> (&'static str, &'static str, Option<&str>, Option<&str>) {
    match kind {
        AckKind::Reviewed {
            stage: PirStage::Preliminary,
        } => ("reviewed_preliminary", "reviewed", None, None),
        AckKind::Reviewed {
            stage: PirStage::Final,
        } => ("reviewed_final", "reviewed", None, None),
        AckKind::Claimed { reference } => ("claim", "claimed", reference.as_deref(), None),
        AckKind::NoClaim { reason } => ("claim", "declined", None, reason.as_deref()),
        AckKind::ClaimOutcome { approved, .. } => (
            "claim_outcome",
            if *approved { "approved" } else { "denied" },
            None,
            None,
        ),
    }
}

impl Store {
    /// Records what a person acknowledged about incident `i` — the one call behind `pirwatch
    /// ack` and the web form. A filed claim also records the review of every PIR stage published
    /// so far. Returns the acknowledgement and whether it changed anything (saying it twice
    /// does not).
    pub async fn acknowledge(
        &self,
        i: &Incident,
        what: AckRequest,
        by: &str,
        source: AckSource,
        at: Timestamp,
    ) -> Result<(Ack, bool), StoreError> {
        let ack = Ack {
            kind: what.kind(i.pir),
            by: by.to_owned(),
            at,
            source,
        };
        let new = self.record_ack(&i.tenant, &i.tracking_id, &ack).await?;
        if let Some(reviewed) = ack.review_implied(i.pir) {
            self.record_ack(&i.tenant, &i.tracking_id, &reviewed)
                .await?;
        }
        Ok((ack, new))
    }

    /// Records an acknowledgement. Returns false when the same one was already recorded.
    pub async fn record_ack(
        &self,
        tenant: &str,
        tracking_id: &str,
        ack: &Ack,
    ) -> Result<bool, StoreError> {
        let (kind, outcome, reference, reason) = columns(&ack.kind);
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let existing =
            sqlx::query("SELECT * FROM acks WHERE tenant = $1 AND tracking_id = $2 AND kind = $3")
                .bind(tenant)
                .bind(tracking_id)
                .bind(kind)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        if let Some(row) = existing
            && self.ack_from_row(&row)?.kind == ack.kind
        {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO acks (tenant, tracking_id, kind, outcome, by_whom, at_ms, reference, reason, \
             source, receiver, credit) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
             ON CONFLICT (tenant, tracking_id, kind) DO UPDATE SET \
             outcome = excluded.outcome, by_whom = excluded.by_whom, at_ms = excluded.at_ms, \
             reference = excluded.reference, reason = excluded.reason, source = excluded.source, \
             receiver = excluded.receiver, credit = excluded.credit",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(kind)
        .bind(outcome)
        .bind(&ack.by)
        .bind(ms(ack.at))
        .bind(reference)
        .bind(reason)
        .bind(ack.source.as_str())
        .bind(match &ack.source {
            AckSource::Web { receiver } => Some(receiver.as_str()),
            AckSource::Cli => None,
        })
        .bind(match &ack.kind {
            AckKind::ClaimOutcome { credit, .. } => credit.as_deref(),
            _ => None,
        })
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// The acknowledgements of one incident, oldest first.
    pub async fn acks(&self, tenant: &str, tracking_id: &str) -> Result<Vec<Ack>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM acks WHERE tenant = $1 AND tracking_id = $2 ORDER BY at_ms, kind",
        )
        .bind(tenant)
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.ack_from_row(r)).collect()
    }

    /// The acknowledgements of every incident of `tenant` (all tenants when `None`), in one
    /// query, oldest first.
    pub async fn acks_by_incident(
        &self,
        tenant: Option<&str>,
    ) -> Result<HashMap<(String, TrackingId), Vec<Ack>>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM acks WHERE $1 IS NULL OR tenant = $1 ORDER BY at_ms, kind")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        let mut out: HashMap<(String, TrackingId), Vec<Ack>> = HashMap::new();
        for r in &rows {
            let key = (
                self.get::<String>(r, "tenant")?,
                TrackingId::new(self.get::<String>(r, "tracking_id")?),
            );
            out.entry(key).or_default().push(self.ack_from_row(r)?);
        }
        Ok(out)
    }

    fn ack_source(&self, r: &SqliteRow) -> Result<AckSource, StoreError> {
        let source: String = self.get(r, "source")?;
        let receiver: Option<String> = self.get(r, "receiver")?;
        match (source.as_str(), receiver) {
            ("cli", None) => Ok(AckSource::Cli),
            ("web", Some(receiver)) => Ok(AckSource::Web { receiver }),
            (s, _) => Err(self.corrupt(T, "source", format!("unknown source {s:?} (or receiver)"))),
        }
    }

    fn ack_from_row(&self, r: &SqliteRow) -> Result<Ack, StoreError> {
        let kind: String = self.get(r, "kind")?;
        let outcome: String = self.get(r, "outcome")?;
        let kind = match (kind.as_str(), outcome.as_str()) {
            ("reviewed_preliminary", "reviewed") => AckKind::Reviewed {
                stage: PirStage::Preliminary,
            },
            ("reviewed_final", "reviewed") => AckKind::Reviewed {
                stage: PirStage::Final,
            },
            ("claim", "claimed") => AckKind::Claimed {
                reference: self.get(r, "reference")?,
            },
            ("claim", "declined") => AckKind::NoClaim {
                reason: self.get(r, "reason")?,
            },
            ("claim_outcome", o @ ("approved" | "denied")) => AckKind::ClaimOutcome {
                approved: o == "approved",
                credit: self.get(r, "credit")?,
            },
            (k, o) => {
                return Err(self.corrupt(
                    T,
                    "kind",
                    format!("unknown value {k:?} (outcome {o:?})"),
                ));
            }
        };
        Ok(Ack {
            kind,
            by: self.get(r, "by_whom")?,
            at: self.time(r, T, "at_ms")?,
            source: self.ack_source(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    fn ack(kind: AckKind, at: &str) -> Ack {
        Ack {
            kind,
            by: "ana".into(),
            at: at.parse().expect("ts"),
            source: AckSource::Cli,
        }
    }

    #[tokio::test]
    async fn acknowledgements_are_idempotent_and_kept_per_pir_stage() {
        let (_dir, store) = store().await;
        let prelim = ack(
            AckKind::Reviewed {
                stage: PirStage::Preliminary,
            },
            "2026-10-10T10:00:00Z",
        );
        assert!(store.record_ack("t", "X", &prelim).await.expect("record"));
        assert!(!store.record_ack("t", "X", &prelim).await.expect("again"));
        let fin = ack(
            AckKind::Reviewed {
                stage: PirStage::Final,
            },
            "2026-10-20T10:00:00Z",
        );
        assert!(store.record_ack("t", "X", &fin).await.expect("final"));
        let claimed = ack(
            AckKind::Claimed {
                reference: Some("SR 1".into()),
            },
            "2026-10-21T10:00:00Z",
        );
        assert!(store.record_ack("t", "X", &claimed).await.expect("claim"));
        let declined = ack(AckKind::NoClaim { reason: None }, "2026-10-22T10:00:00Z");
        assert!(
            store
                .record_ack("t", "X", &declined)
                .await
                .expect("changed")
        );
        let got = store.acks("t", "X").await.expect("acks");
        assert_eq!(got, vec![prelim, fin, declined]);
        let all = store
            .acks_by_incident(Some("t"))
            .await
            .expect("by incident");
        assert_eq!(all[&("t".to_owned(), TrackingId::from("X"))].len(), 3);
        assert!(
            store
                .acks_by_incident(Some("u"))
                .await
                .expect("none")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_unknown_stored_kind_is_an_error() {
        let (_dir, store) = store().await;
        sqlx::query(
            "INSERT INTO acks (tenant, tracking_id, kind, outcome, by_whom, at_ms) \
             VALUES ('t', 'X', 'reviewed', 'reviewed', 'ana', 0)",
        )
        .execute(&store.pool)
        .await
        .expect("insert");
        let err = store.acks("t", "X").await.expect_err("unknown");
        assert!(err.to_string().contains("acks.kind"), "{err}");
    }
}
