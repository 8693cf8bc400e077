//! Per-stage CPU accounting that stays correct when stages run concurrently.
//!
//! Each stage instance gets a [`CpuMeter`]. The thread that runs the stage, its rayon pool's
//! threads and every helper thread started with [`spawn`] add their own thread CPU time
//! (`getrusage(RUSAGE_THREAD)`, user + system) to the meter of the thread that created them when
//! they finish. Cost: one syscall per thread exit. Domain modules start their I/O threads with
//! [`spawn`] instead of `std::thread::spawn` so that their CPU is charged to the right stage.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Accumulated CPU microseconds of the threads charged to one stage instance.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter(Arc<AtomicU64>);

impl CpuMeter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn seconds(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e6
    }
    fn add_micros(&self, us: u64) {
        self.0.fetch_add(us, Ordering::Relaxed);
    }
    /// Charges the calling thread's CPU time since it started (or since `baseline_us`).
    pub fn charge_current_thread_since(&self, baseline_us: u64) {
        self.add_micros(thread_cpu_micros().saturating_sub(baseline_us));
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CpuMeter>> = const { RefCell::new(None) };
}

/// Makes `meter` the one that threads started from this thread charge.
pub fn set_current(meter: Option<CpuMeter>) {
    CURRENT.with(|c| *c.borrow_mut() = meter);
}

/// The meter of the calling thread, if any.
pub fn current() -> Option<CpuMeter> {
    CURRENT.with(|c| c.borrow().clone())
}

/// CPU time (user + system) of the calling thread, in microseconds.
pub fn thread_cpu_micros() -> u64 {
    rusage_micros(libc::RUSAGE_THREAD)
}

/// CPU time (user + system) of the whole process, in microseconds.
pub fn process_cpu_micros() -> u64 {
    rusage_micros(libc::RUSAGE_SELF)
}

/// Peak resident set size of the process so far, in bytes.
pub fn process_peak_rss_bytes() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (usage.ru_maxrss.max(0) as u64) * 1024
}

fn rusage_micros(who: libc::c_int) -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    if rc != 0 {
        return 0;
    }
    let tv = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `std::thread::Builder::spawn` with a name, charging the new thread's CPU to the caller's meter.
pub fn spawn<F, T>(name: impl Into<String>, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let meter = current();
    std::thread::Builder::new().name(name.into()).spawn(move || {
        set_current(meter.clone());
        let result = f();
        if let Some(m) = meter {
            m.charge_current_thread_since(0);
        }
        result
    })
}

/// A rayon pool of `threads` threads; threads its tasks spawn with [`spawn`] charge `meter`.
/// The pool's own CPU is read with [`pool_cpu_micros`] before the pool is dropped.
pub fn rayon_pool(
    threads: usize,
    name: &str,
    meter: &CpuMeter,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let start_meter = meter.clone();
    let name = name.to_string();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(move |_| set_current(Some(start_meter.clone())))
        .build()
}

/// Total CPU microseconds used so far by the threads of `pool` (all of it, since each stage
/// instance has a pool of its own). Waits for each pool thread to answer.
pub fn pool_cpu_micros(pool: &rayon::ThreadPool) -> u64 {
    pool.broadcast(|_| thread_cpu_micros()).into_iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_threads_charge_the_spawners_meter() {
        let meter = CpuMeter::new();
        set_current(Some(meter.clone()));
        let h = spawn("burn", || {
            // Burn 30 ms of this thread's own CPU, whatever the machine's load.
            let start = thread_cpu_micros();
            let mut x = 0u64;
            while thread_cpu_micros() - start < 30_000 {
                for _ in 0..10_000 {
                    x = x.wrapping_mul(31).wrapping_add(7);
                }
            }
            x
        })
        .unwrap();
        h.join().unwrap();
        set_current(None);
        assert!(meter.seconds() >= 0.029, "charged {}", meter.seconds());
    }
}
