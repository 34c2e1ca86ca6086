//! Rendering mail: templates with autoescaping (minijinja), Azure's HTML sanitised (ammonia)
//! before it enters ours, and turned into readable text (html2text) for the text part.
//!
//! Templates live in `templates/` and are compiled into the binary. `.html` templates are
//! escaped, `.txt` ones are not.

use jiff::tz::TimeZone;
use minijinja::Environment;

pub mod layout;
pub mod sample;
mod view;

pub use view::ResourcesView;
use view::{ActionView, IncidentView, view};
pub use view::{local_time, sanitize, to_text};

use crate::followup::actions::{Action, ClaimDue};
use crate::followup::claim::{CLAIM_CONTENTS, ClaimChannel};
use crate::followup::support::SupportPlan;
use crate::incident::{Incident, NoticeKind, PirState, Update};

/// A rendered mail body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Rendering failed: a template bug, reported rather than sending a broken mail.
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {source}")]
pub struct RenderError {
    template: &'static str,
    source: minijinja::Error,
}

/// One incident in a route digest.
#[derive(Debug, Clone)]
pub struct DigestEntry<'a> {
    pub incident: &'a Incident,
    /// The notices it had in the period (none: an open follow-up only).
    pub changes: Vec<NoticeKind>,
    /// The claim while it is open.
    pub claim: Option<ClaimDue>,
    /// A PIR stage published and not yet acknowledged.
    pub review: Option<crate::incident::ack::PirStage>,
}

/// A route digest, as rendered.
#[derive(Debug, Clone)]
pub struct RouteDigest<'a> {
    pub route: &'a str,
    pub timezone: TimeZone,
    /// The previous digest time, when known.
    pub since: Option<jiff::Timestamp>,
    pub changed: Vec<DigestEntry<'a>>,
    pub open: Vec<DigestEntry<'a>>,
    /// How many more of each list `[notify] digest_max_items` left out.
    pub more_changed: usize,
    pub more_open: usize,
    pub demo: bool,
}

/// What a mail needs to know beyond the incident itself.
#[derive(Debug, Clone)]
pub struct MailContext<'a> {
    pub tenant: &'a str,
    pub timezone: &'a TimeZone,
    /// Service Health in the tenant's cloud's portal.
    pub portal_url: &'a str,
    /// Where the source is the built-in demo, mails say so.
    pub demo: bool,
    /// Where this tenant files SLA claims.
    pub claim_channel: ClaimChannel,
    /// What its support plan promises.
    pub support_plan: SupportPlan,
    /// How the reader runs pirwatch (`[notify] ack_command`), for the commands mails print.
    pub ack_command: &'a str,
    /// With `[web]`: the signed links about the mail's incident (buttons instead of commands).
    pub links: Option<&'a crate::web::link::IncidentLinks>,
    /// With `[web]`: the signed read-only link to the tenant's page of open follow-ups.
    pub tenant_page: Option<&'a str>,
    /// When the mail is sent: "today" on its timeline.
    pub now: jiff::Timestamp,
    /// The incident's impacted resources, when Resource Health listed any.
    pub resources: Option<&'a ResourcesView>,
}

/// A template override that cannot be used: a config error at start and in `check-config`.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("notify.templates_dir: cannot read {dir}: {source}")]
    Dir { dir: String, source: std::io::Error },
    #[error("notify.templates_dir: {file} is not one of pirwatch's templates (they are: {known})")]
    Unknown { file: String, known: String },
    #[error("notify.templates_dir: {file}: {message}")]
    Broken { file: String, message: String },
}

/// The template engine with pirwatch's templates loaded.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

/// The web listener's pages (`crate::web`), beside the mail templates so they share filters.
const PAGES: [(&str, &str); 10] = [
    (
        "web/base.html",
        include_str!("../../../templates/web/base.html"),
    ),
    (
        "web/error.html",
        include_str!("../../../templates/web/error.html"),
    ),
    (
        "web/_facts.html",
        include_str!("../../../templates/web/_facts.html"),
    ),
    (
        "web/_buttons.html",
        include_str!("../../../templates/web/_buttons.html"),
    ),
    (
        "web/confirm.html",
        include_str!("../../../templates/web/confirm.html"),
    ),
    (
        "web/done.html",
        include_str!("../../../templates/web/done.html"),
    ),
    (
        "web/tenant.html",
        include_str!("../../../templates/web/tenant.html"),
    ),
    (
        "web/tenants.html",
        include_str!("../../../templates/web/tenants.html"),
    ),
    (
        "web/claim.html",
        include_str!("../../../templates/web/claim.html"),
    ),
    (
        "web/incident.html",
        include_str!("../../../templates/web/incident.html"),
    ),
];

