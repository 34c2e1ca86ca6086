//! Acting from the inbox, in a real headless Chromium: the link in a mail received by the real
//! SMTP sink opens a confirmation page, the GET alone changes nothing, the form records the
//! acknowledgement, and the next cycle sends no further reminder of that series. Refusals —
//! a tampered, expired or other tenant's link, a form without its token or from another site —
//! are clear 4xx pages that change nothing. Every mail and page is laid out at 1280 and 390 px
//! without scrolling sideways.

use std::sync::{Arc, Mutex};

use fantoccini::Locator;
use fantoccini::key::Key;
use jiff::{SignedDuration, Timestamp};
use pirwatch::config::Config;
use pirwatch::daemon::Daemon;
use pirwatch::incident::ack::{AckKind, AckSource, PirStage};
use pirwatch::incident::notice::Receiver;
use pirwatch::notify::channel::email::Mailer;
use pirwatch::source::Source;
use pirwatch::source::azure::AzureSource;
use pirwatch::store::Store;
use pirwatch::web::link::{Keys, Link, LinkAction, LinkMaker};
use tokio_util::sync::CancellationToken;

use crate::support::arm::{Ev, FakeArm};
use crate::support::browser::Browser;
use crate::support::smtp::{Received, SinkOptions, SmtpSink};
use crate::support::token::{Seen, local_transport, token_endpoint};
use crate::support::{Env, TENANT_ID, TOKEN};

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

struct World {
    env: Env,
    arm: FakeArm,
    sink: SmtpSink,
    config: Arc<Config>,
    daemon: Daemon,
    base: String,
    keys: Keys,
    _stop: tokio_util::sync::DropGuard,
}

impl World {
    /// Two tenants (contoso, fabrikam) that work every day around the clock and are reminded
    /// to review a PIR every day; the web listener on a port the test bound.
    async fn new() -> Self {
        Self::with_web("").await
    }

    /// The same, with `extra` lines in `[web]` (e.g. the identity header and access rules).
    async fn with_web(extra: &str) -> Self {
        Self::build(extra, None, None).await
    }

