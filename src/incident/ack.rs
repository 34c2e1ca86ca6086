//! Acknowledgements: what the team said it did about an incident. They are the silences of
//! pirwatch's notification pipeline: a recorded acknowledgement stops its reminders.
//!
//! The PIR review is acknowledged per PIR stage, so a Final PIR published after the team read
//! the Preliminary one asks to be read again; a claim is filed or declined once.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::PirState;

/// A published stage of a Post-Incident Review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PirStage {
    Preliminary,
    Final,
}

impl PirStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preliminary => "preliminary",
            Self::Final => "final",
        }
    }

    /// `Preliminary` or `Final`, for people.
    pub fn word(self) -> &'static str {
        match self {
            Self::Preliminary => "Preliminary",
            Self::Final => "Final",
        }
    }
}

impl PirState {
    /// The published stage, if any.
    pub fn stage(self) -> Option<PirStage> {
        match self {
            Self::None => None,
            Self::Preliminary => Some(PirStage::Preliminary),
            Self::Final => Some(PirStage::Final),
        }
    }
}

/// What was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AckKind {
    /// The PIR was read, up to this stage.
    Reviewed { stage: PirStage },
    /// The claim was filed, under this support request.
    Claimed { reference: Option<String> },
    /// No claim will be filed.
    NoClaim { reason: Option<String> },
    /// Microsoft (or the partner) answered a filed claim.
    ClaimOutcome {
        approved: bool,
        /// The credit granted, as written (`EUR 120.50`).
        credit: Option<String>,
    },
}

/// An acknowledgement: what, by whom, when, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    #[serde(flatten)]
    pub kind: AckKind,
    pub by: String,
    pub at: Timestamp,
    #[serde(flatten)]
    pub source: AckSource,
}

/// Where an acknowledgement was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum AckSource {
    /// `pirwatch ack` on the service's host.
    Cli,
    /// The web page a signed link in a mail led to; `receiver` is who that mail went to (a
    /// list, so the name typed is the person's, the receiver the link's).
    Web { receiver: String },
}

impl AckSource {
    /// `cli` or `web`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Web { .. } => "web",
        }
    }
}

impl Ack {
    /// The review a filed claim also acknowledges: a claim quotes the incident's details, so
    /// every PIR stage published so far (`pir`) was read. `None` for anything but a filed claim,
    /// and before any PIR (one published later still asks to be read).
    pub fn review_implied(&self, pir: PirState) -> Option<Ack> {
        match (&self.kind, pir.stage()) {
            (AckKind::Claimed { .. }, Some(stage)) => Some(Ack {
                kind: AckKind::Reviewed { stage },
                by: self.by.clone(),
                at: self.at,
                source: self.source.clone(),
            }),
            _ => None,
        }
    }
}

/// What a person says they did: the CLI's `ack` and the web form alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckRequest {
    /// The newest PIR stage published was read (before any PIR: every stage to come).
    Reviewed,
    Claimed {
        reference: Option<String>,
    },
    NoClaim {
        reason: Option<String>,
    },
    ClaimOutcome {
        approved: bool,
        credit: Option<String>,
    },
}

impl AckRequest {
    /// The acknowledgement it is for an incident whose PIR stands at `pir`.
    pub fn kind(self, pir: PirState) -> AckKind {
        match self {
            Self::Reviewed => AckKind::Reviewed {
                stage: pir.stage().unwrap_or(PirStage::Final),
            },
            Self::Claimed { reference } => AckKind::Claimed { reference },
            Self::NoClaim { reason } => AckKind::NoClaim { reason },
            Self::ClaimOutcome { approved, credit } => AckKind::ClaimOutcome { approved, credit },
        }
    }
}

/// How the claim was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimDecision {
    Claimed { reference: Option<String> },
    Declined { reason: Option<String> },
}