const TEMPLATES: [(&str, &str); 23] = [
    ("_mail.html", include_str!("../../../templates/_mail.html")),
    (
        "_timeline.txt",
        include_str!("../../../templates/_timeline.txt"),
    ),
    (
        "_timeline.html",
        include_str!("../../../templates/_timeline.html"),
    ),
    (
        "_button.html",
        include_str!("../../../templates/_button.html"),
    ),
    (
        "_actions.txt",
        include_str!("../../../templates/_actions.txt"),
    ),
    (
        "_actions.html",
        include_str!("../../../templates/_actions.html"),
    ),
    (
        "operator.txt",
        include_str!("../../../templates/operator.txt"),
    ),
    (
        "operator.html",
        include_str!("../../../templates/operator.html"),
    ),
    (
        "_facts.html",
        include_str!("../../../templates/_facts.html"),
    ),
    ("_facts.txt", include_str!("../../../templates/_facts.txt")),
    ("export.md", include_str!("../../../templates/export.md")),
    (
        "_claim.html",
        include_str!("../../../templates/_claim.html"),
    ),
    ("_claim.txt", include_str!("../../../templates/_claim.txt")),
    (
        "reminder.html",
        include_str!("../../../templates/reminder.html"),
    ),
    (
        "reminder.txt",
        include_str!("../../../templates/reminder.txt"),
    ),
    (
        "incident.html",
        include_str!("../../../templates/incident.html"),
    ),
    (
        "incident.txt",
        include_str!("../../../templates/incident.txt"),
    ),
    (
        "digest.html",
        include_str!("../../../templates/digest.html"),
    ),
    ("digest.txt", include_str!("../../../templates/digest.txt")),
    (
        "route_digest.html",
        include_str!("../../../templates/route_digest.html"),
    ),
    (
        "route_digest.txt",
        include_str!("../../../templates/route_digest.txt"),
    ),
    ("claim.txt", include_str!("../../../templates/claim.txt")),
    ("claim.md", include_str!("../../../templates/claim.md")),
];

