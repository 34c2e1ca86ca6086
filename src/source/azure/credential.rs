//! Signing in: one azure_identity credential per tenant, chosen by the config's `kind`, and a
//! per-tenant token cache in front of it.
//!
//! Most credentials cache tokens themselves, but the Azure CLI credential runs `az` on every
//! call, so [`TenantToken`] keeps the last token until it is within five minutes of expiry.
//! The credential's own HTTP calls go through the same transport as pirwatch's ARM calls.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use crate::config::{Config, ConfigError, CredentialConfig, TenantConfig};
use crate::source::azure::cloud;

/// Why a token could not be had. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("tenant {tenant}: {kind} credential: {source}")]
    Config {
        tenant: String,
        kind: &'static str,
        source: Box<ConfigError>,
    },
    #[error("tenant {tenant}: {kind} credential could not get a token: {message}")]
    Token {
        tenant: String,
        kind: &'static str,
        message: String,
    },
}

/// Who signs in: a tenant's entry, or `[smtp.oauth]`.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// For errors: the tenant's name, or `smtp.oauth`.
    pub name: &'a str,
    pub tenant_id: &'a str,
    pub cloud: crate::config::CloudName,
    pub credential: &'a CredentialConfig,
}

impl<'a> From<&'a TenantConfig> for Identity<'a> {
    fn from(t: &'a TenantConfig) -> Self {
        Self {
            name: &t.name,
            tenant_id: &t.tenant_id,
            cloud: t.cloud,
            credential: &t.credential,
        }
    }
}

impl<'a> From<&'a crate::config::schema::SmtpOauthConfig> for Identity<'a> {
    fn from(o: &'a crate::config::schema::SmtpOauthConfig) -> Self {
        Self {
            name: "smtp.oauth",
            tenant_id: &o.tenant_id,
            cloud: o.cloud,
            credential: &o.credential,
        }
    }
}

/// Builds the credential of one identity. `transport` carries its HTTP requests (tests point
/// it at a local token endpoint; production passes pirwatch's reqwest client).
pub fn build<'a>(
    config: &Config,
    tenant: impl Into<Identity<'a>>,
    transport: Transport,
) -> Result<Arc<dyn TokenCredential>, CredentialError> {
    let tenant: Identity<'a> = tenant.into();
    let kind = tenant.credential.kind();
    let fail = |message: String| CredentialError::Token {
        tenant: tenant.name.to_owned(),
        kind,
        message,
    };
    let secret = |key: &str, file: &std::path::Path| {
        config
            .read_secret(key, file)
            .map_err(|source| CredentialError::Config {
                tenant: tenant.name.to_owned(),
                kind,
                source: Box::new(source),
            })
    };
    let client_options = ClientOptions {
        transport: Some(transport),
        cloud: Some(cloud::configuration(tenant.cloud)),
        ..Default::default()
    };
    let made: azure_core::Result<Arc<dyn TokenCredential>> = match tenant.credential {
        CredentialConfig::ClientSecret {
            client_id,
            client_secret_file,
        } => {
            let s = secret("credential.client_secret_file", client_secret_file)?;
            azure_identity::ClientSecretCredential::new(
                tenant.tenant_id,
                client_id.clone(),
                Secret::new(s.expose_secret().to_owned()),
                Some(azure_identity::ClientSecretCredentialOptions { client_options }),
            )
            .map(|c| c as Arc<dyn TokenCredential>)
        }
        CredentialConfig::ClientCertificate {
            client_id,
            certificate_file,
            certificate_password_file,
        } => {
            let cert_path = config.secret_path(certificate_file);
            let bytes = std::fs::read(&cert_path).map_err(|e| {
                fail(format!(
                    "cannot read certificate_file {}: {e}",
                    cert_path.display()
                ))
            })?;
            let password = match certificate_password_file {
                Some(f) => Some(secret("credential.certificate_password_file", f)?),
                None => None,
            };
            certificate(tenant, client_id, bytes, password, client_options)
        }
        CredentialConfig::ManagedIdentity { client_id } => {
            azure_identity::ManagedIdentityCredential::new(Some(
                azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id
                        .clone()
                        .map(azure_identity::UserAssignedId::ClientId),
                    client_options,
                },
            ))
            .map(|c| c as Arc<dyn TokenCredential>)
        }
        CredentialConfig::WorkloadIdentity {
            client_id,
            token_file,
        } => azure_identity::WorkloadIdentityCredential::new(Some(
            azure_identity::WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options,
                },
                client_id: client_id.clone(),
                tenant_id: Some(tenant.tenant_id.to_owned()),
                token_file_path: token_file.as_ref().map(|f| config.secret_path(f)),
            },
        ))
        .map(|c| c as Arc<dyn TokenCredential>),
        CredentialConfig::AzureCli {} => azure_identity::AzureCliCredential::new(Some(
            azure_identity::AzureCliCredentialOptions {
                tenant_id: Some(tenant.tenant_id.to_owned()),
                ..Default::default()
            },
        ))
        .map(|c| c as Arc<dyn TokenCredential>),
    };
    made.map_err(|e| fail(e.to_string()))
}

