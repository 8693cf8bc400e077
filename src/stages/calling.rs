//! What the calling stages (`call_germline`, `call_somatic`) share: the prepared reference with
//! its contig table, indexed readers of the input alignments, and the shard driver
//! ([`call_shards`]) that runs a caller over the genome's shards on the stage's pool, and over the
//! ranks of an MPI job where the stage is distributed.

use crate::accounting::thread_cpu_micros;
use crate::alignments::{bai, crai};
use crate::call::shards::{Shard, WorkMap, balanced_shards};
use crate::console::progress::Tracker;
use crate::engine::stage::artifact::role;
use crate::engine::stage::cluster::{decode, encode};
use crate::engine::stage::{StageContext, StageError};
use crate::genome::ContigTable;
use crate::genome::Reference;
use crate::outcome::Failure;
use rust_htslib::bam;
use std::path::{Path, PathBuf};

/// What a stage does when a check fails (`sex_check`, `identity_check`): stop the sample or
/// pair with an error (exit 2), or warn and go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum OnMismatch {
    Error,
    Warn,
}

/// The prepared reference of the `reference` input: its FASTA, the open (memory-mapped)
/// sequence and its contigs (name, length, MD5), in reference order.
pub(super) struct PreparedReference {
    pub fasta: PathBuf,
    pub reference: Reference,
    pub contigs: ContigTable,
}

pub(super) fn prepared_reference(ctx: &StageContext<'_>) -> Result<PreparedReference, StageError> {
    let r = ctx.input("reference")?;
    let (fasta, fai, md5) = (r.file(role::FASTA)?.to_path_buf(), r.file(role::FAI)?, r.file(role::MD5)?);
    let table = crate::genome::dict::read_md5_table(md5).map_err(StageError::as_runtime)?;
    let reference = Reference::open(&fasta, fai).map_err(StageError::as_runtime)?;
    Ok(PreparedReference { fasta, reference, contigs: ContigTable::new(table) })
}

/// The BAM or CRAM of the alignments input bound to `slot`.
pub(super) fn alignment_path(ctx: &StageContext<'_>, slot: &str) -> Result<PathBuf, StageError> {
    let a = ctx.input(slot)?;
    a.file(role::BAM).or_else(|_| a.file(role::CRAM)).map(Path::to_path_buf)
}

/// An indexed reader of `path` (a CRAM decoded against `fasta`).
pub(super) fn open_reader(path: &Path, fasta: &Path) -> Result<bam::IndexedReader, StageError> {
    let mut reader = bam::IndexedReader::from_path(path)
        .map_err(|e| StageError::because(Failure::Runtime, path.display().to_string(), e))?;
    if path.extension().is_some_and(|e| e == "cram") {
        reader
            .set_reference(fasta)
            .map_err(|e| StageError::because(Failure::Runtime, fasta.display().to_string(), e))?;
    }
    Ok(reader)
}

/// How the calling work spread, for the run report: the CPU seconds of every shard (in shard
/// order) and of every rank (the sum of its shards).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ShardWork {
    pub shard_cpu: Vec<f64>,
    pub rank_cpu: Vec<f64>,
}

impl ShardWork {
    /// `shards` (how many the layout cut), `shard_cpu_seconds_max`/`_median` and
    /// `rank_cpu_seconds_max`/`_median` (the balance of the work: a max far above the median is a
    /// shard or a rank the others wait for).
    pub fn metrics(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("shards".into(), serde_json::json!(self.shard_cpu.len()));
        for (name, values) in [("shard", &self.shard_cpu), ("rank", &self.rank_cpu)] {
            insert_cpu_balance(&mut m, name, values);
        }
        m
    }
}

/// Inserts `<name>_cpu_seconds_max` and `_median` of `values` (milliseconds kept) into `metrics`.
pub(super) fn insert_cpu_balance(metrics: &mut serde_json::Map<String, serde_json::Value>, name: &str, values: &[f64]) {
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let (max, median) = max_and_median(values);
    metrics.insert(format!("{name}_cpu_seconds_max"), serde_json::json!(round(max)));
    metrics.insert(format!("{name}_cpu_seconds_median"), serde_json::json!(round(median)));
}

