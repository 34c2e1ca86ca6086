//! Notifications: plan which notices observations and due follow-ups cause ([`plan`], with the
//! Message-ID scheme in [`message_id`]; pirwatch's own trouble in [`operators`]), render them when they are sent ([`render`], [`ics`]),
//! and deliver them through a channel ([`channel`]) by draining the outbox ([`deliver`], each
//! attempt settled per recipient by [`settle`], paced by [`pace`]).

pub mod channel;
pub mod deliver;
pub mod ics;
pub mod message_id;
pub mod operators;
pub mod pace;
pub mod plan;
pub mod render;
pub mod route;
pub mod settle;
