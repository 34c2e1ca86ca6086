//! `[[routes]]`, checked and resolved into [`Route`]s; and the warnings `check-config` prints
//! about routes that can never match (an unknown tenant, a subscription no matched tenant
//! watches, an event type that sends no mail).

use std::collections::BTreeSet;

use super::Tenant;
use super::locate::KeyPath;
use super::schema::{RouteConfig, RouteMode, RouteUpdates, WebhookConfig};
use crate::incident::EventType;
use crate::notify::route::{DigestSchedule, Matcher, Mode, Route, RouteKind, UpdateFilter};

/// Checks `[[webhooks]]`: names unique and plain, a signing key for the generic kind only, sane
/// limits.
pub(super) fn check_webhooks(webhooks: &[WebhookConfig]) -> Result<(), Invalid> {
    use crate::notify::channel::webhook::WebhookKind;
    for (i, w) in webhooks.iter().enumerate() {
        let key = |k: &str| KeyPath::key("webhooks").index(i).then(k);
        if w.name.is_empty()
            || !w
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return fail(key("name"), "must be letters, digits, - or _");
        }
        if webhooks[..i].iter().any(|o| o.name == w.name) {
            return fail(key("name"), format!("duplicate webhook name {:?}", w.name));
        }
        match (w.kind, &w.secret_file) {
            (WebhookKind::Generic, None) => {
                return fail(
                    key("secret_file"),
                    "a generic webhook is signed: name the file holding its HMAC key",
                );
            }
            (WebhookKind::Teams | WebhookKind::Slack, Some(_)) => {
                return fail(
                    key("secret_file"),
                    format!(
                        "is only for kind = \"generic\" ({} webhooks are not signed; their URL is \
                         the secret)",
                        w.kind.as_str()
                    ),
                );
            }
            _ => {}
        }
        if !(1..=1000).contains(&w.max_attempts) {
            return fail(key("max_attempts"), "must be between 1 and 1000");
        }
        if w.timeout.is_zero() || w.timeout > super::validate::MAX_TIMEOUT {
            return fail(key("timeout"), "must be between 1s and 10m");
        }
        if w.retry_backoff.is_zero() || w.retry_backoff > std::time::Duration::from_secs(3600) {
            return fail(key("retry_backoff"), "must be between 1s and 1h");
        }
    }
    Ok(())
}

type Invalid = (KeyPath, String);

fn fail<T>(key: KeyPath, message: impl Into<String>) -> Result<T, Invalid> {
    Err((key, message.into()))
}

/// Lower-cased, for matching without regard to case.
fn lowered(v: &Option<Vec<String>>) -> Option<BTreeSet<String>> {
    v.as_ref()
        .map(|v| v.iter().map(|s| s.to_lowercase()).collect())
}

/// The routes, and what can never match in them.
pub(super) fn resolve(
    routes: &[RouteConfig],
    webhooks: &[WebhookConfig],
    tenants: &[Tenant],
    mailing: &BTreeSet<EventType>,
) -> Result<(Vec<Route>, Vec<String>), Invalid> {
    let mut out: Vec<Route> = Vec::new();
    let mut warnings = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        let at = KeyPath::key("routes").index(i);
        let route = route(r, &at, webhooks, &mut warnings, tenants, mailing)?;
        if out.iter().any(|o| o.name == route.name) {
            return fail(
                at.then("name"),
                format!("duplicate route name {:?}", route.name),
            );
        }
        out.push(route);
    }
    Ok((out, warnings))
}

/// A route's delivery mode: a digest needs its time and zone; an immediate route takes neither.
fn mode(r: &RouteConfig, at: &KeyPath) -> Result<Mode, Invalid> {
    let key = |k: &str| at.clone().then(k);
    match r.mode {
        RouteMode::Immediate => {
            for (set, k) in [
                (r.digest_at.is_some(), "digest_at"),
                (r.timezone.is_some(), "timezone"),
                (!r.digest_days.is_empty(), "digest_days"),
            ] {
                if set {
                    return fail(key(k), "is only for mode = \"digest\"");
                }
            }
            Ok(Mode::Immediate)
        }
        RouteMode::Digest => {
            let Some(at_time) = r.digest_at else {
                return fail(
                    key("mode"),
                    "a digest needs digest_at = \"08:00\" (local time)",
                );
            };
            let Some(tz) = r.timezone.clone() else {
                return fail(
                    key("mode"),
                    "a digest needs timezone = \"Europe/Amsterdam\" (the zone of digest_at)",
                );
            };
            Ok(Mode::Digest(DigestSchedule {
                at: at_time,
                timezone: tz,
                days: r.digest_days.clone(),
            }))
        }
    }
}

