//! `[[routes]]`, checked and resolved into [`Route`]s; and the warnings `check-config` prints
//! about routes that can never match (an unknown tenant, a subscription no matched tenant
//! watches, an event type that sends no mail).

use std::collections::BTreeSet;

use super::Tenant;
use super::locate::KeyPath;
use super::schema::RouteConfig;
use crate::incident::EventType;
use crate::notify::route::{Matcher, Route, RouteKind};

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
    tenants: &[Tenant],
    mailing: &BTreeSet<EventType>,
) -> Result<(Vec<Route>, Vec<String>), Invalid> {
    let mut out: Vec<Route> = Vec::new();
    let mut warnings = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        let at = KeyPath::key("routes").index(i);
        let route = route(r, &at, &mut warnings, tenants, mailing)?;
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

fn route(
    r: &RouteConfig,
    at: &KeyPath,
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
    if r.to.is_empty() && r.cc.is_empty() {
        return fail(key("to"), "list at least one address (to or cc)");
    }
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
    for n in r.tenants.iter().flatten() {
        if !tenants.iter().any(|t| t.name == n.as_str()) {
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
        continue_: r.continue_,
        sensitive: r.sensitive,
        from_days_before: r.from_days_before,
    })
}
