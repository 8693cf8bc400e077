//! Progress of one long piece of work (a lane's read pairs, a stage's shards): a [`Tracker`]
//! counts units done against a total, exact or estimated, and shows them as the process's
//! [`Display`] says:
//! - bars: an `indicatif` bar (`prefix [bar] done/total unit rate ETA`), removed when the
//!   tracker is dropped;
//! - lines: an `INFO` log event (`label: done of total unit (p %), rate, about t left`) chosen by
//!   [`LinePolicy`]: at each 5 % step, at most one per [`MIN_LINE_GAP`] and at least one per
//!   [`MAX_LINE_GAP`], the first no sooner than [`MIN_LINE_GAP`] after the start, so short work
//!   logs nothing.
//!
//! Cost: an atomic add per update (callers update per batch or per shard, never per record); in
//! lines mode one sleeping thread per tracker that looks at the counters once a second.

use super::{Display, bars, display};
use indicatif::{HumanCount, HumanDuration, ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// No two progress lines of one tracker closer than this (nor the first one after the start).
pub const MIN_LINE_GAP: Duration = Duration::from_secs(30);
/// While work runs, a line at least this often, whether a 5 % step was crossed or not.
pub const MAX_LINE_GAP: Duration = Duration::from_secs(300);
/// 5 % steps.
const STEPS: u64 = 20;
/// How often the lines thread looks at the counters.
const TICK: Duration = Duration::from_secs(1);

/// Counts units of one piece of work; see the module documentation. Dropping it ends the display.
pub struct Tracker {
    shared: Option<Arc<Shared>>,
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

struct Shared {
    label: String,
    unit: &'static str,
    done: AtomicU64,
    /// 0 while unknown.
    total: AtomicU64,
    estimated: AtomicBool,
    started: Instant,
    finished: Mutex<bool>,
    wake: Condvar,
}

impl Tracker {
    /// Starts showing `label` (for example `align GERM`), counting `unit`s (`read pairs`); the
    /// total is unknown until [`Tracker::set_total`] or [`Tracker::set_estimated_total`].
    pub fn start(label: impl Into<String>, unit: &'static str) -> Tracker {
        let shared = Arc::new(Shared {
            label: label.into(),
            unit,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            estimated: AtomicBool::new(false),
            started: Instant::now(),
            finished: Mutex::new(false),
            wake: Condvar::new(),
        });
        match display() {
            Display::Bars => {
                let bar = bars().add(new_bar(&shared.label, unit));
                Tracker { shared: Some(shared), bar: Some(bar), ticker: None }
            }
            Display::Lines => {
                let for_thread = Arc::clone(&shared);
                // No thread, no lines: progress is a convenience, never a reason to fail.
                let ticker =
                    std::thread::Builder::new().name("progress".into()).spawn(move || write_lines(&for_thread)).ok();
                Tracker { shared: Some(shared), bar: None, ticker }
            }
        }
    }

    /// A tracker that shows nothing (an MPI rank other than 0, whose work rank 0 reports).
    pub fn silent() -> Tracker {
        Tracker { shared: None, bar: None, ticker: None }
    }

    /// The exact total.
    pub fn set_total(&self, total: u64) {
        self.total_is(total, false);
    }

    /// A total that is an estimate (shown with `~`); refine it as often as it changes.
    pub fn set_estimated_total(&self, total: u64) {
        self.total_is(total, true);
    }

    fn total_is(&self, total: u64, estimated: bool) {
        let was_estimated = match &self.shared {
            Some(s) => {
                s.total.store(total, Ordering::Relaxed);
                s.estimated.swap(estimated, Ordering::Relaxed)
            }
            None => false,
        };
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            // The style (a parsed template) changes only with the kind of total, not per batch.
            if was_estimated != estimated {
                bar.set_style(bar_style(estimated));
            }
        }
    }

    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        if let Some(s) = &self.shared {
            s.done.fetch_add(n, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// `done` units done in all.
    pub fn set_done(&self, done: u64) {
        if let Some(s) = &self.shared {
            s.done.store(done, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if let Some(s) = &self.shared {
            *s.finished.lock().unwrap_or_else(PoisonError::into_inner) = true;
            s.wake.notify_all();
        }
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            bars().remove(&bar);
        }
    }
}

fn new_bar(label: &str, unit: &'static str) -> ProgressBar {
    ProgressBar::no_length().with_style(bar_style(false)).with_prefix(label.to_string()).with_message(unit)
}

fn bar_template(estimated: bool) -> &'static str {
    if estimated {
        "{prefix:>20} [{elapsed_precise}] {wide_bar} {human_pos}/~{human_len} {msg} {per_sec:0} ETA {eta}"
    } else {
        "{prefix:>20} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg} {per_sec:0} ETA {eta}"
    }
}

fn bar_style(estimated: bool) -> ProgressStyle {
    // The templates are constants that the tests parse; a bad one would fall back to the default.
    ProgressStyle::with_template(bar_template(estimated))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The body of the lines thread: look at the counters every [`TICK`] until the tracker ends.
fn write_lines(s: &Shared) {
    let mut policy = LinePolicy::default();
    let mut finished = s.finished.lock().unwrap_or_else(PoisonError::into_inner);
    while !*finished {
        finished = s.wake.wait_timeout(finished, TICK).unwrap_or_else(PoisonError::into_inner).0;
        if *finished {
            return;
        }
        let elapsed = s.started.elapsed();
        let (done, total) = (s.done.load(Ordering::Relaxed), s.total.load(Ordering::Relaxed));
        if policy.due(elapsed, done, total) {
            let line = progress_line(&s.label, s.unit, done, total, s.estimated.load(Ordering::Relaxed), elapsed);
            tracing::info!("{line}");
        }
    }
}

/// When lines mode writes a line; time is measured from the tracker's start.
#[derive(Debug, Default)]
pub struct LinePolicy {
    last_line: Duration,
    last_step: u64,
}

impl LinePolicy {
    /// Whether a line is due at `elapsed` with `done` of `total` (0: unknown) units: at a 5 %
    /// step not yet reported, or [`MAX_LINE_GAP`] after the last line; never within
    /// [`MIN_LINE_GAP`] of the last line or the start. A due line is taken as written.
    pub fn due(&mut self, elapsed: Duration, done: u64, total: u64) -> bool {
        let since = elapsed.saturating_sub(self.last_line);
        if since < MIN_LINE_GAP {
            return false;
        }
        let step = (done.min(total) * STEPS).checked_div(total).unwrap_or(0);
        if step > self.last_step || since >= MAX_LINE_GAP {
            self.last_line = elapsed;
            self.last_step = self.last_step.max(step);
            return true;
        }
        false
    }
}

/// One progress line: `align GERM: 1,200,000 of ~6,400,000 read pairs (18 %), 9,500 read pairs/s,
/// about 9 minutes left`.
pub fn progress_line(label: &str, unit: &str, done: u64, total: u64, estimated: bool, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / seconds;
    let rate = if rate < 10.0 {
        format!("{rate:.1} {unit}/s")
    } else {
        format!("{} {unit}/s", HumanCount(rate.round() as u64))
    };
    if total == 0 {
        return format!("{label}: {} {unit}, {rate}, {} elapsed", HumanCount(done), HumanDuration(elapsed));
    }
    let percent = (done.min(total) as f64 * 100.0 / total as f64).floor();
    let about = if estimated { "~" } else { "" };
    let left = if done > 0 && done < total {
        let remaining = Duration::from_secs_f64((total - done) as f64 * seconds / done as f64);
        format!(", about {} left", HumanDuration(remaining))
    } else {
        String::new()
    };
    format!("{label}: {} of {about}{} {unit} ({percent} %), {rate}{left}", HumanCount(done), HumanCount(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_line_per_five_percent_step_but_never_within_thirty_seconds() {
        let mut p = LinePolicy::default();
        assert!(!p.due(S(10), 50, 100), "not in the first 30 s, however far the work got");
        assert!(p.due(S(31), 50, 100), "half done, 31 s in");
        assert!(!p.due(S(40), 90, 100), "9 s after the last line");
        assert!(!p.due(S(70), 54, 100), "still the 50 % step");
        assert!(p.due(S(70), 55, 100), "the 55 % step");
        assert!(!p.due(S(150), 59, 100), "no new step and under 5 min since the last line");
    }

    #[test]
    fn at_least_a_line_every_five_minutes_even_without_a_step_or_a_total() {
        let mut p = LinePolicy::default();
        assert!(!p.due(S(299), 1, 1000));
        assert!(p.due(S(300), 1, 1000), "a heartbeat at 5 min");
        assert!(!p.due(S(599), 1, 1000));
        assert!(p.due(S(600), 1, 1000));
        let mut unknown = LinePolicy::default();
        assert!(!unknown.due(S(200), 7, 0));
        assert!(unknown.due(S(300), 7, 0));
    }

    #[test]
    fn a_total_estimate_that_grows_does_not_repeat_a_step() {
        let mut p = LinePolicy::default();
        assert!(p.due(S(40), 50, 100));
        // The estimate doubles: 50 of 200 is the 25 % step, below the 50 % one already written.
        assert!(!p.due(S(100), 50, 200));
        assert!(p.due(S(130), 110, 200), "55 %");
    }

    #[test]
    fn lines_say_how_far_how_fast_and_how_long_is_left() {
        let line = progress_line("align GERM", "read pairs", 1_500_000, 6_000_000, true, S(100));
        assert_eq!(
            line,
            "align GERM: 1,500,000 of ~6,000,000 read pairs (25 %), 15,000 read pairs/s, about 5 minutes left"
        );
        let exact = progress_line("call_germline GERM", "shards", 64, 64, false, S(90));
        assert_eq!(exact, "call_germline GERM: 64 of 64 shards (100 %), 0.7 shards/s");
        let unknown = progress_line("scan", "read pairs", 10, 0, false, S(5));
        assert_eq!(unknown, "scan: 10 read pairs, 2.0 read pairs/s, 5 seconds elapsed");
    }

    #[test]
    fn bar_templates_parse() {
        for estimated in [false, true] {
            assert!(ProgressStyle::with_template(bar_template(estimated)).is_ok(), "{}", bar_template(estimated));
        }
    }

    #[test]
    fn a_tracker_in_lines_mode_stops_its_thread_when_dropped() {
        let t = Tracker::start("test", "units");
        t.set_estimated_total(10);
        t.inc(4);
        t.set_done(6);
        assert_eq!(t.shared.as_ref().unwrap().done.load(Ordering::Relaxed), 6);
        drop(t); // joins the thread: the test would hang otherwise
        let silent = Tracker::silent();
        silent.inc(1);
    }
}
