//! The pages: a signed link's confirmation page (GET shows, POST records), the tenant's page of
//! open follow-ups, an incident's whole history, and the same pages for people signed in
//! through a reverse proxy (`signin`). Every refusal is a clear page with a 4xx status that
//! changes nothing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use minijinja::Value;
use serde::Serialize;

use super::WebState;
use super::form::{AckForm, cross_site, remember_name, remembered_name, request_of};
use super::link::{IncidentLinks, Link, LinkAction, LinkError, LinkMaker};
use crate::config::Config;
use crate::config::web::Web;
use crate::incident::ack::AckSource;
use crate::incident::notice::Receiver;
use crate::incident::{TenantName, TrackingId};
use crate::report::{self, IncidentRow};

/// A page refusing the request (boxed: a response is large).
pub(super) type Refusal = Box<Response>;

/// What every page's template needs.
pub(super) struct Ctx {
    pub(super) config: Arc<Config>,
    pub(super) web: Web,
    pub(super) maker: LinkMaker,
}

pub(super) fn ctx(s: &WebState) -> Result<Ctx, Refusal> {
    let live = s.live.borrow().clone();
    let config = live.config.clone();
    let Some(web) = config.web.clone() else {
        return Err(Box::new(plain(
            StatusCode::NOT_FOUND,
            "the web pages are off",
        )));
    };
    let maker = LinkMaker::new(live.keys.clone(), web.public_url.clone(), web.link_ttl);
    Ok(Ctx { config, web, maker })
}

/// A value for the templates.
fn ser<T: Serialize>(x: &T) -> Value {
    Value::from(minijinja::value::Serde(x))
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// A page from `template` with `vars` and what every page shows.
pub(super) fn page(
    s: &WebState,
    c: &Ctx,
    status: StatusCode,
    template: &str,
    vars: Value,
) -> Response {
    let base = minijinja::context! {
        base => c.web.public_url.as_str().trim_end_matches('/'),
        stylesheet => c.maker.url(&["style.css"]),
    };
    let vars = minijinja::context! { ..vars, ..base };
    match s.renderer.page(template, &vars) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "a web page did not render");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page could not be shown",
            )
        }
    }
}

pub(super) fn error(
    s: &WebState,
    c: &Ctx,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let vars = minijinja::context! { title => title, message => message };
    page(s, c, status, "web/error.html", vars)
}

fn link_refused(s: &WebState, c: &Ctx, e: &LinkError) -> Response {
    let status = match e {
        LinkError::Expired(_) => StatusCode::GONE,
        LinkError::Forged => StatusCode::FORBIDDEN,
        LinkError::Malformed => StatusCode::BAD_REQUEST,
    };
    let message = match e {
        LinkError::Expired(_) => format!(
            "{e}. Links in mails last {}; the newest mail about this incident has a fresh one, \
             or use the command the mail shows.",
            humantime::format_duration(c.web.link_ttl)
        ),
        _ => format!("{e}. Nothing was recorded."),
    };
    error(s, c, status, "This link does not work", &message)
}

/// The verified link of `token`, or the page saying why not.
fn verified(s: &WebState, c: &Ctx, token: &str, now: Timestamp) -> Result<Link, Refusal> {
    let link = c
        .maker
        .keys()
        .verify(token, now)
        .map_err(|e| Box::new(link_refused(s, c, &e)))?;
    if c.config.tenant(&link.tenant).is_none() {
        return Err(Box::new(error(
            s,
            c,
            StatusCode::NOT_FOUND,
            "Not watched any more",
            "This link's tenant is no longer in pirwatch's config.",
        )));
    }
    Ok(link)
}

/// What every link's page starts from: the context, the verified link, and now.
fn opened(s: &WebState, token: &str) -> Result<(Ctx, Link, Timestamp), Refusal> {
    let c = ctx(s)?;
    let now = s.now();
    let link = verified(s, &c, token, now)?;
    Ok((c, link, now))
}

/// The zone a tenant's times are shown in.
fn zone(c: &Ctx, tenant: &str) -> String {
    c.config
        .tenant(tenant)
        .and_then(|t| t.policy.calendar.timezone().iana_name())
        .unwrap_or("UTC")
        .to_owned()
}

