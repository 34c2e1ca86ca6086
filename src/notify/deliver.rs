//! Draining the outbox: for every due delivery, render its notice as it is true *now* (or mark
//! it superseded when it no longer is), send it, and record the outcome.
//!
//! A temporary failure (connection refused, timeout, 4xx) is retried with exponential backoff
//! for as long as it takes: an SMTP outage delays mail, it never drops it. A permanent rejection
//! (5xx) is retried a few times, in case it was a misconfiguration since fixed, then recorded
//! as failed, logged, and shown by `pirwatch incidents`. A delivery is marked sent only after
//! the server accepted it, so a crash in between re-sends it with the same `Message-ID`.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::{Config, Tenant};
use crate::followup::claim::{ClaimDates, claim_of};
use crate::followup::schedule::Reminder;
use crate::followup::{ClaimStatus, FollowUp, ReviewStatus, assess};
use crate::incident::ack::Acks;
use crate::incident::notice::{ReminderKey, Series};
use crate::incident::{Incident, NoticeKind};
use crate::metrics::{MailLabels, Metrics};
use crate::notify::channel::email::{Mailer, OutgoingMail};
use crate::notify::ics;
use crate::notify::render::{MailContext, Renderer};
use crate::store::{QueuedDelivery, Store, StoreError};

/// After this many permanent rejections a delivery is marked failed.
pub const MAX_REJECTIONS: i64 = 3;

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed this time, will be retried.
    pub deferred: usize,
    /// Given up on.
    pub failed: usize,
    /// No longer true when they could be sent: not sent.
    pub superseded: usize,
}

/// Backoff before the next try: 30 s, doubling, at most one hour.
pub fn retry_delay(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    Duration::from_secs(30u64.saturating_mul(1 << exp)).min(Duration::from_secs(3600))
}

/// How long one delivery may keep the daemon from its other work before the watchdog counts
/// it as hung: the SMTP time limit (connect, then each reply) with room for the conversation.
pub fn delivery_allowance(smtp_timeout: Duration) -> Duration {
    smtp_timeout.saturating_mul(3) + Duration::from_secs(60)
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
}

/// A delivery made ready for sending, or why it will not be sent.
enum Composed {
    Mail(Box<OutgoingMail>),
    /// No longer true; the reason.
    Superseded(String),
    /// Can never be sent as it is (a template bug, a tenant gone from the config).
    Undeliverable(String),
}

