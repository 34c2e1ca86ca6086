//! Follow-ups end to end, with time driven by the test: the daemon's cycles run at simulated
//! instants (hourly, over three months) against the fake ARM and a real SMTP server, the daemon
//! is restarted along the way (once between queueing a reminder and delivering it), and the
//! team acknowledges through the real `pirwatch ack` command.
//!
//! Incident AAA-1 gets a Final PIR, is reviewed after two reminders and its claim filed after
//! the first claim reminder. Incident BBB-2 never gets a PIR (one nudge) and is never
//! acknowledged: every claim reminder, then "window closed".

use std::sync::{Arc, Mutex};

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{SinkOptions, SmtpSink};
use crate::support::token::{Seen, local_transport, token_endpoint};
use crate::support::{Env, TENANT_ID, TOKEN};
use jiff::{SignedDuration, Timestamp};
use pirwatch::config::Config;
use pirwatch::daemon::Daemon;
use pirwatch::notify::channel::email::Mailer;
use pirwatch::report;
use pirwatch::source::Source;
use pirwatch::source::azure::AzureSource;
use pirwatch::store::Store;
use tokio_util::sync::CancellationToken;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// What the fake ARM shows at simulated time `t`.
fn events_at(t: Timestamp) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let a_start = ts("2026-10-05T08:00:00Z");
    if t >= a_start {
        let mut a = Ev::service_issue("AAA-1", "Storage in West Europe", a_start).update(
            a_start + SignedDuration::from_mins(30),
            "<p>Investigating</p>",
            &[],
        );
        if t >= a_start + h(3) {
            a = a
                .update(a_start + h(3), "<p>Mitigated</p>", &[])
                .resolved(a_start + h(3));
        }
        let pir_at = ts("2026-10-16T12:00:00Z");
        if t >= pir_at {
            a = a.update(
                pir_at,
                "<p>Final PIR: a faulty storage stamp upgrade.</p>",
                &["Final PIR"],
            );
        }
        out.push(a.build());
    }
    let b_start = ts("2026-10-12T08:00:00Z");
    if t >= b_start {
        let mut b = Ev::service_issue("BBB-2", "Virtual Machines in West Europe", b_start);
        if t >= b_start + h(3) {
            b = b.resolved(b_start + h(3));
        }
        out.push(b.build());
    }
    out
}

