//! The command line: clap definitions, the entry point that maps errors to exit codes (78,
//! EX_CONFIG, for an invalid configuration; 1 for anything else), and the helpers every
//! command shares. The commands live by topic: `service` (run, once, check-config,
//! healthcheck), `records` (incidents, ack, show, export) and `demo`.

mod claim;
mod demo;
mod outbox;
mod preview;
mod records;
mod service;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::daemon::Daemon;
use crate::logging::{self, LogFormat};
use crate::metrics::Metrics;
use crate::notify::channel::email::Mailer;
use crate::source::Source;
use crate::source::azure::AzureSource;
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
    #[command(group(clap::ArgGroup::new("what").required(true).args(["reviewed", "claimed", "no_claim", "claim_outcome"])))]
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
        /// The answer to a filed claim (stops the reminder to chase it).
        #[arg(long, value_enum)]
        claim_outcome: Option<ClaimOutcomeArg>,
        /// The credit granted, as written on the answer (e.g. "EUR 120.50").
        #[arg(long, requires = "claim_outcome")]
        credit: Option<String>,
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
    /// Mail that waits or was given up on: list it, retry it now, or dismiss it.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// The SLA credit claim of an incident: draft the support request, or file it.
    Claim {
        #[command(subcommand)]
        action: ClaimAction,
    },
    /// Render what a receiver would get about an incident now, without sending it.
    Preview {
        tracking_id: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_enum, default_value = "new")]
        kind: PreviewKind,
        /// As the receivers of this route get it (default: the tenant's recipients).
        #[arg(long, conflicts_with = "webhook")]
        route: Option<String>,
        /// As this `[[webhooks]]` entry gets it: the JSON body it is posted (`--format` aside).
        #[arg(long)]
        webhook: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: PreviewFormat,
    },
    /// Send one test mail with the [smtp] settings, to check them end to end.
    SendTestEmail {
        #[arg(long)]
        to: String,
    },
    /// Write a new key for signing web links to FILE (mode 0640; never overwrites).
    GenKey { file: PathBuf },
    /// Run the real pipeline over a built-in demo incident; mails become .eml files.
    Demo {
        /// Directory for the demo's store and mails.
        #[arg(long, default_value = "pirwatch-demo")]
        out: PathBuf,
    },
}

/// What `pirwatch outbox` does.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Every delivery still queued or failed, with each recipient's state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a queued or failed delivery due now (its given-up recipients included).
    Retry {
        /// The delivery's Message-ID, as `outbox list` prints it.
        id: String,
    },
    /// Record that a failed delivery was dealt with, so `once` stops counting it.
    Dismiss {
        id: String,
        /// Who dealt with it (default: $SUDO_USER, else $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `ack --claim-outcome`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ClaimOutcomeArg {
    Approved,
    Denied,
}

/// What `pirwatch claim` does.
#[derive(Debug, Subcommand)]
pub enum ClaimAction {
    /// Write the support request for the claim, from what pirwatch holds (sends nothing).
    Draft {
        tracking_id: String,
        /// The tenant, when the tracking ID is known in several.
        #[arg(long, conflicts_with = "all_customers")]
        tenant: Option<String>,
        /// One request listing every affected customer (tenants with claim_channel =
        /// "partner"), as distributors ask when many are hit.
        #[arg(long)]
        all_customers: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: DraftFormat,
    },
    /// Open the claim as an Azure support ticket (Billing, refund request) in a subscription
    /// the incident affected, and record its number. Asks first unless --yes. Only for
    /// claim_channel = "microsoft"; never automatic.
    File {
        tracking_id: String,
        /// The subscription the ticket is opened in (one the incident affected).
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        tenant: Option<String>,
        /// File without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// Who files it (default: $SUDO_USER, else $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// How `pirwatch claim draft` writes the draft.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DraftFormat {
    Text,
    Markdown,
    Json,
}

/// Which mail `pirwatch preview` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreviewKind {
    New,
    Update,
    Resolved,
    Pir,
    FalsePositive,
    Reminder,
    Digest,
}

