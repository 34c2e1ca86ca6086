//! Draining the outbox: for every due delivery, render its notice as it is true *now* (or mark
//! it superseded when it no longer is), send it, and record the outcome.
//!
//! A temporary failure (connection refused, timeout, 4xx) is retried with exponential backoff
//! for as long as it takes: an SMTP outage delays mail, it never drops it. A permanent rejection
//! (5xx) is retried a few times, in case it was a misconfiguration since fixed, then recorded
//! as failed, logged, and shown by `pirwatch incidents`. A delivery is marked sent only after
//! the server accepted it, so a crash in between re-sends it with the same `Message-ID`. What
//! a delivery says is made in [`compose`].

mod compose;
mod digest;
mod webhook;

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{Config, Tenant};
use crate::incident::notice::{DeliveryState, Receiver, RecipientState};
use crate::metrics::{MailLabels, Metrics, Task};
use crate::notify::channel::email::{Mailer, OutgoingMail};
use crate::notify::channel::smtp::SmtpFailure;
use crate::notify::render::{MailContext, Renderer};
use crate::notify::settle::{self, MAX_REJECTIONS};
use crate::store::{QueuedDelivery, Store, StoreError};

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered to every recipient still to reach (or given up on some of them).
    pub sent: usize,
    /// Some recipient failed this time and will be retried.
    pub deferred: usize,
    /// Given up on.
    pub failed: usize,
    /// No longer true when they could be sent: not sent.
    pub superseded: usize,
    /// Nothing was sent: the store cannot be written.
    pub paused: bool,
    /// Held back by `smtp.max_per_minute` (then the round stopped; the rest waits).
    pub paced: usize,
}

impl DeliveryReport {
    fn count(&mut self, state: DeliveryState) {
        match state {
            DeliveryState::Sent => self.sent += 1,
            DeliveryState::Queued => self.deferred += 1,
            DeliveryState::Failed => self.failed += 1,
            DeliveryState::Superseded => self.superseded += 1,
        }
    }
}

/// Logs what became of an attempt's recipients.
fn log_attempt(
    d: &QueuedDelivery,
    message_id: &crate::incident::MessageId,
    outcomes: &[(String, Result<(), SmtpFailure>)],
    s: &crate::incident::notice::Settlement,
) {
    let accepted = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    match s.state {
        DeliveryState::Sent => tracing::info!(message_id = %message_id, kind = d.kind.as_str(),
            tenant = %d.tenant, recipients = accepted, "mail sent"),
        DeliveryState::Failed => tracing::error!(message_id = %message_id, tenant = %d.tenant,
            error = s.error.as_deref().unwrap_or(""), "mail given up on for every recipient \
            (see `pirwatch outbox list`)"),
        _ => tracing::warn!(message_id = %message_id, tenant = %d.tenant, accepted,
            error = s.error.as_deref().unwrap_or(""), retry_at = %s.next_attempt,
            "mail not delivered to every recipient; will retry"),
    }
    for r in s
        .recipients
        .iter()
        .filter(|r| r.state == RecipientState::Failed)
    {
        tracing::error!(message_id = %message_id, tenant = %d.tenant, recipient = %r.address,
            error = r.error.as_deref().unwrap_or(""), "recipient rejected {MAX_REJECTIONS} \
            times; given up on");
    }
}

/// How long one delivery may take before the watchdog counts the delivery task as hung: the
/// time limit of the whole SMTP conversation, with room for rendering and recording.
pub fn delivery_allowance(smtp_timeout: Duration) -> Duration {
    smtp_timeout + Duration::from_secs(60)
}

/// What sends mail and how it looks.
#[derive(Debug)]
pub struct Notifier {
    pub mailer: Mailer,
    pub renderer: Renderer,
    /// The `From` domain: `.ics` UIDs live under it.
    pub domain: String,
    /// Mails from the built-in demo say so.
    pub demo: bool,
    /// The first retry's wait (`smtp.retry_backoff`).
    pub retry_backoff: Duration,
    /// How the reader runs pirwatch, for the commands mails print (`[notify] ack_command`).
    pub ack_command: String,
    /// With `[web]`: makes the signed links mails carry.
    pub links: Option<crate::web::link::LinkMaker>,
    /// `smtp.max_per_minute`.
    pub pacer: crate::notify::pace::Pacer,
    /// `[[webhooks]]`, with their secrets.
    pub webhooks: Vec<crate::notify::channel::webhook::Webhook>,
    /// Posts to them.
    pub webhook_sender: Option<crate::notify::channel::webhook::WebhookSender>,
}

