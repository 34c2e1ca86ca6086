//! The configuration file: its TOML schema, validation, and secret files.
//!
//! Every error names the file, the line and column, and the dotted key it is about
//! (`config.toml:12:1: poll.intervall: unknown key`). Type and value checks run inside serde, so
//! toml's spans locate them; the few cross-field checks that run afterwards locate their key
//! through a spanned parse of the same text ([`KeyLocator`]). Secrets are never written in the
//! file: keys ending in `_file` name files, read by [`Config::read_secret`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::followup::calendar::WorkCalendar;
use crate::followup::claim::{ClaimChannel, ClaimPolicy};
use crate::followup::schedule::ReminderPolicy;
use crate::followup::support::SupportPlan;

/// Where the config is read from when neither `--config` nor `PIRWATCH_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/pirwatch/config.toml";

/// A config error, already formatted as `file:line:col: key: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
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
    #[error("{key}: cannot read secret file {file}: {source}")]
    Secret {
        key: String,
        file: String,
        source: std::io::Error,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The embedded store.
    #[serde(default)]
    pub state: StateConfig,
    /// How and how often Azure is asked.
    #[serde(default)]
    pub poll: PollConfig,
    /// The mail server.
    pub smtp: SmtpConfig,
    /// What sends mail.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// The optional health and metrics listener.
    #[serde(default)]
    pub http: HttpConfig,
    /// The Entra ID tenants watched; a CSP partner lists one per customer.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// The directory of the config file: relative secret files are looked up beside it.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// `[state]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The SQLite database file (WAL mode; keep it on a local disk, not a network share).
    #[serde(default = "default_state_path")]
    pub path: PathBuf,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            path: default_state_path(),
        }
    }
}

fn default_state_path() -> PathBuf {
    PathBuf::from("/var/lib/pirwatch/pirwatch.db")
}

/// `[poll]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Time between two polls of every scope.
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    /// How far back `queryStartTime` reaches (it filters on the event's last update).
    #[serde(default = "default_lookback", deserialize_with = "duration")]
    pub lookback: Duration,
    /// The Resource Health api-version.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// How many scopes of one tenant are polled at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Time limit of one HTTP request to Azure.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            lookback: default_lookback(),
            api_version: default_api_version(),
            concurrency: default_concurrency(),
            request_timeout: default_request_timeout(),
        }
    }
}

const fn default_interval() -> Duration {
    Duration::from_secs(5 * 60)
}
const fn default_lookback() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_api_version() -> String {
    "2025-05-01".to_owned()
}
const fn default_concurrency() -> usize {
    8
}
const fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// No encryption; only sensible to a relay on the same host.
    None,
}

/// `[smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name of the mail server (also the name its TLS certificate must carry).
    pub host: String,
    /// Port; defaults to 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    /// AUTH user name; no AUTH when absent.
    pub username: Option<String>,
    /// File holding the AUTH password.
    pub password_file: Option<PathBuf>,
    /// The sender, `Name <address>`.
    #[serde(deserialize_with = "mailbox")]
    pub from: lettre::message::Mailbox,
    /// Extra CA certificate (PEM) trusted for the server, for private CAs.
    pub ca_file: Option<PathBuf>,
    /// Time limit of one SMTP conversation.
    #[serde(default = "default_smtp_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
}

const fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
const fn default_smtp_timeout() -> Duration {
    Duration::from_secs(30)
}

impl SmtpConfig {
    /// The port, with the security mode's usual default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

/// `[http]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address for `/healthz`, `/readyz` and `/metrics`, e.g. `127.0.0.1:9464`; off when absent.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[notify]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Event types that send mail; the others are recorded and listed only.
    #[serde(default = "default_event_types")]
    pub event_types: BTreeSet<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            event_types: default_event_types(),
        }
    }
}