impl Notifier {
    /// The context every mail of `tenant` shares.
    pub fn context<'a>(&self, tenant: &'a Tenant) -> MailContext<'a> {
        MailContext {
            tenant: &tenant.name,
            timezone: tenant.policy.calendar.timezone(),
            portal_url: tenant.portal_url,
            demo: self.demo,
            claim_channel: tenant.config.claim_channel,
            support_plan: tenant.config.support_plan,
        }
    }

    /// Sends every queued delivery due at `now` whose retry backoff has ended by `retry_by`.
    /// Stops early, leaving the rest queued, when `stop` is cancelled.
    pub async fn deliver_due(
        &self,
        store: &Store,
        config: &Config,
        now: Timestamp,
        retry_by: Timestamp,
        stop: &tokio_util::sync::CancellationToken,
        metrics: &Metrics,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        for d in store.due_deliveries(now, retry_by).await? {
            if stop.is_cancelled() {
                break;
            }
            metrics.alive_for(delivery_allowance(config.smtp.timeout));
            let outcome = match self.compose(store, config, &d, now).await? {
                Composed::Mail(mail) => self.send(store, &d, &mail, now, &mut report).await?,
                Composed::Superseded(why) => {
                    store.mark_superseded(&d, &why, now).await?;
                    tracing::info!(message_id = %d.message_id, tenant = %d.tenant, why = %why,
                        "not sent: no longer true");
                    report.superseded += 1;
                    "superseded"
                }
                Composed::Undeliverable(why) => {
                    store.mark_attempt_failed(&d, &why, true, true, now).await?;
                    tracing::error!(message_id = %d.message_id, tenant = %d.tenant, error = %why,
                        "cannot be sent; marked failed (see `pirwatch incidents`)");
                    report.failed += 1;
                    "failed"
                }
            };
            metrics
                .notifications
                .get_or_create(&MailLabels {
                    kind: d.kind.as_str().to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        Ok(report)
    }

    async fn send(
        &self,
        store: &Store,
        d: &QueuedDelivery,
        mail: &OutgoingMail,
        now: Timestamp,
        report: &mut DeliveryReport,
    ) -> Result<&'static str, StoreError> {
        let sent = self.mailer.send(mail).await;
        match sent {
            Ok(()) => {
                store
                    .mark_sent(d, &mail.subject, Timestamp::now().max(now))
                    .await?;
                tracing::info!(message_id = %d.message_id, kind = d.kind.as_str(),
                    tenant = %d.tenant, recipients = mail.to.len(), "mail sent");
                report.sent += 1;
                Ok("sent")
            }
            Err(e) => {
                let rejections = d.rejections + i64::from(e.permanent);
                let give_up = e.permanent && rejections >= MAX_REJECTIONS;
                let delay = SignedDuration::try_from(retry_delay(d.attempts))
                    .unwrap_or(SignedDuration::from_hours(1));
                let next = now.checked_add(delay).unwrap_or(now);
                store
                    .mark_attempt_failed(d, &e.message, e.permanent, give_up, next)
                    .await?;
                if give_up {
                    tracing::error!(message_id = %d.message_id, tenant = %d.tenant, error = %e,
                        "mail rejected {MAX_REJECTIONS} times; marked failed \
                        (see `pirwatch incidents`)");
                    report.failed += 1;
                    Ok("failed")
                } else {
                    tracing::warn!(message_id = %d.message_id, tenant = %d.tenant, error = %e,
                        permanent = e.permanent, retry_at = %next,
                        "mail not delivered; will retry");
                    report.deferred += 1;
                    Ok("deferred")
                }
            }
        }
    }

    /// Renders a delivery from the store's state at `now`.
    async fn compose(
        &self,
        store: &Store,
        config: &Config,
        d: &QueuedDelivery,
        now: Timestamp,
    ) -> Result<Composed, StoreError> {
        let Some(tenant) = config.tenant(&d.tenant) else {
            let why = format!("tenant {:?} is no longer in the config", d.tenant.as_str());
            return Ok(Composed::Undeliverable(why));
        };
        let mut stored = store.load_incidents(&tenant.name, &d.incidents).await?;
        let incidents: Vec<Incident> = d
            .incidents
            .iter()
            .filter_map(|id| stored.remove(id))
            .collect();
        let Some(first) = incidents.first() else {
            return Ok(Composed::Superseded(
                "its incident is no longer stored".into(),
            ));
        };
        let ctx = self.context(tenant);
        let rendered = match d.kind {
            NoticeKind::Digest => {
                let list: Vec<(&Incident, Option<ClaimDates>)> = incidents
                    .iter()
                    .map(|i| (i, claim_of(i, &tenant.policy.claim)))
                    .collect();
                self.renderer.digest(&list, &ctx).map(|r| (r, None))
            }
            NoticeKind::Reminder => {
                let Some(key) = d.reminder else {
                    return Ok(Composed::Undeliverable(
                        "a reminder without its step".into(),
                    ));
                };
                let acks = Acks::from_records(&store.acks(&tenant.name, &first.tracking_id).await?);
                let f = assess(first, &acks, &BTreeSet::new(), &tenant.policy, now);
                if !f.still_applies(key) {
                    return Ok(Composed::Superseded(why_superseded(&f, key)));
                }
                self.reminder(tenant, first, key, &f, now)
            }
            kind => {
                let news: Vec<_> = match d.updates_from {
                    Some(from) => first
                        .updates
                        .iter()
                        .filter(|u| u.published >= from)
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
                let claim = claim_of(first, &tenant.policy.claim);
                self.renderer
                    .incident(kind, first, &news, claim, &ctx)
                    .map(|r| (r, None))
            }
        };
        let (r, ics) = match rendered {
            Ok(ok) => ok,
            Err(e) => return Ok(Composed::Undeliverable(e.to_string())),
        };
        let in_reply_to = if d.kind == NoticeKind::Digest {
            None
        } else {
            store
                .thread_root(&tenant.name, &first.tracking_id, &d.receiver)
                .await?
        };
        Ok(Composed::Mail(Box::new(OutgoingMail {
            message_id: d.message_id.clone(),
            kind: d.kind.as_str(),
            to: tenant.config.recipients.clone(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            in_reply_to,
            date: d.planned,
            ics,
        })))
    }

    /// A reminder's mail, with the claim deadline as an `.ics` while the claim is open.
    fn reminder(
        &self,
        tenant: &Tenant,
        i: &Incident,
        key: ReminderKey,
        f: &FollowUp,
        now: Timestamp,
    ) -> Result<(crate::notify::render::Rendered, Option<String>), crate::notify::render::RenderError>
    {
        let claim = f.claim.dates();
        let r = Reminder { key, at: now };
        let rendered = self
            .renderer
            .reminder(&r, i, claim, &self.context(tenant), now)?;
        let ics = match (&f.claim, key.series) {
            (ClaimStatus::Open(c), s) if s != Series::WindowClosed => Some(ics::claim_deadline(
                &i.tracking_id,
                &i.tenant,
                &self.domain,
                c.remind_by,
                tenant.config.claim_channel,
                now,
            )),
            _ => None,
        };
        Ok((rendered, ics))
    }
}

/// Why a queued reminder is no longer true, in the reader's words.
fn why_superseded(f: &FollowUp, key: ReminderKey) -> String {
    match (key.series, &f.claim, &f.review) {
        (Series::Claim | Series::WindowClosed, ClaimStatus::Decided { .. }, _) => {
            "the claim was filed or declined".into()
        }
        (Series::Claim, ClaimStatus::WindowClosed(_), _) => "the claim window closed".into(),
        (Series::PirReview | Series::PirNudge, _, ReviewStatus::Reviewed { .. }) => {
            "the PIR review was acknowledged".into()
        }
        _ => format!("reminder {key} is no longer scheduled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(retry_delay(0), Duration::from_secs(30));
        assert_eq!(retry_delay(1), Duration::from_secs(60));
        assert_eq!(retry_delay(6), Duration::from_secs(1920));
        assert_eq!(retry_delay(7), Duration::from_secs(3600));
        assert_eq!(retry_delay(1000), Duration::from_secs(3600));
    }

    /// Defect 7 of issue 7: the watchdog allowed a fixed 120 s per mail, so a longer
    /// `smtp.timeout` let systemd restart pirwatch in the middle of a delivery.
    #[test]
    fn the_watchdog_allowance_grows_with_the_smtp_timeout() {
        for secs in [10, 30, 120, 300, 600] {
            let timeout = Duration::from_secs(secs);
            assert!(delivery_allowance(timeout) > timeout * 2, "{secs}s");
        }
        assert!(delivery_allowance(Duration::from_secs(300)) > Duration::from_secs(120));
    }
}
