//! The voice of the customer: survey files read with every problem's line and field
//! (survey_file.rs), invitations with their signed personal links and e-mails (invite.rs), and
//! answers through those links checked and stored as feedback events (respond.rs), sending by
//! hand and reminders (send.rs).

pub mod invite;
pub mod respond;
pub mod send;
pub mod survey_file;
