//! What pirwatch knows about an incident, put together for people: the follow-up state
//! (PIR review, claim, next reminder) for `pirwatch incidents`, and the full record (every
//! update, acknowledgements, mails) for `pirwatch show` and the PIR archive (`pirwatch export`).

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{Config, TenantConfig};
use crate::daemon::claim_of;
use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::{ClaimChannel, ClaimDates, ClaimPolicy};
use crate::followup::schedule::{self, Inputs, ReminderPolicy};
use crate::incident::{Incident, PirState};
use crate::source::event::Update;
use crate::store::{AckKind, AckRecord, LastMail, MailRecord, Store, StoreError, acks_summary};

/// The PIR review's state.
#[derive(Debug, Clone, Serialize)]
pub struct PirReview {
    /// `no_pir`, `to_review`, `reviewed` or `not_applicable` (false positive).
    pub state: &'static str,
    pub by: Option<String>,
    pub at: Option<Timestamp>,
}

/// The SLA claim's state.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// `not_applicable`, `open`, `claimed`, `declined` or `window_closed`.
    pub state: &'static str,
    pub channel: &'static str,
    /// The date reminded: the earlier of the SLA's and the partner's deadline.
    pub deadline: Option<String>,
    pub sla_deadline: Option<String>,
    pub partner_deadline: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub by: Option<String>,
    pub at: Option<Timestamp>,
}

/// The next reminder to go out.
#[derive(Debug, Clone, Serialize)]
pub struct NextReminder {
    pub kind: &'static str,
    pub at: Timestamp,
}

/// One incident with its follow-up state: a row of `pirwatch incidents --json`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    pub tenant: String,
    pub tracking_id: String,
    pub title: String,
    pub event_type: String,
    pub status: String,
    pub pir: &'static str,
    pub false_positive: bool,
    pub impact_start: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
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
    pub acknowledgements: Vec<AckRecord>,
    pub mails: Vec<MailRecord>,
}

/// The tenant's policies, or the defaults when the tenant left the config.
struct Policies {
    claim: ClaimPolicy,
    reminders: ReminderPolicy,
    calendar: WorkCalendar,
    channel: ClaimChannel,
}

fn policies(tenant: Option<&TenantConfig>) -> Policies {
    match tenant {
        Some(t) => Policies {
            claim: t.claim_policy(),
            reminders: t.reminder_policy(),
            calendar: t.calendar(),
            channel: t.claim_channel,
        },
        None => Policies {
            claim: ClaimPolicy {
                billing_start_day: 1,
                ..Default::default()
            },
            reminders: ReminderPolicy::default(),
            calendar: WorkCalendar::office_hours(jiff::tz::TimeZone::UTC),
            channel: ClaimChannel::Microsoft,
        },
    }
}

/// One incident's row, as of `now`.
pub async fn row(
    store: &Store,
    config: &Config,
    i: &Incident,
    last_mail: Option<LastMail>,
    now: Timestamp,
) -> Result<IncidentRow, StoreError> {
    let tenant = config.tenants.iter().find(|t| t.name == i.tenant);
    let p = policies(tenant);
    let records = store.acks(&i.tenant, &i.tracking_id).await?;
    let acks = acks_summary(&records);
    let claim = claim_of(i, &p.claim);
    let all = schedule::reminders(
        Inputs {
            incident: i,
            pir_seen: i.pir_seen,
            claim,
            acks: &acks,
        },
        &p.reminders,
        &p.calendar,
    );
    let sent = store.reminder_steps(&i.tenant, &i.tracking_id).await?;
    let notifies = config.notify.event_types.contains(i.event_type.as_str());
    let next = schedule::next(&all, &sent, now)
        .filter(|_| notifies)
        .map(|r| NextReminder {
            kind: r.series.as_str(),
            at: r.at,
        });
    Ok(IncidentRow {
        tenant: i.tenant.clone(),
        tracking_id: i.tracking_id.clone(),
        title: i.title.clone(),
        event_type: i.event_type.to_string(),
        status: i.status.to_string(),
        pir: i.pir.as_str(),
        false_positive: i.false_positive,
        impact_start: i.impact_start,
        mitigated_at: i.mitigated_at,
        claim_deadline: claim.map(|c| c.remind_by.to_string()),
        services: i.services().into_iter().map(str::to_owned).collect(),
        regions: i.regions().into_iter().map(str::to_owned).collect(),
        subscriptions: i.subscriptions.iter().cloned().collect(),
        first_seen: i.first_seen,
        updates: store.update_count(&i.tenant, &i.tracking_id).await?,
        last_mail,
        pir_review: pir_review(i, &records),
        claim: claim_state(i, claim, &records, p.channel, p.calendar.date_of(now)),
        next_reminder: next,
    })
}

fn pir_review(i: &Incident, records: &[AckRecord]) -> PirReview {
    let reviewed = records.iter().find(|a| a.kind == AckKind::Reviewed);
    PirReview {
        state: match (i.false_positive, reviewed, i.pir) {
            (true, _, _) => "not_applicable",
            (_, Some(_), _) => "reviewed",
            (_, None, PirState::None) => "no_pir",
            (_, None, _) => "to_review",
        },
        by: reviewed.map(|a| a.by.clone()),
        at: reviewed.map(|a| a.at),
    }
}

fn claim_state(
    i: &Incident,
    claim: Option<ClaimDates>,
    records: &[AckRecord],
    channel: ClaimChannel,
    today: jiff::civil::Date,
) -> Claim {
    let decided = records.iter().find(|a| a.kind != AckKind::Reviewed);
    Claim {
        state: match (claim, i.false_positive, decided.map(|a| &a.kind)) {
            (None, _, _) | (_, true, _) => "not_applicable",
            (_, _, Some(AckKind::Claimed { .. })) => "claimed",
            (_, _, Some(_)) => "declined",
            (Some(c), _, None) if c.remind_by < today => "window_closed",
            (Some(_), _, None) => "open",
        },
        channel: channel.as_str(),
        deadline: claim.map(|c| c.remind_by.to_string()),
        sla_deadline: claim.map(|c| c.sla_deadline.to_string()),
        partner_deadline: claim
            .and_then(|c| c.partner_deadline)
            .map(|d| d.to_string()),
        reference: decided.and_then(|a| match &a.kind {
            AckKind::Claimed { reference } => reference.clone(),
            _ => None,
        }),
        reason: decided.and_then(|a| match &a.kind {
            AckKind::NoClaim { reason } => reason.clone(),
            _ => None,
        }),
        by: decided.map(|a| a.by.clone()),
        at: decided.map(|a| a.at),
    }
}

/// Every incident's row, newest first.
pub async fn rows(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<IncidentRow>, StoreError> {
    let mut last = store.last_mails().await?;
    let mut out = Vec::new();
    for i in store.all_incidents().await? {
        let mail = last.remove(&(i.tenant.clone(), i.tracking_id.clone()));
        out.push(row(store, config, &i, mail, now).await?);
    }
    Ok(out)
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
    let mail = store
        .last_mails()
        .await?
        .remove(&(tenant.to_owned(), tracking_id.to_owned()));
    Ok(Some(IncidentRecord {
        row: row(store, config, &i, mail, now).await?,
        summary: i.summary.clone(),
        description: i.description.clone(),
        article: i.article.clone(),
        acknowledgements: store.acks(tenant, tracking_id).await?,
        mails: store.mails_about(tenant, tracking_id).await?,
        updates: i.updates,
    }))
}
