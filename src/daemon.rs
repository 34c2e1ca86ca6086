//! The daemon: one cycle (poll every scope → diff against the store → decide mails → commit
//! changes and mails in one transaction → deliver what is due), and the loop around it.
//!
//! Time is a parameter of every step, so tests and the demo can run a cycle at any instant.
//! Shutdown is a `CancellationToken`: a poll in flight is abandoned (nothing of it was
//! committed), a delivery in flight is finished, then the loop returns.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, TenantConfig};
use crate::followup::claim::{ClaimDates, ClaimPolicy, claim_dates};
use crate::followup::schedule::{self, Inputs};
use crate::incident::{Incident, NoticeKind};
use crate::metrics::{
    ClaimLabels, MailLabels, Metrics, PollLabels, ScopeLabels, StateLabels, TenantLabels,
};
use crate::notify::email::{Mailer, safe_token};
use crate::notify::ics;
use crate::notify::outbox::{self, DeliveryReport};
use crate::notify::render::{MailContext, RenderError, Renderer};
use crate::source::azure::cloud::Cloud;
use crate::source::{ScopeResult, Source};
use crate::store::acks_summary;
use crate::store::{NewMail, ScopeOutcome, Store, StoreError};
use crate::tracker::{self, Disposition, Observation};

/// A cycle could not be completed. Poll and delivery failures are not errors: they are
/// reported and retried. These are.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What one poll of every tenant found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    pub scopes_ok: usize,
    pub scopes_failed: usize,
    pub events: usize,
    /// Malformed events skipped.
    pub skipped: usize,
    pub incidents_changed: usize,
    pub mails_queued: usize,
    /// Follow-up reminders queued.
    pub reminders_queued: usize,
}

/// What one whole cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleReport {
    pub poll: PollReport,
    pub delivery: DeliveryReport,
    /// Mails still queued after delivery.
    pub still_queued: i64,
}

/// The parts of the pipeline, wired together.
#[derive(Debug)]
pub struct Daemon {
    config: Arc<Config>,
    store: Store,
    source: Source,
    mailer: Mailer,
    renderer: Renderer,
    message_id_domain: String,
    metrics: Arc<Metrics>,
    /// Scopes failing in the poll under way.
    failing: std::sync::Mutex<Vec<(String, String)>>,
    /// Follow-up gauges gathered by the poll under way, published when it ends.
    gauges: std::sync::Mutex<FollowUpGauges>,
}

