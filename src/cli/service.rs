//! The commands that run pirwatch: `run` (the daemon, with systemd notification, the HTTP
//! listener, signals and reload), `once`, `check-config [--online]` and `healthcheck`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{InvalidConfig, daemon_with, load_config, mailer, open_store};
use crate::config::Config;
use crate::daemon::{self, Daemon};
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::service;
use crate::source::azure::AzureSource;
use crate::store::Store;

pub(super) async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let metrics = Arc::new(Metrics::new());
    let store = open_store(&config).await?;
    let interval = config.poll.interval;
    let stop = CancellationToken::new();
    let reload = Arc::new(tokio::sync::Notify::new());
    service::spawn_signal_handlers(stop.clone(), reload.clone());
    let http = match config.http.listen {
        Some(addr) => {
            let state = HttpState {
                metrics: metrics.clone(),
                store: store.clone(),
                interval,
            };
            Some(
                http::serve(addr, state, stop.clone())
                    .await
                    .with_context(|| format!("http.listen: cannot listen on {addr}"))?,
            )
        }
        None => None,
    };
    let mut live = None;
    let web = match config.web.as_ref() {
        Some(w) => {
            let (tx, rx) = tokio::sync::watch::channel(web_live(&config)?);
            live = Some(tx);
            let state = crate::web::WebState {
                live: rx,
                store: store.clone(),
                renderer: Arc::new(
                    config
                        .renderer()
                        .map_err(|e| InvalidConfig(e.to_string()))?,
                ),
                clock: None,
            };
            Some(
                crate::web::serve(w.listen, state, stop.clone())
                    .await
                    .with_context(|| format!("web.listen: cannot listen on {}", w.listen))?,
            )
        }
        None => None,
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // The pages follow the tenants discovery finds (`subscriptions = "all"`).
    let follow = |d: Daemon| match &live {
        Some(tx) => {
            let tx = tx.clone();
            d.with_config_listener(daemon::ConfigListener(Arc::new(move |c| {
                tx.send_modify(|l| {
                    *l = Arc::new(crate::web::Live {
                        config: c,
                        keys: l.keys.clone(),
                    });
                });
            })))
        }
        None => d,
    };
    let mut daemon = follow(daemon_with(config, store.clone(), metrics.clone())?);
    service::ready();
    service::spawn_watchdog(metrics.clone(), stop.clone());
    tracing::info!(
        tenants = daemon.config().tenants.len(),
        ?interval,
        "pirwatch running"
    );
    while daemon
        .run(daemon.config().poll.interval, &stop, &reload)
        .await
        == daemon::RunEnd::Reload
    {
        daemon = follow(reloaded(path, daemon, &store, &metrics));
        // The pages follow the reloaded tenants, access rules and keys (not a new address).
        if let Some(tx) = &live {
            match web_live(daemon.config()) {
                Ok(l) => {
                    tx.send_replace(l);
                }
                Err(e) => tracing::error!("web pages keep the old configuration: {e:#}"),
            }
        }
    }
    service::stopping();
    for h in [http, web].into_iter().flatten() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), h).await;
    }
    store.close().await;
    tracing::info!("pirwatch stopped");
    Ok(ExitCode::SUCCESS)
}

/// What the web pages run on: the config and its link keys.
fn web_live(config: &Config) -> anyhow::Result<Arc<crate::web::Live>> {
    let keys = config
        .web_keys()
        .map_err(|e| InvalidConfig(e.to_string()))?
        .context("web.key_file: no keys")?;
    Ok(Arc::new(crate::web::Live {
        config: Arc::new(config.clone()),
        keys,
    }))
}