fn route(
    r: &RouteConfig,
    at: &KeyPath,
    webhooks: &[WebhookConfig],
    warnings: &mut Vec<String>,
    tenants: &[Tenant],
    mailing: &BTreeSet<EventType>,
) -> Result<Route, Invalid> {
    let key = |k: &str| at.clone().then(k);
    if r.name.is_empty()
        || !r
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return fail(key("name"), "must be letters, digits, - or _");
    }
    if r.to.is_empty() && r.cc.is_empty() && r.webhooks.is_empty() {
        return fail(
            key("to"),
            "list at least one receiver: an address (to or cc) or a webhook",
        );
    }
    for w in &r.webhooks {
        if !webhooks.iter().any(|h| &h.name == w) {
            let known: Vec<&str> = webhooks.iter().map(|h| h.name.as_str()).collect();
            return fail(
                key("webhooks"),
                format!(
                    "no [[webhooks]] entry is named {w:?} (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
    let mode = mode(r, at)?;
    let kinds = match &r.kinds {
        None => None,
        Some(ks) => Some(
            ks.iter()
                .map(|k| {
                    RouteKind::ALL
                        .into_iter()
                        .find(|x| x.as_str() == k)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                RouteKind::ALL.iter().map(|x| x.as_str()).collect();
                            (
                                key("kinds"),
                                format!("unknown kind {k:?} (known: {})", known.join(", ")),
                            )
                        })
                })
                .collect::<Result<BTreeSet<_>, _>>()?,
        ),
    };
    let event_types = match &r.event_types {
        None => None,
        Some(ts) => Some(
            ts.iter()
                .map(|t| match EventType::from(t.as_str()) {
                    EventType::Other(_) => fail(
                        key("event_types"),
                        format!(
                            "unknown event type {t:?} (known: {})",
                            EventType::KNOWN.join(", ")
                        ),
                    ),
                    e => Ok(e),
                })
                .collect::<Result<BTreeSet<_>, _>>()?,
        ),
    };
    let name = &r.name;
    let matched: Vec<&Tenant> = tenants
        .iter()
        .filter(|t| {
            r.tenants
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|n| t.name == n.as_str()))
        })
        .collect();
    // `entry/Customer`: a tenant discovery may find under an entry with subscriptions = "all".
    let discoverable = |n: &str| {
        n.split_once('/').is_some_and(|(entry, _)| {
            tenants.iter().any(|t| {
                t.name == entry && t.config.subscriptions == super::schema::Subscriptions::All
            })
        })
    };
    for n in r.tenants.iter().flatten() {
        if !tenants.iter().any(|t| t.name == n.as_str()) && !discoverable(n) {
            warnings.push(format!(
                "route {name}: tenant {n:?} is not configured; it never matches there"
            ));
        }
    }
    for s in r.subscriptions.iter().flatten() {
        let watched = matched.iter().any(|t| {
            t.config
                .subscriptions
                .iter()
                .any(|x| x.eq_ignore_ascii_case(s))
        });
        if !watched {
            warnings.push(format!(
                "route {name}: subscription {s} is not watched by any tenant it matches"
            ));
        }
    }
    if !r.sensitive
        && event_types
            .as_ref()
            .is_some_and(|t| t.contains(&EventType::SecurityAdvisory))
    {
        warnings.push(format!(
            "route {name}: security advisories reach it only with sensitive = true"
        ));
    }
    for t in event_types
        .iter()
        .flatten()
        .filter(|t| !mailing.contains(*t))
    {
        warnings.push(format!(
            "route {name}: event type {t} sends no mail (notify.event_types); it never matches"
        ));
    }
    Ok(Route {
        name: name.clone(),
        matcher: Matcher {
            tenants: r.tenants.as_ref().map(|v| v.iter().cloned().collect()),
            subscriptions: lowered(&r.subscriptions),
            event_types,
            services: lowered(&r.services),
            regions: lowered(&r.regions),
            kinds,
        },
        to: r.to.clone(),
        cc: r.cc.clone(),
        webhooks: r.webhooks.clone(),
        mode,
        updates: match r.updates {
            RouteUpdates::All => UpdateFilter::All,
            RouteUpdates::Material => UpdateFilter::Material,
        },
        continue_: r.continue_,
        sensitive: r.sensitive,
        from_days_before: r.from_days_before,
    })
}
