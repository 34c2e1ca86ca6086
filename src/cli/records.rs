//! The commands that read and annotate the record: `incidents`, `ack`, `show`, `export`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;

use super::{ExportFormat, load_config, open_store, open_store_to_read};
use crate::incident::Incident;
use crate::incident::ack::{AckKind, AckRequest, AckSource};
use crate::incident::ids::encode_token;
use crate::report::{self, IncidentRow};
use crate::store::Store;

pub(super) async fn incidents(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store_to_read(&config).await?;
    let config = super::with_discovered(config, &store).await?;
    let rows = report::rows(&store, &config, Timestamp::now()).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_incident_table(&rows, &config);
    }
    Ok(ExitCode::SUCCESS)
}

/// A time as a table shows it: in `tz`, with its offset, or `Z` in UTC.
fn short_time(t: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset() == jiff::tz::Offset::UTC && tz.iana_name().is_none_or(|n| n == "UTC") {
        z.strftime("%Y-%m-%d %H:%MZ").to_string()
    } else {
        z.strftime("%Y-%m-%d %H:%M%:z").to_string()
    }
}

/// The cells of one incident's row (the title goes last, unpadded).
fn incident_cells(r: &IncidentRow, tz: &jiff::tz::TimeZone) -> [String; 10] {
    let next = r.next_reminder.as_ref().map_or("-".to_owned(), |n| {
        format!("{} {}", n.kind, short_time(n.at, tz))
    });
    let claim_by = match (&r.claim.deadline, r.claim.days_left) {
        (Some(d), Some(n)) => format!("{d} ({n}d)"),
        (Some(d), None) => d.clone(),
        _ => "-".to_owned(),
    };
    let last = r.last_mail.as_ref().map_or("-".to_owned(), |m| {
        format!(
            "{} {} {}",
            m.kind.as_str(),
            m.state.as_str(),
            short_time(m.at, tz)
        )
    });
    [
        r.tenant.clone(),
        r.tracking_id.clone(),
        r.event_type.clone(),
        r.status.clone(),
        r.pir.to_owned(),
        r.pir_review.state.to_owned(),
        r.claim.state.to_owned(),
        claim_by,
        next,
        last,
    ]
}

fn print_incident_table(rows: &[IncidentRow], config: &crate::config::Config) {
    const HEAD: [&str; 10] = [
        "TENANT",
        "TRACKING ID",
        "TYPE",
        "STATUS",
        "PIR",
        "REVIEW",
        "CLAIM",
        "FILE BY",
        "NEXT REMINDER",
        "LAST MAIL",
    ];
    let utc = jiff::tz::TimeZone::UTC;
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let tz = config
                .tenant(&r.tenant)
                .map_or(&utc, |t| t.policy.calendar.timezone());
            incident_cells(r, tz)
        })
        .collect();
    // Each column as wide as its widest cell, so columns never shift.
    let mut width = HEAD.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String], title: &str| {
        let padded: Vec<String> = cols
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}  {title}", padded.join("  "));
    };
    line(&HEAD.map(str::to_owned), "TITLE");
    for (r, row) in rows.iter().zip(&cells) {
        line(row, &r.title);
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
pub(super) async fn resolve(
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
    what: AckRequest,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let config = super::with_discovered(config, &store).await?;
    if let Some(t) = tenant.filter(|t| config.tenant(t).is_none()) {
        let known: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        store.close().await;
        anyhow::bail!(
            "tenant {t} is not in the config (tenants: {})",
            known.join(", ")
        );
    }
    let i = resolve(&store, tracking_id, tenant).await?;
    let by = super::who(by)?;
    if matches!(what, AckRequest::ClaimOutcome { .. }) {
        let acks =
            crate::incident::ack::Acks::from_records(&store.acks(&i.tenant, &i.tracking_id).await?);
        if !matches!(
            acks.claim,
            Some((crate::incident::ack::ClaimDecision::Claimed { .. }, _, _))
        ) {
            store.close().await;
            anyhow::bail!(
                "{}/{}: no claim was recorded as filed; record it first with `ack {} --claimed                  --reference <support request number>`",
                i.tenant,
                i.tracking_id,
                i.tracking_id
            );
        }
    }
    let (ack, new) = store
        .acknowledge(&i, what, &by, AckSource::Cli, Timestamp::now())
        .await?;
    let what = match &ack.kind {
        AckKind::Reviewed { stage } => format!("{} PIR reviewed", stage.word()),
        AckKind::Claimed { reference } => match reference {
            Some(r) => format!("SLA claim filed (support request {r})"),
            None => "SLA claim filed".to_owned(),
        },
        AckKind::NoClaim { .. } => "no SLA claim".to_owned(),
        AckKind::ClaimOutcome { approved, credit } => format!(
            "claim {}{}",
            if *approved { "approved" } else { "denied" },
            credit
                .as_deref()
                .map(|c| format!(", credit {c}"))
                .unwrap_or_default()
        ),
    };
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
    let config = super::with_discovered(config, &store).await?;
    let i = resolve(&store, tracking_id, tenant).await?;
    let record = report::record(&store, &config, &i.tenant, &i.tracking_id, Timestamp::now())
        .await?
        .context("incident vanished")?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        let utc = jiff::tz::TimeZone::UTC;
        let tz = config
            .tenant(&i.tenant)
            .map_or(&utc, |t| t.policy.calendar.timezone());
        let how = report::Presentation::Show { tz };
        print!("{}", report::markdown(&config.renderer()?, &record, how)?);
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
    let config = super::with_discovered(config, &store).await?;
    let renderer = config.renderer()?;
    let now = Timestamp::now();
    let render = |r: &report::IncidentRecord| -> anyhow::Result<String> {
        Ok(match format {
            ExportFormat::Markdown => {
                report::markdown(&renderer, r, report::Presentation::Export { at: now })?
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_times_are_in_the_tenants_zone_with_the_offset_or_z() {
        let t: Timestamp = "2026-12-17T08:00:00Z".parse().expect("ts");
        let zone = |z: &str| jiff::tz::TimeZone::get(z).expect("tz");
        assert_eq!(short_time(t, &jiff::tz::TimeZone::UTC), "2026-12-17 08:00Z");
        assert_eq!(
            short_time(t, &zone("Europe/Amsterdam")),
            "2026-12-17 09:00+01:00"
        );
        // Zero offset, but not UTC: the offset is shown.
        assert_eq!(
            short_time(t, &zone("Europe/London")),
            "2026-12-17 08:00+00:00"
        );
        assert_eq!(
            short_time(t, &zone("America/Los_Angeles")),
            "2026-12-17 00:00-08:00"
        );
    }
}
