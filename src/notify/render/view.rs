//! What the templates see of an incident: its facts with Azure's HTML sanitised (and as text),
//! times in the team's zone, and the claim and PIR dates.

use jiff::{Timestamp, tz::TimeZone};
use serde::Serialize;

use crate::followup::actions::{Action, ClaimDue, long};
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
    /// The claim while it is still to be filed: only then do mails say by when and how.
    pub(super) claim: Option<ClaimView>,
    preliminary_pir_by: Option<String>,
    final_pir_by: Option<String>,
    /// Resource Health's impacted resources (set by the mail, when it has them).
    pub(super) resources: Option<ResourcesView>,
}

/// An incident's impacted resources as mails show them: a count and the first few.
#[derive(Debug, Clone, Serialize)]
pub struct ResourcesView {
    pub count: usize,
    /// `vm1 (Microsoft.Compute/VirtualMachines, westeurope)`, at most [`ResourcesView::SHOWN`].
    pub first: Vec<String>,
    /// How many are not shown.
    pub more: usize,
}

impl ResourcesView {
    pub const SHOWN: usize = 5;

    /// The view of `resources`; none when there are none.
    pub fn of(resources: &[crate::evidence::ImpactedResource]) -> Option<Self> {
        if resources.is_empty() {
            return None;
        }
        let first = resources
            .iter()
            .take(Self::SHOWN)
            .map(|r| {
                let about: Vec<&str> = [r.resource_type.as_deref(), r.region.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                if about.is_empty() {
                    r.name().to_owned()
                } else {
                    format!("{} ({})", r.name(), about.join(", "))
                }
            })
            .collect();
        Some(Self {
            count: resources.len(),
            first,
            more: resources.len().saturating_sub(Self::SHOWN),
        })
    }
}

/// An open claim as the templates see it.
#[derive(Debug, Serialize)]
pub(super) struct ClaimView {
    /// The date to file by now.
    file_by: String,
    days_left: i32,
    /// Microsoft's own deadline (the same as `file_by` unless a partner or margin date comes
    /// first).
    sla_deadline: String,
    /// Why `file_by` is that date (partner, margin, spanning billing periods).
    explanation: Vec<String>,
    /// The SLA's rule, applied.
    rule: String,
}

impl ClaimView {
    pub(super) fn of(c: &ClaimDue) -> Self {
        Self {
            file_by: long(c.file_by),
            days_left: c.days_left,
            sla_deadline: long(c.dates.sla_deadline),
            explanation: c.explanation(),
            rule: c.rule(),
        }
    }
}

/// One action a mail asks for, as the templates see it.
#[derive(Debug, Serialize)]
pub(super) struct ActionView {
    /// `review_pir`, `file_claim`, `record_claim_decision` or `request_pir`.
    action: &'static str,
    /// `review_pir`: the PIR stage and which reminder this is.
    stage: Option<&'static str>,
    reminder: Option<u32>,
    /// `file_claim`: the date to file by and the days left; `record_claim_decision`: the
    /// date the window closed on.
    date: Option<String>,
    days_left: Option<i32>,
    /// `file_claim`: what that date is (the last day, the partner's, the team's margin).
    what: Option<String>,
}

impl ActionView {
    pub(super) fn of(a: &Action) -> Self {
        let none = Self {
            action: "",
            stage: None,
            reminder: None,
            date: None,
            days_left: None,
            what: None,
        };
        match a {
            Action::ReviewPir { stage, reminder } => Self {
                action: "review_pir",
                stage: Some(stage.as_str()),
                reminder: Some(*reminder),
                ..none
            },
            Action::FileClaim(c) => Self {
                action: "file_claim",
                date: Some(long(c.file_by)),
                days_left: Some(c.days_left),
                what: Some(c.what_the_date_is()),
                ..none
            },
            Action::RecordClaimDecision { closed_on } => Self {
                action: "record_claim_decision",
                date: Some(long(*closed_on)),
                ..none
            },
            Action::RequestPir => Self {
                action: "request_pir",
                ..none
            },
            Action::ChaseClaim {
                filed_on,
                reference,
            } => Self {
                action: "chase_claim",
                date: Some(long(*filed_on)),
                what: reference.clone(),
                ..none
            },
        }
    }
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
    claim: Option<&ClaimDue>,
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
        claim: claim
            .filter(|_| i.event_type.is_service_issue() && !i.false_positive)
            .map(ClaimView::of),
        resources: None,
        preliminary_pir_by: expected
            .and_then(|e| e.preliminary_by)
            .map(|t| local_time(t, tz)),
        final_pir_by: expected.and_then(|e| e.final_by).map(|t| local_time(t, tz)),
    }
}
