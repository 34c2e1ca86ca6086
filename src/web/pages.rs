//! The pages: a signed link's confirmation page (GET shows, POST records), the tenant's page of
//! open follow-ups, an incident's whole history, and the same pages for people signed in
//! through a reverse proxy. Every refusal is a clear page with a 4xx status that changes nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use super::WebState;
use super::link::{IncidentLinks, Link, LinkAction, LinkError, LinkMaker};
use crate::config::Config;
use crate::config::web::Web;
use crate::incident::ack::{AckRequest, AckSource};
use crate::incident::notice::Receiver;
use crate::incident::{TenantName, TrackingId};
use crate::report::{self, IncidentRow};

/// The longest name, support request number and reason a form takes.
const MAX_BY: usize = 100;
const MAX_REFERENCE: usize = 64;
const MAX_REASON: usize = 500;

/// The fields of a confirmation form.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct AckForm {
    /// The CSRF token bound to the link.
    #[serde(default)]
    form: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    reason: String,
}

/// Who is asking: the peer's address and, from a trusted proxy, the signed-in user.
pub(super) struct Viewer {
    user: Option<String>,
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &WebState) -> Result<Self, Self::Rejection> {
        let config = s.live.borrow().config.clone();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let user = config
            .web
            .as_ref()
            .and_then(|w| w.identity.as_ref())
            .filter(|id| peer.is_some_and(|p| id.proxies.contains(&p)))
            .and_then(|id| parts.headers.get(id.name.as_str()))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        Ok(Self { user })
    }
}

/// A page refusing the request (boxed: a response is large).
type Refusal = Box<Response>;

/// What every page's template needs.
struct Ctx {
    config: Arc<Config>,
    web: Web,
    maker: LinkMaker,
}

