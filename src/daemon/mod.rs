//! The daemon: one cycle (poll every tenant → diff against the store → plan notices → commit
//! changes and notices in one transaction → queue due reminders → deliver what is due), and the
//! loop around it. A poll returns a value ([`PollOutcome`]) that metrics and the systemd status
//! read; the steps share no mutable state.
//!
//! Time is a parameter of every step, so tests and the demo can run a cycle at any instant.
//! Shutdown is a `CancellationToken`: a poll in flight is abandoned (nothing of it was
//! committed), a delivery in flight is finished, then the loop returns.

pub mod outcome;
mod tenant;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::notify::channel::email::Mailer;
use crate::notify::deliver::{DeliveryReport, Notifier};
use crate::notify::message_id::MessageIds;
use crate::notify::render::{RenderError, Renderer};
use crate::source::Source;
use crate::store::{Store, StoreError};

pub use outcome::{CycleReport, PollOutcome, PollReport, TenantOutcome};

/// A cycle could not be completed. Poll and delivery failures are not errors: they are
/// reported and retried. These are.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The parts of the pipeline, wired together.
#[derive(Debug)]
pub struct Daemon {
    config: Arc<Config>,
    store: Store,
    source: Source,
    notifier: Notifier,
    ids: MessageIds,
    metrics: Arc<Metrics>,
}

/// Why [`Daemon::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// `stop` was cancelled.
    Stopped,
    /// A reload was asked for (SIGHUP).
    Reload,
}

impl Daemon {
    pub fn new(config: Arc<Config>, store: Store, source: Source, mailer: Mailer) -> Self {
        let domain = config.smtp.from.email.domain().to_owned();
        let notifier = Notifier {
            mailer,
            renderer: Renderer::new(),
            domain: domain.clone(),
            demo: source.is_demo(),
        };
        Self {
            config,
            store,
            source,
            notifier,
            ids: MessageIds::new(&domain),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Records what the daemon does in `metrics` (shared with the HTTP listener).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One full cycle at `now`: poll, plan reminders, then deliver what is due (retrying
    /// deliveries whose backoff ends by `retry_by`).
    pub async fn cycle(
        &self,
        now: Timestamp,
        retry_by: Timestamp,
        stop: &CancellationToken,
    ) -> Result<CycleReport, CycleError> {
        let poll = tokio::select! {
            r = self.poll(now) => r?,
            () = stop.cancelled() => return Ok(CycleReport::default()),
        };
        let delivery = self.deliver(now, retry_by, stop).await?;
        Ok(CycleReport {
            poll: poll.report(),
            delivery,
            still_queued: self.store.queue_stats(now).await?.0,
        })
    }

    /// Delivers queued notices due at `now` whose backoff ends by `retry_by`.
    pub async fn deliver(
        &self,
        now: Timestamp,
        retry_by: Timestamp,
        stop: &CancellationToken,
    ) -> Result<DeliveryReport, StoreError> {
        self.notifier
            .deliver_due(
                &self.store,
                &self.config,
                now,
                retry_by,
                stop,
                &self.metrics,
            )
            .await
    }

    /// Polls every tenant and commits what changed, with the notices it causes.
    pub async fn poll(&self, now: Timestamp) -> Result<PollOutcome, CycleError> {
        let mut tenants = Vec::with_capacity(self.config.tenants.len());
        for tenant in &self.config.tenants {
            tenants.push(self.poll_tenant(tenant, now).await?);
        }
        let outcome = PollOutcome { at: now, tenants };
        let statuses = self.store.status_counts().await?;
        let queue = self.store.queue_stats(now).await?;
        outcome.publish(&self.metrics, &statuses, queue);
        Ok(outcome)
    }

    /// Polls every `interval` and delivers due mail between polls, until `stop` is cancelled
    /// or `reload` is notified. A poll in flight is abandoned on either; a delivery in flight
    /// is finished first.
    pub async fn run(
        &self,
        interval: Duration,
        stop: &CancellationToken,
        reload: &tokio::sync::Notify,
    ) -> RunEnd {
        let tick = interval.min(Duration::from_secs(30));
        let mut next_poll = tokio::time::Instant::now();
        loop {
            self.metrics.alive_for(tick + Duration::from_secs(60));
            let now = Timestamp::now();
            if tokio::time::Instant::now() >= next_poll {
                next_poll = tokio::time::Instant::now() + interval;
                match self.cycle(now, now, stop).await {
                    Ok(r) => {
                        log_cycle(&r);
                        crate::service::status(&outcome::status_line(now, &r));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cycle failed; retrying next interval");
                        crate::service::status(&format!("last cycle failed: {e}"));
                    }
                }
            } else if let Err(e) = self.deliver(now, now, stop).await {
                tracing::error!(error = %e, "delivering mail failed");
            }
            tokio::select! {
                () = stop.cancelled() => return RunEnd::Stopped,
                () = reload.notified() => return RunEnd::Reload,
                () = tokio::time::sleep(tick) => {}
            }
        }
    }
}

fn log_cycle(r: &CycleReport) {
    tracing::info!(
        scopes_ok = r.poll.scopes_ok,
        scopes_failed = r.poll.scopes_failed,
        events = r.poll.events,
        skipped = r.poll.skipped,
        changed = r.poll.incidents_changed,
        queued = r.poll.mails_queued,
        reminders = r.poll.reminders_queued,
        sent = r.delivery.sent,
        deferred = r.delivery.deferred,
        failed = r.delivery.failed,
        superseded = r.delivery.superseded,
        still_queued = r.still_queued,
        "cycle done"
    );
}