/// An incident's acknowledgements, summarised for deciding what is still open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acks {
    /// The newest PIR stage acknowledged as reviewed, with who and when.
    pub reviewed: Option<(PirStage, String, Timestamp)>,
    /// The claim's decision, with who and when.
    pub claim: Option<(ClaimDecision, String, Timestamp)>,
    /// The answer to a filed claim: approved or not, the credit, who recorded it and when.
    pub outcome: Option<(bool, Option<String>, String, Timestamp)>,
}

impl Acks {
    /// Summarises the stored acknowledgements of one incident.
    pub fn from_records(records: &[Ack]) -> Self {
        let mut out = Self::default();
        for a in records {
            match &a.kind {
                AckKind::Reviewed { stage } => {
                    if out.reviewed.as_ref().is_none_or(|(s, _, _)| stage > s) {
                        out.reviewed = Some((*stage, a.by.clone(), a.at));
                    }
                }
                AckKind::Claimed { reference } => {
                    let d = ClaimDecision::Claimed {
                        reference: reference.clone(),
                    };
                    out.claim = Some((d, a.by.clone(), a.at));
                }
                AckKind::NoClaim { reason } => {
                    let d = ClaimDecision::Declined {
                        reason: reason.clone(),
                    };
                    out.claim = Some((d, a.by.clone(), a.at));
                }
                AckKind::ClaimOutcome { approved, credit } => {
                    out.outcome = Some((*approved, credit.clone(), a.by.clone(), a.at));
                }
            }
        }
        out
    }

    /// When a claim was filed and is still waiting for its answer.
    pub fn awaiting_outcome(&self) -> Option<Timestamp> {
        match (&self.claim, &self.outcome) {
            (Some((ClaimDecision::Claimed { .. }, _, at)), None) => Some(*at),
            _ => None,
        }
    }

    /// True when the PIR at `pir` has been acknowledged as read.
    pub fn reviewed(&self, pir: PirState) -> bool {
        match (pir.stage(), &self.reviewed) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(stage), Some((done, _, _))) => *done >= stage,
        }
    }

    /// True when the claim was filed or declined.
    pub fn claim_decided(&self) -> bool {
        self.claim.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filed_claim_closes_the_stages_published_so_far() {
        let claimed = ack(AckKind::Claimed { reference: None });
        let stage = |pir| {
            claimed.review_implied(pir).map(|a| match a.kind {
                AckKind::Reviewed { stage } => stage,
                _ => unreachable!("a review"),
            })
        };
        assert_eq!(stage(PirState::None), None);
        assert_eq!(stage(PirState::Preliminary), Some(PirStage::Preliminary));
        assert_eq!(stage(PirState::Final), Some(PirStage::Final));
        let declined = ack(AckKind::NoClaim { reason: None });
        assert_eq!(declined.review_implied(PirState::Final), None);
    }

    fn ack(kind: AckKind) -> Ack {
        Ack {
            kind,
            by: "ana".into(),
            at: "2026-11-01T10:00:00Z".parse().expect("ts"),
            source: AckSource::Cli,
        }
    }

    #[test]
    fn a_reviewed_preliminary_pir_leaves_the_final_one_to_review() {
        let acks = Acks::from_records(&[ack(AckKind::Reviewed {
            stage: PirStage::Preliminary,
        })]);
        assert!(acks.reviewed(PirState::Preliminary));
        assert!(!acks.reviewed(PirState::Final));
        let acks = Acks::from_records(&[
            ack(AckKind::Reviewed {
                stage: PirStage::Final,
            }),
            ack(AckKind::Reviewed {
                stage: PirStage::Preliminary,
            }),
        ]);
        assert!(acks.reviewed(PirState::Final));
        assert!(!Acks::default().reviewed(PirState::Final));
        assert!(!acks.claim_decided());
    }

    #[test]
    fn the_last_claim_decision_counts() {
        let acks = Acks::from_records(&[
            ack(AckKind::NoClaim { reason: None }),
            ack(AckKind::Claimed {
                reference: Some("SR1".into()),
            }),
        ]);
        assert!(matches!(
            acks.claim,
            Some((ClaimDecision::Claimed { .. }, _, _))
        ));
    }
}