fn default_event_types() -> BTreeSet<String> {
    ["ServiceIssue", "SecurityAdvisory"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

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

/// `[[tenants]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// A short name used in mail, logs and the CLI.
    pub name: String,
    /// The Entra ID tenant (directory) id.
    pub tenant_id: String,
    /// `public`, `china` or `usgov`.
    #[serde(default = "default_cloud")]
    pub cloud: CloudName,
    /// Override of the cloud's ARM endpoint; `http://` only for loopback hosts.
    #[serde(default, deserialize_with = "arm_endpoint")]
    pub arm_endpoint: Option<Url>,
    /// Subscriptions whose events are polled.
    #[serde(default)]
    pub subscriptions: Vec<String>,
    /// Also poll tenant-level events (needs a tenant-admin role).
    #[serde(default)]
    pub tenant_events: bool,
    /// Who gets this tenant's mail.
    #[serde(deserialize_with = "mailboxes")]
    pub recipients: Vec<lettre::message::Mailbox>,
    /// IANA time zone in which times are shown to this tenant's team.
    #[serde(default = "default_timezone", deserialize_with = "timezone")]
    pub timezone: jiff::tz::TimeZone,
    /// How pirwatch signs in to this tenant.
    pub credential: CredentialConfig,
    /// Where SLA claims are filed: `microsoft`, `21vianet` or `partner`.
    #[serde(default)]
    pub claim_channel: ClaimChannel,
    /// `partner` only: the partner's internal claim deadline, in days after the incident.
    pub partner_deadline_days: Option<u32>,
    /// The day billing periods start on (1 = calendar months, up to 28).
    #[serde(default = "default_billing_day")]
    pub billing_period_start_day: i8,
    /// Per-subscription overrides of `billing_period_start_day`.
    #[serde(default)]
    pub subscription_billing_start_days: BTreeMap<String, i8>,
    /// The support plan, whose response times mails quote.
    #[serde(default)]
    pub support_plan: SupportPlan,
    /// Working days, e.g. `["mon", "tue", "wed", "thu", "fri"]`.
    #[serde(default = "default_working_days", deserialize_with = "weekdays")]
    pub working_days: Vec<Weekday>,
    /// Working hours, `HH:MM-HH:MM` in `timezone` (`24:00` ends at midnight); reminders and
    /// digests go out inside them.
    #[serde(default = "default_working_hours", deserialize_with = "hours")]
    pub working_hours: (Time, Time),
    /// Days off (`YYYY-MM-DD`), besides the non-working weekdays.
    #[serde(default)]
    pub holidays: Vec<Date>,
    /// The reminder schedule.
    #[serde(default)]
    pub reminders: RemindersConfig,
}

/// `[tenants.reminders]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    /// Remind to review a PIR every this many working days...
    #[serde(default = "default_review_every")]
    pub review_every_working_days: u32,
    /// ... at most this many times.
    #[serde(default = "default_review_max")]
    pub review_max: u32,
    /// Claim reminders, in days before the claim deadline.
    #[serde(default = "default_claim_days")]
    pub claim_days_before: Vec<u32>,
    /// Say so once when the claim window closed unacknowledged.
    #[serde(default = "default_true")]
    pub window_closed_notice: bool,
    /// Suggest requesting a PIR when none came this long after mitigation.
    #[serde(default = "default_nudge", deserialize_with = "duration")]
    pub pir_nudge_after: Duration,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        Self {
            review_every_working_days: default_review_every(),
            review_max: default_review_max(),
            claim_days_before: default_claim_days(),
            window_closed_notice: true,
            pir_nudge_after: default_nudge(),
        }
    }
}

const fn default_review_every() -> u32 {
    3
}
const fn default_review_max() -> u32 {
    5
}
fn default_claim_days() -> Vec<u32> {
    vec![14, 7, 3, 1]
}
const fn default_true() -> bool {
    true
}
const fn default_nudge() -> Duration {
    Duration::from_secs(21 * 24 * 3600)
}
const fn default_billing_day() -> i8 {
    1
}
fn default_working_days() -> Vec<Weekday> {
    use Weekday::*;
    vec![Monday, Tuesday, Wednesday, Thursday, Friday]
}
const fn default_working_hours() -> (Time, Time) {
    (Time::constant(9, 0, 0, 0), Time::constant(17, 0, 0, 0))
}

