//! Sources of Service Health events: Azure Resource Manager, or the built-in demo timeline.
//! Both yield the same [`event::HealthEvent`]s, so the rest of pirwatch never asks which.

pub mod azure;
pub mod demo;
pub mod event;

use jiff::Timestamp;

use crate::config::Tenant;
use event::{HealthEvent, Scope};

/// How polling one scope went.
#[derive(Debug)]
pub struct ScopeResult {
    pub scope: Scope,
    /// The events, or why the scope could not be polled.
    pub outcome: Result<Vec<HealthEvent>, azure::PollError>,
    /// Malformed events skipped.
    pub skipped: usize,
    /// Polled, but cut short (a paging loop): why.
    pub degraded: Option<String>,
    /// HTTP requests made.
    pub requests: usize,
    /// How long polling it took.
    pub duration: std::time::Duration,
}

/// The scopes of a tenant: its subscriptions, and the tenant-level endpoint when asked for.
pub fn scopes(tenant: &Tenant) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = tenant
        .config
        .subscriptions
        .iter()
        .map(|s| Scope::Subscription(s.clone()))
        .collect();
    if tenant.config.tenant_events {
        scopes.push(Scope::Tenant);
    }
    scopes
}

/// Where events come from.
#[derive(Debug)]
pub enum Source {
    /// Boxed: it is much larger than the demo, and one source lives per daemon.
    Azure(Box<azure::AzureSource>),
    Demo(demo::DemoSource),
}

impl Source {
    /// Polls every scope of one tenant.
    pub async fn poll(&self, tenant: &Tenant, now: Timestamp) -> Vec<ScopeResult> {
        match self {
            Self::Azure(a) => a.poll(tenant, now).await,
            Self::Demo(d) => d.poll(now),
        }
    }

    /// The impacted resources of an event in one scope (the demo has none).
    pub async fn impacted_resources(
        &self,
        tenant: &Tenant,
        scope: &Scope,
        tracking_id: &str,
        security: bool,
    ) -> Result<(Vec<crate::evidence::ImpactedResource>, usize), azure::PollError> {
        match self {
            Self::Azure(a) => {
                a.impacted_resources(tenant, scope, tracking_id, security)
                    .await
            }
            Self::Demo(_) => Ok((Vec::new(), 0)),
        }
    }

    /// The subscriptions a `subscriptions = "all"` entry polls now (the demo discovers none).
    pub async fn discover(
        &self,
        entry: &Tenant,
    ) -> Result<Vec<crate::config::discovered::Found>, azure::PollError> {
        match self {
            Self::Azure(a) => a.discover(entry).await,
            Self::Demo(_) => Ok(Vec::new()),
        }
    }

    /// A resource's availability history (the demo has none).
    pub async fn availability(
        &self,
        tenant: &Tenant,
        resource_id: &str,
    ) -> Result<(Vec<crate::evidence::StatusChange>, usize), azure::PollError> {
        match self {
            Self::Azure(a) => a.availability(tenant, resource_id).await,
            Self::Demo(_) => Ok((Vec::new(), 0)),
        }
    }

    /// True for the demo: its mails say so.
    pub fn is_demo(&self) -> bool {
        matches!(self, Self::Demo(_))
    }
}
