//! Claim evidence: the resources an incident impacted (Resource Health's `impactedResources`)
//! and each one's availability history over the incident (`availabilityStatuses`), so a claim
//! can state the downtime per resource. This module holds the domain types and two pure
//! decisions — what to fetch for an incident now ([`plan`]) and what its history says about
//! downtime ([`downtime`]); the fetching lives in `source`, the storing in `store::evidence`.

pub mod downtime;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::incident::{EventType, Incident};

/// One impacted resource, as Resource Health lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactedResource {
    /// The resource id (`targetResourceId`), or the entry's name when Azure gives only `info`.
    pub resource_id: String,
    /// `Microsoft.Compute/VirtualMachines`, when given.
    pub resource_type: Option<String>,
    /// A region name (`westeurope`), when given.
    pub region: Option<String>,
    /// The subscription it was listed under (none: the tenant scope).
    pub subscription: Option<String>,
    /// Azure's extra `info` entries (key, value).
    pub info: Vec<(String, String)>,
}

impl ImpactedResource {
    /// The resource's own name: the id's last segment.
    pub fn name(&self) -> &str {
        self.resource_id
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or(&self.resource_id)
    }

    /// True when the id is an ARM resource id (availability can be asked for it).
    pub fn is_arm_id(&self) -> bool {
        self.resource_id.starts_with("/subscriptions/")
    }
}

/// A resource's availability state, as Resource Health reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Unavailable,
    Degraded,
    Unknown,
}

impl Availability {
    pub const ALL: [Self; 4] = [
        Self::Available,
        Self::Unavailable,
        Self::Degraded,
        Self::Unknown,
    ];

    /// Azure's word (`Available`, …) and pirwatch's stored one.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Unavailable => "Unavailable",
            Self::Degraded => "Degraded",
            Self::Unknown => "Unknown",
        }
    }

    /// Azure's word; anything else is `Unknown`, as Resource Health itself reports it.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .unwrap_or(Self::Unknown)
    }
}

/// One entry of a resource's availability history: its state from `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    pub state: Availability,
    /// `occuredTime` (sic): when the resource entered this state.
    pub since: Timestamp,
    pub summary: Option<String>,
}

/// An incident's evidence as stored: its impacted resources, and each one's availability
/// history (by resource id) known up to `availability_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub resources: Vec<ImpactedResource>,
    pub availability: std::collections::HashMap<String, Vec<StatusChange>>,
    pub availability_at: Option<Timestamp>,
    /// Why impacted resources could not be fetched, if they could not (a 403).
    pub resources_error: Option<String>,
}

/// One impacted resource with its downtime, as `show`, `export` and a claim draft state it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRecord {
    pub id: String,
    pub name: String,
    pub resource_type: Option<String>,
    pub region: Option<String>,
    pub subscription: Option<String>,
    pub info: Vec<(String, String)>,
    /// Minutes `Unavailable` in the incident, as reported by Resource Health; none when its
    /// history was not fetched.
    pub downtime_minutes: Option<i64>,
    /// Minutes `Degraded`, listed beside the downtime.
    pub degraded_minutes: Option<i64>,
    /// The spans behind those numbers.
    pub unavailable: Vec<downtime::Interval>,
    pub degraded: Vec<downtime::Interval>,
}

