//! Follow-up policy: what the team must do after an incident, and by when. Pure: no I/O and no
//! clock reads; `now` or `today` is always a parameter.

pub mod claim;
