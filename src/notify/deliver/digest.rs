//! A route's digest, composed at its digest time: every notice the route took in the period
//! (its members, possibly from many tenants), then the other open follow-ups of the incidents
//! the route is about, each list soonest deadline first — one morning mail for a desk watching
//! 500 tenants, not 500. Like every mail it says what is true when sent: a member reminder no
//! longer true is left out, and a digest with nothing left is not sent.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::compose::bare;
use super::{Composed, Notifier};
use crate::config::{Config, Tenant};
use crate::followup::actions::{ClaimDue, actions};
use crate::followup::{FollowUp, ReviewStatus};
use crate::incident::notice::Receiver;
use crate::incident::{Incident, NoticeKind, TenantName, TrackingId};
use crate::notify::channel::email::OutgoingMail;
use crate::notify::channel::webhook::payload::{self, Document, IncidentDoc};
use crate::notify::message_id::MessageIds;
use crate::notify::render::{DigestEntry, RouteDigest};
use crate::notify::route::{DigestSchedule, Mode, Route};
use crate::store::{QueuedDelivery, Store, StoreError};

/// How far back open follow-ups are looked for (as the daemon's follow-up planning).
const OPEN_DAYS: i64 = 200;

/// An incident in the digest, with what the reader is asked now.
struct Item {
    incident: Incident,
    changes: Vec<NoticeKind>,
    claim: Option<ClaimDue>,
    review: Option<crate::incident::ack::PirStage>,
}

impl Item {
    fn of(incident: Incident, f: &FollowUp, now: Timestamp, tz: &jiff::tz::TimeZone) -> Self {
        Self {
            claim: ClaimDue::of(&f.claim, now, tz),
            review: match f.review {
                ReviewStatus::ToReview(stage) => Some(stage),
                _ => None,
            },
            incident,
            changes: Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.claim.is_some() || self.review.is_some()
    }

    /// Soonest deadline first; those without one last.
    fn order(&self) -> (bool, Option<jiff::civil::Date>, TenantName, TrackingId) {
        (
            self.claim.is_none(),
            self.claim.as_ref().map(|c| c.file_by),
            self.incident.tenant.clone(),
            self.incident.tracking_id.clone(),
        )
    }
}

/// What a digest composition found.
pub(super) struct DigestComposition {
    pub composed: Composed,
    /// Members no longer true (a reminder acknowledged meanwhile): not in the digest.
    pub superseded: Vec<usize>,
}

/// The route (and its schedule) a digest receiver's digests come from.
fn schedule_of<'c>(
    config: &'c Config,
    receiver: &Receiver,
) -> Option<(&'c Route, &'c DigestSchedule)> {
    config.routes.iter().find_map(|r| {
        let named = match receiver {
            Receiver::Route(n) => &r.name == n,
            Receiver::Webhook(w) => r.webhooks.contains(w),
            _ => false,
        };
        match &r.mode {
            Mode::Digest(s) if named => Some((r, s)),
            _ => None,
        }
    })
}

impl Notifier {
    /// Composes the digest `batch` (the members of one receiver's digest) at `now`.
    pub(super) async fn compose_route_digest(
        &self,
        store: &Store,
        config: &Config,
        batch: &[QueuedDelivery],
        now: Timestamp,
    ) -> Result<DigestComposition, StoreError> {
        let first = &batch[0];
        let undeliverable = |why: String| DigestComposition {
            composed: Composed::Undeliverable(why),
            superseded: Vec::new(),
        };
        let Some((route, schedule)) = schedule_of(config, &first.receiver) else {
            return Ok(undeliverable(format!(
                "no route in digest mode sends to {} any more",
                first.receiver.as_str()
            )));
        };
        let tz = &schedule.timezone;
        let (mut changed, superseded) = self.members(store, config, batch, now).await?;
        if changed.is_empty() {
            return Ok(DigestComposition {
                composed: Composed::Superseded("nothing in the digest is still true".into()),
                superseded,
            });
        }
        let mut open = Vec::new();
        let tenants: Vec<&Tenant> = match &first.receiver {
            Receiver::Route(_) => config
                .tenants
                .iter()
                .filter(|t| {
                    route
                        .matcher
                        .tenants
                        .as_ref()
                        .is_none_or(|n| n.contains(t.name.as_str()))
                })
                .collect(),
            _ => config
                .tenants
                .iter()
                .filter(|t| changed.keys().any(|(n, _)| n == &t.name))
                .collect(),
        };
        let since = now
            .checked_sub(SignedDuration::from_hours(OPEN_DAYS * 24))
            .unwrap_or(Timestamp::MIN);
        for t in tenants {
            for i in store.followup_candidates(&t.name, since).await? {
                let key = (t.name.clone(), i.tracking_id.clone());
                if changed.contains_key(&key) || !route.takes(t.name.as_str(), &i) {
                    continue;
                }
                let f = super::compose::follow_up(store, t, &i, now).await?;
                let item = Item::of(i, &f, now, tz);
                if item.open() {
                    open.push(item);
                }
            }
        }
        let mut changed: Vec<Item> = std::mem::take(&mut changed).into_values().collect();
        changed.sort_by_key(Item::order);
        open.sort_by_key(Item::order);
        // A summary, not a dump: the soonest deadlines of each list, and the count of the rest.
        let max = config.notify.digest_max_items;
        let more = (
            changed.len().saturating_sub(max),
            open.len().saturating_sub(max),
        );
        changed.truncate(max);
        open.truncate(max);
        let composed = self.digest_message(route, schedule, first, (&changed, &open), more, now);
        Ok(DigestComposition {
            composed,
            superseded,
        })
    }

