//! An X display of a test's (or a benchmark's) own, and the WebDriver server that drives the
//! app on it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether display `:number` is free: no lock file, or one left by an X server that is gone
/// (a killed Xvfb leaves its lock behind; the next Xvfb removes a stale one itself).
pub fn is_free(number: u32) -> bool {
    match std::fs::read_to_string(format!("/tmp/.X{number}-lock")) {
        Ok(pid) => !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        Err(_) => true,
    }
}

/// Xvfb on a display of its own, 1024×768; stopped when dropped.
pub struct Xvfb {
    pub number: u32,
    child: Child,
}

impl Xvfb {
    /// Starts Xvfb on the first free display from :90 and waits until it accepts connections.
    pub fn start() -> Xvfb {
        Xvfb::try_start().unwrap_or_else(|why| panic!("{why}"))
    }

    /// [`Xvfb::start`], answering why not instead of panicking.
    pub fn try_start() -> Result<Xvfb, String> {
        for number in (90..140).filter(|&n| is_free(n)) {
            let child = Command::new("Xvfb")
                .args([&format!(":{number}"), "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("Xvfb could not be started ({e}); ./dev test installs it"))?;
            // Dropped (and so killed) when this number turns out to be taken.
            let xvfb = Xvfb { number, child };
            let socket = format!("/tmp/.X11-unix/X{number}");
            let start = Instant::now();
            while !Path::new(&socket).exists() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if Path::new(&socket).exists() {
                return Ok(xvfb);
            }
        }
        Err("no X display number was free between :90 and :139".into())
    }

    /// The value for `DISPLAY`.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tauri-driver`: where `cargo install` put it, else whatever PATH finds.
pub fn tauri_driver() -> PathBuf {
    let beside_cargo = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin").join("tauri-driver"));
    beside_cargo.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("tauri-driver"))
}
