//! The daemon: one cycle (poll every tenant → diff against the store → plan notices → commit
//! changes and notices in one transaction → queue due reminders → deliver what is due), and the
//! loop around it. A poll returns a value ([`PollOutcome`]) that metrics and the systemd status
//! read; the steps share no mutable state.
//!
//! `run` drives two loops side by side: the poller (a poll every `poll.interval`) and the
//! deliverer (drains the outbox whenever a poll queued something, and every 30 s for retries).
//! Polling never waits for delivery, so a stuck mail server delays neither the next poll nor
//! the reminders of other tenants; each loop has its own liveness for the watchdog.
//!
//! Time is a parameter of every step, so tests and the demo can run a cycle at any instant.
//! Shutdown is a `CancellationToken`: a poll in flight is abandoned (nothing of it was
//! committed), an SMTP conversation in flight is dropped (the mail stays queued), then `run`
//! returns.

mod discovery;
mod evidence;
pub mod outcome;
mod tenant;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::{Metrics, Task};
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
    #[error("{0}")]
    Discovery(String),
}

/// The parts of the pipeline, wired together.
#[derive(Debug)]
pub struct Daemon {
    /// The config as loaded.
    config: Arc<Config>,
    /// The config with the tenants discovery found (`subscriptions = "all"`): what is polled
    /// and delivered for.
    live: std::sync::RwLock<Arc<Config>>,
    /// Told of each new live config (the web pages follow it).
    on_config: Option<ConfigListener>,
    store: Store,
    source: Source,
    notifier: Notifier,
    ids: MessageIds,
    metrics: Arc<Metrics>,
}

/// A callback told of each new live config.
#[derive(Clone)]
pub struct ConfigListener(pub Arc<dyn Fn(Arc<Config>) + Send + Sync>);

