//! Benchmark: one `pirwatch once` over 100 subscriptions against the fake ARM (3 events per
//! subscription, 2 pages each, none of them mailed), first on an empty store and again with
//! nothing changed. Prints wall time, ARM requests and peak RSS. Run: `cargo bench --bench poll`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::arm::{Ev, FakeArm};
use support::{Env, Setup, TOKEN, hours_ago};

const SUBSCRIPTIONS: usize = 100;
const EVENTS_PER_SUBSCRIPTION: usize = 3;

/// Peak resident set size of a running process, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn run_once(env: &Env) -> (Duration, u64, i32) {
    let started = Instant::now();
    let mut child = env
        .command(&["once"])
        .env("PIRWATCH_LOG", "warn")
        .spawn()
        .expect("spawn pirwatch");
    let pid = child.id().unwrap_or(0);
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    (started.elapsed(), peak, status.code().unwrap_or(-1))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    arm.set_page_size(2);
    let subs: Vec<String> = (0..SUBSCRIPTIONS).map(|n| format!("sub-{n:03}")).collect();
    for (n, sub) in subs.iter().enumerate() {
        let events = (0..EVENTS_PER_SUBSCRIPTION)
            .map(|k| {
                Ev::service_issue(&format!("PM_{n}_{k}"), "maintenance", hours_ago(2))
                    .event_type("PlannedMaintenance")
                    .update(hours_ago(1), "<p>Planned work</p>", &[])
                    .build()
            })
            .collect();
        arm.set_events(sub, events);
    }
    let mut setup = Setup::new(&arm.base, 9);
    setup.subscriptions = subs;
    env.write_config(&setup);

    let (first, rss1, code1) = run_once(&env).await;
    let requests = arm.log().len();
    let (second, rss2, code2) = run_once(&env).await;
    assert_eq!((code1, code2), (0, 0), "pirwatch once failed");
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_pirwatch")).map_or(0, |m| m.len());
    println!(
        "poll of {SUBSCRIPTIONS} subscriptions x {EVENTS_PER_SUBSCRIPTION} events ({requests} ARM requests per poll):"
    );
    println!(
        "  first poll (empty store, {} incidents stored): {:>7.1} ms, peak RSS {:>6} KiB",
        SUBSCRIPTIONS * EVENTS_PER_SUBSCRIPTION,
        first.as_secs_f64() * 1000.0,
        rss1
    );
    println!(
        "  second poll (nothing changed):              {:>7.1} ms, peak RSS {:>6} KiB",
        second.as_secs_f64() * 1000.0,
        rss2
    );
    println!(
        "  binary size: {:.1} MiB ({})",
        binary as f64 / 1048576.0,
        env!("CARGO_BIN_EXE_pirwatch")
    );
}
