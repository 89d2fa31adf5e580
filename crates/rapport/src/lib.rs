//! Rapport: a customer loyalty engine. Events come in, customer state and stages are projected
//! from the log, models score customers, and surfaces show it all.

pub mod care;
pub mod config;
pub mod demo;
pub mod domain;
pub mod import;
pub mod ingest;
pub mod mail;
pub mod projection;
pub mod radar;
pub mod server;
pub mod store;
pub mod voice;
pub mod webhooks;
