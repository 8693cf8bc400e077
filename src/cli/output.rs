//! What the CLI prints on stdout goes through [`print`]: a reader that stops early (`dagr validate
//! --list-stages | head -1`) closes the pipe, and Rust, which ignores SIGPIPE, would panic in
//! `print!`. Here a closed stdout ends the process quietly with exit 0, as `head` intends; any
//! other write error is a runtime failure with its cause.

use super::CliError;
use std::io::Write;

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError::failure(format!("cannot write to stdout: {e}"))),
    }
}
