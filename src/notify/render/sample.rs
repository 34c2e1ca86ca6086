//! Sample data every mail kind is rendered from once when template overrides are loaded, so a
//! broken override is a config error at start, not a failure at 3 a.m. (`pirwatch check-config`
//! runs it too).

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{MailContext, RenderError, Rendered, Renderer};
use crate::followup::ClaimStatus;
use crate::followup::actions::{Action, ClaimDue};
use crate::followup::claim::{ClaimChannel, ClaimPolicy, claim_of};
use crate::followup::support::SupportPlan;
use crate::incident::ack::PirStage;
use crate::incident::notice::OperatorCause;
use crate::incident::{EventType, ImpactedRegion, Incident, NoticeKind, PirState, Update};
use crate::web::link::IncidentLinks;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A resolved service issue with a Final PIR.
pub fn incident() -> Incident {
    let start = at("2026-10-05T08:00:00Z");
    Incident {
        tenant: "contoso".into(),
        tracking_id: "SAMPLE-1".into(),
        event_type: EventType::ServiceIssue,
        status: "Resolved".into(),
        title: "Connectivity issues - Virtual Machines - West Europe".into(),
        summary: Some("<p>A subset of customers saw connection failures.</p>".into()),
        description: None,
        article: None,
        level: Some("Warning".into()),
        impact_start: Some(start),
        mitigated_at: Some(at("2026-10-05T12:00:00Z")),
        last_update: Some(at("2026-10-07T10:00:00Z")),
        pir: PirState::Final,
        pir_seen: Some(at("2026-10-07T10:00:00Z")),
        false_positive: false,
        impacts: vec![ImpactedRegion {
            service: "Virtual Machines".into(),
            region: "West Europe".into(),
            status: "Resolved".into(),
            subscriptions: BTreeSet::new(),
        }],
        subscriptions: ["00000000-0000-0000-0000-000000000001".to_owned()].into(),
        updates: vec![Update {
            published: at("2026-10-07T10:00:00Z"),
            summary: "<p><b>Final PIR.</b> A network change removed routes.</p>".into(),
            tags: ["Final PIR".to_owned()].into(),
            service: "Virtual Machines".into(),
            region: "West Europe".into(),
        }],
        first_seen: start,
        sensitive: false,
        details_unavailable: false,
        announced: true,
    }
}

/// The sample's mail context at `now`, with `links` when `[web]` is on.
pub fn context<'a>(
    tz: &'a TimeZone,
    links: Option<&'a IncidentLinks>,
    now: Timestamp,
) -> MailContext<'a> {
    MailContext {
        tenant: "contoso",
        timezone: tz,
        portal_url: "https://portal.azure.com/#view/Microsoft_Azure_Health/AzureHealthBrowseBlade",
        demo: false,
        claim_channel: ClaimChannel::Microsoft,
        support_plan: SupportPlan::Standard,
        ack_command: "sudo -u pirwatch pirwatch",
        links,
        tenant_page: links.map(|l| l.tenant.as_str()),
        now,
        resources: None,
    }
}

