//! The Keyward desktop app's entry point.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(message) = keyward_app::check_display() {
        eprintln!("{message}");
        std::process::exit(1);
    }
    keyward_app::run();
}
