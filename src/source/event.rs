//! `HealthEvent`: what any source (Azure or the demo) yields, in pirwatch's words (the value
//! types are the domain's, [`crate::incident::facts`]); timestamps are already parsed (absent or
//! "not mitigated" is `None`).

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;

pub use crate::incident::facts::{
    EventStatus, EventType, ImpactedRegion, TAG_FALSE_POSITIVE, TAG_FINAL_PIR, TAG_PRELIMINARY_PIR,
    Update,
};

/// Where an event was seen: a subscription, or the tenant-level endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `/subscriptions/{id}/providers/Microsoft.ResourceHealth/events`
    Subscription(String),
    /// `/providers/Microsoft.ResourceHealth/events`
    Tenant,
}

impl Scope {
    /// The stored key: the subscription id, or `tenant`.
    pub fn key(&self) -> &str {
        match self {
            Self::Subscription(id) => id,
            Self::Tenant => "tenant",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subscription(id) => write!(f, "subscription {id}"),
            Self::Tenant => f.write_str("tenant-level events"),
        }
    }
}

/// A Service Health event as one scope returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEvent {
    /// The tracking id (the event `name`, e.g. `BC_1-FXZ`).
    pub tracking_id: String,
    /// Where this copy was seen.
    pub scope: Scope,
    pub event_type: EventType,
    pub status: EventStatus,
    pub title: String,
    /// Summary (HTML).
    pub summary: Option<String>,
    /// Communication text (HTML); may hold the PIR.
    pub description: Option<String>,
    /// Article body (HTML); may hold the PIR.
    pub article: Option<String>,
    /// `eventLevel`, e.g. `Warning`.
    pub level: Option<String>,
    pub impact_start: Option<Timestamp>,
    /// `None` while not mitigated.
    pub mitigated_at: Option<Timestamp>,
    pub last_update: Option<Timestamp>,
    /// Event-level tags (the union of the updates' tags).
    pub tags: BTreeSet<String>,
    pub impacts: Vec<ImpactedRegion>,
    pub updates: Vec<Update>,
    /// Azure marked it sensitive; details need `fetchEventDetails`.
    pub sensitive: bool,
    /// Sensitive, and fetching the details was refused.
    pub details_unavailable: bool,
}
