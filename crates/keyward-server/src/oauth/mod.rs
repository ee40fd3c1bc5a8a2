//! OAuth 2.1 authorization for MCP clients (claude.ai, ChatGPT, partner apps): discovery, client
//! registration and client ID metadata documents, consent, codes and tokens.

pub mod authorization;
pub mod client_metadata;
pub mod clients;
pub mod consent_page;
pub mod csrf;
pub mod grant_rules;
pub mod lifetimes;
pub mod pkce;
pub mod redirect_uri;
pub mod refusals;
