//! Entry points for the fuzzers (`fuzz/`) and for the tests that replay their corpus and run
//! property tests over the same inputs: each takes raw bytes, as a fuzzer hands them over, and
//! must never panic, whatever the bytes. Kept in the library so the fuzz targets, the corpus
//! replay and the properties exercise one piece of code each.

use crate::source::azure::wire::{self, Event, Page};
use crate::source::event::Scope;

/// An ARM events page (or a single event) as the client parses it.
pub fn arm_events(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let items = match serde_json::from_str::<Page>(text) {
        Ok(page) => page.value,
        Err(_) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => vec![v],
            Err(_) => return,
        },
    };
    for item in items {
        if let Ok(e) = Event::from_value(item) {
            let _ = e.into_health_event(Scope::Subscription("fuzz".into()));
        }
    }
}

/// An ARM timestamp.
pub fn timestamp(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wire::timestamp("fuzz", Some(text));
    }
}

/// A config file: parsed, validated and resolved, or refused with an error that names the
/// file, line and key.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(crate::config::ConfigError::Invalid { path, line, .. }) =
            crate::config::Config::parse(text, "fuzz.toml")
    {
        assert!(
            path == "fuzz.toml" && line >= 1,
            "an error without its place"
        );
    }
}

/// Azure's HTML through the sanitiser and into text, as mails use it.
pub fn html(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let clean = crate::notify::render::sanitize(&text);
    let _ = crate::notify::render::to_text(&clean);
}
