//! The claim-evidence step of a tenant's poll, after its changes are committed: for the
//! incidents [`crate::evidence::plan`] says need it, fetch the impacted resources (and, soon
//! after mitigation, their availability history) and store them. Bounded: a few incidents per
//! cycle, `poll.availability_resources` resources per incident, and the tenant's time budget.
//! A failure is logged and never fails the poll; a refusal (403) is recorded so it is not
//! asked again until the event changes.

use jiff::{SignedDuration, Timestamp};

use super::{CycleError, Daemon};
use crate::config::Tenant;
use crate::evidence::{self, StatusChange};
use crate::incident::{EventType, Incident};
use crate::source::azure::PollError;
use crate::source::event::Scope;

/// At most this many incidents get evidence fetched per tenant and cycle; the rest wait.
const INCIDENTS_PER_CYCLE: usize = 10;
/// Incidents this old get no more evidence (Resource Health keeps 30 days of availability).
const EVIDENCE_DAYS: i64 = 90;

impl Daemon {
    /// Fetches and stores what `tenant`'s recent incidents (as this poll left them) still
    /// need, within the tenant's budget.
    pub(super) async fn gather_evidence<'a>(
        &self,
        tenant: &Tenant,
        incidents: impl Iterator<Item = &'a Incident>,
        now: Timestamp,
    ) {
        let budget = self.config.poll.tenant_budget;
        let incidents: Vec<&Incident> = incidents.collect();
        match tokio::time::timeout(budget, self.fetch_evidence(tenant, &incidents, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(tenant = %tenant.name, error = %e, "claim evidence not stored");
            }
            Err(_) => tracing::warn!(tenant = %tenant.name,
                "claim evidence: the tenant's budget ran out; the rest is fetched next cycle"),
        }
    }

    async fn fetch_evidence(
        &self,
        tenant: &Tenant,
        incidents: &[&Incident],
        now: Timestamp,
    ) -> Result<(), CycleError> {
        let since = now
            .checked_sub(SignedDuration::from_hours(EVIDENCE_DAYS * 24))
            .unwrap_or(Timestamp::MIN);
        let states = self.store.fetch_states(&tenant.name).await?;
        let due = incidents
            .iter()
            .filter(|i| i.first_seen >= since)
            .filter_map(|i| {
                let state = states.get(&i.tracking_id).cloned().unwrap_or_default();
                let need = evidence::plan(i, &state, now);
                (need.resources || need.availability).then_some((*i, need))
            });
        for (i, need) in due.take(INCIDENTS_PER_CYCLE) {
            if need.resources {
                self.fetch_resources(tenant, i, now).await?;
            }
            if need.availability {
                self.fetch_availability(tenant, i, now).await?;
            }
        }
        Ok(())
    }

    /// The scopes an incident's resources are asked in: the subscriptions it concerns that the
    /// tenant watches, else the tenant scope when it is polled.
    fn evidence_scopes(tenant: &Tenant, i: &Incident) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = tenant
            .config
            .subscriptions
            .iter()
            .filter(|s| i.subscriptions.iter().any(|x| x.eq_ignore_ascii_case(s)))
            .map(|s| Scope::Subscription(s.clone()))
            .collect();
        if scopes.is_empty() && tenant.config.tenant_events {
            scopes.push(Scope::Tenant);
        }
        scopes
    }

    async fn fetch_resources(
        &self,
        tenant: &Tenant,
        i: &Incident,
        now: Timestamp,
    ) -> Result<(), CycleError> {
        let security = i.event_type == EventType::SecurityAdvisory;
        let mut found = Vec::new();
        let mut refused: Option<String> = None;
        for scope in Self::evidence_scopes(tenant, i) {
            match self
                .source
                .impacted_resources(tenant, &scope, i.tracking_id.as_str(), security)
                .await
            {
                Ok((resources, _)) => found.extend(resources),
                Err(e) if e.is_transient() || matches!(e, PollError::Transport { .. }) => {
                    // Asked again next cycle.
                    tracing::warn!(tenant = %tenant.name, %scope, tracking_id = %i.tracking_id,
                        error = %e, "impacted resources not fetched; will retry");
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(tenant = %tenant.name, %scope, tracking_id = %i.tracking_id,
                        error = %e, hint = e.hint(),
                        "impacted resources refused; the incident is kept without them \
                         (not asked again until the event changes)");
                    refused.get_or_insert(e.to_string());
                }
            }
        }
        let outcome = match (&refused, found.is_empty()) {
            (Some(why), true) => Err(why.as_str()),
            _ => Ok(found.as_slice()),
        };
        self.store
            .record_resources(
                &tenant.name,
                i.tracking_id.as_str(),
                (i.last_update, i.is_resolved()),
                outcome,
                now,
            )
            .await?;
        Ok(())
    }

    async fn fetch_availability(
        &self,
        tenant: &Tenant,
        i: &Incident,
        now: Timestamp,
    ) -> Result<(), CycleError> {
        let stored = self
            .store
            .evidence(&tenant.name, i.tracking_id.as_str())
            .await?;
        let mut histories: Vec<(String, Vec<StatusChange>)> = Vec::new();
        let mut failed = 0;
        let wanted = stored
            .resources
            .iter()
            .filter(|r| r.is_arm_id())
            .take(self.config.poll.availability_resources);
        for r in wanted {
            match self.source.availability(tenant, &r.resource_id).await {
                Ok((history, _)) => histories.push((r.resource_id.clone(), history)),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(tenant = %tenant.name, tracking_id = %i.tracking_id,
                        resource = %r.resource_id, error = %e,
                        "availability history not fetched for this resource");
                }
            }
        }
        let errors = (failed > 0).then(|| format!("{failed} resource(s) could not be asked"));
        self.store
            .record_availability(
                &tenant.name,
                i.tracking_id.as_str(),
                &histories,
                errors.as_deref(),
                now,
            )
            .await?;
        Ok(())
    }
}
