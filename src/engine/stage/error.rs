//! How a stage failed: its failure class and the error itself, kept whole.
//!
//! A stage returns typed domain errors with `?`: every domain error implements
//! [`Classify`], so `From` keeps both its class (which decides the exit code) and the error
//! (whose source chain reaches the run report and stderr through [`crate::outcome::chain`]).
//! Failures without a typed cause (an invariant, a refusal) are [`StageError::bad_input`] or
//! [`StageError::runtime`]; a message around a cause is [`StageError::because`].

use crate::outcome::{BoxError, Classify, Failed, Failure};
use std::error::Error;
use std::fmt;

/// A stage's failure: the class and the error that caused it.
///
/// `StageError` is transparent: it displays as its error and reports that error's causes as
/// its own, so wrapping adds no text. It deliberately does not implement [`Classify`] itself,
/// which lets any classified error convert into it with `?`.
pub struct StageError {
    failure: Failure,
    error: BoxError,
}

impl StageError {
    /// `error` with an explicit class, where the context decides it (e.g. a file dagr wrote
    /// itself that no longer reads is a runtime failure, whatever the reader calls it).
    pub fn new(failure: Failure, error: impl Into<BoxError>) -> Self {
        Self { failure, error: error.into() }
    }
    /// `error` as a runtime failure, whatever its own class: for files dagr wrote or prepared
    /// itself (a prepared reference, its own BAM) that a reader calls malformed.
    pub fn as_runtime(error: impl Into<BoxError>) -> Self {
        Self::new(Failure::Runtime, error)
    }
    /// The input is wrong; the message names the file and what to fix.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::from(Failed::bad_input(message))
    }
    /// A runtime failure described by a message.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::from(Failed::runtime(message))
    }
    /// `message`, caused by `cause` (kept as the source: the chain prints `message: cause`).
    pub fn because(failure: Failure, message: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Self::from(Failed::because(failure, message, cause))
    }
    /// The run was cancelled by a signal.
    pub fn interrupted() -> Self {
        Self::from(Failed::new(Failure::Interrupted, "interrupted by a signal"))
    }
    pub fn failure(&self) -> Failure {
        self.failure
    }
    pub fn is_interrupted(&self) -> bool {
        self.failure == Failure::Interrupted
    }
    /// The error and its causes on one line, for the run report and stderr.
    pub fn chain(&self) -> String {
        crate::outcome::chain(self)
    }
    /// A copy for a second owner (e.g. every shard of a thread whose reader failed to open): the
    /// class and the text with its causes; the typed error stays with the original.
    pub fn copy_text(&self) -> StageError {
        Self::from(Failed::new(self.failure, self.chain()))
    }
    /// The underlying error, for callers that look for a particular type.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.error.as_ref()
    }
}

impl<E: Classify + Error + Send + Sync + 'static> From<E> for StageError {
    fn from(error: E) -> Self {
        Self { failure: error.failure(), error: Box::new(error) }
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StageError({:?}: {:?})", self.failure, self.error)
    }
}

impl Error for StageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sample.fq: line 4: truncated record")]
    struct Truncated;

    impl Classify for Truncated {
        fn failure(&self) -> Failure {
            Failure::BadInput
        }
    }

    fn read() -> Result<(), Truncated> {
        Err(Truncated)
    }

    fn stage() -> Result<(), StageError> {
        read()?;
        Ok(())
    }

    #[test]
    fn question_mark_keeps_class_and_error() {
        let e = stage().unwrap_err();
        assert_eq!(e.failure(), Failure::BadInput);
        assert_eq!(e.to_string(), "sample.fq: line 4: truncated record");
        assert!(e.error().downcast_ref::<Truncated>().is_some());
    }

    #[test]
    fn a_cause_reaches_the_chain() {
        let io = std::io::Error::other("No space left on device");
        let e = StageError::because(Failure::Runtime, "out/x.bam: cannot write", io);
        assert_eq!(e.failure(), Failure::Runtime);
        assert_eq!(e.to_string(), "out/x.bam: cannot write");
        assert_eq!(e.chain(), "out/x.bam: cannot write: No space left on device");
        assert!(StageError::interrupted().is_interrupted());
    }
}
