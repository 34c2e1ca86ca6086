//! What discovery found (`subscriptions = "all"`), kept so every command and every restart
//! sees the same tenants, and so a subscription that disappears is reported once.

use jiff::Timestamp;

use super::codec::ms;
use super::{Store, StoreError};
use crate::config::discovered::Found;

const T: &str = "discoveries";

impl Store {
    /// Every subscription found and not gone.
    pub async fn discovered(&self) -> Result<Vec<Found>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM discovered_subscriptions WHERE gone_ms IS NULL \
             ORDER BY entry, home_tenant, subscription",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(Found {
                    entry: self.get(r, "entry")?,
                    subscription: self.get(r, "subscription")?,
                    display_name: self.get(r, "display_name")?,
                    home_tenant: self.get(r, "home_tenant")?,
                    home_name: self.get(r, "home_name")?,
                })
            })
            .collect()
    }

    /// When `entry`'s discovery last succeeded.
    pub async fn last_discovery(&self, entry: &str) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT last_ms FROM discoveries WHERE entry = $1")
            .bind(entry)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        row.map(|r| self.time(&r, T, "last_ms")).transpose()
    }

    /// Records what `entry`'s discovery found at `now`. Returns the subscriptions found before
    /// and not now (each returned once: they are marked gone), and those found for the first
    /// time.
    pub async fn record_discovery(
        &self,
        entry: &str,
        found: &[Found],
        now: Timestamp,
    ) -> Result<(Vec<Found>, Vec<Found>), StoreError> {
        let before = self.discovered().await?;
        let before: Vec<&Found> = before.iter().filter(|f| f.entry == entry).collect();
        let gone: Vec<Found> = before
            .iter()
            .filter(|b| !found.iter().any(|f| f.subscription == b.subscription))
            .map(|b| (*b).clone())
            .collect();
        let new: Vec<Found> = found
            .iter()
            .filter(|f| !before.iter().any(|b| b.subscription == f.subscription))
            .cloned()
            .collect();
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for f in found {
            sqlx::query(
                "INSERT INTO discovered_subscriptions (entry, subscription, display_name, \
                 home_tenant, home_name, first_seen_ms, last_seen_ms) VALUES ($1,$2,$3,$4,$5,$6,$6) \
                 ON CONFLICT (entry, subscription) DO UPDATE SET display_name = excluded.display_name, \
                 home_tenant = excluded.home_tenant, home_name = excluded.home_name, \
                 last_seen_ms = excluded.last_seen_ms, gone_ms = NULL",
            )
            .bind(entry)
            .bind(&f.subscription)
            .bind(&f.display_name)
            .bind(&f.home_tenant)
            .bind(&f.home_name)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        for g in &gone {
            sqlx::query(
                "UPDATE discovered_subscriptions SET gone_ms = $1 WHERE entry = $2 AND subscription = $3",
            )
            .bind(ms(now))
            .bind(entry)
            .bind(&g.subscription)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        sqlx::query(
            "INSERT INTO discoveries (entry, last_ms) VALUES ($1,$2) \
             ON CONFLICT (entry) DO UPDATE SET last_ms = excluded.last_ms",
        )
        .bind(entry)
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok((gone, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sub: &str) -> Found {
        Found {
            entry: "csp".into(),
            subscription: sub.into(),
            display_name: sub.into(),
            home_tenant: "t".into(),
            home_name: None,
        }
    }

    #[tokio::test]
    async fn a_subscription_that_disappears_is_reported_once_and_may_come_back() {
        let (_dir, store) = crate::store::testing::store().await;
        let t = |s: &str| -> Timestamp { s.parse().expect("ts") };
        let (gone, new) = store
            .record_discovery("csp", &[f("a"), f("b")], t("2026-12-02T10:00:00Z"))
            .await
            .expect("record");
        assert!(gone.is_empty() && new.len() == 2);
        let (gone, new) = store
            .record_discovery("csp", &[f("a")], t("2026-12-02T11:00:00Z"))
            .await
            .expect("record");
        assert_eq!(gone, [f("b")]);
        assert!(new.is_empty());
        let (gone, _) = store
            .record_discovery("csp", &[f("a")], t("2026-12-02T12:00:00Z"))
            .await
            .expect("record");
        assert!(gone.is_empty(), "reported once");
        assert_eq!(store.discovered().await.expect("found"), [f("a")]);
        let (_, new) = store
            .record_discovery("csp", &[f("a"), f("b")], t("2026-12-02T13:00:00Z"))
            .await
            .expect("record");
        assert_eq!(new, [f("b")], "back again");
        assert_eq!(
            store.last_discovery("csp").await.expect("last"),
            Some(t("2026-12-02T13:00:00Z"))
        );
    }
}