impl std::fmt::Debug for ConfigListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigListener")
    }
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
            retry_backoff: config.smtp.retry_backoff,
            ack_command: config.notify.ack_command.clone(),
            links: None,
            pacer: crate::notify::pace::Pacer::new(config.smtp.max_per_minute),
            webhooks: Vec::new(),
            webhook_sender: None,
        };
        Self {
            live: std::sync::RwLock::new(config.clone()),
            on_config: None,
            config,
            store,
            source,
            notifier,
            ids: MessageIds::new(&domain),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// What delivering `d` at `now` would send, without sending it (`pirwatch preview`).
    pub async fn preview(
        &self,
        d: &crate::store::QueuedDelivery,
        now: Timestamp,
    ) -> Result<crate::notify::deliver::Composed, StoreError> {
        self.notifier
            .compose(&self.store, &self.live(), d, now)
            .await
    }

    /// The Message-ID scheme of this daemon's mails.
    pub fn ids(&self) -> &MessageIds {
        &self.ids
    }

    /// Mails rendered by `renderer` (with the config's template overrides).
    pub fn with_renderer(mut self, renderer: Renderer) -> Self {
        self.notifier.renderer = renderer;
        self
    }

    /// Mails carry signed links to the web pages (`[web]`).
    pub fn with_links(mut self, links: Option<crate::web::link::LinkMaker>) -> Self {
        self.notifier.links = links;
        self
    }

    /// Delivers to `webhooks` too (`[[webhooks]]`, their secrets read).
    pub fn with_webhooks(
        mut self,
        webhooks: Vec<crate::notify::channel::webhook::Webhook>,
        sender: crate::notify::channel::webhook::WebhookSender,
    ) -> Self {
        self.notifier.webhooks = webhooks;
        self.notifier.webhook_sender = Some(sender);
        self
    }

    /// Records what the daemon does in `metrics` (shared with the HTTP listener).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The config with the tenants discovery found.
    pub fn live(&self) -> Arc<Config> {
        match self.live.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Tells `listener` of each new live config.
    pub fn with_config_listener(mut self, listener: ConfigListener) -> Self {
        self.on_config = Some(listener);
        self
    }

    /// Rebuilds the live config from what discovery stored (one query; none when no tenant
    /// discovers).
    async fn refresh_live(&self) -> Result<Arc<Config>, CycleError> {
        let discovers = self
            .config
            .tenants
            .iter()
            .any(|t| t.config.subscriptions == crate::config::schema::Subscriptions::All);
        if !discovers {
            return Ok(self.config.clone());
        }
        let found = self.store.discovered().await?;
        let expanded = Arc::new(
            self.config
                .expanded(&found)
                .map_err(|e| CycleError::Discovery(e.to_string()))?,
        );
        let changed = self.live().tenants.len() != expanded.tenants.len()
            || self
                .live()
                .tenants
                .iter()
                .zip(&expanded.tenants)
                .any(|(a, b)| a.name != b.name || a.config.subscriptions != b.config.subscriptions);
        if let Ok(mut l) = self.live.write() {
            *l = expanded.clone();
        }
        if changed && let Some(f) = &self.on_config {
            (f.0)(expanded.clone());
        }
        Ok(expanded)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One full cycle at `now`: poll, plan reminders, then deliver what is due (what waits
    /// for its retry backoff keeps waiting).
    pub async fn cycle(
        &self,
        now: Timestamp,
        stop: &CancellationToken,
    ) -> Result<CycleReport, CycleError> {
        let poll = tokio::select! {
            r = self.poll(now) => r?,
            () = stop.cancelled() => return Ok(CycleReport::default()),
        };
        let delivery = self.deliver(now, stop).await?;
        Ok(CycleReport {
            poll: poll.report(),
            delivery,
            still_queued: self.store.queue_stats(now).await?.0,
            failed: self.store.failed_undismissed().await?,
        })
    }

    /// Delivers the queued notices due at `now`.
    pub async fn deliver(
        &self,
        now: Timestamp,
        stop: &CancellationToken,
    ) -> Result<DeliveryReport, StoreError> {
        let config = match self.refresh_live().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "discovered tenants not read; delivering with the last known");
                self.live()
            }
        };
        self.notifier
            .deliver_due(&self.store, &config, now, stop, &self.metrics)
            .await
    }

    /// Polls every tenant, side by side (their requests bounded by `poll.max_in_flight`,
    /// each tenant by `poll.tenant_budget`), and commits what changed with the notices it
    /// causes.
    pub async fn poll(&self, now: Timestamp) -> Result<PollOutcome, CycleError> {
        use futures::{StreamExt, TryStreamExt};
        self.discover(now).await?;
        let config = self.refresh_live().await?;
        let mut tenants: Vec<(usize, TenantOutcome)> = futures::stream::iter(
            config.tenants.iter().enumerate(),
        )
        .map(|(n, t)| async move { Ok::<_, CycleError>((n, self.poll_tenant(t, now).await?)) })
        .buffer_unordered(self.config.poll.max_in_flight)
        .try_collect()
        .await?;
        tenants.sort_by_key(|(n, _)| *n);
        let tenants = tenants.into_iter().map(|(_, t)| t).collect();
        let outcome = PollOutcome { at: now, tenants };
        self.tell_operators(now).await?;
        let statuses = self.store.status_counts().await?;
        let queue = self.store.queue_stats(now).await?;
        outcome.publish(&self.metrics, &statuses, queue);
        Ok(outcome)
    }

    /// Queues what the operators should hear of (when `[notify] operators` is set).
    async fn tell_operators(&self, now: Timestamp) -> Result<(), StoreError> {
        use crate::incident::notice::{DeliveryState, RecipientState};
        use crate::notify::operators::{self, FailingScope, GivenUp};
        if self.config.notify.operators.is_empty() {
            return Ok(());
        }
        let failing: Vec<FailingScope> = self
            .store
            .scope_health()
            .await?
            .into_iter()
            .filter(|h| self.live().tenant(&h.tenant).is_some())
            .filter_map(|h| {
                Some(FailingScope {
                    since: h.failing_since?,
                    error: h.error.unwrap_or_default(),
                    credential: h.credential,
                    tenant: h.tenant,
                    scope: h.scope,
                })
            })
            .collect();
        let given_up: Vec<GivenUp> = self
            .store
            .outbox()
            .await?
            .into_iter()
            .filter(|e| e.dismissed_at.is_none() && e.kind != crate::incident::NoticeKind::Operator)
            .filter_map(|e| {
                let not_reached: Vec<String> = e
                    .recipients
                    .iter()
                    .filter(|r| r.state == RecipientState::Failed)
                    .map(|r| r.address.clone())
                    .collect();
                (e.state == DeliveryState::Failed || !not_reached.is_empty()).then(|| GivenUp {
                    tenant: e.tenant,
                    message_id: e.message_id.to_string(),
                    not_reached,
                    error: e.error.unwrap_or_default(),
                })
            })
            .collect();
        let alert_after = self.config.notify.operator_alert_after;
        let notices = operators::plan(&failing, &given_up, alert_after, &self.ids, now);
        self.store.queue(&notices, now).await
    }

    /// Polls every `interval` and delivers due mail beside it, until `stop` is cancelled or
    /// `reload` is notified.
    pub async fn run(
        &self,
        interval: Duration,
        stop: &CancellationToken,
        reload: &tokio::sync::Notify,
    ) -> RunEnd {
        let done = CancellationToken::new();
        let queued = tokio::sync::Notify::new();
        let ended = async {
            let why = tokio::select! {
                () = stop.cancelled() => RunEnd::Stopped,
                () = reload.notified() => RunEnd::Reload,
            };
            done.cancel();
            why
        };
        let (why, (), ()) = tokio::join!(
            ended,
            self.poller(interval, &done, &queued),
            self.deliverer(&done, &queued),
        );
        why
    }

    /// Polls every `interval`; tells the deliverer when a poll finished.
    async fn poller(
        &self,
        interval: Duration,
        done: &CancellationToken,
        queued: &tokio::sync::Notify,
    ) {
        let mut next = tokio::time::Instant::now();
        loop {
            self.metrics.alive_for(Task::Poller, interval + POLL_SLACK);
            tokio::select! {
                () = done.cancelled() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            next = tokio::time::Instant::now() + interval;
            let now = Timestamp::now();
            let polled = tokio::select! {
                r = self.poll(now) => r,
                () = done.cancelled() => return,
            };
            match polled {
                Ok(p) => {
                    let r = CycleReport {
                        poll: p.report(),
                        ..CycleReport::default()
                    };
                    log_cycle(&r);
                    crate::service::status(&outcome::status_line(now, &r));
                }
                Err(e) => {
                    tracing::error!(error = %e, "poll failed; retrying next interval");
                    crate::service::status(&format!("last poll failed: {e}"));
                }
            }
            // Polls start every interval from the previous start: one that ran longer than the
            // interval starts the next at once, and says so.
            let late = tokio::time::Instant::now().saturating_duration_since(next);
            if !late.is_zero() {
                tracing::warn!(interval = ?interval, over = ?late,
                    "the cycle took longer than poll.interval; the next one starts at once");
            }
            queued.notify_one();
        }
    }

    /// Delivers what is due whenever a poll finished, and every 30 s for retries.
    async fn deliverer(&self, done: &CancellationToken, queued: &tokio::sync::Notify) {
        loop {
            self.metrics
                .alive_for(Task::Deliverer, DELIVERY_TICK + POLL_SLACK);
            match self.deliver(Timestamp::now(), done).await {
                Ok(r) if r.sent + r.deferred + r.failed + r.superseded > 0 => {
                    tracing::info!(
                        sent = r.sent,
                        deferred = r.deferred,
                        failed = r.failed,
                        superseded = r.superseded,
                        "delivery round done"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "delivering mail failed; retrying"),
            }
            tokio::select! {
                () = done.cancelled() => return,
                () = queued.notified() => {}
                () = tokio::time::sleep(DELIVERY_TICK) => {}
            }
        }
    }
}

/// How often the deliverer looks for retries that came due.
const DELIVERY_TICK: Duration = Duration::from_secs(30);
/// Room on top of a loop's own period before the watchdog counts it as hung.
const POLL_SLACK: Duration = Duration::from_secs(60);

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
