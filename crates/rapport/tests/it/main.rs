//! Integration tests: the store contract on both backends, and the `rapport` binary end to end.

mod analyze;
mod api;
mod cli;
mod contract;
mod dashboard;
mod helpers;
mod web;
mod webhooks;
