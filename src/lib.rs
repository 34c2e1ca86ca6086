//! pirwatch: watches Azure Service Health for incidents and Post-Incident Reviews, and emails
//! the team what happened, when the PIR is out, and by when to file an SLA credit claim.
//!
//! The modules follow the data: [`config`] → [`source`] (Azure or the demo) → [`tracker`]
//! (what changed) → [`followup`] (deadlines: what is due) → [`notify::plan`] (which notices) →
//! [`store`] (durable state and outbox) → [`notify::deliver`] (render and send), driven by
//! [`daemon`]. [`incident`] is the domain every stage speaks; [`cli`] is the command line,
//! [`report`] what it prints.

#![forbid(unsafe_code)]

pub mod cli;
pub mod cloud;
pub mod config;
pub mod daemon;
pub mod evidence;
pub mod followup;
pub mod fuzzing;
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
pub mod web;
