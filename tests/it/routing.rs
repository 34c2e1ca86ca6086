//! Issue 11 end to end, with time driven by the test (the daemon's cycles at simulated
//! instants, the fake ARM, the real SMTP sink): a route digest that collects a day's changes
//! from two customers into one mail at the route's local time; and webhooks — a local HTTP
//! receiver that is down for a while (503, then 429 with `Retry-After`) and then gets every
//! notice once, in order, signed; Teams and Slack payloads checked against their documented
//! shapes.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use jiff::{SignedDuration, Timestamp};
use pirwatch::notify::channel::webhook::WebhookSender;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::followup::Sim;
use crate::support::TENANT_ID;
use crate::support::arm::Ev;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// A tenant block on the fake ARM.
fn tenant(name: &str, sub: &str, recipient: &str, arm: &str) -> String {
    format!(
        "[[tenants]]\nname = \"{name}\"\ntenant_id = \"{TENANT_ID}\"\narm_endpoint = \"{arm}\"\n\
         subscriptions = [\"{sub}\"]\nrecipients = [\"{recipient}\"]\ntimezone = \"Europe/Amsterdam\"\n\
         working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
         working_hours = \"00:00-24:00\"\n\
         [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
         client_secret_file = \"secret\"\n"
    )
}

/// Runs the daemon's cycles from `from` to `to` (inclusive) every `step`.
async fn cycles(sim: &Sim, from: Timestamp, to: Timestamp, step: SignedDuration) {
    let daemon = sim.daemon().await;
    let stop = CancellationToken::new();
    let mut t = from;
    while t <= to {
        daemon.cycle(t, &stop).await.expect("cycle");
        t += step;
    }
    daemon.store().close().await;
}

