//! The Azure side through the real binary: paging, throttling, retries, error bodies, a foreign
//! `nextLink`, malformed and sensitive events, tenant-level events and token reuse.

use crate::support::arm::{Ev, Fault};
use crate::support::{TOKEN, World, hours_ago};
use serde_json::json;

async fn world(subscriptions: &[&str], tenant_events: bool) -> World {
    let mut w = World::new().await;
    w.setup.subscriptions = subscriptions.iter().map(|s| s.to_string()).collect();
    w.setup.tenant_events = tenant_events;
    w.env.write_config(&w.setup);
    w
}

fn ids(incidents: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = incidents
        .iter()
        .map(|i| i["tracking_id"].as_str().unwrap_or("").to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_are_followed_past_an_empty_page() {
    let w = world(&["sub-a"], false).await;
    w.arm.set_page_size(1);
    w.arm.empty_first_page(true);
    let events = (1..=3)
        .map(|n| Ev::service_issue(&format!("PG_{n}"), "paged", hours_ago(1)).build())
        .collect();
    w.arm.set_events("sub-a", events);
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ids(&w.env.incidents().await), ["PG_1", "PG_2", "PG_3"]);
    let log = w.arm.events_log();
    assert_eq!(log.len(), 4, "empty page + 3 pages: {log:?}");
    assert!(log[0].contains("api-version=2025-05-01"), "{}", log[0]);
    assert!(log[0].contains("queryStartTime="), "{}", log[0]);
    assert!(
        log[1].contains("$skipToken=0") || log[1].contains("%24skipToken=0"),
        "{}",
        log[1]
    );
    assert_eq!(w.sink.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried() {
    let w = world(&["sub-a"], false).await;
    w.arm.set_events(
        "sub-a",
        vec![Ev::service_issue("RT_1", "retry", hours_ago(1)).build()],
    );
    w.arm.push_fault(Fault::Throttle { retry_after: 1 });
    w.arm.push_fault(Fault::Unavailable);
    let started = std::time::Instant::now();
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After not honoured"
    );
    assert!(r.stderr.contains("TooManyRequests"), "{}", r.stderr);
    assert_eq!(w.arm.events_log().len(), 3);
    assert_eq!(ids(&w.env.incidents().await), ["RT_1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scope_is_reported_and_the_others_still_count() {
    let w = world(&["sub-ok", "sub-denied", "sub-gone", "sub-leaky"], false).await;
    w.arm.set_events(
        "sub-ok",
        vec![Ev::service_issue("OK_1", "fine", hours_ago(1)).build()],
    );
    w.arm.break_scope(
        "sub-denied",
        Fault::ArmError {
            status: 403,
            code: "AuthorizationFailed",
        },
    );
    w.arm.break_scope(
        "sub-gone",
        Fault::ProviderError {
            status: 404,
            code: "SubscriptionNotFound",
        },
    );
    w.arm.set_page_size(1);
    w.arm.foreign_next_link("sub-leaky");
    w.arm.set_events(
        "sub-leaky",
        vec![
            Ev::service_issue("LK_1", "a", hours_ago(1)).build(),
            Ev::service_issue("LK_2", "b", hours_ago(1)).build(),
        ],
    );
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(
        r.code, 1,
        "a failed scope makes `once` exit 1: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("HTTP 403 AuthorizationFailed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("HTTP 404 SubscriptionNotFound"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("another host (evil.example)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("1 scope(s) polled, 3 failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(TOKEN), "token in logs");
    // Nothing of a half-read scope is stored; the good scope is.
    assert_eq!(ids(&w.env.incidents().await), ["OK_1"]);
    assert_eq!(w.sink.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_skipped_and_the_rest_of_the_page_counts() {
    let w = world(&["sub-a"], false).await;
    let mut bad_time = Ev::service_issue("BAD_1", "bad", hours_ago(1)).build();
    bad_time["properties"]["impactStartTime"] = json!("last Tuesday");
    w.arm.set_events(
        "sub-a",
        vec![
            Ev::service_issue("GOOD_1", "good", hours_ago(1)).build(),
            bad_time,
            json!(["not", "an", "event"]),
            json!({"name": "ODD_1", "properties": {"eventType": "SomethingNew", "status": "Simmering",
                   "title": "unknown enums are kept", "impactMitigationTime": "0001-01-01T00:00:00"}}),
        ],
    );
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("2 skipped"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("event BAD_1: bad timestamp in impactStartTime"),
        "{}",
        r.stderr
    );
    let incidents = w.env.incidents().await;
    assert_eq!(ids(&incidents), ["GOOD_1", "ODD_1"]);
    let odd = incidents
        .iter()
        .find(|i| i["tracking_id"] == "ODD_1")
        .expect("ODD_1");
    assert_eq!(odd["event_type"], "SomethingNew");
    assert_eq!(odd["status"], "Simmering");
    assert!(odd["mitigated_at"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_events_get_details_or_are_kept_without_them() {
    let w = world(&["sub-a"], false).await;
    let open = Ev::service_issue("SEC_1", "advisory", hours_ago(2))
        .event_type("SecurityAdvisory")
        .sensitive();
    let refused = Ev::service_issue("SEC_2", "refused", hours_ago(2))
        .event_type("SecurityAdvisory")
        .sensitive();
    w.arm
        .set_events("sub-a", vec![open.build(), refused.build()]);
    w.arm.set_details(
        "SEC_1",
        Ev::service_issue("SEC_1", "advisory", hours_ago(2))
            .event_type("SecurityAdvisory")
            .summary("<p>Rotate the keys of the affected storage accounts.</p>")
            .update(
                hours_ago(1),
                "<p>Details for owners</p>",
                &["Action Recommended"],
            )
            .build(),
    );
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("keeping it without details"),
        "{}",
        r.stderr
    );
    assert!(
        w.arm
            .log()
            .iter()
            .any(|l| l.starts_with("POST") && l.contains("SEC_1/fetchEventDetails"))
    );
    let m = w.sink.messages();
    assert_eq!(m.len(), 2, "security advisories mail by default");
    let detailed = m
        .iter()
        .find(|x| x.subject.contains("SEC_1"))
        .expect("SEC_1 mail");
    assert!(
        detailed.text.contains("Rotate the keys"),
        "{}",
        detailed.text
    );
    assert!(m.iter().any(|x| x.subject.contains("SEC_2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_through_several_scopes_is_one_incident_and_one_token_serves_all() {
    let w = world(&["sub-a", "sub-b", "sub-c"], true).await;
    let ev = Ev::service_issue("MULTI_1", "seen everywhere", hours_ago(1)).build();
    for scope in ["sub-a", "sub-b", "tenant"] {
        w.arm.set_events(scope, vec![ev.clone()]);
    }
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(w.env.az_calls(), 1, "the CLI token is reused across scopes");
    let incidents = w.env.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["subscriptions"], json!(["sub-a", "sub-b"]));
    assert_eq!(w.sink.messages().len(), 1);
    assert!(
        w.arm
            .log()
            .iter()
            .any(|l| l.starts_with("GET /providers/Microsoft.ResourceHealth/events?"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_an_authentication_error() {
    let w = world(&["sub-a"], false).await;
    w.env.install_fake_az("someone-elses-token");
    let r = w.env.pirwatch(&["once"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("HTTP 401 InvalidAuthenticationToken"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("someone-elses-token"));
}
