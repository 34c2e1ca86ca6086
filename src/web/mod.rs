//! The web listener for people (`[web]`): signed action links from mails, confirmation pages
//! whose POST records the acknowledgement, and the pages of open follow-ups (by a signed
//! read-only link, or signed in through a reverse proxy's identity header).
//!
//! A GET never changes anything: mail security scanners open every link in a mail before a
//! person does. Every page sends a strict Content-Security-Policy, loads nothing from elsewhere
//! and works without JavaScript.

mod form;
pub mod link;
mod pages;
mod signin;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::notify::render::Renderer;
use crate::store::Store;
use link::Keys;

/// What the handlers read. The config and the keys follow reloads.
#[derive(Clone)]
pub struct WebState {
    pub live: watch::Receiver<Arc<Live>>,
    pub store: Store,
    pub renderer: Arc<Renderer>,
    /// A fixed clock (screenshots that do not churn); `None`: the real one.
    pub clock: Option<jiff::Timestamp>,
}

impl WebState {
    /// Now, by the state's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.unwrap_or_else(jiff::Timestamp::now)
    }
}

/// The config and the link keys in force: replaced together when the config is reloaded.
pub struct Live {
    pub config: Arc<Config>,
    pub keys: Keys,
}

/// The stylesheet every page links (pages carry no inline style: the CSP forbids it).
const STYLE: &str = include_str!("../../templates/web/style.css");

/// The headers every response carries.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    // A link is a capability: never hand it to another site.
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
];

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    for (name, value) in SECURITY_HEADERS {
        res.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    res
}

/// The router, without a listener (the tests drive it too).
pub fn router(state: WebState) -> axum::Router {
    axum::Router::new()
        .route("/", get(pages::root))
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/l/{token}", get(pages::link_get).post(pages::link_post))
        .route("/l/{token}/i/{tracking_id}", get(pages::link_incident))
        .route("/l/{token}/i/{tracking_id}/claim", get(pages::link_claim))
        .route("/tenants", get(signin::sso_tenants))
        .route("/tenants/{tenant}", get(signin::sso_tenant))
        .route(
            "/tenants/{tenant}/i/{tracking_id}",
            get(signin::sso_incident),
        )
        .route(
            "/tenants/{tenant}/i/{tracking_id}/claim",
            get(signin::sso_claim),
        )
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Binds `addr` and serves until `stop`.
pub async fn serve(
    addr: SocketAddr,
    state: WebState,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    serve_on(tokio::net::TcpListener::bind(addr).await?, state, stop)
}

/// Serves on a bound `listener` until `stop`.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    state: WebState,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "web listener: signed links and follow-up pages");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "web listener failed");
        }
    }))
}
