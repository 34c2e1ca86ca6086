//! serde helpers for the config's value types: durations, time zones, weekdays, working
//! hours, mail addresses and ARM endpoints, each with an error that says what was expected.

use std::time::Duration;

use jiff::civil::{Time, Weekday};
use serde::{Deserialize, Deserializer};
use url::Url;

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like \"5m\": {e}")))
}

pub(super) fn timezone<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::tz::TimeZone, D::Error> {
    let s = String::deserialize(d)?;
    jiff::tz::TimeZone::get(&s).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {s:?} (use an IANA name like \"Europe/Amsterdam\")"
        ))
    })
}

pub(super) fn opt_timezone<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<jiff::tz::TimeZone>, D::Error> {
    timezone(d).map(Some)
}

/// A local time of day, `"08:00"`.
pub(super) fn opt_clock_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Time>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<Time>()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a time of day like \"08:00\"")))
}

pub(super) fn weekdays<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
    use Weekday::*;
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            Ok(match n.to_ascii_lowercase().get(..3) {
                Some("mon") => Monday,
                Some("tue") => Tuesday,
                Some("wed") => Wednesday,
                Some("thu") => Thursday,
                Some("fri") => Friday,
                Some("sat") => Saturday,
                Some("sun") => Sunday,
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "{n:?} is not a weekday (mon, tue, ... sun)"
                    )));
                }
            })
        })
        .collect()
}

pub(super) fn hours<'de, D: Deserializer<'de>>(d: D) -> Result<(Time, Time), D::Error> {
    let s = String::deserialize(d)?;
    let bad = || serde::de::Error::custom(format!("{s:?} is not like \"09:00-17:00\""));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start: Time = a.trim().parse().map_err(|_| bad())?;
    let end: Time = match b.trim() {
        "24:00" => Time::MAX,
        b => b.parse().map_err(|_| bad())?,
    };
    if end <= start {
        return Err(serde::de::Error::custom(
            "working hours must end after they start",
        ));
    }
    Ok((start, end))
}

pub(super) fn mailbox<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<lettre::message::Mailbox, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a mail address: {e}")))
}

pub(super) fn mailboxes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<lettre::message::Mailbox>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    list.iter()
        .map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a mail address: {e}")))
        })
        .collect()
}

/// A URL; what it may be is checked where it is resolved.
pub(super) fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let s = String::deserialize(d)?;
    Url::parse(&s).map_err(|e| serde::de::Error::custom(format!("{s:?} is not a URL: {e}")))
}

pub(super) fn arm_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let s = String::deserialize(d)?;
    let url =
        Url::parse(&s).map_err(|e| serde::de::Error::custom(format!("{s:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(Some(url)),
        "http" if is_loopback(&url) => Ok(Some(url)),
        "http" => Err(serde::de::Error::custom(
            "plain http:// is accepted only for loopback hosts; use https://",
        )),
        other => Err(serde::de::Error::custom(format!(
            "scheme {other:?} is not http(s)"
        ))),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
