//! Finding subscriptions (`subscriptions = "all"`): every subscription the entry's identity
//! can read (`GET /subscriptions`, paged; those delegated through Azure Lighthouse carry the
//! customer's `tenantId`), or those under a management group (`…/descendants`), filtered by
//! `include`/`exclude` (ids or display-name globs), with each home tenant's display name from
//! `GET /tenants`. Disabled subscriptions are left out.

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::{ArmClient, MAX_PAGES, PollError, same_host_link};
use super::credential::TenantToken;
use crate::config::discovered::Found;

const RESOURCES_API: &str = "2022-12-01";
const MANAGEMENT_API: &str = "2023-04-01";

/// A subscription as listed, before filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub display_name: String,
    /// Its home tenant; `None` where the list does not say (management-group descendants:
    /// the entry's own tenant).
    pub tenant_id: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionItem {
    subscription_id: Option<String>,
    display_name: Option<String>,
    tenant_id: Option<String>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantItem {
    tenant_id: Option<String>,
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Descendant {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    properties: DescendantProps,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescendantProps {
    display_name: Option<String>,
}

/// True for a subscription that can be polled (not disabled or deleted).
fn usable(state: Option<&str>) -> bool {
    state.is_none_or(|s| matches!(s, "Enabled" | "Warned" | "PastDue"))
}

/// True when `s` matches one of `patterns` by id (exactly, any case) or display-name glob.
fn matches(s: &Listed, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        p.eq_ignore_ascii_case(&s.id)
            || glob::Pattern::new(p).is_ok_and(|g| {
                g.matches_with(
                    &s.display_name,
                    glob::MatchOptions {
                        case_sensitive: false,
                        ..Default::default()
                    },
                )
            })
    })
}

/// The subscriptions to poll: usable, in `include` (all when empty), not in `exclude`.
pub fn select(listed: Vec<Listed>, include: &[String], exclude: &[String]) -> Vec<Listed> {
    listed
        .into_iter()
        .filter(|s| usable(s.state.as_deref()))
        .filter(|s| include.is_empty() || matches(s, include))
        .filter(|s| !matches(s, exclude))
        .collect()
}

impl ArmClient {
    /// Every item of a paged ARM list at `first`.
    async fn all_pages(
        &self,
        arm: &Url,
        first: Url,
        token: &TenantToken,
    ) -> Result<Vec<serde_json::Value>, PollError> {
        let mut out = Vec::new();
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        let mut requests = 0;
        loop {
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(PollError::PagingLoop);
            }
            let body = self.send(Method::GET, &url, token, &mut requests).await?;
            let page: Page =
                serde_json::from_str(&body).map_err(|e| PollError::Body(e.to_string()))?;
            out.extend(page.value);
            match page.next_link.filter(|l| !l.trim().is_empty()) {
                None => return Ok(out),
                Some(link) => url = same_host_link(arm, &link)?,
            }
        }
    }

    /// The subscriptions the identity can read, or those under `management_group`.
    pub async fn list_subscriptions(
        &self,
        arm: &Url,
        token: &TenantToken,
        management_group: Option<&str>,
    ) -> Result<Vec<Listed>, PollError> {
        let items = match management_group {
            None => {
                let url = arm_url(arm, &["subscriptions"], RESOURCES_API);
                self.all_pages(arm, url, token).await?
            }
            Some(g) => {
                let segments = [
                    "providers",
                    "Microsoft.Management",
                    "managementGroups",
                    g,
                    "descendants",
                ];
                let url = arm_url(arm, &segments, MANAGEMENT_API);
                self.all_pages(arm, url, token).await?
            }
        };
        Ok(items
            .into_iter()
            .filter_map(|v| {
                if management_group.is_some() {
                    let d: Descendant = serde_json::from_value(v).ok()?;
                    let is_sub = d
                        .kind
                        .as_deref()
                        .is_some_and(|k| k.ends_with("/subscriptions"));
                    let id = d.name.filter(|_| is_sub)?;
                    Some(Listed {
                        display_name: d.properties.display_name.unwrap_or_else(|| id.clone()),
                        id,
                        tenant_id: None,
                        state: None,
                    })
                } else {
                    let s: SubscriptionItem = serde_json::from_value(v).ok()?;
                    let id = s.subscription_id?;
                    Some(Listed {
                        display_name: s.display_name.unwrap_or_else(|| id.clone()),
                        id,
                        tenant_id: s.tenant_id,
                        state: s.state,
                    })
                }
            })
            .collect())
    }

    /// The display names of the tenants the identity knows, by tenant id.
    pub async fn tenant_names(
        &self,
        arm: &Url,
        token: &TenantToken,
    ) -> Result<std::collections::HashMap<String, String>, PollError> {
        let url = arm_url(arm, &["tenants"], RESOURCES_API);
        Ok(self
            .all_pages(arm, url, token)
            .await?
            .into_iter()
            .filter_map(|v| {
                let t: TenantItem = serde_json::from_value(v).ok()?;
                Some((t.tenant_id?.to_ascii_lowercase(), t.display_name?))
            })
            .collect())
    }
}

