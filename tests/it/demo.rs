//! `pirwatch demo`: the real pipeline over the scripted incidents, mail to `.eml` files. A
//! newcomer sees every kind of mail a team gets — the incident's own, the first-poll digest, the
//! follow-ups with the claim deadline as a calendar entry — and each says only what is true.

use crate::support::Env;

#[tokio::test]
async fn the_demo_shows_every_kind_of_mail_and_says_it_in_the_readers_words() {
    let env = Env::new();
    let out = env.path().join("demo");
    let r = env
        .pirwatch(&["demo", "--out", out.to_str().expect("utf-8")])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails: Vec<(String, mail_parser::Message<'static>)> = std::fs::read_dir(&out)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let raw = std::fs::read(&p).expect("read");
            let m = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("parse")
                .into_owned();
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                m,
            )
        })
        .collect();
    for kind in ["new", "update", "resolved", "pir", "digest", "reminder"] {
        assert!(
            mails
                .iter()
                .any(|(name, _)| name.contains(&format!("-{kind}-"))),
            "no {kind} mail: {:?}",
            mails.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
    }
    let claim = mails
        .iter()
        .map(|(_, m)| m)
        .find(|m| {
            m.subject()
                .is_some_and(|s| s.contains("SLA claim for Azure incident DEMO-7K2P"))
        })
        .expect("a claim reminder");
    let ics = claim
        .attachments()
        .find(|a| mail_parser::MimeHeaders::is_content_type(*a, "text", "calendar"))
        .expect("the deadline as a calendar entry");
    assert!(String::from_utf8_lossy(ics.contents()).contains("BEGIN:VEVENT"));
    // After the demo team acknowledged the review, the claim reminder asks for the claim only.
    let text = claim.body_text(0).expect("text part");
    assert!(!text.contains("--reviewed"), "{text}");
    assert!(text.contains("DEMO"), "labelled as a demo: {text}");
    // The summary speaks the reader's words, not state names.
    for words in [
        "new incident",
        "PIR published",
        "follow-up",
        "reviewed by the demo team",
    ] {
        assert!(r.stdout.contains(words), "{words:?} in:\n{}", r.stdout);
    }
    for state in ["to_review", "no_pir", "window_closed", "queued"] {
        assert!(!r.stdout.contains(state), "{state:?} in:\n{}", r.stdout);
    }
}
