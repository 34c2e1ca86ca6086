//! Incidents and every update ever seen of them (Azure forgets updates after 90 days; the store
//! is the archive). Loads are batched: a poll cycle runs a constant number of queries per
//! tenant, whatever the number of incidents.

use std::collections::HashMap;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;

use super::codec::{CHUNK, ms, placeholders};
use super::{Store, StoreError, Tx};
use crate::incident::{Incident, IncidentWrite, TenantName, TrackingId, Update};

const T: &str = "incidents";

/// Incidents keyed by (tenant, tracking id).
pub type IncidentKey = (TenantName, TrackingId);

impl Store {
    /// The stored incidents of `tenant` among `tracking_ids`, with their updates.
    pub async fn load_incidents(
        &self,
        tenant: &str,
        tracking_ids: &[TrackingId],
    ) -> Result<HashMap<TrackingId, Incident>, StoreError> {
        let mut out = HashMap::new();
        for chunk in tracking_ids.chunks(CHUNK) {
            // Only numbered placeholders are formatted into the statements; values are bound.
            let list = placeholders(2, chunk.len());
            let sql =
                format!("SELECT * FROM incidents WHERE tenant = $1 AND tracking_id IN ({list})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            let rows = q.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
            let sql = format!(
                "SELECT * FROM updates WHERE tenant = $1 AND tracking_id IN ({list}) \
                 ORDER BY tracking_id, published_ms, summary"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            let updates = q.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
            for i in self.with_updates(&rows, &updates)? {
                out.insert(i.tracking_id.clone(), i);
            }
        }
        Ok(out)
    }

    /// One incident with its updates.
    pub async fn incident(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let id = TrackingId::from(tracking_id);
        Ok(self
            .load_incidents(tenant, std::slice::from_ref(&id))
            .await?
            .remove(&id))
    }

    /// Incidents of `tenant` first seen since `since` that may still need follow-up, with
    /// their updates (a PIR-review reminder quotes the PIR).
    pub async fn followup_candidates(
        &self,
        tenant: &str,
        since: Timestamp,
    ) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE tenant = $1 AND false_positive = 0 AND announced = 1 \
             AND first_seen_ms >= $2 ORDER BY first_seen_ms, tracking_id",
        )
        .bind(tenant)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let updates = sqlx::query(
            "SELECT u.* FROM updates u JOIN incidents i ON i.tenant = u.tenant AND \
             i.tracking_id = u.tracking_id WHERE i.tenant = $1 AND i.false_positive = 0 AND \
             i.announced = 1 AND i.first_seen_ms >= $2 \
             ORDER BY u.tracking_id, u.published_ms, u.summary",
        )
        .bind(tenant)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        self.with_updates(&rows, &updates)
    }

    /// Every incident with its updates, newest first (`export --all`): two queries.
    pub async fn all_incidents_with_updates(&self) -> Result<Vec<Incident>, StoreError> {
        let rows = self.all_incident_rows().await?;
        let updates = sqlx::query(
            "SELECT * FROM updates ORDER BY tenant, tracking_id, published_ms, summary",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        self.with_updates(&rows, &updates)
    }

    /// Every incident, without its updates, newest first.
    pub async fn all_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let rows = self.all_incident_rows().await?;
        rows.iter().map(|r| self.incident_from_row(r)).collect()
    }