pub(super) async fn root(State(s): State<WebState>) -> Response {
    let Ok(c) = ctx(&s) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    error(
        &s,
        &c,
        StatusCode::NOT_FOUND,
        "pirwatch",
        "Open the link in one of pirwatch's mails, or sign in through your organisation's \
         proxy and go to /tenants.",
    )
}

pub(super) async fn not_found(State(s): State<WebState>) -> Response {
    match ctx(&s) {
        Ok(c) => error(
            &s,
            &c,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
        Err(r) => *r,
    }
}

pub(super) async fn link_get(
    State(s): State<WebState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (c, link, now) = match opened(&s, &token) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    match link.action {
        LinkAction::View => {
            tenant_page(
                &s,
                &c,
                &link.tenant,
                &link.receiver,
                Some(&token),
                None,
                now,
            )
            .await
        }
        _ => {
            let form = AckForm {
                by: remembered_name(&headers),
                ..AckForm::default()
            };
            confirm(&s, &c, &link, &token, &form, None, now).await
        }
    }
}

/// The confirmation page of an action link, with `form` filled in as it was and `problem`.
async fn confirm(
    s: &WebState,
    c: &Ctx,
    link: &Link,
    token: &str,
    form: &AckForm,
    problem: Option<&str>,
    now: Timestamp,
) -> Response {
    let Some(id) = &link.tracking_id else {
        return error(
            s,
            c,
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "It names no incident.",
        );
    };
    let Some(row) = row_of(s, c, &link.tenant, id, now).await else {
        return error(
            s,
            c,
            StatusCode::NOT_FOUND,
            "Unknown incident",
            "pirwatch has no such incident.",
        );
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let vars = minijinja::context! {
        title => action_title(link.action),
        action => action_name(link.action),
        r => ser(&row),
        tz => zone(c, &link.tenant),
        csrf => c.maker.keys().form_token(token),
        form => ser(form),
        problem => problem,
        incident_url => c.maker.url(&["l", &c.maker.token(&link.tenant, None, LinkAction::View, &link.receiver, now), "i", id.as_str()]),
    };
    page(s, c, status, "web/confirm.html", vars)
}

fn action_name(a: LinkAction) -> &'static str {
    match a {
        LinkAction::View => "view",
        LinkAction::Reviewed => "reviewed",
        LinkAction::Claimed => "claimed",
        LinkAction::NoClaim => "no_claim",
    }
}

fn action_title(a: LinkAction) -> &'static str {
    match a {
        LinkAction::View => "Open follow-ups",
        LinkAction::Reviewed => "I reviewed the PIR",
        LinkAction::Claimed => "We filed the SLA claim",
        LinkAction::NoClaim => "We will not claim",
    }
}

/// The incident's row as `incidents` shows it, within `tenant` only.
async fn row_of(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    now: Timestamp,
) -> Option<IncidentRow> {
    match report::record(&s.store, &c.config, tenant, id, now).await {
        Ok(r) => r.map(|r| r.row),
        Err(e) => {
            tracing::warn!(error = %e, "reading an incident for a web page");
            None
        }
    }
}

/// POST of an action link: records the acknowledgement, exactly as `pirwatch ack` does.
pub(super) async fn link_post(
    State(s): State<WebState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<AckForm>,
) -> Response {
    let (c, link, now) = match opened(&s, &token) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    if link.action == LinkAction::View {
        return error(
            &s,
            &c,
            StatusCode::METHOD_NOT_ALLOWED,
            "Nothing to record",
            "This link only shows pages.",
        );
    }
    if cross_site(&headers, &c.web) || !c.maker.keys().form_token_ok(&token, &form.form) {
        return error(
            &s,
            &c,
            StatusCode::FORBIDDEN,
            "Not recorded",
            "This form did not come from pirwatch's page. Open the link from the mail again.",
        );
    }
    let (request, by) = match request_of(link.action, &form) {
        Ok(r) => r,
        Err(problem) => return confirm(&s, &c, &link, &token, &form, Some(problem), now).await,
    };
    let Some(id) = &link.tracking_id else {
        return error(
            &s,
            &c,
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "It names no incident.",
        );
    };
    let incident = match s.store.incident(&link.tenant, id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return error(
                &s,
                &c,
                StatusCode::NOT_FOUND,
                "Unknown incident",
                "pirwatch has no such incident.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading an incident to acknowledge");
            return error(
                &s,
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not recorded",
                "pirwatch cannot read its store just now; try again in a minute.",
            );
        }
    };
    let source = AckSource::Web {
        receiver: link.receiver.as_str().to_owned(),
    };
    let (ack, new) = match s
        .store
        .acknowledge(&incident, request, &by, source, now)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "recording a web acknowledgement");
            return error(
                &s,
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not recorded",
                "pirwatch cannot write its store just now; try again in a minute.",
            );
        }
    };
    tracing::info!(tenant = %link.tenant, tracking_id = %id, kind = ?ack.kind, new, "acknowledged on the web");
    let vars = minijinja::context! {
        title => "Recorded",
        action => action_name(link.action),
        new => new,
        by => &ack.by,
        tracking_id => id.as_str(),
        incident_title => &incident.title,
        tenant_url => c.maker.tenant_page(&link.tenant, &link.receiver, now),
    };
    let mut res = page(&s, &c, StatusCode::OK, "web/done.html", vars);
    if let Some(cookie) = remember_name(&ack.by, &c.web) {
        res.headers_mut()
            .insert(axum::http::header::SET_COOKIE, cookie);
    }
    res
}

