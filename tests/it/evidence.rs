//! Issue 12: claim evidence end to end, with time driven by the test against the fake ARM and
//! the real SMTP sink. Impacted resources are fetched (paged), shown in the mail, refetched
//! only when the event changes and once after it is resolved; availability histories are
//! fetched once after mitigation and give the downtime per resource; a security advisory's
//! resources are refused (403), logged once, and the incident is kept.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::followup::Sim;
use crate::support::TENANT_ID;
use crate::support::arm::Ev;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn vm(n: usize) -> String {
    format!(
        "/subscriptions/sub-a/resourceGroups/web/providers/Microsoft.Compute/virtualMachines/vm-{n}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impacted_resources_and_downtime_are_collected_for_the_claim() {
    let sim = Sim::with_config(|arm| {
        format!(
            "[[tenants]]\nname = \"contoso\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = [\"sub-a\"]\nrecipients = [\"it@contoso.example\"]\n\
             timezone = \"Europe/Amsterdam\"\n\
             working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
             working_hours = \"00:00-24:00\"\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n"
        )
    })
    .await;
    let daemon = sim.daemon().await;
    let stop = CancellationToken::new();
    let start = ts("2026-12-02T10:00:00Z");
    let requests = |what: &str| sim.arm.log().iter().filter(|l| l.contains(what)).count();
    // First pages only: one per resource asked.
    let histories = || {
        sim.arm
            .log()
            .iter()
            .filter(|l| l.contains("availabilityStatuses") && !l.contains("skipToken"))
            .count()
    };
    sim.arm.set_events("sub-a", Vec::new());
    daemon
        .cycle(start - mins(60), &stop)
        .await
        .expect("first poll");

    let ids: Vec<String> = (1..=5).map(vm).collect();
    let pairs: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "westeurope")).collect();
    sim.arm.set_impacted("sub-a", "EV-1", &pairs);
    let ev = Ev::service_issue("EV-1", "Virtual Machines in West Europe", start);
    sim.arm.set_events("sub-a", vec![ev.clone().build()]);
    let advisory =
        Ev::service_issue("SA-2", "A security advisory", start).event_type("SecurityAdvisory");
    sim.arm
        .set_events("sub-a", vec![ev.clone().build(), advisory.clone().build()]);
    daemon.cycle(start + mins(30), &stop).await.expect("cycle");
    // Five resources on three pages of two.
    assert_eq!(
        requests("/events/EV-1/impactedResources"),
        3,
        "{:#?}",
        sim.arm.log()
    );
    assert_eq!(requests("listSecurityAdvisoryImpactedResources"), 1);
    let mails = sim.sink.messages();
    let new = mails
        .iter()
        .find(|m| m.subject.contains("EV-1"))
        .expect("the new-incident mail");
    assert!(
        new.text.contains("Impacted:       5 resources (Resource Health): vm-1 (Microsoft.Compute/VirtualMachines, westeurope)"),
        "{}",
        new.text
    );
    assert!(
        !new.text.contains("more") && new.text.contains("vm-5"),
        "{}",
        new.text
    );

    // A steady cycle asks nothing; the refused advisory is not asked again.
    daemon.cycle(start + mins(40), &stop).await.expect("cycle");
    assert_eq!(requests("/events/EV-1/impactedResources"), 3);
    assert_eq!(
        requests("listSecurityAdvisoryImpactedResources"),
        1,
        "a 403 is asked once"
    );

    // The event changes (lastUpdateTime): fetched again.
    let ev = ev.update(start + mins(50), "<p>Rolling back</p>", &[]);
    sim.arm
        .set_events("sub-a", vec![ev.clone().build(), advisory.clone().build()]);
    daemon.cycle(start + mins(55), &stop).await.expect("cycle");
    assert_eq!(requests("/events/EV-1/impactedResources"), 6);

    // Resolved at 12:00: once more now; availability from 12:30, once.
    sim.arm.set_availability(
        &vm(1),
        &[
            ("Available", ts("2026-12-01T00:00:00Z")),
            ("Unavailable", start + mins(5)),
            ("Available", start + mins(110)),
        ],
    );
    sim.arm.set_availability(
        &vm(2),
        &[
            ("Degraded", start + mins(10)),
            ("Available", start + mins(40)),
        ],
    );
    let mitigated = start + mins(120);
    let ev = ev.update(
        mitigated + mins(5),
        "<p><b>Preliminary PIR.</b> A storage scale unit lost power; VMs restarted.</p>",
        &["Preliminary PIR"],
    );
    sim.arm.set_events(
        "sub-a",
        vec![ev.clone().resolved(mitigated).build(), advisory.build()],
    );
    daemon
        .cycle(mitigated + mins(10), &stop)
        .await
        .expect("cycle");
    assert_eq!(requests("/events/EV-1/impactedResources"), 9);
    assert_eq!(histories(), 0, "not before 30 minutes after mitigation");
    daemon
        .cycle(mitigated + mins(40), &stop)
        .await
        .expect("cycle");
    assert_eq!(
        requests("/events/EV-1/impactedResources"),
        9,
        "resolved: no more"
    );
    assert_eq!(histories(), 5, "one history per resource");
    assert_eq!(
        requests("availabilityStatuses"),
        6,
        "vm-1's history has two pages"
    );
    daemon
        .cycle(mitigated + mins(50), &stop)
        .await
        .expect("cycle");
    assert_eq!(requests("availabilityStatuses"), 6, "once");
    daemon.store().close().await;

    // What `show`, `incidents` and `export` say.
    let r = sim
        .env
        .pirwatch(&["show", "EV-1", "--tenant", "contoso", "--json"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown: Value = serde_json::from_str(&r.stdout).expect("json");
    let res = shown["resources"].as_array().expect("resources");
    assert_eq!(res.len(), 5);
    assert_eq!(res[0]["name"], "vm-1");
    assert_eq!(res[0]["downtime_minutes"], 105, "{:#?}", res[0]);
    assert_eq!(res[1]["downtime_minutes"], 0);
    assert_eq!(res[1]["degraded_minutes"], 30);
    assert!(
        res[2]["downtime_minutes"].is_null(),
        "no history: unknown, not zero"
    );
    assert_eq!(res[0]["info"][0][0], "n");
    let rows = sim.env.incidents().await;
    let row = rows
        .iter()
        .find(|r| r["tracking_id"] == "EV-1")
        .expect("row");
    assert_eq!(row["impacted_resources"], 5);
    let sa = sim
        .env
        .pirwatch(&["show", "SA-2", "--tenant", "contoso", "--json"])
        .await;
    let sa: Value = serde_json::from_str(&sa.stdout).expect("json");
    assert!(
        sa["resources_error"]
            .as_str()
            .is_some_and(|e| e.contains("403")),
        "{sa:#?}"
    );
    let md = sim
        .env
        .pirwatch(&["export", "EV-1", "--tenant", "contoso"])
        .await;
    assert!(
        md.stdout.contains("vm-1`")
            && md
                .stdout
                .contains("105 min unavailable, as reported by Resource Health"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("30 min degraded"), "{}", md.stdout);

    // The claim, drafted from all of it.
    let r = sim
        .env
        .pirwatch(&["claim", "draft", "EV-1", "--format", "json"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(d["tracking_id"], "EV-1");
    assert_eq!(d["tenant"], "contoso");
    assert_eq!(
        d["title"],
        "SLA credit request — Virtual Machines, West Europe, tracking id EV-1"
    );
    assert_eq!(d["description_from"], "preliminary_pir");
    assert!(
        d["description"]
            .as_str()
            .unwrap()
            .contains("A storage scale unit lost power")
    );
    assert_eq!(d["impact_start_utc"], "2026-12-02 10:00 UTC");
    assert_eq!(d["mitigated_at_utc"], "2026-12-02 12:00 UTC");
    assert!(
        d["impact_start"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-02T10:00:00")
    );
    assert_eq!(d["duration_minutes"], 120);
    assert_eq!(d["subscriptions"], serde_json::json!(["sub-a"]));
    assert_eq!(d["regions"], serde_json::json!(["West Europe"]));
    assert_eq!(d["resources"].as_array().unwrap().len(), 5);
    assert_eq!(d["resources"][0]["id"], vm(1));
    assert_eq!(d["resources"][0]["downtime_minutes"], 105);
    assert_eq!(
        d["resources"][0]["unavailable_spans"][0]["from_utc"],
        "2026-12-02 10:05 UTC"
    );
    assert_eq!(d["channel"], "microsoft");
    assert!(
        d["how_to_file"]
            .as_str()
            .unwrap()
            .contains("Refund Request")
    );
    let text = sim.env.pirwatch(&["claim", "draft", "EV-1"]).await.stdout;
    for want in [
        "SLA credit request — Virtual Machines, West Europe, tracking id EV-1",
        "Europe/Amsterdam: Wed 2026-12-02 11:00 CET (UTC+01:00) to Wed 2026-12-02 13:00 CET",
        "(from Microsoft's Preliminary PIR)",
        "unavailable 105 min; 2026-12-02 10:05 UTC to 2026-12-02 11:50 UTC (Wed 2026-12-02 11:05 CET",
        "degraded 30 min",
        "[TO FILL IN: what your team did",
        "problem type Refund Request",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let md = sim
        .env
        .pirwatch(&["claim", "draft", "EV-1", "--format", "markdown"])
        .await
        .stdout;
    assert!(md.starts_with("# SLA credit request"), "{md}");
    assert!(md.contains("| Tracking ID | `EV-1` |"), "{md}");
}

/// Issue 12: `claim draft --all-customers` — one request listing every affected customer of a
/// CSP partner, each with its tenant ID, subscriptions and resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_draft_lists_every_affected_customer_of_a_partner() {
    let customer = |name: &str, tenant_id: &str, sub: &str, arm: &str| {
        format!(
            "[[tenants]]\nname = \"{name}\"\ntenant_id = \"{tenant_id}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = [\"{sub}\"]\nrecipients = [\"it@{name}.example\"]\n\
             claim_channel = \"partner\"\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n"
        )
    };
    let sim = Sim::with_config(|arm| {
        customer("contoso", TENANT_ID, "sub-a", arm)
            + &customer(
                "fabrikam",
                "22222222-2222-2222-2222-222222222222",
                "sub-b",
                arm,
            )
    })
    .await;
    let daemon = sim.daemon().await;
    let stop = CancellationToken::new();
    let start = ts("2026-12-02T10:00:00Z");
    sim.arm.set_events("sub-a", Vec::new());
    sim.arm.set_events("sub-b", Vec::new());
    daemon
        .cycle(start - mins(60), &stop)
        .await
        .expect("first poll");
    let ev = Ev::service_issue("EV-9", "Storage in West Europe", start)
        .resolved(start + mins(90))
        .build();
    sim.arm.set_events("sub-a", vec![ev.clone()]);
    sim.arm.set_events("sub-b", vec![ev]);
    sim.arm
        .set_impacted("sub-b", "EV-9", &[(&vm(7), "westeurope")]);
    daemon.cycle(start + mins(100), &stop).await.expect("cycle");
    daemon.store().close().await;
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "draft",
            "EV-9",
            "--all-customers",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(d["channel"], "partner");
    let customers = d["customers"].as_array().expect("customers");
    let ids: Vec<(&str, &str)> = customers
        .iter()
        .map(|c| {
            (
                c["tenant"].as_str().unwrap(),
                c["tenant_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("contoso", TENANT_ID),
            ("fabrikam", "22222222-2222-2222-2222-222222222222")
        ]
    );
    assert_eq!(customers[1]["resources"].as_array().unwrap().len(), 1);
    assert_eq!(d["subscriptions"], serde_json::json!(["sub-a", "sub-b"]));
    assert!(
        d["how_to_file"].as_str().unwrap().contains("tenant list"),
        "{d:#?}"
    );
    let text = sim
        .env
        .pirwatch(&["claim", "draft", "EV-9", "--all-customers"])
        .await
        .stdout;
    assert!(text.contains("Affected customers (2):"), "{text}");
    assert!(
        text.contains("- fabrikam: tenant ID 22222222-2222-2222-2222-222222222222"),
        "{text}"
    );
    // Without --all-customers the tracking ID is ambiguous: pirwatch says so.
    let r = sim.env.pirwatch(&["claim", "draft", "EV-9"]).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("pass --tenant"), "{}", r.stderr);
}

/// Issue 12: `claim file` against the fake ARM's Support API — refused without a terminal or
/// `--yes`, for a subscription the incident did not affect, and for a CSP customer; a 403 says
/// which role is missing; then the ticket is created (Billing / Refund request looked up, a
/// long-running creation followed) once, its number recorded as the claim's reference; a
/// ticket an earlier run filed before crashing is found, not filed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_file_opens_one_support_ticket_and_records_its_number() {
    let sim = Sim::with_config(|arm| {
        format!(
            "[[tenants]]\nname = \"contoso\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = [\"sub-a\"]\nrecipients = [\"it@contoso.example\"]\n\
             timezone = \"Europe/Amsterdam\"\n\
             [tenants.support_contact]\nfirst_name = \"Ana\"\nlast_name = \"Silva\"\n\
             email = \"ana@contoso.example\"\ncountry = \"NLD\"\nlanguage = \"en-us\"\n\
             timezone = \"W. Europe Standard Time\"\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n\
             [[tenants]]\nname = \"fabrikam\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
             subscriptions = [\"sub-b\"]\nrecipients = [\"it@fabrikam.example\"]\n\
             claim_channel = \"partner\"\n\
             [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
             client_secret_file = \"secret\"\n"
        )
    })
    .await;
    let daemon = sim.daemon().await;
    let stop = CancellationToken::new();
    let start = ts("2026-12-02T10:00:00Z");
    sim.arm.set_events("sub-a", Vec::new());
    sim.arm.set_events("sub-b", Vec::new());
    daemon
        .cycle(start - mins(60), &stop)
        .await
        .expect("first poll");
    let ev = |id: &str| {
        Ev::service_issue(id, "Virtual Machines in West Europe", start)
            .resolved(start + mins(90))
            .build()
    };
    sim.arm.set_events("sub-a", vec![ev("CF-1"), ev("CF-2")]);
    sim.arm.set_events("sub-b", vec![ev("CF-3")]);
    daemon.cycle(start + mins(100), &stop).await.expect("cycle");
    daemon.store().close().await;
    // The CLI signs in through the fake `az` on its PATH (the daemon above used the local
    // token endpoint, which only an in-process credential can reach).
    let path = sim.env.config_path();
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "kind = \"client_secret\"\nclient_id = \"app\"\nclient_secret_file = \"secret\"\n",
        "kind = \"azure_cli\"\n",
    );
    std::fs::write(&path, text).unwrap();
    // Git hooks and CI run the suite without a terminal, as here: no confirmation, no ticket.
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-1",
            "--subscription",
            "sub-a",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("refusing to file without a confirmation"),
        "{}",
        r.stderr
    );
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-1",
            "--subscription",
            "sub-z",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("did not affect subscription sub-z"),
        "{}",
        r.stderr
    );
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-3",
            "--subscription",
            "sub-b",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("CSP customers cannot open Azure support requests"),
        "{}",
        r.stderr
    );
    assert_eq!(sim.arm.tickets().1, 0, "nothing was asked to be created");
    // Without the role: the error says which.
    sim.arm.deny_support(true);
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-1",
            "--subscription",
            "sub-a",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("Support Request Contributor"),
        "{}",
        r.stderr
    );
    sim.arm.deny_support(false);
    // Filed.
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-1",
            "--subscription",
            "sub-a",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (tickets, puts) = sim.arm.tickets();
    assert_eq!(puts, 2, "the refused attempt and this one");
    assert_eq!(tickets.len(), 1);
    let (name, t) = tickets.iter().next().unwrap();
    assert_eq!(
        name,
        &pirwatch::source::azure::support::ticket_name("contoso", "sub-a", "CF-1")
    );
    let p = &t["properties"];
    assert_eq!(
        p["title"],
        "SLA credit request — Virtual Machines, West Europe, tracking id CF-1"
    );
    assert!(
        p["description"]
            .as_str()
            .unwrap()
            .contains("Tracking ID: CF-1"),
        "{p:#?}"
    );
    assert_eq!(p["contactDetails"]["country"], "NLD");
    assert_eq!(
        p["contactDetails"]["preferredTimeZone"],
        "W. Europe Standard Time"
    );
    let number = p["supportTicketId"].as_str().unwrap().to_owned();
    assert!(
        r.stdout
            .contains(&format!("filed support request {number}")),
        "{}",
        r.stdout
    );
    let shown = sim
        .env
        .pirwatch(&["show", "CF-1", "--tenant", "contoso", "--json"])
        .await;
    let shown: Value = serde_json::from_str(&shown.stdout).expect("json");
    assert_eq!(shown["claim"]["state"], "claimed");
    assert_eq!(shown["claim"]["reference"], number.as_str());
    assert_eq!(shown["claim"]["by"], "ana");
    // Again: already recorded, nothing asked.
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-1",
            "--subscription",
            "sub-a",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("already recorded as filed"),
        "{}",
        r.stdout
    );
    assert_eq!(sim.arm.tickets().1, 2);
    // A ticket filed by a run that crashed before recording it: found, not filed twice.
    let earlier = pirwatch::source::azure::support::ticket_name("contoso", "sub-a", "CF-2");
    sim.arm.put_ticket(&earlier, "2612020040099999");
    let r = sim
        .env
        .pirwatch(&[
            "claim",
            "file",
            "CF-2",
            "--subscription",
            "sub-a",
            "--yes",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("found the already filed support request 2612020040099999"),
        "{}",
        r.stdout
    );
    assert_eq!(sim.arm.tickets().1, 2, "no new creation");
    // And its answer, later.
    let r = sim
        .env
        .pirwatch(&[
            "ack",
            "CF-2",
            "--claim-outcome",
            "approved",
            "--credit",
            "EUR 42.00",
            "--by",
            "ana",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sim
        .env
        .pirwatch(&["ack", "CF-3", "--claim-outcome", "denied", "--by", "ana"])
        .await;
    assert_ne!(r.code, 0, "no claim was filed for CF-3");
    assert!(
        r.stderr.contains("no claim was recorded as filed"),
        "{}",
        r.stderr
    );
    let md = sim.env.pirwatch(&["export", "CF-2"]).await.stdout;
    assert!(
        md.contains("claim answered (approved, credit EUR 42.00)"),
        "{md}"
    );
}