/// A delivery made ready for sending, or why it will not be sent.
#[derive(Debug)]
pub enum Composed {
    Mail(Box<OutgoingMail>),
    /// For a webhook: what it is told.
    Webhook(Box<crate::notify::channel::webhook::payload::Document>),
    /// No longer true; the reason.
    Superseded(String),
    /// Can never be sent as it is (a template bug, a tenant gone from the config).
    Undeliverable(String),
}

impl Notifier {
    /// The context every mail of `tenant` shares.
    pub fn context<'a>(&'a self, tenant: &'a Tenant, now: jiff::Timestamp) -> MailContext<'a> {
        MailContext {
            tenant: &tenant.name,
            timezone: tenant.policy.calendar.timezone(),
            portal_url: tenant.portal_url,
            demo: self.demo,
            claim_channel: tenant.config.claim_channel,
            support_plan: tenant.config.support_plan,
            ack_command: &self.ack_command,
            links: None,
            tenant_page: None,
            now,
            resources: None,
        }
    }

    /// Sends every queued delivery due at `now` whose retry backoff has ended by then. Stops
    /// early, leaving the rest queued, when `stop` is cancelled — also in the middle of an SMTP
    /// conversation, whose connection is then dropped, never reused. When the store cannot be
    /// written (disk full, read-only), nothing is sent: a mail that could not be recorded as
    /// sent would be sent again and again.
    pub async fn deliver_due(
        &self,
        store: &Store,
        config: &Config,
        now: Timestamp,
        stop: &tokio_util::sync::CancellationToken,
        metrics: &Metrics,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        let due = store.due_deliveries(now, now).await?;
        if due.is_empty() {
            return Ok(report);
        }
        if let Err(e) = store.probe_write(now).await {
            metrics.store_unwritable.warn(&e.to_string());
            self.alert_unwritable(config, &e.to_string(), now, metrics)
                .await;
            report.paused = true;
            return Ok(report);
        }
        metrics.store_unwritable.clear();
        let started = std::time::Instant::now();
        // Failures are dated when they happen, so backoff counts from them.
        let clock = || now.checked_add(started.elapsed()).unwrap_or(now);
        // A webhook that failed in this round takes nothing more in it: its deliveries go in
        // order.
        let mut held: BTreeSet<Receiver> = BTreeSet::new();
        for mut batch in batches(due) {
            if stop.is_cancelled() {
                break;
            }
            if held.contains(&batch[0].receiver) {
                continue;
            }
            // The longest one delivery may take: the SMTP conversation or a webhook's request.
            let longest = self
                .webhooks
                .iter()
                .map(|w| w.timeout)
                .fold(config.smtp.timeout, Duration::max);
            metrics.alive_for(Task::Deliverer, delivery_allowance(longest));
            let composed = if batch[0].digest_at.is_some() {
                let c = self
                    .compose_route_digest(store, config, &batch, now)
                    .await?;
                // Members no longer true are not in the digest, and are recorded so.
                for n in c.superseded.iter().rev() {
                    let d = batch.remove(*n);
                    store
                        .mark_superseded(&d, "no longer true when its digest went out", now)
                        .await?;
                }
                if batch.is_empty() {
                    continue;
                }
                c.composed
            } else {
                self.compose(store, config, &batch[0], now).await?
            };
            let first = &batch[0];
            let kind = if first.digest_at.is_some() {
                "route_digest"
            } else {
                first.kind.as_str()
            };
            let outcome = match composed {
                Composed::Mail(_) if !self.pacer.try_send(std::time::Instant::now()) => {
                    // Over smtp.max_per_minute: the rest waits for a later round.
                    report.paced += 1;
                    tracing::info!(message_id = %first.message_id,
                        "smtp.max_per_minute reached; the rest of the mail waits");
                    break;
                }
                Composed::Mail(mail) => {
                    let s = tokio::select! {
                        r = self.attempt(store, &batch, &mail, clock) => r?,
                        () = stop.cancelled() => break,
                    };
                    metrics.set_smtp_error(s.error.clone());
                    for r in &s.recipients {
                        metrics.recipient_outcome(r.state.as_str());
                    }
                    report.count(s.state);
                    s.state.as_str()
                }
                Composed::Webhook(doc) => {
                    let name = match &first.receiver {
                        Receiver::Webhook(n) => n.clone(),
                        other => other.as_str(),
                    };
                    let s = tokio::select! {
                        r = self.post_webhook(store, &name, &batch, &doc, clock) => r?,
                        () = stop.cancelled() => break,
                    };
                    if s.state == DeliveryState::Queued {
                        held.insert(first.receiver.clone());
                    }
                    report.count(s.state);
                    s.state.as_str()
                }
                Composed::Superseded(why) => {
                    for d in &batch {
                        store.mark_superseded(d, &why, now).await?;
                    }
                    tracing::info!(message_id = %first.message_id, tenant = %first.tenant,
                        why = %why, "not sent: no longer true");
                    report.superseded += 1;
                    "superseded"
                }
                Composed::Undeliverable(why) => {
                    for d in &batch {
                        store.mark_undeliverable(d, &why).await?;
                    }
                    tracing::error!(message_id = %first.message_id, tenant = %first.tenant,
                        error = %why, "cannot be sent; marked failed (see `pirwatch outbox list`)");
                    report.failed += 1;
                    "failed"
                }
            };
            metrics
                .notifications
                .get_or_create(&MailLabels {
                    kind: kind.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        Ok(report)
    }

    /// One attempt at one mail carrying `batch` (one delivery, or a route digest's members):
    /// to every recipient not yet done, then settled and recorded for each.
    async fn attempt(
        &self,
        store: &Store,
        batch: &[QueuedDelivery],
        mail: &OutgoingMail,
        clock: impl Fn() -> Timestamp,
    ) -> Result<crate::incident::notice::Settlement, StoreError> {
        let d = &batch[0];
        let before = store.recipients(d).await?;
        let pending: Vec<lettre::Address> = mail
            .to
            .iter()
            .chain(&mail.cc)
            .map(|m| m.email.clone())
            .filter(|a| before.get(&a.to_string()).is_none_or(|r| r.state.pending()))
            .collect();
        let outcomes: Vec<(String, Result<(), SmtpFailure>)> = if pending.is_empty() {
            Vec::new()
        } else {
            let names: Vec<String> = pending.iter().map(ToString::to_string).collect();
            match self.mailer.send(mail, &pending).await {
                Ok(each) => each.into_iter().map(|(a, r)| (a.to_string(), r)).collect(),
                Err(f) => settle::all_failed(&names, &f),
            }
        };
        let at = clock();
        let s = settle::settle(&before, &outcomes, d.attempts, self.retry_backoff, at);
        store.settle_attempts(batch, &s, &mail.subject, at).await?;
        log_attempt(d, &mail.message_id, &outcomes, &s);
        Ok(s)
    }
}

/// Groups due deliveries into what is sent as one message: each delivery on its own, except a
/// route digest's members (same receiver, same digest time), which go together — in the order
/// the first of each group came.
pub fn batches(due: Vec<QueuedDelivery>) -> Vec<Vec<QueuedDelivery>> {
    let mut out: Vec<Vec<QueuedDelivery>> = Vec::new();
    for d in due {
        let joins = d.digest_at.and_then(|at| {
            out.iter()
                .position(|b| b[0].digest_at == Some(at) && b[0].receiver == d.receiver)
        });
        match joins {
            Some(i) => out[i].push(d),
            None => out.push(vec![d]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect 7 of issue 7: the watchdog allowed a fixed 120 s per mail, so a longer
    /// `smtp.timeout` let systemd restart pirwatch in the middle of a delivery.
    #[test]
    fn the_watchdog_allowance_grows_with_the_smtp_timeout() {
        for secs in [10, 30, 120, 300, 600] {
            let timeout = Duration::from_secs(secs);
            assert!(delivery_allowance(timeout) > timeout, "{secs}s");
        }
        assert!(delivery_allowance(Duration::from_secs(300)) > Duration::from_secs(120));
    }

    #[test]
    fn a_route_digests_members_go_together_and_the_rest_alone_in_order() {
        let at = |s: &str| -> Timestamp { s.parse().expect("ts") };
        let d = |key: &str, receiver: &str, digest: Option<&str>| QueuedDelivery {
            key: key.into(),
            receiver: receiver.parse().expect("receiver"),
            message_id: crate::incident::MessageId::new(format!("<{key}.{receiver}@x>")),
            tenant: "t".into(),
            kind: crate::incident::NoticeKind::New,
            incidents: Vec::new(),
            follow_ups: Vec::new(),
            updates_from: None,
            operator: None,
            planned: at("2026-12-01T10:00:00Z"),
            digest_at: digest.map(at),
            attempts: 0,
            rejections: 0,
        };
        let day1 = Some("2026-12-02T07:00:00Z");
        let day2 = Some("2026-12-03T07:00:00Z");
        let due = vec![
            d("a", "tenant", None),
            d("a", "route:desk", day1),
            d("b", "route:desk", day1),
            d("b", "webhook:teams", day1),
            d("c", "route:desk", day2),
            d("c", "route:other", None),
            d("d", "route:desk", day1),
        ];
        let got: Vec<Vec<String>> = batches(due)
            .iter()
            .map(|b| {
                b.iter()
                    .map(|d| format!("{}>{}", d.key, d.receiver.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            got,
            [
                vec!["a>tenant"],
                vec!["a>route:desk", "b>route:desk", "d>route:desk"],
                vec!["b>webhook:teams"],
                vec!["c>route:desk"],
                vec!["c>route:other"],
            ]
        );
    }
}
