//! The discovery step of a cycle: for each `subscriptions = "all"` entry whose
//! `discovery_interval` has passed, list the subscriptions its identity can read and store
//! them. A subscription found for the first time is polled from this cycle on (under the
//! first-poll rules: its scope is new); one that disappeared is reported once and no longer
//! polled, its incidents kept. A failed discovery keeps the last one found.

use jiff::{SignedDuration, Timestamp};

use super::{CycleError, Daemon};
use crate::config::schema::Subscriptions;

impl Daemon {
    /// Runs the discoveries due at `now`.
    pub(super) async fn discover(&self, now: Timestamp) -> Result<(), CycleError> {
        let entries = self
            .config
            .tenants
            .iter()
            .filter(|t| t.config.subscriptions == Subscriptions::All);
        for entry in entries {
            let interval = SignedDuration::try_from(entry.config.discovery_interval)
                .unwrap_or(SignedDuration::from_hours(1));
            let last = self.store.last_discovery(entry.name.as_str()).await?;
            if last.is_some_and(|l| l.checked_add(interval).is_ok_and(|due| due > now)) {
                continue;
            }
            let found = match self.source.discover(entry).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(tenant = %entry.name, error = %e, hint = e.hint(),
                        "subscriptions not discovered; polling the ones found before");
                    continue;
                }
            };
            let (gone, new) = self
                .store
                .record_discovery(entry.name.as_str(), &found, now)
                .await?;
            for f in &new {
                tracing::info!(tenant = %entry.name, subscription = %f.subscription,
                    name = %f.display_name, home_tenant = %f.home_tenant,
                    "subscription found; polled from now on (first-poll rules)");
            }
            for f in &gone {
                tracing::warn!(tenant = %entry.name, subscription = %f.subscription,
                    name = %f.display_name, home_tenant = %f.home_tenant,
                    "subscription no longer found: no longer polled; its incidents are kept");
            }
        }
        Ok(())
    }
}
