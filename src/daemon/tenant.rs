//! One tenant's part of a cycle: poll its scopes, diff against the store, assess its open
//! follow-ups, plan the notices the changes and the due follow-ups cause (folding a follow-up
//! into an incident mail of the same poll), and commit it all in one transaction. A constant
//! number of store queries, whatever the incident count.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use super::outcome::{FollowUpGauges, ScopeSummary, TenantOutcome, count_queued};
use super::{CycleError, Daemon};
use crate::config::Tenant;
use crate::followup::{ClaimStatus, ReviewStatus, assess};
use crate::incident::ack::Acks;
use crate::incident::{Incident, IncidentWrite, TrackingId};
use crate::notify::plan::{Due, Planner};
use crate::source::ScopeResult;
use crate::source::event::{HealthEvent, Scope};
use crate::store::ScopeOutcome;
use crate::tracker;

/// How far back incidents are considered for follow-up (claim windows last at most ~3 months).
const FOLLOW_UP_DAYS: i64 = 200;

/// A poll's results split up: the events, the scopes polled for the first time, and each
/// scope's outcome for the store and for the report.
struct Fetched {
    events: Vec<HealthEvent>,
    first_poll: BTreeSet<Scope>,
    outcomes: Vec<ScopeOutcome>,
    summaries: Vec<ScopeSummary>,
    skipped: usize,
}

fn split(tenant: &Tenant, results: Vec<ScopeResult>, known: &BTreeSet<String>) -> Fetched {
    let mut f = Fetched {
        events: Vec::new(),
        first_poll: BTreeSet::new(),
        outcomes: Vec::new(),
        summaries: Vec::new(),
        skipped: 0,
    };
    for r in results {
        f.skipped += r.skipped;
        let key = r.scope.key().to_owned();
        let credential = matches!(
            &r.outcome,
            Err(crate::source::azure::PollError::Credential(_)
                | crate::source::azure::PollError::CredentialUnusable(_))
        );
        let (error, events) = match r.outcome {
            Ok(events) => {
                if !known.contains(&key) {
                    f.first_poll.insert(r.scope.clone());
                }
                let n = events.len();
                f.events.extend(events);
                (None, n)
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, scope = %r.scope, error = %e,
                    hint = e.hint(), "scope not polled; will retry next cycle");
                (Some(e.to_string()), 0)
            }
        };
        f.outcomes.push(ScopeOutcome {
            scope: key.clone(),
            error: error.clone(),
            credential,
        });
        f.summaries.push(ScopeSummary {
            scope: key,
            error,
            degraded: r.degraded,
            events,
            duration: r.duration,
        });
    }
    f
}

