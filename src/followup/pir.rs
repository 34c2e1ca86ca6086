//! When a Post-Incident Review can be expected, counted from mitigation. These are Microsoft's
//! "generally within" times, not commitments: shown as expectations, never as deadlines.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::incident::{Incident, PirState};

/// A preliminary PIR, for the largest incidents, generally within 72 hours of mitigation.
pub const PRELIMINARY_WITHIN: SignedDuration = SignedDuration::from_hours(72);
/// A final PIR generally within 14 days of mitigation.
pub const FINAL_WITHIN: SignedDuration = SignedDuration::from_hours(14 * 24);
/// Default wait after mitigation before suggesting to request a PIR.
pub const NUDGE_AFTER: SignedDuration = SignedDuration::from_hours(21 * 24);

/// The soft expectations for a mitigated incident still waiting for (part of) its PIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PirExpectation {
    /// Only for the largest incidents.
    pub preliminary_by: Option<Timestamp>,
    pub final_by: Option<Timestamp>,
}

/// What to expect for `incident`; `None` when not mitigated or the final PIR is out.
pub fn expectation(incident: &Incident) -> Option<PirExpectation> {
    let mitigated = incident.mitigated_at?;
    if !incident.event_type.is_service_issue() || incident.pir == PirState::Final {
        return None;
    }
    Some(PirExpectation {
        preliminary_by: (incident.pir == PirState::None)
            .then(|| mitigated.checked_add(PRELIMINARY_WITHIN).ok())
            .flatten(),
        final_by: mitigated.checked_add(FINAL_WITHIN).ok(),
    })
}

/// When to tell the team, once, that they can request a PIR: mitigation + `after`, for a
/// mitigated service issue that has none and was not a false positive.
pub fn nudge_at(incident: &Incident, after: SignedDuration) -> Option<Timestamp> {
    let mitigated = incident.mitigated_at?;
    let applies = incident.event_type.is_service_issue()
        && incident.pir == PirState::None
        && !incident.false_positive;
    applies.then(|| mitigated.checked_add(after).ok()).flatten()
}
