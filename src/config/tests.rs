//! The config's parse, validation and resolution tests.

use super::*;
use crate::followup::claim::ClaimChannel;
use crate::followup::support::SupportPlan;
use crate::incident::EventType;
use jiff::civil::{Time, Weekday};
use std::time::Duration;

const MINIMAL: &str = r#"
[smtp]
host = "smtp.example.com"
from = "pirwatch <pirwatch@example.com>"

[[tenants]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000001"
subscriptions = ["sub-1"]
recipients = ["incidents@contoso.example"]
timezone = "Europe/Amsterdam"
[tenants.credential]
kind = "azure_cli"
"#;

fn err(text: &str) -> String {
    Config::parse(text, "config.toml")
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn the_example_config_is_valid_and_documents_the_defaults() {
    let text = include_str!("../../config.example.toml");
    let c = Config::parse(text, "config.example.toml").expect("example is valid");
    let d = Config::parse(MINIMAL, "c").expect("minimal");
    assert_eq!(c.state.path, d.state.path);
    assert_eq!(c.poll.interval, d.poll.interval);
    assert_eq!(c.poll.lookback, d.poll.lookback);
    assert_eq!(c.poll.api_version, d.poll.api_version);
    assert_eq!(c.poll.concurrency, d.poll.concurrency);
    assert_eq!(c.poll.request_timeout, d.poll.request_timeout);
    assert_eq!(c.smtp.port(), d.smtp.port());
    assert_eq!(c.smtp.security, d.smtp.security);
    assert_eq!(c.smtp.timeout, d.smtp.timeout);
    assert_eq!(c.notify.event_types, d.notify.event_types);
    assert_eq!(c.http.listen, d.http.listen);
    assert_eq!(c.tenants[0].config.cloud, CloudName::Public);
    assert!(!c.tenants[0].config.tenant_events);
    let (t, dt) = (&c.tenants[0], &d.tenants[0]);
    // The same claim policy but for the zone, which the minimal config sets.
    let in_utc = |p: &crate::followup::claim::ClaimPolicy| crate::followup::claim::ClaimPolicy {
        timezone: jiff::tz::TimeZone::UTC,
        ..p.clone()
    };
    assert_eq!(in_utc(&t.policy.claim), in_utc(&dt.policy.claim));
    assert_eq!(t.config.support_plan, dt.config.support_plan);
    assert_eq!(t.config.working_days, dt.config.working_days);
    assert_eq!(t.config.working_hours, dt.config.working_hours);
    assert_eq!(t.config.holidays, dt.config.holidays);
    assert_eq!(t.policy.reminders, dt.policy.reminders);
}

#[test]
fn follow_up_keys_parse_and_validate() {
    let text = MINIMAL.replace(
        "timezone = \"Europe/Amsterdam\"",
        "timezone = \"Asia/Shanghai\"\nclaim_channel = \"partner\"\npartner_deadline_days = 30\n\
         support_plan = \"professional_direct\"\nworking_days = [\"Mon\", \"tue\", \"sat\"]\n\
         working_hours = \"08:30-18:00\"\nholidays = [\"2026-12-25\"]\n\
         billing_period_start_day = 15\n\
         subscription_billing_start_days = { \"sub-1\" = 3 }",
    );
    let c = Config::parse(&text, "c").expect("valid");
    let t = &c.tenants[0];
    assert_eq!(t.config.claim_channel, ClaimChannel::Partner);
    assert_eq!(t.config.support_plan, SupportPlan::ProfessionalDirect);
    assert_eq!(
        t.config.working_days,
        [Weekday::Monday, Weekday::Tuesday, Weekday::Saturday]
    );
    assert_eq!(t.config.working_hours.0, Time::constant(8, 30, 0, 0));
    assert_eq!(t.config.holidays, [jiff::civil::date(2026, 12, 25)]);
    assert_eq!(
        t.policy.claim.subscription_start_days.get("sub-1"),
        Some(&3)
    );
    assert!(
        t.policy
            .calendar
            .is_working_day(jiff::civil::date(2026, 11, 21))
    );
    let bad = text.replace("08:30-18:00", "18:00-08:30");
    assert!(err(&bad).contains("tenants[0].working_hours"));
    let bad = text.replace("\"sat\"", "\"someday\"");
    assert!(err(&bad).contains("tenants[0].working_days"));
    let bad = text.replace(
        "claim_channel = \"partner\"",
        "claim_channel = \"microsoft\"",
    );
    assert!(err(&bad).contains("tenants[0].partner_deadline_days: only applies"));
    let bad = text.replace("\"sub-1\" = 3", "\"sub-1\" = 32");
    assert!(
        err(&bad).contains("subscription_billing_start_days.sub-1: must be 1 to 31"),
        "{}",
        err(&bad)
    );
    let bad = text.replace("partner\"\n", "vianet\"\n");
    assert!(err(&bad).contains("tenants[0].claim_channel"));
}

#[test]
fn the_http_listener_is_an_address() {
    let ok = format!("[http]\nlisten = \"127.0.0.1:9464\"\n{MINIMAL}");
    let c = Config::parse(&ok, "c").expect("valid");
    assert_eq!(c.http.listen.map(|a| a.port()), Some(9464));
    let bad = format!("[http]\nlisten = \"localhost\"\n{MINIMAL}");
    assert!(err(&bad).starts_with("config.toml:2:"), "{}", err(&bad));
    assert!(err(&bad).contains("http.listen"), "{}", err(&bad));
}

#[test]
fn minimal_config_gets_defaults() {
    let c = Config::parse(MINIMAL, "config.toml").expect("valid");
    assert_eq!(c.poll.interval, Duration::from_secs(300));
    assert_eq!(c.poll.lookback, Duration::from_secs(30 * 86400));
    assert_eq!(c.poll.api_version, "2025-05-01");
    assert_eq!(c.smtp.port(), 587);
    assert_eq!(c.tenants[0].config.cloud, CloudName::Public);
    assert!(c.notify.event_types.contains(&EventType::ServiceIssue));
    assert!(
        !c.notify
            .event_types
            .contains(&EventType::PlannedMaintenance)
    );
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = "[poll]\nintervall = \"5m\"\n".to_owned() + MINIMAL;
    let e = err(&text);
    assert!(
        e.starts_with("config.toml:2:1: poll.intervall: unknown key"),
        "{e}"
    );
}

#[test]
fn bad_value_names_key_in_array_of_tables() {
    let text = MINIMAL.replace("Europe/Amsterdam", "Mars/Olympus");
    let e = err(&text);
    assert!(e.starts_with("config.toml:11:"), "{e}");
    assert!(e.contains("tenants[0].timezone: unknown time zone"), "{e}");
}

#[test]
fn inline_secret_is_an_unknown_key() {
    let text = MINIMAL.replace(
        "kind = \"azure_cli\"",
        "kind = \"client_secret\"\nclient_id = \"x\"\nclient_secret = \"hunter2\"",
    );
    let e = err(&text);
    assert!(e.contains("unknown"), "{e}");
    assert!(!e.contains("hunter2"), "secret echoed: {e}");
}

#[test]
fn plain_http_only_for_loopback() {
    let ok = MINIMAL.replace(
        "subscriptions",
        "arm_endpoint = \"http://127.0.0.1:8080\"\nsubscriptions",
    );
    assert!(Config::parse(&ok, "c").is_ok());
    let bad = MINIMAL.replace(
        "subscriptions",
        "arm_endpoint = \"http://arm.example.com\"\nsubscriptions",
    );
    let e = err(&bad);
    assert!(e.contains("tenants[0].arm_endpoint"), "{e}");
    assert!(e.contains("loopback"), "{e}");
}

#[test]
fn cross_field_errors_point_at_the_key_line() {
    let text = MINIMAL.replace("subscriptions = [\"sub-1\"]", "subscriptions = []");
    let e = err(&text);
    assert!(
        e.starts_with("config.toml:9:1: tenants[0].subscriptions:"),
        "{e}"
    );
    let dup = format!(
        "{MINIMAL}{}",
        &MINIMAL[MINIMAL.find("[[tenants]]").unwrap_or(0)..]
    );
    let e = err(&dup);
    assert!(e.contains("tenants[1].name: duplicate tenant name"), "{e}");
}

#[test]
fn bad_duration_and_enum_are_located() {
    let text = format!("[poll]\ninterval = \"often\"\n{MINIMAL}");
    assert!(err(&text).starts_with("config.toml:2:"));
    let text = MINIMAL.replace("[smtp]", "[smtp]\nsecurity = \"ssl\"");
    let e = err(&text);
    assert!(e.contains("smtp.security"), "{e}");
}

#[test]
fn secret_files_resolve_beside_the_config() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").expect("write");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let mut c = Config::parse(MINIMAL, "c").expect("valid");
    c.dir = dir.path().to_path_buf();
    let s = c
        .read_secret("smtp.password_file", Path::new("pw"))
        .expect("read");
    use secrecy::ExposeSecret;
    assert_eq!(s.expose_secret(), "s3cret");
    let e = c
        .read_secret("smtp.password_file", Path::new("missing"))
        .expect_err("missing file");
    let e = e.to_string();
    assert!(
        e.starts_with("smtp.password_file: cannot read secret file"),
        "{e}"
    );
    assert!(
        e.contains("looked in $CREDENTIALS_DIRECTORY") && e.contains("then beside the config"),
        "says where it looked: {e}"
    );
    // Readable by every user: refused, as ssh refuses such a key.
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = c
        .read_secret("smtp.password_file", Path::new("pw"))
        .expect_err("world-readable")
        .to_string();
    assert!(
        e.contains("readable by every user (mode 0644)") && e.contains("chmod 0640"),
        "{e}"
    );
}

#[test]
fn a_missing_config_file_names_the_ways_to_point_at_one() {
    let e = Config::load(Path::new("/nonexistent/pirwatch.toml"))
        .expect_err("missing")
        .to_string();
    assert!(e.contains("--config FILE or PIRWATCH_CONFIG"), "{e}");
}

/// `notify.event_types` was never checked, so a typo silently stopped all mail.
#[test]
fn an_unknown_event_type_is_an_error_with_its_line() {
    let text = format!("[notify]\nevent_types = [\"ServiceIssue\", \"ServiceIsue\"]\n{MINIMAL}");
    let e = err(&text);
    assert!(e.starts_with("config.toml:2:1: notify.event_types:"), "{e}");
    assert!(
        e.contains("\"ServiceIsue\"") && e.contains("known: ServiceIssue"),
        "{e}"
    );
}

/// Defect 6 of issue 7: an absurd `poll.interval` overflowed `Instant + interval` and panicked.
#[test]
fn the_poll_interval_and_timeouts_are_bounded() {
    for (key, value, want) in [
        (
            "[poll]\ninterval",
            "\"100000y\"",
            "poll.interval: must be at most 24h",
        ),
        (
            "[poll]\ninterval",
            "\"25h\"",
            "poll.interval: must be at most 24h",
        ),
        (
            "[poll]\nrequest_timeout",
            "\"0s\"",
            "poll.request_timeout: must be more than 0s",
        ),
    ] {
        let e = err(&format!("{key} = {value}\n{MINIMAL}"));
        assert!(e.contains(want), "{e}");
    }
    let e = err(&MINIMAL.replace("[[tenants]]", "timeout = \"2h\"\n\n[[tenants]]"));
    assert!(
        e.contains("smtp.timeout: must be more than 0s and at most 10m"),
        "{e}"
    );
    let ok = format!("[poll]\ninterval = \"24h\"\n{MINIMAL}");
    assert!(Config::parse(&ok, "c").is_ok());
}

/// The keys a table of the schema accepts, as serde lists them when it meets an unknown one.
fn schema_keys(probe: &str) -> Vec<String> {
    let e = Config::parse(probe, "probe")
        .expect_err("the probe key is unknown")
        .to_string();
    assert!(
        e.contains("unknown key") || e.contains("unknown variant"),
        "the probe was what failed: {e}"
    );
    // A table without keys (`kind = "azure_cli"`) lists none.
    let Some((_, expected)) = e.split_once("expected") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The packaged `/etc/pirwatch/config.toml` is config.example.toml, so every key of the
/// schema must be in it, set or commented out, in its section.
#[test]
fn every_schema_key_is_in_the_example_config() {
    let example = include_str!("../../config.example.toml");
    let tenant = "[[tenants]]\nname = \"t\"\n";
    let probes = [
        ("", "__probe__ = 1\n".to_owned()),
        ("state", "[state]\n__probe__ = 1\n".to_owned()),
        ("poll", "[poll]\n__probe__ = 1\n".to_owned()),
        ("smtp", "[smtp]\n__probe__ = 1\n".to_owned()),
        ("notify", "[notify]\n__probe__ = 1\n".to_owned()),
        ("http", "[http]\n__probe__ = 1\n".to_owned()),
        ("web", "[web]\n__probe__ = 1\n".to_owned()),
        ("routes", "[[routes]]\n__probe__ = 1\n".to_owned()),
        (
            "web.access",
            "[web]\n[[web.access]]\n__probe__ = 1\n".to_owned(),
        ),
        ("tenants", format!("{tenant}__probe__ = 1\n")),
        (
            "tenants.reminders",
            format!("{tenant}[tenants.reminders]\n__probe__ = 1\n"),
        ),
        (
            "tenants.credential",
            format!("{tenant}[tenants.credential]\nkind = \"__probe__\"\n"),
        ),
    ];
    let mut missing = Vec::new();
    let mut credential_kinds = Vec::new();
    for (table, probe) in probes {
        let keys = schema_keys(&probe);
        if table == "tenants.credential" {
            credential_kinds = keys.clone();
        }
        let section = section_text(example, table);
        for k in keys {
            let header = if table.is_empty() {
                k.clone()
            } else {
                format!("{table}.{k}")
            };
            let as_table = example.contains(&format!("[{header}]"));
            if !as_table && !contains_word(&section, &k) {
                missing.push(format!("{table}.{k}"));
            }
        }
    }
    assert!(credential_kinds.len() >= 5, "{credential_kinds:?}");
    for kind in credential_kinds {
        let probe = format!("{tenant}[tenants.credential]\nkind = \"{kind}\"\n__probe__ = 1\n");
        let section = section_text(example, "tenants.credential");
        for k in schema_keys(&probe) {
            if !contains_word(&section, &k) {
                missing.push(format!("tenants.credential ({kind}).{k}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from config.example.toml: {missing:?}"
    );
}

/// The lines of `table` in a TOML text (headers may be commented out), with the comment
/// above the header, where the example documents a table's choices.
fn section_text(text: &str, table: &str) -> String {
    let mut current = String::new();
    let mut out = String::new();
    let mut pending = String::new();
    for line in text.lines() {
        let bare = line.trim_start_matches(['#', ' ']);
        if let Some(header) = bare.strip_prefix('[') {
            current = header.trim_matches(['[', ']', ' ']).to_owned();
            if current == table {
                out.push_str(&pending);
            }
            pending.clear();
            continue;
        }
        if line.starts_with('#') {
            pending.push_str(line);
            pending.push('\n');
        } else {
            pending.clear();
        }
        if current == table {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn contains_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == word)
}

/// Issue 9: billing periods may start on the 29th to the 31st (clamped to short months).
#[test]
fn billing_start_days_up_to_31_are_accepted() {
    let text = MINIMAL.replace(
        "timezone = \"Europe/Amsterdam\"",
        "timezone = \"Europe/Amsterdam\"\nbilling_period_start_day = 31",
    );
    let c = Config::parse(&text, "c").expect("31 is a day");
    assert_eq!(c.tenants[0].policy.claim.billing_start_day, 31);
    let e = err(&text.replace("= 31", "= 32"));
    assert!(
        e.contains("billing_period_start_day: must be 1 to 31"),
        "{e}"
    );
}

#[test]
fn the_ack_command_is_one_line() {
    let c = Config::parse(MINIMAL, "c").expect("valid");
    assert_eq!(c.notify.ack_command, "sudo -u pirwatch pirwatch");
    let e = err(&format!("[notify]\nack_command = \"\"\n{MINIMAL}"));
    assert!(
        e.contains("notify.ack_command: must be one non-empty line"),
        "{e}"
    );
}

/// Issue 11: `[tenant_defaults]` holds any per-tenant key; errors in a default name the line of
/// the default, and the tenant it was for.
#[test]
fn tenant_defaults_apply_to_every_tenant_and_errors_name_their_line() {
    let tenant = |name: &str, extra: &str| {
        format!(
            "[[tenants]]\nname = \"{name}\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n\
             subscriptions = [\"s\"]\nrecipients = [\"a@b.example\"]\n{extra}"
        )
    };
    let head = "[smtp]\nhost = \"localhost\"\nfrom = \"p@example.com\"\n\
                [tenant_defaults]\ntimezone = \"Asia/Tokyo\"\nclaim_margin_days = 2\n\
                [tenant_defaults.credential]\nkind = \"azure_cli\"\n";
    let text = format!(
        "{head}{}{}",
        tenant("a", ""),
        tenant("b", "timezone = \"UTC\"\n")
    );
    let c = Config::parse(&text, "config.toml").expect("valid");
    assert_eq!(
        c.tenants[0].policy.calendar.timezone().iana_name(),
        Some("Asia/Tokyo")
    );
    assert_eq!(
        c.tenants[1].policy.calendar.timezone().iana_name(),
        Some("UTC")
    );
    assert_eq!(c.tenants[1].policy.claim.margin_days, 2);
    // A bad default: its own line.
    let bad = text.replace("claim_margin_days = 2", "claim_margin_days = 45");
    let e = Config::parse(&bad, "config.toml")
        .expect_err("invalid")
        .to_string();
    assert!(
        e.starts_with("config.toml:6:1: tenant_defaults.claim_margin_days (for tenants[0].claim_margin_days): must be at most 30"),
        "{e}"
    );
    let bad = text.replace("\"Asia/Tokyo\"", "\"Mars/Base\"");
    let e = Config::parse(&bad, "config.toml")
        .expect_err("invalid")
        .to_string();
    assert!(e.starts_with("config.toml:5:"), "{e}");
    assert!(e.contains("tenant_defaults.timezone"), "{e}");
}

/// Issue 11: `[[routes]]` are checked; what can never match is a warning, not an error.
#[test]
fn routes_are_checked_and_what_never_matches_is_warned_about() {
    let base = "[smtp]\nhost = \"localhost\"\nfrom = \"p@example.com\"\n\
                [[tenants]]\nname = \"contoso\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n\
                subscriptions = [\"sub-a\"]\nrecipients = [\"a@b.example\"]\n\
                [tenants.credential]\nkind = \"azure_cli\"\n";
    let with = |route: &str| format!("[[routes]]\n{route}\n{base}");
    let err = |route: &str| {
        Config::parse(&with(route), "config.toml")
            .expect_err("invalid")
            .to_string()
    };
    assert!(
        err("name = \"a b\"\nto = [\"x@y.example\"]").contains("routes[0].name: must be letters")
    );
    assert!(err("name = \"a\"").contains("routes[0].to: list at least one receiver"));
    assert!(
        err("name = \"a\"\nto = [\"x@y.example\"]\nkinds = [\"news\"]")
            .contains("unknown kind \"news\"")
    );
    let c = Config::parse(
        &with(
            "name = \"desk\"\nto = [\"x@y.example\"]\ntenants = [\"nobody\"]\n\
             subscriptions = [\"sub-z\"]\nevent_types = [\"SecurityAdvisory\", \"Billing\"]",
        ),
        "config.toml",
    )
    .expect("valid, with warnings");
    let w = c.warnings.join("\n");
    for needle in [
        "tenant \"nobody\" is not configured",
        "subscription sub-z is not watched",
        "security advisories reach it only with sensitive = true",
        "event type Billing sends no mail",
    ] {
        assert!(w.contains(needle), "{needle}: {w}");
    }
    // A tenant without recipients needs the fallback.
    let bare = base.replace("recipients = [\"a@b.example\"]\n", "");
    let e = Config::parse(&bare, "config.toml")
        .expect_err("invalid")
        .to_string();
    assert!(
        e.contains("tenants[0].recipients: is empty") && e.contains("[notify] fallback"),
        "{e}"
    );
    let ok = format!("[notify]\nfallback = [\"noc@p.example\"]\n{bare}");
    assert!(Config::parse(&ok, "config.toml").is_ok());
}

#[test]
fn webhooks_digests_and_smtp_oauth_are_checked() {
    let base = "[smtp]\nhost = \"localhost\"\nfrom = \"p@example.com\"\n\
                [[tenants]]\nname = \"contoso\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n\
                subscriptions = [\"sub-a\"]\nrecipients = [\"a@b.example\"]\n\
                [tenants.credential]\nkind = \"azure_cli\"\n";
    let hook = "[[webhooks]]\nname = \"teams\"\nkind = \"teams\"\nurl_file = \"u\"\n";
    let parse = |head: &str| Config::parse(&format!("{head}\n{base}"), "config.toml");
    let err = |head: &str| parse(head).expect_err("invalid").to_string();
    // (config head, what the error says)
    let cases = [
        (
            "[[routes]]\nname = \"r\"\nwebhooks = [\"nope\"]".to_owned(),
            "routes[0].webhooks: no [[webhooks]] entry is named \"nope\" (known: none)",
        ),
        (
            format!("{hook}[[routes]]\nname = \"r\"\nwebhooks = [\"teams\"]\nmode = \"digest\"\ndigest_at = \"08:00\""),
            "routes[0].mode: a digest needs timezone",
        ),
        (
            "[[routes]]\nname = \"r\"\nto = [\"x@y.example\"]\nmode = \"digest\"\ntimezone = \"UTC\"".to_owned(),
            "routes[0].mode: a digest needs digest_at",
        ),
        (
            "[[routes]]\nname = \"r\"\nto = [\"x@y.example\"]\ndigest_at = \"08:00\"".to_owned(),
            "routes[0].digest_at: is only for mode = \"digest\"",
        ),
        (
            "[[routes]]\nname = \"r\"\nto = [\"x@y.example\"]\nmode = \"digest\"\ndigest_at = \"8am\"".to_owned(),
            "is not a time of day",
        ),
        (
            "[[webhooks]]\nname = \"g\"\nkind = \"generic\"\nurl_file = \"u\"".to_owned(),
            "webhooks[0].secret_file: a generic webhook is signed",
        ),
        (
            format!("{hook}secret_file = \"k\""),
            "webhooks[0].secret_file: is only for kind = \"generic\"",
        ),
        (
            format!("{hook}{hook}"),
            "webhooks[1].name: duplicate webhook name",
        ),
        (
            "[[webhooks]]\nname = \"s\"\nkind = \"sms\"\nurl_file = \"u\"".to_owned(),
            "unknown variant `sms`",
        ),
    ];
    for (head, want) in &cases {
        let e = err(head);
        assert!(e.contains(want), "{want}\n{e}");
        assert!(e.starts_with("config.toml:"), "{e}");
    }
    let ok = parse(&format!(
        "{hook}[[routes]]\nname = \"r\"\nwebhooks = [\"teams\"]\nmode = \"digest\"\n\
         digest_at = \"08:00\"\ntimezone = \"Europe/Amsterdam\"\ndigest_days = [\"mon\"]\n\
         updates = \"material\""
    ))
    .expect("valid");
    assert!(matches!(
        ok.routes[0].mode,
        crate::notify::route::Mode::Digest(_)
    ));

    let smtp = |extra: &str| {
        let text = base.replace(
            "from = \"p@example.com\"\n",
            &format!("from = \"p@example.com\"\n{extra}"),
        );
        Config::parse(&text, "config.toml")
    };
    let oauth = "[smtp.oauth]\ntenant_id = \"t\"\n[smtp.oauth.credential]\nkind = \"azure_cli\"\n";
    let e = smtp(oauth).expect_err("no username").to_string();
    assert!(e.contains("smtp.oauth: needs smtp.username"), "{e}");
    let e = smtp(&format!(
        "username = \"u\"\npassword_file = \"pw\"\n{oauth}"
    ))
    .expect_err("both")
    .to_string();
    assert!(
        e.contains("smtp.password_file: is not used with [smtp.oauth]"),
        "{e}"
    );
    let c = smtp(&format!("username = \"bot@contoso.example\"\n{oauth}")).expect("valid");
    let o = c.smtp.oauth.expect("oauth");
    assert_eq!(o.scope, "https://outlook.office365.com/.default");
}

#[test]
fn webhook_urls_are_secrets_checked_without_repeating_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    };
    let hook =
        "[[webhooks]]\nname = \"g\"\nkind = \"generic\"\nurl_file = \"u\"\nsecret_file = \"k\"\n";
    let mut c = Config::parse(&format!("{hook}{MINIMAL}"), "c").expect("valid");
    c.dir = dir.path().to_path_buf();
    write("k", "signing-key\n");
    // (url file, what the error says)
    for (url, want) in [
        (
            "http://hooks.example/x?token=SECRET-1",
            "holds an http:// URL; use https://",
        ),
        ("ftp://hooks.example/SECRET-1", "not https://"),
        ("not a url SECRET-1", "does not hold a URL"),
    ] {
        write("u", url);
        let e = c.webhooks().expect_err("refused").to_string();
        assert!(
            e.starts_with("webhooks[0].url_file: ") && e.contains(want),
            "{e}"
        );
        assert!(!e.contains("SECRET-1"), "the URL is a secret: {e}");
    }
    write("u", "http://127.0.0.1:9/hook\n");
    let hooks = c.webhooks().expect("loopback http is fine");
    assert!(
        !format!("{hooks:?}").contains("127.0.0.1"),
        "Debug hides the URL"
    );
    write("k", "");
    assert!(
        c.webhooks()
            .expect_err("empty key")
            .to_string()
            .contains("secret_file: ")
    );
}

#[test]
fn support_contacts_are_in_the_forms_the_support_api_wants() {
    let with = |contact: &str| {
        let text = MINIMAL.replace(
            "[tenants.credential]",
            &format!("[tenants.support_contact]\n{contact}\n[tenants.credential]"),
        );
        Config::parse(&text, "config.toml")
    };
    let good = "first_name = \"Ana\"\nlast_name = \"Silva\"\nemail = \"ana@contoso.example\"\n\
                country = \"NLD\"\nlanguage = \"en-us\"\ntimezone = \"W. Europe Standard Time\"";
    assert!(with(good).is_ok(), "{:?}", with(good).err());
    for (bad, want) in [
        (
            good.replace("NLD", "NL"),
            "support_contact.country: must be an ISO 3166-1 alpha-3",
        ),
        (good.replace("en-us", "english"), "support_contact.language"),
        (
            good.replace("ana@contoso.example", "ana"),
            "support_contact.email",
        ),
        (
            good.replace("Silva", " "),
            "support_contact.last_name: must not be empty",
        ),
    ] {
        let e = with(&bad).expect_err("refused").to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}
