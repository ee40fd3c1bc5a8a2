//! The key service's promises, each tested over real HTTP on loopback against a real
//! database: a SQLite file, or with `KEYWARD_TEST_BACKEND=postgres` a PostgreSQL database. One
//! module per area; every test starts its own service.

mod common;
#[path = "../support/mod.rs"]
mod support;

mod audit;
mod bad_input;
mod browser;
mod connections;
mod data_plane;
mod keys;
mod hostile;
mod lifecycle;
mod mcp;
mod mcp_oauth_client;
mod mirror;
mod operations;
mod oauth_consent;
mod oauth_discovery;
mod oauth_register;
mod security_review;
mod sessions;