/// How `pirwatch preview` prints the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreviewFormat {
    Text,
    Html,
    Json,
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
            // Once, on stderr (which is the journal under systemd).
            eprintln!("pirwatch: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run => service::run(&cli.config).await,
        Command::Once => service::once(&cli.config).await,
        Command::CheckConfig { online } => service::check_config(&cli.config, online).await,
        Command::Healthcheck { url } => service::healthcheck(&cli.config, url).await,
        Command::Incidents { json } => records::incidents(&cli.config, json).await,
        Command::Ack {
            tracking_id,
            reviewed,
            claimed,
            reference,
            no_claim: _,
            reason,
            claim_outcome,
            credit,
            tenant,
            by,
        } => {
            let kind = if let Some(o) = claim_outcome {
                crate::incident::ack::AckRequest::ClaimOutcome {
                    approved: matches!(o, ClaimOutcomeArg::Approved),
                    credit,
                }
            } else if reviewed {
                crate::incident::ack::AckRequest::Reviewed
            } else if claimed {
                crate::incident::ack::AckRequest::Claimed { reference }
            } else {
                crate::incident::ack::AckRequest::NoClaim { reason }
            };
            records::ack(&cli.config, &tracking_id, tenant.as_deref(), kind, by).await
        }
        Command::Show {
            tracking_id,
            tenant,
            json,
        } => records::show(&cli.config, &tracking_id, tenant.as_deref(), json).await,
        Command::Export {
            tracking_id,
            tenant,
            all: _,
            since,
            dir,
            format,
        } => {
            records::export(
                &cli.config,
                tracking_id.as_deref(),
                tenant.as_deref(),
                since,
                dir,
                format,
            )
            .await
        }
        Command::Outbox { action } => match action {
            OutboxAction::List { json } => outbox::list(&cli.config, json).await,
            OutboxAction::Retry { id } => outbox::retry(&cli.config, &id).await,
            OutboxAction::Dismiss { id, by } => outbox::dismiss(&cli.config, &id, by).await,
        },
        Command::Claim { action } => match action {
            ClaimAction::Draft {
                tracking_id,
                tenant,
                all_customers,
                format,
            } => {
                claim::draft(
                    &cli.config,
                    &tracking_id,
                    tenant.as_deref(),
                    all_customers,
                    format,
                )
                .await
            }
            ClaimAction::File {
                tracking_id,
                subscription,
                tenant,
                yes,
                by,
            } => {
                let how = claim::Filing {
                    subscription: &subscription,
                    tenant: tenant.as_deref(),
                    yes,
                    by,
                };
                claim::file(&cli.config, &tracking_id, how).await
            }
        },
        Command::Demo { out } => demo::demo(&out).await,
        Command::GenKey { file } => gen_key(&file),
        Command::Preview {
            tracking_id,
            tenant,
            kind,
            route,
            webhook,
            format,
        } => {
            let what = preview::What {
                kind,
                route,
                webhook,
                format,
            };
            preview::preview(&cli.config, &tracking_id, tenant.as_deref(), what).await
        }
        Command::SendTestEmail { to } => preview::send_test_email(&cli.config, &to).await,
    }
}

/// `pirwatch gen-key FILE`: a new random key for `[web] key_file`, mode 0640, never over an
/// existing file (that would break every link in mails already sent).
fn gen_key(file: &Path) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = crate::web::link::Keys::generate()
        .map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(file)
        .with_context(|| {
            format!(
                "{}: cannot create (pirwatch never overwrites a key; to rotate, put a new key on \
                 the first line of the file and keep the old one below it)",
                file.display()
            )
        })?;
    f.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "wrote a new web link key to {} (mode 0640); name it in [web] key_file",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Who runs a command that records something: `--by`, else `$SUDO_USER`, else `$USER`.
pub(crate) fn who(by: Option<String>) -> anyhow::Result<String> {
    by.or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("who is this? pass --by NAME ($SUDO_USER and $USER are unset)")
        })
}

