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
use crate::incident::ack::{Ack, AckKind, AckSource, PirStage};
use crate::notify::channel::email::Mailer;
use crate::report;
use crate::source::Source;
use crate::source::demo::{DEMO_TRACKING_ID, DemoSource};
use crate::store::Store;

/// The demo's configuration: one tenant fed by the demo source, mail to files.
const DEMO_CONFIG: &str = r#"
[smtp]
host = "localhost"
from = "pirwatch demo <pirwatch@demo.invalid>"
[[tenants]]
name = "demo"
tenant_id = "00000000-0000-0000-0000-000000000000"
subscriptions = ["00000000-0000-0000-0000-00000000d3m0", "00000000-0000-0000-0000-0000000h15t0"]
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
    let until = follow_ups_ahead(&daemon, now, &stop).await?;
    print_demo_summary(&daemon, &config, out, now, until).await?;
    daemon.store().close().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs the same pipeline at later instants (every six hours) to show the follow-ups: the
/// first PIR review reminder — which the demo team then acknowledges, as `pirwatch ack` would
/// — up to the first reminder to file the claim (with its `.ics`). Returns the last instant run.
async fn follow_ups_ahead(
    daemon: &Daemon,
    now: Timestamp,
    stop: &CancellationToken,
) -> anyhow::Result<Timestamp> {
    let claim_reminder = format!("SLA claim for Azure incident {DEMO_TRACKING_ID}");
    let review_reminder = format!("review the PIR of Azure incident {DEMO_TRACKING_ID}");
    let mut t = now;
    let mut acked = false;
    for _ in 0..4 * 120 {
        t = t.checked_add(jiff::SignedDuration::from_hours(6))?;
        daemon.cycle(t, stop).await?;
        let log = daemon.store().mail_log().await?;
        let said = |what: &str| {
            log.iter()
                .any(|(_, _, _, s)| s.as_deref().is_some_and(|s| s.contains(what)))
        };
        if said(&claim_reminder) {
            break;
        }
        if !acked && said(&review_reminder) {
            let ack = Ack {
                kind: AckKind::Reviewed {
                    stage: PirStage::Final,
                },
                by: "the demo team".to_owned(),
                at: t,
                source: AckSource::Cli,
            };
            daemon
                .store()
                .record_ack("demo", DEMO_TRACKING_ID, &ack)
                .await?;
            acked = true;
        }
    }
    Ok(t)
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

async fn print_demo_summary(
    daemon: &Daemon,
    config: &Config,
    out: &Path,
    now: Timestamp,
    until: Timestamp,
) -> anyhow::Result<()> {
    let tz = config.tenant("demo").map_or(jiff::tz::TimeZone::UTC, |t| {
        t.policy.calendar.timezone().clone()
    });
    let day = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%a %Y-%m-%d").to_string();
    println!("pirwatch demo: scripted incidents (not from Azure) went through the real pipeline,");
    println!(
        "from their start to today ({}), then on to {} to show the follow-ups.",
        day(now),
        day(until)
    );
    println!("Mails written to {}:\n", out.display());
    println!("  {:<15} {:<26} SUBJECT", "WHAT", "STATE");
    for (_, kind, state, subject) in daemon.store().mail_log().await? {
        let subject = subject.unwrap_or_default();
        println!("  {:<15} {:<26} {subject}", kind.words(), state.words());
    }
    for r in report::rows(daemon.store(), config, until).await? {
        let review = match (r.pir_review.state, &r.pir_review.by) {
            ("reviewed", Some(by)) => format!("reviewed by {by}"),
            ("to_review", _) => "to be reviewed".to_owned(),
            ("no_pir", _) => "no PIR published yet".to_owned(),
            (other, _) => other.replace('_', " "),
        };
        let claim = match (&r.claim.deadline, r.claim.days_left) {
            (Some(d), Some(n)) => format!("to be filed by {d} ({n} days left on {})", day(until)),
            _ => r.claim.state.replace('_', " "),
        };
        println!(
            "\nIncident {} started {}. SLA claim: {claim} (two months after the end of its \
             billing month). PIR review: {review}.",
            r.tracking_id,
            r.impact_start.map_or("?".into(), &day),
        );
    }
    println!(
        "\nOpen the .eml files in a mail client (the claim reminder carries the deadline as a \
         calendar entry), or run: ls {}",
        out.display()
    );
    Ok(())
}
