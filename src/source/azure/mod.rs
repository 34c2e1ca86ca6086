//! Azure Resource Manager as a source: per tenant a credential, its ARM endpoint and scopes;
//! the scopes of one tenant are polled concurrently, with a bound.

pub mod client;
pub use crate::cloud;
pub mod credential;
pub mod discovery;
pub mod error;
pub mod evidence;
pub mod support;
pub mod wire;

use std::collections::HashMap;

use azure_core::http::Transport;
use futures::StreamExt;
use jiff::Timestamp;
use url::Url;

pub use client::{ArmClient, PollError};
use credential::{CredentialError, TenantToken};

use crate::config::{Config, Tenant};
use crate::source::ScopeResult;
use crate::source::event::Scope;

/// Polls Azure for every configured tenant.
#[derive(Debug)]
pub struct AzureSource {
    client: ArmClient,
    concurrency: usize,
    /// How long one tenant's poll may take (`poll.tenant_budget`).
    budget: std::time::Duration,
    tenants: HashMap<String, TenantAzure>,
}

#[derive(Debug)]
struct TenantAzure {
    arm: Url,
    /// The credential, or why it could not be built (reported at every poll).
    token: Result<TenantToken, String>,
}

impl AzureSource {
    /// Builds clients and credentials for every tenant. `credential_transport` carries the
    /// credentials' own HTTP calls (`None`: the same reqwest client as ARM calls).
    pub fn new(
        config: &Config,
        http: reqwest::Client,
        credential_transport: Option<Transport>,
    ) -> Self {
        let transport = credential_transport
            .unwrap_or_else(|| Transport::new(std::sync::Arc::new(http.clone())));
        let tenants = config
            .tenants
            .iter()
            .map(|t| {
                let cloud = cloud::Cloud::named(t.config.cloud);
                let kind = t.config.credential.kind();
                let token = credential::build(config, &t.config, transport.clone())
                    .map(|c| TenantToken::new(&t.name, kind, cloud.scope, c))
                    .map_err(|e: CredentialError| e.to_string());
                if let Err(e) = &token {
                    tracing::error!(tenant = %t.name, error = %e, "credential unusable");
                }
                let arm = cloud.arm_url(t.config.arm_endpoint.as_ref());
                (t.name.to_string(), TenantAzure { arm, token })
            })
            .collect();
        Self {
            client: ArmClient::new(http, &config.poll.api_version, config.poll.lookback)
                .with_max_in_flight(config.poll.max_in_flight),
            concurrency: config.poll.concurrency,
            budget: config.poll.tenant_budget,
            tenants,
        }
    }

    /// Records ARM requests, throttling and liveness in `metrics`.
    pub fn with_metrics(
        mut self,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        request_timeout: std::time::Duration,
    ) -> Self {
        self.client = self.client.with_metrics(metrics, request_timeout);
        self
    }

