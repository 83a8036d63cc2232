pub mod config;
pub mod domain;
pub mod ingest;
pub mod mail;
pub mod store;
pub mod subscriptions;
pub mod tokens;
pub mod web;
