//! Customers, events, stages and the rules between them: plain types and pure functions, no I/O.

pub mod access;
pub mod calendar;
pub mod event;
pub mod file_problem;
pub mod funnel;
pub mod language;
pub mod link;
pub mod plan;
pub mod plan_report;
pub mod rules;
pub mod score;
pub mod stage;
pub mod state;
pub mod survey;
pub mod types;
pub mod webhook;

pub use access::Role;
pub use event::{EventKind, KeyConflict, NewEvent, StoredEvent};
pub use stage::{Stage, StageChange};
pub use state::CustomerState;
pub use types::{Currency, CustomerId, Email, ExternalId, Money, ParseError};
