//! The command line: clap definitions and one small function per command. Errors become exit
//! codes here: 78 (EX_CONFIG) for an invalid configuration, 1 for anything else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::daemon::{self, Daemon};
use crate::http::{self, HttpState};
use crate::incident::Incident;
use crate::logging::{self, LogFormat};
use crate::metrics::Metrics;
use crate::notify::email::{Mailer, safe_token};
use crate::notify::render::Renderer;
use crate::report::{self, IncidentRow};
use crate::service;
use crate::source::Source;
use crate::source::azure::AzureSource;
use crate::source::demo::DemoSource;
use crate::store::Store;
use crate::store::{AckKind, AckRecord};

/// sysexits.h EX_CONFIG: the configuration is invalid.
pub const EX_CONFIG: u8 = 78;

/// Watches Azure Service Health for incidents and Post-Incident Reviews, and reminds the team
/// to review PIRs and file SLA credit claims.
#[derive(Debug, Parser)]
#[command(name = "pirwatch", version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "PIRWATCH_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log format: journald under systemd (auto), else text on stderr; or json.
    #[arg(
        long,
        global = true,
        env = "PIRWATCH_LOG_FORMAT",
        value_enum,
        default_value = "auto"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every `poll.interval`, deliver mail; SIGTERM/SIGINT stop it.
    Run,
    /// Poll every scope once, deliver everything queued, exit (0: all done; 1: something left).
    Once,
    /// Validate the configuration file and the secret files it names.
    CheckConfig {
        /// Also sign in to every tenant and log in to the SMTP server, once.
        #[arg(long)]
        online: bool,
    },
    /// Exit 0 when the running daemon's /healthz answers (for container health checks).
    Healthcheck {
        /// Default: http://{[http] listen}/healthz from the config.
        #[arg(long)]
        url: Option<String>,
    },
    /// List the incidents pirwatch knows.
    Incidents {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Record that the PIR was reviewed, or the SLA claim filed or declined; stops reminders.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["reviewed", "claimed", "no_claim"])))]
    Ack {
        /// The incident's tracking ID.
        tracking_id: String,
        /// The PIR was read (also stops the "no PIR yet" suggestion).
        #[arg(long)]
        reviewed: bool,
        /// The SLA claim was filed.
        #[arg(long)]
        claimed: bool,
        /// The support request number of the claim.
        #[arg(long, requires = "claimed")]
        reference: Option<String>,
        /// No SLA claim will be filed.
        #[arg(long)]
        no_claim: bool,
        /// Why not.
        #[arg(long, requires = "no_claim")]
        reason: Option<String>,
        /// The tenant, when the tracking ID is known in several.
        #[arg(long)]
        tenant: Option<String>,
        /// Who did it (default: $SUDO_USER, else $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Show one incident: its state, every update, acknowledgements and mails.
    Show {
        tracking_id: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write incidents' full records (timeline, PIR text, acknowledgements) for a knowledge base.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["tracking_id", "all"])))]
    Export {
        /// One incident's tracking ID (written to stdout).
        tracking_id: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        /// Every incident first seen since --since, one file each in --dir.
        #[arg(long, requires_all = ["since", "dir"])]
        all: bool,
        /// `YYYY-MM-DD` (UTC).
        #[arg(long)]
        since: Option<jiff::civil::Date>,
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ExportFormat,
    },
    /// Run the real pipeline over a built-in demo incident; mails become .eml files.
    Demo {
        /// Directory for the demo's store and mails.
        #[arg(long, default_value = "pirwatch-demo")]
        out: PathBuf,
    },
}

/// The format of `pirwatch export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// The configuration is invalid: exit 78.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// The process entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pirwatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            let code = if e.downcast_ref::<InvalidConfig>().is_some() {
                EX_CONFIG
            } else {
                1
            };
            tracing::error!("{e:#}");
            eprintln!("pirwatch: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run => run(&cli.config).await,
        Command::Once => once(&cli.config).await,
        Command::CheckConfig { online } => check_config(&cli.config, online).await,
        Command::Healthcheck { url } => healthcheck(&cli.config, url).await,
        Command::Incidents { json } => incidents(&cli.config, json).await,
        Command::Ack {
            tracking_id,
            reviewed,
            claimed,
            reference,
            no_claim: _,
            reason,
            tenant,
            by,
        } => {
            let kind = if reviewed {
                AckKind::Reviewed
            } else if claimed {
                AckKind::Claimed { reference }
            } else {
                AckKind::NoClaim { reason }
            };
            ack(&cli.config, &tracking_id, tenant.as_deref(), kind, by).await
        }
        Command::Show {
            tracking_id,
            tenant,
            json,
        } => show(&cli.config, &tracking_id, tenant.as_deref(), json).await,
        Command::Export {
            tracking_id,
            tenant,
            all: _,
            since,
            dir,
            format,
        } => {
            export(
                &cli.config,
                tracking_id.as_deref(),
                tenant.as_deref(),
                since,
                dir,
                format,
            )
            .await
        }
        Command::Demo { out } => demo(&out).await,
    }
}

