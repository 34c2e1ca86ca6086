//! The optional HTTP listener (`[http] listen`): `/healthz` (the process answers), `/readyz`
//! (the store answers and the last poll is recent; what fails is in the body), `/metrics`
//! (Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::Store;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub store: Store,
    /// The poll interval: `/readyz` fails when the last poll is older than three of them.
    pub interval: Duration,
}

/// `/readyz`'s body.
#[derive(Debug, Serialize)]
struct Readiness {
    ready: bool,
    store: String,
    last_poll: Option<jiff::Timestamp>,
    failing_scopes: Vec<FailingScope>,
    smtp_error: Option<String>,
    /// Each task's liveness (`poller`, `deliverer`).
    tasks: std::collections::BTreeMap<&'static str, bool>,
    /// Deliveries failed for good that nobody dismissed, and recipients given up on.
    undelivered: Vec<Undelivered>,
}

#[derive(Debug, Serialize)]
struct Undelivered {
    message_id: String,
    tenant: String,
    state: &'static str,
    failed_recipients: Vec<String>,
}

#[derive(Debug, Serialize)]
struct FailingScope {
    scope: String,
    error: String,
}

/// Binds `addr` and serves until `stop`.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The bound address: with port 0 the system picks one, and this line says which.
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "HTTP listener: /healthz /readyz /metrics");
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP listener failed");
        }
    }))
}

async fn readyz(State(s): State<HttpState>) -> Response {
    let store = match s.store.check().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let last_poll = s.metrics.last_poll_at();
    let recent = last_poll.is_some_and(|t| {
        let age = jiff::Timestamp::now().duration_since(t);
        age <= jiff::SignedDuration::try_from(s.interval * 3).unwrap_or(jiff::SignedDuration::MAX)
    });
    let now = jiff::Timestamp::now();
    let tasks = crate::metrics::Task::ALL
        .into_iter()
        .map(|t| (t.as_str(), s.metrics.task_alive(t, now)))
        .collect();
    let undelivered = match s.store.outbox().await {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| e.dismissed_at.is_none())
            .filter_map(|e| {
                let failed: Vec<String> = e
                    .recipients
                    .iter()
                    .filter(|r| r.state == crate::incident::notice::RecipientState::Failed)
                    .map(|r| r.address.clone())
                    .collect();
                let failed_for_good = e.state == crate::incident::notice::DeliveryState::Failed;
                (failed_for_good || !failed.is_empty()).then(|| Undelivered {
                    message_id: e.message_id.to_string(),
                    tenant: e.tenant,
                    state: e.state.as_str(),
                    failed_recipients: failed,
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let body = Readiness {
        ready: store == "ok" && recent,
        tasks,
        undelivered,
        store,
        last_poll,
        failing_scopes: s
            .metrics
            .failing_scopes()
            .into_iter()
            .map(|(scope, error)| FailingScope { scope, error })
            .collect(),
        smtp_error: s.metrics.smtp_error(),
    };
    let status = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(s): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}
