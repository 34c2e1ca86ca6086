//! Claim evidence from ARM: an event's impacted resources (`…/events/{id}/impactedResources`,
//! paged; `listSecurityAdvisoryImpactedResources` for security advisories) and one resource's
//! availability history (`{resourceId}/providers/Microsoft.ResourceHealth/availabilityStatuses`).
//! Same client, retries, throttling and paging guard as the events; entries Azure sends half
//! filled are kept as far as they go, malformed ones skipped.

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::{ArmClient, MAX_PAGES, PollError, same_host_link, scope_base};
use super::credential::TenantToken;
use crate::evidence::{Availability, ImpactedResource, StatusChange};
use crate::source::event::Scope;

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
    #[serde(skip)]
    _t: std::marker::PhantomData<T>,
}

#[derive(Debug, Deserialize)]
struct ResourceItem {
    name: Option<String>,
    #[serde(default)]
    properties: ResourceProps,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceProps {
    target_resource_id: Option<String>,
    target_resource_type: Option<String>,
    target_region: Option<String>,
    #[serde(default)]
    info: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
struct KeyValue {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusItem {
    #[serde(default)]
    properties: StatusProps,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusProps {
    availability_state: Option<String>,
    /// Azure's spelling.
    occured_time: Option<String>,
    summary: Option<String>,
}

impl ArmClient {
    /// Every impacted resource of event `tracking_id` in `scope`. Security advisories use the
    /// POST variant, which needs a higher role than Reader.
    pub async fn impacted_resources(
        &self,
        arm: &Url,
        token: &TenantToken,
        scope: &Scope,
        tracking_id: &str,
        security: bool,
    ) -> Result<(Vec<ImpactedResource>, usize), PollError> {
        let mut url = scope_base(arm, scope);
        let (method, last) = if security {
            (Method::POST, "listSecurityAdvisoryImpactedResources")
        } else {
            (Method::GET, "impactedResources")
        };
        if let Ok(mut p) = url.path_segments_mut() {
            p.extend([tracking_id, last]);
        }
        url.query_pairs_mut()
            .append_pair("api-version", &self.api_version);
        let subscription = match scope {
            Scope::Subscription(s) => Some(s.clone()),
            Scope::Tenant => None,
        };
        let mut requests = 0;
        let items = self.pages(arm, method, url, token, &mut requests).await?;
        let resources = items
            .into_iter()
            .filter_map(|v| match serde_json::from_value::<ResourceItem>(v) {
                Ok(item) => resource(item, subscription.clone()),
                Err(e) => {
                    tracing::warn!(%scope, tracking_id, error = %e,
                        "skipping a malformed impacted resource");
                    None
                }
            })
            .collect();
        Ok((resources, requests))
    }

    /// The availability history of `resource_id` (as far back as Resource Health keeps it).
    pub async fn availability(
        &self,
        arm: &Url,
        token: &TenantToken,
        resource_id: &str,
    ) -> Result<(Vec<StatusChange>, usize), PollError> {
        let mut url = arm.clone();
        url.set_query(None);
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            p.extend(resource_id.split('/').filter(|s| !s.is_empty()));
            p.extend([
                "providers",
                "Microsoft.ResourceHealth",
                "availabilityStatuses",
            ]);
        }
        url.query_pairs_mut()
            .append_pair("api-version", &self.api_version);
        let mut requests = 0;
        let items = self
            .pages(arm, Method::GET, url, token, &mut requests)
            .await?;
        let changes = items
            .into_iter()
            .filter_map(|v| serde_json::from_value::<StatusItem>(v).ok())
            .filter_map(|s| {
                let since = crate::source::azure::wire::timestamp(
                    "occuredTime",
                    s.properties.occured_time.as_deref(),
                )
                .ok()??;
                Some(StatusChange {
                    state: Availability::parse(s.properties.availability_state.as_deref()?),
                    since,
                    summary: s.properties.summary,
                })
            })
            .collect();
        Ok((changes, requests))
    }

    /// Every item of a paged list, following `nextLink` on the ARM host, at most
    /// [`MAX_PAGES`] pages.
    async fn pages(
        &self,
        arm: &Url,
        method: Method,
        first: Url,
        token: &TenantToken,
        requests: &mut usize,
    ) -> Result<Vec<serde_json::Value>, PollError> {
        let mut out = Vec::new();
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(PollError::PagingLoop);
            }
            let body = self.send(method.clone(), &url, token, requests).await?;
            let page: Page<()> =
                serde_json::from_str(&body).map_err(|e| PollError::Body(e.to_string()))?;
            out.extend(page.value);
            match page.next_link.filter(|l| !l.trim().is_empty()) {
                None => return Ok(out),
                Some(link) => url = same_host_link(arm, &link)?,
            }
        }
    }
}

/// An impacted resource from its wire form: the target resource id, else the entry's name.
fn resource(item: ResourceItem, subscription: Option<String>) -> Option<ImpactedResource> {
    let p = item.properties;
    let resource_id = p.target_resource_id.or(item.name)?;
    Some(ImpactedResource {
        resource_id,
        resource_type: p.target_resource_type,
        region: p.target_region,
        subscription,
        info: p
            .info
            .into_iter()
            .filter_map(|kv| Some((kv.key?, kv.value.unwrap_or_default())))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's own example: two resources with targets, one with only `info`.
    #[test]
    fn the_spec_example_parses_with_its_info_only_entry() {
        let text = include_str!(
            "../../../tests/fixtures/arm/ImpactedResources_ListBySubscriptionId_ListByEventId.json"
        );
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        let body = &v["responses"]["200"]["body"];
        let page: Page<()> = serde_json::from_value(body.clone()).expect("page");
        let got: Vec<ImpactedResource> = page
            .value
            .into_iter()
            .filter_map(|v| resource(serde_json::from_value(v).ok()?, Some("s".into())))
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name(), "testvm");
        assert_eq!(got[0].region.as_deref(), Some("westus"));
        assert_eq!(got[1].resource_id, "jkl-901-hgy-445");
        assert_eq!(got[1].info.len(), 4);
        assert!(!got[1].is_arm_id());
    }
}
