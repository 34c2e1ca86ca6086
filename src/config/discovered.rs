//! The tenants discovery adds (`subscriptions = "all"`): the subscriptions an entry's identity
//! can read, grouped by their home tenant. Those of the entry's own tenant are polled under the
//! entry; those delegated from a customer tenant (Azure Lighthouse) become a tenant of their
//! own, `<entry>/<customer's display name, else its tenant id>`, with the entry's settings — or
//! go to the `[[tenants]]` block that has the customer's `tenant_id`, which then overrides
//! them. Either way the entry's identity signs in for them. Pure: the found subscriptions in,
//! the expanded [`Config`] out.

use std::collections::BTreeMap;

use super::schema::Subscriptions;
use super::{Config, KeyPath, Tenant};
use crate::incident::TenantName;

/// A subscription discovery found (and has not seen disappear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The `[[tenants]]` entry whose identity found it.
    pub entry: String,
    pub subscription: String,
    pub display_name: String,
    /// The subscription's home tenant (a customer's, through Lighthouse).
    pub home_tenant: String,
    /// That tenant's display name, when `GET /tenants` had it.
    pub home_name: Option<String>,
}

/// Why the found subscriptions could not be turned into tenants.
#[derive(Debug, thiserror::Error)]
#[error("tenants found by discovery under {entry}: {message}")]
pub struct ExpandError {
    entry: String,
    message: String,
}

/// A name for a customer tenant: its display name without characters a tenant name cannot
/// have, else its id.
fn customer_name(entry: &str, f: &Found) -> String {
    let shown = f
        .home_name
        .as_deref()
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join("-"))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .unwrap_or_else(|| f.home_tenant.clone());
    format!("{entry}/{shown}")
}

impl Config {
    /// The config with the tenants `found` adds, each with its policies built as a
    /// configured tenant's.
    pub fn expanded(&self, found: &[Found]) -> Result<Config, ExpandError> {
        let mut out = self.clone();
        for entry in self
            .tenants
            .iter()
            .filter(|t| t.config.subscriptions == Subscriptions::All)
        {
            let mut by_home: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
            for f in found.iter().filter(|f| f.entry == entry.name.as_str()) {
                by_home.entry(&f.home_tenant).or_default().push(f);
            }
            for (home, subs) in by_home {
                let ids: Vec<String> = subs.iter().map(|f| f.subscription.clone()).collect();
                if home.eq_ignore_ascii_case(&entry.config.tenant_id) {
                    set_subscriptions(&mut out, &entry.name, ids);
                } else if let Some(own) = out
                    .tenants
                    .iter_mut()
                    .find(|t| t.config.tenant_id.eq_ignore_ascii_case(home) && t.name != entry.name)
                {
                    // The customer's own block overrides the entry's settings.
                    let mut all: Vec<String> = own.config.subscriptions.to_vec();
                    all.extend(ids);
                    all.sort();
                    all.dedup();
                    own.config.subscriptions = Subscriptions::Listed(all);
                    own.signs_in_as = Some(entry.name.clone());
                    own.customer_tenant_id = Some(home.to_owned());
                    own.config.tenant_id = entry.config.tenant_id.clone();
                    own.config.credential = entry.config.credential.clone();
                } else {
                    let name = customer_name(entry.name.as_str(), subs[0]);
                    out.tenants.push(derived(self, entry, &name, home, ids)?);
                }
            }
        }
        Ok(out)
    }
}

fn set_subscriptions(config: &mut Config, name: &TenantName, ids: Vec<String>) {
    if let Some(t) = config.tenants.iter_mut().find(|t| &t.name == name) {
        t.config.subscriptions = Subscriptions::Listed(ids);
    }
}