    /// The HTTP client pirwatch uses for ARM (and, by default, for sign-in). Failing to build
    /// it (no TLS roots, say) is an error: a client without time limits is never a fallback.
    pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("pirwatch/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// Polls every scope of `tenant`, `concurrency` at a time.
    pub async fn poll(&self, tenant: &Tenant, now: Timestamp) -> Vec<ScopeResult> {
        let scopes = crate::source::scopes(tenant);
        let Some(t) = self.tenants.get(tenant.identity().as_str()) else {
            return Vec::new();
        };
        // Scopes that finish within the tenant's budget count; the others are reported.
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut pending: std::collections::BTreeSet<Scope> = scopes.iter().cloned().collect();
        let mut results = Vec::with_capacity(scopes.len());
        let mut polls = futures::stream::iter(scopes)
            .map(|scope| self.poll_scope(t, scope, now))
            .buffer_unordered(self.concurrency);
        while let Ok(Some(r)) = tokio::time::timeout_at(deadline, polls.next()).await {
            pending.remove(&r.scope);
            results.push(r);
        }
        let budget = humantime::format_duration(self.budget).to_string();
        results.extend(pending.into_iter().map(|scope| ScopeResult {
            scope,
            outcome: Err(PollError::OverBudget(budget.clone())),
            skipped: 0,
            degraded: None,
            requests: 0,
            duration: self.budget,
        }));
        results
    }

    /// One real ARM call for `tenant` (its first scope), as `check-config --online` makes:
    /// signs in and asks for one page. Says what answered.
    pub async fn probe(&self, tenant: &Tenant, now: Timestamp) -> Result<String, PollError> {
        let Some(t) = self.tenants.get(tenant.identity().as_str()) else {
            return Err(PollError::CredentialUnusable(
                "tenant not configured".into(),
            ));
        };
        let token = t
            .token
            .as_ref()
            .map_err(|e| PollError::CredentialUnusable(e.clone()))?;
        let Some(scope) = crate::source::scopes(tenant).into_iter().next() else {
            return Err(PollError::CredentialUnusable("no scope to poll".into()));
        };
        let n = self.client.probe(&t.arm, token, &scope, now).await?;
        Ok(format!(
            "{} answers for {scope} ({n} event(s) on the first page)",
            client::redact(&t.arm)
        ))
    }

    /// The impacted resources of `tracking_id` in `scope` of `tenant`, and the requests made.
    pub async fn impacted_resources(
        &self,
        tenant: &Tenant,
        scope: &Scope,
        tracking_id: &str,
        security: bool,
    ) -> Result<(Vec<crate::evidence::ImpactedResource>, usize), PollError> {
        let (arm, token) = self.signed_in(tenant)?;
        self.client
            .impacted_resources(arm, token, scope, tracking_id, security)
            .await
    }

    /// The availability history of one resource of `tenant`, and the requests made.
    pub async fn availability(
        &self,
        tenant: &Tenant,
        resource_id: &str,
    ) -> Result<(Vec<crate::evidence::StatusChange>, usize), PollError> {
        let (arm, token) = self.signed_in(tenant)?;
        self.client.availability(arm, token, resource_id).await
    }

    /// Files (or finds) the claim's support ticket in `subscription` of `tenant`.
    pub async fn file_ticket(
        &self,
        tenant: &Tenant,
        subscription: &str,
        req: &support::TicketRequest,
    ) -> Result<support::Ticket, support::SupportError> {
        let (arm, token) = self.signed_in(tenant)?;
        self.client.file_ticket(arm, token, subscription, req).await
    }

    /// The subscriptions `entry` (`subscriptions = "all"`) polls now, with their home tenants.
    pub async fn discover(
        &self,
        entry: &Tenant,
    ) -> Result<Vec<crate::config::discovered::Found>, PollError> {
        let (arm, token) = self.signed_in(entry)?;
        let c = &entry.config;
        let listed = self
            .client
            .list_subscriptions(arm, token, c.management_group.as_deref())
            .await?;
        let selected = discovery::select(listed, &c.include, &c.exclude);
        // Names are a nicety: without them a customer is named by its tenant id.
        let names = match self.client.tenant_names(arm, token).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(tenant = %entry.name, error = %e,
                    "tenant names not listed; customers are named by their tenant ids");
                Default::default()
            }
        };
        Ok(discovery::found(
            entry.name.as_str(),
            &c.tenant_id,
            selected,
            &names,
        ))
    }

    fn signed_in(&self, tenant: &Tenant) -> Result<(&Url, &TenantToken), PollError> {
        let t = self
            .tenants
            .get(tenant.identity().as_str())
            .ok_or_else(|| PollError::CredentialUnusable("tenant not configured".into()))?;
        let token = t
            .token
            .as_ref()
            .map_err(|e| PollError::CredentialUnusable(e.clone()))?;
        Ok((&t.arm, token))
    }

    async fn poll_scope(&self, t: &TenantAzure, scope: Scope, now: Timestamp) -> ScopeResult {
        let started = std::time::Instant::now();
        let token = match &t.token {
            Ok(token) => token,
            Err(e) => {
                return ScopeResult {
                    scope,
                    outcome: Err(PollError::CredentialUnusable(e.clone())),
                    skipped: 0,
                    degraded: None,
                    requests: 0,
                    duration: started.elapsed(),
                };
            }
        };
        let (outcome, skipped, degraded, requests) =
            match self.client.list_events(&t.arm, token, &scope, now).await {
                Ok(got) => (Ok(got.events), got.skipped, got.degraded, got.requests),
                Err(e) => (Err(e), 0, None, 0),
            };
        ScopeResult {
            scope,
            outcome,
            skipped,
            degraded,
            requests,
            duration: started.elapsed(),
        }
    }
}
