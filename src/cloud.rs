//! The Azure clouds a tenant can live in, and each one's endpoints: ARM host, token scope,
//! login authority, portal. A leaf of facts that the config and the source both read.
//!
//! azure_identity picks the login host from its `CloudConfiguration`; the ARM host, the scope
//! and the portal link are pirwatch's to know.

use std::sync::Arc;

use azure_core::cloud::CloudConfiguration;
use url::Url;

use serde::Deserialize;

/// The Azure cloud a tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudName {
    /// Azure public cloud.
    Public,
    /// Azure China, operated by 21Vianet.
    China,
    /// Azure US Government.
    Usgov,
}

/// Everything pirwatch needs to know about one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    /// Resource Manager, where `Microsoft.ResourceHealth/events` lives.
    pub arm: &'static str,
    /// The scope a token for ARM is requested with.
    pub scope: &'static str,
    /// Entra ID login host (informational; azure_identity derives it from the cloud).
    pub authority: &'static str,
    /// Service Health in the portal, for "where to find it" in mail.
    pub service_health_url: &'static str,
}

impl Cloud {
    /// The endpoints of a named cloud.
    pub fn named(name: CloudName) -> Self {
        match name {
            CloudName::Public => Self {
                arm: "https://management.azure.com",
                scope: "https://management.azure.com/.default",
                authority: "https://login.microsoftonline.com",
                service_health_url: "https://portal.azure.com/#view/Microsoft_Azure_Health/AzureHealthBrowseBlade/~/serviceIssues",
            },
            CloudName::China => Self {
                arm: "https://management.chinacloudapi.cn",
                scope: "https://management.chinacloudapi.cn/.default",
                authority: "https://login.chinacloudapi.cn",
                service_health_url: "https://portal.azure.cn/#view/Microsoft_Azure_Health/AzureHealthBrowseBlade/~/serviceIssues",
            },
            CloudName::Usgov => Self {
                arm: "https://management.usgovcloudapi.net",
                scope: "https://management.usgovcloudapi.net/.default",
                authority: "https://login.microsoftonline.us",
                service_health_url: "https://portal.azure.us/#view/Microsoft_Azure_Health/AzureHealthBrowseBlade/~/serviceIssues",
            },
        }
    }

    /// The ARM endpoint, or the configured override.
    pub fn arm_url(&self, override_url: Option<&Url>) -> Url {
        match override_url {
            Some(u) => u.clone(),
            None => Url::parse(self.arm).unwrap_or_else(|_| unreachable!("static URL is valid")),
        }
    }
}

/// azure_identity's name for the cloud (selects the login authority).
pub fn configuration(name: CloudName) -> Arc<CloudConfiguration> {
    Arc::new(match name {
        CloudName::Public => CloudConfiguration::AzurePublic,
        CloudName::China => CloudConfiguration::AzureChina,
        CloudName::Usgov => CloudConfiguration::AzureGovernment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_own_hosts_and_scope() {
        let cases = [
            (
                CloudName::Public,
                "management.azure.com",
                "portal.azure.com",
            ),
            (
                CloudName::China,
                "management.chinacloudapi.cn",
                "portal.azure.cn",
            ),
            (
                CloudName::Usgov,
                "management.usgovcloudapi.net",
                "portal.azure.us",
            ),
        ];
        for (name, arm, portal) in cases {
            let c = Cloud::named(name);
            assert_eq!(c.arm, format!("https://{arm}"));
            assert_eq!(c.scope, format!("https://{arm}/.default"));
            assert!(c.service_health_url.contains(portal));
            assert_eq!(c.arm_url(None).host_str(), Some(arm));
        }
        assert_eq!(
            Cloud::named(CloudName::China).authority,
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(
            Cloud::named(CloudName::Usgov).authority,
            "https://login.microsoftonline.us"
        );
    }

    #[test]
    fn override_wins_and_cloud_configuration_matches() {
        let u = Url::parse("http://127.0.0.1:9999").expect("url");
        assert_eq!(Cloud::named(CloudName::Public).arm_url(Some(&u)), u);
        assert!(matches!(
            *configuration(CloudName::China),
            CloudConfiguration::AzureChina
        ));
        assert!(matches!(
            *configuration(CloudName::Usgov),
            CloudConfiguration::AzureGovernment
        ));
    }
}
