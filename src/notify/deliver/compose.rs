//! What a delivery says: its notice rendered from the store's state at send time, or why it
//! will not be sent (superseded: no longer true; undeliverable: it never can be), and the
//! operators' direct alert when the store cannot be written.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{Composed, Notifier};
use crate::config::{Config, Tenant};
use crate::followup::actions::{Action, ClaimDue, actions};
use crate::followup::{ClaimStatus, FollowUp, ReviewStatus, assess};
use crate::incident::ack::Acks;
use crate::incident::notice::{Receiver, ReminderKey, Series};
use crate::incident::{Incident, NoticeKind};
use crate::metrics::Metrics;
use crate::notify::channel::email::OutgoingMail;
use crate::notify::channel::webhook::payload::{self, Document, IncidentDoc};
use crate::notify::ics;
use crate::notify::route::RouteKind;
use crate::store::{QueuedDelivery, Store, StoreError};

impl Notifier {
    /// Renders a delivery from the store's state at `now` (`pirwatch preview` shows the result
    /// without sending it).
    pub async fn compose(
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
        let (to, cc) = match addressees(config, tenant, &d.receiver) {
            Ok(a) => a,
            Err(why) => return Ok(Composed::Undeliverable(why)),
        };
        let Some(first) = incidents.first() else {
            return Ok(Composed::Superseded(
                "its incident is no longer stored".into(),
            ));
        };
        // Fresh signed links in every mail (with `[web]`): the incident's actions, and the
        // tenant's page; a digest, about several incidents, links the page only.
        let links = self
            .links
            .as_ref()
            .filter(|_| d.kind != NoticeKind::Digest)
            .map(|m| m.incident(&tenant.name, &first.tracking_id, &d.receiver, now));
        let page = self
            .links
            .as_ref()
            .map(|m| m.tenant_page(&tenant.name, &d.receiver, now));
        let evidence = store
            .evidence(&tenant.name, first.tracking_id.as_str())
            .await?;
        let resources = crate::notify::render::ResourcesView::of(&evidence.resources);
        let mut ctx = self.context(tenant, now);
        ctx.resources = resources.as_ref();
        ctx.links = links.as_ref();
        ctx.tenant_page = page.as_deref();
        let tz = tenant.policy.calendar.timezone();
        // What a webhook receives: the same facts, structured.
        let mut docs: Vec<IncidentDoc> = Vec::new();
        let rendered = match d.kind {
            NoticeKind::Digest => {
                let mut list: Vec<(&Incident, Option<ClaimDue>)> = Vec::new();
                for i in &incidents {
                    let f = follow_up(store, tenant, i, now).await?;
                    list.push((i, ClaimDue::of(&f.claim, now, tz)));
                }
                // Soonest deadline first; those with none last.
                list.sort_by_key(|(i, c)| {
                    (
                        c.is_none(),
                        c.as_ref().map(|c| c.file_by),
                        i.tracking_id.clone(),
                    )
                });
                // A summary, not a dump: the soonest deadlines, and the count of the rest.
                let more = list.len().saturating_sub(config.notify.digest_max_items);
                list.truncate(config.notify.digest_max_items);
                docs = list
                    .iter()
                    .map(|(i, c)| IncidentDoc::of(i, c.as_ref(), &[]))
                    .collect();
                self.renderer.digest(&list, more, &ctx).map(|r| (r, None))
            }
            kind => {
                let f = follow_up(store, tenant, first, now).await?;
                let claim = ClaimDue::of(&f.claim, now, tz);
                let asked = actions(&f, &d.follow_ups, now, tz);
                if kind == NoticeKind::Reminder && asked.is_empty() {
                    return Ok(Composed::Superseded(why_superseded(&f, &d.follow_ups)));
                }
                let ics = claim
                    .as_ref()
                    .filter(|_| asked.iter().any(|a| matches!(a, Action::FileClaim(_))))
                    .map(|c| self.claim_ics(tenant, first, c, now));
                let news: Vec<_> = match d.updates_from {
                    Some(from) => first
                        .updates
                        .iter()
                        .filter(|u| u.published >= from)
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
                docs.push(IncidentDoc {
                    page: links.as_ref().map(|l| l.incident.clone()),
                    ..IncidentDoc::of(first, claim.as_ref(), &asked)
                });
                let r = if kind == NoticeKind::Reminder {
                    self.renderer.reminder(&asked, first, claim.as_ref(), &ctx)
                } else {
                    self.renderer
                        .incident(kind, first, &news, claim.as_ref(), &asked, &ctx)
                };
                r.map(|r| (r, ics))
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
        // What no one else takes reaches the fallback; a sensitive event's content does not.
        let sensitive = incidents
            .iter()
            .any(|i| i.sensitive || i.event_type == crate::incident::EventType::SecurityAdvisory);
        let (subject, text, html) = if d.receiver == Receiver::Fallback && sensitive {
            let s = redacted(&tenant.name, &incidents, tenant.portal_url);
            (s.0, s.1, s.2)
        } else {
            (r.subject, r.text, r.html)
        };
        if let Receiver::Webhook(_) = d.receiver {
            return Ok(Composed::Webhook(Box::new(Document {
                schema: payload::SCHEMA,
                id: bare(&d.message_id),
                kind: RouteKind::of(d.kind).map_or("operator", RouteKind::as_str),
                tenant: Some(tenant.name.to_string()),
                route: None,
                sent_at: now,
                subject,
                text,
                incidents: docs,
                tenant_page: page,
            })));
        }
        Ok(Composed::Mail(Box::new(OutgoingMail {
            message_id: d.message_id.clone(),
            kind: d.kind.as_str(),
            to,
            cc,
            subject,
            text,
            html,
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
            cc: Vec::new(),
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
            cc: Vec::new(),
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

    /// The claim's date to file by as an all-day `.ics` event.
    fn claim_ics(&self, tenant: &Tenant, i: &Incident, c: &ClaimDue, now: Timestamp) -> String {
        ics::claim_deadline(
            &i.tracking_id,
            &i.tenant,
            &self.domain,
            c.file_by,
            tenant.config.claim_channel,
            &self.ack_command,
            now,
        )
    }
}

type Mailboxes = Vec<lettre::message::Mailbox>;

/// Who a delivery's mail goes to (to, cc), by its receiver; why not, when its route or the
/// fallback is gone from the config.
fn addressees(
    config: &Config,
    tenant: &Tenant,
    receiver: &Receiver,
) -> Result<(Mailboxes, Mailboxes), String> {
    match receiver {
        Receiver::TenantRecipients if !tenant.config.recipients.is_empty() => {
            Ok((tenant.config.recipients.clone(), Vec::new()))
        }
        Receiver::TenantRecipients => {
            Err(format!("tenant {} has no recipients any more", tenant.name))
        }
        Receiver::Route(name) => config
            .route(name)
            .map(|r| (r.to.clone(), r.cc.clone()))
            .ok_or_else(|| format!("route {name:?} is no longer in the config")),
        Receiver::Fallback if !config.notify.fallback.is_empty() => {
            Ok((config.notify.fallback.clone(), Vec::new()))
        }
        Receiver::Fallback => Err("[notify] fallback is empty now".into()),
        Receiver::Operators => Ok((config.notify.operators.clone(), Vec::new())),
        // A webhook's "mail" is only rendered for its subject and text.
        Receiver::Webhook(_) => Ok((Vec::new(), Vec::new())),
    }
}

/// The fallback's notice of a sensitive event no route took: where to look, not what it says.
fn redacted(tenant: &str, incidents: &[Incident], portal_url: &str) -> (String, String, String) {
    let ids: Vec<&str> = incidents.iter().map(|i| i.tracking_id.as_str()).collect();
    let subject = format!(
        "[pirwatch/{tenant}] A sensitive Azure event for tenant {tenant}: {}",
        ids.join(", ")
    );
    let text = format!(
        "Azure reported a sensitive event (or a security advisory) for tenant {tenant}, tracking \
         ID {}. No route takes sensitive events for it, so this notice carries no content. Read \
         it in Service Health in the Azure portal, signed in to that tenant:\n{portal_url}\n\n\
         To send these to a team, give a route `sensitive = true`.\n",
        ids.join(", ")
    );
    let html = format!("<pre>{}</pre>", ammonia::clean_text(&text));
    (subject, text, html)
}

/// `i`'s follow-up state at `now`, from its stored acknowledgements.
pub(super) async fn follow_up(
    store: &Store,
    tenant: &Tenant,
    i: &Incident,
    now: Timestamp,
) -> Result<FollowUp, StoreError> {
    let acks = Acks::from_records(&store.acks(&tenant.name, &i.tracking_id).await?);
    Ok(assess(i, &acks, &BTreeSet::new(), &tenant.policy, now))
}

/// Why a queued follow-up mail is no longer true, in the reader's words.
fn why_superseded(f: &FollowUp, keys: &[ReminderKey]) -> String {
    let series: BTreeSet<Series> = keys.iter().map(|k| k.series).collect();
    let claim = series.contains(&Series::Claim)
        || series.contains(&Series::SlaClaim)
        || series.contains(&Series::WindowClosed);
    match (&f.claim, &f.review) {
        (ClaimStatus::Decided { .. }, _) if series.contains(&Series::ClaimChase) => {
            "the claim's answer was recorded".into()
        }
        (ClaimStatus::Decided { .. }, _) if claim => "the claim was filed or declined".into(),
        (ClaimStatus::WindowClosed(_), _) if claim => "the claim window closed".into(),
        (_, ReviewStatus::Reviewed { .. }) => "the PIR review was acknowledged".into(),
        _ => {
            let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
            format!("follow-up {} is no longer scheduled", keys.join(", "))
        }
    }
}

/// A Message-ID without its angle brackets: a webhook delivery's stable id.
pub(super) fn bare(id: &crate::incident::MessageId) -> String {
    id.as_str()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}
