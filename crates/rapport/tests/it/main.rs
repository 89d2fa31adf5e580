//! Integration tests: the store contract on both backends, and the `rapport` binary end to end.

mod analyze;
mod browser;
mod cli;
mod contract;
mod dashboard;
mod helpers;
mod web;