    /// The members' incidents, by (tenant, tracking id), with the kinds of notice each had;
    /// and the members no longer true.
    async fn members(
        &self,
        store: &Store,
        config: &Config,
        batch: &[QueuedDelivery],
        now: Timestamp,
    ) -> Result<(BTreeMap<(TenantName, TrackingId), Item>, Vec<usize>), StoreError> {
        let mut items: BTreeMap<(TenantName, TrackingId), Item> = BTreeMap::new();
        let mut superseded = Vec::new();
        for (n, d) in batch.iter().enumerate() {
            let Some(tenant) = config.tenant(&d.tenant) else {
                superseded.push(n);
                continue;
            };
            let tz = tenant.policy.calendar.timezone();
            let mut stored = store.load_incidents(&tenant.name, &d.incidents).await?;
            let mut any = false;
            for id in &d.incidents {
                let Some(i) = stored.remove(id) else { continue };
                let f = super::compose::follow_up(store, tenant, &i, now).await?;
                if d.kind == NoticeKind::Reminder && actions(&f, &d.follow_ups, now, tz).is_empty()
                {
                    continue;
                }
                any = true;
                let key = (tenant.name.clone(), id.clone());
                let item = items.entry(key).or_insert_with(|| Item::of(i, &f, now, tz));
                if !item.changes.contains(&d.kind) {
                    item.changes.push(d.kind);
                }
            }
            if !any {
                superseded.push(n);
            }
        }
        Ok((items, superseded))
    }

    /// The digest as a mail, or as a webhook document.
    fn digest_message(
        &self,
        route: &Route,
        schedule: &DigestSchedule,
        first: &QueuedDelivery,
        (changed, open): (&[Item], &[Item]),
        (more_changed, more_open): (usize, usize),
        now: Timestamp,
    ) -> Composed {
        fn entry(i: &Item) -> DigestEntry<'_> {
            DigestEntry {
                incident: &i.incident,
                changes: i.changes.clone(),
                claim: i.claim.clone(),
                review: i.review,
            }
        }
        let at = first.digest_at.unwrap_or(now);
        let digest = RouteDigest {
            route: &route.name,
            timezone: schedule.timezone.clone(),
            since: schedule.previous_before(at),
            changed: changed.iter().map(entry).collect(),
            open: open.iter().map(entry).collect(),
            more_changed,
            more_open,
            demo: self.demo,
        };
        let mut tenants: Vec<&TenantName> = changed
            .iter()
            .chain(open)
            .map(|i| &i.incident.tenant)
            .collect();
        tenants.sort();
        tenants.dedup();
        let pages: Vec<(String, String)> = match &self.links {
            Some(m) => tenants
                .iter()
                .map(|t| (t.to_string(), m.tenant_page(t, &first.receiver, now)))
                .collect(),
            None => Vec::new(),
        };
        let r = match self.renderer.route_digest(&digest, &pages) {
            Ok(r) => r,
            Err(e) => return Composed::Undeliverable(e.to_string()),
        };
        let message_id = MessageIds::new(&self.domain).route_digest(&first.receiver, at);
        if let Receiver::Webhook(_) = first.receiver {
            let doc = |i: &Item| IncidentDoc {
                changes: i.changes.iter().map(|k| k.as_str()).collect(),
                ..IncidentDoc::of(&i.incident, i.claim.as_ref(), &[])
            };
            return Composed::Webhook(Box::new(Document {
                schema: payload::SCHEMA,
                id: bare(&message_id),
                kind: "route_digest",
                tenant: None,
                route: Some(route.name.clone()),
                sent_at: now,
                subject: r.subject,
                text: r.text,
                incidents: changed.iter().chain(open).map(doc).collect(),
                tenant_page: None,
            }));
        }
        Composed::Mail(Box::new(OutgoingMail {
            message_id,
            kind: "route_digest",
            to: route.to.clone(),
            cc: route.cc.clone(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            in_reply_to: None,
            date: at,
            ics: None,
            list_id: Some(crate::notify::channel::email::list_id(
                &format!("route-{}", route.name),
                &self.domain,
            )),
        }))
    }
}