impl Evidence {
    /// Each resource with what its availability history says about incident `i`.
    pub fn records(&self, i: &Incident) -> Vec<ResourceRecord> {
        let window = i.impact_start.zip(i.mitigated_at);
        self.resources
            .iter()
            .map(|r| {
                let d = match (
                    self.availability.get(&r.resource_id),
                    window,
                    self.availability_at,
                ) {
                    (Some(h), Some(w), Some(until)) => Some(downtime::downtime(h, w, until)),
                    _ => None,
                };
                ResourceRecord {
                    id: r.resource_id.clone(),
                    name: r.name().to_owned(),
                    resource_type: r.resource_type.clone(),
                    region: r.region.clone(),
                    subscription: r.subscription.clone(),
                    info: r.info.clone(),
                    downtime_minutes: d.as_ref().map(|d| d.unavailable_minutes),
                    degraded_minutes: d.as_ref().map(|d| d.degraded_minutes),
                    unavailable: d
                        .as_ref()
                        .map(|d| d.unavailable.clone())
                        .unwrap_or_default(),
                    degraded: d.map(|d| d.degraded).unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// What pirwatch has fetched for an incident so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchState {
    /// The event's `lastUpdateTime` the impacted resources were last fetched for.
    pub resources_for: Option<Timestamp>,
    /// Fetched once more after the incident was resolved.
    pub resources_after_resolved: bool,
    /// When availability histories were fetched (after mitigation), if they were.
    pub availability_at: Option<Timestamp>,
}

/// What to fetch for an incident now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub resources: bool,
    pub availability: bool,
}

/// Resource Health keeps availability history about this long; after it, asking is pointless.
pub const AVAILABILITY_KEPT: SignedDuration = SignedDuration::from_hours(29 * 24);
/// Availability is fetched this long after mitigation, so the history covers the recovery.
pub const AVAILABILITY_AFTER: SignedDuration = SignedDuration::from_mins(30);

/// `t + d`, or the end of time.
fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// What to fetch for `i` at `now`, given what was fetched: its impacted resources when never
/// fetched or when the event changed (`lastUpdateTime`) while active, and once after it was
/// resolved; availability once, soon after mitigation and while Resource Health still has it.
/// Not for false positives, or events that concern no resources (billing, health advisories).
pub fn plan(i: &Incident, fetched: &FetchState, now: Timestamp) -> Need {
    let none = Need {
        resources: false,
        availability: false,
    };
    if i.false_positive
        || !matches!(
            i.event_type,
            EventType::ServiceIssue
                | EventType::Rca
                | EventType::SecurityAdvisory
                | EventType::PlannedMaintenance
        )
    {
        return none;
    }
    let changed = fetched.resources_for.is_none() || fetched.resources_for != i.last_update;
    let resources = if i.is_resolved() {
        !fetched.resources_after_resolved
    } else {
        changed
    };
    let availability = match (i.is_resolved(), i.mitigated_at, fetched.availability_at) {
        (true, Some(m), None) => {
            now >= after(m, AVAILABILITY_AFTER)
                && now < after(m, AVAILABILITY_KEPT)
                && i.event_type.is_service_issue()
        }
        _ => false,
    };
    Need {
        resources,
        availability,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::test_incident;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    #[test]
    fn fetches_are_planned_by_what_changed_and_when() {
        let resolved = test_incident("2026-10-08T10:00:00Z"); // mitigated 13:00
        let mut active = resolved.clone();
        active.status = "Active".into();
        active.mitigated_at = None;
        active.last_update = Some(ts("2026-10-08T11:00:00Z"));
        let mut advisory = resolved.clone();
        advisory.event_type = EventType::HealthAdvisory;
        let mut fp = resolved.clone();
        fp.false_positive = true;
        let for_update = |t: &str| FetchState {
            resources_for: Some(ts(t)),
            ..Default::default()
        };
        let after = FetchState {
            resources_after_resolved: true,
            ..Default::default()
        };
        let all_done = FetchState {
            resources_after_resolved: true,
            availability_at: Some(ts("2026-10-08T14:00:00Z")),
            ..Default::default()
        };
        // (incident, fetched, now) → (resources, availability)
        let cases = [
            (
                &active,
                FetchState::default(),
                "2026-10-08T11:05:00Z",
                (true, false),
            ),
            (
                &active,
                for_update("2026-10-08T11:00:00Z"),
                "2026-10-08T11:10:00Z",
                (false, false),
            ),
            (
                &active,
                for_update("2026-10-08T10:30:00Z"),
                "2026-10-08T11:10:00Z",
                (true, false),
            ),
            // Resolved: once more, and availability from 30 minutes after mitigation.
            (
                &resolved,
                for_update("2026-10-08T11:00:00Z"),
                "2026-10-08T13:10:00Z",
                (true, false),
            ),
            (
                &resolved,
                after.clone(),
                "2026-10-08T13:10:00Z",
                (false, false),
            ),
            (
                &resolved,
                after.clone(),
                "2026-10-08T13:30:00Z",
                (false, true),
            ),
            (&resolved, all_done, "2026-10-09T13:30:00Z", (false, false)),
            // Resource Health no longer has it.
            (&resolved, after, "2026-11-07T13:00:00Z", (false, false)),
            (
                &advisory,
                FetchState::default(),
                "2026-10-08T13:10:00Z",
                (false, false),
            ),
            (
                &fp,
                FetchState::default(),
                "2026-10-08T13:10:00Z",
                (false, false),
            ),
        ];
        for (i, fetched, now, (resources, availability)) in cases {
            let got = plan(i, &fetched, ts(now));
            assert_eq!(
                (got.resources, got.availability),
                (resources, availability),
                "{} {fetched:?} at {now}",
                i.status
            );
        }
    }

    #[test]
    fn resource_names_and_states() {
        let r = ImpactedResource {
            resource_id:
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1"
                    .into(),
            resource_type: None,
            region: None,
            subscription: None,
            info: Vec::new(),
        };
        assert_eq!(r.name(), "vm1");
        assert!(r.is_arm_id());
        assert_eq!(
            Availability::parse("unavailable"),
            Availability::Unavailable
        );
        assert_eq!(Availability::parse("Sideways"), Availability::Unknown);
    }
}
