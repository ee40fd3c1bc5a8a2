//! `keyward run`: a command with a key in its environment and nowhere else. The key goes
//! into the child's environment only (not argv, not a file); the child's exit code becomes
//! keyward's, and the signals a supervisor sends keyward (SIGTERM, SIGHUP, …) are passed on,
//! so `keyward run` can stand in front of a script under systemd, a CI job or a shell.

use std::ffi::OsString;
use std::process::Stdio;

use keyward::manager::RunEnvironment;

use super::{Failure, Outcome, exit};

/// Starts `command` with the key in `env_name` and the service in `KEYWARD_SERVER`, waits
/// for it, and answers its exit code (128 + the signal's number if a signal ended it, as a
/// shell does).
pub async fn run(environment: &RunEnvironment, env_name: &str, command: &[OsString]) -> Outcome {
    let (program, args) = command.split_first().ok_or_else(|| Failure::usage("No command was given. Put it after `--`: keyward run --key ID -- ./script.sh"))?;
    // Listening starts before the child does: a signal in between is passed on, not fatal to
    // keyward alone (which would leave the child running unsupervised).
    let mut signals = Signals::listen().map_err(|e| Failure::from(format!("Could not listen for signals ({e}), so the command was not started. Try again.")))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env(env_name, &environment.secret)
        .env("KEYWARD_SERVER", &environment.server)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Failure::from(format!(
                "Could not start {} ({e}). Check the command's name and that it is installed and executable.",
                program.to_string_lossy()
            ))
        })?;
    tracing::info!(key = %environment.key_prefix, "started a command with the key");
    // The pid stays the child's until `wait` reaps it, which ends this loop: a signal is never
    // sent to a pid that could belong to another process by then.
    let pid = child.id();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            signal = signals.next() => signals.pass_on(signal, pid),
        }
    };
    let status = status.map_err(|e| Failure::from(format!("Lost track of the command ({e}); it may still be running.")))?;
    Ok(exit_code(status))
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => exit::FAILED,
    }
}

/// Windows codes are 32 bits: one whose low byte is 0 (256, 512, …) must not read as success.
#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    match status.code() {
        Some(0) => exit::OK,
        Some(code) if code & 0xff == 0 => exit::FAILED,
        Some(code) => code as u8,
        None => exit::FAILED,
    }
}

#[cfg(unix)]
use unix::Signals;

#[cfg(unix)]
mod unix {
    use std::task::Poll;

    use tokio::signal::unix::{Signal, SignalKind, signal};

    /// The signals keyward passes on to its child.
    pub struct Signals {
        streams: Vec<(SignalKind, Signal)>,
        /// Whether keyward runs in the foreground of a terminal: Ctrl-C and Ctrl-\\ then reach
        /// the child directly (same process group), and passing them on would deliver each twice
        /// (many programs read a second SIGINT as "quit now").
        foreground: bool,
    }

    impl Signals {
        pub fn listen() -> std::io::Result<Signals> {
            let kinds = [
                SignalKind::terminate(),
                SignalKind::hangup(),
                SignalKind::interrupt(),
                SignalKind::quit(),
                SignalKind::user_defined1(),
                SignalKind::user_defined2(),
            ];
            let streams = kinds.into_iter().map(|kind| Ok((kind, signal(kind)?))).collect::<std::io::Result<_>>()?;
            // SAFETY: tcgetpgrp and getpgrp only read this process's terminal and group.
            let foreground = unsafe { libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp() };
            Ok(Signals { streams, foreground })
        }

        /// The next signal received.
        pub async fn next(&mut self) -> SignalKind {
            std::future::poll_fn(|cx| {
                for (kind, stream) in &mut self.streams {
                    if stream.poll_recv(cx).is_ready() {
                        return Poll::Ready(*kind);
                    }
                }
                Poll::Pending
            })
            .await
        }

        /// Sends `kind` on to the child `pid` (not yet reaped), unless the terminal already did.
        pub fn pass_on(&self, kind: SignalKind, pid: Option<u32>) {
            let from_terminal = kind == SignalKind::interrupt() || kind == SignalKind::quit();
            if from_terminal && self.foreground {
                return;
            }
            if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
                // SAFETY: kill(2) with our own, not yet reaped, child's pid and a valid signal.
                unsafe { libc::kill(pid, kind.as_raw_value()) };
            }
        }
    }
}

/// Elsewhere the console delivers Ctrl-C to the child itself; nothing is passed on.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        std::future::pending::<()>().await
    }

    fn pass_on(&self, _: (), _: Option<u32>) {}
}
