//! Cross-field checks serde cannot do, and the resolution of the file into [`Config`]: each
//! tenant's calendar and policies are built here, once, and a value that cannot be built is an
//! error naming its key — never a silent default.

use std::collections::BTreeSet;
use std::time::Duration;

use super::locate::KeyPath;
use super::schema::{ConfigFile, CredentialConfig, TenantConfig};
use super::{Config, Notify, Tenant};
use crate::cloud::Cloud;
use crate::followup::TenantPolicy;
use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::{ClaimChannel, ClaimPolicy};
use crate::followup::schedule::ReminderPolicy;
use crate::incident::{EventType, TenantName};

type Invalid = (KeyPath, String);

/// The longest `poll.interval`: a day (longer values would also overflow the clock).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest time limit of one request or SMTP conversation.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

fn fail<T>(key: KeyPath, message: impl Into<String>) -> Result<T, Invalid> {
    Err((key, message.into()))
}

/// Checks the file and resolves it into the settings the program uses.
pub(super) fn resolve(file: ConfigFile) -> Result<Config, Invalid> {
    check_globals(&file)?;
    ack_command(&file.notify.ack_command)?;
    let event_types = event_types(&file.notify.event_types)?;
    let mut names = BTreeSet::new();
    let mut tenants = Vec::new();
    // An entry with subscriptions = "all" may find another entry's subscriptions (its
    // customers'), so that one may list none.
    let discovering = file
        .tenants
        .iter()
        .any(|t| t.subscriptions == super::schema::Subscriptions::All);
    for (i, t) in file.tenants.into_iter().enumerate() {
        let at = KeyPath::key("tenants").index(i);
        if !names.insert(t.name.clone()) {
            return fail(
                at.then("name"),
                format!("duplicate tenant name {:?}", t.name),
            );
        }
        tenants.push(tenant(t, &at, &event_types, discovering)?);
    }
    let names: Vec<String> = tenants.iter().map(|t| t.name.to_string()).collect();
    super::routes::check_webhooks(&file.webhooks)?;
    let (routes, warnings) =
        super::routes::resolve(&file.routes, &file.webhooks, &tenants, &event_types)?;
    if file.notify.fallback.is_empty()
        && let Some(i) = tenants.iter().position(|t| t.config.recipients.is_empty())
    {
        return fail(
            KeyPath::key("tenants").index(i).then("recipients"),
            "is empty: list the tenant's recipients, or set [notify] fallback so its mail \
             reaches someone when no route takes it",
        );
    }
    let web = file
        .web
        .map(|w| super::web::resolve(w, &file.http, &names))
        .transpose()?;
    Ok(Config {
        state: file.state,
        poll: file.poll,
        smtp: file.smtp,
        notify: Notify {
            event_types,
            operators: file.notify.operators,
            operator_alert_after: file.notify.operator_alert_after,
            ack_command: file.notify.ack_command,
            templates_dir: file.notify.templates_dir,
            fallback: file.notify.fallback,
            digest_max_items: file.notify.digest_max_items,
        },
        http: file.http,
        web,
        routes,
        webhooks: file.webhooks,
        warnings,
        tenants,
        dir: std::path::PathBuf::from("."),
    })
}

