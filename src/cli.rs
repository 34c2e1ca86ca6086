//! The command line: clap definitions and one small function per command. Errors become exit
//! codes here: 78 (EX_CONFIG) for an invalid configuration, 1 for anything else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::daemon::{self, Daemon};
use crate::logging::{self, LogFormat};
use crate::notify::email::Mailer;
use crate::source::Source;
use crate::source::azure::AzureSource;
use crate::source::demo::DemoSource;
use crate::store::Store;

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
    /// Log format (logs go to stderr).
    #[arg(
        long,
        global = true,
        env = "PIRWATCH_LOG_FORMAT",
        value_enum,
        default_value = "text"
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
    CheckConfig,
    /// List the incidents pirwatch knows.
    Incidents {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the real pipeline over a built-in demo incident; mails become .eml files.
    Demo {
        /// Directory for the demo's store and mails.
        #[arg(long, default_value = "pirwatch-demo")]
        out: PathBuf,
    },
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
        Command::CheckConfig => check_config(&cli.config),
        Command::Incidents { json } => incidents(&cli.config, json).await,
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

/// The daemon for a config file: store opened, Azure source and SMTP mailer built.
async fn daemon_for(path: &Path) -> anyhow::Result<Daemon> {
    let config = Arc::new(load_config(path)?);
    let mailer = mailer(&config)?;
    let store = Store::open(&config.state.path).await?;
    let http = AzureSource::http_client(config.poll.request_timeout);
    let source = Source::Azure(AzureSource::new(&config, http, None));
    Ok(Daemon::new(config, store, source, mailer))
}

async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let daemon = daemon_for(path).await?;
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    tracing::info!(tenants = config.tenants.len(), interval = ?config.poll.interval, "pirwatch running");
    daemon.run(config.poll.interval, stop).await;
    daemon.store().close().await;
    Ok(ExitCode::SUCCESS)
}

async fn stop_on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing the current step"),
        _ = int.recv() => tracing::info!("SIGINT: finishing the current step"),
    }
    stop.cancel();
}

async fn once(path: &Path) -> anyhow::Result<ExitCode> {
    let daemon = daemon_for(path).await?;
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

fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    mailer(&config)?;
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
    Ok(ExitCode::SUCCESS)
}

/// One row of `pirwatch incidents --json`.
#[derive(Debug, Serialize)]
struct IncidentJson {
    tenant: String,
    tracking_id: String,
    title: String,
    event_type: String,
    status: String,
    pir: &'static str,
    false_positive: bool,
    impact_start: Option<String>,
    mitigated_at: Option<String>,
    claim_deadline: Option<String>,
    services: Vec<String>,
    regions: Vec<String>,
    subscriptions: Vec<String>,
    updates: usize,
    last_mail: Option<crate::store::LastMail>,
}

async fn incidents(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = Store::open(&config.state.path).await?;
    let rows = daemon::incident_rows(&store).await?;
    let mut out = Vec::new();
    for (i, mail) in rows {
        let updates = store
            .incident(&i.tenant, &i.tracking_id)
            .await?
            .map_or(0, |full| full.updates.len());
        out.push(IncidentJson {
            claim_deadline: daemon::deadline_of(&i).map(|d| d.to_string()),
            impact_start: i.impact_start.map(|t| t.to_string()),
            mitigated_at: i.mitigated_at.map(|t| t.to_string()),
            services: i.services().into_iter().map(str::to_owned).collect(),
            regions: i.regions().into_iter().map(str::to_owned).collect(),
            subscriptions: i.subscriptions.iter().cloned().collect(),
            pir: i.pir.as_str(),
            event_type: i.event_type.to_string(),
            status: i.status.to_string(),
            false_positive: i.false_positive,
            tenant: i.tenant,
            tracking_id: i.tracking_id,
            title: i.title,
            updates,
            last_mail: mail,
        });
    }
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_incident_table(&out);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_incident_table(rows: &[IncidentJson]) {
    println!(
        "{:<12} {:<12} {:<18} {:<9} {:<11} {:<10} {:<28} TITLE",
        "TENANT", "TRACKING ID", "TYPE", "STATUS", "PIR", "CLAIM BY", "LAST MAIL"
    );
    for r in rows {
        let mail = r
            .last_mail
            .as_ref()
            .map_or("-".to_owned(), |m| match &m.error {
                Some(e) if m.state == "failed" => format!("{} FAILED: {e}", m.kind),
                _ => format!("{} {} {}", m.kind, m.state, m.at.get(..16).unwrap_or(&m.at)),
            });
        println!(
            "{:<12} {:<12} {:<18} {:<9} {:<11} {:<10} {:<28} {}",
            r.tenant,
            r.tracking_id,
            r.event_type,
            r.status,
            r.pir,
            r.claim_deadline.as_deref().unwrap_or("-"),
            mail,
            r.title
        );
    }
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
    print_demo_summary(&daemon, out).await?;
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

async fn print_demo_summary(daemon: &Daemon, out: &Path) -> anyhow::Result<()> {
    println!("pirwatch demo: a scripted incident (not from Azure) went through the real pipeline.");
    println!("Mails written to {}:\n", out.display());
    println!("  {:<15} {:<6} SUBJECT", "KIND", "STATE");
    for (_, kind, state, subject) in daemon.store().mail_log().await? {
        println!("  {kind:<15} {state:<6} {subject}");
    }
    for (i, _) in daemon::incident_rows(daemon.store()).await? {
        if let Some(d) = daemon::deadline_of(&i) {
            println!(
                "\nIncident {} started {}; SLA claim deadline: {} \
                 (end of its billing month + 2 months).",
                i.tracking_id,
                i.impact_start.map_or("?".into(), |t| t.to_string()),
                d.strftime("%A %Y-%m-%d"),
            );
        }
    }
    println!(
        "\nOpen the .eml files in a mail client, or run: ls {}",
        out.display()
    );
    Ok(())
}
