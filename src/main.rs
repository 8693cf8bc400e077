//! The `dagr` binary: parse, set up logging, run, map errors to exit codes.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dagr::cli::Cli::parse();
    dagr::cli::logging::init(cli.log_format);
    match dagr::cli::dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            dagr::console::error(&e.to_string(), e.exit_code());
            ExitCode::from(e.exit_code())
        }
    }
}
