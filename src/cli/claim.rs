//! `pirwatch claim draft`: the support request for an incident's SLA credit, drafted from the
//! store (for one tenant, or every affected CSP customer at once); `pirwatch claim file`: that
//! draft opened as an Azure support ticket, after a confirmation, and its number recorded as the
//! claim's reference.

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
    let config = super::with_discovered(config, &store).await?;
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

/// How `claim file` was asked to file.
pub(super) struct Filing<'a> {
    pub subscription: &'a str,
    pub tenant: Option<&'a str>,
    pub yes: bool,
    pub by: Option<String>,
}

/// The Support API's limits on a ticket's title and description.
const TITLE_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 5000;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Asks on the terminal; without one, and without `--yes`, nothing is filed.
fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to file without a confirmation: there is no terminal to ask on (pass --yes \
             to file from a script)"
        );
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub(super) async fn file(
    path: &Path,
    tracking_id: &str,
    how: Filing<'_>,
) -> anyhow::Result<ExitCode> {
    use crate::incident::ack::{AckRequest, AckSource, Acks, ClaimDecision};
    use crate::source::azure::{AzureSource, support};
    let config = load_config(path)?;
    // Who files it, known before anything is filed.
    let by = super::who(how.by)?;
    let store = super::open_store(&config).await?;
    let config = super::with_discovered(config, &store).await?;
    let i = resolve(&store, tracking_id, how.tenant).await?;
    let tenant = config
        .tenant(&i.tenant)
        .with_context(|| format!("tenant {} is no longer in the config", i.tenant))?;
    match tenant.config.claim_channel {
        ClaimChannel::Microsoft => {}
        ClaimChannel::Partner => anyhow::bail!(
            "tenant {} files claims through its CSP partner (claim_channel = \"partner\"): CSP \
             customers cannot open Azure support requests. Send the partner the draft: `pirwatch \
             claim draft {tracking_id}`",
            i.tenant
        ),
        ClaimChannel::Vianet => anyhow::bail!(
            "tenant {} files claims with 21Vianet (claim_channel = \"21vianet\"), not through \
             Microsoft's Support API. Use the draft: `pirwatch claim draft {tracking_id}`",
            i.tenant
        ),
    }
    let contact = tenant.config.support_contact.clone().with_context(|| {
        format!(
            "tenant {}: set [tenants.support_contact] (first_name, last_name, email, country, \
             language, timezone): the Support API needs who to contact",
            i.tenant
        )
    })?;
    if !i
        .subscriptions
        .iter()
        .any(|s| s.eq_ignore_ascii_case(how.subscription))
    {
        let known: Vec<&str> = i.subscriptions.iter().map(String::as_str).collect();
        anyhow::bail!(
            "incident {tracking_id} did not affect subscription {} (it affected: {})",
            how.subscription,
            known.join(", ")
        );
    }
    let acks = Acks::from_records(&store.acks(&i.tenant, &i.tracking_id).await?);
    if let Some((ClaimDecision::Claimed { reference }, by, _)) = &acks.claim {
        println!(
            "{}/{}: the claim was already recorded as filed by {by}{}; nothing filed.",
            i.tenant,
            i.tracking_id,
            reference
                .as_deref()
                .map(|r| format!(" (support request {r})"))
                .unwrap_or_default()
        );
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    let record = report::record(&store, &config, &i.tenant, &i.tracking_id, now)
        .await?
        .context("incident vanished")?;
    let d = draft::draft(&config, std::slice::from_ref(&record)).context("nothing to draft")?;
    let text = draft::render(&config.renderer()?, &d, false)?;
    let req = support::TicketRequest {
        name: support::ticket_name(&i.tenant, how.subscription, &i.tracking_id),
        title: cut(&d.title, TITLE_MAX),
        description: cut(&text, DESCRIPTION_MAX),
        contact,
    };
    println!("Title:        {}", req.title);
    println!("Subscription: {}", how.subscription);
    println!(
        "Ticket name:  {} (the same on a retry: it is never filed twice)",
        req.name
    );
    println!(
        "Contact:      {} {} <{}>",
        req.contact.first_name, req.contact.last_name, req.contact.email
    );
    if text.contains("[TO FILL IN") {
        println!(
            "Note: the description still has the part marked TO FILL IN (what your team did); \
             you can add it to the ticket in the portal."
        );
    }
    if !confirmed("File this claim with Microsoft now?", how.yes)? {
        println!("Nothing filed.");
        store.close().await;
        return Ok(ExitCode::from(1));
    }
    let http = AzureSource::http_client(config.poll.request_timeout)
        .context("building the HTTP client for Azure")?;
    let source = AzureSource::new(&config, http, None);
    let ticket = source
        .file_ticket(tenant, how.subscription, &req)
        .await
        .with_context(|| format!("filing the claim of {tracking_id}"))?;
    store
        .acknowledge(
            &i,
            AckRequest::Claimed {
                reference: Some(ticket.number.clone()),
            },
            &by,
            AckSource::Cli,
            Timestamp::now(),
        )
        .await?;
    store.close().await;
    println!(
        "{}/{}: {} support request {} (ticket {}); recorded as the claim's reference for {by}; \
         its reminders stop.",
        i.tenant,
        i.tracking_id,
        if ticket.existed {
            "found the already filed"
        } else {
            "filed"
        },
        ticket.number,
        ticket.name
    );
    Ok(ExitCode::SUCCESS)
}
