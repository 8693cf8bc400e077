//! Logging setup: `tracing` to stderr, human-readable by default or one JSON object per line
//! (`--log-format json`) for cluster log collection. Spans carry sample and stage. `RUST_LOG`
//! overrides the level (default `info`). Text logs carry colours only where `crate::console`
//! draws progress bars (stderr a terminal); a file or a pipe gets plain text.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Decides the progress display (`crate::console::init`) and installs the global subscriber; a
/// second call is a no-op.
pub fn init(format: LogFormat) {
    crate::console::init(format == LogFormat::Json);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::console::LogWriter)
        .with_ansi(crate::console::ansi_allowed())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
