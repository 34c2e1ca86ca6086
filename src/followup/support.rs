//! What the team's support plan promises: first-response times per severity, so a mail can say
//! which severity to pick when opening a support request about an incident.
//! Source: Azure support plans (seed 003), 21Vianet (seed 001), CSP partners (seed 002).

use serde::{Deserialize, Serialize};

/// The support plan a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportPlan {
    Developer,
    #[default]
    Standard,
    ProfessionalDirect,
    Premier,
    RapidResponse,
    #[serde(rename = "21vianet")]
    Vianet,
    CspPartner,
}

/// One severity's promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Severity {
    /// `A`, `B` or `C`.
    pub level: &'static str,
    /// When to pick it.
    pub meaning: &'static str,
    /// First-response time, or `not available`.
    pub response: &'static str,
}

impl SupportPlan {
    pub fn name(self) -> &'static str {
        match self {
            Self::Developer => "Developer",
            Self::Standard => "Standard",
            Self::ProfessionalDirect => "Professional Direct",
            Self::Premier => "Premier",
            Self::RapidResponse => "Azure Rapid Response",
            Self::Vianet => "21Vianet (Azure China)",
            Self::CspPartner => "CSP partner escalation to Microsoft",
        }
    }

    /// First-response times for severities A, B and C.
    pub fn severities(self) -> [Severity; 3] {
        let (a, b, c) = match self {
            Self::Developer => ("not available", "not available", "< 8 business hours"),
            Self::Standard => ("< 1 hour, 24x7", "< 4 hours", "< 8 business hours"),
            Self::ProfessionalDirect | Self::Premier => {
                ("< 1 hour, 24x7", "< 2 hours", "< 4 business hours")
            }
            Self::RapidResponse => ("< 15 minutes, 24x7", "< 2 hours", "< 4 business hours"),
            Self::Vianet | Self::CspPartner => ("2 hours", "4 hours", "8 hours"),
        };
        [
            Severity {
                level: "A",
                meaning: "critical business impact: significant loss or degradation of service",
                response: a,
            },
            Severity {
                level: "B",
                meaning: "moderate business impact: work continues, impaired",
                response: b,
            },
            Severity {
                level: "C",
                meaning: "minimal business impact",
                response: c,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plan_has_its_times() {
        let response = |p: SupportPlan| p.severities().map(|s| s.response);
        assert_eq!(response(SupportPlan::Developer)[0], "not available");
        assert_eq!(
            response(SupportPlan::Standard),
            ["< 1 hour, 24x7", "< 4 hours", "< 8 business hours"]
        );
        assert_eq!(response(SupportPlan::ProfessionalDirect)[1], "< 2 hours");
        assert_eq!(
            response(SupportPlan::RapidResponse)[0],
            "< 15 minutes, 24x7"
        );
        assert_eq!(
            response(SupportPlan::Vianet),
            ["2 hours", "4 hours", "8 hours"]
        );
        assert_eq!(
            response(SupportPlan::CspPartner),
            ["2 hours", "4 hours", "8 hours"]
        );
    }
}