impl TenantConfig {
    /// Checks one tenant; `at` is its key path.
    fn validate(&self, at: &KeyPath) -> Result<(), (KeyPath, String)> {
        let fail = |key: &str, message: &str| Err((at.clone().then(key), message.to_owned()));
        if self.name.is_empty() || self.name.chars().any(|c| c.is_whitespace() || c == '/') {
            return fail("name", "must be non-empty, without spaces or '/'");
        }
        if self.subscriptions.is_empty() && !self.tenant_events {
            return fail(
                "subscriptions",
                "list at least one subscription, or set tenant_events = true",
            );
        }
        if self.recipients.is_empty() {
            return fail("recipients", "list at least one address");
        }
        if !(1..=28).contains(&self.billing_period_start_day) {
            return fail("billing_period_start_day", "must be 1 to 28");
        }
        if let Some((sub, _)) = self
            .subscription_billing_start_days
            .iter()
            .find(|(_, d)| !(1..=28).contains(*d))
        {
            return Err((
                at.clone().then("subscription_billing_start_days").then(sub),
                "must be 1 to 28".into(),
            ));
        }
        if self.partner_deadline_days.is_some() && self.claim_channel != ClaimChannel::Partner {
            return fail(
                "partner_deadline_days",
                "only applies with claim_channel = \"partner\"",
            );
        }
        if self.working_days.is_empty() {
            return fail("working_days", "list at least one day");
        }
        if self.reminders.review_every_working_days == 0 {
            return Err((
                at.clone()
                    .then("reminders")
                    .then("review_every_working_days"),
                "must be at least 1".into(),
            ));
        }
        if matches!(self.credential, CredentialConfig::ClientCertificate { .. })
            && !cfg!(feature = "client-certificate")
        {
            return Err((
                at.clone().then("credential").then("kind"),
                "client_certificate needs pirwatch built with the cargo feature \
                 `client-certificate`"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The team's working calendar.
    pub fn calendar(&self) -> WorkCalendar {
        let (start, end) = self.working_hours;
        WorkCalendar::new(
            self.timezone.clone(),
            self.working_days.iter().copied(),
            start,
            end,
            self.holidays.iter().copied(),
        )
        .unwrap_or_else(|_| WorkCalendar::office_hours(self.timezone.clone()))
    }

    /// How this tenant's claim deadlines are computed.
    pub fn claim_policy(&self) -> ClaimPolicy {
        ClaimPolicy {
            channel: self.claim_channel,
            billing_start_day: self.billing_period_start_day,
            subscription_start_days: self.subscription_billing_start_days.clone(),
            partner_deadline_days: self.partner_deadline_days,
        }
    }

    /// The reminder schedule.
    pub fn reminder_policy(&self) -> ReminderPolicy {
        let r = &self.reminders;
        ReminderPolicy {
            review_every_working_days: r.review_every_working_days,
            review_max: r.review_max,
            claim_days_before: r.claim_days_before.clone(),
            window_closed_notice: r.window_closed_notice,
            pir_nudge_after: jiff::SignedDuration::try_from(r.pir_nudge_after)
                .unwrap_or(crate::followup::pir::NUDGE_AFTER),
        }
    }
}

const fn default_cloud() -> CloudName {
    CloudName::Public
}
fn default_timezone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::UTC
}

/// `[tenants.credential]`: one variant per `kind`.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialConfig {
    /// An app registration with a client secret.
    ClientSecret {
        client_id: String,
        client_secret_file: PathBuf,
    },
    /// An app registration with a PKCS#12 certificate (cargo feature `client-certificate`).
    ClientCertificate {
        client_id: String,
        certificate_file: PathBuf,
        certificate_password_file: Option<PathBuf>,
    },
    /// The host's managed identity; `client_id` selects a user-assigned one.
    ManagedIdentity { client_id: Option<String> },
    /// Kubernetes workload identity; defaults from `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity {
        client_id: Option<String>,
        token_file: Option<PathBuf>,
    },
    /// The signed-in Azure CLI (`az login`), for trying pirwatch out.
    AzureCli {},
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl CredentialConfig {
    /// The `kind` as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientSecret { .. } => "client_secret",
            Self::ClientCertificate { .. } => "client_certificate",
            Self::ManagedIdentity { .. } => "managed_identity",
            Self::WorkloadIdentity { .. } => "workload_identity",
            Self::AzureCli {} => "azure_cli",
        }
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

    /// Parses and validates `text`; `name` is the file name used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let locator = KeyLocator::new(text, name);
        let config: Config = toml::from_str(text).map_err(|e| locator.serde_error(&e))?;
        config
            .validate()
            .map_err(|(key, message)| locator.key_error(&key, message))?;
        Ok(config)
    }

