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
    let (program, args) =
        command.split_first().ok_or_else(|| Failure::usage("No command was given. Put it after `--`: keyward run --key ID -- ./script.sh"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env(env_name, &environment.secret)
        .env("KEYWARD_SERVER", &environment.server)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Failure::from(format!("Could not start {} ({e}). Check the command's name and that it is installed and executable.", program.to_string_lossy()))
        })?;
    tracing::info!(key = %environment.key_prefix, "started a command with the key");
    let status = forward_signals_until_exit(&mut child).await.map_err(|e| Failure::from(format!("Lost track of the command ({e}).")))?;
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

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    status.code().map_or(exit::FAILED, |c| c as u8)
}

/// Waits for the child, passing on each signal keyward receives meanwhile.
#[cfg(unix)]
async fn forward_signals_until_exit(child: &mut tokio::process::Child) -> std::io::Result<std::process::ExitStatus> {
    use std::io::IsTerminal;
    use tokio::signal::unix::{SignalKind, signal};

    let pid = child.id().and_then(|p| libc::pid_t::try_from(p).ok());
    // Ctrl-C at a terminal already reaches the child, which is in the same foreground process
    // group; passing SIGINT on as well would deliver it twice (many programs read a second
    // one as "quit now"). From anywhere else, a SIGINT is for keyward alone, and is passed on.
    let interactive = std::io::stdin().is_terminal();
    let mut streams = Vec::new();
    for kind in
        [SignalKind::terminate(), SignalKind::hangup(), SignalKind::quit(), SignalKind::user_defined1(), SignalKind::user_defined2(), SignalKind::interrupt()]
    {
        streams.push((kind, signal(kind)?));
    }
    loop {
        let received = futures_select(&mut streams);
        tokio::select! {
            status = child.wait() => return status,
            kind = received => {
                if kind == SignalKind::interrupt() && interactive {
                    continue;
                }
                if let Some(pid) = pid {
                    // SAFETY: kill(2) with the child's own pid and a valid signal number.
                    unsafe { libc::kill(pid, kind.as_raw_value()) };
                }
            }
        }
    }
}

/// The next signal among `streams`.
#[cfg(unix)]
async fn futures_select(streams: &mut [(tokio::signal::unix::SignalKind, tokio::signal::unix::Signal)]) -> tokio::signal::unix::SignalKind {
    std::future::poll_fn(|cx| {
        for (kind, stream) in streams.iter_mut() {
            if stream.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(*kind);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(not(unix))]
async fn forward_signals_until_exit(child: &mut tokio::process::Child) -> std::io::Result<std::process::ExitStatus> {
    child.wait().await
}