/// Renders every mail kind, with and without web links, with and without folded follow-ups,
/// from the sample incident: what each mail looks like, for the checks that read them.
pub fn render_every_kind(r: &Renderer) -> Result<Vec<Rendered>, RenderError> {
    let i = incident();
    let now = at("2026-12-17T08:00:00Z");
    let tz = TimeZone::UTC;
    let claim = claim_of(&i, &ClaimPolicy::default())
        .and_then(|d| ClaimDue::of(&ClaimStatus::Open(d), now, &tz));
    let links = IncidentLinks {
        reviewed: "https://pirwatch.example.com/l/r".into(),
        claimed: "https://pirwatch.example.com/l/c".into(),
        no_claim: "https://pirwatch.example.com/l/n".into(),
        incident: "https://pirwatch.example.com/l/v/i/SAMPLE-1".into(),
        tenant: "https://pirwatch.example.com/l/v".into(),
    };
    let mut actions = vec![
        Action::ReviewPir {
            stage: PirStage::Final,
            reminder: 2,
        },
        Action::RecordClaimDecision {
            closed_on: jiff::civil::date(2026, 12, 31),
        },
        Action::RequestPir,
        Action::ChaseClaim {
            filed_on: jiff::civil::date(2026, 11, 2),
            reference: Some("2611020040001234".into()),
        },
    ];
    if let Some(c) = &claim {
        actions.insert(0, Action::FileClaim(c.clone()));
    }
    let mut out = Vec::new();
    let resources: Vec<crate::evidence::ImpactedResource> = (1..=7)
        .map(|n| crate::evidence::ImpactedResource {
            resource_id: format!(
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/web/providers/Microsoft.Compute/virtualMachines/web-{n}"
            ),
            resource_type: Some("Microsoft.Compute/virtualMachines".into()),
            region: Some("westeurope".into()),
            subscription: None,
            info: Vec::new(),
        })
        .collect();
    let shown = super::ResourcesView::of(&resources);
    // Without links and resources, then with both.
    for with_links in [false, true] {
        let mut ctx = context(&tz, with_links.then_some(&links), now);
        if with_links {
            ctx.resources = shown.as_ref();
        }
        for kind in [
            NoticeKind::New,
            NoticeKind::Update,
            NoticeKind::Resolved,
            NoticeKind::Pir,
            NoticeKind::FalsePositive,
        ] {
            for folded in [&[][..], &actions] {
                out.push(r.incident(kind, &i, &i.updates, claim.as_ref(), folded, &ctx)?);
            }
        }
        for a in &actions {
            out.push(r.reminder(std::slice::from_ref(a), &i, claim.as_ref(), &ctx)?);
        }
        out.push(r.reminder(&actions, &i, claim.as_ref(), &ctx)?);
        out.push(r.digest(&[(&i, claim.clone())], 0, &ctx)?);
        out.push(r.digest(&[(&i, claim.clone())], 12, &ctx)?);
    }
    let entry = |changes: Vec<NoticeKind>| super::DigestEntry {
        incident: &i,
        changes,
        claim: claim.clone(),
        review: Some(PirStage::Final),
    };
    let digest = super::RouteDigest {
        route: "partner-desk",
        timezone: tz.clone(),
        since: Some(at("2026-12-16T07:00:00Z")),
        changed: vec![entry(vec![NoticeKind::New, NoticeKind::Pir])],
        open: vec![entry(Vec::new())],
        more_changed: 3,
        more_open: 0,
        demo: false,
    };
    let pages = [("contoso".to_owned(), links.tenant.clone())];
    out.push(r.route_digest(&digest, &[])?);
    out.push(r.route_digest(&digest, &pages)?);
    out.push(r.operator(&OperatorCause::CredentialFailing {
        tenant: "contoso".into(),
        since: now,
        error: "sign-in failed".into(),
    })?);
    Ok(out)
}