/// A tenant's page of open follow-ups. `view_token` (a link's) makes the incident links;
/// `user` (signed in through the proxy) is named on the page.
pub(super) async fn tenant_page(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    receiver: &Receiver,
    view_token: Option<&str>,
    user: Option<&str>,
    now: Timestamp,
) -> Response {
    let rows = match report::rows(&s.store, &c.config, now).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reading incidents for a web page");
            return unavailable(s, c);
        }
    };
    let (mut open, others): (Vec<IncidentRow>, Vec<IncidentRow>) = rows
        .into_iter()
        .filter(|r| r.tenant == tenant.as_str())
        .partition(|r| r.claim.state == "open" || r.pir_review.state == "to_review");
    // Soonest deadline first; those with none (a PIR to review only) after them.
    open.sort_by(|a, b| {
        (
            a.claim.deadline.is_none(),
            &a.claim.deadline,
            &a.tracking_id,
        )
            .cmp(&(
                b.claim.deadline.is_none(),
                &b.claim.deadline,
                &b.tracking_id,
            ))
    });
    let item = |r: &IncidentRow| {
        let id = TrackingId::from(r.tracking_id.as_str());
        let links: IncidentLinks = c.maker.incident(tenant, &id, receiver, now);
        let page = match (view_token, user) {
            (Some(t), _) => c.maker.url(&["l", t, "i", id.as_str()]),
            _ => c.maker.url(&["tenants", tenant.as_str(), "i", id.as_str()]),
        };
        minijinja::context! { r => ser(r), links => ser(&links), page => page }
    };
    let vars = minijinja::context! {
        title => format!("Open follow-ups: {tenant}"),
        tenant => tenant.as_str(),
        tz => zone(c, tenant),
        user => user,
        open => open.iter().map(item).collect::<Vec<_>>(),
        others => others.iter().take(100).map(item).collect::<Vec<_>>(),
        now => now.to_string(),
    };
    page(s, c, StatusCode::OK, "web/tenant.html", vars)
}

/// The page saying the store cannot be read just now (the log has why).
fn unavailable(s: &WebState, c: &Ctx) -> Response {
    error(
        s,
        c,
        StatusCode::SERVICE_UNAVAILABLE,
        "Not available",
        "pirwatch cannot read its store just now.",
    )
}

/// An incident's record, or the page saying why there is none.
async fn record_of(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    now: Timestamp,
) -> Result<report::IncidentRecord, Box<Response>> {
    match report::record(&s.store, &c.config, tenant, id, now).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Box::new(error(
            s,
            c,
            StatusCode::NOT_FOUND,
            "Unknown incident",
            "This tenant has no such incident.",
        ))),
        Err(e) => {
            tracing::error!(error = %e, tenant = %tenant, tracking_id = %id,
                "reading an incident for a web page");
            Err(Box::new(unavailable(s, c)))
        }
    }
}

