//! Follow-up policy: what the team must do after an incident, and by when: review the PIR,
//! file (or decline) the SLA claim, and when to remind them. Pure: no I/O and no clock reads;
//! `now` is always a parameter.

pub mod calendar;
pub mod claim;
pub mod pir;
pub mod schedule;
pub mod support;