/// Loads and validates the config, secret files included.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path).map_err(|e| InvalidConfig(e.to_string()))?;
    config
        .check_secrets()
        .map_err(|e| InvalidConfig(format!("{}: {e}", path.display())))?;
    Ok(config)
}

fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    let password = match &config.smtp.password_file {
        Some(f) => Some(
            config
                .read_secret("smtp.password_file", f)
                .map_err(|e| InvalidConfig(e.to_string()))?,
        ),
        None => None,
    };
    let ca = match &config.smtp.ca_file {
        Some(f) => {
            let path = config.secret_path(f);
            Some(std::fs::read(&path).map_err(|e| {
                InvalidConfig(format!("smtp.ca_file: cannot read {}: {e}", path.display()))
            })?)
        }
        None => None,
    };
    Mailer::smtp(&config.smtp, password, ca.as_deref())
        .map_err(|e| InvalidConfig(e.to_string()).into())
}

/// The daemon for a config: Azure source and SMTP mailer built around an open store.
fn daemon_with(config: Config, store: Store, metrics: Arc<Metrics>) -> anyhow::Result<Daemon> {
    let config = Arc::new(config);
    let mailer = mailer(&config)?;
    let http = AzureSource::http_client(config.poll.request_timeout);
    let source = AzureSource::new(&config, http, None)
        .with_metrics(metrics.clone(), config.poll.request_timeout);
    Ok(Daemon::new(config, store, Source::Azure(source), mailer).with_metrics(metrics))
}

/// Opens the store, refusing to let root create files the service user then cannot open.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    guard_state_owner(&config.state.path)?;
    Ok(Store::open(&config.state.path).await?)
}

/// Root running the CLI against a service's store would leave root-owned WAL files behind.
fn guard_state_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let owner = std::fs::metadata(path)
        .or_else(|_| std::fs::metadata(dir))
        .map(|m| m.uid());
    if let (Ok(owner), Some(0)) = (owner, effective_uid())
        && owner != 0
    {
        anyhow::bail!(
            "{} belongs to uid {owner}, and this runs as root: run pirwatch as that user \
             (e.g. `sudo -u pirwatch pirwatch ...`) so root does not create files in the state \
             directory that the service cannot open",
            path.display()
        );
    }
    Ok(())
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

async fn run(path: &Path) -> anyhow::Result<ExitCode> {
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
    let mut daemon = daemon_with(config, store.clone(), metrics.clone())?;
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
        daemon = reloaded(path, daemon, &store, &metrics);
    }
    service::stopping();
    if let Some(h) = http {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), h).await;
    }
    store.close().await;
    tracing::info!("pirwatch stopped");
    Ok(ExitCode::SUCCESS)
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

