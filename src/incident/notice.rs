//! Notices: what pirwatch decided to tell a receiver, stored typed in the outbox and rendered
//! only when it is sent, so a mail says what is true at send time.
//!
//! A notice is identified by what it is about (never by when it was planned), so planning the
//! same notice twice folds into one outbox row. Each receiver's delivery of it is tracked on
//! its own.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ack::PirStage;
use super::ids::{MessageId, TenantName, TrackingId};

/// `FromStr` for an enum of stored words: each `ALL` value's `as_str()`, nothing else.
macro_rules! words_parse {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                Self::ALL
                    .into_iter()
                    .find(|k| k.as_str() == s)
                    .ok_or_else(|| UnknownValue(s.to_owned()))
            }
        }
    };
}

/// The kind of a notice, which is also the headline it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    New,
    Update,
    Resolved,
    Pir,
    FalsePositive,
    /// The first-poll digest of recent incidents with open follow-ups.
    Digest,
    /// A follow-up reminder (PIR review, claim, window closed, PIR nudge).
    Reminder,
    /// pirwatch's own trouble, for the operators.
    Operator,
}

impl NoticeKind {
    pub const ALL: [Self; 8] = [
        Self::New,
        Self::Update,
        Self::Resolved,
        Self::Pir,
        Self::FalsePositive,
        Self::Digest,
        Self::Reminder,
        Self::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Update => "update",
            Self::Resolved => "resolved",
            Self::Pir => "pir",
            Self::FalsePositive => "false_positive",
            Self::Digest => "digest",
            Self::Reminder => "reminder",
            Self::Operator => "operator",
        }
    }

    /// For people: `new incident`, `follow-up`, `PIR published`, …
    pub fn words(self) -> &'static str {
        match self {
            Self::New => "new incident",
            Self::Update => "update",
            Self::Resolved => "resolved",
            Self::Pir => "PIR published",
            Self::FalsePositive => "false positive",
            Self::Digest => "digest",
            Self::Reminder => "follow-up",
            Self::Operator => "operator notice",
        }
    }
}

words_parse!(NoticeKind);

/// A stored value this version of pirwatch does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// A reminder series, each stopped by its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    PirReview,
    Claim,
    /// Claim reminders toward Microsoft's deadline after a CSP partner's earlier one passed.
    SlaClaim,
    WindowClosed,
    PirNudge,
    /// Once, 45 days after a claim was filed with no answer recorded: chase it.
    ClaimChase,
}

impl Series {
    pub const ALL: [Self; 6] = [
        Self::PirReview,
        Self::Claim,
        Self::SlaClaim,
        Self::WindowClosed,
        Self::PirNudge,
        Self::ClaimChase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PirReview => "pir_review",
            Self::Claim => "claim",
            Self::SlaClaim => "sla_claim",
            Self::WindowClosed => "window_closed",
            Self::PirNudge => "pir_nudge",
            Self::ClaimChase => "claim_chase",
        }
    }
}

words_parse!(Series);

/// Which reminder of its series: identified by what it is, never by its position in a list,
/// so editing the schedule neither repeats nor skips one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The `n`th review reminder of this PIR stage.
    Review { stage: PirStage, n: u32 },
    /// The claim reminder this many days before the deadline.
    DaysBefore(u32),
    /// The series has one reminder.
    Once,
}

/// A reminder's identity: its series and step (`claim-d14`, `pir_review-final-2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ReminderKey {
    pub series: Series,
    pub step: Step,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Review { stage, n } => write!(f, "{}-{n}", stage.as_str()),
            Self::DaysBefore(d) => write!(f, "d{d}"),
            Self::Once => f.write_str("once"),
        }
    }
}

impl FromStr for Step {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        let bad = || UnknownValue(s.to_owned());
        if s == "once" {
            return Ok(Self::Once);
        }
        if let Some(d) = s.strip_prefix('d') {
            return d.parse().map(Self::DaysBefore).map_err(|_| bad());
        }
        let (stage, n) = s.split_once('-').ok_or_else(bad)?;
        let stage = match stage {
            "preliminary" => PirStage::Preliminary,
            "final" => PirStage::Final,
            _ => return Err(bad()),
        };
        Ok(Self::Review {
            stage,
            n: n.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for ReminderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.series.as_str(), self.step)
    }
}

/// Who a delivery goes to: the tenant's own recipients, a `[[routes]]` entry's receivers, the
/// `[notify] fallback`, or the operators.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Receiver {
    /// The `recipients` of the notice's tenant.
    TenantRecipients,
    /// The `to` and `cc` of the route of this name.
    Route(String),
    /// `[notify] fallback`: what no route took.
    Fallback,
    /// `[notify] operators`.
    Operators,
    /// The `[[webhooks]]` entry of this name.
    Webhook(String),
}

impl Receiver {
    /// `tenant`, `route:NAME`, `webhook:NAME`, `fallback` or `operators`.
    pub fn as_str(&self) -> String {
        match self {
            Self::TenantRecipients => "tenant".to_owned(),
            Self::Route(name) => format!("route:{name}"),
            Self::Webhook(name) => format!("webhook:{name}"),
            Self::Fallback => "fallback".to_owned(),
            Self::Operators => "operators".to_owned(),
        }
    }
}

