//! Integration tests: the store contract on both backends, the HTTP API, webhooks and dashboard
//! against a live server, the dashboard in headless Chromium, and the `rapport` binary end to end.

mod analyze;
mod api;
mod browser;
mod care;
mod care_email;
mod care_processes;
mod care_triggers;
mod cli;
mod config;
mod contract;
mod dashboard;
mod dashboard_lists;
mod defects;
mod demo;
mod helpers;
mod layers;
mod lists;
mod mail;
mod radar;
mod upgrade;
mod voice;
mod voice_api;
mod voice_browser;
mod voice_hostile;
mod voice_hostile_cli;
mod voice_links;
mod voice_report;
mod web;
mod webhooks;
