//! How things fail, in one place: the three failure classes, the exit codes they map to, and the
//! trait every typed error implements to say its class.
//!
//! - [`Failure`]: bad input (the user must fix a file or a flag; exit 2), runtime failure (I/O,
//!   a lost rank, a bug; exit 1), interrupted (a signal; exit 3, `--resume` continues).
//!   [`Failure::exit_code`] is the only place exit codes are computed.
//! - [`Classify`]: implemented by each domain error (`FastqError`, `ReferenceError`, `VcfError`,
//!   ...) in place of ad-hoc `is_bad_input()` checks, so that `?` at a stage boundary keeps both
//!   the class and the error itself (see `engine::stage::StageError`).
//! - [`Failed`]: a plain message with its class, for failures that have no typed cause (an
//!   invariant the engine checks, a refusal), optionally with the error that caused it.
//! - [`chain`]: an error and its causes as one line, for stderr and the run report.
//!
//! The same three classes travel between MPI ranks as their exit codes
//! ([`Failure::from_exit_code`]), so every encoding agrees with the documented exit codes.

use std::error::Error;
use std::fmt;

/// A boxed error that can cross threads (and, as its text, ranks).
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Exit code of a run where nothing failed.
pub const SUCCESS: u8 = 0;

/// Why something did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The input is wrong (a file, a flag, a samplesheet line); the message says what to fix.
    BadInput,
    /// Anything else: I/O failure, a lost MPI rank, an internal error, an injected fault.
    Runtime,
    /// Stopped by a signal (SIGINT, SIGTERM, SIGUSR1); `--resume` continues.
    Interrupted,
}

impl Failure {
    /// The process exit code of this failure: bad input 2, runtime 1, interrupted 3.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Runtime => 1,
            Failure::BadInput => 2,
            Failure::Interrupted => 3,
        }
    }

    /// The failure an exit code stands for (`None` for 0, success). Codes dagr never uses
    /// count as runtime failures.
    pub fn from_exit_code(code: u8) -> Option<Failure> {
        match code {
            SUCCESS => None,
            2 => Some(Failure::BadInput),
            3 => Some(Failure::Interrupted),
            _ => Some(Failure::Runtime),
        }
    }

    /// The more serious of two failures, for a run with several: interrupted, then runtime,
    /// then bad input (a runtime failure is the one a user cannot fix by editing the input).
    pub fn worst(self, other: Failure) -> Failure {
        let rank = |f: Failure| match f {
            Failure::BadInput => 0,
            Failure::Runtime => 1,
            Failure::Interrupted => 2,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::BadInput => "bad input",
            Failure::Runtime => "runtime failure",
            Failure::Interrupted => "interrupted",
        })
    }
}

/// An error that knows its failure class.
pub trait Classify {
    fn failure(&self) -> Failure;
}

/// A failure described by a message, with the error that caused it when there is one.
#[derive(Debug)]
pub struct Failed {
    pub failure: Failure,
    message: String,
    cause: Option<BoxError>,
}

impl Failed {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self { failure, message: message.into(), cause: None }
    }
    /// `message` caused by `cause`: the chain prints as `message: cause`.
    pub fn because(failure: Failure, message: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Self { failure, message: message.into(), cause: Some(cause.into()) }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Failure::BadInput, message)
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(Failure::Runtime, message)
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Failed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

impl Classify for Failed {
    fn failure(&self) -> Failure {
        self.failure
    }
}

/// An error and its causes on one line (`outer: cause: root cause`). A cause whose text the
/// line already holds is not repeated: many errors print their source inside their own message.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_round_trip() {
        for f in [Failure::BadInput, Failure::Runtime, Failure::Interrupted] {
            assert_eq!(Failure::from_exit_code(f.exit_code()), Some(f));
        }
        assert_eq!(Failure::from_exit_code(SUCCESS), None);
        assert_eq!(Failure::from_exit_code(137), Some(Failure::Runtime));
        assert_eq!(Failure::BadInput.exit_code(), 2);
        assert_eq!(Failure::Runtime.exit_code(), 1);
        assert_eq!(Failure::Interrupted.exit_code(), 3);
    }

    #[test]
    fn worst_prefers_interruption_then_runtime() {
        assert_eq!(Failure::BadInput.worst(Failure::Runtime), Failure::Runtime);
        assert_eq!(Failure::Interrupted.worst(Failure::Runtime), Failure::Interrupted);
        assert_eq!(Failure::BadInput.worst(Failure::BadInput), Failure::BadInput);
    }

    #[test]
    fn chain_appends_causes_not_already_in_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let e = Failed::because(Failure::Runtime, "out.bam: cannot write", io);
        assert_eq!(chain(&e), "out.bam: cannot write: No space left on device");
        let io = std::io::Error::other("No space left on device");
        let e = Failed::because(Failure::Runtime, "out.bam: No space left on device", io);
        assert_eq!(chain(&e), "out.bam: No space left on device");
    }
}