impl FromStr for Receiver {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "tenant" => Ok(Self::TenantRecipients),
            "fallback" => Ok(Self::Fallback),
            "operators" => Ok(Self::Operators),
            _ => match (s.strip_prefix("route:"), s.strip_prefix("webhook:")) {
                (Some(name), _) if !name.is_empty() => Ok(Self::Route(name.to_owned())),
                (_, Some(name)) if !name.is_empty() => Ok(Self::Webhook(name.to_owned())),
                _ => Err(UnknownValue(s.to_owned())),
            },
        }
    }
}

/// What is wrong with pirwatch itself, told to the operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum OperatorCause {
    /// A scope has not been polled successfully since `since`.
    ScopeNotPolled {
        tenant: String,
        scope: String,
        since: Timestamp,
        error: String,
    },
    /// Every scope of a tenant fails because its credential (sign-in) does.
    CredentialFailing {
        tenant: String,
        since: Timestamp,
        error: String,
    },
    /// A delivery was given up on, for every recipient or some of them.
    DeliveryFailed {
        tenant: String,
        message_id: String,
        not_reached: Vec<String>,
        error: String,
    },
}

/// A notice to queue: which incidents, which kind, which follow-up step, from when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Stable and unique: what the notice is about (see `notify::message_id`).
    pub key: String,
    pub tenant: TenantName,
    pub kind: NoticeKind,
    /// The incidents it is about (one, or several for a digest).
    pub incidents: Vec<TrackingId>,
    /// The follow-ups (reminder steps) of its incident it accounts for: a reminder's, or the
    /// day's follow-ups folded into an incident mail.
    pub follow_ups: Vec<ReminderKey>,
    /// For update mails: the updates published from this instant on are the news.
    pub updates_from: Option<Timestamp>,
    /// For operator notices: what is wrong.
    pub operator: Option<OperatorCause>,
    /// Not before this instant (working hours, for reminders and digests).
    pub not_before: Timestamp,
    /// One delivery per receiver, each with its own `Message-ID`.
    pub deliveries: Vec<PlannedDelivery>,
}

/// One receiver's delivery of a notice, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDelivery {
    pub receiver: Receiver,
    pub message_id: MessageId,
    /// For a route in digest mode: the digest it goes out in (the route's next digest time
    /// after the notice was planned); `None`: on its own, at once.
    pub digest_at: Option<Timestamp>,
}

impl PlannedDelivery {
    /// A delivery on its own, at once.
    pub fn immediate(receiver: Receiver, message_id: MessageId) -> Self {
        Self {
            receiver,
            message_id,
            digest_at: None,
        }
    }
}

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent (or retried).
    Queued,
    /// Accepted by the receiver's server.
    Sent,
    /// Given up on after repeated permanent rejections.
    Failed,
    /// No longer true when it could be sent (e.g. acknowledged meanwhile): not sent.
    Superseded,
}

impl DeliveryState {
    pub const ALL: [Self; 4] = [Self::Queued, Self::Sent, Self::Failed, Self::Superseded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }

    /// For people: `waiting`, `sent`, `failed`, `not sent (no longer true)`.
    pub fn words(self) -> &'static str {
        match self {
            Self::Queued => "waiting",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Superseded => "not sent (no longer true)",
        }
    }
}

words_parse!(DeliveryState);

/// Where one recipient address of a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Its server accepted the mail.
    Sent,
    /// A temporary failure: retried.
    Deferred,
    /// Rejected for good by the server; retried a few times in case that was a mistake since
    /// fixed.
    Rejected,
    /// Given up on.
    Failed,
}

impl RecipientState {
    pub const ALL: [Self; 4] = [Self::Sent, Self::Deferred, Self::Rejected, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Deferred => "deferred",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// Still to be tried again.
    pub fn pending(self) -> bool {
        matches!(self, Self::Deferred | Self::Rejected)
    }
}

words_parse!(RecipientState);

/// One recipient address of a delivery, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientRecord {
    pub address: String,
    pub state: RecipientState,
    /// Permanent rejections so far.
    pub rejections: i64,
    pub error: Option<String>,
}

/// What one delivery attempt changes (see `notify::settle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The recipients tried this time, with their new records.
    pub recipients: Vec<RecipientRecord>,
    pub state: DeliveryState,
    /// When to try again (while queued).
    pub next_attempt: Timestamp,
    /// The first failure of this attempt, for people.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_steps_round_trip() {
        for step in [
            Step::Review {
                stage: PirStage::Final,
                n: 2,
            },
            Step::Review {
                stage: PirStage::Preliminary,
                n: 11,
            },
            Step::DaysBefore(14),
            Step::DaysBefore(0),
            Step::Once,
        ] {
            assert_eq!(step.to_string().parse::<Step>(), Ok(step));
        }
        for bad in ["", "d", "dx", "final", "final-x", "later-1", "ONCE"] {
            assert!(bad.parse::<Step>().is_err(), "{bad}");
        }
        let k = ReminderKey {
            series: Series::Claim,
            step: Step::DaysBefore(14),
        };
        assert_eq!(k.to_string(), "claim-d14");
    }

    #[test]
    fn stored_enums_round_trip_and_reject_unknown_values() {
        for k in NoticeKind::ALL {
            assert_eq!(k.as_str().parse::<NoticeKind>(), Ok(k));
        }
        for s in Series::ALL {
            assert_eq!(s.as_str().parse::<Series>(), Ok(s));
        }
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>(), Ok(s));
        }
        for s in RecipientState::ALL {
            assert_eq!(s.as_str().parse::<RecipientState>(), Ok(s));
        }
        assert!("sent ".parse::<DeliveryState>().is_err());
        assert!("reminders".parse::<NoticeKind>().is_err());
    }
}