/// The largest value and the median (the mean of the middle two for an even count); 0 for none.
fn max_and_median(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    (sorted[n - 1], median)
}

/// Where the calling work lies, from the inputs' indexes: the compressed bytes of their
/// alignments per 16 kb window, summed over the inputs (a BAI's linear index, an estimate at
/// BGZF-block grain: [`bai::window_bytes`]; a CRAI's slice sizes spread over their spans:
/// [`crai::window_bytes`]). Where an input's index cannot be read, an empty map: the shards are
/// then cut at fixed length and weighed by length. It shapes the layout and the assignment only:
/// the calls do not depend on it (see [`crate::call::shards`]).
fn work_map(alignments: &[&Path]) -> WorkMap {
    const { assert!(bai::LINEAR_WINDOW == crate::call::shards::WORK_WINDOW, "index windows are the work map's") };
    let mut map = WorkMap::default();
    for path in alignments {
        let is_cram = path.extension().is_some_and(|e| e == "cram");
        let index = crate::output_file::with_suffix(path, if is_cram { "crai" } else { "bai" });
        let windows = std::fs::read(&index).and_then(|bytes| match is_cram {
            true => crai::window_bytes(&bytes),
            false => bai::window_bytes(&bytes),
        });
        match windows {
            Ok(windows) => map.add_input(windows),
            Err(e) => {
                tracing::debug!("{}: {e}; shards cut and weighed by length", index.display());
                return WorkMap::default();
            }
        }
    }
    map
}

/// The shards of `contigs` cut by the expected work of `alignments` ([`work_map`],
/// [`balanced_shards`]) and each shard's expected work, for [`call_shards`].
pub(super) fn shard_layout(
    alignments: &[&Path],
    contigs: &[crate::genome::Contig],
    shard_size: u64,
    padding: u64,
) -> (Vec<Shard>, Vec<u64>) {
    let work = work_map(alignments);
    let shards = balanced_shards(contigs, shard_size, padding, &work);
    let expected = work.expected(&shards);
    (shards, expected)
}

/// Which rank calls each shard, and each rank's shards in the order to call them: longest
/// processing time first (shards by expected work, heaviest first, ties in shard order, each to
/// the rank with the least work so far, ties to the lower rank). A function of the expected work
/// and the rank count only, so every rank computes the same plan.
pub(super) fn assign_shards(expected: &[u64], ranks: usize) -> Vec<Vec<usize>> {
    let ranks = ranks.max(1);
    let mut order: Vec<usize> = (0..expected.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(expected[i]), i));
    let mut load = vec![0u64; ranks];
    let mut plan = vec![Vec::new(); ranks];
    for i in order {
        let r = (0..ranks).min_by_key(|&r| (load[r], r)).unwrap_or(0);
        load[r] += expected[i];
        plan[r].push(i);
    }
    plan
}

