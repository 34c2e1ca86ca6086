//! The configuration file's TOML schema, as serde reads it: one struct per table, a doc
//! comment per key (`deny_unknown_fields` everywhere). [`super::Config::load`] resolves it into
//! the settings the program uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use serde::Deserialize;
use url::Url;

use super::de::{
    arm_endpoint, duration, hours, mailbox, mailboxes, opt_clock_time, opt_timezone, timezone, url,
    weekdays,
};
pub use crate::cloud::CloudName;
use crate::followup::claim::ClaimChannel;
use crate::followup::support::SupportPlan;

/// The whole configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
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
    /// The optional web listener for people: signed action links and follow-up pages.
    pub web: Option<WebConfig>,
    /// Who else receives what, matched top-down after each tenant's own recipients.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// HTTP receivers (generic JSON, Teams, Slack) that routes name.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// The Entra ID tenants watched; a CSP partner lists one per customer.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
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
    /// How many requests to Azure are in flight at once, over every tenant.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long one tenant's poll may take; then it is reported and the cycle goes on.
    #[serde(default = "default_tenant_budget", deserialize_with = "duration")]
    pub tenant_budget: Duration,
    /// Time limit of one HTTP request to Azure.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Claim evidence: the availability history of at most this many impacted resources per
    /// incident is fetched (0: none).
    #[serde(default = "default_availability_resources")]
    pub availability_resources: usize,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            lookback: default_lookback(),
            api_version: default_api_version(),
            concurrency: default_concurrency(),
            max_in_flight: default_max_in_flight(),
            tenant_budget: default_tenant_budget(),
            request_timeout: default_request_timeout(),
            availability_resources: default_availability_resources(),
        }
    }
}

const fn default_availability_resources() -> usize {
    50
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
const fn default_max_in_flight() -> usize {
    32
}
const fn default_tenant_budget() -> Duration {
    Duration::from_secs(300)
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
    /// Time limit of one whole SMTP conversation (connect, greeting, every command, DATA).
    #[serde(default = "default_smtp_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// The first retry of a failed delivery waits this long after the failure, doubling with
    /// each further failure, at most an hour.
    #[serde(default = "default_retry_backoff", deserialize_with = "duration")]
    pub retry_backoff: Duration,
    /// At most this many mails in any minute (a mailbox's sending limit); the rest waits.
    pub max_per_minute: Option<u32>,
    /// AUTH XOAUTH2 with an Entra ID token instead of a password (Microsoft 365).
    pub oauth: Option<SmtpOauthConfig>,
}

/// `[smtp.oauth]`: SMTP AUTH XOAUTH2 with a token from an Entra ID app, signed in like a
/// tenant (`[smtp.oauth.credential]`); `smtp.username` is the mailbox it sends as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpOauthConfig {
    /// The Entra ID tenant of the mailbox.
    pub tenant_id: String,
    /// public | china | usgov
    #[serde(default = "default_cloud")]
    pub cloud: CloudName,
    /// The token's scope; Exchange Online's SMTP by default.
    #[serde(default = "default_smtp_scope")]
    pub scope: String,
    /// How pirwatch signs in: any `[tenants.credential]` kind.
    pub credential: CredentialConfig,
}

fn default_smtp_scope() -> String {
    "https://outlook.office365.com/.default".to_owned()
}

const fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
const fn default_retry_backoff() -> Duration {
    Duration::from_secs(30)
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

/// `[[routes]]`: receivers for the notices a match selects. Every match key is optional; a
/// list matches any of its values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    pub tenants: Option<Vec<String>>,
    pub subscriptions: Option<Vec<String>>,
    pub event_types: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    /// new, update, resolved, pir, false_positive, reminder, first_poll_digest
    pub kinds: Option<Vec<String>>,
    #[serde(default, deserialize_with = "mailboxes")]
    pub to: Vec<lettre::message::Mailbox>,
    #[serde(default, deserialize_with = "mailboxes")]
    pub cc: Vec<lettre::message::Mailbox>,
    /// Go on matching the routes below after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Takes security advisories and sensitive events too.
    #[serde(default)]
    pub sensitive: bool,
    /// Reminders only from this many days before the claim deadline.
    pub from_days_before: Option<u32>,
    /// Names of `[[webhooks]]` that also receive what this route takes.
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// `immediate` (each notice at once) or `digest` (one message per period).
    #[serde(default)]
    pub mode: RouteMode,
    /// `mode = "digest"`: the local time the digest goes out, `"08:00"`.
    #[serde(default, deserialize_with = "opt_clock_time")]
    pub digest_at: Option<jiff::civil::Time>,
    /// `mode = "digest"`: the time zone of `digest_at`, an IANA name.
    #[serde(default, deserialize_with = "opt_timezone")]
    pub timezone: Option<jiff::tz::TimeZone>,
    /// `mode = "digest"`: the days it goes out (every day when absent; `["mon"]`: weekly).
    #[serde(default, deserialize_with = "weekdays")]
    pub digest_days: Vec<jiff::civil::Weekday>,
    /// `all` update mails, or only `material` ones (a new region or service, a status or level
    /// change, a PIR).
    #[serde(default)]
    pub updates: RouteUpdates,
}

