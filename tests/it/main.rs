//! pirwatch's integration tests, in one binary (one link, one shared harness): each module
//! talks to the real `pirwatch` binary or library over real sockets — the fake ARM, the aiosmtpd
//! SMTP sink, local token endpoints — set up by [`support`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod arm;
mod auth;
mod crash;
mod daemon;
mod delivery;
mod demo;
mod discovery;
mod disk;
mod evidence;
mod faults;
mod followup;
mod pipeline;
mod properties;
mod reshape;
mod routing;
mod service;
mod web;