/// Runs `call` on every shard this process owns on the stage's pool, with one set of readers per
/// worker thread (`open_readers`), and returns every shard's result in shard order with the CPU
/// time each took ([`ShardWork`]); `None` on MPI ranks above 0, which hand their results to
/// rank 0.
///
/// Shards go to ranks by [`assign_shards`] over `expected` work (under `--mpi`; one process owns
/// all), and a rank's workers take its shards from one queue, heaviest first, so that a heavy
/// shard starts early instead of finishing last. Shard results are the same wherever and in
/// whatever order they are computed, so rank 0's output is a one-process run's. Ranks send their
/// results to rank 0 in one chunked gather. Fault points `before_calling` and `after_calling`.
/// Progress: rank 0's shards done (`crate::console::progress`).
pub(super) fn call_shards<R, T>(
    ctx: &StageContext<'_>,
    shards: &[Shard],
    expected: &[u64],
    open_readers: impl Fn() -> Result<R, StageError> + Sync + Send,
    call: impl Fn(&mut R, &Shard) -> Result<T, StageError> + Sync + Send,
) -> Result<Option<(Vec<T>, ShardWork)>, StageError>
where
    T: Send + serde::Serialize + serde::de::DeserializeOwned,
{
    let (rank, ranks) = ctx.rank_and_size();
    if expected.len() != shards.len() {
        return Err(StageError::runtime("internal: expected work is not given for every shard"));
    }
    let plan = assign_shards(expected, ranks);
    let mine = &plan[rank];
    ctx.agree("starting to call", ctx.fault_point("before_calling"))?;
    let progress = if rank == 0 {
        Tracker::start(format!("{} {}", ctx.stage_name, ctx.entity.label()), "shards")
    } else {
        Tracker::silent()
    };
    progress.set_total(mine.len() as u64);
    let called = run_queue(ctx, mine.len(), &open_readers, |readers, k| {
        let started = thread_cpu_micros();
        let called = call(readers, &shards[mine[k]]);
        let cpu = thread_cpu_micros().saturating_sub(started);
        progress.inc(1);
        called.map(|c| (c, cpu))
    });
    drop(progress);
    let called = ctx.agree("calling shards", called.and_then(|c| ctx.fault_point("after_calling").map(|()| c)))?;
    let seconds = |us: u64| us as f64 / 1e6;
    let Some(cluster) = ctx.cluster else {
        let total: u64 = called.iter().map(|c| c.1).sum();
        let mut slots: Vec<Option<(T, u64)>> = (0..shards.len()).map(|_| None).collect();
        for (k, result) in called.into_iter().enumerate() {
            slots[mine[k]] = Some(result);
        }
        return in_shard_order(slots, vec![seconds(total)]).map(|done| Some(log_shards(shards, expected, done)));
    };
    let gathered = cluster.gather("sending called shards to rank 0", encode(&called)?)?;
    if rank != 0 {
        return Ok(None);
    }
    let mut slots: Vec<Option<(T, u64)>> = (0..shards.len()).map(|_| None).collect();
    let mut rank_cpu = Vec::with_capacity(ranks);
    for (r, bytes) in gathered.iter().enumerate() {
        let part: Vec<(T, u64)> = decode(bytes, "called shards")?;
        if part.len() != plan[r].len() {
            return Err(StageError::runtime(format!(
                "internal: rank {r} sent {} shards, not {}",
                part.len(),
                plan[r].len()
            )));
        }
        rank_cpu.push(seconds(part.iter().map(|p| p.1).sum()));
        for (k, result) in part.into_iter().enumerate() {
            slots[plan[r][k]] = Some(result);
        }
    }
    in_shard_order(slots, rank_cpu).map(|done| Some(log_shards(shards, expected, done)))
}

/// Logs every shard's core, expected work and CPU seconds at debug level (to check the layout
/// against what the work cost); passes the results through.
fn log_shards<T>(shards: &[Shard], expected: &[u64], done: (Vec<T>, ShardWork)) -> (Vec<T>, ShardWork) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        for ((shard, work), cpu) in shards.iter().zip(expected).zip(&done.1.shard_cpu) {
            tracing::debug!(tid = shard.tid, start = shard.start, end = shard.end, expected = work, cpu, "shard");
        }
    }
    done
}

/// The results in shard order with their CPU seconds; every shard must have one.
fn in_shard_order<T>(slots: Vec<Option<(T, u64)>>, rank_cpu: Vec<f64>) -> Result<(Vec<T>, ShardWork), StageError> {
    let mut results = Vec::with_capacity(slots.len());
    let mut shard_cpu = Vec::with_capacity(slots.len());
    for (i, slot) in slots.into_iter().enumerate() {
        let (result, cpu) = slot.ok_or_else(|| StageError::runtime(format!("internal: shard {i} was not called")))?;
        results.push(result);
        shard_cpu.push(cpu as f64 / 1e6);
    }
    Ok((results, ShardWork { shard_cpu, rank_cpu }))
}

