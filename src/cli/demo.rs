//! `pirwatch demo`: the real pipeline over the built-in demo incident, mail to .eml files.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::InvalidConfig;
use crate::config::Config;
use crate::daemon::Daemon;
use crate::notify::channel::email::Mailer;
use crate::report;
use crate::source::Source;
use crate::source::demo::DemoSource;
use crate::store::Store;

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

pub(super) async fn demo(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clear_demo_dir(out)?;
    // The reader's own zone, when the system names one.
    let zone = jiff::tz::TimeZone::system()
        .iana_name()
        .map_or_else(String::new, |z| format!("timezone = {z:?}\n"));
    let text = DEMO_CONFIG.replace(
        "[tenants.credential]",
        &format!("{zone}[tenants.credential]"),
    );
    let mut config = Config::parse(&text, "demo").map_err(|e| InvalidConfig(e.to_string()))?;
    config.state.path = out.join("pirwatch.db");
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
        daemon.cycle(at, &stop).await?;
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
        let subject = subject.unwrap_or_default();
        println!("  {:<15} {:<6} {subject}", kind.as_str(), state.as_str());
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
