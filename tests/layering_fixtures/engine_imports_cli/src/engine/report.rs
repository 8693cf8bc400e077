//! Forbidden: engine -> cli (line 6) and engine -> exec (line 9).
pub enum RunStatus { Done, Failed }
pub fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Done => 0,
        RunStatus::Failed => crate::cli::exit::FAILURE,
    }
}
pub fn run() { crate::exec::local::run() }
