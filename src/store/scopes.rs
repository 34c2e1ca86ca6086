//! Polled scopes: which subscriptions (or the tenant-level endpoint) have been polled
//! successfully, so the first poll of a scope is told apart from news.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::codec::ms;
use super::{Store, StoreError, Tx};

/// How one scope's poll went.
#[derive(Debug, Clone)]
pub struct ScopeOutcome {
    /// The scope's stored key (a subscription id, or `tenant`).
    pub scope: String,
    /// `None` on success.
    pub error: Option<String>,
}

impl Store {
    /// The scopes of `tenant` polled successfully at least once.
    pub async fn known_scopes(&self, tenant: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows = sqlx::query("SELECT scope FROM scopes WHERE tenant = $1")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.get(r, "scope")).collect()
    }

    pub(super) async fn record_scope(
        &self,
        tx: &mut Tx<'_>,
        tenant: &str,
        s: &ScopeOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let q = if s.error.is_none() {
            sqlx::query(
                "INSERT INTO scopes (tenant, scope, first_polled_ms, last_polled_ms, last_error) \
                 VALUES ($1, $2, $3, $3, NULL) ON CONFLICT (tenant, scope) DO UPDATE SET \
                 last_polled_ms = excluded.last_polled_ms, last_error = NULL",
            )
            .bind(tenant)
            .bind(&s.scope)
            .bind(ms(now))
        } else {
            sqlx::query("UPDATE scopes SET last_error = $3 WHERE tenant = $1 AND scope = $2")
                .bind(tenant)
                .bind(&s.scope)
                .bind(&s.error)
        };
        q.execute(&mut **tx).await.map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    #[tokio::test]
    async fn only_scopes_polled_successfully_are_known() {
        let (_dir, store) = store().await;
        let now: Timestamp = "2026-11-01T10:00:00Z".parse().expect("ts");
        let ok = ScopeOutcome {
            scope: "sub-a".into(),
            error: None,
        };
        let failed = ScopeOutcome {
            scope: "sub-b".into(),
            error: Some("403".into()),
        };
        store
            .commit_poll("t", &[], &[ok.clone(), failed], &[], now)
            .await
            .expect("commit");
        let known = store.known_scopes("t").await.expect("known");
        assert_eq!(known.into_iter().collect::<Vec<_>>(), ["sub-a"]);
        // A later failure of a known scope keeps it known.
        let again = ScopeOutcome {
            scope: "sub-a".into(),
            error: Some("500".into()),
        };
        store
            .commit_poll("t", &[], &[again], &[], now)
            .await
            .expect("commit");
        assert_eq!(store.known_scopes("t").await.expect("known").len(), 1);
        assert!(
            store
                .known_scopes("u")
                .await
                .expect("other tenant")
                .is_empty()
        );
    }
}
