//! What a webhook receives. [`Document`] is pirwatch's own JSON, the versioned schema
//! `pirwatch.notification.v1` the `generic` kind posts (documented in README); the `teams` and
//! `slack` kinds post the same facts shaped as a Teams Adaptive Card (through a Workflows
//! webhook) or as Slack Block Kit blocks, within those formats' documented limits. Pure.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::{Value, json};

use super::WebhookKind;
use crate::followup::actions::{Action, ClaimDue};
use crate::incident::Incident;

/// The schema name and version every generic payload carries.
pub const SCHEMA: &str = "pirwatch.notification.v1";

/// One notification, as the generic kind posts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub schema: &'static str,
    /// Stable across retries (the delivery's Message-ID without `<>`): receivers deduplicate
    /// on it.
    pub id: String,
    /// `new`, `update`, `resolved`, `pir`, `false_positive`, `reminder`, `first_poll_digest`
    /// or `route_digest`.
    pub kind: &'static str,
    /// The tenant (absent for a route digest, which may span tenants).
    pub tenant: Option<String>,
    /// The route, for a route digest.
    pub route: Option<String>,
    /// When this delivery was made (each try anew).
    pub sent_at: Timestamp,
    /// The mail's subject line.
    pub subject: String,
    /// The mail's plain text, for receivers that only show text.
    pub text: String,
    pub incidents: Vec<IncidentDoc>,
    /// A signed link to the tenant's page of open follow-ups (with `[web]`).
    pub tenant_page: Option<String>,
}

/// One incident in a [`Document`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentDoc {
    pub tenant: String,
    pub tracking_id: String,
    pub title: String,
    pub event_type: String,
    pub status: String,
    pub level: Option<String>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub subscriptions: Vec<String>,
    pub impact_start: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    /// `none`, `preliminary` or `final`.
    pub pir: &'static str,
    /// The claim while it is open.
    pub claim: Option<ClaimDoc>,
    /// What the team is asked to do now: `review_pir`, `file_claim`, `record_claim_decision`,
    /// `request_pir`.
    pub actions: Vec<&'static str>,
    /// In a route digest: the kinds of notice this incident had in the period.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<&'static str>,
    /// A signed link to the incident's page (with `[web]`).
    pub page: Option<String>,
}

/// An open claim in an [`IncidentDoc`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimDoc {
    /// The date to file by now (the team's calendar).
    pub file_by: Date,
    pub days_left: i32,
    /// Microsoft's own deadline.
    pub sla_deadline: Date,
}

impl IncidentDoc {
    /// `i` with its open claim and the actions asked of the team.
    pub fn of(i: &Incident, claim: Option<&ClaimDue>, actions: &[Action]) -> Self {
        Self {
            tenant: i.tenant.to_string(),
            tracking_id: i.tracking_id.to_string(),
            title: i.title.clone(),
            event_type: i.event_type.to_string(),
            status: i.status.to_string(),
            level: i.level.clone(),
            services: i.services().into_iter().map(str::to_owned).collect(),
            regions: i.regions().into_iter().map(str::to_owned).collect(),
            subscriptions: i.subscriptions.iter().cloned().collect(),
            impact_start: i.impact_start,
            mitigated_at: i.mitigated_at,
            pir: i.pir.as_str(),
            claim: claim.map(|c| ClaimDoc {
                file_by: c.file_by,
                days_left: c.days_left,
                sla_deadline: c.dates.sla_deadline,
            }),
            actions: actions.iter().map(action_word).collect(),
            changes: Vec::new(),
            page: None,
        }
    }
}

fn action_word(a: &Action) -> &'static str {
    match a {
        Action::ReviewPir { .. } => "review_pir",
        Action::FileClaim(_) => "file_claim",
        Action::RecordClaimDecision { .. } => "record_claim_decision",
        Action::RequestPir => "request_pir",
        Action::ChaseClaim { .. } => "chase_claim",
    }
}

/// The request body a receiver of `kind` gets for `doc`.
pub fn body(kind: WebhookKind, doc: &Document) -> Value {
    match kind {
        WebhookKind::Generic => serde_json::to_value(doc).unwrap_or(Value::Null),
        WebhookKind::Teams => teams(doc),
        WebhookKind::Slack => slack(doc),
    }
}

/// At most this many incidents are shown one by one in a card or message; the rest are
/// counted (a digest of 500 tenants links its pages instead).
const SHOWN: usize = 10;

/// `s` cut to at most `max` characters, marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The facts shown for an incident, as (label, value).
fn facts(i: &IncidentDoc, with_tenant: bool) -> Vec<(&'static str, String)> {
    let mut f = Vec::new();
    if with_tenant {
        f.push(("Tenant", i.tenant.clone()));
    }
    f.push(("Tracking ID", i.tracking_id.clone()));
    f.push(("Status", i.status.clone()));
    if !i.services.is_empty() {
        f.push(("Services", i.services.join(", ")));
    }
    if !i.regions.is_empty() {
        f.push(("Regions", i.regions.join(", ")));
    }
    if let Some(t) = i.impact_start {
        f.push(("Impact start", t.strftime("%Y-%m-%d %H:%M UTC").to_string()));
    }
    if i.pir != "none" {
        f.push(("PIR", i.pir.to_owned()));
    }
    if let Some(c) = &i.claim {
        let left = match c.days_left {
            0 => "today".to_owned(),
            1 => "1 day left".to_owned(),
            n => format!("{n} days left"),
        };
        f.push(("File SLA claim by", format!("{} ({left})", c.file_by)));
    }
    if !i.changes.is_empty() {
        f.push(("This period", i.changes.join(", ")));
    }
    f
}

