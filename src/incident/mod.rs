//! The domain: an `Incident` as pirwatch remembers it, its PIR state, the `Change`s the tracker
//! finds between two polls, acknowledgements ([`ack`]), notices ([`notice`]) and identifiers as
//! newtypes ([`ids`]). Every other module speaks these words; this one depends on none of them.
//!
//! An incident is identified by (tenant, tracking id); the same event seen through several
//! subscriptions is one incident with the set of subscriptions it affected. Every update ever
//! seen is kept, because Azure forgets them after 90 days.

pub mod ack;
pub mod facts;
pub mod ids;
pub mod notice;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use facts::{
    EventStatus, EventType, ImpactedRegion, TAG_FALSE_POSITIVE, TAG_FINAL_PIR, TAG_PRELIMINARY_PIR,
    Update,
};
pub use ids::{MessageId, TenantName, TrackingId};
pub use notice::{NoticeKind, UnknownValue};

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
}

impl FromStr for PirState {
    type Err = UnknownValue;
    /// Parses the stored form; anything unknown is an error, never a default.
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "none" => Ok(Self::None),
            "preliminary" => Ok(Self::Preliminary),
            "final" => Ok(Self::Final),
            _ => Err(UnknownValue(s.to_owned())),
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
    pub tenant: TenantName,
    /// Azure's tracking id.
    pub tracking_id: TrackingId,
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
    /// When pirwatch first saw the current PIR stage (review reminders count from here).
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
    /// The team has been told about it (a mail or the first-poll digest was planned). An
    /// incident recorded silently — history found on a first poll — gets no follow-ups.
    pub announced: bool,
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
        self.updates
            .iter()
            .rev()
            .find(|u| u.tags.contains(TAG_FINAL_PIR) || u.tags.contains(TAG_PRELIMINARY_PIR))
    }
}

impl Incident {
    /// Whether `self`, a newer state of `before`, changed materially: a new service or region,
    /// another status or level, a further PIR stage — not only a re-published text.
    pub fn changed_materially_from(&self, before: &Self) -> bool {
        let grew = |now: BTreeSet<&str>, then: BTreeSet<&str>| !now.is_subset(&then);
        grew(self.services(), before.services())
            || grew(self.regions(), before.regions())
            || self.status != before.status
            || self.level != before.level
            || self.pir > before.pir
            || self.false_positive != before.false_positive
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

/// An incident's new state and the updates not stored before: what the store writes.
#[derive(Debug, Clone, Copy)]
pub struct IncidentWrite<'a> {
    pub incident: &'a Incident,
    pub new_updates: &'a [Update],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pir_states_order_and_round_trip() {
        assert!(PirState::None < PirState::Preliminary && PirState::Preliminary < PirState::Final);
        for p in [PirState::None, PirState::Preliminary, PirState::Final] {
            assert_eq!(p.as_str().parse::<PirState>(), Ok(p));
        }
        assert!("Final".parse::<PirState>().is_err());
        assert!("".parse::<PirState>().is_err());
    }
}
