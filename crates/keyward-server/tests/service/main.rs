//! The key service's promises, each tested over real HTTP on loopback against a real SQLite
//! file. One module per area; every test starts its own service.

mod common;

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
