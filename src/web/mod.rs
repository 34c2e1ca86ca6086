//! The web listener for people (`[web]`): signed action links from mails, confirmation pages
//! whose POST records the acknowledgement, and the pages of open follow-ups.

pub mod link;
