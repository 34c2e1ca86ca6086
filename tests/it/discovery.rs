//! Issue 12: subscriptions found by themselves (`subscriptions = "all"`) against the fake ARM
//! (`GET /subscriptions`, paged, and `GET /tenants`). A subscription delegated through
//! Lighthouse from a customer tenant makes a tenant of its own, named after the customer and
//! routed by that name; `exclude` leaves a sandbox out; a subscription that appears later
//! follows the first-poll rules (no flood of old incidents); one that disappears is no longer
//! polled and its incidents stay; the CLI sees the same tenants.

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::followup::Sim;
use crate::support::TENANT_ID;
use crate::support::arm::Ev;

const FABRIKAM: &str = "22222222-2222-2222-2222-222222222222";
const ADATUM: &str = "33333333-3333-3333-3333-333333333333";

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_customer_subscriptions_become_tenants_of_their_own() {
    let sim = Sim::with_config(|arm| {
        format!(
            "[[routes]]\nname = \"fabrikam-contacts\"\ntenants = [\"csp/Fabrikam\"]\n\
             to = [\"it@fabrikam.example\"]\n\
             [[tenants]]\nname = \"csp\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = \"all\"\nexclude = [\"sandbox-*\"]\ndiscovery_interval = \"1m\"\n\
             recipients = [\"desk@partner.example\"]\nclaim_channel = \"partner\"\n\
             working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
             working_hours = \"00:00-24:00\"\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n"
        )
    })
    .await;
    sim.arm.set_page_size(2);
    sim.arm.set_subscriptions(&[
        ("sub-own", "partner-internal", TENANT_ID, "Enabled"),
        ("sub-f1", "Fabrikam Production", FABRIKAM, "Enabled"),
        ("sub-a", "Adatum", ADATUM, "Enabled"),
        ("sub-sbx", "sandbox-tests", TENANT_ID, "Enabled"),
        ("sub-off", "old", FABRIKAM, "Disabled"),
    ]);
    sim.arm.set_tenants(&[(FABRIKAM, "Fabrikam")]);
    let now = ts("2026-12-02T10:00:00Z");
    for s in ["sub-own", "sub-f1", "sub-a", "sub-sbx", "sub-f2"] {
        sim.arm.set_events(s, Vec::new());
    }
    let daemon = sim.daemon().await;
    let stop = CancellationToken::new();
    daemon.cycle(now, &stop).await.expect("first cycle");
    let names: Vec<String> = daemon
        .live()
        .tenants
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        names,
        ["csp", "csp/Fabrikam", format!("csp/{ADATUM}").as_str()]
    );
    let polled = |sub: &str| {
        sim.arm
            .events_log()
            .iter()
            .filter(|l| {
                l.contains(&format!(
                    "/subscriptions/{sub}/providers/Microsoft.ResourceHealth/events"
                ))
            })
            .count()
    };
    assert_eq!(polled("sub-sbx"), 0, "excluded");
    assert_eq!(polled("sub-off"), 0, "disabled");
    assert_eq!(
        (polled("sub-own"), polled("sub-f1"), polled("sub-a")),
        (1, 1, 1)
    );

    // An outage across the partner's customers: one incident per customer.
    let ev = Ev::service_issue("OUT-1", "Storage in West Europe", now + h(1)).build();
    sim.arm.set_events("sub-f1", vec![ev.clone()]);
    sim.arm.set_events("sub-a", vec![ev]);
    daemon.cycle(now + h(2), &stop).await.expect("cycle");
    let mails = sim.sink.messages();
    let about = |who: &str| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m.rcpt_to.contains(who) && m.subject.contains("OUT-1"))
            .map(|m| m.subject.clone())
            .collect()
    };
    let desk = about("desk@partner.example");
    assert_eq!(desk.len(), 2, "one per customer: {desk:#?}");
    assert!(
        desk.iter()
            .any(|s| s.starts_with("[pirwatch/csp/Fabrikam]")),
        "{desk:#?}"
    );
    assert!(
        desk.iter()
            .any(|s| s.starts_with(&format!("[pirwatch/csp/{ADATUM}]"))),
        "{desk:#?}"
    );
    // The route by the customer's tenant name takes Fabrikam's, not Adatum's.
    let fab = about("it@fabrikam.example");
    assert_eq!(fab.len(), 1, "{fab:#?}");
    assert!(fab[0].starts_with("[pirwatch/csp/Fabrikam]"), "{fab:#?}");

    // A subscription appears with an old incident: first-poll rules, no flood; Adatum's
    // subscription disappears: no longer polled, its incident kept.
    let old = Ev::service_issue("OLD-9", "An old outage", now - h(24 * 100))
        .resolved(now - h(24 * 100 - 3))
        .build();
    sim.arm.set_events("sub-f2", vec![old]);
    sim.arm.set_subscriptions(&[
        ("sub-own", "partner-internal", TENANT_ID, "Enabled"),
        ("sub-f1", "Fabrikam Production", FABRIKAM, "Enabled"),
        ("sub-f2", "Fabrikam Test", FABRIKAM, "Enabled"),
    ]);
    let before = polled("sub-a");
    daemon.cycle(now + h(3), &stop).await.expect("cycle");
    assert_eq!(polled("sub-f2"), 1, "found and polled");
    assert_eq!(polled("sub-a"), before, "gone: no longer polled");
    let fabrikam = daemon
        .live()
        .tenant("csp/Fabrikam")
        .expect("fabrikam")
        .config
        .subscriptions
        .to_vec();
    assert_eq!(fabrikam, ["sub-f1", "sub-f2"]);
    let flood: Vec<String> = sim
        .sink
        .messages()
        .iter()
        .filter(|m| m.subject.contains("OLD-9"))
        .map(|m| m.subject.clone())
        .collect();
    assert!(
        flood.is_empty(),
        "an old incident of a new subscription is history: {flood:#?}"
    );
    daemon.store().close().await;

    // The CLI knows the same tenants, and the history of the one that went.
    let rows = sim.env.incidents().await;
    let row = |tenant: &str| {
        rows.iter()
            .find(|r| r["tenant"] == tenant && r["tracking_id"] == "OUT-1")
            .unwrap_or_else(|| panic!("{tenant}: {rows:#?}"))
            .clone()
    };
    assert_eq!(row("csp/Fabrikam")["tenant_configured"], true);
    assert_eq!(
        row(&format!("csp/{ADATUM}"))["tenant_configured"],
        false,
        "gone, history kept"
    );
    assert!(
        rows.iter().any(|r| r["tracking_id"] == "OLD-9"),
        "recorded silently"
    );
    let r = sim
        .env
        .pirwatch(&[
            "ack",
            "OUT-1",
            "--tenant",
            "csp/Fabrikam",
            "--reviewed",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Issue 12: `management_group` limits discovery to the subscriptions under that group (the
/// spec's `descendants` example: a child group and one subscription).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_management_group_gives_the_subscriptions_under_it() {
    let sim = Sim::with_config(|arm| {
        format!(
            "[[tenants]]\nname = \"mg\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = \"all\"\nmanagement_group = \"20000000-0000-0000-0000-000000000000\"\n\
             recipients = [\"it@example.com\"]\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n"
        )
    })
    .await;
    // Listed, but not under the group: not polled.
    sim.arm
        .set_subscriptions(&[("sub-elsewhere", "elsewhere", TENANT_ID, "Enabled")]);
    let sub4 = "20000000-0004-0000-0000-000000000000";
    sim.arm.set_events(sub4, Vec::new());
    let daemon = sim.daemon().await;
    daemon
        .cycle(ts("2026-12-02T10:00:00Z"), &CancellationToken::new())
        .await
        .expect("cycle");
    let live = daemon.live();
    let t = live.tenant("mg").expect("mg");
    assert_eq!(t.config.subscriptions.to_vec(), [sub4]);
    assert_eq!(
        live.tenants.len(),
        1,
        "the group's subscriptions are the entry's own"
    );
    let log = sim.arm.log();
    assert!(
        log.iter().any(
            |l| l.contains("managementGroups/20000000-0000-0000-0000-000000000000/descendants")
        )
    );
    assert!(log.iter().any(|l| l.contains(&format!(
        "/subscriptions/{sub4}/providers/Microsoft.ResourceHealth/events"
    ))));
    assert!(!log.iter().any(|l| l.contains("sub-elsewhere")));
    daemon.store().close().await;
}