/// Renders the claim-draft templates from a sample draft (the shape `report::draft` makes),
/// for one customer and for several.
pub fn render_claims(r: &Renderer) -> Result<Vec<String>, RenderError> {
    let span = serde_json::json!({
        "from": "2026-10-05T08:05:00Z", "to": "2026-10-05T09:50:00Z", "minutes": 105,
        "from_utc": "2026-10-05 08:05 UTC", "to_utc": "2026-10-05 09:50 UTC",
        "from_local": "Mon 2026-10-05 10:05 CEST (UTC+02:00)",
        "to_local": "Mon 2026-10-05 11:50 CEST (UTC+02:00)",
    });
    let resource = |down: Option<i64>| {
        serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/web/providers/Microsoft.Compute/virtualMachines/web-1",
            "name": "web-1", "resource_type": "Microsoft.Compute/virtualMachines",
            "region": "westeurope", "subscription": "s", "info": [],
            "downtime_minutes": down, "degraded_minutes": down.map(|_| 30),
            "unavailable": [], "degraded": [],
            "unavailable_spans": if down.is_some() { vec![span.clone()] } else { vec![] },
            "degraded_spans": if down.is_some() { vec![span.clone()] } else { vec![] },
        })
    };
    let customer = |name: &str| {
        serde_json::json!({
            "tenant": name, "tenant_id": "00000000-0000-0000-0000-000000000001",
            "subscriptions": ["s"], "regions": ["West Europe"],
            "resources": [resource(Some(105))], "claim_state": "open", "file_by": "2026-12-31",
        })
    };
    let mut out = Vec::new();
    for (channel, customers, from) in [
        ("microsoft", vec![customer("contoso")], "final_pir"),
        ("partner", vec![customer("contoso")], "description"),
        (
            "partner",
            vec![customer("contoso"), customer("fabrikam")],
            "none",
        ),
    ] {
        let d = serde_json::json!({
            "tracking_id": "SAMPLE-1", "tenant": "contoso",
            "title": "SLA credit request — Virtual Machines, West Europe, tracking id SAMPLE-1",
            "description": "A network change removed routes.", "description_from": from,
            "impact_start": "2026-10-05T08:00:00Z", "mitigated_at": "2026-10-05T12:00:00Z",
            "duration_minutes": 240, "impact_start_utc": "2026-10-05 08:00 UTC",
            "mitigated_at_utc": "2026-10-05 12:00 UTC", "timezone": "Europe/Amsterdam",
            "impact_start_local": "Mon 2026-10-05 10:00 CEST (UTC+02:00)",
            "mitigated_at_local": "Mon 2026-10-05 14:00 CEST (UTC+02:00)",
            "services": ["Virtual Machines"], "subscriptions": ["s"], "regions": ["West Europe"],
            "resources": [resource(Some(105)), resource(None)], "customers": customers,
            "what_we_did": "[TO FILL IN]", "channel": channel, "how_to_file": "File it.",
            "must_contain": ["the tracking ID"],
        });
        let vars = minijinja::context! { d => minijinja::Value::from(minijinja::value::Serde(&d)) };
        for markdown in [false, true] {
            out.push(r.claim(&vars, markdown)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_templates_render_every_kind() {
        render_every_kind(&Renderer::new()).expect("renders");
        let drafts = render_claims(&Renderer::new()).expect("renders");
        assert!(
            drafts[4].contains("Affected customers (2):"),
            "{}",
            drafts[4]
        );
        assert!(
            drafts[1].starts_with("# SLA credit request"),
            "{}",
            drafts[1]
        );
    }

    #[test]
    fn overrides_replace_built_ins_and_a_broken_one_is_refused_now() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("reminder.txt"),
            "Custom reminder for {{ tenant }}: {{ band.text }}\n",
        )
        .expect("write");
        let r = Renderer::with_overrides(dir.path()).expect("valid");
        let i = incident();
        let tz = TimeZone::UTC;
        let ctx = context(&tz, None, at("2026-12-17T08:00:00Z"));
        let m = r
            .reminder(&[Action::RequestPir], &i, None, &ctx)
            .expect("renders");
        assert!(
            m.text
                .starts_with("Custom reminder for contoso: No PIR yet"),
            "{}",
            m.text
        );
        // A syntax error, an unknown variable, an unknown file: each refused with its file.
        let cases = [
            ("incident.txt", "{% if %}", "incident.txt"),
            ("digest.html", "{{ no_such_variable.x }}", "digest.html"),
            ("mystery.txt", "x", "is not one of pirwatch's templates"),
        ];
        for (file, text, want) in cases {
            let dir = tempfile::tempdir().expect("dir");
            std::fs::write(dir.path().join(file), text).expect("write");
            let e = Renderer::with_overrides(dir.path())
                .expect_err("refused")
                .to_string();
            assert!(
                e.starts_with("notify.templates_dir:") && e.contains(want),
                "{e}"
            );
        }
    }
}
