//! Notifications: render a mail from an incident (`render`), deliver it over SMTP or into a
//! directory (`email`), and drain the outbox with retries (`outbox`).

pub mod email;
pub mod ics;
pub mod outbox;
pub mod render;
