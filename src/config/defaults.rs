//! `[tenant_defaults]`: any per-tenant key, given once for 300 tenants, each `[[tenants]]` entry
//! overriding what differs. Applied to the spanned TOML tree before it is deserialised, so a
//! value taken from the defaults keeps its own place in the file for error messages.
//!
//! Tables merge key by key (`[tenant_defaults.reminders]` and a tenant's `[tenants.reminders]`),
//! except `credential`, which a tenant replaces whole: a credential of another kind shares no
//! keys with the default one.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Keys every tenant gives itself.
const OWN_KEYS: [&str; 2] = ["name", "tenant_id"];
/// Tables a tenant replaces whole instead of merging.
const WHOLE: [&str; 1] = ["credential"];

/// What is wrong with `[tenant_defaults]`: the key and the message.
pub(super) type DefaultsError = (super::KeyPath, String);

/// `root` with `[tenant_defaults]` applied to every `[[tenants]]` entry, and removed.
pub(super) fn apply(mut root: Spanned<DeTable<'_>>) -> Result<Spanned<DeTable<'_>>, DefaultsError> {
    let key = super::KeyPath::key("tenant_defaults");
    let Some(defaults) = root.get_mut().remove("tenant_defaults") else {
        return Ok(root);
    };
    let DeValue::Table(defaults) = defaults.into_inner() else {
        return Err((key, "must be a table ([tenant_defaults])".into()));
    };
    if let Some(own) = OWN_KEYS.iter().find(|k| defaults.contains_key(**k)) {
        return Err((
            key.then(own),
            "is each tenant's own; set it in [[tenants]]".into(),
        ));
    }
    if let Some(tenants) = root.get_mut().get_mut("tenants")
        && let DeValue::Array(entries) = tenants.get_mut()
    {
        for entry in entries.iter_mut() {
            if let DeValue::Table(t) = entry.get_mut() {
                merge(t, &defaults, true);
            }
        }
    }
    Ok(root)
}

/// Adds to `into` what `from` has and it lacks; tables present in both merge key by key
/// (`top`: at a tenant's top level, where `credential` is replaced whole).
fn merge<'i>(into: &mut DeTable<'i>, from: &DeTable<'i>, top: bool) {
    for (k, v) in from.iter() {
        match (into.get_mut(k.get_ref().as_ref()), v.get_ref()) {
            (None, _) => {
                into.insert(k.clone(), v.clone());
            }
            (Some(mine), DeValue::Table(theirs))
                if !(top && WHOLE.contains(&k.get_ref().as_ref())) =>
            {
                if let DeValue::Table(mine) = mine.get_mut() {
                    merge(mine, theirs, false);
                }
            }
            (Some(_), _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(text: &str) -> Result<String, String> {
        let root = DeTable::parse(text).map_err(|e| e.to_string())?;
        let root = apply(root).map_err(|(k, m)| format!("{k}: {m}"))?;
        let v: toml::Value = serde::Deserialize::deserialize(toml::de::Deserializer::from(root))
            .map_err(|e| e.to_string())?;
        Ok(toml::to_string(&v).unwrap_or_default())
    }

    #[test]
    fn each_tenant_overrides_what_differs() {
        let text = r#"
[tenant_defaults]
timezone = "Europe/Amsterdam"
support_plan = "standard"
[tenant_defaults.reminders]
review_max = 2
claim_days_before = [7, 1]
[tenant_defaults.credential]
kind = "client_secret"
client_id = "app"
client_secret_file = "secret"

[[tenants]]
name = "a"
tenant_id = "1"

[[tenants]]
name = "b"
tenant_id = "2"
timezone = "Asia/Tokyo"
[tenants.reminders]
review_max = 4
[tenants.credential]
kind = "azure_cli"
"#;
        let out = applied(text).expect("applies");
        let v: toml::Value = toml::from_str(&out).expect("toml");
        let t = v["tenants"].as_array().expect("tenants");
        assert_eq!(t[0]["timezone"].as_str(), Some("Europe/Amsterdam"));
        assert_eq!(t[0]["credential"]["client_id"].as_str(), Some("app"));
        assert_eq!(t[1]["timezone"].as_str(), Some("Asia/Tokyo"));
        assert_eq!(t[1]["support_plan"].as_str(), Some("standard"));
        // Tables merge key by key ...
        assert_eq!(t[1]["reminders"]["review_max"].as_integer(), Some(4));
        assert_eq!(
            t[1]["reminders"]["claim_days_before"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        // ... except the credential, replaced whole.
        assert_eq!(t[1]["credential"]["kind"].as_str(), Some("azure_cli"));
        assert!(t[1]["credential"].get("client_id").is_none());
        assert!(v.get("tenant_defaults").is_none());
    }

    #[test]
    fn a_tenants_own_keys_are_refused_in_the_defaults() {
        let e = applied("[tenant_defaults]\nname = \"x\"\n").expect_err("refused");
        assert_eq!(
            e,
            "tenant_defaults.name: is each tenant's own; set it in [[tenants]]"
        );
        let e = applied("tenant_defaults = 1\n").expect_err("refused");
        assert!(e.contains("must be a table"), "{e}");
    }
}
