//! Polled scopes: which subscriptions (or the tenant-level endpoint) have been polled
//! successfully, so the first poll of a scope is told apart from news; and since when one has
//! been failing, so a long failure reaches the operators.

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
    /// The failure was the tenant's credential (sign-in), not the scope.
    pub credential: bool,
}

/// A scope as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeHealth {
    pub tenant: String,
    pub scope: String,
    /// The last successful poll.
    pub last_polled: Option<Timestamp>,
    /// Failing since then (none while it succeeds).
    pub failing_since: Option<Timestamp>,
    pub error: Option<String>,
    pub credential: bool,
}

impl Store {
    /// Every scope remembered, with since when it fails.
    pub async fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError> {
        let rows = sqlx::query("SELECT * FROM scopes ORDER BY tenant, scope")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(ScopeHealth {
                    tenant: self.get(r, "tenant")?,
                    scope: self.get(r, "scope")?,
                    last_polled: self.opt_time(r, "scopes", "last_polled_ms")?,
                    failing_since: self.opt_time(r, "scopes", "failing_since_ms")?,
                    error: self.get(r, "last_error")?,
                    credential: self.get::<i64>(r, "credential_failure")? != 0,
                })
            })
            .collect()
    }

    /// The scopes of `tenant` polled successfully at least once.
    pub async fn known_scopes(&self, tenant: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT scope FROM scopes WHERE tenant = $1 AND last_polled_ms IS NOT NULL",
        )
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
                "INSERT INTO scopes (tenant, scope, first_polled_ms, last_polled_ms, last_error, \
                 failing_since_ms, credential_failure) VALUES ($1, $2, $3, $3, NULL, NULL, 0) \
                 ON CONFLICT (tenant, scope) DO UPDATE SET \
                 first_polled_ms = COALESCE(scopes.first_polled_ms, excluded.first_polled_ms), \
                 last_polled_ms = excluded.last_polled_ms, last_error = NULL, \
                 failing_since_ms = NULL, credential_failure = 0",
            )
            .bind(tenant)
            .bind(&s.scope)
            .bind(ms(now))
        } else {
            sqlx::query(
                "INSERT INTO scopes (tenant, scope, last_error, failing_since_ms, \
                 credential_failure) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, scope) \
                 DO UPDATE SET last_error = excluded.last_error, failing_since_ms = \
                 COALESCE(scopes.failing_since_ms, excluded.failing_since_ms), \
                 credential_failure = excluded.credential_failure",
            )
            .bind(tenant)
            .bind(&s.scope)
            .bind(&s.error)
            .bind(ms(now))
            .bind(i64::from(s.credential))
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
            credential: false,
        };
        let failed = ScopeOutcome {
            scope: "sub-b".into(),
            error: Some("403".into()),
            credential: false,
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
            credential: false,
        };
        let later = now + jiff::SignedDuration::from_hours(1);
        store
            .commit_poll("t", &[], std::slice::from_ref(&again), &[], now)
            .await
            .expect("commit");
        store
            .commit_poll("t", &[], &[again], &[], later)
            .await
            .expect("commit");
        assert_eq!(store.known_scopes("t").await.expect("known").len(), 1);
        // Failing since the first failure, however often it fails again.
        let health = store.scope_health().await.expect("health");
        let a = health.iter().find(|h| h.scope == "sub-a").expect("sub-a");
        assert_eq!((a.last_polled, a.failing_since), (Some(now), Some(now)));
        let b = health.iter().find(|h| h.scope == "sub-b").expect("sub-b");
        assert_eq!((b.last_polled, b.failing_since), (None, Some(now)));
        assert!(
            store
                .known_scopes("u")
                .await
                .expect("other tenant")
                .is_empty()
        );
    }
}
