//! `pirwatch claim draft`: the support request for an incident's SLA credit, drafted from the
//! store (for one tenant, or every affected CSP customer at once).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;

use super::records::resolve;
use super::{DraftFormat, load_config, open_store_to_read};
use crate::followup::claim::ClaimChannel;
use crate::report::{self, draft};

pub(super) async fn draft(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    all_customers: bool,
    format: DraftFormat,
) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store_to_read(&config).await?;
    let now = Timestamp::now();
    let mut records = Vec::new();
    if all_customers {
        let found = store.find(tracking_id).await?;
        for i in found.iter().filter(|i| {
            config
                .tenant(&i.tenant)
                .is_some_and(|t| t.config.claim_channel == ClaimChannel::Partner)
        }) {
            if let Some(r) = report::record(&store, &config, &i.tenant, &i.tracking_id, now).await?
            {
                records.push(r);
            }
        }
        if records.is_empty() {
            anyhow::bail!(
                "no tenant with claim_channel = \"partner\" has incident {tracking_id} \
                 (--all-customers drafts one request for a CSP partner's customers)"
            );
        }
    } else {
        let i = resolve(&store, tracking_id, tenant).await?;
        let r = report::record(&store, &config, &i.tenant, &i.tracking_id, now)
            .await?
            .context("incident vanished")?;
        records.push(r);
    }
    store.close().await;
    let d = draft::draft(&config, &records).context("nothing to draft")?;
    if !records
        .iter()
        .any(|r| r.row.event_type == "ServiceIssue" || r.row.event_type == "RCA")
    {
        eprintln!(
            "pirwatch claim draft: note: {tracking_id} is a {}, not a service issue; SLA credits \
             follow service issues",
            records[0].row.event_type
        );
    }
    match format {
        DraftFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        DraftFormat::Text => print!("{}", draft::render(&config.renderer()?, &d, false)?),
        DraftFormat::Markdown => print!("{}", draft::render(&config.renderer()?, &d, true)?),
    }
    Ok(ExitCode::SUCCESS)
}