    /// Cross-field checks serde cannot do; errors name a key path.
    fn validate(&self) -> Result<(), (KeyPath, String)> {
        if self.smtp.password_file.is_some() && self.smtp.username.is_none() {
            return Err((
                KeyPath::key("smtp").then("password_file"),
                "needs smtp.username".into(),
            ));
        }
        if self.poll.interval < Duration::from_secs(30) {
            return Err((
                KeyPath::key("poll").then("interval"),
                "must be at least 30s".into(),
            ));
        }
        if self.poll.concurrency == 0 {
            return Err((
                KeyPath::key("poll").then("concurrency"),
                "must be at least 1".into(),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let at = KeyPath::key("tenants").index(i);
            if !names.insert(t.name.as_str()) {
                return Err((
                    at.then("name"),
                    format!("duplicate tenant name {:?}", t.name),
                ));
            }
            t.validate(&at)?;
        }
        Ok(())
    }

    /// Reads every secret file the config names, so a missing one is a config error at start.
    pub fn check_secrets(&self) -> Result<(), ConfigError> {
        if let Some(f) = &self.smtp.password_file {
            self.read_secret("smtp.password_file", f)?;
        }
        for (i, t) in self.tenants.iter().enumerate() {
            let key = |k: &str| format!("tenants[{i}].credential.{k}");
            match &t.credential {
                CredentialConfig::ClientSecret {
                    client_secret_file, ..
                } => {
                    self.read_secret(&key("client_secret_file"), client_secret_file)?;
                }
                CredentialConfig::ClientCertificate {
                    certificate_file,
                    certificate_password_file,
                    ..
                } => {
                    let path = self.secret_path(certificate_file);
                    std::fs::metadata(&path).map_err(|source| ConfigError::Secret {
                        key: key("certificate_file"),
                        file: path.display().to_string(),
                        source,
                    })?;
                    if let Some(f) = certificate_password_file {
                        self.read_secret(&key("certificate_password_file"), f)?;
                    }
                }
                CredentialConfig::WorkloadIdentity {
                    token_file: Some(f),
                    ..
                } => {
                    self.read_secret(&key("token_file"), f)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Resolves a secret file name: absolute as is; relative in `$CREDENTIALS_DIRECTORY`
    /// (systemd `LoadCredential=`) when it is there, else beside the config file.
    pub fn secret_path(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            return file.to_path_buf();
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = Path::new(&dir).join(file);
            if candidate.exists() {
                return candidate;
            }
        }
        self.dir.join(file)
    }

    /// Reads a secret file (trailing newline removed); `key` names it in errors.
    pub fn read_secret(&self, key: &str, file: &Path) -> Result<SecretString, ConfigError> {
        let path = self.secret_path(file);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Secret {
            key: key.to_owned(),
            file: path.display().to_string(),
            source,
        })?;
        Ok(SecretString::from(
            text.trim_end_matches(['\r', '\n']).to_owned(),
        ))
    }
}

/// A dotted path to a key, like `tenants[1].credential.kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    fn key(k: &str) -> Self {
        Self(vec![Segment::Key(k.to_owned())])
    }
    fn then(mut self, k: &str) -> Self {
        self.0.push(Segment::Key(k.to_owned()));
        self
    }
    fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Maps byte offsets and key paths of one TOML text to lines, columns and keys.
struct KeyLocator<'a> {
    text: &'a str,
    name: &'a str,
    root: Option<toml::Spanned<toml::de::DeTable<'a>>>,
}

type DeValue<'a> = toml::de::DeValue<'a>;

impl<'a> KeyLocator<'a> {
    fn new(text: &'a str, name: &'a str) -> Self {
        Self {
            text,
            name,
            root: toml::de::DeTable::parse(text).ok(),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// An error from toml/serde: its span gives the place, the spanned tree the key.
    fn serde_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = self.line_col(offset);
        let key = self
            .root
            .as_ref()
            .and_then(|r| path_at(r.get_ref(), offset, &KeyPath::default()))
            .unwrap_or_default();
        ConfigError::Invalid {
            path: self.name.to_owned(),
            line,
            column,
            key: key.to_string(),
            message: tidy_serde_message(e.message()),
        }
    }

    /// An error about `key`, placed at the key's line.
    fn key_error(&self, key: &KeyPath, message: String) -> ConfigError {
        let offset = self
            .root
            .as_ref()
            .and_then(|r| span_of(r.get_ref(), &key.0))
            .unwrap_or(0);
        let (line, column) = self.line_col(offset);
        ConfigError::Invalid {
            path: self.name.to_owned(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }
}

/// The deepest key whose key or value span contains `offset`. Table spans cover only their
/// header, so every child is searched.
fn path_at(table: &toml::de::DeTable<'_>, offset: usize, here: &KeyPath) -> Option<KeyPath> {
    for (k, v) in table {
        let path = here.clone().then(k.get_ref());
        if let Some(deeper) = path_in_value(v, offset, &path) {
            return Some(deeper);
        }
        if k.span().contains(&offset) {
            return Some(path);
        }
    }
    None
}

fn path_in_value(
    value: &toml::Spanned<DeValue<'_>>,
    offset: usize,
    here: &KeyPath,
) -> Option<KeyPath> {
    let inside = value.span().contains(&offset) || value.span().end == offset;
    match value.get_ref() {
        DeValue::Table(t) => path_at(t, offset, here).or_else(|| inside.then(|| here.clone())),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_in_value(item, offset, &here.clone().index(i)))
            .or_else(|| inside.then(|| here.clone())),
        _ => inside.then(|| here.clone()),
    }
}

/// Byte offset of the key at `path`.
fn span_of(table: &toml::de::DeTable<'_>, path: &[Segment]) -> Option<usize> {
    let (Segment::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    if rest.is_empty() {
        return Some(key.span().start);
    }
    span_in_value(value, rest).or(Some(key.span().start))
}

fn span_in_value(value: &toml::Spanned<DeValue<'_>>, path: &[Segment]) -> Option<usize> {
    match (value.get_ref(), path.first()?) {
        (DeValue::Table(t), Segment::Key(_)) => span_of(t, path),
        (DeValue::Array(items), Segment::Index(i)) => {
            let item = items.get(*i)?;
            if path.len() == 1 {
                Some(item.span().start)
            } else {
                span_in_value(item, &path[1..])
            }
        }
        _ => None,
    }
}

/// serde says "unknown field `x`, expected one of ..."; a config user thinks in keys.
fn tidy_serde_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field") {
        let expected = rest.split_once(", expected").map(|(_, e)| e.trim());
        return match expected {
            Some(e) => format!("unknown key (expected {e})"),
            None => "unknown key".to_owned(),
        };
    }
    message.replace("missing field", "missing key")
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like \"5m\": {e}")))
}

