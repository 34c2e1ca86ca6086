//! What pirwatch knows about an incident, put together for people: the follow-up state
//! (PIR review, claim, next reminder — all read off [`followup::assess`]) for
//! `pirwatch incidents`, and the full record (every update, acknowledgements, mails) for
//! `pirwatch show` and the PIR archive (`pirwatch export`). Loads are batched: listing or
//! exporting every incident is a handful of queries, not a few per incident.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{Config, Tenant};
use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::{ClaimChannel, ClaimPolicy};
use crate::followup::schedule::ReminderPolicy;
use crate::followup::{self, ClaimStatus, FollowUp, ReviewStatus, TenantPolicy};
use crate::incident::ack::{Ack, Acks, ClaimDecision};
use crate::incident::notice::ReminderKey;
use crate::incident::{Incident, TrackingId, Update};
use crate::notify::render::{RenderError, Renderer, to_text};
use crate::store::outbox::last_mail;
use crate::store::{LastMail, MailRecord, Store, StoreError};

pub mod draft;

/// The PIR review's state.
#[derive(Debug, Clone, Serialize)]
pub struct PirReview {
    /// `no_pir`, `to_review`, `reviewed` or `not_applicable` (false positive).
    pub state: &'static str,
    /// The stage to review, or the one reviewed.
    pub stage: Option<&'static str>,
    pub by: Option<String>,
    pub at: Option<Timestamp>,
}

/// The SLA claim's state.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// `not_applicable`, `open`, `claimed`, `declined` or `window_closed`.
    pub state: &'static str,
    pub channel: &'static str,
    /// The date to file by: while open, the one reminders and "days left" count to now (a
    /// margin date, the partner's or the SLA's); else the SLA's own.
    pub deadline: Option<String>,
    /// Days left to `deadline`, while open (the team's zone).
    pub days_left: Option<i32>,
    /// Microsoft's own deadline: the window closes after this day.
    pub sla_deadline: Option<String>,
    pub partner_deadline: Option<String>,
    /// The deadline of the next billing period, for an incident that ran on into it.
    pub next_period_deadline: Option<String>,
    /// The team's buffer (`claim_margin_days`).
    pub margin_days: u32,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub by: Option<String>,
    pub at: Option<Timestamp>,
}

/// The next reminder to go out.
#[derive(Debug, Clone, Serialize)]
pub struct NextReminder {
    pub kind: &'static str,
    /// Which one (`claim-d7`).
    pub step: String,
    pub at: Timestamp,
}

/// One incident with its follow-up state: a row of `pirwatch incidents --json`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    pub tenant: String,
    pub tracking_id: String,
    /// False when the tenant is no longer in the config: its follow-ups are then shown under
    /// the default policy and no reminder goes out.
    pub tenant_configured: bool,
    pub title: String,
    pub event_type: String,
    pub status: String,
    pub pir: &'static str,
    pub false_positive: bool,
    pub impact_start: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    /// Microsoft's own claim deadline (`claim` has the date to file by).
    pub claim_deadline: Option<String>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub subscriptions: Vec<String>,
    pub first_seen: Timestamp,
    /// Updates stored.
    pub updates: i64,
    pub last_mail: Option<LastMail>,
    pub pir_review: PirReview,
    pub claim: Claim,
    pub next_reminder: Option<NextReminder>,
    /// How many resources Resource Health lists as impacted.
    pub impacted_resources: usize,
}

/// The full record of one incident: `pirwatch show` and `export`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRecord {
    #[serde(flatten)]
    pub row: IncidentRow,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub article: Option<String>,
    #[serde(rename = "timeline")]
    pub updates: Vec<Update>,
    pub acknowledgements: Vec<Ack>,
    pub mails: Vec<MailRecord>,
    /// The impacted resources, each with its downtime as reported by Resource Health.
    pub resources: Vec<crate::evidence::ResourceRecord>,
    /// Why impacted resources could not be fetched (a 403), if they could not.
    pub resources_error: Option<String>,
}

/// The policy of a tenant that left the config: shown, never acted on.
fn default_policy() -> TenantPolicy {
    TenantPolicy {
        calendar: WorkCalendar::office_hours(jiff::tz::TimeZone::UTC),
        claim: ClaimPolicy {
            billing_start_day: 1,
            ..Default::default()
        },
        reminders: ReminderPolicy::default(),
        notify_event_types: BTreeSet::new(),
        ignore_services: Default::default(),
    }
}

/// What one row is computed from.
struct Facts<'a> {
    incident: &'a Incident,
    acks: &'a [Ack],
    sent: &'a BTreeSet<ReminderKey>,
    updates: i64,
    last_mail: Option<LastMail>,
    resources: usize,
}

