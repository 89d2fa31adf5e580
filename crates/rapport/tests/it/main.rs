//! Integration tests: the store contract on both backends, and the `rapport` binary end to end.

mod cli;
mod contract;
mod helpers;