fn ctx(s: &WebState) -> Result<Ctx, Refusal> {
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
fn page(s: &WebState, c: &Ctx, status: StatusCode, template: &str, vars: Value) -> Response {
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

fn error(s: &WebState, c: &Ctx, status: StatusCode, title: &str, message: &str) -> Response {
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

/// GET of a link: the tenant's page, or an action's confirmation page. Changes nothing.
/// The cookie that remembers the name a person typed, to fill the next form in (a convenience
/// on their own device; what is recorded is always what the form sends).
const NAME_COOKIE: &str = "pirwatch_by";

/// The name remembered in the request's cookie.
fn remembered_name(headers: &HeaderMap) -> String {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == NAME_COOKIE)
        .and_then(|(_, v)| {
            url::form_urlencoded::parse(format!("n={v}").as_bytes())
                .next()
                .map(|(_, n)| n.into_owned())
        })
        .filter(|n| n.chars().count() <= MAX_BY && !n.chars().any(char::is_control))
        .unwrap_or_default()
}

/// The `Set-Cookie` that remembers `name` for a year, on this site only.
fn remember_name(name: &str, web: &Web) -> Option<axum::http::HeaderValue> {
    let value: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let secure = if web.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    axum::http::HeaderValue::from_str(&format!(
        "{NAME_COOKIE}={value}; Path=/; Max-Age=31536000; SameSite=Strict; HttpOnly{secure}"
    ))
    .ok()
}

pub(super) async fn link_get(
    State(s): State<WebState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let now = s.now();
    let link = match verified(&s, &c, &token, now) {
        Ok(l) => l,
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

/// True when the browser says the form came from another site.
fn cross_site(headers: &HeaderMap, web: &Web) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|v| v != "same-origin" && v != "none") {
        return true;
    }
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let ours = web.public_url.origin().ascii_serialization();
    origin.is_some_and(|o| o != "null" && o != ours)
}

/// What the form asks for, checked: the request, or what is wrong with it.
fn request_of(action: LinkAction, form: &AckForm) -> Result<(AckRequest, String), &'static str> {
    let clean = |s: &str| s.trim().to_owned();
    let by = clean(&form.by);
    if by.is_empty() {
        return Err("Type your name: it is recorded as who did this.");
    }
    if by.chars().count() > MAX_BY || by.chars().any(char::is_control) {
        return Err("The name is too long or holds control characters.");
    }
    let request = match action {
        LinkAction::Reviewed => AckRequest::Reviewed,
        LinkAction::Claimed => {
            let r = clean(&form.reference);
            if r.is_empty() {
                return Err("Type the support request number of the claim.");
            }
            if r.chars().count() > MAX_REFERENCE || r.chars().any(char::is_control) {
                return Err("The support request number is too long.");
            }
            AckRequest::Claimed { reference: Some(r) }
        }
        LinkAction::NoClaim => {
            let r = clean(&form.reason);
            if r.is_empty() {
                return Err("Say why no claim will be filed.");
            }
            if r.chars().count() > MAX_REASON {
                return Err("The reason is too long.");
            }
            AckRequest::NoClaim { reason: Some(r) }
        }
        LinkAction::View => return Err("This link records nothing."),
    };
    Ok((request, by))
}

/// POST of an action link: records the acknowledgement, exactly as `pirwatch ack` does.
pub(super) async fn link_post(
    State(s): State<WebState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<AckForm>,
) -> Response {
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let now = s.now();
    let link = match verified(&s, &c, &token, now) {
        Ok(l) => l,
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
async fn tenant_page(
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
            return error(
                s,
                c,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available",
                "pirwatch cannot read its store just now.",
            );
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

/// An incident's page: its whole stored history.
async fn incident_page(
    s: &WebState,
    c: &Ctx,
    tenant: &TenantName,
    id: &TrackingId,
    receiver: &Receiver,
    back: String,
    now: Timestamp,
) -> Response {
    let record = match report::record(&s.store, &c.config, tenant, id, now).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                s,
                c,
                StatusCode::NOT_FOUND,
                "Unknown incident",
                "This tenant has no such incident.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading an incident for a web page");
            return error(
                s,
                c,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available",
                "pirwatch cannot read its store just now.",
            );
        }
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
    let vars = minijinja::context! {
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
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let now = s.now();
    let link = match verified(&s, &c, &token, now) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    if link.action != LinkAction::View {
        return error(
            &s,
            &c,
            StatusCode::FORBIDDEN,
            "This link does not work",
            "It does not show pages.",
        );
    }
    let back = c.maker.url(&["l", &token]);
    let id = TrackingId::from(tracking_id.as_str());
    incident_page(&s, &c, &link.tenant, &id, &link.receiver, back, now).await
}

/// The tenants a signed-in user may see, or the page saying why none.
fn sso_tenants_of(
    s: &WebState,
    c: &Ctx,
    viewer: &Viewer,
) -> Result<(String, Vec<String>), Refusal> {
    let Some(user) = &viewer.user else {
        return Err(Box::new(error(
            s,
            c,
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "These pages are reached through your organisation's sign-in proxy, or through the \
             link in one of pirwatch's mails.",
        )));
    };
    let all: Vec<String> = c
        .config
        .tenants
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let granted = match c.web.tenants_of(user) {
        None => all,
        Some(names) => names.into_iter().filter(|n| all.contains(n)).collect(),
    };
    Ok((user.clone(), granted))
}

pub(super) async fn sso_tenants(State(s): State<WebState>, viewer: Viewer) -> Response {
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (user, tenants) = match sso_tenants_of(&s, &c, &viewer) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let links: Vec<Value> = tenants
        .iter()
        .map(|t| minijinja::context! { name => t, url => c.maker.url(&["tenants", t]) })
        .collect();
    let vars = minijinja::context! { title => "Tenants", user => user, tenants => links };
    page(&s, &c, StatusCode::OK, "web/tenants.html", vars)
}

/// A tenant the signed-in user may see, or the refusal.
fn sso_tenant_allowed(
    s: &WebState,
    c: &Ctx,
    viewer: &Viewer,
    tenant: &str,
) -> Result<String, Refusal> {
    let (user, tenants) = sso_tenants_of(s, c, viewer)?;
    if tenants.iter().any(|t| t == tenant) {
        Ok(user)
    } else {
        Err(Box::new(error(
            s,
            c,
            StatusCode::FORBIDDEN,
            "Not yours to see",
            "Your sign-in does not grant this tenant ([[web.access]] in pirwatch's config).",
        )))
    }
}

pub(super) async fn sso_tenant(
    State(s): State<WebState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Response {
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let user = match sso_tenant_allowed(&s, &c, &viewer, &tenant) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let name = TenantName::from(tenant.as_str());
    let now = s.now();
    tenant_page(
        &s,
        &c,
        &name,
        &Receiver::TenantRecipients,
        None,
        Some(&user),
        now,
    )
    .await
}

pub(super) async fn sso_incident(
    State(s): State<WebState>,
    viewer: Viewer,
    Path((tenant, tracking_id)): Path<(String, String)>,
) -> Response {
    let c = match ctx(&s) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Err(r) = sso_tenant_allowed(&s, &c, &viewer, &tenant) {
        return *r;
    }
    let name = TenantName::from(tenant.as_str());
    let id = TrackingId::from(tracking_id.as_str());
    let back = c.maker.url(&["tenants", &tenant]);
    let now = s.now();
    incident_page(&s, &c, &name, &id, &Receiver::TenantRecipients, back, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(by: &str, reference: &str, reason: &str) -> AckForm {
        AckForm {
            form: String::new(),
            by: by.into(),
            reference: reference.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_form_asks_for_what_its_action_needs() {
        let ok = request_of;
        assert_eq!(
            ok(LinkAction::Reviewed, &form(" Ana ", "", "")),
            Ok((AckRequest::Reviewed, "Ana".into()))
        );
        assert!(ok(LinkAction::Reviewed, &form("  ", "", "")).is_err());
        assert!(ok(LinkAction::Claimed, &form("Ana", "", "")).is_err());
        assert_eq!(
            ok(LinkAction::Claimed, &form("Ana", " 2612010040001 ", "")),
            Ok((
                AckRequest::Claimed {
                    reference: Some("2612010040001".into())
                },
                "Ana".into()
            ))
        );
        assert!(ok(LinkAction::NoClaim, &form("Ana", "", "")).is_err());
        assert!(ok(LinkAction::NoClaim, &form("Ana", "", &"x".repeat(501))).is_err());
        assert!(ok(LinkAction::Reviewed, &form("A\u{7}na", "", "")).is_err());
        assert!(ok(LinkAction::View, &form("Ana", "", "")).is_err());
    }

    #[test]
    fn the_name_is_remembered_and_read_back_safely() {
        let web = crate::config::web::Web {
            listen: "127.0.0.1:8080".parse().expect("addr"),
            public_url: "https://pirwatch.example.com".parse().expect("url"),
            key_file: "k".into(),
            link_ttl: std::time::Duration::from_secs(3600),
            identity: None,
            access: Vec::new(),
        };
        let cookie = remember_name("Zoë O'Brien; x=1", &web).expect("cookie");
        let c = cookie.to_str().expect("ascii");
        assert!(
            c.starts_with("pirwatch_by=Zo%C3%AB+O%27Brien%3B+x%3D1;"),
            "{c}"
        );
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        let mut h = HeaderMap::new();
        let pair = c.split(';').next().expect("pair");
        h.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_str(&format!("other=1; {pair}")).expect("header"),
        );
        assert_eq!(remembered_name(&h), "Zoë O'Brien; x=1");
        assert_eq!(remembered_name(&HeaderMap::new()), "");
    }

    #[test]
    fn a_form_from_another_site_is_refused() {
        let web = crate::config::web::Web {
            listen: "127.0.0.1:8080".parse().expect("addr"),
            public_url: "https://pirwatch.example.com".parse().expect("url"),
            key_file: "k".into(),
            link_ttl: std::time::Duration::from_secs(3600),
            identity: None,
            access: Vec::new(),
        };
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, axum::http::HeaderValue::from_static(v));
            }
            m
        };
        assert!(!cross_site(&h(&[]), &web), "old browsers send neither");
        assert!(!cross_site(
            &h(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://pirwatch.example.com")
            ]),
            &web
        ));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")]), &web));
        assert!(cross_site(&h(&[("origin", "https://evil.example")]), &web));
    }
}