/// One incident's row, as of `now`.
fn row(config: &Config, f: Facts<'_>, now: Timestamp) -> IncidentRow {
    let i = f.incident;
    let tenant: Option<&Tenant> = config.tenant(&i.tenant);
    let fallback = default_policy();
    let policy = tenant.map_or(&fallback, |t| &t.policy);
    let channel = tenant.map_or(ClaimChannel::Microsoft, |t| t.config.claim_channel);
    let follow = followup::assess(i, &Acks::from_records(f.acks), f.sent, policy, now);
    IncidentRow {
        tenant: i.tenant.to_string(),
        tracking_id: i.tracking_id.to_string(),
        tenant_configured: tenant.is_some(),
        title: i.title.clone(),
        event_type: i.event_type.to_string(),
        status: i.status.to_string(),
        pir: i.pir.as_str(),
        false_positive: i.false_positive,
        impact_start: i.impact_start,
        mitigated_at: i.mitigated_at,
        claim_deadline: follow.claim.dates().map(|c| c.sla_deadline.to_string()),
        services: i.services().into_iter().map(str::to_owned).collect(),
        regions: i.regions().into_iter().map(str::to_owned).collect(),
        subscriptions: i.subscriptions.iter().cloned().collect(),
        first_seen: i.first_seen,
        updates: f.updates,
        last_mail: f.last_mail,
        pir_review: pir_review(&follow),
        claim: claim(&follow, channel, policy.calendar.timezone(), now),
        next_reminder: follow
            .next
            .filter(|_| tenant.is_some())
            .map(|r| NextReminder {
                kind: r.series().as_str(),
                step: r.key.step.to_string(),
                at: r.at,
            }),
        impacted_resources: f.resources,
    }
}

fn pir_review(f: &FollowUp) -> PirReview {
    let (stage, by, at) = match &f.review {
        ReviewStatus::ToReview(s) => (Some(s.as_str()), None, None),
        ReviewStatus::Reviewed { stage, by, at } => {
            (Some(stage.as_str()), Some(by.clone()), Some(*at))
        }
        ReviewStatus::NoPir | ReviewStatus::NotApplicable => (None, None, None),
    };
    PirReview {
        state: f.review.as_str(),
        stage,
        by,
        at,
    }
}

fn claim(f: &FollowUp, channel: ClaimChannel, tz: &jiff::tz::TimeZone, now: Timestamp) -> Claim {
    let dates = f.claim.dates();
    let due = crate::followup::actions::ClaimDue::of(&f.claim, now, tz);
    let (reference, reason, by, at) = match &f.claim {
        ClaimStatus::Decided {
            decision, by, at, ..
        } => {
            let (reference, reason) = match decision {
                ClaimDecision::Claimed { reference } => (reference.clone(), None),
                ClaimDecision::Declined { reason } => (None, reason.clone()),
            };
            (reference, reason, Some(by.clone()), Some(*at))
        }
        _ => (None, None, None, None),
    };
    Claim {
        state: f.claim.as_str(),
        channel: channel.as_str(),
        deadline: due
            .as_ref()
            .map(|d| d.file_by)
            .or(dates.map(|c| c.sla_deadline))
            .map(|d| d.to_string()),
        days_left: due.as_ref().map(|d| d.days_left),
        sla_deadline: dates.map(|c| c.sla_deadline.to_string()),
        partner_deadline: dates
            .and_then(|c| c.partner_deadline)
            .map(|d| d.to_string()),
        next_period_deadline: dates
            .and_then(|c| c.next_period_deadline)
            .map(|d| d.to_string()),
        margin_days: dates.map_or(0, |c| c.margin_days),
        reference,
        reason,
        by,
        at,
    }
}

type ByIncident<T> = HashMap<(String, TrackingId), T>;

/// The follow-up steps planned per incident.
fn steps(h: ByIncident<crate::store::FollowUpHistory>) -> ByIncident<BTreeSet<ReminderKey>> {
    h.into_iter().map(|(k, v)| (k, v.steps)).collect()
}

/// Everything the rows of many incidents are computed from, loaded in a few queries.
struct Batch {
    acks: ByIncident<Vec<Ack>>,
    sent: ByIncident<BTreeSet<ReminderKey>>,
    updates: ByIncident<i64>,
    mails: ByIncident<Vec<MailRecord>>,
    evidence: ByIncident<crate::evidence::Evidence>,
}

impl Batch {
    async fn load(store: &Store) -> Result<Self, StoreError> {
        let updates = store
            .update_counts()
            .await?
            .into_iter()
            .map(|((t, id), n)| ((t.to_string(), id), n))
            .collect();
        Ok(Self {
            acks: store.acks_by_incident(None).await?,
            sent: steps(store.sent_steps(None).await?),
            updates,
            mails: store.mails_by_incident(None).await?,
            evidence: store.all_evidence().await?,
        })
    }

