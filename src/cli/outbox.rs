//! `pirwatch outbox list|retry|dismiss`: what an operator does about mail that is waiting or
//! was given up on, so a periodic `once` can succeed again after someone dealt with it.

use std::path::Path;
use std::process::ExitCode;

use jiff::Timestamp;

use super::{load_config, open_store, who};
use crate::store::OutboxEntry;

/// `<id@domain>` whether or not the angle brackets were typed.
fn message_id(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

pub(super) async fn list(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let entries = store.outbox().await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else if entries.is_empty() {
        println!("The outbox is empty: nothing waits and nothing failed.");
    } else {
        entries.iter().for_each(print_entry);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_entry(e: &OutboxEntry) {
    let state = match (&e.dismissed_by, e.state.as_str()) {
        (Some(by), s) => format!("{s} (dismissed by {by})"),
        (None, s) => s.to_owned(),
    };
    println!(
        "{}  {}  {}  {state}, {} attempt(s), next {}",
        e.message_id,
        e.tenant,
        e.kind.as_str(),
        e.attempts,
        e.next_attempt.strftime("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(err) = &e.error {
        println!("    last error: {err}");
    }
    for r in &e.recipients {
        let err = r
            .error
            .as_deref()
            .map_or(String::new(), |e| format!(": {e}"));
        println!("    {} {}{err}", r.address, r.state.as_str());
    }
}

pub(super) async fn retry(path: &Path, id: &str) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let id = message_id(id);
    let found = store.retry_delivery(&id, Timestamp::now()).await?;
    store.close().await;
    if !found {
        anyhow::bail!("no queued or failed delivery {id} (see `pirwatch outbox list`)");
    }
    println!("{id}: due again now, for every recipient not yet reached.");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn dismiss(path: &Path, id: &str, by: Option<String>) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let store = open_store(&config).await?;
    let id = message_id(id);
    let by = who(by)?;
    let found = store.dismiss_delivery(&id, &by, Timestamp::now()).await?;
    store.close().await;
    if !found {
        anyhow::bail!("no failed delivery {id} (see `pirwatch outbox list`)");
    }
    println!("{id}: dismissed by {by}; `pirwatch once` no longer counts it.");
    Ok(ExitCode::SUCCESS)
}