/// The daemon for the re-read config, or the old one when the new config is bad.
fn reloaded(path: &Path, old: Daemon, store: &Store, metrics: &Arc<Metrics>) -> Daemon {
    let attempt = load_config(path).and_then(|c| {
        if c.state.path != old.config().state.path {
            tracing::warn!("state.path changed: takes effect at the next restart");
        }
        if c.http.listen != old.config().http.listen {
            tracing::warn!("http.listen changed: takes effect at the next restart");
        }
        if c.web.as_ref().map(|w| w.listen) != old.config().web.as_ref().map(|w| w.listen) {
            tracing::warn!("web.listen changed: takes effect at the next restart");
        }
        daemon_with(c, store.clone(), metrics.clone())
    });
    match attempt {
        Ok(d) => {
            tracing::info!(tenants = d.config().tenants.len(), "configuration reloaded");
            service::status("configuration reloaded");
            d
        }
        Err(e) => {
            tracing::error!("configuration reload failed; keeping the old configuration: {e:#}");
            service::status("configuration reload failed; running with the old configuration");
            old
        }
    }
}

pub(super) async fn once(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let daemon = daemon_with(config, store, Arc::new(Metrics::new()))?;
    let now = Timestamp::now();
    let report = daemon.cycle(now, &CancellationToken::new()).await?;
    daemon.store().close().await;
    // Exit 1 while a due mail waits, or a delivery failed for good and nobody dealt with it
    // (`pirwatch outbox retry|dismiss`), so a periodic `once` says so without failing forever.
    let ok = report.poll.scopes_failed == 0 && report.still_queued == 0 && report.failed == 0;
    eprintln!(
        "pirwatch once: {} scope(s) polled, {} failed; {} event(s), {} skipped; {} mail(s) and \
         {} reminder(s) queued; {} sent, {} deferred, {} superseded; {} still queued, {} failed \
         for good{}",
        report.poll.scopes_ok,
        report.poll.scopes_failed,
        report.poll.events,
        report.poll.skipped,
        report.poll.mails_queued,
        report.poll.reminders_queued,
        report.delivery.sent,
        report.delivery.deferred,
        report.delivery.superseded,
        report.still_queued,
        report.failed,
        if report.failed > 0 {
            " (see `pirwatch outbox list`)"
        } else {
            ""
        },
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn check_config(path: &Path, online: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let mailer = mailer(&config)?;
    let scopes: usize = config
        .tenants
        .iter()
        .map(|t| t.config.subscriptions.len() + usize::from(t.config.tenant_events))
        .sum();
    println!(
        "{}: OK ({} tenant(s), {} scope(s), state {})",
        path.display(),
        config.tenants.len(),
        scopes,
        config.state.path.display()
    );
    for w in &config.warnings {
        println!("warning: {w}");
    }
    if !online {
        return Ok(ExitCode::SUCCESS);
    }
    let mut ok = true;
    let http = AzureSource::http_client(config.poll.request_timeout)
        .context("building the HTTP client for Azure")?;
    let source = AzureSource::new(&config, http, None);
    for t in &config.tenants {
        match source.probe(t, Timestamp::now()).await {
            Ok(what) => println!(
                "tenant {}: {} credential OK; ARM {what}",
                t.name,
                t.config.credential.kind()
            ),
            Err(e) => {
                ok = false;
                println!("tenant {}: FAILED: {e} (hint: {})", t.name, e.hint());
            }
        }
    }
    match mailer.test_connection().await {
        Ok(()) => println!("smtp {}:{}: OK", config.smtp.host, config.smtp.port()),
        Err(e) => {
            ok = false;
            println!(
                "smtp {}:{}: FAILED: {e}",
                config.smtp.host,
                config.smtp.port()
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn healthcheck(path: &Path, url: Option<String>) -> anyhow::Result<ExitCode> {
    let url = match url {
        Some(u) => u,
        None => {
            let config = Config::load(path).map_err(|e| InvalidConfig(e.to_string()))?;
            let addr = config
                .http
                .listen
                .context("http.listen is not set: nothing to check (or pass --url)")?;
            format!("http://{addr}/healthz")
        }
    };
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    if response.status().is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        anyhow::bail!("{url} answered {}", response.status())
    }
}