impl Renderer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("when", when);
        for (name, source) in TEMPLATES.into_iter().chain(PAGES) {
            if let Err(e) = env.add_template(name, source) {
                // The templates are compiled in and covered by tests; fail loudly if not.
                panic!("built-in template {name} does not parse: {e}");
            }
        }
        Self { env }
    }

    /// The built-in templates, with those in `dir` (files named as the built-in ones) in their
    /// place. Every mail kind is then rendered once from sample data, so a broken override is
    /// an error now — at start and in `check-config` — never at 3 a.m.
    pub fn with_overrides(dir: &std::path::Path) -> Result<Self, TemplateError> {
        let mut r = Self::new();
        let entries = std::fs::read_dir(dir).map_err(|source| TemplateError::Dir {
            dir: dir.display().to_string(),
            source,
        })?;
        let mut names: Vec<String> = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| TemplateError::Dir {
                    dir: dir.display().to_string(),
                    source,
                })?
                .path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.starts_with('.') || path.is_dir() {
                continue;
            }
            let Some((known, _)) = TEMPLATES
                .iter()
                .chain(PAGES.iter())
                .find(|(n, _)| *n == name)
            else {
                let known: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
                return Err(TemplateError::Unknown {
                    file: path.display().to_string(),
                    known: known.join(", "),
                });
            };
            let source = std::fs::read_to_string(&path).map_err(|source| TemplateError::Dir {
                dir: path.display().to_string(),
                source,
            })?;
            r.env
                .add_template_owned(*known, source)
                .map_err(|e| TemplateError::Broken {
                    file: path.display().to_string(),
                    message: e.to_string(),
                })?;
            names.push(path.display().to_string());
        }
        if let Err(e) = sample::render_every_kind(&r).and_then(|_| sample::render_claims(&r)) {
            return Err(TemplateError::Broken {
                file: names.join(", "),
                message: e.to_string(),
            });
        }
        Ok(r)
    }

    /// The mail about one incident. `new_updates` are the updates this mail reports; `claim`
    /// the claim if it is still open; `actions` the follow-ups due today, folded into this
    /// mail instead of a second one.
    pub fn incident(
        &self,
        kind: NoticeKind,
        incident: &Incident,
        new_updates: &[Update],
        claim: Option<&ClaimDue>,
        actions: &[Action],
        ctx: &MailContext<'_>,
    ) -> Result<Rendered, RenderError> {
        let mut view = view(incident, new_updates, claim, ctx.timezone);
        view.resources = ctx.resources.cloned();
        let subject = subject(kind, incident, ctx);
        let band = layout::incident_band(kind, incident, claim, actions);
        let timeline = layout::timeline(incident, claim, ctx.now, ctx.timezone);
        let actions: Vec<ActionView> = actions.iter().map(ActionView::of).collect();
        let vars = minijinja::context! {
            band => minijinja::Value::from(minijinja::value::Serde(&band)),
            timeline => minijinja::Value::from(minijinja::value::Serde(&timeline)),
            kind => kind.as_str(),
            subject => &subject,
            i => minijinja::Value::from(minijinja::value::Serde(&view)),
            actions => minijinja::Value::from(minijinja::value::Serde(&actions)),
            ..common(ctx)
        };
        self.both("incident.txt", "incident.html", &vars, subject)
    }

    /// The first-poll digest: resolved incidents whose follow-ups are still open.
    pub fn digest(
        &self,
        incidents: &[(&Incident, Option<ClaimDue>)],
        more: usize,
        ctx: &MailContext<'_>,
    ) -> Result<Rendered, RenderError> {
        let views: Vec<IncidentView> = incidents
            .iter()
            .map(|(i, claim)| view(i, &[], claim.as_ref(), ctx.timezone))
            .collect();
        let subject = format!(
            "[pirwatch/{}] {}{} recent Azure incident{} with open follow-ups",
            ctx.tenant,
            if ctx.demo { "DEMO: " } else { "" },
            views.len() + more,
            if views.len() + more == 1 { "" } else { "s" }
        );
        let band = layout::Band {
            text: format!(
                "{} recent incident{} with open follow-ups",
                views.len() + more,
                if views.len() + more == 1 { "" } else { "s" }
            ),
            color: "#0a5bd3",
        };
        let vars = minijinja::context! {
            subject => &subject,
            band => minijinja::Value::from(minijinja::value::Serde(&band)),
            incidents => minijinja::Value::from(minijinja::value::Serde(&views)),
            more => more,
            ..common(ctx)
        };
        self.both("digest.txt", "digest.html", &vars, subject)
    }

    /// A route's digest: what changed in the period, then the other open follow-ups, each
    /// list soonest deadline first. `pages` are the tenants' follow-up pages (with `[web]`).
    pub fn route_digest(
        &self,
        digest: &RouteDigest<'_>,
        pages: &[(String, String)],
    ) -> Result<Rendered, RenderError> {
        let tz = &digest.timezone;
        let entry = |e: &DigestEntry<'_>| {
            minijinja::context! {
                tenant => e.incident.tenant.as_str(),
                changes => e.changes.iter().map(|k| k.words()).collect::<Vec<_>>(),
                review => e.review.map(|s| s.as_str()),
                i => minijinja::Value::from(minijinja::value::Serde(
                    &view(e.incident, &[], e.claim.as_ref(), tz))),
            }
        };
        let changed: Vec<minijinja::Value> = digest.changed.iter().map(entry).collect();
        let open: Vec<minijinja::Value> = digest.open.iter().map(entry).collect();
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        let subject = format!(
            "[pirwatch/{}] {}Digest: {}, {}",
            digest.route,
            if digest.demo { "DEMO: " } else { "" },
            n(
                changed.len() + digest.more_changed,
                "incident changed",
                "incidents changed"
            ),
            n(
                open.len() + digest.more_open,
                "other open follow-up",
                "other open follow-ups"
            ),
        );
        let band = layout::Band {
            text: format!("Digest for {}", digest.route),
            color: "#0a5bd3",
        };
        let pages: Vec<minijinja::Value> = pages
            .iter()
            .map(|(t, u)| minijinja::context! { tenant => t, url => u })
            .collect();
        let vars = minijinja::context! {
            subject => &subject,
            band => minijinja::Value::from(minijinja::value::Serde(&band)),
            route => digest.route,
            since => digest.since.map(|t| local_time(t, tz)),
            changed => changed,
            open => open,
            more_changed => digest.more_changed,
            more_open => digest.more_open,
            pages => pages,
            timezone => tz.iana_name().unwrap_or("UTC"),
            demo => digest.demo,
            font => "Segoe UI,Roboto,Helvetica,Arial,sans-serif",
        };
        self.both("route_digest.txt", "route_digest.html", &vars, subject)
    }

    /// The one follow-up mail of the day about an incident: every action it asks for (most
    /// urgent first, at least one), with the claim while it is open.
    pub fn reminder(
        &self,
        actions: &[Action],
        incident: &Incident,
        claim: Option<&ClaimDue>,
        ctx: &MailContext<'_>,
    ) -> Result<Rendered, RenderError> {
        let mut view = view(incident, &[], claim, ctx.timezone);
        view.resources = ctx.resources.cloned();
        let subject = reminder_subject(actions, incident, ctx);
        let band = layout::reminder_band(actions, incident);
        let timeline = layout::timeline(incident, claim, ctx.now, ctx.timezone);
        let actions: Vec<ActionView> = actions.iter().map(ActionView::of).collect();
        let vars = minijinja::context! {
            subject => &subject,
            band => minijinja::Value::from(minijinja::value::Serde(&band)),
            timeline => minijinja::Value::from(minijinja::value::Serde(&timeline)),
            i => minijinja::Value::from(minijinja::value::Serde(&view)),
            actions => minijinja::Value::from(minijinja::value::Serde(&actions)),
            ..common(ctx)
        };
        self.both("reminder.txt", "reminder.html", &vars, subject)
    }

    /// A notice to the operators about pirwatch's own trouble.
    pub fn operator(
        &self,
        cause: &crate::incident::notice::OperatorCause,
    ) -> Result<Rendered, RenderError> {
        use crate::incident::notice::OperatorCause as C;
        let (what, detail, todo, since) = match cause {
            C::ScopeNotPolled {
                tenant,
                scope,
                since,
                error,
            } => (
                format!("{tenant}/{scope} is not being polled"),
                format!("The last poll of {scope} (tenant {tenant}) failed: {error}"),
                "check the tenant's subscriptions, roles and arm_endpoint; `pirwatch \
                 check-config --online` makes one real call per tenant"
                    .to_owned(),
                Some(*since),
            ),
            C::CredentialFailing {
                tenant,
                since,
                error,
            } => (
                format!("tenant {tenant} cannot sign in"),
                format!("Every poll of tenant {tenant} fails at sign-in: {error}"),
                "check [tenants.credential]: ids, the secret or certificate file (and its \
                 expiry), federation; `pirwatch check-config --online` tries it"
                    .to_owned(),
                Some(*since),
            ),
            C::DeliveryFailed {
                tenant,
                message_id,
                not_reached,
                error,
            } => (
                format!("a mail of tenant {tenant} was given up on"),
                format!(
                    "Mail {message_id} did not reach {}: {error}",
                    if not_reached.is_empty() {
                        "anyone".to_owned()
                    } else {
                        not_reached.join(", ")
                    }
                ),
                format!(
                    "fix the address or the mail server, then `pirwatch outbox retry \
                     '{message_id}'`, or `pirwatch outbox dismiss '{message_id}'`"
                ),
                None,
            ),
        };
        let subject = format!("[pirwatch] Needs attention: {what}");
        let band = layout::Band {
            text: format!("pirwatch needs attention: {what}"),
            color: "#b42318",
        };
        let vars = minijinja::context! {
            band => minijinja::Value::from(minijinja::value::Serde(&band)),
            font => "Segoe UI,Roboto,Helvetica,Arial,sans-serif",
            subject => &subject,
            what => &what,
            detail => &detail,
            todo => &todo,
            since => since.map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()),
        };
        self.both("operator.txt", "operator.html", &vars, subject)
    }

    /// The PIR archive entry of an incident, as Markdown (`export.md`, with `vars` built by
    /// [`crate::report`]).
    /// A drafted claim (`report::draft`), as text or Markdown.
    pub fn claim(&self, vars: &minijinja::Value, markdown: bool) -> Result<String, RenderError> {
        self.render(if markdown { "claim.md" } else { "claim.txt" }, vars)
    }

    pub fn export_markdown(&self, vars: &minijinja::Value) -> Result<String, RenderError> {
        self.render("export.md", vars)
    }

    /// A web page (`web/….html`) with `vars`.
    pub fn page(&self, name: &str, vars: &minijinja::Value) -> Result<String, RenderError> {
        let template = PAGES
            .iter()
            .map(|(n, _)| *n)
            .find(|n| *n == name)
            .unwrap_or("web/error.html");
        self.render(template, vars)
    }

    /// A mail's text and HTML parts, rendered from the templates `txt` and `html`.
    fn both(
        &self,
        txt: &'static str,
        html: &'static str,
        vars: &minijinja::Value,
        subject: String,
    ) -> Result<Rendered, RenderError> {
        Ok(Rendered {
            text: self.render(txt, vars)?,
            html: self.render(html, vars)?,
            subject,
        })
    }

    fn render(&self, name: &'static str, vars: &minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(vars))
            .map_err(|source| RenderError {
                template: name,
                source,
            })
    }
}

