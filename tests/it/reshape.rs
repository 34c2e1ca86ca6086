//! Regressions of issue 7 that need the real binary: Message-IDs and export files that never
//! collide across tenants, and a cycle (and `export --all`) whose number of store queries does
//! not grow with the number of incidents — counted from sqlx's own statement log.

use crate::support::arm::Ev;
use crate::support::{Env, Run, TENANT_ID, World, hours_ago};

/// A `[[tenants]]` block beside the default `contoso`, polling the same scope.
fn tenant(name: &str, arm: &str) -> String {
    format!(
        "[[tenants]]\nname = \"{name}\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
         subscriptions = [\"sub-a\"]\nrecipients = [\"ops@{name}.example\"]\n\
         [tenants.credential]\nkind = \"azure_cli\"\n"
    )
}

/// Defect 1: `acme.eu` and `acme-eu` seeing the same tracking id shared a Message-ID, so the
/// second tenant's mail was dropped; `acme.eu` and `acme_eu` overwrote each other's exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_whose_names_differ_in_punctuation_each_get_their_mail_and_export() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    let names = ["acme.eu", "acme-eu", "acme_eu"];
    setup.extra = names.iter().map(|n| tenant(n, &arm.base)).collect();
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("BC_1-FXZ", "Shared outage", hours_ago(2)).build()],
    );
    let r = env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails = sink.messages();
    assert_eq!(mails.len(), 4, "contoso and the three look-alikes");
    let ids: std::collections::BTreeSet<&str> =
        mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    for name in names {
        let m = mails
            .iter()
            .find(|m| m.rcpt_to.contains(&format!("ops@{name}.example")))
            .unwrap_or_else(|| panic!("no mail for {name}"));
        assert!(
            m.subject.starts_with(&format!("[pirwatch/{name}]")),
            "{}",
            m.subject
        );
    }
    let dir = env.path().join("archive");
    let r = env
        .pirwatch(&[
            "export",
            "--all",
            "--since",
            "2020-01-01",
            "--dir",
            dir.to_str().expect("utf-8"),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("exported 4 incident(s)"), "{}", r.stdout);
    assert_eq!(std::fs::read_dir(&dir).expect("archive").count(), 4);
}

/// Runs the binary with sqlx's statement log on and counts the statements it ran (not the
/// `PRAGMA`s each new pool connection runs: how many connections open depends on timing).
async fn statements(env: &Env, args: &[&str]) -> (usize, Run) {
    let out = env
        .command(&[&["--log-format", "json"], args].concat())
        .env("PIRWATCH_LOG", "warn,sqlx::query=debug")
        .output()
        .await
        .expect("run pirwatch");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let n = stderr
        .lines()
        .filter(|l| l.contains("\"target\":\"sqlx::query\"") && !l.contains("\"summary\":\"PRAGMA"))
        .count();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    };
    (n, run)
}

/// The statements of a steady-state `once` (nothing changed) and of `export --all`, over a
/// store holding `incidents` incidents.
async fn queries_with(incidents: usize) -> (usize, usize) {
    let World { env, arm, sink, .. } = World::started().await;
    let events = (0..incidents)
        .map(|n| {
            Ev::service_issue(&format!("Q-{n}"), "Outage", hours_ago(3))
                .update(hours_ago(2), &format!("<p>update {n}</p>"), &[])
                .build()
        })
        .collect();
    arm.set_events("sub-a", events);
    let (_, first) = statements(&env, &["once"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(sink.messages().len(), incidents);
    // Claim evidence is fetched for at most 10 incidents a cycle: settle it first.
    for _ in 0..incidents.div_ceil(10) {
        let (_, r) = statements(&env, &["once"]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (steady, r) = statements(&env, &["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sink.messages().len(), incidents, "nothing new to send");
    let dir = env.path().join("archive");
    let (export, r) = statements(
        &env,
        &[
            "export",
            "--all",
            "--since",
            "2020-01-01",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&dir).expect("archive").count(), incidents);
    (steady, export)
}

/// The hot path loads in batches: today's store ran two queries per fetched incident, and
/// `export --all` loaded every mail once per incident (defect 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_cycle_and_export_all_run_the_same_queries_for_3_or_40_incidents() {
    let (few_cycle, few_export) = queries_with(3).await;
    let (many_cycle, many_export) = queries_with(40).await;
    assert!(few_cycle > 0 && few_export > 0, "the statement log is read");
    assert_eq!(few_cycle, many_cycle, "steady-state cycle");
    assert_eq!(few_export, many_export, "export --all");
    eprintln!("steady cycle: {few_cycle} statements; export --all: {few_export}");
}
