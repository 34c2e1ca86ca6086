//! A claim, drafted: the support request for an incident's SLA credit, made from what pirwatch
//! holds — the tracking id, the PIR's description, the impact window and each resource's
//! downtime (UTC and the team's zone), the affected subscriptions, resources and regions, a
//! marked place for what the team did, and where to file it for the tenant's claim channel.
//! For a CSP partner one draft may list every affected customer (`--all-customers`). Built from
//! incident records; rendered by the `claim.txt` and `claim.md` templates, or as JSON.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::IncidentRecord;
use crate::config::Config;
use crate::evidence::ResourceRecord;
use crate::followup::claim::{CLAIM_CONTENTS, ClaimChannel};
use crate::incident::{TAG_FINAL_PIR, TAG_PRELIMINARY_PIR};
use crate::notify::render::{RenderError, Renderer, local_time, to_text};

/// Where the team writes what it did; a draft is not ready to send while this is in it.
pub const WHAT_WE_DID: &str = "[TO FILL IN: what your team did at the time to resolve or work \
around the incident (failover, restarts, a support request number), and the number and \
location of affected users if applicable]";

/// A span of downtime, in UTC and in the team's zone.
#[derive(Debug, Clone, Serialize)]
pub struct Span {
    pub from: Timestamp,
    pub to: Timestamp,
    pub minutes: i64,
    pub from_utc: String,
    pub to_utc: String,
    pub from_local: String,
    pub to_local: String,
}

/// A resource in a draft: its record, with its downtime spans in both zones.
#[derive(Debug, Clone, Serialize)]
pub struct DraftResource {
    #[serde(flatten)]
    pub record: ResourceRecord,
    pub unavailable_spans: Vec<Span>,
    pub degraded_spans: Vec<Span>,
}

/// A time in UTC to the minute, as a claim states it: `2026-12-02 10:05 UTC`.
fn in_utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn spans(v: &[crate::evidence::downtime::Interval], tz: &TimeZone) -> Vec<Span> {
    v.iter()
        .map(|i| Span {
            from: i.from,
            to: i.to,
            minutes: i.minutes(),
            from_utc: in_utc(i.from),
            to_utc: in_utc(i.to),
            from_local: local_time(i.from, tz),
            to_local: local_time(i.to, tz),
        })
        .collect()
}

fn resources(r: &IncidentRecord, tz: &TimeZone) -> Vec<DraftResource> {
    r.resources
        .iter()
        .map(|rec| DraftResource {
            unavailable_spans: spans(&rec.unavailable, tz),
            degraded_spans: spans(&rec.degraded, tz),
            record: rec.clone(),
        })
        .collect()
}

/// One customer tenant in a draft (one, or every affected customer of a CSP partner).
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    /// The tenant's name in pirwatch.
    pub tenant: String,
    /// Its Entra ID tenant id, which a distributor's form asks for.
    pub tenant_id: String,
    pub subscriptions: Vec<String>,
    pub regions: Vec<String>,
    pub resources: Vec<DraftResource>,
    /// The claim's state for this customer (`open`, `claimed`, …) and the date to file by.
    pub claim_state: &'static str,
    pub file_by: Option<String>,
}

/// A drafted claim.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimDraft {
    pub tracking_id: String,
    /// The tenant (for `--all-customers`, the first; each is in `customers`).
    pub tenant: String,
    pub title: String,
    /// The incident's description, from the Final PIR, else the Preliminary PIR, else the
    /// event's description or summary (as text).
    pub description: String,
    /// Where the description came from: `final_pir`, `preliminary_pir`, `description`,
    /// `summary`, or `none`.
    pub description_from: &'static str,
    pub impact_start: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    /// Microsoft's impact window, in minutes.
    pub duration_minutes: Option<i64>,
    /// The window in UTC to the minute, and in the team's zone.
    pub impact_start_utc: Option<String>,
    pub mitigated_at_utc: Option<String>,
    pub timezone: String,
    pub impact_start_local: Option<String>,
    pub mitigated_at_local: Option<String>,
    pub services: Vec<String>,
    pub subscriptions: Vec<String>,
    pub regions: Vec<String>,
    /// Each resource with its downtime as reported by Resource Health, where known.
    pub resources: Vec<DraftResource>,
    pub customers: Vec<Customer>,
    pub what_we_did: &'static str,
    pub channel: &'static str,
    pub how_to_file: String,
    /// What the SLA asks a claim to contain.
    pub must_contain: Vec<&'static str>,
}

/// The text of the newest update tagged `tag`.
fn pir_text(r: &IncidentRecord, tag: &str) -> Option<String> {
    r.updates
        .iter()
        .rev()
        .find(|u| u.tags.contains(tag))
        .map(|u| to_text(&u.summary))
}