/// Loads and validates the config, secret files included.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path).map_err(|e| InvalidConfig(e.to_string()))?;
    config
        .check_secrets()
        .map_err(|e| InvalidConfig(format!("{}: {e}", path.display())))?;
    config
        .renderer()
        .map_err(|e| InvalidConfig(format!("{}: {e}", path.display())))?;
    Ok(config)
}

/// The config with the tenants discovery stored (`subscriptions = "all"`), so commands know
/// the customer tenants it found.
pub(crate) async fn with_discovered(config: Config, store: &Store) -> anyhow::Result<Config> {
    let discovers = config
        .tenants
        .iter()
        .any(|t| t.config.subscriptions == crate::config::schema::Subscriptions::All);
    if !discovers {
        return Ok(config);
    }
    let found = store.discovered().await?;
    Ok(config.expanded(&found)?)
}

pub(crate) fn mailer(config: &Config) -> anyhow::Result<Mailer> {
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
    let mailer = Mailer::smtp(&config.smtp, password, ca.as_deref())
        .map_err(|e| InvalidConfig(e.to_string()))?;
    // [smtp.oauth]: XOAUTH2 with an Entra ID token, fetched over pirwatch's HTTP client.
    let http = AzureSource::http_client(config.poll.request_timeout)
        .context("building the HTTP client for Entra ID")?;
    let transport = azure_core::http::Transport::new(Arc::new(http));
    match crate::source::azure::credential::smtp_token(config, transport)
        .map_err(|e| InvalidConfig(e.to_string()))?
    {
        Some(token) => Ok(mailer
            .with_oauth(&config.smtp, token)
            .map_err(|e| InvalidConfig(e.to_string()))?),
        None => Ok(mailer),
    }
}

/// The daemon for a config: Azure source and SMTP mailer built around an open store.
pub(crate) fn daemon_with(
    config: Config,
    store: Store,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Daemon> {
    let config = Arc::new(config);
    let mailer = mailer(&config)?;
    let http = AzureSource::http_client(config.poll.request_timeout)
        .context("building the HTTP client for Azure")?;
    let source = AzureSource::new(&config, http, None)
        .with_metrics(metrics.clone(), config.poll.request_timeout);
    let links = link_maker(&config)?;
    let renderer = config
        .renderer()
        .map_err(|e| InvalidConfig(e.to_string()))?;
    let webhooks = config
        .webhooks()
        .map_err(|e| InvalidConfig(e.to_string()))?;
    let sender = crate::notify::channel::webhook::WebhookSender::new()?;
    Ok(
        Daemon::new(config, store, Source::Azure(Box::new(source)), mailer)
            .with_metrics(metrics)
            .with_links(links)
            .with_renderer(renderer)
            .with_webhooks(webhooks, sender),
    )
}

/// With `[web]`: what makes the signed links in mails, from the key file.
pub(crate) fn link_maker(config: &Config) -> anyhow::Result<Option<crate::web::link::LinkMaker>> {
    let keys = config
        .web_keys()
        .map_err(|e| InvalidConfig(e.to_string()))?;
    Ok(keys
        .zip(config.web.as_ref())
        .map(|(k, w)| crate::web::link::LinkMaker::new(k, w.public_url.clone(), w.link_ttl)))
}

/// Opens the store, refusing to let root create files the service user then cannot open.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    guard_state_owner(&config.state.path)?;
    Ok(Store::open(&config.state.path).await?)
}

/// Opens the store to show what it holds: as usual, or, when it cannot be written (a read-only
/// state directory, a full disk), read-only, saying so.
pub(crate) async fn open_store_to_read(config: &Config) -> anyhow::Result<Store> {
    match open_store(config).await {
        Ok(store) => Ok(store),
        Err(e)
            if e.downcast_ref::<crate::store::StoreError>()
                .is_some_and(|s| s.is_unwritable() || s.is_open_failure()) =>
        {
            let store = Store::open_read_only(&config.state.path).await?;
            eprintln!(
                "pirwatch: {} cannot be written ({e}); showing it read-only",
                config.state.path.display()
            );
            Ok(store)
        }
        Err(e) => Err(e),
    }
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
