//! A crash loop: `pirwatch run` killed with SIGKILL at random moments, 200 times, while new
//! incidents keep arriving. Afterwards every expected mail was delivered at least once, every
//! duplicate carries the same Message-ID as its original, there are at most as many duplicates
//! as kills (one delivery is in flight at a time, so a kill can repeat at most one mail), and
//! the store passes `PRAGMA integrity_check` after every batch of kills.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::arm::Ev;
use crate::support::{World, hours_ago, integrity};

const KILLS: usize = 200;
const BATCH: usize = 20;
const NEW_PER_BATCH: usize = 6;

/// A small, seeded pseudo-random sequence (xorshift), so a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_kills_lose_no_mail_and_repeat_one_at_most_per_kill() {
    let World { env, arm, sink, .. } = World::started().await;
    assert_eq!(
        env.pirwatch(&["once"]).await.code,
        0,
        "first poll: nothing yet"
    );
    let seed = u64::from(std::process::id()) * 2_654_435_761 + 1;
    eprintln!("crash loop seed {seed}");
    let mut moments = Moments(seed);
    let mut events = Vec::new();
    let started = Instant::now();
    let mut kills = 0;
    while kills < KILLS {
        if kills % BATCH == 0 {
            for _ in 0..NEW_PER_BATCH {
                let id = format!("CRASH-{}", events.len());
                events.push(Ev::service_issue(&id, "Crash loop", hours_ago(1)).build());
            }
            arm.set_events("sub-a", events.clone());
        }
        let mut child = env.command(&["run"]).spawn().expect("spawn run");
        tokio::time::sleep(Duration::from_millis(moments.next_ms(5, 400))).await;
        child.start_kill().expect("kill -9");
        child.wait().await.expect("reap");
        kills += 1;
        if kills % BATCH == 0 {
            assert_eq!(
                integrity(&env.state_path()).await,
                "ok",
                "after {kills} kills"
            );
        }
    }
    let took = started.elapsed();
    // Then let it finish in peace.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = env.pirwatch(&["once"]).await;
        if r.code == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never drained: {}",
            r.stderr
        );
    }
    assert_eq!(integrity(&env.state_path()).await, "ok");

    let mut by_incident: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in sink.messages() {
        let id = m
            .subject
            .split_whitespace()
            .find(|w| w.starts_with("CRASH-"))
            .map(|w| w.trim_end_matches(':').to_owned())
            .unwrap_or_else(|| panic!("unexpected mail {}", m.subject));
        by_incident.entry(id).or_default().push(m.message_id);
    }
    if by_incident.len() != events.len() {
        let rows = env.incidents().await;
        let missing: Vec<String> = rows
            .iter()
            .filter(|r| !by_incident.contains_key(r["tracking_id"].as_str().unwrap_or("")))
            .map(|r| format!("{} {}", r["tracking_id"], r["last_mail"]))
            .collect();
        panic!(
            "{} of {} incidents mailed; {} stored; not mailed: {missing:?}",
            by_incident.len(),
            events.len(),
            rows.len()
        );
    }
    let mut duplicates = 0;
    for (id, ids) in &by_incident {
        assert!(
            ids.iter().all(|m| *m == ids[0]),
            "{id}: one Message-ID only: {ids:?}"
        );
        duplicates += ids.len() - 1;
    }
    eprintln!(
        "{kills} kills in {took:?}; {} mails expected, {} received, {duplicates} duplicate(s) \
         (bound: one per kill)",
        events.len(),
        events.len() + duplicates
    );
    assert!(
        duplicates <= kills,
        "{duplicates} duplicates for {kills} kills"
    );
    assert!(
        took < Duration::from_secs(120),
        "{kills} kills took {took:?}"
    );
}
