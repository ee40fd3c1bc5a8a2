//! The Keyward key service.
pub mod db;