/// A tenant's `subscriptions`: listed ids, or `"all"` (found by pirwatch). Reads as the listed
/// ids (none for `"all"`; the ones found are a tenant's of their own at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriptions {
    Listed(Vec<String>),
    All,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self::Listed(Vec::new())
    }
}

impl std::ops::Deref for Subscriptions {
    type Target = [String];
    fn deref(&self) -> &[String] {
        match self {
            Self::Listed(v) => v,
            Self::All => &[],
        }
    }
}

impl<'de> Deserialize<'de> for Subscriptions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Listed(Vec<String>),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Listed(v) => Ok(Self::Listed(v)),
            Raw::Word(w) if w == "all" => Ok(Self::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "{w:?}: write a list of subscription ids, or \"all\""
            ))),
        }
    }
}

fn default_discovery_interval() -> Duration {
    Duration::from_secs(3600)
}

/// `[tenants.support_contact]`: the contact of support tickets pirwatch files, in the forms
/// the Azure Support API wants.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SupportContact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// ISO 3166-1 alpha-3, e.g. `NLD`.
    pub country: String,
    /// e.g. `en-us`.
    pub language: String,
    /// The Windows time-zone name, e.g. `W. Europe Standard Time`.
    pub timezone: String,
}

/// `[[routes]] mode`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    #[default]
    Immediate,
    Digest,
}

/// `[[routes]] updates`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteUpdates {
    #[default]
    All,
    Material,
}

/// `[[webhooks]]`: an HTTP receiver routes can name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// What routes call it: letters, digits, - or _.
    pub name: String,
    /// `generic` (pirwatch's JSON, signed), `teams` (a Workflows webhook, Adaptive Card) or
    /// `slack` (an incoming webhook).
    pub kind: crate::notify::channel::webhook::WebhookKind,
    /// A secret file holding the URL (`https://`; `http://` only for loopback).
    pub url_file: PathBuf,
    /// `kind = "generic"`: a secret file holding the HMAC-SHA-256 key of
    /// `X-Pirwatch-Signature`.
    pub secret_file: Option<PathBuf>,
    /// Time limit of one request.
    #[serde(default = "default_webhook_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Tries before a delivery is given up on (and the operators are told).
    #[serde(default = "default_webhook_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long after the failure (or the receiver's `Retry-After`, if
    /// longer), doubling with each further failure, at most an hour.
    #[serde(default = "default_retry_backoff", deserialize_with = "duration")]
    pub retry_backoff: Duration,
}

const fn default_webhook_timeout() -> Duration {
    Duration::from_secs(10)
}
const fn default_webhook_attempts() -> u32 {
    20
}

/// `[web]`: signed action links in mails, and the pages of open follow-ups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the listener binds, e.g. `127.0.0.1:8080` (behind a TLS-terminating proxy).
    pub listen: std::net::SocketAddr,
    /// The address people reach, the base of every link in mails (`https://`; `http://` only
    /// for loopback hosts).
    #[serde(deserialize_with = "url")]
    pub public_url: Url,
    /// The HMAC keys, a secret file: one key per line, the first signs, all verify.
    pub key_file: PathBuf,
    /// How long a link in a mail stays valid.
    #[serde(default = "default_link_ttl", deserialize_with = "duration")]
    pub link_ttl: Duration,
    /// A header a reverse proxy sets to the signed-in user, trusted only from
    /// `trusted_proxies`; off when absent.
    pub trusted_user_header: Option<String>,
    /// The addresses the identity header is trusted from.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Which identities see which tenants.
    #[serde(default)]
    pub access: Vec<WebAccess>,
}