async fn once(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let daemon = daemon_with(config, store, Arc::new(Metrics::new()))?;
    let now = Timestamp::now();
    let report = daemon
        .cycle(now, Timestamp::MAX, &CancellationToken::new())
        .await?;
    daemon.store().close().await;
    let ok =
        report.poll.scopes_failed == 0 && report.still_queued == 0 && report.delivery.failed == 0;
    eprintln!(
        "pirwatch once: {} scope(s) polled, {} failed; {} event(s), {} skipped; {} mail(s) queued, \
         {} sent, {} deferred, {} failed, {} still queued",
        report.poll.scopes_ok,
        report.poll.scopes_failed,
        report.poll.events,
        report.poll.skipped,
        report.poll.mails_queued,
        report.delivery.sent,
        report.delivery.deferred,
        report.delivery.failed,
        report.still_queued
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn check_config(path: &Path, online: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let mailer = mailer(&config)?;
    let scopes: usize = config
        .tenants
        .iter()
        .map(|t| t.subscriptions.len() + usize::from(t.tenant_events))
        .sum();
    println!(
        "{}: OK ({} tenant(s), {} scope(s), state {})",
        path.display(),
        config.tenants.len(),
        scopes,
        config.state.path.display()
    );
    if !online {
        return Ok(ExitCode::SUCCESS);
    }
    let mut ok = true;
    for t in &config.tenants {
        match sign_in(&config, t).await {
            Ok(()) => println!("tenant {}: {} credential OK", t.name, t.credential.kind()),
            Err(e) => {
                ok = false;
                println!("tenant {}: FAILED: {e}", t.name);
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

/// Gets one token for a tenant, as the daemon would.
async fn sign_in(config: &Config, t: &config::TenantConfig) -> anyhow::Result<()> {
    use crate::source::azure::{cloud::Cloud, credential};
    let http = AzureSource::http_client(config.poll.request_timeout);
    let transport = azure_core::http::Transport::new(Arc::new(http));
    let cred = credential::build(config, t, transport)?;
    let token = credential::TenantToken::new(
        &t.name,
        t.credential.kind(),
        Cloud::named(t.cloud).scope,
        cred,
    );
    token.bearer().await?;
    Ok(())
}

async fn healthcheck(path: &Path, url: Option<String>) -> anyhow::Result<ExitCode> {
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

async fn incidents(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let rows = report::rows(&store, &config, Timestamp::now()).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_incident_table(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_incident_table(rows: &[IncidentRow]) {
    println!(
        "{:<10} {:<12} {:<17} {:<9} {:<11} {:<10} {:<14} {:<14} {:<26} TITLE",
        "TENANT",
        "TRACKING ID",
        "TYPE",
        "STATUS",
        "PIR",
        "REVIEW",
        "CLAIM",
        "CLAIM BY",
        "NEXT REMINDER"
    );
    for r in rows {
        let next = r.next_reminder.as_ref().map_or("-".to_owned(), |n| {
            let at = n.at.to_string();
            format!("{} {}", n.kind, at.get(..16).unwrap_or(&at))
        });
        println!(
            "{:<10} {:<12} {:<17} {:<9} {:<11} {:<10} {:<14} {:<14} {:<26} {}",
            r.tenant,
            r.tracking_id,
            r.event_type,
            r.status,
            r.pir,
            r.pir_review.state,
            r.claim.state,
            r.claim.deadline.as_deref().unwrap_or("-"),
            next,
            r.title
        );
        if let Some(m) = r.last_mail.as_ref().filter(|m| m.state == "failed") {
            println!(
                "    last mail ({}) FAILED: {}",
                m.kind,
                m.error.as_deref().unwrap_or("?")
            );
        }
    }
}

/// Finds the one incident a tracking id (and optional tenant) names.
async fn resolve(
    store: &Store,
    tracking_id: &str,
    tenant: Option<&str>,
) -> anyhow::Result<Incident> {
    let found: Vec<Incident> = store
        .find(tracking_id)
        .await?
        .into_iter()
        .filter(|i| tenant.is_none_or(|t| i.tenant == t))
        .collect();
    match found.len() {
        0 => match tenant {
            Some(t) => anyhow::bail!("no incident {tracking_id} in tenant {t}"),
            None => anyhow::bail!(
                "no incident with tracking ID {tracking_id} (see `pirwatch incidents`)"
            ),
        },
        1 => Ok(found.into_iter().next().expect("one")),
        _ => {
            let tenants: Vec<&str> = found.iter().map(|i| i.tenant.as_str()).collect();
            anyhow::bail!(
                "{tracking_id} is known in several tenants ({}): pass --tenant",
                tenants.join(", ")
            )
        }
    }
}

async fn ack(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    kind: AckKind,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let i = resolve(&store, tracking_id, tenant).await?;
    let by = by
        .or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let what = match &kind {
        AckKind::Reviewed => "PIR reviewed".to_owned(),
        AckKind::Claimed { reference } => match reference {
            Some(r) => format!("SLA claim filed (support request {r})"),
            None => "SLA claim filed".to_owned(),
        },
        AckKind::NoClaim { .. } => "no SLA claim".to_owned(),
    };
    let record = AckRecord {
        kind,
        by: by.clone(),
        at: Timestamp::now(),
    };
    let new = store.record_ack(&i.tenant, &i.tracking_id, &record).await?;
    store.close().await;
    if new {
        println!(
            "{}/{}: {what}, recorded for {by}; its reminders stop.",
            i.tenant, i.tracking_id
        );
    } else {
        println!(
            "{}/{}: {what} was already recorded; nothing changed.",
            i.tenant, i.tracking_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let i = resolve(&store, tracking_id, tenant).await?;
    let record = report::record(&store, &config, &i.tenant, &i.tracking_id, Timestamp::now())
        .await?
        .context("incident vanished")?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print!(
            "{}",
            Renderer::new().export_markdown(&record, Timestamp::now())?
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(
    path: &Path,
    tracking_id: Option<&str>,
    tenant: Option<&str>,
    since: Option<jiff::civil::Date>,
    dir: Option<PathBuf>,
    format: ExportFormat,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let renderer = Renderer::new();
    let now = Timestamp::now();
    let render = |r: &report::IncidentRecord| -> anyhow::Result<String> {
        Ok(match format {
            ExportFormat::Markdown => renderer.export_markdown(r, now)?,
            ExportFormat::Json => serde_json::to_string_pretty(r)? + "\n",
        })
    };
    if let Some(id) = tracking_id {
        let i = resolve(&store, id, tenant).await?;
        let r = report::record(&store, &config, &i.tenant, &i.tracking_id, now)
            .await?
            .context("incident vanished")?;
        print!("{}", render(&r)?);
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(since), Some(dir)) = (since, dir) else {
        anyhow::bail!("--all needs --since and --dir");
    };
    let since = since.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ext = match format {
        ExportFormat::Markdown => "md",
        ExportFormat::Json => "json",
    };
    let mut n = 0;
    for i in store.all_incidents().await? {
        if i.impact_start.unwrap_or(i.first_seen) < since || tenant.is_some_and(|t| t != i.tenant) {
            continue;
        }
        let Some(r) = report::record(&store, &config, &i.tenant, &i.tracking_id, now).await? else {
            continue;
        };
        let file = dir.join(format!(
            "{}-{}.{ext}",
            safe_token(&i.tenant, '_'),
            safe_token(&i.tracking_id, '_')
        ));
        std::fs::write(&file, render(&r)?)
            .with_context(|| format!("writing {}", file.display()))?;
        n += 1;
    }
    store.close().await;
    println!("exported {n} incident(s) to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The demo's configuration: one tenant fed by the demo source, mail to files.
const DEMO_CONFIG: &str = r#"
[smtp]
host = "localhost"
from = "pirwatch demo <pirwatch@demo.invalid>"
[[tenants]]
name = "demo"
tenant_id = "00000000-0000-0000-0000-000000000000"
subscriptions = ["00000000-0000-0000-0000-00000000d3m0"]
recipients = ["Incident team <incident-team@demo.invalid>"]
[tenants.credential]
kind = "azure_cli"
"#;

async fn demo(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clear_demo_dir(out)?;
    let mut config =
        Config::parse(DEMO_CONFIG, "demo").map_err(|e| InvalidConfig(e.to_string()))?;
    config.state.path = out.join("pirwatch.db");
    if let Some(t) = config.tenants.first_mut() {
        t.timezone = jiff::tz::TimeZone::system();
    }
    let config = Arc::new(config);
    let store = Store::open(&config.state.path).await?;
    let now = Timestamp::now();
    let anchor = now
        .checked_sub(jiff::SignedDuration::from_hours(16 * 24 + 3))?
        .round(jiff::Unit::Hour)?;
    let demo = DemoSource::new(anchor);
    let steps = demo.step_times();
    let mailer = Mailer::Directory {
        dir: out.to_path_buf(),
        from: config.smtp.from.clone(),
    };
    let daemon = Daemon::new(config.clone(), store, Source::Demo(demo), mailer);
    let stop = CancellationToken::new();
    for at in steps.into_iter().chain([now]) {
        daemon.cycle(at, at, &stop).await?;
    }
    print_demo_summary(&daemon, &config, out).await?;
    daemon.store().close().await;
    Ok(ExitCode::SUCCESS)
}

/// Removes what an earlier demo run left (its store and .eml files), nothing else.
fn clear_demo_dir(out: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".eml") || name.starts_with("pirwatch.db") {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

async fn print_demo_summary(daemon: &Daemon, config: &Config, out: &Path) -> anyhow::Result<()> {
    println!("pirwatch demo: a scripted incident (not from Azure) went through the real pipeline.");
    println!("Mails written to {}:\n", out.display());
    println!("  {:<15} {:<6} SUBJECT", "KIND", "STATE");
    for (_, kind, state, subject) in daemon.store().mail_log().await? {
        println!("  {kind:<15} {state:<6} {subject}");
    }
    for r in report::rows(daemon.store(), config, Timestamp::now()).await? {
        println!(
            "\nIncident {} started {}; SLA claim deadline: {} (end of its billing month + 2 \
             months); PIR review: {}; next reminder: {}.",
            r.tracking_id,
            r.impact_start.map_or("?".into(), |t| t.to_string()),
            r.claim.deadline.as_deref().unwrap_or("-"),
            r.pir_review.state,
            r.next_reminder
                .map_or("none".to_owned(), |n| format!("{} at {}", n.kind, n.at)),
        );
    }
    println!(
        "\nOpen the .eml files in a mail client, or run: ls {}",
        out.display()
    );
    Ok(())
}