/// The `when` filter: a stored instant (RFC 3339) in the zone named by the template's `tz`
/// variable (`Tue 2026-05-12 16:45 CEST (UTC+02:00)`), or in UTC when there is none. Anything
/// that is not an instant passes through.
fn when(state: &minijinja::State<'_, '_>, value: String) -> String {
    let Ok(t) = value.parse::<jiff::Timestamp>() else {
        return value;
    };
    let zone = state
        .lookup("tz")
        .and_then(|v| v.as_str().and_then(|n| TimeZone::get(n).ok()));
    match zone {
        Some(tz) => local_time(t, &tz),
        None => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// Template variables every mail of a tenant shares.
fn common(ctx: &MailContext<'_>) -> minijinja::Value {
    minijinja::context! {
        tenant => ctx.tenant,
        timezone => ctx.timezone.iana_name().unwrap_or("UTC"),
        portal_url => ctx.portal_url,
        demo => ctx.demo,
        claim_channel => ctx.claim_channel.as_str(),
        how_to_file => ctx.claim_channel.how_to_file(),
        claim_contents => CLAIM_CONTENTS.to_vec(),
        support_plan => ctx.support_plan.name(),
        severities => minijinja::Value::from(minijinja::value::Serde(ctx.support_plan.severities())),
        ack_command => ctx.ack_command,
        links => minijinja::Value::from(minijinja::value::Serde(&ctx.links)),
        tenant_page => ctx.tenant_page,
        font => "Segoe UI,Roboto,Helvetica,Arial,sans-serif",
    }
}

/// A follow-up's subject: the most urgent action in full, the others named after it.
fn reminder_subject(actions: &[Action], i: &Incident, ctx: &MailContext<'_>) -> String {
    let id = &i.tracking_id;
    let what = match actions.first() {
        Some(Action::FileClaim(c)) => {
            let by = c.file_by;
            match c.days_left {
                0 => format!("SLA claim for Azure incident {id} due TODAY ({by})"),
                1 => format!("SLA claim for Azure incident {id} due TOMORROW ({by})"),
                n => format!("SLA claim for Azure incident {id} due in {n} days ({by})"),
            }
        }
        Some(Action::RecordClaimDecision { closed_on }) => {
            format!("SLA claim window closed for Azure incident {id} ({closed_on})")
        }
        Some(Action::ReviewPir { .. }) => {
            format!("Reminder: review the PIR of Azure incident {id}")
        }
        Some(Action::ChaseClaim { .. }) => {
            format!("No answer yet to the SLA claim for Azure incident {id}: chase it")
        }
        Some(Action::RequestPir) | None => {
            format!("No PIR yet for Azure incident {id}: you can request one")
        }
    };
    let also: Vec<&str> = actions
        .iter()
        .skip(1)
        .map(|a| match a {
            Action::FileClaim(_) => "file the SLA claim",
            Action::RecordClaimDecision { .. } => "record the claim decision",
            Action::ReviewPir { .. } => "review the PIR",
            Action::RequestPir => "request a PIR",
            Action::ChaseClaim { .. } => "chase the claim",
        })
        .collect();
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(", and {}", also.join(", "))
    };
    let title: String = i.title.chars().take(100).collect();
    format!(
        "[pirwatch/{}] {}{what}{also}: {title}",
        ctx.tenant,
        if ctx.demo { "DEMO: " } else { "" }
    )
}

fn subject(kind: NoticeKind, i: &Incident, ctx: &MailContext<'_>) -> String {
    let what = match kind {
        NoticeKind::New => "Azure incident".to_owned(),
        NoticeKind::Update => "Update on Azure incident".to_owned(),
        NoticeKind::Resolved => "Resolved: Azure incident".to_owned(),
        NoticeKind::Pir => format!(
            "{} PIR published, review it: Azure incident",
            pir_word(i.pir)
        ),
        NoticeKind::FalsePositive => "False positive: Azure incident".to_owned(),
        NoticeKind::Digest | NoticeKind::Reminder | NoticeKind::Operator => {
            "Azure incident".to_owned()
        }
    };
    // Azure appends "(resolved)" to a resolved event's title; "Resolved:" already says so.
    let title = match kind {
        NoticeKind::Resolved => strip_resolved(&i.title),
        _ => &i.title,
    };
    let title: String = title.chars().take(120).collect();
    format!(
        "[pirwatch/{}] {}{what} {}: {title}",
        ctx.tenant,
        if ctx.demo { "DEMO: " } else { "" },
        i.tracking_id
    )
}

/// `title` without a trailing `(resolved)`, in any case.
fn strip_resolved(title: &str) -> &str {
    let t = title.trim_end();
    match t.len().checked_sub("(resolved)".len()) {
        Some(at) if t.is_char_boundary(at) && t[at..].eq_ignore_ascii_case("(resolved)") => {
            t[..at].trim_end()
        }
        _ => title,
    }
}

fn pir_word(p: PirState) -> &'static str {
    match p {
        PirState::Final => "Final",
        PirState::Preliminary => "Preliminary",
        PirState::None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{EventType, ImpactedRegion};
    use std::collections::BTreeSet;

    fn incident() -> Incident {
        let at = |s: &str| s.parse::<jiff::Timestamp>().expect("ts");
        Incident {
            tenant: "contoso".into(),
            tracking_id: "BC_1-FXZ".into(),
            event_type: EventType::ServiceIssue,
            status: "Resolved".into(),
            title: "Virtual Machines <West US>".into(),
            summary: Some("<p>Impact <b>mitigated</b><script>alert(1)</script></p>".into()),
            description: None,
            article: None,
            level: None,
            impact_start: Some(at("2026-03-29T00:30:00Z")),
            mitigated_at: Some(at("2026-03-29T03:15:00Z")),
            last_update: None,
            pir: PirState::Final,
            pir_seen: None,
            false_positive: false,
            impacts: vec![ImpactedRegion {
                service: "Virtual Machines".into(),
                region: "West US".into(),
                status: "Resolved".into(),
                subscriptions: BTreeSet::new(),
            }],
            subscriptions: ["sub-1".to_owned()].into(),
            updates: vec![Update {
                published: at("2026-04-05T10:00:00Z"),
                summary: "<p>Final PIR: <a href=\"https://x.example\" onclick=\"evil()\">root cause</a></p>"
                    .into(),
                tags: ["Final PIR".to_owned()].into(),
                service: "Virtual Machines".into(),
                region: "West US".into(),
            }],
            first_seen: at("2026-03-29T01:00:00Z"),
            sensitive: false,
            details_unavailable: false,
            announced: true,
        }
    }

    /// The incident's claim, open at `now` (calendar months, UTC): due Sunday 2026-05-31.
    fn claim_due(now: &str) -> ClaimDue {
        let i = incident();
        let dates = crate::followup::claim::claim_of(&i, &Default::default()).expect("claim");
        let status = crate::followup::ClaimStatus::Open(dates);
        ClaimDue::of(&status, now.parse().expect("ts"), &TimeZone::UTC).expect("open")
    }

    /// Web links as a mail carries them.
    fn test_links() -> crate::web::link::IncidentLinks {
        crate::web::link::IncidentLinks {
            reviewed: "https://p.example/l/R".into(),
            claimed: "https://p.example/l/C".into(),
            no_claim: "https://p.example/l/N".into(),
            incident: "https://p.example/l/V/i/BC_1-FXZ".into(),
            tenant: "https://p.example/l/V".into(),
        }
    }

    /// One of each action, the PIR review first.
    fn every_action(claim: &ClaimDue) -> Vec<Action> {
        vec![
            Action::ReviewPir {
                stage: crate::incident::ack::PirStage::Final,
                reminder: 2,
            },
            Action::FileClaim(claim.clone()),
            Action::RecordClaimDecision {
                closed_on: jiff::civil::date(2026, 5, 31),
            },
            Action::RequestPir,
            Action::ChaseClaim {
                filed_on: jiff::civil::date(2026, 4, 2),
                reference: Some("2604020040001234".into()),
            },
        ]
    }

    fn ctx(tz: &TimeZone) -> MailContext<'_> {
        MailContext {
            tenant: "contoso",
            timezone: tz,
            portal_url: "https://portal.azure.com/#health",
            demo: false,
            claim_channel: ClaimChannel::Microsoft,
            support_plan: SupportPlan::Standard,
            ack_command: "sudo -u pirwatch pirwatch",
            links: None,
            tenant_page: None,
            now: "2026-05-24T08:00:00Z".parse().expect("ts"),
            resources: None,
        }
    }

    #[test]
    fn pir_mail_is_sanitised_localised_and_complete() {
        let tz = TimeZone::get("Europe/Amsterdam").expect("tz");
        let i = incident();
        let deadline = claim_due("2026-05-24T08:00:00Z");
        let r = Renderer::new()
            .incident(
                NoticeKind::Pir,
                &i,
                &i.updates,
                Some(&deadline),
                &[],
                &ctx(&tz),
            )
            .expect("renders");
        assert!(r.subject.contains("Final PIR published"), "{}", r.subject);
        assert!(r.subject.contains("BC_1-FXZ"));
        for part in [&r.text, &r.html] {
            assert!(part.contains("BC_1-FXZ"));
            assert!(part.contains("2026-05-31"));
            assert!(part.contains("West US"));
            assert!(part.contains("sub-1"));
            assert!(part.contains("portal.azure.com"));
            // 00:30 UTC on the DST switch day is 01:30 CET; 03:15 UTC is 05:15 CEST.
            assert!(part.contains("2026-03-29 01:30 CET"), "{part}");
            assert!(part.contains("2026-03-29 05:15 CEST"), "{part}");
        }
        assert!(!r.html.contains("<script"));
        assert!(!r.html.contains("onclick"));
        assert!(r.html.contains("<b>mitigated</b>"));
        assert!(r.html.contains("Virtual Machines &lt;West US&gt;"));
        assert!(!r.text.contains("<b>"));
        assert!(r.text.contains("mitigated"));
        assert!(r.text.contains("root cause"));
    }

    #[test]
    fn every_kind_renders() {
        let tz = TimeZone::UTC;
        let i = incident();
        let r = Renderer::new();
        for kind in [
            NoticeKind::New,
            NoticeKind::Update,
            NoticeKind::Resolved,
            NoticeKind::Pir,
            NoticeKind::FalsePositive,
        ] {
            let m = r
                .incident(kind, &i, &[], None, &[], &ctx(&tz))
                .expect("renders");
            assert!(!m.text.is_empty() && !m.html.is_empty());
        }
        let d = r.digest(&[(&i, None)], 0, &ctx(&tz)).expect("digest");
        assert!(d.subject.contains("1 recent Azure incident with"));
        assert!(d.text.contains("BC_1-FXZ"));
        let claim = claim_due("2026-05-24T08:00:00Z");
        for action in every_action(&claim) {
            let m = r
                .reminder(std::slice::from_ref(&action), &i, Some(&claim), &ctx(&tz))
                .expect("reminder");
            assert!(
                m.text.contains("sudo -u pirwatch pirwatch ack BC_1-FXZ"),
                "{action:?}: {}",
                m.text
            );
            assert!(m.html.contains("BC_1-FXZ"));
        }
        let m = r
            .reminder(
                &[Action::FileClaim(claim.clone())],
                &i,
                Some(&claim),
                &ctx(&tz),
            )
            .expect("claim");
        assert!(
            m.subject.contains("due in 7 days (2026-05-31)"),
            "{}",
            m.subject
        );
        assert!(m.text.contains("Refund Request"), "{}", m.text);
        assert!(
            m.text.contains("< 4 hours"),
            "support plan times: {}",
            m.text
        );
    }

    #[test]
    fn subjects_say_resolved_once_and_types_read_as_words() {
        let tz = TimeZone::UTC;
        let mut i = incident();
        i.title = "VMs in West US (Resolved)".into();
        let r = Renderer::new();
        let m = r
            .incident(NoticeKind::Resolved, &i, &[], None, &[], &ctx(&tz))
            .expect("renders");
        assert!(
            m.subject
                .ends_with("Resolved: Azure incident BC_1-FXZ: VMs in West US"),
            "{}",
            m.subject
        );
        assert!(
            m.text.contains("Type:           Service issue\n"),
            "{}",
            m.text
        );
        let m = r
            .incident(NoticeKind::New, &i, &[], None, &[], &ctx(&tz))
            .expect("renders");
        assert!(
            m.subject.ends_with("(Resolved)"),
            "other kinds keep Azure's title: {}",
            m.subject
        );
    }

    /// Issue 9: a mail says "file by" only while the claim is open; "window closed" never does;
    /// the facts block ends its line.
    #[test]
    fn only_an_open_claim_is_to_be_filed() {
        let tz = TimeZone::UTC;
        let i = incident();
        let r = Renderer::new();
        let claim = claim_due("2026-05-24T08:00:00Z");
        let open = r
            .incident(NoticeKind::Pir, &i, &[], Some(&claim), &[], &ctx(&tz))
            .expect("renders");
        assert!(open.text.contains("File by:") && open.text.contains("Refund Request"));
        assert!(
            open.text
                .contains("began in the billing month March 2026 (UTC)")
                && open
                    .text
                    .contains("within two months of the end of the billing month"),
            "{}",
            open.text
        );
        assert!(
            open.text
                .contains("Mitigated:      Sun 2026-03-29 03:15 UTC (UTC+00:00)\n"),
            "{}",
            open.text
        );
        let decided = r
            .incident(NoticeKind::Pir, &i, &[], None, &[], &ctx(&tz))
            .expect("renders");
        for part in [&decided.text, &decided.html] {
            assert!(
                !part.contains("File by") && !part.contains("file by"),
                "{part}"
            );
            assert!(!part.contains("Refund Request"), "{part}");
        }
        let closed = Action::RecordClaimDecision {
            closed_on: jiff::civil::date(2026, 5, 31),
        };
        let m = r.reminder(&[closed], &i, None, &ctx(&tz)).expect("renders");
        assert!(m.text.contains("closed on Sunday 2026-05-31"), "{}", m.text);
        for part in [&m.text, &m.html] {
            assert!(
                !part.contains("File by") && !part.contains("Refund Request"),
                "{part}"
            );
        }
    }

    /// Issue 10: with `[web]`, every action is a link (a button in HTML), written out in the
    /// text part, and the footer links the tenant's page; the commands are gone.
    #[test]
    fn with_web_links_actions_are_buttons_and_links() {
        let tz = TimeZone::UTC;
        let i = incident();
        let r = Renderer::new();
        let claim = claim_due("2026-05-24T08:00:00Z");
        let links = test_links();
        let ctx = MailContext {
            links: Some(&links),
            tenant_page: Some("https://p.example/l/V"),
            ..ctx(&tz)
        };
        let both = [
            Action::FileClaim(claim.clone()),
            every_action(&claim).remove(0),
        ];
        let m = r.reminder(&both, &i, Some(&claim), &ctx).expect("renders");
        for url in [
            "https://p.example/l/R",
            "https://p.example/l/C",
            "https://p.example/l/N",
        ] {
            assert!(m.text.contains(url), "{url} in {}", m.text);
            // (The HTML escapes `/` as `&#x2f;`, which every reader decodes.)
            let escaped = url.replace('/', "&#x2f;");
            assert!(
                m.html.contains(&format!("href=\"{escaped}\"")),
                "{url} in {}",
                m.html
            );
        }
        assert!(
            m.text.contains("All open follow-ups of contoso"),
            "{}",
            m.text
        );
        assert!(!m.text.contains("pirwatch ack"), "{}", m.text);
        assert!(
            m.html.contains("role=\"presentation\""),
            "table buttons: {}",
            m.html
        );
        // The claim's links appear once: in its action, not again in the claim section.
        assert_eq!(
            m.text.matches("https://p.example/l/C").count(),
            1,
            "{}",
            m.text
        );
        let pir = r
            .incident(NoticeKind::Pir, &i, &[], Some(&claim), &[], &ctx)
            .expect("renders");
        assert!(
            pir.text
                .contains("I reviewed the PIR: https://p.example/l/R"),
            "{}",
            pir.text
        );
        assert!(
            pir.text
                .contains("We filed the claim: https://p.example/l/C"),
            "{}",
            pir.text
        );
    }

    /// What Outlook and Gmail need, checked on every mail kind (they cannot run here): inline
    /// styles only (no `<style>`, no classes), table layout, no SVG, no images, no scripts or
    /// remote resources, a viewport for phones, and the header band first.
    #[test]
    fn every_mail_is_built_for_mail_clients() {
        let mails = sample::render_every_kind(&Renderer::new()).expect("renders");
        for m in &mails {
            let h = m.html.to_ascii_lowercase();
            for banned in [
                "<style", "<svg", "<img", "<script", "<link", " class=", "<iframe",
            ] {
                assert!(
                    !h.contains(banned),
                    "{banned} in {}:\n{}",
                    m.subject,
                    m.html
                );
            }
            assert!(h.contains("<meta name=\"viewport\""), "{}", m.subject);
            assert!(
                h.contains("role=\"presentation\""),
                "table layout: {}",
                m.subject
            );
        }
    }

    /// The text part of every mail kind, as a reader sees it: a layout change shows as a diff
    /// of these snapshots (`src/notify/render/snapshots/`; review with `cargo insta review`, or
    /// accept with `INSTA_UPDATE=always cargo test`).
    #[test]
    fn the_text_part_of_every_kind() {
        let tz = TimeZone::get("Europe/Amsterdam").expect("tz");
        let i = incident();
        let r = Renderer::new();
        let claim = claim_due("2026-05-24T08:00:00Z");
        for kind in [
            NoticeKind::New,
            NoticeKind::Update,
            NoticeKind::Resolved,
            NoticeKind::Pir,
            NoticeKind::FalsePositive,
        ] {
            let m = r
                .incident(kind, &i, &i.updates, Some(&claim), &[], &ctx(&tz))
                .expect("renders");
            insta::assert_snapshot!(
                format!("mail_{}", kind.as_str()),
                format!("Subject: {}\n\n{}", m.subject, m.text)
            );
        }
        let d = r
            .digest(&[(&i, Some(claim.clone()))], 0, &ctx(&tz))
            .expect("digest");
        insta::assert_snapshot!(
            "mail_digest",
            format!("Subject: {}\n\n{}", d.subject, d.text)
        );
        for action in every_action(&claim) {
            let name = match &action {
                Action::ReviewPir { .. } => "pir_review",
                Action::FileClaim(_) => "claim",
                Action::RecordClaimDecision { .. } => "window_closed",
                Action::RequestPir => "pir_nudge",
                Action::ChaseClaim { .. } => "claim_chase",
            };
            // A closed window or a filed claim has no open claim to show.
            let open = (!matches!(name, "window_closed" | "claim_chase")).then_some(&claim);
            let m = r
                .reminder(std::slice::from_ref(&action), &i, open, &ctx(&tz))
                .expect("reminder");
            insta::assert_snapshot!(
                format!("reminder_{name}"),
                format!("Subject: {}\n\n{}", m.subject, m.text)
            );
        }
        // Two follow-ups due the same day: one mail listing both.
        let both = [
            Action::FileClaim(claim.clone()),
            every_action(&claim).remove(0),
        ];
        let m = r
            .reminder(&both, &i, Some(&claim), &ctx(&tz))
            .expect("reminder");
        insta::assert_snapshot!(
            "reminder_claim_and_pir_review",
            format!("Subject: {}\n\n{}", m.subject, m.text)
        );
        // A CSP partner's deadline passed, and the team keeps a 3-day margin.
        let partner = crate::followup::claim::ClaimPolicy {
            channel: ClaimChannel::Partner,
            partner_deadline_days: Some(10),
            margin_days: 3,
            ..Default::default()
        };
        let dates = crate::followup::claim::claim_of(&i, &partner).expect("claim");
        let status = crate::followup::ClaimStatus::Open(dates);
        let now: jiff::Timestamp = "2026-05-20T08:00:00Z".parse().expect("ts");
        let late = ClaimDue::of(&status, now, &TimeZone::UTC).expect("open");
        let m = r
            .reminder(
                &[Action::FileClaim(late.clone())],
                &i,
                Some(&late),
                &MailContext {
                    claim_channel: ClaimChannel::Partner,
                    ..ctx(&tz)
                },
            )
            .expect("reminder");
        insta::assert_snapshot!(
            "reminder_claim_partner_passed_with_margin",
            format!("Subject: {}\n\n{}", m.subject, m.text)
        );
        // Folded into an incident mail.
        let m = r
            .incident(
                NoticeKind::Update,
                &i,
                &i.updates,
                Some(&claim),
                &both,
                &ctx(&tz),
            )
            .expect("renders");
        insta::assert_snapshot!(
            "mail_update_with_follow_ups",
            format!("Subject: {}\n\n{}", m.subject, m.text)
        );
    }
}