pub(crate) struct Sim {
    pub env: Env,
    pub arm: FakeArm,
    pub sink: SmtpSink,
    pub config: Arc<Config>,
    token_port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Sim {
    async fn new() -> Self {
        Self::with_tenant_extra("").await
    }

    /// A simulation whose tenant (in Amsterdam) has `extra` config lines.
    async fn with_tenant_extra(extra: &str) -> Self {
        Self::with_tenant("Europe/Amsterdam", &["sub-a"], extra).await
    }

    /// A simulation whose tenant is in `zone`, watches `subscriptions` and has `extra` config
    /// lines.
    async fn with_tenant(zone: &str, subscriptions: &[&str], extra: &str) -> Self {
        Self::with_config(|arm| {
            format!(
                "[[tenants]]\nname = \"contoso\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
                 subscriptions = {subscriptions:?}\nrecipients = [\"team@contoso.example\"]\n\
                 timezone = \"{zone}\"\nsupport_plan = \"professional_direct\"\n{extra}\n\
                 [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
                 client_secret_file = \"secret\"\n"
            )
        })
        .await
    }

    /// A simulation with `[state]` and `[smtp]` set up and the rest of the config from `rest`,
    /// given the fake ARM's base URL (a client secret is in the file `secret`).
    pub(crate) async fn with_config(rest: impl FnOnce(&str) -> String) -> Self {
        Self::with_sink(&SinkOptions::default(), "", rest).await
    }

    /// As [`Sim::with_config`], with a sink started with `opts` and `smtp` lines added to
    /// `[smtp]`.
    pub(crate) async fn with_sink(
        opts: &SinkOptions,
        smtp: &str,
        rest: impl FnOnce(&str) -> String,
    ) -> Self {
        let env = Env::new();
        let arm = FakeArm::start(TOKEN).await;
        let sink = SmtpSink::start(env.path(), opts);
        crate::support::write_secret(&env.path().join("secret"), "app-secret");
        let text = format!(
            "[state]\npath = \"{state}\"\n[smtp]\nhost = \"localhost\"\nport = {port}\n\
             security = \"none\"\nfrom = \"pirwatch <pirwatch@example.com>\"\n{smtp}\n{rest}",
            state = env.state_path().display(),
            port = sink.port,
            rest = rest(&arm.base),
        );
        std::fs::write(env.config_path(), &text).expect("config");
        let config = Arc::new(Config::load(&env.config_path()).expect("config"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let token_port = token_endpoint(seen.clone()).await;
        Self {
            env,
            arm,
            sink,
            config,
            token_port,
            seen,
        }
    }

    /// What carries credentials' requests to the local token endpoint.
    pub(crate) fn credential_transport(&self) -> azure_core::http::Transport {
        local_transport(self.token_port, &self.seen)
    }

    /// What the local token endpoint was asked: (request line, form body).
    pub(crate) fn token_requests(&self) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .map(|(r, b, _)| (r.clone(), b.clone()))
            .collect()
    }

    /// A daemon on the same store: a fresh start after a restart.
    pub(crate) async fn daemon(&self) -> Daemon {
        let mailer = Mailer::smtp(&self.config.smtp, None, None).expect("mailer");
        self.daemon_with(mailer).await
    }

    /// A daemon on the same store sending through `mailer`.
    pub(crate) async fn daemon_with(&self, mailer: Mailer) -> Daemon {
        let store = Store::open(&self.config.state.path).await.expect("store");
        let transport = local_transport(self.token_port, &self.seen);
        let source = AzureSource::new(&self.config, reqwest::Client::new(), Some(transport));
        Daemon::new(
            self.config.clone(),
            store,
            Source::Azure(Box::new(source)),
            mailer,
        )
    }

    async fn ack(&self, args: &[&str]) {
        let mut full = vec!["ack"];
        full.extend_from_slice(args);
        let r = self.env.pirwatch(&full).await;
        assert_eq!(r.code, 0, "ack {args:?}: {}", r.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_follow_the_calendar_until_acknowledged_across_restarts() {
    let sim = Sim::new().await;
    let stop = CancellationToken::new();
    let mut daemon = sim.daemon().await;
    let mut t = ts("2026-10-05T09:00:00Z");
    let end = ts("2027-01-02T12:00:00Z");
    let mut cycles = 0;
    while t <= end {
        sim.arm.set_events("sub-a", events_at(t));
        if t == ts("2026-10-21T07:00:00Z") {
            // Crash between queueing the first review reminder and delivering it.
            daemon.poll(t).await.expect("poll");
            daemon.store().close().await;
            daemon = sim.daemon().await;
        } else if cycles % 97 == 41 {
            daemon.store().close().await;
            daemon = sim.daemon().await;
        }
        daemon.cycle(t, &stop).await.expect("cycle");
        if t == ts("2026-10-27T10:00:00Z") {
            sim.ack(&["AAA-1", "--reviewed", "--by", "alice"]).await;
            sim.ack(&["AAA-1", "--reviewed", "--by", "alice"]).await;
        }
        if t == ts("2026-11-01T12:00:00Z") {
            let rows = report::rows(daemon.store(), &sim.config, t)
                .await
                .expect("rows");
            let a = rows
                .iter()
                .find(|r| r.tracking_id == "AAA-1")
                .expect("AAA-1");
            assert_eq!(a.pir_review.state, "reviewed");
            assert_eq!(a.pir_review.by.as_deref(), Some("alice"));
            assert_eq!(a.claim.state, "open");
            assert_eq!(a.claim.deadline.as_deref(), Some("2026-12-31"));
            let next = a.next_reminder.as_ref().expect("next for AAA-1");
            assert_eq!((next.kind, next.at), ("claim", ts("2026-12-17T08:00:00Z")));
            let b = rows
                .iter()
                .find(|r| r.tracking_id == "BBB-2")
                .expect("BBB-2");
            assert_eq!(b.pir_review.state, "no_pir");
            let next = b.next_reminder.as_ref().expect("next for BBB-2");
            // Mitigation (11:00:00.12, as the fake ARM writes fractions) + 21 days, inside working hours.
            assert_eq!(
                (next.kind, next.at),
                ("pir_nudge", ts("2026-11-02T11:00:00.12Z"))
            );
        }
        if t == ts("2026-12-18T10:00:00Z") {
            sim.ack(&[
                "AAA-1",
                "--claimed",
                "--reference",
                "SR-123",
                "--tenant",
                "contoso",
                "--by",
                "bob",
            ])
            .await;
        }
        t += h(1);
        cycles += 1;
    }

    let mut got: Vec<(Timestamp, String)> = sim
        .sink
        .messages()
        .into_iter()
        .map(|m| (m.date.expect("Date header"), m.subject))
        .collect();
    got.sort();
    let want = [
        ("2026-10-05T09:00:00Z", "Azure incident AAA-1"),
        ("2026-10-05T11:00:00Z", "Resolved: Azure incident AAA-1"),
        ("2026-10-12T08:00:00Z", "Azure incident BBB-2"),
        ("2026-10-12T11:00:00Z", "Resolved: Azure incident BBB-2"),
        (
            "2026-10-16T12:00:00Z",
            "Final PIR published, review it: Azure incident AAA-1",
        ),
        (
            "2026-10-21T07:00:00Z",
            "Reminder: review the PIR of Azure incident AAA-1",
        ),
        (
            "2026-10-26T08:00:00Z",
            "Reminder: review the PIR of Azure incident AAA-1",
        ),
        (
            "2026-11-02T12:00:00Z",
            "No PIR yet for Azure incident BBB-2",
        ),
        (
            "2026-12-17T08:00:00Z",
            "SLA claim for Azure incident AAA-1 due in 14 days (2026-12-31)",
        ),
        (
            "2026-12-17T08:00:00Z",
            "SLA claim for Azure incident BBB-2 due in 14 days (2026-12-31)",
        ),
        (
            "2026-12-24T08:00:00Z",
            "SLA claim for Azure incident BBB-2 due in 7 days",
        ),
        (
            "2026-12-28T08:00:00Z",
            "SLA claim for Azure incident BBB-2 due in 3 days",
        ),
        (
            "2026-12-30T08:00:00Z",
            "SLA claim for Azure incident BBB-2 due TOMORROW",
        ),
        (
            "2027-01-01T08:00:00Z",
            "SLA claim window closed for Azure incident BBB-2 (2026-12-31)",
        ),
    ];
    let summary: Vec<String> = got.iter().map(|(t, s)| format!("{t} {s}")).collect();
    assert_eq!(got.len(), want.len(), "mails:\n{}", summary.join("\n"));
    for ((at, subject), (want_at, want_subject)) in got.iter().zip(want) {
        assert_eq!(
            *at,
            ts(want_at),
            "{subject}\nall mails:\n{}",
            summary.join("\n")
        );
        assert!(
            subject.contains(want_subject),
            "{subject} should contain {want_subject}"
        );
    }

    // Reminders carry the claim deadline as a calendar entry, and thread with the incident.
    let mails = sim.sink.messages();
    let claim = mails
        .iter()
        .find(|m| m.subject.contains("BBB-2 due in 7 days"))
        .expect("claim reminder");
    let ics = claim.ics.as_deref().expect("an .ics attachment");
    assert!(ics.contains("DTSTART;VALUE=DATE:20261231"), "{ics}");
    assert!(ics.contains("BEGIN:VALARM"));
    assert!(claim.in_reply_to.is_some());
    assert!(claim.text.contains("pirwatch ack BBB-2 --claimed"));
    assert!(claim.text.contains("Refund Request"));
    assert!(
        claim.text.contains("< 2 hours"),
        "Professional Direct severity B"
    );
    let closed = mails
        .iter()
        .find(|m| m.subject.contains("window closed"))
        .expect("closed");
    assert!(closed.ics.is_none());
    // "Window closed" names the date that passed, and never asks to file by it.
    assert!(closed.text.contains("closed on"), "{}", closed.text);
    assert!(
        !closed.text.contains("File by") && !closed.html.contains("File by"),
        "{}",
        closed.text
    );
    assert!(!closed.text.contains("Refund Request"), "{}", closed.text);
    // The text part keeps the facts block's lines apart.
    assert!(!claim.text.contains("yetSLA"), "{}", claim.text);

    // At the simulated end, B's window has closed unacknowledged; A's claim is filed.
    let store = Store::open(&sim.config.state.path).await.expect("store");
    let rows = report::rows(&store, &sim.config, end).await.expect("rows");
    let state = |id: &str| {
        let r = rows.iter().find(|r| r.tracking_id == id).expect("row");
        (
            r.claim.state,
            r.claim.reference.clone(),
            r.next_reminder.as_ref().map(|n| n.kind),
        )
    };
    // A's claim waits for its answer: 45 days after filing, one reminder chases it.
    assert_eq!(
        state("AAA-1"),
        ("claimed", Some("SR-123".to_owned()), Some("claim_chase"))
    );
    assert_eq!(state("BBB-2"), ("window_closed", None, None));

    // The PIR archive keeps the whole story.
    let r = sim.env.pirwatch(&["export", "AAA-1"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "# Azure incident AAA-1",
        "Final PIR: a faulty storage stamp upgrade.",
        "Investigating",
        "support request SR-123",
        "reviewed by alice",
        "SLA claim (microsoft): claimed, deadline 2026-12-31",
    ] {
        assert!(
            r.stdout.contains(needle),
            "export lacks {needle:?}:\n{}",
            r.stdout
        );
    }
    // One line per mail in the archive's list.
    let mails = r.stdout.split("## Mails").nth(1).expect("a Mails section");
    let lines: Vec<&str> = mails.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 5, "{mails}");
    assert!(lines.iter().all(|l| l.starts_with("- ")), "{mails}");
    let dir = sim.env.path().join("archive");
    let r = sim
        .env
        .pirwatch(&[
            "export",
            "--all",
            "--since",
            "2026-10-01",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--format",
            "json",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("contoso.BBB-2.json")).expect("BBB-2 exported"),
    )
    .expect("json");
    // (The CLI runs at the real date, so the claim state in the file depends on it.)
    assert_eq!(b["claim"]["deadline"], "2026-12-31");
    assert_eq!(b["mails"].as_array().map(Vec::len), Some(8));
    assert_eq!(b["timeline"].as_array().map(Vec::len), Some(0));
    assert!(dir.join("contoso.AAA-1.json").exists());
    eprintln!("{cycles} simulated hourly cycles");
}

/// What the fake ARM shows at `t` for the partner scenario: DDD-4 (no PIR, never
/// acknowledged, an update on the morning a claim reminder is due) and EEE-5 (a Final PIR whose
/// first review reminder falls on the morning of its first claim reminder; claim filed next day).
fn partner_events_at(t: Timestamp) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let d_start = ts("2026-10-05T08:00:00Z");
    if t >= d_start {
        let mut d = Ev::service_issue("DDD-4", "App Service in West Europe", d_start);
        if t >= d_start + h(3) {
            d = d.resolved(d_start + h(3));
        }
        let late = ts("2026-10-28T08:00:00Z");
        if t >= late {
            d = d.update(late, "<p>Root cause analysis under way.</p>", &[]);
        }
        out.push(d.build());
    }
    let e_start = ts("2026-10-19T08:00:00Z");
    if t >= e_start {
        let mut e = Ev::service_issue("EEE-5", "SQL Database in West Europe", e_start);
        if t >= e_start + h(3) {
            e = e.resolved(e_start + h(3));
        }
        let pir = ts("2026-10-30T12:00:00Z");
        if t >= pir {
            e = e.update(
                pir,
                "<p>Final PIR: a certificate expired.</p>",
                &["Final PIR"],
            );
        }
        out.push(e.build());
    }
    out
}

/// Issue 9: every mail says only what is true when it is sent. A CSP partner's tenant (30-day
/// internal deadline), hourly cycles over three months, each mail checked by what it says: no
/// "file by" a past date or after the claim was filed, one follow-up mail per incident a day
/// (two due the same morning share one; one due with an incident mail is folded into it), the
/// partner's deadline passing hands over to the SLA's, and "window closed" only after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_says_only_what_is_true_when_sent() {
    let sim =
        Sim::with_tenant_extra("claim_channel = \"partner\"\npartner_deadline_days = 30").await;
    let stop = CancellationToken::new();
    let daemon = sim.daemon().await;
    let zone = jiff::tz::TimeZone::get("Europe/Amsterdam").expect("tz");
    let mut t = ts("2026-10-05T09:00:00Z");
    let end = ts("2027-01-02T12:00:00Z");
    let claimed_at = ts("2026-11-05T10:00:00Z");
    // Each mail with the cycle that sent it.
    let mut sent: Vec<(Timestamp, crate::support::smtp::Received)> = Vec::new();
    while t <= end {
        sim.arm.set_events("sub-a", partner_events_at(t));
        daemon.cycle(t, &stop).await.expect("cycle");
        let all = sim.sink.messages();
        sent.extend(all.into_iter().skip(sent.len()).map(|m| (t, m)));
        if t == claimed_at {
            sim.ack(&["EEE-5", "--claimed", "--reference", "SR-9", "--by", "bob"])
                .await;
        }
        t += h(1);
    }
    let about =
        |m: &crate::support::smtp::Received, id: &str| m.message_id.starts_with(&format!("<{id}."));
    let list: Vec<String> = sent
        .iter()
        .map(|(t, m)| format!("{t} {} {}", m.message_id, m.subject))
        .collect();
    let list = list.join("\n");

    for (at, m) in &sent {
        let today = at.to_zoned(zone.clone()).date();
        // No "file by" a date that has passed.
        for line in m.text.lines().filter(|l| l.starts_with("File by:")) {
            let date: jiff::civil::Date = line
                .split_whitespace()
                .nth(3)
                .expect("a date")
                .parse()
                .expect("YYYY-MM-DD");
            assert!(date >= today, "{at}: {line}\n{}", m.text);
        }
        // After the claim was filed, nothing more about EEE-5.
        assert!(
            !(about(m, "EEE-5") && *at > claimed_at),
            "a mail after the claim was filed: {}\n{list}",
            m.subject
        );
        // "Window closed" never asks to file.
        if m.subject.contains("window closed") {
            assert!(
                !m.text.contains("File by") && !m.text.contains("partner, who claims"),
                "{}",
                m.text
            );
            assert!(m.ics.is_none());
        }
    }
    // One follow-up mail per incident a day.
    let mut days = std::collections::BTreeSet::new();
    for (at, m) in sent
        .iter()
        .filter(|(_, m)| m.message_id.contains(".followup-"))
    {
        let id = m
            .message_id
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            days.insert((id, at.to_zoned(zone.clone()).date())),
            "two follow-up mails the same day:\n{list}"
        );
    }

    // Nov 4: EEE-5's first PIR review and first claim reminder, one mail listing both.
    let both: Vec<_> = sent
        .iter()
        .filter(|(at, m)| {
            about(m, "EEE-5") && at.to_zoned(zone.clone()).date() == jiff::civil::date(2026, 11, 4)
        })
        .collect();
    assert_eq!(both.len(), 1, "{list}");
    let m = &both[0].1;
    assert!(
        m.text
            .contains("This incident needs 2 things from you today"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("In 14 days (Wednesday 2026-11-18)"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("Final PIR: a certificate expired."),
        "the PIR's text: {}",
        m.text
    );
    assert!(
        m.text.contains(
            "This counts to your partner's deadline, Wednesday 2026-11-18; Microsoft's SLA \
             deadline is Thursday 2026-12-31."
        ),
        "{}",
        m.text
    );
    assert!(
        m.ics
            .as_deref()
            .is_some_and(|i| i.contains("DTSTART;VALUE=DATE:20261118"))
    );

    // Oct 28: DDD-4's update arrives the morning its 7-day claim reminder is due: one mail.
    let oct28: Vec<_> = sent
        .iter()
        .filter(|(at, m)| {
            about(m, "DDD-4") && at.to_zoned(zone.clone()).date() == jiff::civil::date(2026, 10, 28)
        })
        .collect();
    assert_eq!(oct28.len(), 1, "{list}");
    let m = &oct28[0].1;
    assert!(
        m.subject.contains("Update on Azure incident DDD-4"),
        "{}",
        m.subject
    );
    assert!(m.text.contains("Also due today:"), "{}", m.text);
    assert!(
        m.text.contains("In 7 days (Wednesday 2026-11-04)"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("Root cause analysis under way."),
        "{}",
        m.text
    );

    // DDD-4's partner deadline (Nov 4) passed: reminders go on toward Microsoft's and say so.
    let after: Vec<_> = sent
        .iter()
        .filter(|(at, m)| about(m, "DDD-4") && *at > ts("2026-11-05T00:00:00Z"))
        .map(|(_, m)| m)
        .collect();
    let subjects: Vec<&str> = after.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(after.len(), 5, "{subjects:#?}");
    for m in &after[..4] {
        assert!(
            m.text.contains(
                "Your partner's deadline passed on Wednesday 2026-11-04; Microsoft's SLA \
                 deadline is Thursday 2026-12-31."
            ),
            "{}",
            m.text
        );
    }
    assert!(
        after[0].subject.contains("due in 14 days (2026-12-31)"),
        "{subjects:#?}"
    );
    assert!(
        after[3].subject.contains("due TOMORROW (2026-12-31)"),
        "{subjects:#?}"
    );
    assert!(
        after[4]
            .subject
            .contains("SLA claim window closed for Azure incident DDD-4 (2026-12-31)"),
        "{subjects:#?}"
    );
    assert!(
        after[4].text.contains("closed on Thursday 2026-12-31"),
        "{}",
        after[4].text
    );

    // `ack --claimed` closed EEE-5's review too.
    let store = Store::open(&sim.config.state.path).await.expect("store");
    let rows = report::rows(&store, &sim.config, end).await.expect("rows");
    let e = rows.iter().find(|r| r.tracking_id == "EEE-5").expect("row");
    assert_eq!((e.claim.state, e.pir_review.state), ("claimed", "reviewed"));
}

/// Issue 9: deadlines that fail safe, end to end (events from the fake ARM, through the store,
/// read back as `pirwatch incidents --json` rows). A CSP partner's tenant in Los Angeles with a
/// 30-day partner deadline and a 2-day margin; subscription sub-b bills from the 31st.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_fail_safe_end_to_end() {
    let sim = Sim::with_tenant(
        "America/Los_Angeles",
        &["sub-a", "sub-b"],
        "claim_channel = \"partner\"\npartner_deadline_days = 30\nclaim_margin_days = 2\n\
         subscription_billing_start_days = { \"sub-b\" = 31 }",
    )
    .await;
    // No impact start: counted from the first update (October), not from first sight
    // (November); mitigated in November, so it spans two billing months.
    let no_start = Ev::service_issue("NOSTART-1", "No start", ts("2026-11-01T00:00:00Z"))
        .without_impact_start()
        .update(ts("2026-10-31T23:30:00Z"), "<p>Investigating</p>", &[])
        .resolved(ts("2026-11-01T02:00:00Z"));
    // An impact start after the first update: the update counts. 03:00 UTC on Oct 30 is the
    // evening of Oct 29 in Los Angeles, so the partner's 30 days end on Nov 28 there.
    let late_start = Ev::service_issue("LATESTART-2", "Late start", ts("2026-11-02T10:00:00Z"))
        .update(ts("2026-10-30T03:00:00Z"), "<p>Investigating</p>", &[])
        .resolved(ts("2026-11-02T12:00:00Z"));
    // Billing periods from the 31st: November's starts on the 30th, so Nov 15 lies in
    // Oct 31 - Nov 29 and the SLA's deadline is Jan 29.
    let day31 = Ev::service_issue("BILL31-3", "Billing day 31", ts("2026-11-15T12:00:00Z"))
        .resolved(ts("2026-11-15T14:00:00Z"));
    sim.arm
        .set_events("sub-a", vec![no_start.build(), late_start.build()]);
    sim.arm.set_events("sub-b", vec![day31.build()]);
    let now = ts("2026-11-20T18:00:00Z");
    let daemon = sim.daemon().await;
    daemon
        .cycle(now, &CancellationToken::new())
        .await
        .expect("cycle");
    let rows = report::rows(daemon.store(), &sim.config, now)
        .await
        .expect("rows");
    let claim = |id: &str| {
        let r = rows.iter().find(|r| r.tracking_id == id).expect("row");
        let c = &r.claim;
        (
            c.state,
            c.deadline.clone(),
            c.days_left,
            c.partner_deadline.clone(),
            c.sla_deadline.clone(),
            c.next_period_deadline.clone(),
        )
    };
    let s = |d: &str| Some(d.to_owned());
    // (state, file by now, days left, partner, SLA, next billing period)
    assert_eq!(
        claim("NOSTART-1"),
        (
            "open",
            s("2026-11-28"),
            Some(8),
            s("2026-11-30"),
            s("2026-12-31"),
            s("2027-01-30")
        )
    );
    assert_eq!(
        claim("LATESTART-2"),
        (
            "open",
            s("2026-11-26"),
            Some(6),
            s("2026-11-28"),
            s("2026-12-31"),
            s("2027-01-30")
        )
    );
    assert_eq!(
        claim("BILL31-3"),
        (
            "open",
            s("2026-12-13"),
            Some(23),
            s("2026-12-15"),
            s("2027-01-29"),
            None
        )
    );
    // The JSON names the margin too, and the mail says both dates (the digest of this first
    // poll lists each incident with its date to file by).
    let json = serde_json::to_value(&rows).expect("json");
    assert!(
        json.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["claim"]["margin_days"] == 2)
    );
    let digest = sim
        .sink
        .messages()
        .into_iter()
        .find(|m| m.subject.contains("recent Azure incident"))
        .expect("first-poll digest");
    assert!(
        digest
            .text
            .contains("file by Thursday 2026-11-26 (6 days left)"),
        "{}",
        digest.text
    );
}
