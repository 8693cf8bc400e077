//! What dagr writes on stderr for the person or the scheduler watching a run, apart from the log
//! events themselves: progress ([`progress::Tracker`]), the end-of-run summary ([`summary`]) and
//! the final error ([`error`]).
//!
//! The display is decided once per process by [`init`], from where stderr goes:
//! - **bars**: stderr is a terminal, logs are text and the process is not a Slurm job. Progress is
//!   an `indicatif` bar per tracker; log events are written above the bars ([`LogWriter`]).
//! - **lines**: anything else (a file, a pipe, a Slurm log, `--log-format json`). Progress is an
//!   occasional log event through `tracing`, so JSON logs stay one JSON object per line, and the
//!   summary and the error are log events too when logs are JSON.
//!
//! Escape codes (colours, cursor movement) are written only in bars mode.

pub mod progress;

use indicatif::{MultiProgress, ProgressDrawTarget};
use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// `indicatif` bars with rate and ETA, redrawn in place.
    Bars,
    /// Plain log lines at 5 % steps (see [`progress::LinePolicy`]).
    Lines,
}

impl Display {
    /// Bars only for a person at a terminal: stderr is a terminal, logs are text, and the process
    /// is not inside a Slurm job (whose stderr is a log file even when `srun --pty` gives it a
    /// terminal).
    pub fn choose(stderr_is_terminal: bool, json_logs: bool, in_slurm_job: bool) -> Display {
        if stderr_is_terminal && !json_logs && !in_slurm_job { Display::Bars } else { Display::Lines }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    display: Display,
    json_logs: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Decides the display for this process from stderr, the log format and `SLURM_JOB_ID`; later
/// calls return the first decision. Without a call (library use, tests) the display is lines.
pub fn init(json_logs: bool) -> Display {
    let in_slurm_job = std::env::var_os("SLURM_JOB_ID").is_some();
    let display = Display::choose(io::stderr().is_terminal(), json_logs, in_slurm_job);
    SETTINGS.get_or_init(|| Settings { display, json_logs }).display
}

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or(Settings { display: Display::Lines, json_logs: false })
}

/// The display [`init`] chose.
pub fn display() -> Display {
    settings().display
}

/// Whether log events may carry escape codes (colours): only in bars mode, where stderr is a
/// terminal, and not when `NO_COLOR` is set.
pub fn ansi_allowed() -> bool {
    display() == Display::Bars && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The bars of this process, drawn on stderr.
fn bars() -> &'static MultiProgress {
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// stderr for the log subscriber: while bars are drawn, each event is written with the bars
/// cleared and redrawn below it, so events and bars never overwrite each other.
pub struct LogWriter;

impl LogWriter {
    fn around<R>(write: impl FnOnce() -> R) -> R {
        match BARS.get() {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::around(|| io::stderr().write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Self::around(|| io::stderr().write_all(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Writes a finished run's human summary on stderr: as is with text logs; with JSON logs as one
/// log event whose `summary` field holds the text, so that stderr stays pure JSON.
pub fn summary(text: &str) {
    if settings().json_logs {
        tracing::info!(summary = text.trim_end(), "run summary");
    } else {
        LogWriter::around(|| eprint!("{text}"));
    }
}

/// Writes the error that ends the process: `error: ...` with text logs, an `ERROR` log event
/// with its exit code with JSON logs.
pub fn error(message: &str, exit_code: u8) {
    if settings().json_logs {
        tracing::error!(exit_code, "{message}");
    } else {
        LogWriter::around(|| eprintln!("error: {message}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_for_a_person_at_a_terminal() {
        assert_eq!(Display::choose(true, false, false), Display::Bars);
        assert_eq!(Display::choose(false, false, false), Display::Lines, "a file or a pipe");
        assert_eq!(Display::choose(true, true, false), Display::Lines, "JSON logs");
        assert_eq!(Display::choose(true, false, true), Display::Lines, "a Slurm job");
    }

    #[test]
    fn without_init_the_display_is_lines_and_plain() {
        // The test harness never calls `init`.
        assert_eq!(display(), Display::Lines);
        assert!(!ansi_allowed());
    }
}
