//! The command line: clap definitions, one file per subcommand. Each subcommand returns an exit
//! code or a [`CliError`] that carries one (0 ok, 1 runtime failure, 2 bad usage or input,
//! 3 interrupted).

use std::fmt;

/// Exit codes, as documented in the README.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const INTERRUPTED: u8 = 3;
}

/// An error for the user, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self { code: exit::BAD_INPUT, message: message.into() }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self { code: exit::FAILURE, message: message.into() }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