/// An incident's page: its whole stored history.
pub(super) async fn incident_page(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    receiver: &Receiver,
    back: String,
    now: Timestamp,
) -> Response {
    let record = match record_of(s, c, tenant, id, now).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let updates: Vec<Value> = record
        .updates
        .iter()
        .rev()
        .map(|u| {
            minijinja::context! {
                published => u.published.to_string(),
                tags => u.tags.iter().cloned().collect::<Vec<_>>(),
                html => crate::notify::render::sanitize(&u.summary),
            }
        })
        .collect();
    let timeline = timeline_of(s, c, tenant, id, now).await;
    // A claim can be drafted for a service issue whose claim is not out of the question.
    let draft = (record.row.claim.state != "not_applicable")
        .then(|| format!("{back}/i/{}/claim", url_segment(id.as_str())));
    let vars = minijinja::context! {
        draft => draft,
        timeline => ser(&timeline),
        title => format!("{}: {}", record.row.tracking_id, record.row.title),
        r => ser(&record.row),
        summary => record.summary.as_deref().map(crate::notify::render::sanitize),
        updates => updates,
        acks => ser(&record.acknowledgements),
        mails => ser(&record.mails),
        links => ser(&c.maker.incident(tenant, id, receiver, now)),
        tz => zone(c, tenant),
        back => back,
    };
    page(s, c, StatusCode::OK, "web/incident.html", vars)
}

/// A path segment, percent-encoded.
fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The drafted claim of an incident, to copy into the support request (read-only).
pub(super) async fn claim_page(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    back: String,
    now: Timestamp,
) -> Response {
    let record = match record_of(s, c, tenant, id, now).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let title = format!("{}: {}", record.row.tracking_id, record.row.title);
    let Some(d) = report::draft::draft(&c.config, std::slice::from_ref(&record)) else {
        return error(s, c, StatusCode::NOT_FOUND, "Nothing to draft", "");
    };
    let text = match report::draft::render(&s.renderer, &d, false) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "rendering a claim draft");
            return error(
                s,
                c,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The draft cannot be made",
                "Its template failed; the log says why.",
            );
        }
    };
    let vars = minijinja::context! {
        title => title,
        draft_title => d.title,
        text => text,
        how_to_file => d.how_to_file,
        back => back,
    };
    page(s, c, StatusCode::OK, "web/claim.html", vars)
}

/// A read-only (view) link opened: refused unless it is one.
fn opened_view(
    s: &WebState,
    token: &str,
) -> Result<(Ctx, crate::web::link::Link, Timestamp), Box<Response>> {
    let (c, link, now) = opened(s, token)?;
    if link.action != LinkAction::View {
        return Err(Box::new(error(
            s,
            &c,
            StatusCode::FORBIDDEN,
            "This link does not work",
            "It does not show pages.",
        )));
    }
    Ok((c, link, now))
}

/// GET of an incident's claim draft under a tenant's read-only link.
pub(super) async fn link_claim(
    State(s): State<WebState>,
    Path((token, tracking_id)): Path<(String, String)>,
) -> Response {
    let (c, link, now) = match opened_view(&s, &token) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let id = TrackingId::from(tracking_id.as_str());
    let back = c.maker.url(&["l", &token, "i", id.as_str()]);
    claim_page(&s, &c, &link.tenant, &id, back, now).await
}

/// The incident's timeline strip, as its mails show it.
async fn timeline_of(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    now: Timestamp,
) -> Vec<crate::notify::render::layout::TimelineStep> {
    let Some(t) = c.config.tenant(tenant) else {
        return Vec::new();
    };
    let (Ok(Some(i)), Ok(acks)) = (
        s.store.incident(tenant, id).await,
        s.store.acks(tenant, id).await,
    ) else {
        return Vec::new();
    };
    let acks = crate::incident::ack::Acks::from_records(&acks);
    let tz = t.policy.calendar.timezone();
    let f = crate::followup::assess(&i, &acks, &Default::default(), &t.policy, now);
    let claim = crate::followup::actions::ClaimDue::of(&f.claim, now, tz);
    crate::notify::render::layout::timeline(&i, claim.as_ref(), now, tz)
}

/// GET of an incident page under a tenant's read-only link: that tenant's incidents only.
pub(super) async fn link_incident(
    State(s): State<WebState>,
    Path((token, tracking_id)): Path<(String, String)>,
) -> Response {
    let (c, link, now) = match opened_view(&s, &token) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let back = c.maker.url(&["l", &token]);
    let id = TrackingId::from(tracking_id.as_str());
    incident_page(&s, &c, &link.tenant, &id, &link.receiver, back, now).await
}
