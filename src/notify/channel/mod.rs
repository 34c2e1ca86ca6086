//! The channels a notice is delivered through, one folder per kind (as Alertmanager's
//! `notify/email/`): today [`email`] (SMTP, or `.eml` files for the demo).

pub mod email;
