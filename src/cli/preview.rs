//! `pirwatch preview`: what a receiver would get about an incident, rendered from the store as
//! it is now, without sending; and `pirwatch send-test-email`: the SMTP settings end to end.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;

use super::{PreviewFormat, PreviewKind, daemon_with, load_config, mailer, open_store_to_read};
use crate::followup::assess;
use crate::incident::ack::Acks;
use crate::incident::notice::{Receiver, ReminderKey};
use crate::incident::{MessageId, NoticeKind};
use crate::metrics::Metrics;
use crate::notify::channel::email::OutgoingMail;
use crate::notify::channel::webhook::WebhookKind;
use crate::notify::deliver::Composed;
use crate::store::QueuedDelivery;

impl PreviewKind {
    fn notice_kind(self) -> NoticeKind {
        match self {
            Self::New => NoticeKind::New,
            Self::Update => NoticeKind::Update,
            Self::Resolved => NoticeKind::Resolved,
            Self::Pir => NoticeKind::Pir,
            Self::FalsePositive => NoticeKind::FalsePositive,
            Self::Reminder => NoticeKind::Reminder,
            Self::Digest => NoticeKind::Digest,
        }
    }
}

/// Which mail to preview, for whom, and how to print it.
pub(super) struct What {
    pub kind: PreviewKind,
    /// A route's receivers instead of the tenant's recipients.
    pub route: Option<String>,
    pub webhook: Option<String>,
    pub format: PreviewFormat,
}

pub(super) async fn preview(
    path: &Path,
    tracking_id: &str,
    tenant: Option<&str>,
    what: What,
) -> anyhow::Result<ExitCode> {
    let What {
        kind,
        route,
        webhook,
        format,
    } = what;
    let config = load_config(path)?;
    let receiver = match (route, webhook) {
        (_, Some(name)) if config.webhooks.iter().any(|w| w.name == name) => {
            Receiver::Webhook(name)
        }
        (_, Some(name)) => {
            let known: Vec<&str> = config.webhooks.iter().map(|w| w.name.as_str()).collect();
            anyhow::bail!(
                "no webhook {name:?} in the config (webhooks: {})",
                known.join(", ")
            )
        }
        (route, None) => match route {
            Some(name) if config.route(&name).is_some() => Receiver::Route(name),
            Some(name) => {
                let known: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
                anyhow::bail!(
                    "no route {name:?} in the config (routes: {})",
                    known.join(", ")
                )
            }
            None => Receiver::TenantRecipients,
        },
    };
    let store = open_store_to_read(&config).await?;
    let config = super::with_discovered(config, &store).await?;
    let i = super::records::resolve(&store, tracking_id, tenant).await?;
    let t = config
        .tenant(&i.tenant)
        .with_context(|| format!("tenant {} is no longer in the config", i.tenant))?;
    let now = Timestamp::now();
    // A reminder shows every follow-up scheduled by now (what the next one would carry).
    let follow_ups: Vec<ReminderKey> = if kind == PreviewKind::Reminder {
        let acks = Acks::from_records(&store.acks(&i.tenant, &i.tracking_id).await?);
        let f = assess(&i, &acks, &Default::default(), &t.policy, now);
        f.schedule
            .iter()
            .filter(|r| r.at <= now)
            .map(|r| r.key)
            .collect()
    } else {
        Vec::new()
    };
    let d = QueuedDelivery {
        key: "preview".into(),
        receiver,
        message_id: MessageId::new(format!("<preview.{}@pirwatch.invalid>", i.tracking_id)),
        tenant: i.tenant.clone(),
        kind: kind.notice_kind(),
        incidents: vec![i.tracking_id.clone()],
        follow_ups,
        updates_from: i.updates.iter().map(|u| u.published).max(),
        operator: None,
        planned: now,
        digest_at: None,
        attempts: 0,
        rejections: 0,
    };
    let webhook_kinds: Vec<(String, WebhookKind)> = config
        .webhooks
        .iter()
        .map(|w| (w.name.clone(), w.kind))
        .collect();
    let daemon = daemon_with(config, store, Arc::new(Metrics::new()))?;
    let composed = daemon.preview(&d, now).await?;
    daemon.store().close().await;
    match composed {
        Composed::Mail(m) => {
            print_mail(&m, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Composed::Webhook(doc) => {
            let kind = config_kind(&webhook_kinds, &d.receiver);
            let body = crate::notify::channel::webhook::payload::body(kind, &doc);
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        Composed::Superseded(why) => {
            eprintln!("pirwatch preview: nothing would be sent: {why}");
            Ok(ExitCode::from(1))
        }
        Composed::Undeliverable(why) => anyhow::bail!("this mail cannot be made: {why}"),
    }
}

/// The kind of the webhook a receiver names (generic when it names none).
fn config_kind(kinds: &[(String, WebhookKind)], receiver: &Receiver) -> WebhookKind {
    match receiver {
        Receiver::Webhook(n) => kinds
            .iter()
            .find(|(k, _)| k == n)
            .map_or(WebhookKind::Generic, |(_, kind)| *kind),
        _ => WebhookKind::Generic,
    }
}

fn print_mail(m: &OutgoingMail, format: PreviewFormat) -> anyhow::Result<()> {
    let to: Vec<String> = m.to.iter().map(ToString::to_string).collect();
    let cc: Vec<String> = m.cc.iter().map(ToString::to_string).collect();
    match format {
        PreviewFormat::Text => {
            println!("To: {}", to.join(", "));
            if !cc.is_empty() {
                println!("Cc: {}", cc.join(", "));
            }
            println!("Subject: {}\n", m.subject);
            print!("{}", m.text);
        }
        PreviewFormat::Html => print!("{}", m.html),
        PreviewFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "to": to,
                "cc": cc,
                "subject": m.subject,
                "in_reply_to": m.in_reply_to.as_ref().map(ToString::to_string),
                "list_id": m.list_id,
                "text": m.text,
                "html": m.html,
                "ics": m.ics,
            }))?
        ),
    }
    Ok(())
}

/// Sends one test mail to `to` with the configured SMTP settings, and says what became of it.
pub(super) async fn send_test_email(path: &Path, to: &str) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let mailbox: lettre::message::Mailbox = to
        .parse()
        .with_context(|| format!("--to {to:?} is not a mail address"))?;
    let mailer = mailer(&config)?;
    let now = Timestamp::now();
    let domain = config.smtp.from.email.domain().to_owned();
    let mail = OutgoingMail {
        message_id: MessageId::new(format!("<test.{}@{domain}>", now.as_millisecond())),
        kind: "test",
        to: vec![mailbox.clone()],
        cc: Vec::new(),
        subject: "[pirwatch] Test mail".into(),
        text: format!(
            "This is a test mail from pirwatch, sent with the [smtp] settings of {}.\n\
             If it arrived, pirwatch's mail reaches you.\n",
            path.display()
        ),
        html: String::new(),
        in_reply_to: None,
        date: now,
        ics: None,
        list_id: None,
    };
    let mail = OutgoingMail {
        html: format!("<p>{}</p>", ammonia::clean_text(&mail.text)),
        ..mail
    };
    match mailer
        .send(&mail, std::slice::from_ref(&mailbox.email))
        .await
    {
        Ok(outcomes) => {
            let mut ok = true;
            for (address, outcome) in outcomes {
                match outcome {
                    Ok(()) => println!("{address}: accepted by {}", config.smtp.host),
                    Err(e) => {
                        ok = false;
                        println!("{address}: refused: {e}");
                    }
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            eprintln!("pirwatch send-test-email: not sent: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
