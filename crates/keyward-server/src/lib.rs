//! The Keyward key service: the store-side backend.
//!
//! It issues API keys and keeps only their argon2id hashes, enforces read / read & write
//! scopes, ten active keys per store, expiry and rate limits, honours a revocation on the very
//! next request, keeps an audit trail, manages web-chat connections, and serves the store's
//! data to keys over a REST data plane (`/v1`) and MCP (`/mcp`).
//!
//! Modules import one way: no file imports one that imports it back
//! (`tests/modules_import_one_way.rs` holds the crate to that). From the leaves up:
//!
//! - [`problems`], [`key_rules`], [`audit`]: why storage refuses a change, what a change may do
//!   to a key, and the audit trail's events, each written once above storage.
//! - [`db`]: all storage behind one interface, on SQLite or PostgreSQL ([`oauth`]'s rule
//!   modules, which it uses, import nothing above it).
//! - [`usage`], [`metrics`], [`error`] (with the body limit), [`cors`]: uses written in
//!   batches, what an operator scrapes, every way a request fails, who may read across origins.
//! - [`state`]: configuration and what every handler shares. It holds `auth`'s building blocks
//!   (limits, throttle, hash pool, verified cache), which do not import it; what uses it
//!   (extractors, routes, `app`) comes below.
//! - [`auth`]: sessions, keys, connection tokens, the verified cache and the limits.
//! - [`host_check`], [`catalog`], [`oauth`]: DNS-rebinding protection, the store's data as keys
//!   may use it (REST and MCP), OAuth for web-chat apps and partners.
//! - [`routes`]: one module per resource; the OpenAPI document is generated from them.
//! - [`app`]: the router over every route, and `serve`.
//! - [`demo`]: the demo store.

pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cors;
pub mod db;
pub mod demo;
pub mod error;
pub mod host_check;
pub mod key_rules;
pub mod metrics;
pub mod oauth;
pub mod problems;
pub mod routes;
pub mod state;
pub mod usage;

pub use app::{router, serve};
pub use state::{AppState, Config};
pub use db::Db;
