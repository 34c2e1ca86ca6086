//! The channels a notice is delivered through, one folder per kind (as Alertmanager's
//! `notify/email/`): [`email`] (SMTP, or `.eml` files for the demo), speaking SMTP one bounded
//! conversation at a time ([`smtp`]), and [`webhook`] (generic JSON, Teams, Slack).

pub mod email;
pub mod smtp;
pub mod webhook;
