//! Running under a service manager: systemd readiness and status (`sd_notify`; a no-op without
//! `NOTIFY_SOCKET`, as in containers), the watchdog, and the signals that stop or reload.
//!
//! The watchdog is fed only while the scheduler is alive: every step of it (a loop tick, an ARM
//! request, a `Retry-After` wait, an SMTP send) says how long it may take, and a deadlocked
//! loop stops saying so, so systemd restarts it.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// The config is valid and the store open.
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// A one-line status for `systemctl status`.
pub fn status(text: &str) {
    notify(&[NotifyState::Status(text)]);
}

/// Shutting down.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Feeds the systemd watchdog at half its interval while the scheduler is alive.
pub fn spawn_watchdog(metrics: Arc<Metrics>, stop: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        loop {
            if metrics.is_alive(jiff::Timestamp::now()) {
                notify(&[NotifyState::Watchdog]);
            } else {
                tracing::error!("scheduler made no progress; not feeding the watchdog");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// SIGTERM and SIGINT cancel `stop`; SIGHUP wakes `reload`.
pub fn spawn_signal_handlers(stop: CancellationToken, reload: Arc<Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: finishing the current step");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: finishing the current step");
                    break;
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    reload.notify_one();
                }
            }
        }
        stop.cancel();
    });
}
