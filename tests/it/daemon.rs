//! `pirwatch run` as a process: it polls at once, mails, and stops cleanly on SIGTERM/SIGINT;
//! its JSON logs parse and carry no secret even at trace level.

use std::time::{Duration, Instant};

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{SinkOptions, SmtpSink};
use crate::support::{Env, Setup, TOKEN, World, hours_ago, signal, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_mails_then_stops_with_exit_0_on_sigterm_and_sigint() {
    for sig in ["-TERM", "-INT"] {
        let World { env, arm, sink, .. } = World::started().await;
        arm.set_events(
            "sub-a",
            vec![Ev::service_issue("RUN_1", "x", hours_ago(1)).build()],
        );
        let mut child = env.command(&["run"]).spawn().expect("spawn run");
        wait_for("the first mail", 30, || sink.messages().len() == 1).await;
        let pid = child.id().expect("pid");
        let started = Instant::now();
        signal(pid, sig);
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("pirwatch run did not stop")
            .expect("wait");
        assert_eq!(status.code(), Some(0), "{sig}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // A restart sends nothing again.
        let r = env.pirwatch(&["once"]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(sink.messages().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_at_trace_level_parse_and_hold_no_secret() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let auth = Some(("bot".to_owned(), "smtp-pw-9d2k".to_owned()));
    let sink = SmtpSink::start(
        env.path(),
        &SinkOptions {
            security: crate::support::smtp::Security::Starttls,
            auth: auth.clone(),
            hold_after_data: None,
            fault: None,
            xoauth2: None,
        },
    );
    let mut setup = Setup::new(&arm.base, sink.port);
    setup.security = crate::support::smtp::Security::Starttls;
    setup.auth = auth;
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("LOG_1", "x", hours_ago(1)).build()],
    );
    let out = env
        .command(&["--log-format", "json", "once"])
        .env("PIRWATCH_LOG", "trace")
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sink.messages().len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = 0;
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
        lines += 1;
    }
    assert!(lines > 10, "expected trace output, got {lines} lines");
    assert!(!stderr.contains(TOKEN), "bearer token in logs");
    assert!(!stderr.contains("smtp-pw-9d2k"), "SMTP password in logs");
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0bot\0smtp-pw-9d2k");
    assert!(!stderr.contains(&plain), "AUTH PLAIN in logs");
}
