//! The channels a notice is delivered through, one folder per kind (as Alertmanager's
//! `notify/email/`): today [`email`] (SMTP, or `.eml` files for the demo), speaking SMTP one
//! bounded conversation at a time ([`smtp`]).

pub mod email;
pub mod smtp;
