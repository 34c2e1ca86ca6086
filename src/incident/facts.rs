//! The values an incident is made of, in pirwatch's words: event type and status (Azure's
//! extensible enums, with an `Other` arm so an unknown value is kept rather than rejected),
//! impacted regions and updates. Sources produce them; the store keeps them.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)*
            /// A value this version of pirwatch does not know, kept as Azure sent it.
            Other(String),
        }
        impl $name {
            /// The value as Azure writes it.
            pub fn as_str(&self) -> &str {
                match self { $(Self::$variant => $text,)* Self::Other(s) => s }
            }
            /// Every value this version knows.
            pub const KNOWN: &'static [&'static str] = &[$($text),*];
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() { $($text => Self::$variant,)* _ => Self::Other(s) }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self { Self::from(s.to_owned()) }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String { v.as_str().to_owned() }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

open_enum!(
    /// `eventType`.
    EventType {
        ServiceIssue = "ServiceIssue",
        PlannedMaintenance = "PlannedMaintenance",
        HealthAdvisory = "HealthAdvisory",
        SecurityAdvisory = "SecurityAdvisory",
        Rca = "RCA",
        EmergingIssues = "EmergingIssues",
        Billing = "Billing",
    }
);

open_enum!(
    /// `status`, for the event and for each impacted region.
    EventStatus {
        Active = "Active",
        Resolved = "Resolved",
    }
);

impl EventType {
    /// The type in a reader's words: `Service issue`, `Planned maintenance`, ...
    pub fn words(&self) -> &str {
        match self {
            Self::ServiceIssue => "Service issue",
            Self::PlannedMaintenance => "Planned maintenance",
            Self::HealthAdvisory => "Health advisory",
            Self::SecurityAdvisory => "Security advisory",
            Self::Rca => "Service issue (root cause analysis)",
            Self::EmergingIssues => "Emerging issue",
            Self::Billing => "Billing",
            Self::Other(s) => s,
        }
    }

    /// Service issues (and legacy RCA events) are the ones an SLA claim can follow.
    pub fn is_service_issue(&self) -> bool {
        matches!(self, Self::ServiceIssue | Self::Rca)
    }
}

/// Tag on an update or event marking a preliminary PIR.
pub const TAG_PRELIMINARY_PIR: &str = "Preliminary PIR";
/// Tag on an update or event marking a final PIR.
pub const TAG_FINAL_PIR: &str = "Final PIR";
/// Tag saying the service was healthy after all.
pub const TAG_FALSE_POSITIVE: &str = "False Positive";

/// One communication about an event (a row of the portal's "Issue updates").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// When Microsoft published it.
    pub published: Timestamp,
    /// Its text (HTML).
    pub summary: String,
    /// Its tags (`Preliminary PIR`, `Final PIR`, `False Positive`, ...).
    pub tags: BTreeSet<String>,
    /// The service this copy was listed under.
    pub service: String,
    /// The region this copy was listed under.
    pub region: String,
}

/// One impacted service in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactedRegion {
    /// Service display name, e.g. `Virtual Machines`.
    pub service: String,
    /// Region display name, e.g. `West US`.
    pub region: String,
    /// Status in that region.
    pub status: EventStatus,
    /// Subscriptions Azure lists as impacted there.
    pub subscriptions: BTreeSet<String>,
}