    fn record(&mut self, config: &Config, i: Incident, now: Timestamp) -> IncidentRecord {
        let key = (i.tenant.to_string(), i.tracking_id.clone());
        let acks = self.acks.remove(&key).unwrap_or_default();
        let sent = self.sent.remove(&key).unwrap_or_default();
        let mails = self.mails.remove(&key).unwrap_or_default();
        let last_mail = mails.last().cloned().map(last_mail);
        let evidence = self.evidence.remove(&key).unwrap_or_default();
        let facts = Facts {
            incident: &i,
            acks: &acks,
            sent: &sent,
            updates: self.updates.get(&key).copied().unwrap_or(0),
            last_mail,
            resources: evidence.resources.len(),
        };
        let row = row(config, facts, now);
        let resources = evidence.records(&i);
        IncidentRecord {
            row,
            summary: i.summary,
            description: i.description,
            article: i.article,
            updates: i.updates,
            acknowledgements: acks,
            mails,
            resources,
            resources_error: evidence.resources_error,
        }
    }
}

/// Every incident's row, newest first.
pub async fn rows(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<IncidentRow>, StoreError> {
    let mut batch = Batch::load(store).await?;
    // With their updates: an incident's start (and so its claim deadline) may be its first one.
    Ok(store
        .all_incidents_with_updates()
        .await?
        .into_iter()
        .map(|i| batch.record(config, i, now).row)
        .collect())
}

/// Every incident's full record, newest first (`export --all`).
pub async fn all_records(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<IncidentRecord>, StoreError> {
    let mut batch = Batch::load(store).await?;
    Ok(store
        .all_incidents_with_updates()
        .await?
        .into_iter()
        .map(|i| batch.record(config, i, now))
        .collect())
}

/// The full record of one incident.
pub async fn record(
    store: &Store,
    config: &Config,
    tenant: &str,
    tracking_id: &str,
    now: Timestamp,
) -> Result<Option<IncidentRecord>, StoreError> {
    let Some(i) = store.incident(tenant, tracking_id).await? else {
        return Ok(None);
    };
    let key = (tenant.to_owned(), i.tracking_id.clone());
    let sent = store
        .sent_steps(Some(tenant))
        .await?
        .remove(&key)
        .unwrap_or_default()
        .steps;
    let updates = i64::try_from(i.updates.len()).unwrap_or(i64::MAX);
    let mut batch = Batch {
        acks: HashMap::from([(key.clone(), store.acks(tenant, tracking_id).await?)]),
        sent: HashMap::from([(key.clone(), sent)]),
        updates: HashMap::from([(key.clone(), updates)]),
        mails: HashMap::from([(key.clone(), store.mails_about(tenant, tracking_id).await?)]),
        evidence: HashMap::from([(key, store.evidence(tenant, tracking_id).await?)]),
    };
    Ok(Some(batch.record(config, i, now)))
}

/// How an incident's record is written out.
#[derive(Debug, Clone, Copy)]
pub enum Presentation<'a> {
    /// The archive (`export`): times in UTC, stamped with when it was exported.
    Export { at: Timestamp },
    /// For reading now (`show`): times in the tenant's zone.
    Show { tz: &'a jiff::tz::TimeZone },
}

/// The record of an incident as Markdown, for the archive or for reading (Azure's HTML turned
/// into text; a description that repeats the summary is left out).
pub fn markdown(
    renderer: &Renderer,
    record: &IncidentRecord,
    how: Presentation<'_>,
) -> Result<String, RenderError> {
    #[derive(Serialize)]
    struct U {
        published: Timestamp,
        tags: Vec<String>,
        text: String,
    }
    let updates: Vec<U> = record
        .updates
        .iter()
        .map(|u| U {
            published: u.published,
            tags: u.tags.iter().cloned().collect(),
            text: to_text(&u.summary),
        })
        .collect();
    use minijinja::Value;
    let summary = record.summary.as_deref().map(to_text);
    let description = record
        .description
        .as_deref()
        .or(record.article.as_deref())
        .map(to_text)
        .filter(|d| Some(d) != summary.as_ref());
    let (exported, tz) = match how {
        Presentation::Export { at } => (Some(at.to_string()), None),
        Presentation::Show { tz } => (None, Some(tz.iana_name().unwrap_or("UTC").to_owned())),
    };
    let vars = minijinja::context! {
        r => Value::from(minijinja::value::Serde(&record.row)),
        summary => summary,
        description => description,
        updates => Value::from(minijinja::value::Serde(&updates)),
        acks => Value::from(minijinja::value::Serde(&record.acknowledgements)),
        mails => Value::from(minijinja::value::Serde(&record.mails)),
        resources => Value::from(minijinja::value::Serde(&record.resources)),
        resources_error => record.resources_error.as_deref(),
        exported => exported,
        tz => tz,
    };
    renderer.export_markdown(&vars)
}
