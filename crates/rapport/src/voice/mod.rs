//! The voice of the customer: survey files read with every problem's line and field
//! (survey_file.rs), invitations with their signed personal links and e-mails (invite.rs), and
//! answers through those links checked and stored as feedback events (respond.rs), sending by
//! hand and reminders (send.rs); NPS, CSAT and CES with their confidence intervals (stats.rs) and
//! themes ranked from open comments (themes.rs).

pub mod actions;
pub mod analysis;
pub mod interviews;
pub mod invite;
pub mod recovery;
pub mod report;
pub mod report_view;
pub mod respond;
pub mod send;
pub mod stats;
pub mod survey_file;
pub mod themes;
