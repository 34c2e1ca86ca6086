//! The ARM wire format of `Microsoft.ResourceHealth/events`, parsed leniently, and its mapping
//! to [`HealthEvent`].
//!
//! Every property is optional and every enum extensible, as in the spec. Timestamps come as
//! RFC 3339 with up to 7 (or 9) fractional digits, or without a zone; the year-1 value
//! `0001-01-01T00:00:00` means "not set". Times are kept to the millisecond. A page is parsed item by item so that one malformed
//! event is reported and skipped while the rest of the page still counts.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Deserialize;

use crate::source::event::{HealthEvent, ImpactedRegion, Scope, Update};

/// One page of a list operation.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Items, kept raw so each can fail on its own.
    #[serde(default)]
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink")]
    pub next_link: Option<String>,
}

/// `event`: a ProxyResource with `properties`.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub name: String,
    #[serde(default)]
    pub properties: Properties,
}

/// `EventProperties`; fields pirwatch does not use are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Properties {
    pub event_type: Option<String>,
    pub status: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub header: Option<String>,
    pub event_level: Option<String>,
    pub level: Option<String>,
    pub is_event_sensitive: Option<bool>,
    pub article: Option<Article>,
    pub impact_start_time: Option<String>,
    pub impact_mitigation_time: Option<String>,
    pub last_update_time: Option<String>,
    pub event_tags: Option<Vec<String>>,
    pub impact: Option<Vec<Impact>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Article {
    pub article_content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Impact {
    pub impacted_service: Option<String>,
    pub impacted_regions: Option<Vec<Region>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Region {
    pub impacted_region: Option<String>,
    pub status: Option<String>,
    pub impacted_subscriptions: Option<Vec<String>>,
    pub updates: Option<Vec<WireUpdate>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireUpdate {
    pub summary: Option<String>,
    pub update_date_time: Option<String>,
    pub event_tags: Option<Vec<String>>,
}

/// Why an event could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not an event object: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("event has an empty name (tracking id)")]
    NoName,
    #[error("event has no {0}")]
    Missing(&'static str),
    #[error("bad timestamp in {field}: {value:?}")]
    Timestamp { field: &'static str, value: String },
}

/// Parses an ARM timestamp: `None` for absent, empty or year-1 values.
pub fn timestamp(field: &'static str, value: Option<&str>) -> Result<Option<Timestamp>, WireError> {
    let Some(raw) = value.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || WireError::Timestamp {
        field,
        value: raw.chars().take(40).collect(),
    };
    let ts = match raw.parse::<Timestamp>() {
        Ok(ts) => ts,
        Err(_) => raw
            .parse::<jiff::civil::DateTime>()
            .map_err(|_| bad())?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp(),
    };
    // Kept to the millisecond, the precision of the store, so a re-fetched value compares equal.
    let ts = Timestamp::from_millisecond(ts.as_millisecond()).map_err(|_| bad())?;
    Ok((ts.to_zoned(jiff::tz::TimeZone::UTC).year() > 1).then_some(ts))
}

impl Event {
    /// Parses one raw list item.
    pub fn from_value(v: serde_json::Value) -> Result<Self, WireError> {
        let e: Event = serde_json::from_value(v)?;
        if e.name.trim().is_empty() {
            return Err(WireError::NoName);
        }
        Ok(e)
    }

    /// The event in pirwatch's words, as seen through `scope`.
    pub fn into_health_event(self, scope: Scope) -> Result<HealthEvent, WireError> {
        let p = self.properties;
        // Never guessed: a type decides claims and reminders, a status decides "resolved".
        let event_type = p
            .event_type
            .filter(|t| !t.trim().is_empty())
            .ok_or(WireError::Missing("properties.eventType"))?;
        let status: crate::source::event::EventStatus = p
            .status
            .filter(|t| !t.trim().is_empty())
            .ok_or(WireError::Missing("properties.status"))?
            .into();
        let mut impacts = Vec::new();
        let mut updates = Vec::new();
        for impact in p.impact.unwrap_or_default() {
            let service = impact.impacted_service.unwrap_or_default();
            for r in impact.impacted_regions.unwrap_or_default() {
                let region = r.impacted_region.unwrap_or_default();
                for u in r.updates.unwrap_or_default() {
                    let Some(published) =
                        timestamp("updateDateTime", u.update_date_time.as_deref())?
                    else {
                        continue;
                    };
                    updates.push(Update {
                        published,
                        summary: u.summary.unwrap_or_default(),
                        tags: u.event_tags.unwrap_or_default().into_iter().collect(),
                        service: service.clone(),
                        region: region.clone(),
                    });
                }
                impacts.push(ImpactedRegion {
                    service: service.clone(),
                    region,
                    // A region without its own status shares the event's.
                    status: r.status.map_or_else(|| status.clone(), Into::into),
                    subscriptions: r
                        .impacted_subscriptions
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|s| !s.trim().is_empty())
                        .collect(),
                });
            }
        }
        // Never an empty-titled incident: without a title, it is named by service and tracking id.
        let title = p
            .title
            .or(p.header)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| {
                let service = impacts
                    .iter()
                    .map(|i| i.service.as_str())
                    .find(|s| !s.is_empty())
                    .unwrap_or("Azure");
                format!("{service} incident {}", self.name)
            });
        Ok(HealthEvent {
            tracking_id: self.name,
            scope,
            event_type: event_type.into(),
            status,
            title,
            summary: p.summary.filter(|s| !s.is_empty()),
            description: p.description.filter(|s| !s.is_empty()),
            article: p
                .article
                .and_then(|a| a.article_content)
                .filter(|s| !s.is_empty()),
            level: p.event_level.or(p.level),
            impact_start: timestamp("impactStartTime", p.impact_start_time.as_deref())?,
            mitigated_at: timestamp("impactMitigationTime", p.impact_mitigation_time.as_deref())?,
            last_update: timestamp("lastUpdateTime", p.last_update_time.as_deref())?,
            tags: p
                .event_tags
                .unwrap_or_default()
                .into_iter()
                .collect::<BTreeSet<_>>(),
            impacts,
            updates,
            sensitive: p.is_event_sensitive.unwrap_or(false),
            details_unavailable: false,
        })
    }
}

/// ARM error bodies come in two shapes; both yield (code, message).
pub fn error_body(body: &str) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Outer {
        error: Option<Inner>,
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_str::<Outer>(body) {
        Ok(Outer { error: Some(i), .. }) => (i.code, i.message),
        Ok(o) => (o.code, o.message),
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::event::{EventStatus, EventType};

    const SPEC_EXAMPLE: &str =
        include_str!("../../../tests/fixtures/arm/spec-list-2026-07-01.json");

    #[test]
    fn timestamps_are_parsed_leniently() {
        let t = |s| timestamp("f", Some(s)).expect("parses");
        assert_eq!(
            t("2025-05-13T15:43:48.1203530Z").map(|t| t.to_string()),
            Some("2025-05-13T15:43:48.12Z".to_owned())
        );
        assert_eq!(
            t("2018-11-08T00:00:00Z").map(|t| t.as_second()),
            Some(1541635200)
        );
        assert_eq!(
            t("2018-11-08T00:00:00").map(|t| t.as_second()),
            Some(1541635200)
        );
        assert_eq!(t("0001-01-01T00:00:00"), None);
        assert_eq!(t("0001-01-01T00:00:00Z"), None);
        assert_eq!(timestamp("f", None).expect("none"), None);
        assert_eq!(timestamp("f", Some("")).expect("empty"), None);
        assert!(timestamp("f", Some("yesterday")).is_err());
    }

    #[test]
    fn spec_example_maps_to_a_health_event() {
        let page: Page = serde_json::from_str(SPEC_EXAMPLE).expect("page");
        assert!(page.next_link.is_some());
        let v = page.value.into_iter().next().expect("one event");
        let e = Event::from_value(v)
            .and_then(|e| e.into_health_event(Scope::Subscription("s".into())))
            .expect("event");
        assert_eq!(e.tracking_id, "BC_1-FXZ");
        assert_eq!(e.event_type, EventType::ServiceIssue);
        assert_eq!(e.status, EventStatus::Active);
        assert_eq!(e.updates.len(), 3);
        assert!(e.tags.contains("Final PIR"));
        assert_eq!(e.impacts[0].service, "Virtual Machines");
        assert_eq!(e.impacts[0].region, "West US");
        assert!(e.article.as_deref().unwrap_or("").contains("outage alert"));
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let v = serde_json::json!({"name": "X", "properties": {
            "eventType": "QuantumIssue", "status": "Simmering",
            "impactMitigationTime": "0001-01-01T00:00:00"}});
        let e = Event::from_value(v)
            .and_then(|e| e.into_health_event(Scope::Tenant))
            .expect("lenient");
        assert_eq!(e.event_type, EventType::Other("QuantumIssue".into()));
        assert_eq!(e.status, EventStatus::Other("Simmering".into()));
        assert_eq!(e.mitigated_at, None);
    }

    #[test]
    fn malformed_events_are_errors_not_panics() {
        for bad in [
            serde_json::json!("string"),
            serde_json::json!({"properties": {}}),
            serde_json::json!({"name": "", "properties": {}}),
            serde_json::json!({"name": "X", "properties": {"impactStartTime": 7}}),
        ] {
            assert!(Event::from_value(bad).is_err());
        }
        let v = serde_json::json!({"name": "X", "properties": {"impactStartTime": "soon"}});
        let e = Event::from_value(v).expect("shape ok");
        assert!(e.into_health_event(Scope::Tenant).is_err());
    }

    /// Defect 9 of issue 7: a missing `eventType` became `ServiceIssue` and a missing `status`
    /// became `Active`, so an event with every field missing got a claim deadline.
    #[test]
    fn an_event_without_a_type_or_status_is_malformed() {
        for (props, missing) in [
            (serde_json::json!({}), "eventType"),
            (serde_json::json!({"status": "Active"}), "eventType"),
            (
                serde_json::json!({"eventType": "", "status": "Active"}),
                "eventType",
            ),
            (serde_json::json!({"eventType": "ServiceIssue"}), "status"),
        ] {
            let v = serde_json::json!({"name": "X", "properties": props});
            let err = Event::from_value(v)
                .and_then(|e| e.into_health_event(Scope::Tenant))
                .expect_err("malformed");
            assert!(err.to_string().contains(missing), "{err}");
        }
        let v = serde_json::json!({"name": "X", "properties": {"eventType": "ServiceIssue",
            "status": "Resolved", "impact": [{"impactedService": "S",
            "impactedRegions": [{"impactedRegion": "R"}]}]}});
        let e = Event::from_value(v)
            .and_then(|e| e.into_health_event(Scope::Tenant))
            .expect("valid");
        assert_eq!(
            e.impacts[0].status,
            EventStatus::Resolved,
            "the event's status"
        );
    }

    #[test]
    fn both_error_shapes() {
        assert_eq!(
            error_body(r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#),
            (Some("TooManyRequests".into()), Some("slow down".into()))
        );
        assert_eq!(
            error_body(r#"{"code":"NotFound","message":"nope","details":"x"}"#),
            (Some("NotFound".into()), Some("nope".into()))
        );
        assert_eq!(error_body("<html>"), (None, None));
    }
}
