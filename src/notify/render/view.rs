//! What the templates see of an incident: its facts with Azure's HTML sanitised (and as text),
//! times in the team's zone, and the claim and PIR dates.

use jiff::{Timestamp, civil::Date, tz::TimeZone};
use serde::Serialize;

use crate::followup::claim::ClaimDates;
use crate::followup::pir;
use crate::incident::{Incident, PirState, Update};

/// An incident as the templates see it.
#[derive(Debug, Serialize)]
pub(super) struct IncidentView {
    tracking_id: String,
    title: String,
    event_type: String,
    status: String,
    resolved: bool,
    service_issue: bool,
    false_positive: bool,
    pir: &'static str,
    summary: Option<Html>,
    description: Option<Html>,
    latest_update: Option<UpdateView>,
    pir_update: Option<UpdateView>,
    new_updates: Vec<UpdateView>,
    services: Vec<String>,
    regions: Vec<String>,
    subscriptions: Vec<String>,
    impact_start: Option<String>,
    mitigated_at: Option<String>,
    /// A claim is still to be filed: only then do mails say by when and how.
    pub(super) claim_open: bool,
    /// Why the deadline is that date, in one sentence.
    claim_rule: Option<String>,
    /// The date reminded (the earlier of the SLA's and the partner's).
    claim_deadline: Option<String>,
    sla_deadline: Option<String>,
    partner_deadline: Option<String>,
    preliminary_pir_by: Option<String>,
    final_pir_by: Option<String>,
}

/// Azure HTML, sanitised, with its text rendering.
#[derive(Debug, Serialize)]
pub(super) struct Html {
    html: String,
    text: String,
}

#[derive(Debug, Serialize)]
pub(super) struct UpdateView {
    published: String,
    tags: Vec<String>,
    body: Html,
}

/// Sanitises Azure's HTML for inclusion in ours.
pub fn sanitize(html: &str) -> String {
    ammonia::clean(html)
}

/// Azure's HTML as readable plain text.
pub fn to_text(html: &str) -> String {
    let clean = sanitize(html);
    html2text::from_read(clean.as_bytes(), 78)
        .unwrap_or(clean)
        .trim_end()
        .to_owned()
}

fn html(raw: &str) -> Html {
    Html {
        html: sanitize(raw),
        text: to_text(raw),
    }
}

/// A time in the team's zone: `Tue 2026-05-12 16:45 CEST (UTC+02:00)`.
pub fn local_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z (UTC%:z)")
        .to_string()
}

/// The claim deadline's rule, for `i`: the billing month counts in UTC.
fn claim_rule(i: &Incident) -> String {
    let start = crate::followup::claim::incident_start(i)
        .to_zoned(TimeZone::UTC)
        .date();
    format!(
        "The incident began on {} (UTC), and the SLA asks for claims within two months of the \
         end of the billing month in which the incident occurred.",
        start.strftime("%-d %B %Y")
    )
}

pub(super) fn date(d: Date) -> String {
    d.strftime("%A %Y-%m-%d").to_string()
}

fn update_view(u: &Update, tz: &TimeZone) -> UpdateView {
    UpdateView {
        published: local_time(u.published, tz),
        tags: u.tags.iter().cloned().collect(),
        body: html(&u.summary),
    }
}

pub(super) fn view(
    i: &Incident,
    new_updates: &[Update],
    claim: Option<ClaimDates>,
    tz: &TimeZone,
) -> IncidentView {
    let expected = pir::expectation(i);
    IncidentView {
        tracking_id: i.tracking_id.to_string(),
        title: i.title.clone(),
        event_type: i.event_type.words().to_owned(),
        status: i.status.to_string(),
        resolved: i.is_resolved(),
        service_issue: i.event_type.is_service_issue(),
        false_positive: i.false_positive,
        pir: match i.pir {
            PirState::None => "none",
            PirState::Preliminary => "preliminary",
            PirState::Final => "final",
        },
        summary: i.summary.as_deref().map(html),
        description: i.description.as_deref().or(i.article.as_deref()).map(html),
        latest_update: i.latest_update().map(|u| update_view(u, tz)),
        pir_update: i.pir_update().map(|u| update_view(u, tz)),
        new_updates: new_updates
            .iter()
            .rev()
            .map(|u| update_view(u, tz))
            .collect(),
        services: i.services().into_iter().map(str::to_owned).collect(),
        regions: i.regions().into_iter().map(str::to_owned).collect(),
        subscriptions: i.subscriptions.iter().cloned().collect(),
        impact_start: i.impact_start.map(|t| local_time(t, tz)),
        mitigated_at: i.mitigated_at.map(|t| local_time(t, tz)),
        claim_open: claim.is_some() && i.event_type.is_service_issue() && !i.false_positive,
        claim_rule: claim.map(|_| claim_rule(i)),
        claim_deadline: claim.map(|c| date(c.remind_by)),
        sla_deadline: claim.map(|c| date(c.sla_deadline)),
        partner_deadline: claim.and_then(|c| c.partner_deadline).map(date),
        preliminary_pir_by: expected
            .and_then(|e| e.preliminary_by)
            .map(|t| local_time(t, tz)),
        final_pir_by: expected.and_then(|e| e.final_by).map(|t| local_time(t, tz)),
    }
}
