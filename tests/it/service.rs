//! `pirwatch run` as a service: systemd notifications (READY, STATUS, WATCHDOG, STOPPING) on a
//! real datagram socket, the HTTP listener (`/metrics` parsed by a Prometheus parser, `/readyz`
//! flipping when the store goes away), SIGHUP with a good and a broken config, and SIGTERM in
//! the middle of a slow SMTP delivery.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{SinkOptions, SmtpSink};
use crate::support::{Env, Setup, TOKEN, World, hours_ago, signal, wait_for};

/// Datagrams received on the notify socket so far.
fn drain(socket: &UnixDatagram, into: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        into.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

fn log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_as_a_systemd_service_with_health_metrics_and_reload() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    // Port 0: the daemon binds a free port and logs which.
    setup.extra = "[http]\nlisten = \"127.0.0.1:0\"\n".to_owned();
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("SVC-1", "x", hours_ago(1)).build()],
    );

    let socket_path = env.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket.set_nonblocking(true).expect("nonblocking");
    let log_path = env.path().join("run.log");
    let mut child = env
        .command(&["run"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stderr(Stdio::from(std::fs::File::create(&log_path).expect("log")))
        .spawn()
        .expect("spawn run");
    let pid = child.id().expect("pid");
    let mut addr = None;
    wait_for("the HTTP listener's address in the log", 20, || {
        addr = log(&log_path)
            .lines()
            .filter(|l| l.contains("HTTP listener"))
            .find_map(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .map(str::to_owned);
        addr.is_some()
    })
    .await;
    let base = format!("http://{}", addr.expect("address"));

    let mut notes = Vec::new();
    wait_for("READY=1", 20, || {
        drain(&socket, &mut notes);
        notes.iter().any(|n| n.contains("READY=1"))
    })
    .await;
    wait_for("the first mail", 20, || sink.messages().len() == 1).await;
    let mut ready = (0, String::new());
    for _ in 0..100 {
        ready = get(&format!("{base}/readyz")).await;
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);

    // Metrics, parsed as Prometheus would.
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let sample = |name: &str, label: (&str, &str)| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
            .map(|s| s.value.clone())
    };
    assert!(
        sample("pirwatch_polls_total", ("outcome", "ok")).is_some(),
        "{text}"
    );
    assert!(
        sample("pirwatch_arm_requests_total", ("status", "200")).is_some(),
        "{text}"
    );
    assert!(
        sample("pirwatch_notifications_total", ("outcome", "sent")).is_some(),
        "{text}"
    );
    assert!(
        sample("pirwatch_events_seen_total", ("tenant", "contoso")).is_some(),
        "{text}"
    );
    assert!(
        sample("pirwatch_incidents", ("state", "active")).is_some(),
        "{text}"
    );
    assert!(
        sample("pirwatch_incidents", ("state", "claim_open")).is_some(),
        "{text}"
    );
    match sample("pirwatch_claim_deadline_seconds", ("tracking_id", "SVC-1")) {
        Some(prometheus_parse::Value::Gauge(v)) => assert!(v > 86400.0 * 20.0, "{v}"),
        other => panic!("claim deadline gauge: {other:?}\n{text}"),
    }
    for name in [
        "pirwatch_poll_duration_seconds_count",
        "pirwatch_notifications_queued",
        "pirwatch_oldest_queued_notification_age_seconds",
        "pirwatch_throttle_waits_total",
        "pirwatch_last_poll_timestamp_seconds",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "{name} missing:\n{text}"
        );
    }

    // The watchdog is fed, and the status line says how the last poll went.
    wait_for("two watchdog pings", 10, || {
        drain(&socket, &mut notes);
        notes.iter().filter(|n| n.contains("WATCHDOG=1")).count() >= 2
    })
    .await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("STATUS=last poll") && n.contains("1 scope(s) ok")),
        "{notes:?}"
    );

    // /readyz follows the store.
    let db = env.state_path();
    let moved = db.with_extension("away");
    std::fs::rename(&db, &moved).expect("move the store away");
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"ready\":false"), "{body}");
    std::fs::rename(&moved, &db).expect("move it back");
    assert_eq!(get(&format!("{base}/readyz")).await.0, 200);

    // SIGHUP with a changed config: it takes effect (a new recipient gets the next mail).
    let mut changed = setup.clone();
    changed.extra = format!(
        "{}[notify]\nevent_types = [\"ServiceIssue\", \"HealthAdvisory\"]\n",
        setup.extra
    );
    env.write_config(&changed);
    arm.set_events(
        "sub-a",
        vec![
            Ev::service_issue("SVC-1", "x", hours_ago(1)).build(),
            Ev::service_issue("ADV-1", "advisory", hours_ago(1))
                .event_type("HealthAdvisory")
                .build(),
        ],
    );
    signal(pid, "-HUP");
    wait_for("the reload", 20, || {
        log(&log_path).contains("configuration reloaded")
    })
    .await;
    wait_for("the advisory mail", 20, || sink.messages().len() == 2).await;

    // SIGHUP with a broken config: logged, the old config kept, still serving.
    std::fs::write(env.config_path(), "[poll]\nintervall = \"5m\"\n").expect("break config");
    signal(pid, "-HUP");
    wait_for("the refusal", 20, || {
        log(&log_path).contains("configuration reload failed; keeping the old configuration")
    })
    .await;
    assert!(log(&log_path).contains("poll.intervall: unknown key"));
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    // The container health check (reads http.listen from the config, which is broken now).
    let r = env
        .pirwatch(&["healthcheck", "--url", &format!("{base}/healthz")])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    signal(pid, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stops")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    drain(&socket, &mut notes);
    assert!(notes.iter().any(|n| n.contains("STOPPING=1")), "{notes:?}");
    let r = env
        .pirwatch(&["healthcheck", "--url", &format!("{base}/healthz")])
        .await;
    assert_eq!(r.code, 1, "nothing answers any more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_delivery_neither_loses_nor_repeats_the_mail() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let slow = SinkOptions {
        hold_after_data: Some(3.0),
        ..Default::default()
    };
    let sink = SmtpSink::start(env.path(), &slow);
    env.write_config(&Setup::new(&arm.base, sink.port));
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("SLOW-1", "x", hours_ago(1)).build()],
    );
    let mut child = env
        .command(&["run"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    wait_for("the message at the server", 20, || {
        sink.messages().len() == 1
    })
    .await;
    // The server has the message but has not answered yet.
    signal(child.id().expect("pid"), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("stops")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    let rows = env.incidents().await;
    let state = rows[0]["last_mail"]["state"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(state == "sent" || state == "queued", "never lost: {state}");
    let r = env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = sink.messages();
    assert!(!m.is_empty() && m.len() <= 2);
    assert!(m.iter().all(|x| x.message_id == m[0].message_id));
    if state == "sent" {
        assert_eq!(m.len(), 1, "delivered and recorded: not sent again");
    }
}