/// Follow-up gauge values gathered during one poll.
#[derive(Debug, Default)]
struct FollowUpGauges {
    pir_to_review: i64,
    claim_open: i64,
    claim_deadlines: Vec<(ClaimLabels, i64)>,
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
        let message_id_domain = config.smtp.from.email.domain().to_owned();
        Self {
            config,
            store,
            source,
            mailer,
            renderer: Renderer::new(),
            message_id_domain,
            metrics: Arc::new(Metrics::new()),
            failing: std::sync::Mutex::new(Vec::new()),
            gauges: std::sync::Mutex::new(FollowUpGauges::default()),
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

    /// One full cycle at `now`: poll, plan reminders, then deliver what is due (retrying mails
    /// whose backoff ends by `retry_by`).
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
            poll,
            delivery,
            still_queued: self.store.queued_count(now).await?,
        })
    }

    /// Delivers queued mail due at `now` whose backoff ends by `retry_by`.
    pub async fn deliver(
        &self,
        now: Timestamp,
        retry_by: Timestamp,
        stop: &CancellationToken,
    ) -> Result<DeliveryReport, StoreError> {
        outbox::deliver_due(
            &self.store,
            &self.mailer,
            now,
            retry_by,
            stop,
            &self.metrics,
        )
        .await
    }

    /// Polls every tenant and commits what changed, with the mails it causes.
    pub async fn poll(&self, now: Timestamp) -> Result<PollReport, CycleError> {
        let mut report = PollReport::default();
        *self.failing.lock().unwrap_or_else(|e| e.into_inner()) = Vec::new();
        *self.gauges.lock().unwrap_or_else(|e| e.into_inner()) = FollowUpGauges::default();
        for tenant in &self.config.tenants {
            let results = self.source.poll(tenant, now).await;
            self.commit_tenant(tenant, results, now, &mut report)
                .await?;
            report.reminders_queued += self.remind(tenant, now).await?;
        }
        self.record_gauges(now).await?;
        let failing = std::mem::take(&mut *self.failing.lock().unwrap_or_else(|e| e.into_inner()));
        self.metrics.poll_finished(now, failing);
        Ok(report)
    }

    /// Replaces the incident gauges at once (so a scrape during a poll never sees them
    /// half-filled), and sets the outbox gauges.
    async fn record_gauges(&self, now: Timestamp) -> Result<(), StoreError> {
        let counts = self.store.status_counts().await?;
        let gauges = std::mem::take(&mut *self.gauges.lock().unwrap_or_else(|e| e.into_inner()));
        self.metrics.incidents.clear();
        for (status, n) in counts {
            self.metrics
                .incidents
                .get_or_create(&StateLabels {
                    state: status.to_ascii_lowercase(),
                })
                .set(n);
        }
        for (state, n) in [
            ("pir_to_review", gauges.pir_to_review),
            ("claim_open", gauges.claim_open),
        ] {
            self.metrics
                .incidents
                .get_or_create(&StateLabels {
                    state: state.into(),
                })
                .set(n);
        }
        self.metrics.claim_deadline_seconds.clear();
        for (labels, secs) in gauges.claim_deadlines {
            self.metrics
                .claim_deadline_seconds
                .get_or_create(&labels)
                .set(secs);
        }
        let (queued, oldest) = self.store.queue_stats(now).await?;
        self.metrics.queued.set(queued);
        let age = oldest.map_or(0, |t| now.duration_since(t).as_secs().max(0));
        self.metrics.oldest_queued_seconds.set(age);
        Ok(())
    }

    /// Queues the follow-up reminders of `tenant` that are due at `now`. They fall due with
    /// time, whatever Azure does, so every cycle plans them from the stored incidents.
    pub async fn remind(&self, tenant: &TenantConfig, now: Timestamp) -> Result<usize, CycleError> {
        let cal = tenant.calendar();
        let policy = tenant.reminder_policy();
        let claim_policy = tenant.claim_policy();
        let since = now
            .checked_sub(jiff::SignedDuration::from_hours(FOLLOW_UP_DAYS * 24))
            .unwrap_or(now);
        let mut mails = Vec::new();
        for i in self.store.followup_candidates(&tenant.name, since).await? {
            if !self
                .config
                .notify
                .event_types
                .contains(i.event_type.as_str())
            {
                continue;
            }
            let acks = acks_summary(&self.store.acks(&i.tenant, &i.tracking_id).await?);
            let claim = claim_of(&i, &claim_policy);
            let inputs = Inputs {
                incident: &i,
                pir_seen: i.pir_seen,
                claim,
                acks: &acks,
            };
            self.record_followup(tenant, &i, claim, &acks, &cal, now);
            let all = schedule::reminders(inputs, &policy, &cal);
            if all.is_empty() {
                continue;
            }
            let sent = self.store.reminder_steps(&i.tenant, &i.tracking_id).await?;
            for r in schedule::due(&all, &sent, claim, &cal, now) {
                mails.push(self.reminder_mail(tenant, &i, &r, claim, now)?);
            }
        }
        self.store.queue_mails(&tenant.name, &mails, now).await?;
        self.count_queued(&mails);
        Ok(mails.len())
    }

    /// Follow-up gauges: incidents with a PIR to review or a claim open, and per open claim
    /// the seconds until its window ends (the end of the deadline day, in the team's zone).
    fn record_followup(
        &self,
        tenant: &TenantConfig,
        i: &Incident,
        claim: Option<ClaimDates>,
        acks: &crate::followup::schedule::Acks,
        cal: &crate::followup::calendar::WorkCalendar,
        now: Timestamp,
    ) {
        let mut g = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        if i.pir > crate::incident::PirState::None && !acks.reviewed {
            g.pir_to_review += 1;
        }
        let Some(c) = claim.filter(|c| !acks.claim_decided && c.remind_by >= cal.date_of(now))
        else {
            return;
        };
        g.claim_open += 1;
        let window_end = c
            .remind_by
            .saturating_add(jiff::ToSpan::day(1))
            .to_zoned(tenant.timezone.clone())
            .map_or(now, |z| z.timestamp());
        g.claim_deadlines.push((
            ClaimLabels {
                tenant: tenant.name.clone(),
                tracking_id: i.tracking_id.clone(),
            },
            window_end.duration_since(now).as_secs(),
        ));
    }

    fn reminder_mail(
        &self,
        tenant: &TenantConfig,
        i: &Incident,
        r: &schedule::Reminder,
        claim: Option<ClaimDates>,
        now: Timestamp,
    ) -> Result<NewMail, RenderError> {
        let cal = tenant.calendar();
        let rendered = self
            .renderer
            .reminder(r, i, claim, &self.mail_context(tenant), now)?;
        let ics = claim
            .filter(|c| {
                r.series != schedule::Series::WindowClosed && c.remind_by >= cal.date_of(now)
            })
            .map(|c| {
                ics::claim_deadline(
                    &i.tracking_id,
                    &i.tenant,
                    &self.message_id_domain,
                    c.remind_by,
                    tenant.claim_channel,
                    now,
                )
            });
        Ok(NewMail {
            message_id: format!(
                "<{}.{}.{}-{}@{}>",
                safe_token(&i.tracking_id, '-'),
                safe_token(&i.tenant, '-'),
                r.series.as_str(),
                r.step,
                self.message_id_domain
            ),
            kind: NoticeKind::Reminder,
            incidents: vec![i.tracking_id.clone()],
            recipients: recipients(tenant),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            thread_id: Some(self.thread_id(i)),
            due: cal.next_open_instant(now),
            reminder: Some((r.series, r.step)),
            ics,
        })
    }

    fn mail_context<'a>(&self, tenant: &'a TenantConfig) -> MailContext<'a> {
        MailContext {
            tenant: &tenant.name,
            timezone: &tenant.timezone,
            portal_url: Cloud::named(tenant.cloud).service_health_url,
            demo: self.source.is_demo(),
            claim_channel: tenant.claim_channel,
            support_plan: tenant.support_plan,
        }
    }

    async fn commit_tenant(
        &self,
        tenant: &TenantConfig,
        results: Vec<ScopeResult>,
        now: Timestamp,
        report: &mut PollReport,
    ) -> Result<(), CycleError> {
        let known = self.store.known_scopes(&tenant.name).await?;
        let mut fetched = Vec::new();
        let mut first_poll = BTreeSet::new();
        let mut outcomes = Vec::new();
        for r in results {
            report.skipped += r.skipped;
            self.record_scope(tenant, &r);
            match r.outcome {
                Ok(events) => {
                    report.scopes_ok += 1;
                    if !known.contains(r.scope.key()) {
                        first_poll.insert(r.scope.clone());
                    }
                    fetched.extend(events);
                    outcomes.push(ScopeOutcome {
                        scope: r.scope.key().to_owned(),
                        error: None,
                    });
                }
                Err(e) => {
                    report.scopes_failed += 1;
                    tracing::warn!(tenant = %tenant.name, scope = %r.scope, error = %e,
                        hint = e.hint(), "scope not polled; will retry next cycle");
                    outcomes.push(ScopeOutcome {
                        scope: r.scope.key().to_owned(),
                        error: Some(e.to_string()),
                    });
                }
            }
        }
        report.events += fetched.len();
        let ids: Vec<String> = fetched
            .iter()
            .map(|e| e.tracking_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let stored = self.store.load_incidents(&tenant.name, &ids).await?;
        let observations: Vec<Observation> =
            tracker::observe(&tenant.name, &fetched, &stored, &first_poll, now)
                .into_iter()
                .filter(|o| stored.get(&o.incident.tracking_id) != Some(&o.incident))
                .collect();
        let mails = self.plan_mails(tenant, &observations, now)?;
        report.incidents_changed += observations.len();
        report.mails_queued += mails.len();
        self.store
            .commit_poll(&tenant.name, &observations, &outcomes, &mails, now)
            .await?;
        self.count_queued(&mails);
        Ok(())
    }

    fn count_queued(&self, mails: &[NewMail]) {
        for m in mails {
            self.metrics
                .notifications
                .get_or_create(&MailLabels {
                    kind: m.kind.as_str().to_owned(),
                    outcome: "queued".into(),
                })
                .inc();
        }
    }

    fn record_scope(&self, tenant: &TenantConfig, r: &ScopeResult) {
        let scope = r.scope.key().to_owned();
        let outcome = if r.outcome.is_ok() { "ok" } else { "error" };
        self.metrics
            .polls
            .get_or_create(&PollLabels {
                tenant: tenant.name.clone(),
                scope: scope.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.metrics
            .poll_duration
            .get_or_create(&ScopeLabels {
                tenant: tenant.name.clone(),
                scope: scope.clone(),
            })
            .observe(r.duration.as_secs_f64());
        match &r.outcome {
            Ok(events) => {
                self.metrics
                    .events_seen
                    .get_or_create(&TenantLabels {
                        tenant: tenant.name.clone(),
                    })
                    .inc_by(u64::try_from(events.len()).unwrap_or(0));
            }
            Err(e) => self
                .failing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((format!("{}/{scope}", tenant.name), e.to_string())),
        }
    }

    /// The mails a set of observations causes: at most one per incident, plus one digest.
    fn plan_mails(
        &self,
        tenant: &TenantConfig,
        observations: &[Observation],
        now: Timestamp,
    ) -> Result<Vec<NewMail>, RenderError> {
        let ctx = self.mail_context(tenant);
        let claim_policy = tenant.claim_policy();
        let today = now.to_zoned(tenant.timezone.clone()).date();
        let mut mails = Vec::new();
        let mut digest: Vec<(&Incident, Option<ClaimDates>)> = Vec::new();
        for o in observations {
            let i = &o.incident;
            let deadline = claim_of(i, &claim_policy);
            let notifiable = self
                .config
                .notify
                .event_types
                .contains(i.event_type.as_str());
            let open = !i.false_positive && deadline.is_some_and(|d| d.remind_by >= today);
            match o.disposition(notifiable, open) {
                Disposition::Silent => {}
                Disposition::Digest => digest.push((i, deadline)),
                Disposition::Mail(kind) => {
                    let r = self
                        .renderer
                        .incident(kind, i, &o.new_updates, deadline, &ctx)?;
                    let thread = self.thread_id(i);
                    let message_id = if kind == NoticeKind::New {
                        thread.clone()
                    } else {
                        self.message_id(&[&i.tracking_id, &i.tenant, kind.as_str()], now)
                    };
                    mails.push(NewMail {
                        message_id,
                        kind,
                        incidents: vec![i.tracking_id.clone()],
                        recipients: recipients(tenant),
                        subject: r.subject,
                        body_text: r.text,
                        body_html: r.html,
                        thread_id: Some(thread),
                        due: now,
                        reminder: None,
                        ics: None,
                    });
                }
            }
        }
        if !digest.is_empty() {
            let r = self.renderer.digest(&digest, &ctx)?;
            mails.push(NewMail {
                message_id: self.message_id(&[&tenant.name, "digest"], now),
                kind: NoticeKind::Digest,
                incidents: digest.iter().map(|(i, _)| i.tracking_id.clone()).collect(),
                recipients: recipients(tenant),
                subject: r.subject,
                body_text: r.text,
                body_html: r.html,
                thread_id: None,
                due: tenant.calendar().next_open_instant(now),
                reminder: None,
                ics: None,
            });
        }
        Ok(mails)
    }

    /// The root of an incident's mail thread; the first mail about it carries this id.
    fn thread_id(&self, i: &Incident) -> String {
        format!(
            "<{}.{}.incident@{}>",
            safe_token(&i.tracking_id, '-'),
            safe_token(&i.tenant, '-'),
            self.message_id_domain
        )
    }

    fn message_id(&self, parts: &[&str], now: Timestamp) -> String {
        let parts: Vec<String> = parts.iter().map(|p| safe_token(p, '-')).collect();
        format!(
            "<{}.{}@{}>",
            parts.join("."),
            now.as_millisecond(),
            self.message_id_domain
        )
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
                        crate::service::status(&status_line(now, &r));
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

/// `STATUS=` for systemd: the last poll's result in one line.
fn status_line(at: Timestamp, r: &CycleReport) -> String {
    format!(
        "last poll {}: {} scope(s) ok, {} failed, {} event(s); {} mail(s) sent, {} queued",
        at.strftime("%Y-%m-%d %H:%M UTC"),
        r.poll.scopes_ok,
        r.poll.scopes_failed,
        r.poll.events,
        r.delivery.sent,
        r.still_queued
    )
}

fn log_cycle(r: &CycleReport) {
    tracing::info!(
        scopes_ok = r.poll.scopes_ok,
        scopes_failed = r.poll.scopes_failed,
        events = r.poll.events,
        skipped = r.poll.skipped,
        changed = r.poll.incidents_changed,
        queued = r.poll.mails_queued,
        sent = r.delivery.sent,
        deferred = r.delivery.deferred,
        failed = r.delivery.failed,
        still_queued = r.still_queued,
        "cycle done"
    );
}

/// How far back incidents are considered for follow-up (claim windows last at most ~3 months).
const FOLLOW_UP_DAYS: i64 = 200;

/// The SLA claim deadlines, for service issues.
pub fn claim_of(i: &Incident, policy: &ClaimPolicy) -> Option<ClaimDates> {
    i.event_type.is_service_issue().then(|| {
        claim_dates(
            i.impact_start.unwrap_or(i.first_seen),
            &i.subscriptions,
            policy,
        )
    })
}

fn recipients(t: &TenantConfig) -> Vec<String> {
    t.recipients.iter().map(ToString::to_string).collect()
}
