//! The configuration: its TOML schema ([`schema`]), validation and resolution into the
//! settings the program uses ([`Config`], one [`Tenant`] per `[[tenants]]` entry with its
//! calendar and policies built once), and secret files ([`secrets`]).
//!
//! Every error names the file, the line and column, and the dotted key it is about
//! (`config.toml:12:1: poll.intervall: unknown key`). Type and value checks run inside serde, so
//! toml's spans locate them; the cross-field checks and the resolution that run afterwards
//! locate their key through a spanned parse of the same text ([`locate`]). Nothing falls back to
//! a default silently: a value that cannot be resolved is an error.

mod de;
mod defaults;
pub mod discovered;
mod locate;
mod routes;
pub mod schema;
mod secrets;
mod validate;
pub mod web;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::followup::TenantPolicy;
use crate::incident::{EventType, TenantName};

pub use de::is_loopback;
pub use locate::KeyPath;
pub use schema::{
    CloudName, CredentialConfig, HttpConfig, PollConfig, RemindersConfig, SmtpConfig, SmtpSecurity,
    StateConfig, TenantConfig,
};

/// Where the config is read from when neither `--config` nor `PIRWATCH_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/pirwatch/config.toml";

/// A config error, already formatted as `file:line:col: key: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}{hint}", hint = if source.kind() == std::io::ErrorKind::NotFound {
        " (name the config file with --config FILE or PIRWATCH_CONFIG)"
    } else {
        ""
    })]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{key}: cannot read secret file {file}: {source}{looked}")]
    Secret {
        key: String,
        file: String,
        source: std::io::Error,
        /// Where a relative name was looked for, when it was not found.
        looked: String,
    },
    #[error(
        "{key}: secret file {file} is readable by every user (mode {mode:04o}); make it \
         readable only by its owner and group, e.g. `chown root:pirwatch {file} && chmod 0640 {file}`"
    )]
    SecretExposed {
        key: String,
        file: String,
        mode: u32,
    },
    #[error("{key}: {file}: {message}")]
    WebhookUrl {
        key: String,
        file: String,
        message: String,
    },
    #[error("web.key_file: {file}: {source}")]
    WebKey {
        file: String,
        source: crate::web::link::KeyError,
    },
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[state]`: the store.
    pub state: StateConfig,
    /// `[poll]`: how and how often Azure is asked.
    pub poll: PollConfig,
    /// `[smtp]`: the mail server.
    pub smtp: SmtpConfig,
    /// `[notify]`, resolved.
    pub notify: Notify,
    /// `[http]`: the optional health and metrics listener.
    pub http: HttpConfig,
    /// `[web]`: the optional listener for people (signed links, follow-up pages).
    pub web: Option<web::Web>,
    /// `[[routes]]`, in order.
    pub routes: Vec<crate::notify::route::Route>,
    /// `[[webhooks]]`, as written (their URLs and keys are read by [`Config::webhooks`]).
    pub webhooks: Vec<schema::WebhookConfig>,
    /// What `check-config` warns about (routes that can never match); not errors.
    pub warnings: Vec<String>,
    /// The tenants, each with its policies resolved.
    pub tenants: Vec<Tenant>,
    /// The directory of the config file: relative secret files are looked up beside it.
    pub dir: PathBuf,
}

/// `[notify]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Event types that send mail; the others are recorded and listed only.
    pub event_types: BTreeSet<EventType>,
    /// Who hears of pirwatch's own trouble; nobody when empty.
    pub operators: Vec<lettre::message::Mailbox>,
    /// How long a scope may fail before the operators hear of it.
    pub operator_alert_after: std::time::Duration,
    /// How the team runs pirwatch's CLI, for the commands mails print.
    pub ack_command: String,
    /// Templates overriding the built-in ones (relative: beside the config file).
    pub templates_dir: Option<PathBuf>,
    /// Who receives what no route takes.
    pub fallback: Vec<lettre::message::Mailbox>,
    /// The most incidents a digest lists.
    pub digest_max_items: usize,
}

/// One `[[tenants]]` entry with everything derived from it built once.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub name: TenantName,
    /// The entry as written.
    pub config: TenantConfig,
    /// Calendar, claim and reminder policy.
    pub policy: TenantPolicy,
    /// Service Health in the tenant's cloud's portal.
    pub portal_url: &'static str,
    /// Found by discovery under another entry (`subscriptions = "all"`): that entry signs in
    /// for it.
    pub signs_in_as: Option<TenantName>,
    /// The customer's own Entra ID tenant, for a tenant found through Lighthouse (`config`'s
    /// `tenant_id` is the one signed in to).
    pub customer_tenant_id: Option<String>,
}

impl Tenant {
    /// The name whose credential and ARM endpoint this tenant is polled with.
    pub fn identity(&self) -> &TenantName {
        self.signs_in_as.as_ref().unwrap_or(&self.name)
    }

    /// The tenant's own Entra ID tenant id (a customer's, for one found through Lighthouse).
    pub fn home_tenant_id(&self) -> &str {
        self.customer_tenant_id
            .as_deref()
            .unwrap_or(&self.config.tenant_id)
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(config)
    }

    /// Parses, validates and resolves `text`; `name` is the file name used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        use serde::Deserialize;
        let locator = locate::KeyLocator::new(text, name);
        let root = toml::de::DeTable::parse(text).map_err(|e| locator.serde_error(&e))?;
        let root = defaults::apply(root).map_err(|(key, m)| locator.key_error(&key, m))?;
        let file = schema::ConfigFile::deserialize(toml::de::Deserializer::from(root))
            .map_err(|e| locator.serde_error(&e))?;
        validate::resolve(file).map_err(|(key, message)| locator.key_error(&key, message))
    }

    /// The template engine: the built-in templates, with `[notify] templates_dir` in their
    /// place, each override checked by rendering every mail kind once.
    pub fn renderer(
        &self,
    ) -> Result<crate::notify::render::Renderer, crate::notify::render::TemplateError> {
        match &self.notify.templates_dir {
            Some(d) => crate::notify::render::Renderer::with_overrides(&self.dir.join(d)),
            None => Ok(crate::notify::render::Renderer::new()),
        }
    }

    /// The route called `name`.
    pub fn route(&self, name: &str) -> Option<&crate::notify::route::Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests;
