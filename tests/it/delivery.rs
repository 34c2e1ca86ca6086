//! Delivery that never stalls and never loses, through the real binary against misbehaving
//! SMTP servers: one that stops answering (after the greeting, after DATA) or is not SMTP at
//! all, one that rejects one recipient for good, one that defers a recipient a few times.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{Fault, SinkOptions, SmtpSink};
use crate::support::{Env, Setup, TOKEN, hours_ago, signal, wait_for};

/// An env whose SMTP server misbehaves with `fault`, one incident to mail, and a short
/// `smtp.timeout`.
async fn faulty(fault: Fault, smtp: &str) -> (Env, FakeArm, SmtpSink) {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let sink = SmtpSink::start(env.path(), &SinkOptions::faulty(fault));
    let mut setup = Setup::new(&arm.base, sink.port);
    setup.smtp_extra = smtp.to_owned();
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("STALL-1", "Outage", hours_ago(1)).build()],
    );
    (env, arm, sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_given_up_on_within_smtp_timeout() {
    for fault in [
        Fault::StallAfterGreeting,
        Fault::StallAfterData,
        Fault::NotSmtp,
    ] {
        let (env, _arm, sink) = faulty(fault.clone(), "timeout = \"2s\"\n").await;
        let started = Instant::now();
        let r = env.pirwatch(&["once"]).await;
        let took = started.elapsed();
        assert_eq!(r.code, 1, "{fault:?}: {}", r.stderr);
        assert!(
            took < Duration::from_secs(10),
            "{fault:?}: once took {took:?}"
        );
        assert!(
            r.stderr.contains("1 still queued"),
            "{fault:?}: {}",
            r.stderr
        );
        let i = env.incidents().await;
        assert_eq!(i[0]["last_mail"]["state"], "queued", "{fault:?}");
        let error = i[0]["last_mail"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("no answer within smtp.timeout (2s)"),
            "{fault:?}: {error}"
        );
        assert!(sink.messages().is_empty(), "{fault:?}");
        eprintln!("{fault:?}: once returned after {took:?}");
    }
}

/// A stuck SMTP server delays neither the next poll nor shutdown: the poller keeps its
/// schedule while the deliverer waits on the server, and SIGTERM ends the wait at once,
/// leaving the mail queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_goes_on_beside_a_stuck_server_and_sigterm_ends_the_wait() {
    let (env, _arm, sink) = faulty(Fault::StallAfterData, "timeout = \"10m\"\n").await;
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    std::fs::write(
        env.config_path(),
        text.replace("interval = \"5m\"", "interval = \"30s\""),
    )
    .expect("config");
    let log = env.path().join("run.log");
    let mut child = env
        .command(&["run"])
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("spawn run");
    let polls = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("cycle done")
            .count()
    };
    wait_for("a second poll while the delivery is stuck", 45, || {
        polls() >= 2
    })
    .await;
    let stopping = Instant::now();
    signal(child.id().expect("pid"), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("SIGTERM is not held up by the stuck delivery")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    eprintln!("stopped {:?} after SIGTERM", stopping.elapsed());
    let i = env.incidents().await;
    assert_eq!(
        i[0]["last_mail"]["state"], "queued",
        "the mail stays queued"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rejected_recipient_does_not_stop_the_mail_to_the_others() {
    let smtp = "timeout = \"10s\"\nretry_backoff = \"1s\"\n";
    let fault = Fault::RejectRcpt(vec!["oncall@contoso.example".into()]);
    let (env, _arm, sink) = faulty(fault, smtp).await;
    let r = env.pirwatch(&["once"]).await;
    assert_eq!(
        r.code, 1,
        "a recipient is still to be retried: {}",
        r.stderr
    );
    let m = sink.messages();
    assert_eq!(m.len(), 1);
    assert!(
        m[0].rcpt_to.contains("incidents@contoso.example"),
        "{}",
        m[0].rcpt_to
    );
    assert!(!m[0].rcpt_to.contains("oncall@"), "{}", m[0].rcpt_to);
    // The rejected address is retried (in case the 550 was a mistake since fixed), then given
    // up on; the one who got it never gets it twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = env.pirwatch(&["outbox", "list", "--json"]).await;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).expect("json");
        let failed = entries[0]["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .any(|r| r["address"] == "oncall@contoso.example" && r["state"] == "failed");
        if failed {
            break;
        }
        assert!(Instant::now() < deadline, "never given up: {entries:?}");
        env.pirwatch(&["once"]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        sink.messages().len(),
        1,
        "the accepted recipient got it once"
    );
    let i = env.incidents().await;
    assert_eq!(i[0]["last_mail"]["state"], "sent");
    assert_eq!(
        i[0]["last_mail"]["failed_recipients"][0],
        "oncall@contoso.example"
    );
    let r = env.pirwatch(&["incidents"]).await;
    assert!(
        r.stdout.contains("did not reach: oncall@contoso.example"),
        "{}",
        r.stdout
    );
    let r = env.pirwatch(&["show", "STALL-1"]).await;
    assert!(
        r.stdout.contains("oncall@contoso.example (failed: RCPT TO"),
        "{}",
        r.stdout
    );
    // Until someone deals with it, `once` says so.
    assert_eq!(env.pirwatch(&["once"]).await.code, 1);
    let id = m[0].message_id.clone();
    let r = env
        .pirwatch(&["outbox", "dismiss", &id, "--by", "ops"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.pirwatch(&["once"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_recipient_is_retried_until_it_is_accepted() {
    let smtp = "timeout = \"10s\"\nretry_backoff = \"1s\"\n";
    let fault = Fault::DeferRcpt("oncall@contoso.example".into(), 2);
    let (env, _arm, sink) = faulty(fault, smtp).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.messages().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the deferred recipient never got it"
        );
        env.pirwatch(&["once"]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = sink.messages();
    assert_eq!(m.len(), 2, "one transaction each, never a repeat");
    assert!(m[0].rcpt_to.contains("incidents@") && !m[0].rcpt_to.contains("oncall@"));
    assert!(m[1].rcpt_to.contains("oncall@") && !m[1].rcpt_to.contains("incidents@"));
    assert_eq!(m[0].message_id, m[1].message_id, "the same mail");
    assert_eq!(env.pirwatch(&["once"]).await.code, 0);
    assert_eq!(env.incidents().await[0]["last_mail"]["state"], "sent");
}

/// pirwatch's own blind spots reach a person: a scope that keeps failing and a recipient given
/// up on each give the operators one mail, not one per cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_hear_once_of_a_failing_scope_and_of_a_recipient_given_up_on() {
    use crate::support::arm::Fault as ArmFault;
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let sink = SmtpSink::start(
        env.path(),
        &SinkOptions::faulty(Fault::RejectRcpt(vec!["oncall@contoso.example".into()])),
    );
    let mut setup = Setup::new(&arm.base, sink.port);
    setup.subscriptions = vec!["sub-a".into(), "sub-gone".into()];
    setup.smtp_extra = "timeout = \"10s\"\nretry_backoff = \"1s\"\n".into();
    setup.extra =
        "[notify]\noperators = [\"ops@example.com\"]\noperator_alert_after = \"1s\"\n".into();
    env.write_config(&setup);
    arm.break_scope(
        "sub-gone",
        ArmFault::ArmError {
            status: 404,
            code: "SubscriptionNotFound",
        },
    );
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("OPS-1", "Outage", hours_ago(1)).build()],
    );
    let to_ops = |sink: &SmtpSink| -> Vec<String> {
        sink.messages()
            .into_iter()
            .filter(|m| m.rcpt_to.contains("ops@example.com"))
            .map(|m| m.subject)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while to_ops(&sink).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "operators told: {:?}",
            to_ops(&sink)
        );
        env.pirwatch(&["once"]).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // More cycles the same day: nothing new for the operators.
    for _ in 0..3 {
        env.pirwatch(&["once"]).await;
    }
    let mut subjects = to_ops(&sink);
    subjects.sort();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects[0].contains("a mail of tenant contoso was given up on"),
        "{subjects:?}"
    );
    assert!(
        subjects[1].contains("contoso/sub-gone is not being polled"),
        "{subjects:?}"
    );
    let ops = sink
        .messages()
        .into_iter()
        .find(|m| m.subject.contains("sub-gone"))
        .expect("the scope notice");
    assert!(ops.text.contains("SubscriptionNotFound"), "{}", ops.text);
    assert!(ops.text.contains("check-config --online"), "{}", ops.text);
}