#[cfg(feature = "client-certificate")]
fn certificate(
    tenant: Identity<'_>,
    client_id: &str,
    bytes: Vec<u8>,
    password: Option<secrecy::SecretString>,
    client_options: ClientOptions,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    azure_identity::ClientCertificateCredential::new(
        tenant.tenant_id.to_owned(),
        client_id.to_owned(),
        azure_core::credentials::SecretBytes::new(bytes),
        Some(azure_identity::ClientCertificateCredentialOptions {
            client_options,
            password: password.map(|p| Secret::new(p.expose_secret().to_owned())),
        }),
    )
    .map(|c| c as Arc<dyn TokenCredential>)
}

#[cfg(not(feature = "client-certificate"))]
fn certificate(
    _tenant: Identity<'_>,
    _client_id: &str,
    _bytes: Vec<u8>,
    _password: Option<secrecy::SecretString>,
    _client_options: ClientOptions,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    Err(azure_core::Error::with_message(
        azure_core::error::ErrorKind::Credential,
        "client_certificate needs pirwatch built with the cargo feature `client-certificate`",
    ))
}

/// A tenant's credential with the token it last got, reused until it nears expiry.
#[derive(Debug)]
pub struct TenantToken {
    tenant: String,
    kind: &'static str,
    scope: String,
    credential: Arc<dyn TokenCredential>,
    cached: Mutex<Option<azure_core::credentials::AccessToken>>,
}

/// A token is renewed when it has less than this left.
const RENEW_BEFORE: time::Duration = time::Duration::minutes(5);

impl TenantToken {
    pub fn new(
        tenant: &str,
        kind: &'static str,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        Self {
            tenant: tenant.to_owned(),
            kind,
            scope: scope.to_owned(),
            credential,
            cached: Mutex::new(None),
        }
    }

    /// A bearer token for ARM. Concurrent callers share one sign-in.
    pub async fn bearer(&self) -> Result<Secret, CredentialError> {
        let mut cached = self.cached.lock().await;
        let now = time::OffsetDateTime::now_utc();
        if let Some(t) = cached.as_ref()
            && t.expires_on - now > RENEW_BEFORE
        {
            return Ok(t.token.clone());
        }
        let token = self
            .credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| CredentialError::Token {
                tenant: self.tenant.clone(),
                kind: self.kind,
                message: e.to_string(),
            })?;
        let secret = token.token.clone();
        *cached = Some(token);
        Ok(secret)
    }
}

/// `[smtp.oauth]`'s tokens for AUTH XOAUTH2: its credential, cached like a tenant's.
struct SmtpToken(TenantToken);

#[async_trait::async_trait]
impl crate::notify::channel::smtp::BearerToken for SmtpToken {
    async fn bearer(&self) -> Result<secrecy::SecretString, String> {
        self.0
            .bearer()
            .await
            .map(|s| secrecy::SecretString::from(s.secret().to_owned()))
            .map_err(|e| e.to_string())
    }
}

/// The token source of `[smtp.oauth]`, if configured. `transport` carries the credential's
/// HTTP requests.
pub fn smtp_token(
    config: &Config,
    transport: Transport,
) -> Result<Option<Arc<dyn crate::notify::channel::smtp::BearerToken>>, CredentialError> {
    let Some(o) = &config.smtp.oauth else {
        return Ok(None);
    };
    let credential = build(config, o, transport)?;
    let token = TenantToken::new("smtp.oauth", o.credential.kind(), &o.scope, credential);
    Ok(Some(Arc::new(SmtpToken(token))))
}