impl Daemon {
    /// Polls one tenant, commits what changed with its notices, and queues due reminders.
    pub(super) async fn poll_tenant(
        &self,
        tenant: &Tenant,
        now: Timestamp,
    ) -> Result<TenantOutcome, CycleError> {
        let results = self.source.poll(tenant, now).await;
        let known = self.store.known_scopes(&tenant.name).await?;
        let fetched = split(tenant, results, &known);
        let ids: Vec<TrackingId> = fetched
            .events
            .iter()
            .map(|e| TrackingId::new(e.tracking_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let stored = self.store.load_incidents(&tenant.name, &ids).await?;
        let mut observations = tracker::observe(
            &tenant.name,
            &fetched.events,
            &stored,
            &fetched.first_poll,
            now,
        );
        let planner = self.planner(tenant);
        let mut notices = planner.observations(&mut observations, now);
        observations.retain(|o| stored.get(&o.incident.tracking_id) != Some(&o.incident));
        let changed: Vec<&Incident> = observations.iter().map(|o| &o.incident).collect();
        let (due, follow_ups, candidates) = self.follow_ups_due(tenant, &changed, now).await?;
        let reminders_queued = planner.follow_ups(&mut notices, &due, now);
        // Who receives each notice: the tenant's recipients, the routes, or the fallback.
        let find = |id: &TrackingId| {
            observations
                .iter()
                .map(|o| &o.incident)
                .find(|i| &i.tracking_id == id)
                .or_else(|| candidates.get(id))
                .or_else(|| stored.get(id))
        };
        let material = |id: &TrackingId| {
            let now = observations.iter().find(|o| &o.incident.tracking_id == id);
            match (now, stored.get(id)) {
                (Some(o), Some(before)) => o.incident.changed_materially_from(before),
                (Some(_), None) => true,
                (None, _) => false,
            }
        };
        let routing = crate::notify::route::Routing {
            tenant: &tenant.name,
            tenant_has_recipients: !tenant.config.recipients.is_empty(),
            routes: &self.config.routes,
            has_fallback: !self.config.notify.fallback.is_empty(),
            ids: &self.ids,
        };
        crate::notify::route::assign(&mut notices, find, material, &routing, now);
        let writes: Vec<IncidentWrite<'_>> = observations
            .iter()
            .map(|o| IncidentWrite {
                incident: &o.incident,
                new_updates: &o.new_updates,
            })
            .collect();
        self.store
            .commit_poll(&tenant.name, &writes, &fetched.outcomes, &notices, now)
            .await?;
        count_queued(&self.metrics, notices.iter().map(|n| n.kind.as_str()));
        self.gather_evidence(tenant, candidates.values(), now).await;
        Ok(TenantOutcome {
            tenant: tenant.name.clone(),
            scopes: fetched.summaries,
            skipped: fetched.skipped,
            incidents_changed: observations.len(),
            notices_queued: notices.len() - reminders_queued,
            reminders_queued,
            follow_ups,
        })
    }

    fn planner<'a>(&'a self, tenant: &'a Tenant) -> Planner<'a> {
        Planner {
            tenant: &tenant.name,
            policy: &tenant.policy,
            ids: &self.ids,
        }
    }

    /// Assesses the tenant's recent incidents at `now` — as stored, or as this poll just
    /// changed them (`changed`, not yet committed) — and returns their due follow-ups and the
    /// gauges. They fall due with time, whatever Azure does, so every cycle plans them.
    async fn follow_ups_due(
        &self,
        tenant: &Tenant,
        changed: &[&Incident],
        now: Timestamp,
    ) -> Result<(Vec<Due>, FollowUpGauges, BTreeMap<TrackingId, Incident>), CycleError> {
        let since = now
            .checked_sub(SignedDuration::from_hours(FOLLOW_UP_DAYS * 24))
            .unwrap_or(Timestamp::MIN);
        let mut candidates: BTreeMap<TrackingId, Incident> = self
            .store
            .followup_candidates(&tenant.name, since)
            .await?
            .into_iter()
            .map(|i| (i.tracking_id.clone(), i))
            .collect();
        for i in changed.iter().filter(|i| i.announced && !i.false_positive) {
            candidates.insert(i.tracking_id.clone(), (*i).clone());
        }
        let mut acks = self.store.acks_by_incident(Some(&tenant.name)).await?;
        let mut sent = self.store.sent_steps(Some(&tenant.name)).await?;
        let mut gauges = FollowUpGauges::default();
        let mut due = Vec::new();
        for i in candidates.values() {
            let key = (tenant.name.to_string(), i.tracking_id.clone());
            let records = acks.remove(&key).unwrap_or_default();
            let history = sent.remove(&key).unwrap_or_default();
            let f = assess(
                i,
                &Acks::from_records(&records),
                &history.steps,
                &tenant.policy,
                now,
            );
            if tenant.policy.notifies(i) {
                gauges.pir_to_review += i64::from(matches!(f.review, ReviewStatus::ToReview(_)));
                if matches!(f.claim, ClaimStatus::Open(_)) {
                    gauges.claim_open += 1;
                    if let Some(end) = f.claim_window_end(&tenant.policy.calendar, now) {
                        let secs = end.duration_since(now).as_secs();
                        gauges.claim_deadlines.push((i.tracking_id.clone(), secs));
                    }
                }
            }
            due.push(Due {
                incident: i.tracking_id.clone(),
                reminders: f.due,
                last_follow_up: history.last_out,
            });
        }
        Ok((due, gauges, candidates))
    }
}