fn timezone<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::tz::TimeZone, D::Error> {
    let s = String::deserialize(d)?;
    jiff::tz::TimeZone::get(&s).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {s:?} (use an IANA name like \"Europe/Amsterdam\")"
        ))
    })
}

fn weekdays<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
    use Weekday::*;
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            Ok(match n.to_ascii_lowercase().get(..3) {
                Some("mon") => Monday,
                Some("tue") => Tuesday,
                Some("wed") => Wednesday,
                Some("thu") => Thursday,
                Some("fri") => Friday,
                Some("sat") => Saturday,
                Some("sun") => Sunday,
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "{n:?} is not a weekday (mon, tue, ... sun)"
                    )));
                }
            })
        })
        .collect()
}

fn hours<'de, D: Deserializer<'de>>(d: D) -> Result<(Time, Time), D::Error> {
    let s = String::deserialize(d)?;
    let bad = || serde::de::Error::custom(format!("{s:?} is not like \"09:00-17:00\""));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start: Time = a.trim().parse().map_err(|_| bad())?;
    let end: Time = match b.trim() {
        "24:00" => Time::MAX,
        b => b.parse().map_err(|_| bad())?,
    };
    if end <= start {
        return Err(serde::de::Error::custom(
            "working hours must end after they start",
        ));
    }
    Ok((start, end))
}

fn mailbox<'de, D: Deserializer<'de>>(d: D) -> Result<lettre::message::Mailbox, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a mail address: {e}")))
}

fn mailboxes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<lettre::message::Mailbox>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    list.iter()
        .map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a mail address: {e}")))
        })
        .collect()
}

