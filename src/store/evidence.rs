//! Claim evidence as stored: each incident's impacted resources, their availability history,
//! and what was fetched when ([`FetchState`]), so the planner can tell what is still to fetch.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;

use super::codec::ms;
use super::{Store, StoreError};
use crate::evidence::{Availability, Evidence, FetchState, ImpactedResource, StatusChange};
use crate::incident::TrackingId;

const R: &str = "impacted_resources";
const A: &str = "resource_availability";
const F: &str = "evidence_fetches";

impl Store {
    /// What was fetched for each incident of `tenant`, by tracking id.
    pub async fn fetch_states(
        &self,
        tenant: &str,
    ) -> Result<HashMap<TrackingId, FetchState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM evidence_fetches WHERE tenant = $1")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let id = TrackingId::new(self.get::<String>(r, "tracking_id")?);
                let state = FetchState {
                    resources_for: self.opt_time(r, F, "resources_for_ms")?,
                    resources_after_resolved: self.get::<i64>(r, "resources_after_resolved")? != 0,
                    availability_at: self.opt_time(r, F, "availability_ms")?,
                };
                Ok((id, state))
            })
            .collect()
    }

    /// Records a fetch of `tracking_id`'s impacted resources for the event's `last_update`
    /// (after it was resolved, when `resolved`): the resources found (merged with those seen
    /// before), or why they could not be had.
    pub async fn record_resources(
        &self,
        tenant: &str,
        tracking_id: &str,
        fetched: (Option<Timestamp>, bool),
        outcome: Result<&[ImpactedResource], &str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (last_update, resolved) = fetched;
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let error = outcome.err();
        for r in outcome.unwrap_or_default() {
            let info = self.to_json("impacted resource info", &r.info)?;
            sqlx::query(
                "INSERT INTO impacted_resources (tenant, tracking_id, resource_id, resource_type, \
                 region, subscription, info, first_seen_ms, last_seen_ms) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8) ON CONFLICT (tenant, tracking_id, resource_id) \
                 DO UPDATE SET resource_type = COALESCE(excluded.resource_type, resource_type), \
                 region = COALESCE(excluded.region, region), info = excluded.info, \
                 last_seen_ms = excluded.last_seen_ms",
            )
            .bind(tenant)
            .bind(tracking_id)
            .bind(&r.resource_id)
            .bind(&r.resource_type)
            .bind(&r.region)
            .bind(&r.subscription)
            .bind(info)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        sqlx::query(
            "INSERT INTO evidence_fetches (tenant, tracking_id, resources_for_ms, \
             resources_after_resolved, resources_error) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (tenant, tracking_id) DO UPDATE SET \
             resources_for_ms = excluded.resources_for_ms, \
             resources_after_resolved = MAX(resources_after_resolved, excluded.resources_after_resolved), \
             resources_error = excluded.resources_error",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(last_update.map(ms))
        .bind(i64::from(resolved))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the availability histories fetched at `now` (by resource id); `errors` says how
    /// many resources could not be asked.
    pub async fn record_availability(
        &self,
        tenant: &str,
        tracking_id: &str,
        histories: &[(String, Vec<StatusChange>)],
        errors: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for (resource, history) in histories {
            for c in history {
                sqlx::query(
                    "INSERT INTO resource_availability (tenant, tracking_id, resource_id, state, \
                     since_ms, summary) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO UPDATE SET \
                     state = excluded.state, summary = excluded.summary",
                )
                .bind(tenant)
                .bind(tracking_id)
                .bind(resource)
                .bind(c.state.as_str())
                .bind(ms(c.since))
                .bind(&c.summary)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
        }
        sqlx::query(
            "INSERT INTO evidence_fetches (tenant, tracking_id, availability_ms, availability_error) \
             VALUES ($1,$2,$3,$4) ON CONFLICT (tenant, tracking_id) DO UPDATE SET \
             availability_ms = excluded.availability_ms, \
             availability_error = excluded.availability_error",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(ms(now))
        .bind(errors)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The evidence of one incident.
    pub async fn evidence(&self, tenant: &str, tracking_id: &str) -> Result<Evidence, StoreError> {
        let mut all = self
            .evidence_where(
                "WHERE tenant = $1 AND tracking_id = $2",
                &[tenant, tracking_id],
            )
            .await?;
        Ok(all
            .remove(&(tenant.to_owned(), TrackingId::from(tracking_id)))
            .unwrap_or_default())
    }

    /// Every incident's evidence, by (tenant, tracking id), in three queries.
    pub async fn all_evidence(
        &self,
    ) -> Result<HashMap<(String, TrackingId), Evidence>, StoreError> {
        self.evidence_where("", &[]).await
    }

    async fn evidence_where(
        &self,
        filter: &str,
        binds: &[&str],
    ) -> Result<HashMap<(String, TrackingId), Evidence>, StoreError> {
        let fetch = |table: &str, order: &str| {
            // The filter and the table are this module's own text, never input.
            let sql = format!("SELECT * FROM {table} {filter} {order}");
            async move {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(&self.pool).await.map_err(|e| self.err(e))
            }
        };
        let resources = fetch(R, "ORDER BY tenant, tracking_id, resource_id").await?;
        let history = fetch(A, "ORDER BY tenant, tracking_id, resource_id, since_ms").await?;
        let fetches = fetch(F, "").await?;
        let mut out: HashMap<(String, TrackingId), Evidence> = HashMap::new();
        let key = |r: &SqliteRow| -> Result<(String, TrackingId), StoreError> {
            Ok((
                self.get::<String>(r, "tenant")?,
                TrackingId::new(self.get::<String>(r, "tracking_id")?),
            ))
        };
        for r in &resources {
            let e = out.entry(key(r)?).or_default();
            e.resources.push(self.resource_from_row(r)?);
        }
        for r in &history {
            let id: String = self.get(r, "resource_id")?;
            let state: String = self.get(r, "state")?;
            let state = Availability::ALL
                .into_iter()
                .find(|a| a.as_str() == state)
                .ok_or_else(|| self.corrupt(A, "state", format!("unknown value {state:?}")))?;
            let e = out.entry(key(r)?).or_default();
            e.availability.entry(id).or_default().push(StatusChange {
                state,
                since: self.time(r, A, "since_ms")?,
                summary: self.get(r, "summary")?,
            });
        }
        for f in &fetches {
            let e = out.entry(key(f)?).or_default();
            e.availability_at = self.opt_time(f, F, "availability_ms")?;
            e.resources_error = self.get(f, "resources_error")?;
        }
        Ok(out)
    }

    /// How many impacted resources each incident has, by (tenant, tracking id).
    pub async fn resource_counts(&self) -> Result<HashMap<(String, TrackingId), i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, tracking_id, COUNT(*) AS n FROM impacted_resources \
             GROUP BY tenant, tracking_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    (
                        self.get::<String>(r, "tenant")?,
                        TrackingId::new(self.get::<String>(r, "tracking_id")?),
                    ),
                    self.get(r, "n")?,
                ))
            })
            .collect()
    }

    fn resource_from_row(&self, r: &SqliteRow) -> Result<ImpactedResource, StoreError> {
        Ok(ImpactedResource {
            resource_id: self.get(r, "resource_id")?,
            resource_type: self.get(r, "resource_type")?,
            region: self.get(r, "region")?,
            subscription: self.get(r, "subscription")?,
            info: self.json(r, R, "info")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn resource(id: &str, region: Option<&str>) -> ImpactedResource {
        ImpactedResource {
            resource_id: id.into(),
            resource_type: Some("Microsoft.Compute/VirtualMachines".into()),
            region: region.map(Into::into),
            subscription: Some("sub-a".into()),
            info: vec![("k".into(), "v".into())],
        }
    }

    #[tokio::test]
    async fn resources_merge_across_fetches_and_the_fetch_state_is_kept() {
        let (_dir, store) = crate::store::testing::store().await;
        let t1 = ts("2026-10-08T11:00:00Z");
        let first = [resource("/subscriptions/s/vm1", Some("westeurope"))];
        store
            .record_resources("t", "X", (Some(t1), false), Ok(&first), t1)
            .await
            .expect("record");
        let second = [
            resource("/subscriptions/s/vm1", None),
            resource("/subscriptions/s/vm2", Some("westeurope")),
        ];
        store
            .record_resources("t", "X", (Some(t1), true), Ok(&second), t1)
            .await
            .expect("record");
        let e = store.evidence("t", "X").await.expect("evidence");
        assert_eq!(e.resources.len(), 2);
        assert_eq!(e.resources[0].region.as_deref(), Some("westeurope"), "kept");
        assert_eq!(e.resources[0].info, [("k".to_owned(), "v".to_owned())]);
        let s = &store.fetch_states("t").await.expect("states")[&TrackingId::from("X")];
        assert!(s.resources_after_resolved && s.resources_for == Some(t1));
        // A refusal is recorded, the resources seen before kept.
        store
            .record_resources("t", "X", (Some(t1), true), Err("HTTP 403"), t1)
            .await
            .expect("record");
        let e = store.evidence("t", "X").await.expect("evidence");
        assert_eq!(e.resources.len(), 2);
        assert_eq!(e.resources_error.as_deref(), Some("HTTP 403"));
        let history = vec![StatusChange {
            state: Availability::Unavailable,
            since: t1,
            summary: Some("down".into()),
        }];
        store
            .record_availability(
                "t",
                "X",
                &[("/subscriptions/s/vm1".into(), history)],
                None,
                t1,
            )
            .await
            .expect("record");
        let e = store.evidence("t", "X").await.expect("evidence");
        assert_eq!(e.availability["/subscriptions/s/vm1"].len(), 1);
        assert_eq!(e.availability_at, Some(t1));
        assert_eq!(
            store.resource_counts().await.expect("counts")
                [&("t".to_owned(), TrackingId::from("X"))],
            2
        );
    }
}
