//! Per-stage CPU accounting that stays correct when stages run concurrently.
//!
//! Each stage instance gets a [`CpuMeter`]. The thread that runs the stage, its rayon pool's
//! threads and every helper thread started with [`spawn`] add their own thread CPU time
//! (`getrusage(RUSAGE_THREAD)`, user + system) to the meter of the thread that created them when
//! they finish. Cost: one syscall per thread exit. Domain modules start their I/O threads with
//! [`spawn`] instead of `std::thread::spawn` so that their CPU is charged to the right stage.
//!
//! Threads that C libraries start (htslib's BGZF compression pools) cannot charge a meter
//! themselves: [`start_foreign`] runs the call that starts them under a unique thread name, which
//! Linux threads inherit from their creator, finds them by that name in `/proc/self/task`, and
//! [`ForeignThreads::charge`] adds their CPU (`utime + stime` of `/proc/self/task/<tid>/stat`,
//! in clock ticks) to the meter before they are stopped. Cost: one `/proc` read per thread at
//! start and at the end. Work they do after the charge (flushing the last blocks at close) is
//! not counted; the process total always is.

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

/// Threads started by C code inside [`start_foreign`], whose CPU is charged to the meter that was
/// current there. Charge them with [`ForeignThreads::charge`] while they still run (before the
/// library's close or free that stops them).
#[derive(Debug, Default)]
pub struct ForeignThreads {
    tids: Vec<u32>,
    meter: Option<CpuMeter>,
}

impl ForeignThreads {
    /// Threads found.
    pub fn count(&self) -> usize {
        self.tids.len()
    }

    /// Adds the threads' CPU so far to the meter, once (later calls add nothing).
    pub fn charge(&mut self) {
        let Some(meter) = self.meter.take() else { return };
        // SAFETY: sysconf has no preconditions.
        let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let ticks: u64 = std::mem::take(&mut self.tids).into_iter().filter_map(task_cpu_ticks).sum();
        meter.add_micros(ticks * 1_000_000 / ticks_per_second);
    }
}

/// Runs `start` (a C call that starts threads, such as `hts_set_threads`) under a unique name for
/// the calling thread, and returns the threads it started, to be charged to the calling thread's
/// meter. Without a meter, or where `/proc` cannot be read, nothing is charged.
pub fn start_foreign<T>(start: impl FnOnce() -> T) -> (T, ForeignThreads) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(meter) = current() else { return (start(), ForeignThreads::default()) };
    // Thread names are at most 15 bytes.
    let tag = format!("dagr-c{:09}", NEXT.fetch_add(1, Ordering::Relaxed) % 1_000_000_000);
    let old = thread_name();
    set_thread_name(&tag);
    let result = start();
    match &old {
        Some(name) => set_thread_name(name),
        None => set_thread_name(""),
    }
    let mut tids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else { continue };
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == tag {
                tids.push(tid);
            }
        }
    }
    // The calling thread itself no longer has the tag: only the new threads matched.
    (result, ForeignThreads { tids, meter: Some(meter) })
}

/// The calling thread's name (`PR_GET_NAME`).
fn thread_name() -> Option<Vec<u8>> {
    let mut buf = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL-terminated, into `buf`.
    let rc = unsafe { libc::prctl(libc::PR_GET_NAME, buf.as_mut_ptr() as libc::c_ulong, 0, 0, 0) };
    (rc == 0).then(|| buf.iter().take_while(|&&b| b != 0).copied().collect())
}

fn set_thread_name(name: impl AsRef<[u8]>) {
    let mut buf = [0u8; 16];
    let name = name.as_ref();
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name[..n]);
    // SAFETY: `buf` is NUL-terminated; PR_SET_NAME reads at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// `utime + stime` of thread `tid` of this process, in clock ticks (None once it has exited).
fn task_cpu_ticks(tid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The name in parentheses may hold spaces: the fields after it start after the last `)`.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // After the name: state (0), ppid (1), ... utime (11), stime (12).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
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
    fn threads_started_by_foreign_code_are_found_and_charged() {
        let meter = CpuMeter::new();
        set_current(Some(meter.clone()));
        let (burnt_tx, burnt_rx) = std::sync::mpsc::channel::<()>();
        let done = std::sync::Arc::new(std::sync::Barrier::new(3));
        // Plain std threads stand in for a C library's: they charge no meter themselves. Each
        // burns 60 ms of its own CPU, then stays alive until charged, as a pool's threads do.
        let (handles, mut foreign) = start_foreign(|| {
            (0..2)
                .map(|_| {
                    let (burnt, done) = (burnt_tx.clone(), done.clone());
                    std::thread::spawn(move || {
                        let start = thread_cpu_micros();
                        let mut x = 0u64;
                        while thread_cpu_micros() - start < 60_000 {
                            for _ in 0..10_000 {
                                x = x.wrapping_mul(31).wrapping_add(7);
                            }
                        }
                        burnt.send(()).unwrap();
                        done.wait();
                        std::hint::black_box(x)
                    })
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(foreign.count(), 2, "the two threads started inside");
        assert!(thread_name().is_some_and(|n| !n.starts_with(b"dagr-c")), "the caller's name is restored");
        burnt_rx.recv().unwrap();
        burnt_rx.recv().unwrap();
        foreign.charge();
        // 2 x 60 ms, in 10 ms clock ticks.
        assert!(meter.seconds() >= 0.1, "charged {} s", meter.seconds());
        let charged = meter.seconds();
        foreign.charge();
        assert_eq!(meter.seconds(), charged, "charged once");
        done.wait();
        for h in handles {
            h.join().unwrap();
        }
        set_current(None);
    }

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
