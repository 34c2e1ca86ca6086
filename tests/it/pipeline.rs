//! End to end through the real binary: fake ARM → pirwatch once → real SMTP server.

use std::collections::BTreeSet;

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{PortReservation, Security, SinkOptions, SmtpSink};
use crate::support::{Env, Setup, TOKEN, World, days_ago, hours_ago};

async fn once(env: &Env) -> crate::support::Run {
    env.pirwatch(&["once"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_lifecycle_mails_each_step_once_in_one_thread() {
    let World { env, arm, sink, .. } = World::started().await;

    // The first poll finds nothing, so what follows is news rather than history.
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let start = hours_ago(6);
    let ev = Ev::service_issue("AB_1-XYZ", "Virtual Machines <West Europe>", start).update(
        hours_ago(5),
        "<p>Investigating <b>connection failures</b><script>alert(1)</script></p>",
        &[],
    );
    let steps = [
        ev.clone(),
        ev.clone()
            .update(hours_ago(4), "<p>Mitigation in progress</p>", &[]),
        ev.clone()
            .update(hours_ago(4), "<p>Mitigation in progress</p>", &[])
            .update(hours_ago(3), "<p>Resolved</p>", &[])
            .resolved(hours_ago(3)),
        ev.clone()
            .update(hours_ago(4), "<p>Mitigation in progress</p>", &[])
            .update(hours_ago(3), "<p>Resolved</p>", &[])
            .resolved(hours_ago(3))
            .update(
                hours_ago(1),
                "<h2>Post Incident Review</h2><p>Root cause: a bad deploy.</p>",
                &["Final PIR"],
            ),
    ];
    for (n, step) in steps.iter().enumerate() {
        arm.set_events("sub-a", vec![step.clone().build()]);
        for _ in 0..2 {
            // The second run is a restart with no change: it must send nothing.
            let r = once(&env).await;
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(sink.messages().len(), n + 1, "after step {n}");
        }
    }

    let m = sink.messages();
    assert!(
        m[0].subject.contains("Azure incident AB_1-XYZ"),
        "{}",
        m[0].subject
    );
    assert!(
        m[1].subject.contains("Update on Azure incident"),
        "{}",
        m[1].subject
    );
    assert!(
        m[2].subject.contains("Resolved: Azure incident"),
        "{}",
        m[2].subject
    );
    assert!(
        m[3].subject.contains("Final PIR published"),
        "{}",
        m[3].subject
    );
    // One thread: the first mail is the root, the others reply to it.
    assert_eq!(m[0].in_reply_to, None);
    for later in &m[1..] {
        assert_eq!(later.in_reply_to.as_deref(), Some(m[0].message_id.as_str()));
        assert_eq!(later.references.as_deref(), Some(m[0].message_id.as_str()));
        assert_ne!(later.message_id, m[0].message_id);
    }
    for msg in &m {
        assert!(
            msg.rcpt_to.contains("incidents@contoso.example"),
            "{}",
            msg.rcpt_to
        );
        assert!(
            msg.rcpt_to.contains("oncall@contoso.example"),
            "{}",
            msg.rcpt_to
        );
        assert!(msg.to.contains("Incident Team"));
        assert!(!msg.html.contains("<script"), "unsanitised HTML");
        assert!(msg.html.contains("Virtual Machines &lt;West Europe&gt;"));
        assert!(msg.text.contains("AB_1-XYZ") && msg.html.contains("AB_1-XYZ"));
        assert!(msg.text.contains("Europe/Amsterdam"));
        assert!(msg.text.contains("SLA claim:"));
    }
    assert!(m[0].html.contains("<b>connection failures</b>"));
    assert!(!m[0].text.contains("<b>"));
    assert!(m[1].text.contains("Mitigation in progress"));
    assert!(m[3].text.contains("Root cause: a bad deploy."));
    assert!(m[3].text.contains("which is resolved"));

    let incidents = env.incidents().await;
    assert_eq!(incidents.len(), 1);
    let i = &incidents[0];
    assert_eq!(i["tracking_id"], "AB_1-XYZ");
    assert_eq!(i["status"], "Resolved");
    assert_eq!(i["pir"], "final");
    assert_eq!(i["event_type"], "ServiceIssue");
    assert!(i["impact_start"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(i["mitigated_at"].as_str().is_some());
    assert_eq!(i["claim_deadline"].as_str().map(str::len), Some(10));
    assert_eq!(i["last_mail"]["kind"], "pir");
    assert_eq!(i["last_mail"]["state"], "sent");
    assert_eq!(i["updates"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_poll_mails_active_incidents_and_one_digest_of_open_follow_ups() {
    let World { env, arm, sink, .. } = World::started().await;
    arm.set_events(
        "sub-a",
        vec![
            Ev::service_issue("ACT_1", "Still broken", hours_ago(2)).build(),
            Ev::service_issue("REC_1", "Recent, resolved", days_ago(5))
                .resolved(days_ago(5))
                .build(),
            Ev::service_issue("REC_2", "Recent, with PIR", days_ago(9))
                .resolved(days_ago(9))
                .update(days_ago(2), "<p>PIR</p>", &["Final PIR"])
                .build(),
            Ev::service_issue("OLD_1", "Claim window closed", days_ago(100))
                .resolved(days_ago(100))
                .build(),
            Ev::service_issue("PM_1", "Planned maintenance", hours_ago(1))
                .event_type("PlannedMaintenance")
                .build(),
        ],
    );
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    assert_eq!(
        m.len(),
        2,
        "{:?}",
        m.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let new = m
        .iter()
        .find(|x| x.subject.contains("ACT_1"))
        .expect("mail for the active incident");
    assert!(new.subject.contains("Azure incident ACT_1"));
    let digest = m
        .iter()
        .find(|x| x.subject.contains("open follow-ups"))
        .expect("digest");
    assert!(
        digest.subject.contains("2 recent Azure incidents"),
        "{}",
        digest.subject
    );
    for id in ["REC_1", "REC_2"] {
        assert!(
            digest.text.contains(id) && digest.html.contains(id),
            "{id} missing"
        );
    }
    for id in ["OLD_1", "PM_1", "ACT_1"] {
        assert!(
            !digest.text.contains(id),
            "{id} should not be in the digest"
        );
    }
    // All five are recorded and listed, mailed or not.
    let incidents = env.incidents().await;
    assert_eq!(incidents.len(), 5);
    let pm = incidents
        .iter()
        .find(|i| i["tracking_id"] == "PM_1")
        .expect("PM_1");
    assert_eq!(pm["event_type"], "PlannedMaintenance");
    assert!(pm["last_mail"].is_null());
    assert!(pm["claim_deadline"].is_null());
    // Nothing more on the next poll.
    assert_eq!(once(&env).await.code, 0);
    assert_eq!(sink.messages().len(), 2);
}

/// Issue 13 (a digest is a summary, not a dump): `[notify] digest_max_items` lists the
/// soonest deadlines and counts the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_poll_digest_lists_at_most_digest_max_items() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    setup.extra = "[notify]\ndigest_max_items = 2\n".into();
    env.write_config(&setup);
    // Five resolved incidents with open follow-ups; the newest have the latest deadlines.
    let events = (1..=5)
        .map(|n| {
            Ev::service_issue(&format!("DG_{n}"), "Resolved", days_ago(40 - 7 * n))
                .resolved(days_ago(40 - 7 * n))
                .build()
        })
        .collect();
    arm.set_events("sub-a", events);
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    let digest = m
        .iter()
        .find(|x| x.subject.contains("open follow-ups"))
        .expect("digest");
    assert!(
        digest.subject.contains("5 recent Azure incidents"),
        "{}",
        digest.subject
    );
    let listed: Vec<&str> = ["DG_1", "DG_2", "DG_3", "DG_4", "DG_5"]
        .into_iter()
        .filter(|id| digest.text.contains(id))
        .collect();
    assert_eq!(
        listed,
        ["DG_1", "DG_2"],
        "the soonest deadlines: {}",
        digest.text
    );
    assert!(
        digest.text.contains("...and 3 more, with later deadlines"),
        "{}",
        digest.text
    );
    assert!(digest.html.contains("3 more"), "{}", digest.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_delays_mail_and_delivers_it_exactly_once() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let port = PortReservation::new();
    env.write_config(&Setup::new(&arm.base, port.port));
    // Nothing to send: no SMTP needed.
    assert_eq!(once(&env).await.code, 0);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("OUT_1", "Outage", hours_ago(1)).build()],
    );
    // SMTP is down: the poll is recorded, the mail stays queued, exit 1.
    let r = once(&env).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("1 still queued"), "{}", r.stderr);
    let i = env.incidents().await;
    assert_eq!(i[0]["last_mail"]["state"], "queued");
    assert!(
        i[0]["last_mail"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("connecting")),
        "{}",
        i[0]
    );
    // Backoff counts from the failure, across runs: an immediate second run does not try again.
    assert_eq!(once(&env).await.code, 1);
    let outbox = outbox(&env).await;
    assert_eq!(outbox[0]["attempts"], 1, "{outbox:?}");
    // SMTP comes back; the operator does not want to wait for the retry.
    let sink = SmtpSink::start_on(env.path(), &port, &SinkOptions::default());
    let id = outbox[0]["message_id"].as_str().expect("id").to_owned();
    let r = env.pirwatch(&["outbox", "retry", &id]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0].message_id, id);
    assert_eq!(once(&env).await.code, 0);
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    assert_eq!(env.incidents().await[0]["last_mail"]["state"], "sent");
}

/// `pirwatch outbox list --json`, parsed.
async fn outbox(env: &Env) -> Vec<serde_json::Value> {
    let r = env.pirwatch(&["outbox", "list", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("outbox JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_smtp_acceptance_and_commit_resends_once_with_the_same_message_id() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let port = PortReservation::new();
    env.write_config(&Setup::new(&arm.base, port.port));
    assert_eq!(once(&env).await.code, 0);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("KILL_1", "Outage", hours_ago(1)).build()],
    );
    // The sink stores the message, then holds its "250" back: pirwatch cannot know it was taken.
    let hold = SinkOptions {
        hold_after_data: Some(30.0),
        ..Default::default()
    };
    let sink = SmtpSink::start_on(env.path(), &port, &hold);
    let mut child = env.command(&["once"]).spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sink.messages().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "message never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().await.expect("kill -9 pirwatch");
    drop(sink);
    let sink = SmtpSink::start_on(env.path(), &port, &SinkOptions::default());
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    assert_eq!(m.len(), 2, "delivered twice at most");
    assert_eq!(
        m[0].message_id, m[1].message_id,
        "the re-send keeps its Message-ID"
    );
    assert_eq!(once(&env).await.code, 0);
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_implicit_tls_with_auth_deliver_and_a_wrong_password_fails_for_good() {
    for security in [Security::Starttls, Security::Smtps] {
        let env = Env::new();
        let arm = FakeArm::start(TOKEN).await;
        let auth = Some(("bot".to_owned(), "s3cret-pw".to_owned()));
        let sink = SmtpSink::start(
            env.path(),
            &SinkOptions {
                security,
                auth: auth.clone(),
                hold_after_data: None,
                fault: None,
                xoauth2: None,
            },
        );
        let mut setup = Setup::new(&arm.base, sink.port);
        setup.security = security;
        setup.auth = auth;
        env.write_config(&setup);
        arm.set_events(
            "sub-a",
            vec![Ev::service_issue("TLS_1", "Outage", hours_ago(1)).build()],
        );
        let r = once(&env).await;
        assert_eq!(r.code, 0, "{security:?}: {}", r.stderr);
        assert_eq!(sink.messages().len(), 1, "{security:?}");
        assert!(!r.stderr.contains("s3cret-pw"));

        // Same server, wrong password: rejected (535) three times, each after its backoff
        // (1 s here), then given up on.
        setup.auth = Some(("bot".to_owned(), "wrong".to_owned()));
        setup.smtp_extra += "retry_backoff = \"1s\"\n";
        env.write_config(&setup);
        arm.set_events(
            "sub-a",
            vec![
                Ev::service_issue("TLS_1", "Outage", hours_ago(1)).build(),
                Ev::service_issue("TLS_2", "Another", hours_ago(1)).build(),
            ],
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let failed = loop {
            let r = once(&env).await;
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert!(
                !r.stderr.contains("wrong"),
                "password in logs: {}",
                r.stderr
            );
            let i = env.incidents().await;
            let row = i
                .iter()
                .find(|x| x["tracking_id"] == "TLS_2")
                .expect("TLS_2")
                .clone();
            if row["last_mail"]["state"] == "failed" {
                break row;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never given up: {row}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        };
        let attempts = outbox(&env).await[0]["attempts"]
            .as_i64()
            .expect("attempts");
        assert_eq!(attempts, 3, "three rejections, not more");
        assert!(
            failed["last_mail"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("535")),
            "{failed}"
        );
        let r = env.pirwatch(&["incidents"]).await;
        assert!(r.stdout.contains("FAILED"), "{}", r.stdout);
        // Given up on: the next run does not try again, and says so until someone dismisses it.
        setup.auth = Some(("bot".to_owned(), "s3cret-pw".to_owned()));
        env.write_config(&setup);
        let r = once(&env).await;
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("1 failed for good"), "{}", r.stderr);
        assert_eq!(sink.messages().len(), 1);
        let id = outbox(&env).await[0]["message_id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = env
            .pirwatch(&["outbox", "dismiss", &id, "--by", "ops"])
            .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(once(&env).await.code, 0);
        assert_eq!(sink.messages().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_exits_78_naming_file_line_and_key() {
    let env = Env::new();
    env.write_config(&Setup::new("http://127.0.0.1:9", 25));
    let path = env.config_path();
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("[poll]\n", "[poll]\nintervall = \"1m\"\n");
    std::fs::write(&path, text).expect("write");
    for cmd in [&["check-config"][..], &["once"], &["run"]] {
        let r = env.pirwatch(cmd).await;
        assert_eq!(r.code, 78, "{cmd:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("config.toml:5:1: poll.intervall: unknown key"),
            "{}",
            r.stderr
        );
    }
    env.write_config(&Setup::new("http://127.0.0.1:9", 25));
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("OK (1 tenant(s), 1 scope(s)"),
        "{}",
        r.stdout
    );
    crate::support::write_secret(&env.path().join("smtp-password"), "x");
    let text = std::fs::read_to_string(&path).expect("read").replace(
        "from = ",
        "username = \"u\"\npassword_file = \"missing-file\"\nfrom = ",
    );
    std::fs::write(&path, text).expect("write");
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("smtp.password_file: cannot read secret file"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_names_the_incident_clearly_and_is_idempotent() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    // A CSP partner watching two customers who both see the same incident.
    setup.extra = format!(
        "[[tenants]]\nname = \"fabrikam\"\ntenant_id = \"{}\"\narm_endpoint = \"{}\"\n\
         subscriptions = [\"sub-a\"]\nrecipients = [\"ops@fabrikam.example\"]\n\
         claim_channel = \"partner\"\npartner_deadline_days = 30\ntimezone = \"Asia/Tokyo\"\n\
         [tenants.credential]\nkind = \"azure_cli\"\n",
        crate::support::TENANT_ID,
        arm.base
    );
    env.write_config(&setup);
    // Azure often repeats the summary as the description.
    let text = "<p>Engineers are investigating.</p>";
    arm.set_events(
        "sub-a",
        vec![
            Ev::service_issue("AB-1", "Shared outage", hours_ago(2))
                .summary(text)
                .description(text)
                .build(),
        ],
    );
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    assert_eq!(m.len(), 2, "one mail per customer");
    let fabrikam = m
        .iter()
        .find(|x| x.rcpt_to.contains("fabrikam"))
        .expect("fabrikam mail");
    assert!(fabrikam.subject.starts_with("[pirwatch/fabrikam]"));
    assert!(
        fabrikam.text.contains("Cloud Solution Provider partner"),
        "{}",
        fabrikam.text
    );
    assert!(!fabrikam.rcpt_to.contains("contoso"));

    let r = env.pirwatch(&["ack", "AB-1", "--reviewed"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("known in several tenants (contoso, fabrikam): pass --tenant"),
        "{}",
        r.stderr
    );
    let r = env.pirwatch(&["ack", "NOPE-1", "--reviewed"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no incident with tracking ID NOPE-1"),
        "{}",
        r.stderr
    );
    let r = env
        .pirwatch(&[
            "ack",
            "AB-1",
            "--claimed",
            "--no-claim",
            "--tenant",
            "contoso",
        ])
        .await;
    assert_eq!(r.code, 2, "clap rejects two answers: {}", r.stderr);
    let decline = [
        "ack",
        "AB-1",
        "--no-claim",
        "--reason",
        "no impact",
        "--tenant",
        "fabrikam",
        "--by",
        "bob",
    ];
    let r = env.pirwatch(&decline).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("fabrikam/AB-1: no SLA claim, recorded for bob"),
        "{}",
        r.stdout
    );
    // Saying it again changes nothing.
    let r = env.pirwatch(&decline).await;
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("already recorded"), "{}", r.stdout);

    let rows = env.incidents().await;
    let row = |t: &str| rows.iter().find(|r| r["tenant"] == t).expect("row").clone();
    assert_eq!(row("fabrikam")["claim"]["state"], "declined");
    assert_eq!(row("fabrikam")["claim"]["reason"], "no impact");
    assert_eq!(row("fabrikam")["claim"]["by"], "bob");
    assert_eq!(row("fabrikam")["claim"]["channel"], "partner");
    assert!(row("fabrikam")["claim"]["partner_deadline"].is_string());
    assert_eq!(row("contoso")["claim"]["state"], "open");
    assert_eq!(row("contoso")["pir_review"]["state"], "no_pir");
    assert!(row("contoso")["next_reminder"]["kind"].is_string());

    let r = env
        .pirwatch(&["show", "AB-1", "--tenant", "fabrikam"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("# Azure incident AB-1: Shared outage"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("no SLA claim (no impact) by bob"),
        "{}",
        r.stdout
    );
    // `show` is for reading now, not an export: the tenant's zone, no export stamp, and the
    // description that repeats the summary is left out.
    assert!(r.stdout.contains("JST (UTC+09:00)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Times are in Asia/Tokyo."),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Exported by"), "{}", r.stdout);
    assert!(r.stdout.contains("## Summary"), "{}", r.stdout);
    assert!(!r.stdout.contains("## Description"), "{}", r.stdout);
    let r = env
        .pirwatch(&["export", "AB-1", "--tenant", "fabrikam"])
        .await;
    assert!(
        r.stdout.contains("Times are UTC. Exported by pirwatch on"),
        "{}",
        r.stdout
    );

    // The table's columns line up whatever the cells hold; times carry their offset.
    let r = env.pirwatch(&["incidents"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with("    "))
        .collect();
    let col = |l: &str, i: usize| {
        l.char_indices()
            .filter(|(j, c)| *c != ' ' && (*j == 0 || l[..*j].ends_with("  ")))
            .map(|(j, _)| j)
            .nth(i)
    };
    for i in 0..9 {
        let starts: BTreeSet<Option<usize>> = lines.iter().map(|l| col(l, i)).collect();
        assert_eq!(starts.len(), 1, "column {i} shifts:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("LAST MAIL"), "{}", r.stdout);
    assert!(r.stdout.contains("+09:00"), "Tokyo times: {}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_tries_every_credential_and_the_smtp_login() {
    let env = Env::new();
    let auth = Some(("bot".to_owned(), "s3cret-pw".to_owned()));
    let sink = SmtpSink::start(
        env.path(),
        &SinkOptions {
            security: Security::Starttls,
            auth: auth.clone(),
            hold_after_data: None,
            fault: None,
            xoauth2: None,
        },
    );
    let arm = FakeArm::start(TOKEN).await;
    let mut setup = Setup::new(&arm.base, sink.port);
    setup.security = Security::Starttls;
    setup.auth = auth;
    env.write_config(&setup);
    let r = env.pirwatch(&["check-config", "--online"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "tenant contoso: azure_cli credential OK; ARM {} answers for subscription sub-a",
            arm.base
        )),
        "{}",
        r.stdout
    );

    // A wrong ARM endpoint is caught, with its full URL and the cause, and fails fast.
    let nothing = PortReservation::new();
    let mut wrong = setup.clone();
    wrong.arm_base = format!("http://127.0.0.1:{}", nothing.port);
    env.write_config(&wrong);
    let started = std::time::Instant::now();
    let r = env.pirwatch(&["check-config", "--online"]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let want = format!(
        "FAILED: http://127.0.0.1:{}/subscriptions/sub-a/providers/Microsoft.ResourceHealth/events: \
         connection refused",
        nothing.port
    );
    assert!(r.stdout.contains(&want), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("check the tenant's cloud and arm_endpoint"),
        "{}",
        r.stdout
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    env.write_config(&setup);
    assert!(
        r.stdout
            .contains(&format!("smtp localhost:{}: OK", sink.port)),
        "{}",
        r.stdout
    );

    // A CLI that is not signed in, and a wrong SMTP password.
    std::fs::write(
        env.path().join("bin/az"),
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .expect("az");
    setup.auth = Some(("bot".to_owned(), "wrong-pw".to_owned()));
    env.write_config(&setup);
    let r = env.pirwatch(&["check-config", "--online"]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("tenant contoso: FAILED: tenant contoso: azure_cli credential"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("az login"), "{}", r.stdout);
    assert!(
        r.stdout.contains("FAILED") && r.stdout.contains("535"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("wrong-pw") && !r.stderr.contains("wrong-pw"));
}

/// Issue 11: a template override replaces the built-in one in what is sent; a broken one is a
/// config error in `check-config` and at start, naming the file — never a failure at send time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_overrides_are_used_and_a_broken_one_is_refused_at_start() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    let dir = env.path().join("templates");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("incident.txt"),
        "Our own words about {{ i.tracking_id }} for {{ tenant }}.\n",
    )
    .expect("write");
    setup.extra = "[notify]\ntemplates_dir = \"templates\"\n".to_owned();
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("TPL-1", "x", hours_ago(1)).build()],
    );
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].text.trim(),
        "Our own words about TPL-1 for contoso.",
        "{}\n{}",
        std::fs::read_to_string(env.config_path()).unwrap_or_default(),
        r.stderr
    );
    assert!(m[0].html.contains("TPL-1"), "the built-in HTML part stays");

    std::fs::write(dir.join("reminder.html"), "{{ i.nope.deeper }}").expect("write");
    for cmd in [&["check-config"][..], &["once"]] {
        let r = env.pirwatch(cmd).await;
        assert_eq!(r.code, 78, "{cmd:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("notify.templates_dir:") && r.stderr.contains("reminder.html"),
            "{}",
            r.stderr
        );
    }
}

/// Issue 11: `preview` renders what a receiver would get, from the store as it is, and sends
/// nothing; `send-test-email` checks the SMTP settings end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_sends_nothing_and_send_test_email_reaches_the_server() {
    let World { env, arm, sink, .. } = World::started().await;
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("PRV-1", "Preview me", hours_ago(1)).build()],
    );
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sink.messages().len(), 1);
    let r = env.pirwatch(&["preview", "prv-1"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("To: Incident Team <incidents@contoso.example>"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Subject: [pirwatch/contoso] Azure incident PRV-1: Preview me"),
        "{}",
        r.stdout
    );
    let r = env
        .pirwatch(&["preview", "PRV-1", "--kind", "update", "--format", "json"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert!(
        v["subject"]
            .as_str()
            .is_some_and(|s| s.contains("Update on Azure incident PRV-1"))
    );
    assert!(
        v["html"]
            .as_str()
            .is_some_and(|h| h.contains("<!DOCTYPE html>"))
    );
    let r = env
        .pirwatch(&["preview", "PRV-1", "--kind", "reminder"])
        .await;
    assert_eq!(r.code, 1, "nothing is due yet: {}", r.stdout);
    assert!(r.stderr.contains("nothing would be sent"), "{}", r.stderr);
    assert_eq!(sink.messages().len(), 1, "preview sent nothing");

    let r = env
        .pirwatch(&["send-test-email", "--to", "me@contoso.example"])
        .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("me@contoso.example: accepted"),
        "{}",
        r.stdout
    );
    crate::support::wait_for("the test mail", 10, || sink.messages().len() == 2).await;
    let m = sink.messages();
    assert!(
        m.iter().any(
            |x| x.subject == "[pirwatch] Test mail" && x.rcpt_to.contains("me@contoso.example")
        )
    );
}

/// Issue 11: `smtp.max_per_minute` paces outbound mail: within a minute no more go out, and the
/// rest stays queued (nothing dropped), with `once` saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_mail_is_paced_and_the_rest_waits() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    setup.smtp_extra += "max_per_minute = 2\n";
    env.write_config(&setup);
    let events = (1..=5)
        .map(|n| Ev::service_issue(&format!("PACE-{n}"), "x", hours_ago(1)).build())
        .collect();
    arm.set_events("sub-a", events);
    let r = once(&env).await;
    assert_eq!(r.code, 1, "mail still waits: {}", r.stderr);
    assert!(
        r.stderr.contains("2 sent") && r.stderr.contains("3 still queued"),
        "{}",
        r.stderr
    );
    assert_eq!(sink.messages().len(), 2);
    let r = env.pirwatch(&["outbox", "list", "--json"]).await;
    let waiting: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(waiting.as_array().map(Vec::len), Some(3), "{}", r.stdout);
}

/// Issue 11: routes. Two customers' mails never cross; a route by service and region takes what
/// it matches and ends the walk; a partner desk route with `continue` sees both customers; what
/// no one takes reaches the fallback, a sensitive event only as a notice without its content;
/// `check-config` warns about a route that can never match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_each_notice_to_its_receivers_and_the_rest_to_the_fallback() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    let tenant = |name: &str, sub: &str, recipients: &str| {
        format!(
            "[[tenants]]\nname = \"{name}\"\ntenant_id = \"{}\"\narm_endpoint = \"{}\"\n\
             subscriptions = [\"{sub}\"]\n{recipients}timezone = \"UTC\"\n\
             working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
             working_hours = \"00:00-24:00\"\n[tenants.credential]\nkind = \"azure_cli\"\n",
            crate::support::TENANT_ID,
            arm.base
        )
    };
    setup.extra = format!(
        "[notify]\nfallback = [\"noc@partner.example\"]\n\
         [[routes]]\nname = \"desk\"\ntenants = [\"contoso\", \"fabrikam\", \"nobody\"]\n\
         to = [\"desk@partner.example\"]\ncontinue = true\n\
         [[routes]]\nname = \"vm-we\"\nservices = [\"virtual machines\"]\nregions = [\"West Europe\"]\n\
         to = [\"vm-team@partner.example\"]\ncc = [\"vm-lead@partner.example\"]\n\
         {}{}",
        tenant(
            "fabrikam",
            "sub-f",
            "recipients = [\"ops@fabrikam.example\"]\n"
        ),
        tenant("orphan", "sub-o", ""),
    );
    env.write_config(&setup);
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("warning: route desk: tenant \"nobody\" is not configured"),
        "{}",
        r.stdout
    );
    let sql = |id: &str| {
        let mut e = Ev::service_issue(id, &format!("{id} outage"), hours_ago(1)).build();
        e["properties"]["impact"][0]["impactedService"] = serde_json::json!("SQL Database");
        e
    };
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("VM-1", "VM outage", hours_ago(1)).build()],
    );
    arm.set_events("sub-f", vec![sql("SQL-2")]);
    arm.set_events(
        "sub-o",
        vec![
            sql("SQL-3"),
            Ev::service_issue("SEC-4", "secret", hours_ago(1))
                .sensitive()
                .build(),
        ],
    );
    let r = once(&env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails = sink.messages();
    let to_of = |needle: &str| -> Vec<String> {
        let mut v: Vec<String> = mails
            .iter()
            .filter(|m| m.rcpt_to.contains(needle))
            .map(|m| m.subject.clone())
            .collect();
        v.sort();
        v
    };
    let has = |needle: &str, id: &str| to_of(needle).iter().any(|s| s.contains(id));
    // Each customer's own contacts: their incidents only.
    assert!(has("incidents@contoso.example", "VM-1") && !has("incidents@contoso.example", "SQL-2"));
    assert!(has("ops@fabrikam.example", "SQL-2") && !has("ops@fabrikam.example", "VM-1"));
    // The desk sees both customers (continue), and the VM route takes the VM incident too.
    assert!(has("desk@partner.example", "VM-1") && has("desk@partner.example", "SQL-2"));
    assert!(has("vm-team@partner.example", "VM-1") && !has("vm-team@partner.example", "SQL-2"));
    assert!(has("vm-lead@partner.example", "VM-1"), "cc'd");
    // The orphan tenant's incident reached no route: the fallback.
    assert!(has("noc@partner.example", "SQL-3"), "{:#?}", to_of("noc@"));
    assert!(!has("noc@partner.example", "VM-1"), "taken by others");
    // A sensitive event: the fallback hears of it without its content.
    let sec = mails
        .iter()
        .find(|m| m.rcpt_to.contains("noc@partner.example") && m.subject.contains("SEC-4"))
        .expect("the sensitive notice");
    assert!(
        sec.subject.contains("A sensitive Azure event"),
        "{}",
        sec.subject
    );
    assert!(!sec.text.contains("secret"), "no content: {}", sec.text);
    // One delivery per receiver, each with its own Message-ID.
    let ids: std::collections::BTreeSet<&str> =
        mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        mails.len(),
        "{:#?}",
        mails.iter().map(|m| &m.message_id).collect::<Vec<_>>()
    );
    assert!(mails.iter().any(|m| m.message_id.contains(".route-vm-we@")));

    // `preview --route` shows what that route's receivers get.
    let r = env.pirwatch(&["preview", "VM-1", "--route", "vm-we"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("To: vm-team@partner.example\nCc: vm-lead@partner.example\n"),
        "{}",
        r.stdout
    );
    let r = env.pirwatch(&["preview", "VM-1", "--route", "nope"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no route \"nope\" in the config (routes: desk, vm-we)"),
        "{}",
        r.stderr
    );
}
