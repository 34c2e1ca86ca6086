//! The commands that read and annotate the record: `incidents`, `ack`, `show`, `export`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;

use super::{ExportFormat, load_config, open_store, open_store_to_read};
use crate::incident::Incident;
use crate::incident::ack::{Ack, AckKind, PirStage};
use crate::incident::ids::encode_token;
use crate::notify::render::Renderer;
use crate::report::{self, IncidentRow};
use crate::store::Store;

/// What `pirwatch ack` records.
#[derive(Debug, Clone)]
pub(super) enum AckWhat {
    /// The newest published PIR stage was read.
    Reviewed,
    Claimed {
        reference: Option<String>,
    },
    NoClaim {
        reason: Option<String>,
    },
}

pub(super) async fn incidents(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store_to_read(&config).await?;
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
        let failed = crate::incident::notice::DeliveryState::Failed;
        if let Some(m) = r.last_mail.as_ref().filter(|m| m.state == failed) {
            println!(
                "    last mail ({}) FAILED: {}",
                m.kind.as_str(),
                m.error.as_deref().unwrap_or("?")
            );
        }
        if let Some(m) = r
            .last_mail
            .as_ref()
            .filter(|m| !m.failed_recipients.is_empty())
        {
            println!(
                "    last mail ({}) did not reach: {} (rejected for good; see `pirwatch outbox list`)",
                m.kind.as_str(),
                m.failed_recipients.join(", ")
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
        1 => found.into_iter().next().context("one incident"),
        _ => {
            let tenants: Vec<&str> = found.iter().map(|i| i.tenant.as_str()).collect();
            anyhow::bail!(
                "{tracking_id} is known in several tenants ({}): pass --tenant",
                tenants.join(", ")
            )
        }
    }
}

pub(super) async fn ack(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    what: AckWhat,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    if let Some(t) = tenant.filter(|t| config.tenant(t).is_none()) {
        let known: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!(
            "tenant {t} is not in the config (tenants: {})",
            known.join(", ")
        );
    }
    let store = open_store(&config).await?;
    let i = resolve(&store, tracking_id, tenant).await?;
    let claimed = matches!(what, AckWhat::Claimed { .. });
    let kind = match what {
        // The newest published stage; before any PIR, every stage to come.
        AckWhat::Reviewed => AckKind::Reviewed {
            stage: i.pir.stage().unwrap_or(PirStage::Final),
        },
        AckWhat::Claimed { reference } => AckKind::Claimed { reference },
        AckWhat::NoClaim { reason } => AckKind::NoClaim { reason },
    };
    let by = super::who(by)?;
    let what = match &kind {
        AckKind::Reviewed { stage } => format!("{} PIR reviewed", stage.word()),
        AckKind::Claimed { reference } => match reference {
            Some(r) => format!("SLA claim filed (support request {r})"),
            None => "SLA claim filed".to_owned(),
        },
        AckKind::NoClaim { .. } => "no SLA claim".to_owned(),
    };
    let record = Ack {
        kind,
        by: by.clone(),
        at: Timestamp::now(),
    };
    let new = store.record_ack(&i.tenant, &i.tracking_id, &record).await?;
    if claimed {
        // A claim quotes the incident's details, so its PIR (every stage published so far) was
        // read: the review is done too.
        let reviewed = Ack {
            kind: AckKind::Reviewed {
                stage: i.pir.stage().unwrap_or(PirStage::Final),
            },
            by: record.by.clone(),
            at: record.at,
        };
        store
            .record_ack(&i.tenant, &i.tracking_id, &reviewed)
            .await?;
    }
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

pub(super) async fn show(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store_to_read(&config).await?;
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
            report::markdown(&Renderer::new(), &record, Timestamp::now())?
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn export(
    path: &Path,
    tracking_id: Option<&str>,
    tenant: Option<&str>,
    since: Option<jiff::civil::Date>,
    dir: Option<PathBuf>,
    format: ExportFormat,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store_to_read(&config).await?;
    let renderer = Renderer::new();
    let now = Timestamp::now();
    let render = |r: &report::IncidentRecord| -> anyhow::Result<String> {
        Ok(match format {
            ExportFormat::Markdown => report::markdown(&renderer, r, now)?,
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
    for r in report::all_records(&store, &config, now).await? {
        let row = &r.row;
        let start = row.impact_start.unwrap_or(row.first_seen);
        if start < since || tenant.is_some_and(|t| t != row.tenant) {
            continue;
        }
        // Encoded injectively and joined by '.', which the encoding never emits, so two
        // incidents never share a file.
        let file = dir.join(format!(
            "{}.{}.{ext}",
            encode_token(&row.tenant),
            encode_token(&row.tracking_id)
        ));
        std::fs::write(&file, render(&r)?)
            .with_context(|| format!("writing {}", file.display()))?;
        n += 1;
    }
    store.close().await;
    println!("exported {n} incident(s) to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
