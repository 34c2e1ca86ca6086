//! Properties that must hold for every input, not only the ones a test thought of: proptest
//! over the fuzzers' entry points (`pirwatch::fuzzing`) and over the SLA deadline, plus a replay
//! of the fuzz corpus (`fuzz/corpus/`, grown by `cargo fuzz`, see README "Reliability").

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use proptest::prelude::*;

use pirwatch::followup::claim::claim_deadline;

/// A fuzz target's entry point.
type Target = fn(&[u8]);

/// Every file of the fuzz corpus goes through its target once more.
#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let targets: [(&str, Target); 4] = [
        ("arm_events", pirwatch::fuzzing::arm_events),
        ("timestamp", pirwatch::fuzzing::timestamp),
        ("config", pirwatch::fuzzing::config),
        ("html", pirwatch::fuzzing::html),
    ];
    for (name, target) in targets {
        let dir = root.join(name);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            target(&std::fs::read(&path).expect("read"));
            n += 1;
        }
        assert!(n > 0, "the {name} corpus is empty");
        eprintln!("{name}: {n} corpus inputs replayed");
    }
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 2000-01-01 to 2100-01-01, to the second.
    (946_684_800i64..4_102_444_800).prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

/// The last day of the month two after `t`'s UTC month: the latest any reading of "within two
/// months of the end of the billing month" can give for calendar billing months.
fn latest_sla_date(t: Timestamp) -> Date {
    let day = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    day.first_of_month()
        .saturating_add(2.months())
        .last_of_month()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_sla_deadline_is_never_after_the_slas_date_for_the_incidents_utc_month(t in instant()) {
        let d = claim_deadline(t, 1);
        prop_assert!(d <= latest_sla_date(t), "{t}: {d}");
        prop_assert!(d > t.to_zoned(jiff::tz::TimeZone::UTC).date(), "{t}: {d}");
    }

    #[test]
    fn the_sla_deadline_is_monotonic_in_the_incident_instant(
        a in instant(), b in instant(), day in 1i8..=31,
    ) {
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(claim_deadline(early, day) <= claim_deadline(late, day));
    }

    #[test]
    fn the_sla_deadline_is_the_same_in_every_team_time_zone(
        t in instant(), zone in prop::sample::select(vec![
            "UTC", "Europe/Amsterdam", "America/Los_Angeles", "Asia/Shanghai",
            "Pacific/Kiritimati", "Pacific/Pago_Pago", "Australia/Lord_Howe",
        ]),
    ) {
        use pirwatch::followup::calendar::WorkCalendar;
        use pirwatch::followup::{TenantPolicy, assess};
        let mut i = sample_incident(t);
        i.subscriptions.insert("s".into());
        let policy = |tz: &str| TenantPolicy {
            calendar: WorkCalendar::office_hours(jiff::tz::TimeZone::get(tz).expect("tz")),
            claim: pirwatch::followup::claim::ClaimPolicy {
                billing_start_day: 1,
                ..Default::default()
            },
            reminders: Default::default(),
            notify_event_types: [pirwatch::incident::EventType::ServiceIssue].into(),
            ignore_services: Default::default(),
        };
        let acks = pirwatch::incident::ack::Acks::default();
        let none = std::collections::BTreeSet::new();
        let here = assess(&i, &acks, &none, &policy(zone), t).claim.dates();
        let utc = assess(&i, &acks, &none, &policy("UTC"), t).claim.dates();
        prop_assert_eq!(here.map(|d| d.sla_deadline), utc.map(|d| d.sla_deadline));
    }

    #[test]
    fn arm_json_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        pirwatch::fuzzing::arm_events(&data);
    }

    #[test]
    fn arm_shaped_json_never_panics(
        name in "[A-Za-z0-9_-]{0,12}",
        event_type in prop::option::of("[A-Za-z]{0,14}"),
        status in prop::option::of("[A-Za-z]{0,10}"),
        start in prop::option::of("[0-9T:.Z-]{0,30}"),
        tags in prop::collection::vec("[A-Za-z ]{0,14}", 0..3),
    ) {
        let v = serde_json::json!({"value": [{"name": name, "properties": {
            "eventType": event_type, "status": status, "impactStartTime": start,
            "eventTags": tags, "impact": [{"impactedService": "S", "impactedRegions": [
                {"impactedRegion": "R", "updates": [{"summary": "<p>x</p>",
                 "updateDateTime": start, "eventTags": tags}]}]}]}}]});
        pirwatch::fuzzing::arm_events(v.to_string().as_bytes());
    }

    #[test]
    fn timestamps_never_panic(s in ".{0,40}") {
        pirwatch::fuzzing::timestamp(s.as_bytes());
    }

    #[test]
    fn configs_never_panic_and_errors_name_their_place(
        key in prop::sample::select(vec!["interval", "concurrency", "lookback", "tenant_budget"]),
        value in "[0-9a-z\"]{0,12}",
    ) {
        let text = format!(
            "[poll]\n{key} = {value}\n[smtp]\nhost = \"h\"\nfrom = \"p <p@example.com>\"\n"
        );
        pirwatch::fuzzing::config(text.as_bytes());
    }

    #[test]
    fn sanitised_html_never_carries_script(s in ".{0,200}") {
        let clean = pirwatch::notify::render::sanitize(&format!("<p>{s}</p><script>x</script>"));
        prop_assert!(!clean.to_ascii_lowercase().contains("<script"), "{clean}");
        pirwatch::fuzzing::html(s.as_bytes());
    }
}

fn sample_incident(t: Timestamp) -> pirwatch::incident::Incident {
    use pirwatch::incident::{EventType, Incident, PirState};
    Incident {
        tenant: "t".into(),
        tracking_id: "X".into(),
        event_type: EventType::ServiceIssue,
        status: "Resolved".into(),
        title: "x".into(),
        summary: None,
        description: None,
        article: None,
        level: None,
        impact_start: Some(t),
        mitigated_at: None,
        last_update: None,
        pir: PirState::None,
        pir_seen: None,
        false_positive: false,
        impacts: Vec::new(),
        subscriptions: Default::default(),
        updates: Vec::new(),
        first_seen: t,
        sensitive: false,
        details_unavailable: false,
        announced: true,
    }
}
