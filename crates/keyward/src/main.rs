//! `keyward`: everything the desktop app does, from a terminal, and the MCP bridge the
//! assistants launch. Human tables by default, `--json` for scripts, and exit codes scripts
//! can rely on (see [`exit`]).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