/// A customer tenant under `entry`: the entry's settings, its own subscriptions, no
/// tenant-level events (Lighthouse cannot see them).
fn derived(
    config: &Config,
    entry: &Tenant,
    name: &str,
    home: &str,
    subscriptions: Vec<String>,
) -> Result<Tenant, ExpandError> {
    let mut c = entry.config.clone();
    c.subscriptions = Subscriptions::Listed(subscriptions);
    c.tenant_events = false;
    c.include.clear();
    c.exclude.clear();
    c.management_group = None;
    let at = KeyPath::key("tenants");
    let mut t =
        super::validate::tenant(c, &at, &config.notify.event_types, true).map_err(|(_, m)| {
            ExpandError {
                entry: entry.name.to_string(),
                message: m,
            }
        })?;
    t.name = TenantName::new(name.to_owned());
    t.config.name = name.to_owned();
    t.signs_in_as = Some(entry.name.clone());
    t.customer_tenant_id = Some(home.to_owned());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTNER: &str = "11111111-1111-1111-1111-111111111111";
    const FABRIKAM: &str = "22222222-2222-2222-2222-222222222222";
    const ADATUM: &str = "33333333-3333-3333-3333-333333333333";

    fn found(sub: &str, home: &str, name: Option<&str>) -> Found {
        Found {
            entry: "csp".into(),
            subscription: sub.into(),
            display_name: format!("sub {sub}"),
            home_tenant: home.into(),
            home_name: name.map(Into::into),
        }
    }

    #[test]
    fn delegated_subscriptions_become_customer_tenants_with_the_entrys_settings() {
        let text = format!(
            "[smtp]\nhost = \"localhost\"\nfrom = \"p@example.com\"\n\
             [notify]\nfallback = [\"noc@p.example\"]\n\
             [[tenants]]\nname = \"csp\"\ntenant_id = \"{PARTNER}\"\nsubscriptions = \"all\"\n\
             timezone = \"Europe/Amsterdam\"\nclaim_channel = \"partner\"\n\
             [tenants.credential]\nkind = \"azure_cli\"\n\
             [[tenants]]\nname = \"adatum\"\ntenant_id = \"{ADATUM}\"\nsubscriptions = []\n\
             recipients = [\"it@adatum.example\"]\ntimezone = \"UTC\"\n\
             [tenants.credential]\nkind = \"azure_cli\"\n"
        );
        let base = Config::parse(&text, "c").expect("valid");
        let got = base
            .expanded(&[
                found("s-own", PARTNER, Some("Partner")),
                found("s-f1", FABRIKAM, Some("Fabrikam Ltd")),
                found("s-f2", FABRIKAM, Some("Fabrikam Ltd")),
                found("s-a", ADATUM, Some("Adatum")),
                found("s-x", "44444444-4444-4444-4444-444444444444", None),
            ])
            .expect("expanded");
        let names: Vec<&str> = got.tenants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "csp",
                "adatum",
                "csp/Fabrikam-Ltd",
                "csp/44444444-4444-4444-4444-444444444444"
            ]
        );
        let csp = got.tenant("csp").expect("csp");
        assert_eq!(csp.config.subscriptions.to_vec(), ["s-own"]);
        let f = got.tenant("csp/Fabrikam-Ltd").expect("fabrikam");
        assert_eq!(f.config.subscriptions.to_vec(), ["s-f1", "s-f2"]);
        assert_eq!(f.identity().as_str(), "csp", "signed in as the partner");
        assert_eq!(f.home_tenant_id(), FABRIKAM);
        assert_eq!(f.config.tenant_id, PARTNER);
        assert_eq!(
            f.policy.calendar.timezone().iana_name(),
            Some("Europe/Amsterdam")
        );
        assert!(!f.config.tenant_events);
        // Adatum's own block overrides: its recipients and zone, the partner's identity.
        let a = got.tenant("adatum").expect("adatum");
        assert_eq!(a.config.subscriptions.to_vec(), ["s-a"]);
        assert_eq!(a.identity().as_str(), "csp");
        assert_eq!(a.home_tenant_id(), ADATUM);
        assert_eq!(a.config.recipients.len(), 1);
        // Nothing found: the base config.
        assert_eq!(base.expanded(&[]).expect("same").tenants.len(), 2);
    }
}