fn arm_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let s = String::deserialize(d)?;
    let url =
        Url::parse(&s).map_err(|e| serde::de::Error::custom(format!("{s:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(Some(url)),
        "http" if is_loopback(&url) => Ok(Some(url)),
        "http" => Err(serde::de::Error::custom(
            "plain http:// is accepted only for loopback hosts; use https://",
        )),
        other => Err(serde::de::Error::custom(format!(
            "scheme {other:?} is not http(s)"
        ))),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[smtp]
host = "smtp.example.com"
from = "pirwatch <pirwatch@example.com>"

[[tenants]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000001"
subscriptions = ["sub-1"]
recipients = ["incidents@contoso.example"]
timezone = "Europe/Amsterdam"
[tenants.credential]
kind = "azure_cli"
"#;

    fn err(text: &str) -> String {
        Config::parse(text, "config.toml")
            .expect_err("config should be rejected")
            .to_string()
    }

    #[test]
    fn the_example_config_is_valid_and_documents_the_defaults() {
        let text = include_str!("../config.example.toml");
        let c = Config::parse(text, "config.example.toml").expect("example is valid");
        let d = Config::parse(MINIMAL, "c").expect("minimal");
        assert_eq!(c.state.path, d.state.path);
        assert_eq!(c.poll.interval, d.poll.interval);
        assert_eq!(c.poll.lookback, d.poll.lookback);
        assert_eq!(c.poll.api_version, d.poll.api_version);
        assert_eq!(c.poll.concurrency, d.poll.concurrency);
        assert_eq!(c.poll.request_timeout, d.poll.request_timeout);
        assert_eq!(c.smtp.port(), d.smtp.port());
        assert_eq!(c.smtp.security, d.smtp.security);
        assert_eq!(c.smtp.timeout, d.smtp.timeout);
        assert_eq!(c.notify.event_types, d.notify.event_types);
        assert_eq!(c.http.listen, d.http.listen);
        assert_eq!(c.tenants[0].cloud, CloudName::Public);
        assert!(!c.tenants[0].tenant_events);
        let (t, dt) = (&c.tenants[0], &d.tenants[0]);
        assert_eq!(t.claim_policy(), dt.claim_policy());
        assert_eq!(t.support_plan, dt.support_plan);
        assert_eq!(t.working_days, dt.working_days);
        assert_eq!(t.working_hours, dt.working_hours);
        assert_eq!(t.holidays, dt.holidays);
        assert_eq!(t.reminder_policy(), dt.reminder_policy());
    }

    #[test]
    fn follow_up_keys_parse_and_validate() {
        let text = MINIMAL.replace(
            "timezone = \"Europe/Amsterdam\"",
            "timezone = \"Asia/Shanghai\"\nclaim_channel = \"partner\"\npartner_deadline_days = 30\n\
             support_plan = \"professional_direct\"\nworking_days = [\"Mon\", \"tue\", \"sat\"]\n\
             working_hours = \"08:30-18:00\"\nholidays = [\"2026-12-25\"]\n\
             billing_period_start_day = 15\n\
             subscription_billing_start_days = { \"sub-1\" = 3 }",
        );
        let c = Config::parse(&text, "c").expect("valid");
        let t = &c.tenants[0];
        assert_eq!(t.claim_channel, ClaimChannel::Partner);
        assert_eq!(t.support_plan, SupportPlan::ProfessionalDirect);
        assert_eq!(
            t.working_days,
            [Weekday::Monday, Weekday::Tuesday, Weekday::Saturday]
        );
        assert_eq!(t.working_hours.0, Time::constant(8, 30, 0, 0));
        assert_eq!(t.holidays, [jiff::civil::date(2026, 12, 25)]);
        assert_eq!(
            t.claim_policy().subscription_start_days.get("sub-1"),
            Some(&3)
        );
        assert!(t.calendar().is_working_day(jiff::civil::date(2026, 11, 21)));
        let bad = text.replace("08:30-18:00", "18:00-08:30");
        assert!(err(&bad).contains("tenants[0].working_hours"));
        let bad = text.replace("\"sat\"", "\"someday\"");
        assert!(err(&bad).contains("tenants[0].working_days"));
        let bad = text.replace(
            "claim_channel = \"partner\"",
            "claim_channel = \"microsoft\"",
        );
        assert!(err(&bad).contains("tenants[0].partner_deadline_days: only applies"));
        let bad = text.replace("\"sub-1\" = 3", "\"sub-1\" = 31");
        assert!(
            err(&bad).contains("subscription_billing_start_days.sub-1: must be 1 to 28"),
            "{}",
            err(&bad)
        );
        let bad = text.replace("partner\"\n", "vianet\"\n");
        assert!(err(&bad).contains("tenants[0].claim_channel"));
    }

    #[test]
    fn the_http_listener_is_an_address() {
        let ok = format!("[http]\nlisten = \"127.0.0.1:9464\"\n{MINIMAL}");
        let c = Config::parse(&ok, "c").expect("valid");
        assert_eq!(c.http.listen.map(|a| a.port()), Some(9464));
        let bad = format!("[http]\nlisten = \"localhost\"\n{MINIMAL}");
        assert!(err(&bad).starts_with("config.toml:2:"), "{}", err(&bad));
        assert!(err(&bad).contains("http.listen"), "{}", err(&bad));
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL, "config.toml").expect("valid");
        assert_eq!(c.poll.interval, Duration::from_secs(300));
        assert_eq!(c.poll.lookback, Duration::from_secs(30 * 86400));
        assert_eq!(c.poll.api_version, "2025-05-01");
        assert_eq!(c.smtp.port(), 587);
        assert_eq!(c.tenants[0].cloud, CloudName::Public);
        assert!(c.notify.event_types.contains("ServiceIssue"));
        assert!(!c.notify.event_types.contains("PlannedMaintenance"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[poll]\nintervall = \"5m\"\n".to_owned() + MINIMAL;
        let e = err(&text);
        assert!(
            e.starts_with("config.toml:2:1: poll.intervall: unknown key"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_names_key_in_array_of_tables() {
        let text = MINIMAL.replace("Europe/Amsterdam", "Mars/Olympus");
        let e = err(&text);
        assert!(e.starts_with("config.toml:11:"), "{e}");
        assert!(e.contains("tenants[0].timezone: unknown time zone"), "{e}");
    }

    #[test]
    fn inline_secret_is_an_unknown_key() {
        let text = MINIMAL.replace(
            "kind = \"azure_cli\"",
            "kind = \"client_secret\"\nclient_id = \"x\"\nclient_secret = \"hunter2\"",
        );
        let e = err(&text);
        assert!(e.contains("unknown"), "{e}");
        assert!(!e.contains("hunter2"), "secret echoed: {e}");
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let ok = MINIMAL.replace(
            "subscriptions",
            "arm_endpoint = \"http://127.0.0.1:8080\"\nsubscriptions",
        );
        assert!(Config::parse(&ok, "c").is_ok());
        let bad = MINIMAL.replace(
            "subscriptions",
            "arm_endpoint = \"http://arm.example.com\"\nsubscriptions",
        );
        let e = err(&bad);
        assert!(e.contains("tenants[0].arm_endpoint"), "{e}");
        assert!(e.contains("loopback"), "{e}");
    }

    #[test]
    fn cross_field_errors_point_at_the_key_line() {
        let text = MINIMAL.replace("subscriptions = [\"sub-1\"]", "subscriptions = []");
        let e = err(&text);
        assert!(
            e.starts_with("config.toml:9:1: tenants[0].subscriptions:"),
            "{e}"
        );
        let dup = format!(
            "{MINIMAL}{}",
            &MINIMAL[MINIMAL.find("[[tenants]]").unwrap_or(0)..]
        );
        let e = err(&dup);
        assert!(e.contains("tenants[1].name: duplicate tenant name"), "{e}");
    }

    #[test]
    fn bad_duration_and_enum_are_located() {
        let text = format!("[poll]\ninterval = \"often\"\n{MINIMAL}");
        assert!(err(&text).starts_with("config.toml:2:"));
        let text = MINIMAL.replace("[smtp]", "[smtp]\nsecurity = \"ssl\"");
        let e = err(&text);
        assert!(e.contains("smtp.security"), "{e}");
    }

    #[test]
    fn secret_files_resolve_beside_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pw"), "s3cret\n").expect("write");
        let mut c = Config::parse(MINIMAL, "c").expect("valid");
        c.dir = dir.path().to_path_buf();
        let s = c
            .read_secret("smtp.password_file", Path::new("pw"))
            .expect("read");
        use secrecy::ExposeSecret;
        assert_eq!(s.expose_secret(), "s3cret");
        let e = c
            .read_secret("smtp.password_file", Path::new("missing"))
            .expect_err("missing file");
        assert!(
            e.to_string()
                .starts_with("smtp.password_file: cannot read secret file")
        );
    }
}