/// Runs `job(readers, k)` for k in `0..n` on the stage's pool: each worker opens its readers once
/// and takes the next k from one shared counter (so jobs start in order, and a worker that is
/// done takes the next). Stops handing out jobs after the first error or a cancellation; the
/// results in k order.
fn run_queue<R, T: Send>(
    ctx: &StageContext<'_>,
    n: usize,
    open_readers: &(impl Fn() -> Result<R, StageError> + Sync),
    job: impl Fn(&mut R, usize) -> Result<T, StageError> + Sync,
) -> Result<Vec<T>, StageError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let first_error: Mutex<Option<(usize, StageError)>> = Mutex::new(None);
    let fail = |k: usize, e: StageError| {
        failed.store(true, Ordering::SeqCst);
        if let Ok(mut first) = first_error.lock()
            && first.as_ref().is_none_or(|(j, _)| k < *j)
        {
            *first = Some((k, e));
        }
    };
    ctx.pool.broadcast(|_| {
        if next.load(Ordering::SeqCst) >= n {
            return;
        }
        let mut readers = match open_readers() {
            Ok(r) => r,
            Err(e) => return fail(0, e),
        };
        loop {
            if failed.load(Ordering::SeqCst) {
                return;
            }
            if ctx.cancel.is_cancelled() {
                return fail(0, StageError::interrupted());
            }
            let k = next.fetch_add(1, Ordering::SeqCst);
            if k >= n {
                return;
            }
            match job(&mut readers, k) {
                Ok(result) => {
                    if let Ok(mut slot) = slots[k].lock() {
                        *slot = Some(result);
                    }
                }
                Err(e) => return fail(k, e),
            }
        }
    });
    if let Some((_, e)) =
        first_error.into_inner().map_err(|_| StageError::runtime("internal: a calling worker panicked"))?
    {
        return Err(e);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(k, slot)| {
            slot.into_inner()
                .ok()
                .flatten()
                .ok_or_else(|| StageError::runtime(format!("internal: job {k} of the calling queue has no result")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_metrics_give_the_max_and_the_median_per_shard_and_per_rank() {
        let work = ShardWork { shard_cpu: vec![1.0, 4.0, 2.0, 3.0], rank_cpu: vec![6.0, 4.0, 0.5] };
        let m = work.metrics();
        assert_eq!(m["shards"], 4);
        assert_eq!(m["shard_cpu_seconds_max"], 4.0);
        assert_eq!(m["shard_cpu_seconds_median"], 2.5);
        assert_eq!(m["rank_cpu_seconds_max"], 6.0);
        assert_eq!(m["rank_cpu_seconds_median"], 4.0);
        assert_eq!(max_and_median(&[]), (0.0, 0.0));
    }

    #[test]
    fn shards_go_heaviest_first_to_the_least_loaded_rank() {
        // One heavy shard and many light ones: the heavy one gets a rank to itself.
        let expected = [1, 1, 1, 10, 1, 1, 1, 1, 2, 1];
        let plan = assign_shards(&expected, 2);
        assert_eq!(plan[0], vec![3]);
        assert_eq!(plan[1], vec![8, 0, 1, 2, 4, 5, 6, 7, 9]);
        // Every shard exactly once, for any rank count; ties go to the lower rank in shard order.
        for ranks in 1..6 {
            let plan = assign_shards(&expected, ranks);
            let mut all: Vec<usize> = plan.concat();
            all.sort_unstable();
            assert_eq!(all, (0..expected.len()).collect::<Vec<_>>(), "{ranks} ranks");
        }
        assert_eq!(assign_shards(&[5, 5, 5, 5], 2), vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(assign_shards(&[], 3), vec![Vec::<usize>::new(); 3]);
    }
}