    async fn all_incident_rows(&self) -> Result<Vec<SqliteRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM incidents ORDER BY COALESCE(impact_start_ms, first_seen_ms) DESC, \
             tenant, tracking_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// Incidents with this tracking id (in any letter case: people type them), in any tenant,
    /// without updates.
    pub async fn find(&self, tracking_id: &str) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE tracking_id = $1 COLLATE NOCASE ORDER BY tenant",
        )
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.incident_from_row(r)).collect()
    }

    /// How many updates are stored per incident.
    pub async fn update_counts(&self) -> Result<HashMap<IncidentKey, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, tracking_id, COUNT(*) AS n FROM updates GROUP BY tenant, tracking_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let key = (
                    TenantName::new(self.get::<String>(r, "tenant")?),
                    TrackingId::new(self.get::<String>(r, "tracking_id")?),
                );
                Ok((key, self.get(r, "n")?))
            })
            .collect()
    }

    /// Incidents by status (`Active`, `Resolved`, ...).
    pub async fn status_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM incidents GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| Ok((self.get(r, "status")?, self.get(r, "n")?)))
            .collect()
    }

    /// Incident rows joined with their update rows (both ordered by tracking id).
    fn with_updates(
        &self,
        rows: &[SqliteRow],
        updates: &[SqliteRow],
    ) -> Result<Vec<Incident>, StoreError> {
        let mut by_incident: HashMap<IncidentKey, Vec<Update>> = HashMap::new();
        for u in updates {
            let key = (
                TenantName::new(self.get::<String>(u, "tenant")?),
                TrackingId::new(self.get::<String>(u, "tracking_id")?),
            );
            by_incident
                .entry(key)
                .or_default()
                .push(self.update_from_row(u)?);
        }
        rows.iter()
            .map(|r| {
                let mut i = self.incident_from_row(r)?;
                let key = (i.tenant.clone(), i.tracking_id.clone());
                i.updates = by_incident.remove(&key).unwrap_or_default();
                Ok(i)
            })
            .collect()
    }

    fn update_from_row(&self, r: &SqliteRow) -> Result<Update, StoreError> {
        Ok(Update {
            published: self.time(r, "updates", "published_ms")?,
            summary: self.get(r, "summary")?,
            tags: self.json(r, "updates", "tags")?,
            service: self.get(r, "service")?,
            region: self.get(r, "region")?,
        })
    }

    fn incident_from_row(&self, r: &SqliteRow) -> Result<Incident, StoreError> {
        let flag = |c: &str| -> Result<bool, StoreError> { Ok(self.get::<i64>(r, c)? != 0) };
        Ok(Incident {
            tenant: TenantName::new(self.get::<String>(r, "tenant")?),
            tracking_id: TrackingId::new(self.get::<String>(r, "tracking_id")?),
            event_type: self.get::<String>(r, "event_type")?.into(),
            status: self.get::<String>(r, "status")?.into(),
            title: self.get(r, "title")?,
            summary: self.get(r, "summary")?,
            description: self.get(r, "description")?,
            article: self.get(r, "article")?,
            level: self.get(r, "level")?,
            impact_start: self.opt_time(r, T, "impact_start_ms")?,
            mitigated_at: self.opt_time(r, T, "mitigated_ms")?,
            last_update: self.opt_time(r, T, "last_update_ms")?,
            pir: self.word(r, T, "pir")?,
            pir_seen: self.opt_time(r, T, "pir_seen_ms")?,
            false_positive: flag("false_positive")?,
            impacts: self.json(r, T, "impacts")?,
            subscriptions: self.json(r, T, "subscriptions")?,
            updates: Vec::new(),
            first_seen: self.time(r, T, "first_seen_ms")?,
            sensitive: flag("sensitive")?,
            details_unavailable: flag("details_unavailable")?,
            announced: flag("announced")?,
        })
    }

    /// Writes an incident's state and its new updates.
    pub(super) async fn write_incident(
        &self,
        tx: &mut Tx<'_>,
        w: &IncidentWrite<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let i = w.incident;
        sqlx::query(
            "INSERT INTO incidents (tenant, tracking_id, event_type, status, title, summary, \
             description, article, level, impact_start_ms, mitigated_ms, last_update_ms, pir, \
             false_positive, impacts, subscriptions, first_seen_ms, sensitive, \
             details_unavailable, changed_ms, pir_seen_ms, announced) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22) \
             ON CONFLICT (tenant, tracking_id) DO UPDATE SET event_type = excluded.event_type, \
             status = excluded.status, title = excluded.title, summary = excluded.summary, \
             description = excluded.description, article = excluded.article, \
             level = excluded.level, impact_start_ms = excluded.impact_start_ms, \
             mitigated_ms = excluded.mitigated_ms, last_update_ms = excluded.last_update_ms, \
             pir = excluded.pir, false_positive = excluded.false_positive, \
             impacts = excluded.impacts, subscriptions = excluded.subscriptions, \
             sensitive = excluded.sensitive, details_unavailable = excluded.details_unavailable, \
             changed_ms = excluded.changed_ms, pir_seen_ms = excluded.pir_seen_ms, \
             announced = excluded.announced",
        )
        .bind(i.tenant.as_str())
        .bind(i.tracking_id.as_str())
        .bind(i.event_type.as_str())
        .bind(i.status.as_str())
        .bind(&i.title)
        .bind(&i.summary)
        .bind(&i.description)
        .bind(&i.article)
        .bind(&i.level)
        .bind(i.impact_start.map(ms))
        .bind(i.mitigated_at.map(ms))
        .bind(i.last_update.map(ms))
        .bind(i.pir.as_str())
        .bind(i64::from(i.false_positive))
        .bind(self.to_json("impacts", &i.impacts)?)
        .bind(self.to_json("subscriptions", &i.subscriptions)?)
        .bind(ms(i.first_seen))
        .bind(i64::from(i.sensitive))
        .bind(i64::from(i.details_unavailable))
        .bind(ms(now))
        .bind(i.pir_seen.map(ms))
        .bind(i64::from(i.announced))
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        for u in w.new_updates {
            self.insert_update(tx, i, u).await?;
        }
        Ok(())
    }

    async fn insert_update(
        &self,
        tx: &mut Tx<'_>,
        i: &Incident,
        u: &Update,
    ) -> Result<(), StoreError> {
        let sha: String = Sha256::digest(u.summary.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sqlx::query(
            "INSERT INTO updates (tenant, tracking_id, published_ms, summary_sha, summary, tags, \
             service, region) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
        )
        .bind(i.tenant.as_str())
        .bind(i.tracking_id.as_str())
        .bind(ms(u.published))
        .bind(sha)
        .bind(&u.summary)
        .bind(self.to_json("tags", &u.tags)?)
        .bind(&u.service)
        .bind(&u.region)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::incident::PirState;
    use crate::store::testing::store;

    pub(crate) fn incident(tenant: &str, id: &str) -> Incident {
        let mut i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        i.tenant = tenant.into();
        i.tracking_id = id.into();
        i
    }

    pub(crate) fn update(at: &str, text: &str) -> Update {
        Update {
            published: at.parse().expect("ts"),
            summary: text.into(),
            tags: ["Final PIR".to_owned()].into(),
            service: "Storage".into(),
            region: "West Europe".into(),
        }
    }

    pub(crate) async fn save(store: &Store, i: &Incident) {
        let now = i.first_seen;
        let w = IncidentWrite {
            incident: i,
            new_updates: &i.updates,
        };
        store
            .commit_poll(&i.tenant, &[w], &[], &[], now)
            .await
            .expect("commit");
    }

    #[tokio::test]
    async fn incidents_round_trip_with_their_updates_in_batches() {
        let (_dir, store) = store().await;
        let mut a = incident("contoso", "AAA-1");
        a.pir = PirState::Final;
        a.updates = vec![
            update("2026-10-08T11:00:00Z", "<p>one</p>"),
            update("2026-10-09T11:00:00Z", "<p>two</p>"),
        ];
        let b = incident("contoso", "BBB-2");
        let other = incident("fabrikam", "AAA-1");
        for i in [&a, &b, &other] {
            save(&store, i).await;
        }
        let ids: Vec<TrackingId> = ["AAA-1", "BBB-2", "NONE"].map(TrackingId::from).to_vec();
        let got = store.load_incidents("contoso", &ids).await.expect("load");
        assert_eq!(got.len(), 2);
        assert_eq!(got[&TrackingId::from("AAA-1")], a);
        assert_eq!(got[&TrackingId::from("BBB-2")], b);
        assert_eq!(store.find("AAA-1").await.expect("find").len(), 2);
        assert_eq!(store.find("aaa-1").await.expect("any case").len(), 2);
        let all = store.all_incidents_with_updates().await.expect("all");
        assert_eq!(all.iter().map(|i| i.updates.len()).sum::<usize>(), 2);
        let counts = store.update_counts().await.expect("counts");
        assert_eq!(counts[&("contoso".into(), "AAA-1".into())], 2);
    }

    #[tokio::test]
    async fn more_ids_than_one_statement_binds_are_loaded_in_chunks() {
        let (_dir, store) = store().await;
        save(&store, &incident("t", "LAST")).await;
        let mut ids: Vec<TrackingId> = (0..1200)
            .map(|n| TrackingId::new(format!("X{n}")))
            .collect();
        ids.push("LAST".into());
        let got = store.load_incidents("t", &ids).await.expect("load");
        assert!(got.contains_key("LAST"));
    }

    /// Defect 5 of issue 7: an unknown stored PIR value read as "none", so the next poll sent
    /// "PIR published" again.
    #[tokio::test]
    async fn an_unknown_stored_pir_value_is_an_error_naming_table_and_column() {
        let (_dir, store) = store().await;
        save(&store, &incident("t", "X")).await;
        sqlx::query("UPDATE incidents SET pir = 'finale'")
            .execute(&store.pool)
            .await
            .expect("update");
        let err = store.incident("t", "X").await.expect_err("corrupt");
        let msg = err.to_string();
        assert!(
            msg.contains("incidents.pir") && msg.contains("finale"),
            "{msg}"
        );
        assert!(msg.contains("state.db"), "names the database: {msg}");
    }

    #[tokio::test]
    async fn follow_up_candidates_skip_silent_and_false_positive_incidents() {
        let (_dir, store) = store().await;
        let mut silent = incident("t", "SILENT");
        silent.announced = false;
        let mut fp = incident("t", "FP");
        fp.false_positive = true;
        let mut told = incident("t", "TOLD");
        told.updates = vec![update("2026-10-08T11:00:00Z", "<p>PIR</p>")];
        for i in [&silent, &fp, &told] {
            save(&store, i).await;
        }
        let since: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        let got = store
            .followup_candidates("t", since)
            .await
            .expect("candidates");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].tracking_id, "TOLD");
        assert_eq!(got[0].updates.len(), 1, "with the PIR's text");
    }

    /// Issue 13: the follow-up candidates are found through an index, not by reading every
    /// incident the tenant ever had (the store keeps everything by default).
    #[tokio::test]
    async fn follow_up_candidates_use_the_first_seen_index() {
        let (_dir, store) = crate::store::testing::store().await;
        let rows = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT * FROM incidents WHERE tenant = $1 AND false_positive = 0 \
             AND announced = 1 AND first_seen_ms >= $2 ORDER BY first_seen_ms, tracking_id",
        )
        .bind("t")
        .bind(0_i64)
        .fetch_all(&store.pool)
        .await
        .expect("plan");
        let plan: Vec<String> = rows
            .iter()
            .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
            .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("incidents_by_first_seen") && d.contains("first_seen_ms>?")),
            "{plan:?}"
        );
    }
}
