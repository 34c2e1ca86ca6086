//! The parts of a mail's design that are decisions, not markup: the header band (the one thing
//! to do and by when, and its colour) and the timeline strip (impact start, mitigation, PIR,
//! today, the claim deadline). Pure, with `now` passed in; the templates only lay them out.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::followup::actions::{Action, ClaimDue};
use crate::followup::pir;
use crate::incident::{Incident, NoticeKind};

/// Colours with white text at a contrast of at least 4.5:1.
const BLUE: &str = "#0a5bd3";
const RED: &str = "#b42318";
const ORANGE: &str = "#9a3412";
const GREEN: &str = "#1a7f37";
const GREY: &str = "#57606a";

/// The header band: the one thing to do, and how urgent it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Band {
    pub text: String,
    pub color: &'static str,
}

/// `Wed 9 Dec`.
pub fn short(d: Date) -> String {
    d.strftime("%a %-d %b").to_string()
}

fn claim_text(c: &ClaimDue) -> (String, &'static str) {
    let by = short(c.file_by);
    match c.days_left {
        0 => (
            format!("File the SLA claim today ({by}): the last day"),
            RED,
        ),
        1 => (format!("File the SLA claim by tomorrow, {by}"), RED),
        n if n <= 3 => (format!("File the SLA claim by {by} — {n} days left"), RED),
        n => (
            format!("File the SLA claim by {by} — {n} days left"),
            ORANGE,
        ),
    }
}

/// The band of a mail asking for `action`.
fn action_band(action: &Action, i: &Incident) -> Band {
    let (text, color) = match action {
        Action::FileClaim(c) => claim_text(c),
        Action::RecordClaimDecision { closed_on } => (
            format!(
                "The claim window closed on {}: record what was decided",
                short(*closed_on)
            ),
            GREY,
        ),
        Action::ReviewPir { stage, .. } => (format!("Review the {} PIR", stage.word()), BLUE),
        Action::ChaseClaim { filed_on, .. } => (
            format!(
                "No answer to the claim filed on {}: chase it",
                short(*filed_on)
            ),
            ORANGE,
        ),
        Action::RequestPir => (
            format!(
                "No PIR yet for {}: request one if you need the root cause",
                i.tracking_id
            ),
            GREY,
        ),
    };
    Band { text, color }
}

/// The band of a follow-up mail: its most urgent action.
pub fn reminder_band(actions: &[Action], i: &Incident) -> Band {
    actions.first().map_or_else(
        || Band {
            text: format!("Azure incident {}", i.tracking_id),
            color: GREY,
        },
        |a| action_band(a, i),
    )
}

/// The band of an incident mail: what happened, or the follow-up due with it.
pub fn incident_band(
    kind: NoticeKind,
    i: &Incident,
    claim: Option<&ClaimDue>,
    actions: &[Action],
) -> Band {
    if let Some(a) = actions.first().filter(|_| kind != NoticeKind::Pir) {
        return action_band(a, i);
    }
    let (text, color) = match kind {
        NoticeKind::New => (
            format!("New Azure incident: {}", i.event_type.words()),
            BLUE,
        ),
        NoticeKind::Update => ("Azure posted an update".to_owned(), BLUE),
        NoticeKind::Resolved => ("Azure reports the incident resolved".to_owned(), GREEN),
        NoticeKind::Pir => {
            let stage = i.pir.stage().map_or("", |s| s.word());
            match claim {
                Some(c) => (
                    format!(
                        "Review the {stage} PIR, and decide on the SLA claim by {}",
                        short(c.file_by)
                    ),
                    BLUE,
                ),
                None => (format!("Review the {stage} PIR"), BLUE),
            }
        }
        NoticeKind::FalsePositive => ("A false positive: nothing to do".to_owned(), GREEN),
        NoticeKind::Digest | NoticeKind::Reminder | NoticeKind::Operator => {
            (format!("Azure incident {}", i.tracking_id), GREY)
        }
    };
    Band { text, color }
}

/// Where a step of the timeline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    Today,
    Ahead,
}

/// One step of the timeline strip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineStep {
    pub label: &'static str,
    pub date: String,
    pub state: StepState,
}