fn check_globals(file: &ConfigFile) -> Result<(), Invalid> {
    if !(1..=1000).contains(&file.notify.digest_max_items) {
        return fail(
            KeyPath::key("notify").then("digest_max_items"),
            "must be between 1 and 1000",
        );
    }
    let poll = |k: &str| KeyPath::key("poll").then(k);
    if let Some(o) = &file.smtp.oauth {
        let key = || KeyPath::key("smtp").then("oauth");
        if file.smtp.password_file.is_some() {
            return fail(
                KeyPath::key("smtp").then("password_file"),
                "is not used with [smtp.oauth] (XOAUTH2 signs in with a token); remove one",
            );
        }
        if file.smtp.username.is_none() {
            return fail(
                key(),
                "needs smtp.username: the mailbox pirwatch sends as (user@contoso.com)",
            );
        }
        if o.tenant_id.trim().is_empty() {
            return fail(key().then("tenant_id"), "must not be empty");
        }
        if !o.scope.starts_with("https://") {
            return fail(
                key().then("scope"),
                "must be a scope URL like \"https://outlook.office365.com/.default\"",
            );
        }
    }
    if file.smtp.password_file.is_some() && file.smtp.username.is_none() {
        return fail(
            KeyPath::key("smtp").then("password_file"),
            "needs smtp.username",
        );
    }
    if file.poll.interval < Duration::from_secs(30) {
        return fail(poll("interval"), "must be at least 30s");
    }
    if file.poll.interval > MAX_POLL_INTERVAL {
        return fail(poll("interval"), "must be at most 24h");
    }
    if file.poll.concurrency == 0 {
        return fail(poll("concurrency"), "must be at least 1");
    }
    if file.poll.max_in_flight == 0 {
        return fail(poll("max_in_flight"), "must be at least 1");
    }
    if file.poll.tenant_budget < Duration::from_secs(10)
        || file.poll.tenant_budget > file.poll.interval.max(Duration::from_secs(3600))
    {
        return fail(
            poll("tenant_budget"),
            "must be at least 10s and at most the larger of poll.interval and 1h",
        );
    }
    if file.poll.request_timeout.is_zero() || file.poll.request_timeout > MAX_TIMEOUT {
        return fail(
            poll("request_timeout"),
            "must be more than 0s and at most 10m",
        );
    }
    if file.smtp.timeout.is_zero() || file.smtp.timeout > MAX_TIMEOUT {
        return fail(
            KeyPath::key("smtp").then("timeout"),
            "must be more than 0s and at most 10m",
        );
    }
    if file.smtp.max_per_minute == Some(0) {
        return fail(
            KeyPath::key("smtp").then("max_per_minute"),
            "must be at least 1 (leave it out for no limit)",
        );
    }
    let backoff = file.smtp.retry_backoff;
    if backoff < Duration::from_secs(1) || backoff > Duration::from_secs(3600) {
        return fail(
            KeyPath::key("smtp").then("retry_backoff"),
            "must be 1s to 1h",
        );
    }
    Ok(())
}

/// `notify.ack_command` as the start of a command line.
fn ack_command(command: &str) -> Result<(), Invalid> {
    let key = KeyPath::key("notify").then("ack_command");
    if command.trim().is_empty() || command.contains(['\n', '\r']) {
        return fail(
            key,
            "must be one non-empty line, like \"sudo -u pirwatch pirwatch\"",
        );
    }
    Ok(())
}

/// `notify.event_types`, each checked against the types pirwatch knows: a typo would silently
/// stop all mail.
fn event_types(names: &BTreeSet<String>) -> Result<BTreeSet<EventType>, Invalid> {
    let key = KeyPath::key("notify").then("event_types");
    names
        .iter()
        .map(|n| match EventType::from(n.as_str()) {
            EventType::Other(_) => fail(
                key.clone(),
                format!(
                    "unknown event type {n:?} (known: {})",
                    EventType::KNOWN.join(", ")
                ),
            ),
            t => Ok(t),
        })
        .collect()
}

pub(super) fn tenant(
    t: TenantConfig,
    at: &KeyPath,
    event_types: &BTreeSet<EventType>,
    discovering: bool,
) -> Result<Tenant, Invalid> {
    check_tenant(&t, at, discovering)?;
    let (start, end) = t.working_hours;
    let calendar = WorkCalendar::new(
        t.timezone.clone(),
        t.working_days.iter().copied(),
        start,
        end,
        t.holidays.iter().copied(),
    )
    .or_else(|e| fail(at.clone().then("working_hours"), e.to_string()))?
    .with_extra_working_days(t.extra_working_days.iter().copied());
    let r = &t.reminders;
    let nudge = jiff::SignedDuration::try_from(r.pir_nudge_after).or_else(|_| {
        fail(
            at.clone().then("reminders").then("pir_nudge_after"),
            "is too long",
        )
    })?;
    let policy = TenantPolicy {
        calendar,
        claim: ClaimPolicy {
            channel: t.claim_channel,
            billing_start_day: t.billing_period_start_day,
            subscription_start_days: t.subscription_billing_start_days.clone(),
            partner_deadline_days: t.partner_deadline_days,
            margin_days: t.claim_margin_days,
            timezone: t.timezone.clone(),
        },
        reminders: ReminderPolicy {
            review_every_working_days: r.review_every_working_days,
            review_max: r.review_max,
            claim_days_before: r.claim_days_before.clone(),
            window_closed_notice: r.window_closed_notice,
            pir_nudge_after: nudge,
        },
        notify_event_types: event_types.clone(),
        ignore_services: t.ignore_services.iter().map(|s| s.to_lowercase()).collect(),
    };
    Ok(Tenant {
        name: TenantName::new(t.name.clone()),
        portal_url: Cloud::named(t.cloud).service_health_url,
        policy,
        config: t,
        signs_in_as: None,
        customer_tenant_id: None,
    })
}

