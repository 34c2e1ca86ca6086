//! Signing in through a reverse proxy: the identity header, trusted only from the configured
//! proxies, and the tenants each identity may see (`[[web.access]]`); the `/tenants` pages.

use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use minijinja::Value;

use super::WebState;
use super::pages::{Ctx, Refusal, ctx, error, incident_page, page, tenant_page};
use crate::incident::notice::Receiver;
use crate::incident::{TenantName, TrackingId};

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

/// The context of a signed-in user's request about `tenant`, once allowed to see it.
fn sso_allowed(s: &WebState, viewer: &Viewer, tenant: &str) -> Result<Ctx, Box<Response>> {
    let c = ctx(s)?;
    sso_tenant_allowed(s, &c, viewer, tenant)?;
    Ok(c)
}

/// An incident's claim draft, for a signed-in user allowed to see its tenant.
pub(super) async fn sso_claim(
    State(s): State<WebState>,
    viewer: Viewer,
    Path((tenant, tracking_id)): Path<(String, String)>,
) -> Response {
    let c = match sso_allowed(&s, &viewer, &tenant) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let id = TrackingId::from(tracking_id.as_str());
    let back = c.maker.url(&["tenants", &tenant, "i", id.as_str()]);
    let name = TenantName::from(tenant.as_str());
    super::pages::claim_page(&s, &c, &name, &id, back, s.now()).await
}

pub(super) async fn sso_incident(
    State(s): State<WebState>,
    viewer: Viewer,
    Path((tenant, tracking_id)): Path<(String, String)>,
) -> Response {
    let c = match sso_allowed(&s, &viewer, &tenant) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let id = TrackingId::from(tracking_id.as_str());
    let back = c.maker.url(&["tenants", &tenant]);
    let name = TenantName::from(tenant.as_str());
    let receiver = Receiver::TenantRecipients;
    incident_page(&s, &c, &name, &id, &receiver, back, s.now()).await
}