/// `[[web.access]]`: users (names or globs such as `*@partner.example`) and the tenants they
/// may see (`"*"`: all).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebAccess {
    pub users: Vec<String>,
    pub tenants: Vec<String>,
}

fn default_link_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

/// `[notify]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Event types that send mail; the others are recorded and listed only.
    #[serde(default = "default_event_types")]
    pub event_types: BTreeSet<String>,
    /// Who hears of pirwatch's own trouble (a tenant not polled for long, a failing credential,
    /// a delivery given up on, a store that cannot be written); nobody when empty.
    #[serde(default, deserialize_with = "mailboxes")]
    pub operators: Vec<lettre::message::Mailbox>,
    /// How long a scope may fail before the operators hear of it.
    #[serde(
        default = "default_operator_alert_after",
        deserialize_with = "duration"
    )]
    pub operator_alert_after: Duration,
    /// How the team runs pirwatch's CLI where the service runs: the commands printed in mails
    /// start with it (e.g. `kubectl exec deploy/pirwatch -- pirwatch` in Kubernetes).
    #[serde(default = "default_ack_command")]
    pub ack_command: String,
    /// A directory of templates overriding the built-in ones of the same names.
    pub templates_dir: Option<PathBuf>,
    /// Who receives what no route takes (never nowhere).
    #[serde(default, deserialize_with = "mailboxes")]
    pub fallback: Vec<lettre::message::Mailbox>,
    /// A digest (first-poll or a route's) lists at most this many incidents, soonest deadline
    /// first, and counts the rest.
    #[serde(default = "default_digest_max_items")]
    pub digest_max_items: usize,
}

const fn default_digest_max_items() -> usize {
    50
}

fn default_ack_command() -> String {
    "sudo -u pirwatch pirwatch".to_owned()
}

const fn default_operator_alert_after() -> Duration {
    Duration::from_secs(2 * 3600)
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            event_types: default_event_types(),
            operators: Vec::new(),
            operator_alert_after: default_operator_alert_after(),
            ack_command: default_ack_command(),
            templates_dir: None,
            fallback: Vec::new(),
            digest_max_items: default_digest_max_items(),
        }
    }
}

fn default_event_types() -> BTreeSet<String> {
    ["ServiceIssue", "SecurityAdvisory"]
        .into_iter()
        .map(str::to_owned)
        .collect()
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
    /// Services whose incidents are recorded and listed but never mailed (matched without
    /// regard to case); an incident that also names another service is mailed.
    #[serde(default)]
    pub ignore_services: Vec<String>,
    /// Subscriptions whose events are polled: a list of ids, or `"all"` the identity can read
    /// (found again every `discovery_interval`).
    #[serde(default)]
    pub subscriptions: Subscriptions,
    /// With `subscriptions = "all"`: only these (ids or display-name globs; all when empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// With `subscriptions = "all"`: never these (ids or display-name globs).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// With `subscriptions = "all"`: how often subscriptions are looked for again.
    #[serde(default = "default_discovery_interval", deserialize_with = "duration")]
    pub discovery_interval: Duration,
    /// With `subscriptions = "all"`: only the subscriptions under this management group.
    pub management_group: Option<String>,
    /// Also poll tenant-level events (needs a tenant-admin role).
    #[serde(default)]
    pub tenant_events: bool,
    /// Who gets this tenant's mail: an implicit first route for the tenant (absent and `[]`
    /// mean the same: routes or the fallback then receive it).
    #[serde(default, deserialize_with = "mailboxes")]
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
    /// Days of buffer: reminders and "days left" count to a date this many days before each
    /// claim deadline; "window closed" still comes only after the real date.
    #[serde(default)]
    pub claim_margin_days: u32,
    /// The day billing periods start on (1 = calendar months, up to 31, clamped to short months).
    #[serde(default = "default_billing_day")]
    pub billing_period_start_day: i8,
    /// Per-subscription overrides of `billing_period_start_day`.
    #[serde(default)]
    pub subscription_billing_start_days: BTreeMap<String, i8>,
    /// The support plan, whose response times mails quote.
    #[serde(default)]
    pub support_plan: SupportPlan,
    /// Who Microsoft contacts about a claim `pirwatch claim file` opens.
    pub support_contact: Option<SupportContact>,
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
    /// Working days despite their weekday (`YYYY-MM-DD`), e.g. Azure China's make-up days.
    #[serde(default)]
    pub extra_working_days: Vec<Date>,
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