/// The links a card offers: each shown incident's page, then the tenant's page.
fn links(doc: &Document) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = doc
        .incidents
        .iter()
        .take(SHOWN)
        .filter_map(|i| {
            i.page
                .as_ref()
                .map(|u| (format!("Open {}", i.tracking_id), u.clone()))
        })
        .collect();
    if let Some(p) = &doc.tenant_page {
        out.push(("Open follow-ups".to_owned(), p.clone()));
    }
    out
}

fn more(doc: &Document) -> Option<String> {
    let n = doc.incidents.len().saturating_sub(SHOWN);
    (n > 0).then(|| format!("…and {n} more (see the mail or the follow-up pages)."))
}

/// A Teams Workflows message carrying an Adaptive Card (version 1.4, which Teams renders).
pub fn teams(doc: &Document) -> Value {
    let several_tenants = doc.tenant.is_none();
    let mut body = vec![json!({
        "type": "TextBlock", "text": cut(&doc.subject, 400), "weight": "Bolder",
        "size": "Medium", "wrap": true,
    })];
    for i in doc.incidents.iter().take(SHOWN) {
        let facts: Vec<Value> = facts(i, several_tenants)
            .into_iter()
            .map(|(t, v)| json!({"title": t, "value": cut(&v, 300)}))
            .collect();
        body.push(json!({
            "type": "Container", "separator": true,
            "items": [
                {"type": "TextBlock", "text": cut(&i.title, 300), "weight": "Bolder", "wrap": true},
                {"type": "FactSet", "facts": facts},
            ],
        }));
    }
    if let Some(m) = more(doc) {
        body.push(json!({"type": "TextBlock", "text": m, "wrap": true, "isSubtle": true}));
    }
    let actions: Vec<Value> = links(doc)
        .into_iter()
        .take(6)
        .map(|(title, url)| json!({"type": "Action.OpenUrl", "title": title, "url": url}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// Slack's escaping of `&`, `<` and `>` in message text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (the notification's fallback) and Block Kit blocks
/// within Slack's limits (header 150 characters, section text 3000, 10 fields of 2000, at most
/// 50 blocks, 25 buttons of 75).
pub fn slack(doc: &Document) -> Value {
    let several_tenants = doc.tenant.is_none();
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&doc.subject, 150), "emoji": false},
    })];
    for i in doc.incidents.iter().take(SHOWN) {
        let fields: Vec<Value> = facts(i, several_tenants)
            .into_iter()
            .take(10)
            .map(|(t, v)| {
                json!({"type": "mrkdwn", "text": cut(&format!("*{t}*\n{}", slack_escape(&v)), 2000)})
            })
            .collect();
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&format!("*{}*", slack_escape(&i.title)), 3000)},
            "fields": fields,
        }));
    }
    if let Some(m) = more(doc) {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": m}],
        }));
    }
    let buttons: Vec<Value> = links(doc)
        .into_iter()
        .take(25)
        .map(|(title, url)| {
            json!({
                "type": "button",
                "text": {"type": "plain_text", "text": cut(&title, 75)},
                "url": url,
            })
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({
        "text": cut(&slack_escape(&doc.subject), 3000),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: usize) -> Document {
        let mut i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        i.title = "Virtual Machines <West Europe> & more".into();
        let one = IncidentDoc {
            page: Some("https://pirwatch.example/i/x".into()),
            ..IncidentDoc::of(&i, None, &[Action::RequestPir])
        };
        Document {
            schema: SCHEMA,
            id: "a.b@x".into(),
            kind: "new",
            tenant: Some("contoso".into()),
            route: None,
            sent_at: "2026-10-08T11:00:00Z".parse().expect("ts"),
            subject: "x".repeat(400),
            text: "text".into(),
            incidents: vec![one; n],
            tenant_page: Some("https://pirwatch.example/t".into()),
        }
    }

    #[test]
    fn generic_payloads_carry_the_schema_and_stable_id() {
        let v = body(WebhookKind::Generic, &doc(1));
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["id"], "a.b@x");
        assert_eq!(v["incidents"][0]["actions"][0], "request_pir");
        assert_eq!(v["incidents"][0]["tenant"], "t");
        assert_eq!(v["tenant"], "contoso");
    }

    #[test]
    fn slack_messages_stay_within_block_kit_limits_and_escape_text() {
        let v = slack(&doc(40));
        let blocks = v["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= 50);
        let header = blocks[0]["text"]["text"].as_str().expect("header");
        assert_eq!(header.chars().count(), 150);
        let title = blocks[1]["text"]["text"].as_str().expect("title");
        assert!(title.contains("&lt;West Europe&gt; &amp; more"), "{title}");
        assert!(
            blocks.iter().any(|b| b["type"] == "context"),
            "the rest counted"
        );
        let buttons = blocks.last().expect("actions")["elements"]
            .as_array()
            .expect("buttons")
            .len();
        assert!(buttons <= 25);
    }

    #[test]
    fn teams_cards_are_adaptive_cards_in_a_message() {
        let v = teams(&doc(2));
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        assert_eq!(a["content"]["actions"][0]["type"], "Action.OpenUrl");
        assert_eq!(a["content"]["body"].as_array().expect("body").len(), 3);
    }
}