    /// With a fixed `key` and a fixed `clock` for the pages (screenshots that do not churn).
    async fn build(extra: &str, key: Option<&str>, clock: Option<Timestamp>) -> Self {
        let env = Env::new();
        let arm = FakeArm::start(TOKEN).await;
        let sink = SmtpSink::start(env.path(), &SinkOptions::default());
        crate::support::write_secret(&env.path().join("secret"), "app-secret");
        let key = key.map_or_else(|| Keys::generate().expect("random"), str::to_owned);
        crate::support::write_secret(&env.path().join("web-key"), &format!("{key}\n"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let tenant = |name: &str, subs: &str| {
            format!(
                "[[tenants]]\nname = \"{name}\"\ntenant_id = \"{TENANT_ID}\"\n\
                 arm_endpoint = \"{arm}\"\nsubscriptions = [{subs}]\n\
                 recipients = [\"team@{name}.example\"]\ntimezone = \"Europe/Amsterdam\"\n\
                 working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
                 working_hours = \"00:00-24:00\"\n\
                 [tenants.reminders]\nreview_every_working_days = 1\n\
                 [tenants.credential]\nkind = \"client_secret\"\nclient_id = \"app\"\n\
                 client_secret_file = \"secret\"\n",
                arm = arm.base
            )
        };
        let text = format!(
            "[state]\npath = \"{state}\"\n[smtp]\nhost = \"localhost\"\nport = {port}\n\
             security = \"none\"\nfrom = \"pirwatch <pirwatch@example.com>\"\n\
             [web]\nlisten = \"{addr}\"\npublic_url = \"{base}\"\nkey_file = \"web-key\"\n\
             {extra}\n{contoso}{fabrikam}",
            state = env.state_path().display(),
            port = sink.port,
            contoso = tenant("contoso", "\"sub-a\""),
            fabrikam = tenant("fabrikam", "\"sub-f\", \"sub-g\""),
        );
        std::fs::write(env.config_path(), &text).expect("config");
        let config = Config::load(&env.config_path()).expect("config");
        config.check_secrets().expect("secrets");
        let keys = config.web_keys().expect("keys").expect("web on");
        let config = Arc::new(config);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let token_port = token_endpoint(seen.clone()).await;
        let store = Store::open(&config.state.path).await.expect("store");
        let transport = local_transport(token_port, &seen);
        let source = AzureSource::new(&config, reqwest::Client::new(), Some(transport));
        let mailer = Mailer::smtp(&config.smtp, None, None).expect("mailer");
        let web = config.web.as_ref().expect("web");
        let maker = LinkMaker::new(keys.clone(), web.public_url.clone(), web.link_ttl);
        let daemon = Daemon::new(
            config.clone(),
            store.clone(),
            Source::Azure(Box::new(source)),
            mailer,
        )
        .with_links(Some(maker));
        let (_tx, rx) = tokio::sync::watch::channel(Arc::new(pirwatch::web::Live {
            config: config.clone(),
            keys: keys.clone(),
        }));
        let stop = CancellationToken::new();
        let state = pirwatch::web::WebState {
            live: rx,
            store,
            renderer: Arc::new(pirwatch::notify::render::Renderer::new()),
            clock,
        };
        pirwatch::web::serve_on(listener, state, stop.clone()).expect("serve");
        std::mem::forget(_tx);
        Self {
            env,
            arm,
            sink,
            config,
            daemon,
            base,
            keys,
            _stop: stop.drop_guard(),
        }
    }

    async fn cycle(&self, at: Timestamp) {
        self.daemon
            .cycle(at, &CancellationToken::new())
            .await
            .expect("cycle");
    }

    fn mails(&self) -> Vec<Received> {
        self.sink.messages()
    }

    async fn acks(&self, tenant: &str, id: &str) -> Vec<pirwatch::incident::ack::Ack> {
        self.daemon.store().acks(tenant, id).await.expect("acks")
    }
}

/// The URL after `label: ` in a mail's text part.
fn link_after(m: &Received, label: &str) -> String {
    m.text
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|u| u.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label:?} link in:\n{}", m.text))
}

/// A form POST, as a browser (or a forger) sends it.
async fn post(url: &str, fields: &[(&str, &str)], origin: Option<&str>) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    let r = r.send().await.expect("POST");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("GET");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// An incident seen active 3 days ago, resolved with its Final PIR 2 days ago: its first
/// review reminder is due now.
async fn incident_with_a_pir_to_review(w: &World, now: Timestamp) {
    let start = now - h(72);
    let active = Ev::service_issue("WEB-1", "Storage in West Europe", start);
    w.arm.set_events("sub-a", vec![active.clone().build()]);
    w.arm.set_events(
        "sub-f",
        vec![Ev::service_issue("FAB-1", "Fabrikam's own outage", start).build()],
    );
    // Fabrikam's second subscription cannot be read until later (its first poll comes then).
    w.arm.break_scope(
        "sub-g",
        crate::support::arm::Fault::ArmError {
            status: 403,
            code: "AuthorizationFailed",
        },
    );
    w.cycle(start + h(1)).await;
    let pir = active.resolved(start + h(3)).update(
        now - h(48),
        "<p>Final PIR: a storage stamp upgrade.</p>",
        &["Final PIR"],
    );
    w.arm.set_events("sub-a", vec![pir.build()]);
    w.cycle(now - h(47)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_acknowledges_from_the_mail_in_a_real_browser() {
    let w = World::new().await;
    let now = Timestamp::now();
    incident_with_a_pir_to_review(&w, now).await;
    w.cycle(now).await;
    let mails = w.mails();
    let reminder = mails
        .iter()
        .find(|m| m.subject.contains("review the PIR of Azure incident WEB-1"))
        .expect("a review reminder");
    assert!(
        !reminder.text.contains("pirwatch ack"),
        "links, not commands: {}",
        reminder.text
    );
    let url = link_after(reminder, "I reviewed the PIR:");
    assert!(url.starts_with(&w.base), "{url}");

    let b = Browser::start(1280, 900).await;
    b.client.goto(&url).await.expect("open the link");
    let page = b.text().await;
    assert!(page.contains("I reviewed the PIR"), "{page}");
    assert!(page.contains("Storage in West Europe"), "{page}");
    // A link scanner that opens the link records nothing.
    assert!(
        w.acks("contoso", "WEB-1").await.is_empty(),
        "a GET changed nothing"
    );
    assert!(get(&url).await.0 == 200 && w.acks("contoso", "WEB-1").await.is_empty());

    b.type_into("by", "Ana Example").await;
    b.submit().await;
    let done = b.text_of("p.done").await;
    assert!(b.text().await.contains("Recorded"), "{done}");
    assert!(done.contains("recorded for Ana Example"), "{done}");
    let acks = w.acks("contoso", "WEB-1").await;
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(
        acks[0].kind,
        AckKind::Reviewed {
            stage: PirStage::Final
        }
    );
    assert_eq!(acks[0].by, "Ana Example");
    assert_eq!(
        acks[0].source,
        AckSource::Web {
            receiver: "tenant".into()
        }
    );

    // The next cycles send no further review reminder.
    let before = w.mails().len();
    w.cycle(now + h(25)).await;
    w.cycle(now + h(49)).await;
    let later: Vec<String> = w
        .mails()
        .into_iter()
        .skip(before)
        .map(|m| m.subject)
        .collect();
    assert!(
        later.iter().all(|s| !s.contains("review the PIR")),
        "{later:#?}"
    );

    // The next form on this device knows the name: two taps and one field to record a claim.
    let mails = w.mails();
    let pir_mail = mails
        .iter()
        .find(|m| m.subject.contains("PIR published"))
        .expect("the PIR mail");
    b.client
        .goto(&link_after(pir_mail, "We filed the claim:"))
        .await
        .expect("open");
    let name = b
        .client
        .find(Locator::Id("by"))
        .await
        .expect("name field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(name.as_deref(), Some("Ana Example"));
    b.type_into("reference", "2612170040001").await;
    b.submit().await;
    let done = b.text_of("p.done").await;
    assert!(
        done.contains("SLA claim filed, recorded for Ana Example"),
        "{done}"
    );

    // `show` lists who acknowledged, when and from where.
    let record = pirwatch::report::record(w.daemon.store(), &w.config, "contoso", "WEB-1", now)
        .await
        .expect("record")
        .expect("found");
    let json = serde_json::to_value(&record).expect("json");
    assert_eq!(json["acknowledgements"][0]["source"], "web");
    assert_eq!(json["acknowledgements"][0]["receiver"], "tenant");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_form_works_from_the_keyboard_alone_at_390_px() {
    let w = World::new().await;
    let now = Timestamp::now();
    incident_with_a_pir_to_review(&w, now).await;
    w.cycle(now).await;
    let mails = w.mails();
    let pir_mail = mails
        .iter()
        .find(|m| m.subject.contains("PIR published"))
        .expect("the PIR mail");
    let url = link_after(pir_mail, "We filed the claim:");
    let b = Browser::start(390, 844).await;
    b.client.goto(&url).await.expect("open");
    assert!(
        !b.scrolls_sideways().await,
        "the confirmation page fits 390 px"
    );
    // Tab to the name field, type, Tab to the support request number, type, Enter.
    let mut found = false;
    for _ in 0..15 {
        b.client
            .active_element()
            .await
            .expect("focus")
            .send_keys(&char::from(Key::Tab).to_string())
            .await
            .expect("tab");
        let id = b
            .client
            .active_element()
            .await
            .expect("focus")
            .attr("id")
            .await
            .expect("id");
        if id.as_deref() == Some("by") {
            found = true;
            break;
        }
    }
    assert!(found, "the name field is reachable with Tab");
    let typing = format!(
        "Bob Example{}2612010040001{}",
        char::from(Key::Tab),
        char::from(Key::Enter)
    );
    b.client
        .active_element()
        .await
        .expect("focus")
        .send_keys(&typing)
        .await
        .expect("type and submit");
    let done = b.text_of("p.done").await;
    assert!(
        done.contains("SLA claim filed, recorded for Bob Example"),
        "{done}"
    );
    assert!(!b.scrolls_sideways().await, "the result page fits 390 px");
    let acks = w.acks("contoso", "WEB-1").await;
    assert!(
        acks.iter().any(|a| a.kind
            == AckKind::Claimed {
                reference: Some("2612010040001".into())
            }),
        "{acks:?}"
    );
    assert!(
        acks.iter().any(|a| a.kind
            == AckKind::Reviewed {
                stage: PirStage::Final
            }),
        "a filed claim closes the review too: {acks:?}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_links_and_forms_are_clear_4xx_pages_that_change_nothing() {
    let w = World::new().await;
    let now = Timestamp::now();
    incident_with_a_pir_to_review(&w, now).await;
    w.cycle(now).await;
    let mails = w.mails();
    let reminder = mails
        .iter()
        .find(|m| m.subject.contains("review the PIR of Azure incident WEB-1"))
        .expect("a review reminder");
    let url = link_after(reminder, "I reviewed the PIR:");
    let token = url.rsplit('/').next().expect("token").to_owned();

    // Tampered: one character changed.
    let mut t = token.clone().into_bytes();
    let i = t.len() / 3;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{}/l/{}", w.base, String::from_utf8(t).expect("ascii"));
    let (status, body) = get(&tampered).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("This link does not work"), "{body}");

    // Expired, though signed with the right key.
    let expired = w.keys.sign(&Link {
        tenant: "contoso".into(),
        tracking_id: Some("WEB-1".into()),
        action: LinkAction::Reviewed,
        receiver: Receiver::TenantRecipients,
        expires: (now - h(1)).as_second(),
    });
    let (status, body) = get(&format!("{}/l/{expired}", w.base)).await;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("expired"), "{body}");

    // Contoso's page link does not show fabrikam's incident.
    let view = w.keys.sign(&Link {
        tenant: "contoso".into(),
        tracking_id: None,
        action: LinkAction::View,
        receiver: Receiver::TenantRecipients,
        expires: (now + h(1)).as_second(),
    });
    let (status, body) = get(&format!("{}/l/{view}/i/FAB-1", w.base)).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("own outage"), "{body}");
    let (status, body) = get(&format!("{}/l/{view}", w.base)).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Storage in West Europe") && !body.contains("Fabrikam"),
        "{body}"
    );

    // A POST without the form's token, or from another site, records nothing.
    let (status, _) = post(&url, &[("by", "Mallory"), ("form", "forged")], None).await;
    assert_eq!(status, 403);
    let csrf = {
        let (_, body) = get(&url).await;
        body.split("name=\"form\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the form token")
            .to_owned()
    };
    let fields = [("by", "Mallory"), ("form", csrf.as_str())];
    let (status, _) = post(&url, &fields, Some("https://evil.example")).await;
    assert_eq!(status, 403);
    // No name: the form again, with what is missing.
    let (status, body) = post(&url, &[("by", " "), ("form", csrf.as_str())], None).await;
    assert_eq!(status, 422);
    assert!(body.contains("Type your name"), "{body}");
    assert!(
        w.acks("contoso", "WEB-1").await.is_empty(),
        "nothing was recorded"
    );

    // Every page is strict about what it loads.
    let r = reqwest::get(&url).await.expect("get");
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a CSP")
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(
        r.headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert_eq!(
        r.headers()
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_and_page_fits_1280_and_390_px() {
    let w = World::new().await;
    let now = Timestamp::now();
    incident_with_a_pir_to_review(&w, now).await;
    // Fabrikam: an update, then resolved; an old resolved incident on a new subscription gives
    // the digest; another turns out a false positive.
    let start = now - h(72);
    let fab = Ev::service_issue("FAB-1", "Fabrikam's own outage", start);
    let updated = fab
        .clone()
        .update(now - h(30), "<p>Engineers found the cause.</p>", &[]);
    w.arm.set_events("sub-f", vec![updated.clone().build()]);
    w.cycle(now - h(29)).await;
    let false_positive = Ev::service_issue("FAB-2", "Not what it seemed", now - h(20));
    w.arm.set_events(
        "sub-f",
        vec![updated.clone().build(), false_positive.clone().build()],
    );
    w.cycle(now - h(19)).await;
    let resolved = updated.resolved(now - h(10));
    let fp = false_positive.update(
        now - h(9),
        "<p>Your services were not impacted.</p>",
        &["False Positive"],
    );
    w.arm
        .set_events("sub-f", vec![resolved.build(), fp.build()]);
    w.cycle(now - h(8)).await;
    // Its second subscription becomes readable: its first poll finds an earlier incident.
    let old = Ev::service_issue("FAB-0", "An earlier outage", now - h(60)).resolved(now - h(58));
    w.arm.set_events("sub-g", vec![old.build()]);
    w.arm.mend_scope("sub-g");
    w.cycle(now - h(7)).await;
    w.cycle(now).await;
    let mails = w.mails();
    for kind in [
        "incident",
        "update-",
        "resolved-",
        "pir-",
        "followup-",
        "false_positive",
        "digest-",
    ] {
        assert!(
            mails
                .iter()
                .any(|m| m.message_id.contains(&format!(".{kind}"))),
            "no {kind} mail: {:#?}",
            mails.iter().map(|m| &m.message_id).collect::<Vec<_>>()
        );
    }
    let dir = w.env.path().join("rendered");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut pages: Vec<(String, String)> = Vec::new();
    for (n, m) in mails.iter().enumerate() {
        let file = dir.join(format!("mail-{n}.html"));
        std::fs::write(&file, &m.html).expect("write");
        pages.push((m.subject.clone(), format!("file://{}", file.display())));
    }
    // Every kind the renderer makes, also those this world does not send (a route's digest,
    // the chase of a filed claim), from the start-up check's samples.
    let samples = pirwatch::notify::render::sample::render_every_kind(
        &pirwatch::notify::render::Renderer::new(),
    )
    .expect("samples");
    for (n, m) in samples.iter().enumerate() {
        let file = dir.join(format!("sample-{n}.html"));
        std::fs::write(&file, &m.html).expect("write");
        pages.push((m.subject.clone(), format!("file://{}", file.display())));
    }
    let reminder = mails
        .iter()
        .find(|m| m.subject.contains("review the PIR"))
        .expect("reminder");
    let tenant_page = reminder
        .text
        .lines()
        .skip_while(|l| !l.starts_with("All open follow-ups of contoso"))
        .nth(1)
        .expect("the tenant page link")
        .trim()
        .to_owned();
    pages.push(("tenant page".into(), tenant_page.clone()));
    pages.push(("incident page".into(), format!("{tenant_page}/i/WEB-1")));
    pages.push(("claim draft".into(), format!("{tenant_page}/i/WEB-1/claim")));
    pages.push((
        "confirmation page".into(),
        link_after(reminder, "I reviewed the PIR:"),
    ));
    let b = Browser::start(1280, 900).await;
    for width in [1280, 390] {
        b.viewport(width, 900).await;
        for (what, url) in &pages {
            b.client.goto(url).await.expect("open");
            assert_eq!(
                b.inner_width().await,
                u64::from(width),
                "the viewport is {width} px"
            );
            let text = b.text().await;
            assert!(!text.trim().is_empty(), "{what} at {width} px is blank");
            assert!(
                !b.scrolls_sideways().await,
                "{what} scrolls sideways at {width} px"
            );
        }
    }
    let page = get(&tenant_page).await.1;
    assert!(page.contains("Storage in West Europe"), "{page}");
    let incident = get(&format!("{tenant_page}/i/WEB-1")).await.1;
    assert!(
        incident.contains("class=\"timeline\"") && incident.contains("Final PIR: a storage"),
        "{incident}"
    );
    assert!(
        page.contains("I reviewed the PIR"),
        "the page's buttons: {page}"
    );
    // Issue 12: the incident page offers the drafted claim; it is the CLI's draft.
    let draft_url = format!("{tenant_page}/i/WEB-1/claim");
    assert!(
        incident.contains(&format!("href=\"{}\"", draft_url.replace('/', "&#x2f;")))
            || incident.contains(&format!("href=\"{draft_url}\"")),
        "{incident}"
    );
    b.client.goto(&draft_url).await.expect("open the draft");
    let shown = b.text_of("pre.draft").await;
    assert!(
        shown.contains("SLA credit request — ") && shown.contains("tracking id WEB-1"),
        "{shown}"
    );
    assert!(shown.contains("[TO FILL IN: what your team did"), "{shown}");
    let cli = w
        .env
        .pirwatch(&["claim", "draft", "WEB-1", "--tenant", "contoso"])
        .await
        .stdout;
    assert_eq!(shown.trim(), cli.trim(), "the page shows the CLI's draft");
    b.close().await;
}

async fn get_as(url: &str, user: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(url)
        .header("x-forwarded-email", user)
        .send()
        .await
        .expect("GET");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Single sign-on through a reverse proxy: the identity header is trusted only from the
/// configured proxies, and each identity sees only the tenants `[[web.access]]` grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_people_see_only_the_tenants_granted_to_them() {
    let access = "trusted_user_header = \"X-Forwarded-Email\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
                  [[web.access]]\nusers = [\"*@contoso.example\"]\ntenants = [\"contoso\"]\n\
                  [[web.access]]\nusers = [\"desk@partner.example\"]\ntenants = [\"*\"]\n";
    let w = World::with_web(access).await;
    let now = Timestamp::now();
    incident_with_a_pir_to_review(&w, now).await;
    let contoso = format!("{}/tenants/contoso", w.base);
    let fabrikam = format!("{}/tenants/fabrikam", w.base);
    let (status, body) = get_as(&contoso, "Ana@Contoso.example").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Storage in West Europe") && body.contains("I reviewed the PIR"),
        "{body}"
    );
    assert!(body.contains("signed in as Ana@Contoso.example"), "{body}");
    let (status, body) = get_as(&fabrikam, "ana@contoso.example").await;
    assert_eq!(
        status, 403,
        "a customer never sees another's incidents: {body}"
    );
    assert!(!body.contains("own outage"), "{body}");
    let (status, body) = get_as(&format!("{contoso}/i/FAB-1"), "ana@contoso.example").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_as(&fabrikam, "desk@partner.example").await;
    assert_eq!(status, 200, "the partner desk sees all: {body}");
    assert!(body.contains("own outage"), "{body}");
    let (status, body) = get_as(&format!("{}/tenants", w.base), "desk@partner.example").await;
    assert!(
        status == 200 && body.contains("contoso") && body.contains("fabrikam"),
        "{body}"
    );
    let (status, _) = get_as(&contoso, "eve@evil.example").await;
    assert_eq!(status, 403);
    let (status, _) = get(&contoso).await;
    assert_eq!(status, 401, "no identity, no page");

    // The same header from an address that is not a trusted proxy counts for nothing.
    let untrusted = World::with_web(
        "trusted_user_header = \"X-Forwarded-Email\"\ntrusted_proxies = [\"10.9.9.9\"]\n\
         [[web.access]]\nusers = [\"*\"]\ntenants = [\"*\"]\n",
    )
    .await;
    let (status, _) = get_as(
        &format!("{}/tenants/contoso", untrusted.base),
        "desk@partner.example",
    )
    .await;
    assert_eq!(status, 401);
}

/// `pirwatch gen-key` writes a key the config accepts, mode 0640, and never overwrites one.
#[tokio::test]
async fn gen_key_writes_a_usable_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let file = env.path().join("web-key");
    let r = env
        .pirwatch(&["gen-key", file.to_str().expect("utf-8")])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mode = std::fs::metadata(&file)
        .expect("written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
    let key = std::fs::read_to_string(&file).expect("read");
    assert!(Keys::parse(&key).is_ok(), "{key}");
    assert!(!r.stdout.contains(key.trim()), "the key is never printed");
    let r = env
        .pirwatch(&["gen-key", file.to_str().expect("utf-8")])
        .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("never overwrites"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        key,
        "unchanged"
    );
}

/// `pirwatch run` serves the web listener beside the daemon, with the strict headers, and a bad
/// key file stops it at start with the key named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pirwatch_run_serves_the_pages_and_refuses_a_bad_key() {
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let sink = SmtpSink::start(env.path(), &SinkOptions::default());
    let mut setup = crate::support::Setup::new(&arm.base, sink.port);
    setup.extra = "[web]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://localhost:8080\"\n\
                   key_file = \"web-key\"\n"
        .to_owned();
    env.write_config(&setup);
    crate::support::write_secret(&env.path().join("web-key"), "hunter2-secret\n");
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        r.stderr.contains("web.key_file:") && r.stderr.contains("line 1"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("hunter2"),
        "the file's content is never shown: {}",
        r.stderr
    );

    let key = Keys::generate().expect("random");
    crate::support::write_secret(&env.path().join("web-key"), &format!("{key}\n"));
    let log_path = env.path().join("run.log");
    let _child = env
        .command(&["run"])
        .stderr(std::process::Stdio::from(
            std::fs::File::create(&log_path).expect("log"),
        ))
        .spawn()
        .expect("spawn run");
    let mut addr = None;
    crate::support::wait_for("the web listener's address in the log", 20, || {
        addr = std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("web listener"))
            .find_map(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .map(str::to_owned);
        addr.is_some()
    })
    .await;
    let base = format!("http://{}", addr.expect("address"));
    let r = reqwest::get(format!("{base}/style.css"))
        .await
        .expect("css");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("content-security-policy").is_some());
    let (status, body) = get(&format!("{base}/l/garbage")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("This link does not work"), "{body}");
    let (status, _) = get(&format!("{base}/tenants")).await;
    assert_eq!(
        status, 401,
        "no identity header configured: nobody is signed in"
    );
}

/// Screenshots for README (`scripts/screenshots` runs this): a claim reminder and the tenant's
/// page, at 1280 and 390 px, with a fixed clock and key so the images do not churn. Writes to
/// `$PIRWATCH_SCREENSHOTS` (ignored otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run by scripts/screenshots"]
async fn screenshots() {
    let Some(out) = std::env::var_os("PIRWATCH_SCREENSHOTS") else {
        return;
    };
    let out = std::path::PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("screenshot dir");
    let now = Timestamp::from_second(1_797_498_000).expect("Thu 2026-12-17 08:00 UTC");
    let key = "5c1e7d0a9b3f4e2d8c6a1b0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807";
    let w = World::build("", Some(key), Some(now)).await;
    // An incident of early October: resolved with its Final PIR two days later, then left.
    let start = Timestamp::from_second(1_791_187_200).expect("Mon 2026-10-05 08:00 UTC");
    let ev = Ev::service_issue("7K2P-DQ8", "Connectivity issues - Virtual Machines - West Europe", start)
        .update(start + h(1), "<p><b>Investigating.</b> A subset of customers using Virtual Machines in West Europe may experience connection failures.</p>", &[]);
    w.arm.set_events("sub-a", vec![ev.clone().build()]);
    w.cycle(start + h(2)).await;
    let pir = ev.resolved(start + h(4)).update(
        start + h(50),
        "<h3>Post Incident Review (PIR)</h3><p><b>What happened?</b> A network configuration change in West Europe removed routes for part of one availability zone.</p><p><b>How are we making incidents like this less likely?</b> Topology-aware validation; slower zone-by-zone rollout.</p>",
        &["Final PIR"],
    );
    w.arm.set_events("sub-a", vec![pir.build()]);
    w.cycle(start + h(51)).await;
    w.cycle(now).await;
    let mails = w.mails();
    let claim = mails
        .iter()
        .find(|m| m.subject.contains("SLA claim for Azure incident 7K2P-DQ8"))
        .expect("the claim reminder");
    let html = w.env.path().join("claim-reminder.html");
    std::fs::write(&html, &claim.html).expect("write");
    let tenant_page = claim
        .text
        .lines()
        .skip_while(|l| !l.starts_with("All open follow-ups of contoso"))
        .nth(1)
        .expect("the tenant page link")
        .trim()
        .to_owned();
    let confirm = link_after(claim, "We filed the claim:");
    let shots = [
        ("claim-reminder", format!("file://{}", html.display())),
        ("follow-ups-page", tenant_page),
        ("confirm-claim", confirm),
    ];
    let b = Browser::start(1280, 900).await;
    for (name, url) in &shots {
        for width in [1280u32, 390] {
            b.viewport(width, 900).await;
            b.client.goto(url).await.expect("open");
            let height = b
                .client
                .execute("return document.documentElement.scrollHeight", vec![])
                .await
                .expect("height")
                .as_u64()
                .expect("a number");
            let height = u32::try_from(height).unwrap_or(4000).min(4000);
            b.viewport(width, height).await;
            let png = b.client.screenshot().await.expect("screenshot");
            std::fs::write(out.join(format!("{name}-{width}.png")), png).expect("write png");
        }
    }
    b.close().await;
}
