//! The client side as a merchant uses it: the `keyward` binary against a real key service on
//! loopback, with the real Secret Service (gnome-keyring in a private D-Bus session, started
//! by `./dev test`), and every file in temporary folders.

mod common;
mod oauth;

mod accounts;
mod assistant_clis;
mod assistants;
mod config_path;
mod connections;
mod lost_laptop;
mod no_keychain;
mod offline;
mod rotate;
mod run;
mod scan;
mod usage;
mod whole_path;
