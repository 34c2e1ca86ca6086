//! The domain: an `Incident` as pirwatch remembers it, its PIR state, and the `Change`s the
//! tracker finds between two polls.
//!
//! An incident is identified by (tenant, tracking id); the same event seen through several
//! subscriptions is one incident with the set of subscriptions it affected. Every update ever
//! seen is kept, because Azure forgets them after 90 days.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::source::event::{EventStatus, EventType, ImpactedRegion, Update};

/// How far Microsoft's Post-Incident Review has come. Ordered: `None < Preliminary < Final`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PirState {
    None,
    Preliminary,
    Final,
}

impl PirState {
    /// `none`, `preliminary` or `final`, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Preliminary => "preliminary",
            Self::Final => "final",
        }
    }

    /// Parses the stored form; anything unknown is `None`.
    pub fn parse(s: &str) -> Self {
        match s {
            "preliminary" => Self::Preliminary,
            "final" => Self::Final,
            _ => Self::None,
        }
    }
}

impl fmt::Display for PirState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What pirwatch knows about one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The configured tenant name.
    pub tenant: String,
    /// Azure's tracking id.
    pub tracking_id: String,
    pub event_type: EventType,
    /// `Resolved` once the event or every impacted region says so.
    pub status: EventStatus,
    pub title: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub article: Option<String>,
    pub level: Option<String>,
    pub impact_start: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    pub last_update: Option<Timestamp>,
    pub pir: PirState,
    /// When pirwatch first saw a PIR for it (review reminders count from here).
    pub pir_seen: Option<Timestamp>,
    /// Microsoft said the service was healthy after all; follow-ups stop.
    pub false_positive: bool,
    pub impacts: Vec<ImpactedRegion>,
    /// Subscriptions the event was seen through or listed for.
    pub subscriptions: BTreeSet<String>,
    /// Every update ever seen, oldest first, without repeats.
    pub updates: Vec<Update>,
    /// When pirwatch first saw it.
    pub first_seen: Timestamp,
    pub sensitive: bool,
    pub details_unavailable: bool,
}

impl Incident {
    /// Impacted services, sorted.
    pub fn services(&self) -> BTreeSet<&str> {
        self.impacts.iter().map(|i| i.service.as_str()).collect()
    }

    /// Impacted regions, sorted.
    pub fn regions(&self) -> BTreeSet<&str> {
        self.impacts.iter().map(|i| i.region.as_str()).collect()
    }

    pub fn is_resolved(&self) -> bool {
        self.status == EventStatus::Resolved
    }

    /// The newest update, if any.
    pub fn latest_update(&self) -> Option<&Update> {
        self.updates.last()
    }

    /// The newest update carrying a PIR tag.
    pub fn pir_update(&self) -> Option<&Update> {
        use crate::source::event::{TAG_FINAL_PIR, TAG_PRELIMINARY_PIR};
        self.updates
            .iter()
            .rev()
            .find(|u| u.tags.contains(TAG_FINAL_PIR) || u.tags.contains(TAG_PRELIMINARY_PIR))
    }
}

/// One thing that happened to an incident between two polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Seen for the first time.
    New,
    /// New communications were published.
    Updated { count: usize },
    /// It is now resolved.
    Resolved,
    /// A PIR (of this stage) was published.
    Pir(PirState),
    /// Tagged `False Positive`.
    FalsePositive,
}

/// The kind of a mail, which is also the headline it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    New,
    Update,
    Resolved,
    Pir,
    FalsePositive,
    Digest,
    /// A follow-up reminder (PIR review, claim, window closed, PIR nudge).
    Reminder,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Update => "update",
            Self::Resolved => "resolved",
            Self::Pir => "pir",
            Self::FalsePositive => "false_positive",
            Self::Digest => "digest",
            Self::Reminder => "reminder",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Self::New,
            "update" => Self::Update,
            "resolved" => Self::Resolved,
            "pir" => Self::Pir,
            "false_positive" => Self::FalsePositive,
            "digest" => Self::Digest,
            "reminder" => Self::Reminder,
            _ => return None,
        })
    }

    /// The one mail for a set of changes found in one poll: it speaks of the latest state, so
    /// the most significant change wins (a PIR mail also says the incident is resolved).
    pub fn for_changes(changes: &[Change]) -> Option<Self> {
        let rank = |c: &Change| match c {
            Change::FalsePositive => (5, Self::FalsePositive),
            Change::Pir(_) => (4, Self::Pir),
            Change::Resolved => (3, Self::Resolved),
            Change::New => (2, Self::New),
            Change::Updated { .. } => (1, Self::Update),
        };
        changes
            .iter()
            .map(rank)
            .max_by_key(|(r, _)| *r)
            .map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_significant_change_picks_the_mail() {
        use Change::*;
        assert_eq!(NoticeKind::for_changes(&[]), None);
        assert_eq!(
            NoticeKind::for_changes(&[Updated { count: 1 }]),
            Some(NoticeKind::Update)
        );
        assert_eq!(
            NoticeKind::for_changes(&[New, Updated { count: 2 }]),
            Some(NoticeKind::New)
        );
        assert_eq!(
            NoticeKind::for_changes(&[Resolved, Pir(PirState::Final), Updated { count: 1 }]),
            Some(NoticeKind::Pir)
        );
        assert_eq!(
            NoticeKind::for_changes(&[Pir(PirState::Final), FalsePositive]),
            Some(NoticeKind::FalsePositive)
        );
    }

    #[test]
    fn pir_states_order_and_round_trip() {
        assert!(PirState::None < PirState::Preliminary && PirState::Preliminary < PirState::Final);
        for p in [PirState::None, PirState::Preliminary, PirState::Final] {
            assert_eq!(PirState::parse(p.as_str()), p);
        }
    }
}
