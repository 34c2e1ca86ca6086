//! pirwatch: watches Azure Service Health for incidents and Post-Incident Reviews, and emails
//! the team what happened, when the PIR is out, and by when to file an SLA credit claim.
//!
//! The modules follow the data: [`config`] → [`source`] (Azure or the demo) → [`tracker`]
//! (what changed) → [`followup`] (deadlines) → [`store`] (durable state and outbox) →
//! [`notify`] (render and deliver), driven by [`daemon`]; [`cli`] is the command line.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod followup;
pub mod http;
pub mod incident;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod report;
pub mod service;
pub mod source;
pub mod store;
pub mod tracker;
