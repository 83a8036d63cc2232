//! Black-box tests through HTTP, SMTP and the CLI: one test binary.

mod certificate;
mod helpers;

mod abuse;
mod api;
mod audit;
mod backup;
mod bad_input;
mod bounces;
mod browser;
mod cli;
mod console;
mod console_actions;
mod console_import;
mod dashboard;
mod deliverability;
mod digest;
mod dkim;
mod erase;
mod eval;
mod health;
mod hf_page;
mod import;
mod ingest;
mod ingest_http;
mod layout;
mod lifecycle;
mod mailbox;
mod migrations;
mod outbox;
mod preview;
mod ratings;
mod retention;
mod smtp;
mod topics;
mod webhooks;
