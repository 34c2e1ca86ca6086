//! Logging setup: journald under systemd (detected by `JOURNAL_STREAM`), JSON lines when
//! asked (container log pipelines), human-readable text otherwise. The filter comes from
//! `PIRWATCH_LOG` (or `RUST_LOG`), default `info`. Nothing pirwatch logs carries a secret:
//! tokens and passwords never enter a log field.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// journald when started by systemd, else text.
    Auto,
    /// Text on stderr (with colours on a terminal).
    Text,
    /// One JSON object per line on stderr.
    Json,
    /// Structured entries to the systemd journal.
    Journald,
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("PIRWATCH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber. A second call (tests) keeps the first.
pub fn init(format: LogFormat) {
    let format = match format {
        LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        f => f,
    };
    if format == LogFormat::Journald {
        match tracing_journald::layer() {
            Ok(layer) => {
                let _ = tracing_subscriber::registry()
                    .with(filter())
                    .with(layer.with_syslog_identifier("pirwatch".into()))
                    .try_init();
                return;
            }
            Err(e) => eprintln!("pirwatch: journald unavailable ({e}); logging text to stderr"),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        _ => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