/// Checks one tenant; `at` is its key path.
/// `[tenants.support_contact]`, in the forms the Support API wants.
fn check_contact(c: &super::schema::SupportContact, at: &KeyPath) -> Result<(), Invalid> {
    let key = |k: &str| at.clone().then("support_contact").then(k);
    for (v, k) in [
        (&c.first_name, "first_name"),
        (&c.last_name, "last_name"),
        (&c.timezone, "timezone"),
    ] {
        if v.trim().is_empty() {
            return fail(key(k), "must not be empty");
        }
    }
    if c.email.parse::<lettre::Address>().is_err() {
        return fail(key("email"), format!("{:?} is not a mail address", c.email));
    }
    if c.country.len() != 3 || !c.country.chars().all(|ch| ch.is_ascii_alphabetic()) {
        return fail(
            key("country"),
            "must be an ISO 3166-1 alpha-3 code, such as \"NLD\" or \"USA\"",
        );
    }
    let lang = c.language.split_once('-');
    if !lang.is_some_and(|(a, b)| {
        a.len() == 2
            && b.len() == 2
            && c.language
                .chars()
                .all(|ch| ch.is_ascii_alphabetic() || ch == '-')
    }) {
        return fail(key("language"), "must be a language tag such as \"en-us\"");
    }
    Ok(())
}

fn check_tenant(t: &TenantConfig, at: &KeyPath, discovering: bool) -> Result<(), Invalid> {
    let key = |k: &str| at.clone().then(k);
    if let Some(c) = &t.support_contact {
        check_contact(c, at)?;
    }
    if t.name.is_empty() || t.name.chars().any(|c| c.is_whitespace() || c == '/') {
        return fail(key("name"), "must be non-empty, without spaces or '/'");
    }
    let all = t.subscriptions == super::schema::Subscriptions::All;
    if !all {
        for (set, k) in [
            (!t.include.is_empty(), "include"),
            (!t.exclude.is_empty(), "exclude"),
            (t.management_group.is_some(), "management_group"),
        ] {
            if set {
                return fail(key(k), "is only for subscriptions = \"all\"");
            }
        }
    }
    if t.discovery_interval < Duration::from_secs(60) || t.discovery_interval > MAX_POLL_INTERVAL {
        return fail(key("discovery_interval"), "must be between 1m and 24h");
    }
    for (k, globs) in [("include", &t.include), ("exclude", &t.exclude)] {
        if let Some(bad) = globs.iter().find(|g| glob::Pattern::new(g).is_err()) {
            return fail(key(k), format!("{bad:?} is not a valid glob"));
        }
    }
    if t.subscriptions.is_empty() && !t.tenant_events && !all && !discovering {
        return fail(
            key("subscriptions"),
            "list at least one subscription, or set tenant_events = true",
        );
    }
    if !(1..=31).contains(&t.billing_period_start_day) {
        return fail(
            key("billing_period_start_day"),
            "must be 1 to 31 (29 to 31 start on a short month's last day)",
        );
    }
    if let Some((sub, _)) = t
        .subscription_billing_start_days
        .iter()
        .find(|(_, d)| !(1..=31).contains(*d))
    {
        return fail(
            key("subscription_billing_start_days").then(sub),
            "must be 1 to 31",
        );
    }
    if t.partner_deadline_days.is_some() && t.claim_channel != ClaimChannel::Partner {
        return fail(
            key("partner_deadline_days"),
            "only applies with claim_channel = \"partner\"",
        );
    }
    if t.claim_margin_days > 30 {
        return fail(
            key("claim_margin_days"),
            "must be at most 30 (a claim window is about two months)",
        );
    }
    if let Some(d) = t.extra_working_days.iter().find(|d| t.holidays.contains(d)) {
        return fail(
            key("extra_working_days"),
            format!("{d} is also listed in holidays"),
        );
    }
    if t.working_days.is_empty() {
        return fail(key("working_days"), "list at least one day");
    }
    if t.reminders.review_every_working_days == 0 {
        return fail(
            key("reminders").then("review_every_working_days"),
            "must be at least 1",
        );
    }
    if matches!(t.credential, CredentialConfig::ClientCertificate { .. })
        && !cfg!(feature = "client-certificate")
    {
        return fail(
            key("credential").then("kind"),
            "client_certificate needs pirwatch built with the cargo feature `client-certificate`",
        );
    }
    Ok(())
}