/// The best description pirwatch holds, and where it came from.
fn description(r: &IncidentRecord) -> (String, &'static str) {
    if let Some(t) = pir_text(r, TAG_FINAL_PIR) {
        return (t, "final_pir");
    }
    if let Some(t) = pir_text(r, TAG_PRELIMINARY_PIR) {
        return (t, "preliminary_pir");
    }
    if let Some(d) = r.description.as_deref().or(r.article.as_deref()) {
        return (to_text(d), "description");
    }
    match r.summary.as_deref() {
        Some(s) => (to_text(s), "summary"),
        None => (String::new(), "none"),
    }
}

/// How to file, for `channel`; for a CSP partner, what the distributor's form asks.
fn how_to_file(channel: ClaimChannel, customers: usize) -> String {
    let base = channel.how_to_file().to_owned();
    match channel {
        ClaimChannel::Partner if customers > 1 => format!(
            "{base} This draft lists every affected customer with its tenant ID, as distributors \
             ask for one request with a tenant list when many customers are hit."
        ),
        ClaimChannel::Partner => format!(
            "{base} A distributor's form asks for the customer's tenant ID (below) and the \
             tracking ID; one request per customer."
        ),
        _ => base,
    }
}

fn customer(config: &Config, r: &IncidentRecord, tz: &TimeZone) -> Customer {
    let tenant_id = config
        .tenant(&r.row.tenant)
        .map(|t| t.config.tenant_id.clone())
        .unwrap_or_default();
    Customer {
        tenant: r.row.tenant.clone(),
        tenant_id,
        subscriptions: r.row.subscriptions.clone(),
        regions: r.row.regions.clone(),
        resources: resources(r, tz),
        claim_state: r.row.claim.state,
        file_by: r.row.claim.deadline.clone(),
    }
}

/// The draft for `records` (one incident's record per tenant; the first decides the zone and
/// the channel).
pub fn draft(config: &Config, records: &[IncidentRecord]) -> Option<ClaimDraft> {
    let first = records.first()?;
    let row = &first.row;
    let tenant = config.tenant(&row.tenant);
    let utc = TimeZone::UTC;
    let tz = tenant.map_or(&utc, |t| t.policy.calendar.timezone());
    let channel = tenant.map_or(ClaimChannel::Microsoft, |t| t.config.claim_channel);
    let (description, description_from) = description(first);
    let union = |f: &dyn Fn(&IncidentRecord) -> Vec<String>| {
        let mut v: Vec<String> = records.iter().flat_map(f).collect();
        v.sort();
        v.dedup();
        v
    };
    let services = union(&|r| r.row.services.clone());
    let regions = union(&|r| r.row.regions.clone());
    let title = format!(
        "SLA credit request — {}, {}, tracking id {}",
        if services.is_empty() {
            "Azure".to_owned()
        } else {
            services.join(", ")
        },
        if regions.is_empty() {
            "all regions".to_owned()
        } else {
            regions.join(", ")
        },
        row.tracking_id
    );
    Some(ClaimDraft {
        tracking_id: row.tracking_id.clone(),
        tenant: row.tenant.clone(),
        title,
        description,
        description_from,
        impact_start: row.impact_start,
        mitigated_at: row.mitigated_at,
        duration_minutes: row
            .impact_start
            .zip(row.mitigated_at)
            .map(|(a, b)| b.duration_since(a).as_mins()),
        impact_start_utc: row.impact_start.map(in_utc),
        mitigated_at_utc: row.mitigated_at.map(in_utc),
        timezone: tz.iana_name().unwrap_or("UTC").to_owned(),
        impact_start_local: row.impact_start.map(|t| local_time(t, tz)),
        mitigated_at_local: row.mitigated_at.map(|t| local_time(t, tz)),
        services,
        subscriptions: union(&|r| r.row.subscriptions.clone()),
        regions,
        resources: records.iter().flat_map(|r| resources(r, tz)).collect(),
        customers: records.iter().map(|r| customer(config, r, tz)).collect(),
        what_we_did: WHAT_WE_DID,
        channel: channel.as_str(),
        how_to_file: how_to_file(channel, records.len()),
        must_contain: CLAIM_CONTENTS.to_vec(),
    })
}

/// The draft as text (`claim.txt`) or Markdown (`claim.md`).
pub fn render(renderer: &Renderer, d: &ClaimDraft, markdown: bool) -> Result<String, RenderError> {
    let vars = minijinja::context! {
        d => minijinja::Value::from(minijinja::value::Serde(d)),
    };
    renderer.claim(&vars, markdown)
}