/// The timeline of a service issue at `now` in `tz`: impact start, mitigation, PIR (published,
/// or expected), today, and the claim's date to file by, in date order. Empty for other types.
pub fn timeline(
    i: &Incident,
    claim: Option<&ClaimDue>,
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<TimelineStep> {
    if !i.event_type.is_service_issue() || i.false_positive {
        return Vec::new();
    }
    let day = |t: Timestamp| t.to_zoned(tz.clone()).date();
    let today = day(now);
    let mut steps: Vec<(Date, u8, &'static str)> = Vec::new();
    steps.push((day(crate::followup::claim::incident_start(i)), 0, "Impact"));
    if let Some(m) = i.mitigated_at {
        steps.push((day(m), 1, "Mitigated"));
    }
    match (i.pir_seen, pir::expectation(i).and_then(|e| e.final_by)) {
        (Some(seen), _) => steps.push((day(seen), 2, "PIR")),
        (None, Some(by)) if day(by) > today => steps.push((day(by), 2, "PIR expected")),
        _ => {}
    }
    steps.push((today, 3, "Today"));
    if let Some(c) = claim {
        steps.push((c.file_by, 4, "File claim by"));
    }
    steps.sort();
    steps
        .into_iter()
        .map(|(d, _, label)| TimelineStep {
            label,
            date: short(d),
            state: match (d.cmp(&today), label) {
                (_, "Today") => StepState::Today,
                (std::cmp::Ordering::Less, _) => StepState::Done,
                (std::cmp::Ordering::Equal, "File claim by") => StepState::Ahead,
                (std::cmp::Ordering::Equal, _) => StepState::Done,
                (std::cmp::Ordering::Greater, _) => StepState::Ahead,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::ClaimStatus;
    use crate::followup::claim::{ClaimPolicy, claim_of};
    use crate::incident::PirState;
    use crate::incident::ack::PirStage;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn claim(i: &Incident, now: &str) -> ClaimDue {
        let dates = claim_of(i, &ClaimPolicy::default()).expect("claim");
        ClaimDue::of(&ClaimStatus::Open(dates), ts(now), &TimeZone::UTC).expect("open")
    }

    #[test]
    fn the_band_says_the_one_thing_to_do_and_by_when() {
        let i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        let cases = [
            (
                "2026-12-24T08:00:00Z",
                "File the SLA claim by Thu 31 Dec — 7 days left",
                ORANGE,
            ),
            (
                "2026-12-29T08:00:00Z",
                "File the SLA claim by Thu 31 Dec — 2 days left",
                RED,
            ),
            (
                "2026-12-30T08:00:00Z",
                "File the SLA claim by tomorrow, Thu 31 Dec",
                RED,
            ),
            (
                "2026-12-31T08:00:00Z",
                "File the SLA claim today (Thu 31 Dec): the last day",
                RED,
            ),
        ];
        for (now, text, color) in cases {
            let b = reminder_band(&[Action::FileClaim(claim(&i, now))], &i);
            assert_eq!((b.text.as_str(), b.color), (text, color), "{now}");
        }
        let review = Action::ReviewPir {
            stage: PirStage::Final,
            reminder: 2,
        };
        assert_eq!(
            reminder_band(std::slice::from_ref(&review), &i).text,
            "Review the Final PIR"
        );
        // An update that carries a due claim reminder leads with the claim.
        let c = claim(&i, "2026-12-24T08:00:00Z");
        let b = incident_band(
            NoticeKind::Update,
            &i,
            Some(&c),
            &[Action::FileClaim(c.clone())],
        );
        assert!(b.text.starts_with("File the SLA claim"), "{}", b.text);
        let mut pir = i.clone();
        pir.pir = PirState::Final;
        assert_eq!(
            incident_band(NoticeKind::Pir, &pir, Some(&c), &[]).text,
            "Review the Final PIR, and decide on the SLA claim by Thu 31 Dec"
        );
        assert_eq!(
            incident_band(NoticeKind::Resolved, &i, None, &[]).color,
            GREEN
        );
    }

    #[test]
    fn the_timeline_runs_in_date_order_around_today() {
        let mut i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        i.pir = PirState::Final;
        i.pir_seen = Some(ts("2026-10-19T08:00:00Z"));
        let c = claim(&i, "2026-12-24T08:00:00Z");
        let steps = timeline(&i, Some(&c), ts("2026-12-24T08:00:00Z"), &TimeZone::UTC);
        let got: Vec<(&str, &str, StepState)> = steps
            .iter()
            .map(|s| (s.label, s.date.as_str(), s.state))
            .collect();
        assert_eq!(
            got,
            [
                ("Impact", "Thu 8 Oct", StepState::Done),
                ("Mitigated", "Thu 8 Oct", StepState::Done),
                ("PIR", "Mon 19 Oct", StepState::Done),
                ("Today", "Thu 24 Dec", StepState::Today),
                ("File claim by", "Thu 31 Dec", StepState::Ahead),
            ]
        );
        let mut advisory = i.clone();
        advisory.event_type = crate::incident::EventType::HealthAdvisory;
        assert!(timeline(&advisory, None, ts("2026-12-24T08:00:00Z"), &TimeZone::UTC).is_empty());
    }
}
