//! Declares the app's commands so that capabilities can allow exactly these and nothing else.

include!("src/command_names.rs");

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("the Tauri build step failed");
}
