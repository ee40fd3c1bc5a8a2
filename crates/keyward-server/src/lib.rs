//! The Keyward key service: the store-side backend.
//!
//! It issues API keys and keeps only their argon2id hashes, enforces read / read & write
//! scopes, ten active keys per store, expiry and rate limits, honours a revocation on the very
//! next request, keeps an audit trail, manages web-chat connections, and serves the store's
//! data to keys over a REST data plane (`/v1`) and MCP (`/mcp`).
//!
//! - [`app`]: configuration, state, router and `serve`.
//! - [`routes`]: one module per resource; the OpenAPI document is generated from them.
//! - [`auth`]: sessions, keys, connection tokens, the verified cache and the limits.
//! - [`db`]: all storage behind one interface (SQLite today).
//! - [`catalog`]: the store's data as keys may use it, shared by REST and MCP.

pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod db;
pub mod demo;
pub mod error;
pub mod host_check;
pub mod key_rules;
pub mod metrics;
pub mod oauth;
pub mod problems;
pub mod routes;
pub mod usage;

pub use app::{AppState, Config, router, serve};
pub use db::Db;
