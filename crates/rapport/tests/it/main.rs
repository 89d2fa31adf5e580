//! Integration tests: the store contract on both backends, and the `rapport` binary end to end.

mod analyze;
mod api;
mod cli;
mod contract;
mod helpers;
mod webhooks;
