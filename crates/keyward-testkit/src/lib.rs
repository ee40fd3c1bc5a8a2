//! What Keyward's test suites (and its benchmarks) share, written once: a throwaway key
//! service, an X display of their own, the Secret Service read back as another program would,
//! and every file under a folder searched for a secret. A dev-dependency only: nothing that
//! ships depends on it.
//!
//! - [`service`]: a key service serving on a free loopback port until stopped, and a store with
//!   its owner to sign in as.
//! - [`display`]: Xvfb on a free display number (a stale lock of a killed one counts as free),
//!   and where `tauri-driver` is.
//! - [`keychain`]: the Secret Service through `secret-tool`: read back, made to refuse, cleared,
//!   and one test at a time.
//! - [`files`]: every byte under a folder, to look for a secret that must not be there.

pub mod display;
pub mod files;
pub mod keychain;
pub mod service;

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a loopback port is free")
}