/// Issue 11: `mode = "digest"`. The desk gets one mail at 08:00 Amsterdam time with the day's
/// changes of both customers (and nothing before it); the customers get theirs at once; a
/// quiet day sends the desk nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_route_collects_a_days_changes_into_one_mail_at_its_local_time() {
    let sim = Sim::with_config(|arm| {
        format!(
            "[[routes]]\nname = \"desk\"\nto = [\"desk@partner.example\"]\nmode = \"digest\"\n\
             digest_at = \"08:00\"\ntimezone = \"Europe/Amsterdam\"\ncontinue = true\n\
             {}{}",
            tenant("contoso", "sub-a", "it@contoso.example", arm),
            tenant("fabrikam", "sub-b", "ops@fabrikam.example", arm),
        )
    })
    .await;
    // Wednesday 2 December: VM-1 (contoso) starts at 10:00 UTC, is updated and resolved;
    // SQL-2 (fabrikam) starts at 12:00 UTC.
    let day = ts("2026-12-02T09:00:00Z");
    let vm_start = ts("2026-12-02T10:00:00Z");
    let sql_start = ts("2026-12-02T12:00:00Z");
    // 0: new; 1: an update; 2: resolved.
    let vm = |stage: u8| {
        let mut e = Ev::service_issue("VM-1", "Virtual Machines in West Europe", vm_start);
        if stage >= 1 {
            e = e.update(vm_start + h(4), "<p>Engineers are rolling back</p>", &[]);
        }
        if stage >= 2 {
            e = e.resolved(vm_start + h(6));
        }
        e.build()
    };
    sim.arm.set_events("sub-a", Vec::new());
    sim.arm.set_events("sub-b", Vec::new());
    // The first poll (nothing yet), then the day hour by hour.
    cycles(&sim, day, day, h(1)).await;
    sim.arm.set_events("sub-a", vec![vm(0)]);
    sim.arm.set_events(
        "sub-b",
        vec![Ev::service_issue("SQL-2", "SQL Database in West Europe", sql_start).build()],
    );
    cycles(&sim, vm_start + h(1), vm_start + h(3), h(1)).await;
    sim.arm.set_events("sub-a", vec![vm(1)]);
    cycles(&sim, vm_start + h(4), vm_start + h(5), h(1)).await;
    sim.arm.set_events("sub-a", vec![vm(2)]);
    // Up to 06:59 UTC = 07:59 in Amsterdam the next morning: the desk has nothing yet.
    cycles(&sim, vm_start + h(6), ts("2026-12-03T06:59:00Z"), h(1)).await;
    let desk = |mails: &[crate::support::smtp::Received]| -> Vec<crate::support::smtp::Received> {
        mails
            .iter()
            .filter(|m| m.rcpt_to.contains("desk@partner.example"))
            .cloned()
            .collect()
    };
    let mails = sim.sink.messages();
    assert!(desk(&mails).is_empty(), "{:#?}", desk(&mails));
    let own = |who: &str| mails.iter().filter(|m| m.rcpt_to.contains(who)).count();
    assert!(
        own("it@contoso.example") >= 2,
        "contoso's own mails went at once"
    );
    assert_eq!(own("ops@fabrikam.example"), 1);
    // 08:00 in Amsterdam: one digest with both customers' changes.
    cycles(
        &sim,
        ts("2026-12-03T07:00:00Z"),
        ts("2026-12-03T09:00:00Z"),
        h(1),
    )
    .await;
    let got = desk(&sim.sink.messages());
    assert_eq!(got.len(), 1, "{got:#?}");
    let d = &got[0];
    assert!(
        d.subject
            .starts_with("[pirwatch/desk] Digest: 2 incidents changed"),
        "{}",
        d.subject
    );
    assert_eq!(
        d.date,
        Some(ts("2026-12-03T07:00:00Z")),
        "dated at its digest time"
    );
    assert!(d.message_id.starts_with("<digest."), "{}", d.message_id);
    for want in [
        "[contoso] VM-1: Virtual Machines in West Europe",
        "new incident, update, resolved",
        "[fabrikam] SQL-2: SQL Database in West Europe",
        "since Wed 2026-12-02 08:00 CET",
        "Times are in Europe/Amsterdam.",
    ] {
        assert!(d.text.contains(want), "{want:?} in\n{}", d.text);
    }
    // SQL-2 is still active and VM-1 resolved: the digest does not invent deadlines.
    assert!(!d.text.contains("window closed"), "{}", d.text);
    // A quiet day: no digest.
    cycles(
        &sim,
        ts("2026-12-03T10:00:00Z"),
        ts("2026-12-04T09:00:00Z"),
        h(1),
    )
    .await;
    assert_eq!(
        desk(&sim.sink.messages()).len(),
        1,
        "a quiet day sends nothing"
    );
    // `show` lists the desk's delivery of each notice as sent in that digest.
    let r = sim
        .env
        .pirwatch(&["show", "VM-1", "--tenant", "contoso", "--json"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown: Value = serde_json::from_str(&r.stdout).expect("json");
    let mails = shown["mails"].as_array().expect("mails");
    let desk_rows: Vec<&Value> = mails
        .iter()
        .filter(|m| m["receiver"] == "route:desk")
        .collect();
    assert_eq!(desk_rows.len(), 3, "{mails:#?}");
    assert!(
        desk_rows.iter().all(|m| m["state"] == "sent"),
        "{desk_rows:#?}"
    );
}

/// The simulation's daemon, delivering to its `[[webhooks]]` too.
async fn daemon_with_webhooks(sim: &Sim) -> pirwatch::daemon::Daemon {
    sim.daemon().await.with_webhooks(
        sim.config.webhooks().expect("webhooks"),
        WebhookSender::new().expect("client"),
    )
}

/// One request the test receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

/// A webhook receiver: answers each path with the status its script says now.
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// (status, Retry-After) for `/generic`; the others always 200.
    generic: Arc<Mutex<(u16, Option<&'static str>)>>,
}

impl Receiver {
    async fn start(&self) -> u16 {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/{hook}",
            axum::routing::post(
                move |axum::extract::Path(hook): axum::extract::Path<String>,
                      headers: HeaderMap,
                      body: axum::body::Bytes| {
                    let me = me.clone();
                    async move {
                        let (status, wait) = if hook == "generic" {
                            *me.generic.lock().unwrap()
                        } else {
                            (200, None)
                        };
                        me.hits.lock().unwrap().push(Hit {
                            path: hook,
                            headers,
                            body: body.to_vec(),
                            answered: status,
                        });
                        let mut h = HeaderMap::new();
                        if let Some(w) = wait {
                            h.insert("retry-after", w.parse().unwrap());
                        }
                        (StatusCode::from_u16(status).unwrap(), h, "")
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }
}

fn json(h: &Hit) -> Value {
    serde_json::from_slice(&h.body).expect("a JSON body")
}

/// Issue 11: webhooks through the outbox. The generic receiver is down (503), then throttles
/// (429, `Retry-After: 3600`), then recovers: it gets every notice once, in the order they were
/// planned, each signed with HMAC-SHA-256 of the raw body and carrying a stable id; while one
/// waits, nothing later overtakes it. Teams and Slack get the documented shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_was_down_gets_every_notice_once_in_order() {
    let receiver = Receiver::default();
    *receiver.generic.lock().unwrap() = (503, None);
    let port = receiver.start().await;
    let sim = Sim::with_config(|arm| {
        format!(
            "[[webhooks]]\nname = \"hook\"\nkind = \"generic\"\nurl_file = \"hook-url\"\n\
             secret_file = \"hook-key\"\nretry_backoff = \"1m\"\nmax_attempts = 50\n\
             [[webhooks]]\nname = \"teams\"\nkind = \"teams\"\nurl_file = \"teams-url\"\n\
             [[webhooks]]\nname = \"slack\"\nkind = \"slack\"\nurl_file = \"slack-url\"\n\
             [[routes]]\nname = \"hooks\"\nwebhooks = [\"hook\", \"teams\", \"slack\"]\n\
             continue = true\n{}",
            tenant("contoso", "sub-a", "it@contoso.example", arm),
        )
    })
    .await;
    for (file, path) in [
        ("hook-url", "generic"),
        ("teams-url", "teams"),
        ("slack-url", "slack"),
    ] {
        crate::support::write_secret(
            &sim.env.path().join(file),
            &format!("http://127.0.0.1:{port}/{path}"),
        );
    }
    crate::support::write_secret(&sim.env.path().join("hook-key"), "hook-signing-key");
    let daemon = daemon_with_webhooks(&sim).await;
    let stop = CancellationToken::new();
    let t0 = ts("2026-12-02T09:00:00Z");
    let start = ts("2026-12-02T10:00:00Z");
    sim.arm.set_events("sub-a", Vec::new());
    daemon.cycle(t0, &stop).await.expect("first poll");
    // Three notices about A while the receiver is down: new, update, resolved; B: new.
    let a = Ev::service_issue("A-1", "Storage in West Europe", start);
    sim.arm.set_events("sub-a", vec![a.clone().build()]);
    daemon.cycle(start, &stop).await.expect("cycle");
    let a = a.update(start + h(1), "<p>Rolling back</p>", &[]);
    sim.arm.set_events("sub-a", vec![a.clone().build()]);
    daemon.cycle(start + h(1), &stop).await.expect("cycle");
    let b = Ev::service_issue("B-2", "Cosmos DB in West Europe", start + h(2)).build();
    sim.arm
        .set_events("sub-a", vec![a.clone().resolved(start + h(2)).build(), b]);
    daemon.cycle(start + h(2), &stop).await.expect("cycle");
    // Down: each cycle tried only the oldest notice (in order; nothing overtakes it).
    let tried: Vec<String> = receiver
        .hits("generic")
        .iter()
        .map(|h| json(h)["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!tried.is_empty());
    assert!(tried.iter().all(|id| id == &tried[0]), "{tried:?}");
    // Throttled for an hour: no try within that hour.
    *receiver.generic.lock().unwrap() = (429, Some("3600"));
    let t = start + h(3);
    daemon.cycle(t, &stop).await.expect("cycle");
    let throttled_at = receiver.hits("generic").len();
    for m in [10, 20, 30, 59] {
        daemon
            .cycle(t + SignedDuration::from_mins(m), &stop)
            .await
            .expect("cycle");
    }
    assert_eq!(
        receiver.hits("generic").len(),
        throttled_at,
        "Retry-After is honoured"
    );
    // Up again: everything, once, in order.
    *receiver.generic.lock().unwrap() = (200, None);
    let mut t = t + h(1);
    for _ in 0..10 {
        daemon.cycle(t, &stop).await.expect("cycle");
        t += SignedDuration::from_mins(10);
    }
    let accepted: Vec<Hit> = receiver
        .hits("generic")
        .into_iter()
        .filter(|h| h.answered == 200)
        .collect();
    let kinds: Vec<(String, String)> = accepted
        .iter()
        .map(|h| {
            let v = json(h);
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["incidents"][0]["tracking_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let want = [
        ("new", "A-1"),
        ("update", "A-1"),
        ("resolved", "A-1"),
        ("new", "B-2"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, i)| ((*k).to_owned(), (*i).to_owned()))
        .collect();
    assert_eq!(kinds, want, "every notice once, in order");
    assert_eq!(
        json(&accepted[0])["id"].as_str().unwrap(),
        tried[0],
        "the same id on retry"
    );
    for h in &accepted {
        let v = json(h);
        assert_eq!(v["schema"], "pirwatch.notification.v1");
        assert_eq!(v["tenant"], "contoso");
        let sig = h.headers["x-pirwatch-signature"].to_str().unwrap();
        assert_eq!(
            sig,
            pirwatch::notify::channel::webhook::signature(b"hook-signing-key", &h.body)
        );
        assert_eq!(h.headers["x-pirwatch-delivery"].to_str().unwrap(), v["id"]);
        assert_eq!(h.headers["content-type"], "application/json");
    }
    // The outbox shows nothing left, and `show` lists each webhook delivery.
    let r = sim
        .env
        .pirwatch(&["show", "A-1", "--tenant", "contoso", "--json"])
        .await;
    let shown: Value = serde_json::from_str(&r.stdout).expect("json");
    let hooks: Vec<&Value> = shown["mails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["receiver"] == "webhook:hook")
        .collect();
    assert_eq!(hooks.len(), 3);
    assert!(hooks.iter().all(|m| m["state"] == "sent"), "{hooks:#?}");

    teams_and_slack_have_their_documented_shapes(&receiver);
    daemon.store().close().await;
    // `preview --webhook` prints the body a webhook would be posted, sending nothing.
    let before = receiver.hits("slack").len();
    let r = sim
        .env
        .pirwatch(&[
            "preview",
            "A-1",
            "--tenant",
            "contoso",
            "--webhook",
            "slack",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let body: Value = serde_json::from_str(&r.stdout).expect("the JSON body");
    assert!(
        body["blocks"].as_array().is_some_and(|b| !b.is_empty()),
        "{body:#}"
    );
    assert_eq!(receiver.hits("slack").len(), before, "nothing posted");
}

/// Teams (Workflows): a `message` with one Adaptive Card attachment; Slack: `text` plus Block
/// Kit blocks within their limits.
fn teams_and_slack_have_their_documented_shapes(receiver: &Receiver) {
    let teams = receiver.hits("teams");
    assert_eq!(teams.len(), 4, "delivered once each, the receiver was up");
    for h in &teams {
        assert!(
            h.headers.get("x-pirwatch-signature").is_none(),
            "not signed"
        );
        let v = json(h);
        assert_eq!(v["type"], "message");
        let a = v["attachments"].as_array().unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &a[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert!(["1.0", "1.2", "1.4", "1.5"].contains(&card["version"].as_str().unwrap()));
        for el in card["body"].as_array().unwrap() {
            let t = el["type"].as_str().unwrap();
            assert!(["TextBlock", "Container", "FactSet"].contains(&t), "{t}");
        }
        let text = v.to_string();
        assert!(text.contains("contoso") || text.contains("Storage") || text.contains("Cosmos"));
        assert!(h.body.len() < 28 * 1024, "Teams' card size limit");
    }
    let slack = receiver.hits("slack");
    assert_eq!(slack.len(), 4);
    for h in &slack {
        let v = json(h);
        assert!(
            v["text"].as_str().is_some_and(|t| !t.is_empty()),
            "the fallback text"
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= 50);
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(b["text"]["type"], "plain_text");
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 150);
                }
                "section" => {
                    assert_eq!(b["text"]["type"], "mrkdwn");
                    assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
                    let fields = b["fields"].as_array().unwrap();
                    assert!(fields.len() <= 10);
                    assert!(fields.iter().all(|f| f["type"] == "mrkdwn"
                        && f["text"].as_str().unwrap().chars().count() <= 2000));
                }
                "context" | "actions" => {}
                other => panic!("unexpected block type {other}"),
            }
        }
    }
}

/// Issue 11: `[smtp.oauth]`. pirwatch signs in to Entra ID with the configured credential,
/// asks for Exchange Online's scope, and logs in to the SMTP server with AUTH XOAUTH2 as
/// `smtp.username` — no password anywhere; the server (aiosmtpd, XOAUTH2 only) accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_oauth_sends_with_an_entra_token_over_xoauth2() {
    use crate::support::smtp::SinkOptions;
    let opts = SinkOptions {
        xoauth2: Some(("bot@contoso.example".into(), crate::support::TOKEN.into())),
        ..Default::default()
    };
    let sim = Sim::with_sink(
        &opts,
        "username = \"bot@contoso.example\"\n\
         [smtp.oauth]\ntenant_id = \"11111111-2222-3333-4444-555555555555\"\n\
         [smtp.oauth.credential]\nkind = \"client_secret\"\nclient_id = \"mail-app\"\n\
         client_secret_file = \"secret\"\n",
        |arm| tenant("contoso", "sub-a", "it@contoso.example", arm),
    )
    .await;
    let token =
        pirwatch::source::azure::credential::smtp_token(&sim.config, sim.credential_transport())
            .expect("credential")
            .expect("configured");
    let mailer = pirwatch::notify::channel::email::Mailer::smtp(&sim.config.smtp, None, None)
        .expect("mailer")
        .with_oauth(&sim.config.smtp, token)
        .expect("oauth");
    let daemon = sim.daemon_with(mailer).await;
    let stop = CancellationToken::new();
    let start = ts("2026-12-02T10:00:00Z");
    sim.arm.set_events("sub-a", Vec::new());
    daemon.cycle(start, &stop).await.expect("first poll");
    sim.arm.set_events(
        "sub-a",
        vec![Ev::service_issue("OA-1", "Exchange in West Europe", start).build()],
    );
    let r = daemon.cycle(start + h(1), &stop).await.expect("cycle");
    assert_eq!(r.delivery.sent, 1, "{r:?}");
    let mails = sim.sink.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("OA-1"));
    let log = std::fs::read_to_string(sim.env.path().join("smtp-sink.log")).unwrap();
    assert!(log.contains("XOAUTH2 user=bot@contoso.example ok"), "{log}");
    // The token came from the mailbox's tenant, for Exchange Online's scope.
    let asked = sim.token_requests();
    assert!(
        asked.iter().any(
            |(line, body)| line.contains("11111111-2222-3333-4444-555555555555")
                && body.contains("outlook.office365.com")
                && body.contains("mail-app")
        ),
        "{asked:#?}"
    );
    daemon.store().close().await;
}

/// Issue 11: a webhook that keeps failing is given up on after `max_attempts` tries, and the
/// operators hear of it by mail, naming the webhook but never its URL (a secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_keeps_failing_is_given_up_on_and_the_operators_are_told() {
    let receiver = Receiver::default();
    *receiver.generic.lock().unwrap() = (503, None);
    let port = receiver.start().await;
    let sim = Sim::with_config(|arm| {
        format!(
            "[notify]\noperators = [\"ops@partner.example\"]\n\
             [[webhooks]]\nname = \"flaky\"\nkind = \"generic\"\nurl_file = \"hook-url\"\n\
             secret_file = \"hook-key\"\nretry_backoff = \"1m\"\nmax_attempts = 3\n\
             [[routes]]\nname = \"hooks\"\nwebhooks = [\"flaky\"]\ncontinue = true\n{}",
            tenant("contoso", "sub-a", "it@contoso.example", arm),
        )
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/generic?token=URL-SECRET-7");
    crate::support::write_secret(&sim.env.path().join("hook-url"), &url);
    crate::support::write_secret(&sim.env.path().join("hook-key"), "k");
    let daemon = daemon_with_webhooks(&sim).await;
    let stop = CancellationToken::new();
    let start = ts("2026-12-02T10:00:00Z");
    sim.arm.set_events("sub-a", Vec::new());
    daemon.cycle(start, &stop).await.expect("first poll");
    sim.arm.set_events(
        "sub-a",
        vec![Ev::service_issue("F-1", "Storage in West Europe", start).build()],
    );
    let mut t = start + h(1);
    for _ in 0..12 {
        daemon.cycle(t, &stop).await.expect("cycle");
        t += SignedDuration::from_mins(10);
    }
    assert_eq!(
        receiver.hits("generic").len(),
        3,
        "max_attempts tries, no more"
    );
    let ops: Vec<_> = sim
        .sink
        .messages()
        .into_iter()
        .filter(|m| m.rcpt_to.contains("ops@partner.example"))
        .collect();
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert!(ops[0].text.contains("flaky"), "{}", ops[0].text);
    assert!(ops[0].text.contains("HTTP 503"), "{}", ops[0].text);
    for m in sim.sink.messages() {
        assert!(!m.text.contains("URL-SECRET-7") && !m.html.contains("URL-SECRET-7"));
    }
    let r = sim.env.pirwatch(&["outbox", "list", "--json"]).await;
    assert!(
        r.stdout.contains("webhook") && !r.stdout.contains("URL-SECRET-7"),
        "{}",
        r.stdout
    );
    daemon.store().close().await;
}
