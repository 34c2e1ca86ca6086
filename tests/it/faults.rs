//! Azure misbehaving, all at once, in one `pirwatch once`: one tenant's subscriptions answer
//! with a 429 storm, 500 forever, a connection reset, a response slower than the request
//! timeout, truncated JSON, a `nextLink` loop with fresh tokens, a 10 MB page and an event with
//! every field missing; another tenant's sign-in is refused. The healthy tenant's mail
//! still goes out in the same run, and the run ends in bounded time.

use std::time::{Duration, Instant};

use crate::support::arm::{Ev, Fault};
use crate::support::{TENANT_ID, World, hours_ago};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthy_tenant_is_mailed_in_bounded_time_whatever_the_others_do() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    let faulty = [
        ("sub-500", Fault::Unavailable),
        ("sub-reset", Fault::Reset),
        ("sub-slow", Fault::Slow { secs: 30 }),
        ("sub-trunc", Fault::Truncated),
        ("sub-loop", Fault::FreshTokenLoop),
        ("sub-big", Fault::BigPage { bytes: 10 << 20 }),
    ];
    for (sub, fault) in &faulty {
        arm.break_scope(sub, fault.clone());
    }
    arm.set_events(
        "sub-loop",
        vec![Ev::service_issue("LOOP-1", "Looping", hours_ago(2)).build()],
    );
    // The healthy subscription also holds an event with every field missing.
    arm.set_events(
        "sub-a",
        vec![
            Ev::service_issue("OK-1", "Healthy tenant's incident", hours_ago(1)).build(),
            serde_json::json!({"name": "EMPTY-1", "properties": {}}),
        ],
    );
    // A 429 storm: the next requests, whichever scope, are throttled for a second each.
    for _ in 0..3 {
        arm.push_fault(Fault::Throttle { retry_after: 1 });
    }
    let subs: Vec<String> = faulty.iter().map(|(s, _)| format!("\"{s}\"")).collect();
    setup.extra = format!(
        "[poll]\nrequest_timeout = \"2s\"\ntenant_budget = \"15s\"\n\n\
         [[tenants]]\nname = \"fabrikam\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
         subscriptions = [{subs}]\nrecipients = [\"ops@fabrikam.example\"]\n\
         [tenants.credential]\nkind = \"azure_cli\"\n\n\
         [[tenants]]\nname = \"northwind\"\ntenant_id = \"bad-tenant-0001\"\n\
         arm_endpoint = \"{arm}\"\nsubscriptions = [\"sub-a\"]\n\
         recipients = [\"ops@northwind.example\"]\n[tenants.credential]\nkind = \"azure_cli\"\n",
        arm = arm.base,
        subs = subs.join(", "),
    );
    env.write_config(&setup);
    // `[poll]` is written by the harness too: use ours.
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    let text = text.replacen("[poll]\ninterval = \"5m\"\nlookback = \"30d\"\n", "", 1);
    let text = text.replace(
        "[poll]\n",
        "[poll]\ninterval = \"5m\"\nlookback = \"30d\"\n",
    );
    std::fs::write(env.config_path(), text).expect("config");

    let started = Instant::now();
    let r = env.pirwatch(&["once"]).await;
    let took = started.elapsed();
    eprintln!("once under every fault: {took:?}\n{}", r.stderr);
    assert!(took < Duration::from_secs(40), "once took {took:?}");
    // The healthy tenant's incident was mailed; the looping scope's events still count.
    let subjects: Vec<String> = sink.messages().into_iter().map(|m| m.subject).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[pirwatch/contoso]") && s.contains("OK-1")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[pirwatch/fabrikam]") && s.contains("LOOP-1")),
        "a degraded scope keeps what it fetched: {subjects:?}"
    );
    assert!(
        !subjects.iter().any(|s| s.contains("EMPTY-1")),
        "{subjects:?}"
    );
    assert_eq!(r.code, 1, "some scopes failed: {}", r.stderr);
    assert!(
        r.stderr.contains("skipping a malformed event"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("scope degraded"), "{}", r.stderr);
    assert!(
        r.stderr.contains("AADSTS90002"),
        "the refused sign-in is reported: {}",
        r.stderr
    );
    // The loop was cut after a few pages, not at the 1000-page cap.
    let loop_requests = arm.log().iter().filter(|l| l.contains("sub-loop")).count();
    assert!(
        loop_requests <= 10,
        "{loop_requests} requests to the looping scope"
    );
}