fn arm_url(arm: &Url, segments: &[&str], api: &str) -> Url {
    let mut url = arm.clone();
    url.set_query(None);
    if let Ok(mut p) = url.path_segments_mut() {
        p.pop_if_empty();
        p.extend(segments);
    }
    url.query_pairs_mut().append_pair("api-version", api);
    url
}

/// The subscriptions found for `entry` (signed in to `entry_tenant`), with their home tenants.
pub fn found(
    entry: &str,
    entry_tenant: &str,
    selected: Vec<Listed>,
    names: &std::collections::HashMap<String, String>,
) -> Vec<Found> {
    selected
        .into_iter()
        .map(|s| {
            let home = s
                .tenant_id
                .unwrap_or_else(|| entry_tenant.to_owned())
                .to_ascii_lowercase();
            Found {
                entry: entry.to_owned(),
                home_name: names.get(&home).cloned(),
                subscription: s.id,
                display_name: s.display_name,
                home_tenant: home,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, name: &str, state: &str) -> Listed {
        Listed {
            id: id.into(),
            display_name: name.into(),
            tenant_id: None,
            state: Some(state.into()),
        }
    }

    #[test]
    fn include_and_exclude_by_id_or_name_glob() {
        let listed = vec![
            sub("a1", "prod-web", "Enabled"),
            sub("a2", "prod-db", "Enabled"),
            sub("a3", "sandbox-ana", "Enabled"),
            sub("a4", "Prod-old", "Disabled"),
            sub("a5", "shared", "Warned"),
        ];
        let ids = |v: Vec<Listed>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        // (include, exclude) → selected
        let cases: [(&[&str], &[&str], &[&str]); 4] = [
            (&[], &[], &["a1", "a2", "a3", "a5"]),
            (&[], &["sandbox-*"], &["a1", "a2", "a5"]),
            (&["PROD-*", "a5"], &["prod-db"], &["a1", "a5"]),
            (&["nothing"], &[], &[]),
        ];
        for (include, exclude, want) in cases {
            assert_eq!(
                ids(select(listed.clone(), &s(include), &s(exclude))),
                s(want),
                "{include:?} {exclude:?}"
            );
        }
    }

    #[test]
    fn the_spec_examples_parse() {
        let v: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/arm/Resources_GetSubscriptions.json"
        ))
        .expect("json");
        let items = v["responses"]["200"]["body"]["value"]
            .as_array()
            .expect("value")
            .clone();
        let subs: Vec<SubscriptionItem> = items
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("item"))
            .collect();
        assert_eq!(
            subs[0].tenant_id.as_deref(),
            Some("31c75423-32d6-4322-88b7-c478bdde4858")
        );
        assert_eq!(
            subs[1].display_name.as_deref(),
            Some("Example Subscription2")
        );
    }
}
