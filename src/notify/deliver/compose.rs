//! What a delivery says: its notice rendered from the store's state at send time, or why it
//! will not be sent (superseded: no longer true; undeliverable: it never can be), and the
//! operators' direct alert when the store cannot be written.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{Composed, Notifier};
use crate::config::{Config, Tenant};
use crate::followup::claim::{ClaimDates, claim_of};
use crate::followup::schedule::Reminder;
use crate::followup::{ClaimStatus, FollowUp, ReviewStatus, assess};
use crate::incident::ack::Acks;
use crate::incident::notice::{ReminderKey, Series};
use crate::incident::{Incident, NoticeKind};
use crate::metrics::Metrics;
use crate::notify::channel::email::OutgoingMail;
use crate::notify::ics;
use crate::store::{QueuedDelivery, Store, StoreError};

impl Notifier {
    /// Renders a delivery from the store's state at `now`.
    pub(super) async fn compose(
        &self,
        store: &Store,
        config: &Config,
        d: &QueuedDelivery,
        now: Timestamp,
    ) -> Result<Composed, StoreError> {
        if d.kind == NoticeKind::Operator {
            return self.compose_operator(store, config, d).await;
        }
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
                let mut list: Vec<(&Incident, Option<ClaimDates>)> = Vec::new();
                for i in &incidents {
                    list.push((i, open_claim(store, tenant, i, now).await?));
                }
                // Soonest deadline first; those with none last.
                list.sort_by_key(|(i, c)| {
                    (c.is_none(), c.map(|c| c.remind_by), i.tracking_id.clone())
                });
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
                let claim = open_claim(store, tenant, first, now).await?;
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
            list_id: Some(crate::notify::channel::email::list_id(
                &tenant.name,
                &self.domain,
            )),
        })))
    }

    /// A notice to the operators, while what it says is still true.
    async fn compose_operator(
        &self,
        store: &Store,
        config: &Config,
        d: &QueuedDelivery,
    ) -> Result<Composed, StoreError> {
        use crate::incident::notice::OperatorCause as C;
        let Some(cause) = &d.operator else {
            return Ok(Composed::Undeliverable(
                "an operator notice without its cause".into(),
            ));
        };
        if config.notify.operators.is_empty() {
            return Ok(Composed::Superseded(
                "no [notify] operators any more".into(),
            ));
        }
        let still = match cause {
            C::ScopeNotPolled { tenant, scope, .. } => store
                .scope_health()
                .await?
                .iter()
                .any(|h| &h.tenant == tenant && &h.scope == scope && h.failing_since.is_some()),
            C::CredentialFailing { tenant, .. } => store
                .scope_health()
                .await?
                .iter()
                .any(|h| &h.tenant == tenant && h.failing_since.is_some() && h.credential),
            C::DeliveryFailed { message_id, .. } => store
                .outbox()
                .await?
                .iter()
                .any(|e| e.message_id.as_str() == message_id && e.dismissed_at.is_none()),
        };
        if !still {
            return Ok(Composed::Superseded("resolved meanwhile".into()));
        }
        let r = match self.renderer.operator(cause) {
            Ok(r) => r,
            Err(e) => return Ok(Composed::Undeliverable(e.to_string())),
        };
        Ok(Composed::Mail(Box::new(OutgoingMail {
            message_id: d.message_id.clone(),
            kind: d.kind.as_str(),
            to: config.notify.operators.clone(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            in_reply_to: None,
            date: d.planned,
            ics: None,
            list_id: Some(crate::notify::channel::email::list_id(
                "operators",
                &self.domain,
            )),
        })))
    }

    /// Tells the operators directly that the store cannot be written (the outbox cannot take
    /// that notice), at most once a day.
    pub(super) async fn alert_unwritable(
        &self,
        config: &Config,
        error: &str,
        now: Timestamp,
        metrics: &Metrics,
    ) {
        if config.notify.operators.is_empty() || !metrics.store_unwritable.alert_due() {
            return;
        }
        let day = now.as_second().div_euclid(86_400);
        let mail = OutgoingMail {
            message_id: crate::incident::MessageId::new(format!(
                "<operator.store-unwritable.day-{day}@{}>",
                self.domain
            )),
            kind: "operator",
            to: config.notify.operators.clone(),
            subject: "[pirwatch] Needs attention: the state store cannot be written".into(),
            text: format!(
                "pirwatch cannot write its state store, so it delivers no mail until it can \
                 (nothing is lost: queued mail waits).\n\n{error}\n\nWhat to do: free disk space \
                 or make the state directory writable; pirwatch resumes by itself.\n"
            ),
            html: String::new(),
            in_reply_to: None,
            date: now,
            ics: None,
            list_id: Some(crate::notify::channel::email::list_id(
                "operators",
                &self.domain,
            )),
        };
        let mail = OutgoingMail {
            html: format!("<pre>{}</pre>", ammonia::clean_text(&mail.text)),
            ..mail
        };
        let to: Vec<lettre::Address> = mail.to.iter().map(|m| m.email.clone()).collect();
        match self.mailer.send(&mail, &to).await {
            Ok(_) => tracing::info!("told the operators that the store cannot be written"),
            Err(e) => tracing::warn!(error = %e, "could not tell the operators"),
        }
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
        // Only an open claim is to be filed; "window closed" names the date that passed.
        let claim = match (&f.claim, key.series) {
            (ClaimStatus::Open(d), _) => Some(*d),
            (ClaimStatus::WindowClosed(d), Series::WindowClosed) => Some(*d),
            _ => None,
        };
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
                &self.ack_command,
                now,
            )),
            _ => None,
        };
        Ok((rendered, ics))
    }
}

/// The claim dates of `i` if its claim is still to be filed at `now`, else `None`: a mail never
/// says "file by" about a claim filed, declined or past its window.
async fn open_claim(
    store: &Store,
    tenant: &Tenant,
    i: &Incident,
    now: Timestamp,
) -> Result<Option<ClaimDates>, StoreError> {
    if claim_of(i, &tenant.policy.claim).is_none() {
        return Ok(None);
    }
    let acks = Acks::from_records(&store.acks(&tenant.name, &i.tracking_id).await?);
    Ok(
        match assess(i, &acks, &BTreeSet::new(), &tenant.policy, now).claim {
            ClaimStatus::Open(d) => Some(d),
            _ => None,
        },
    )
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
