//! What the calling stages (`call_germline`, `call_somatic`) share: the prepared reference with
//! its contig table, indexed readers of the input alignments, and the shard driver
//! ([`call_shards`]) that runs a caller over the genome's shards on the stage's pool, and over the
//! ranks of an MPI job where the stage is distributed.

use crate::accounting::thread_cpu_micros;
use crate::call::shards::Shard;
use crate::console::progress::Tracker;
use crate::engine::stage::artifact::role;
use crate::engine::stage::cluster::{decode, encode};
use crate::engine::stage::{StageContext, StageError};
use crate::genome::ContigTable;
use crate::genome::Reference;
use crate::outcome::Failure;
use rayon::prelude::*;
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
    /// `shard_cpu_seconds_max`/`_median` and `rank_cpu_seconds_max`/`_median` (the balance of the
    /// work: a max far above the median is a shard or a rank the others wait for).
    pub fn metrics(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
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

/// Runs `call` on every shard this process owns, in parallel on the stage's pool with one set of
/// readers per thread (`open_readers`), and returns every shard's result in shard order with the
/// CPU time each took ([`ShardWork`]); `None` on MPI ranks above 0, which hand their results to
/// rank 0.
///
/// Under `--mpi` (a distributed stage), rank r calls shards r, r + n, r + 2n, … (interleaved, so
/// that dense and empty stretches of the genome spread over the ranks) and sends them to rank 0
/// in one chunked gather; shard results are the same wherever they are computed, so rank 0's
/// output is a one-process run's. Fault points `before_calling` and `after_calling`. Progress:
/// rank 0's shards done (`crate::console::progress`).
pub(super) fn call_shards<R, T>(
    ctx: &StageContext<'_>,
    shards: &[Shard],
    open_readers: impl Fn() -> Result<R, StageError> + Sync + Send,
    call: impl Fn(&mut R, &Shard) -> Result<T, StageError> + Sync + Send,
) -> Result<Option<(Vec<T>, ShardWork)>, StageError>
where
    T: Send + serde::Serialize + serde::de::DeserializeOwned,
{
    let (rank, ranks) = ctx.rank_and_size();
    let mine: Vec<usize> = (rank..shards.len()).step_by(ranks).collect();
    ctx.agree("starting to call", ctx.fault_point("before_calling"))?;
    // Rank 0 shows its own share, which the interleaving makes a fair sample of the job's.
    let progress = if rank == 0 {
        Tracker::start(format!("{} {}", ctx.stage_name, ctx.entity.label()), "shards")
    } else {
        Tracker::silent()
    };
    progress.set_total(mine.len() as u64);
    let results: Vec<Result<(T, u64), StageError>> = ctx.pool.install(|| {
        mine.par_iter()
            .map_init(&open_readers, |readers, &i| {
                if ctx.cancel.is_cancelled() {
                    return Err(StageError::interrupted());
                }
                let readers = readers.as_mut().map_err(|e| e.copy_text())?;
                let started = thread_cpu_micros();
                let called = call(readers, &shards[i]);
                let cpu = thread_cpu_micros().saturating_sub(started);
                progress.inc(1);
                called.map(|c| (c, cpu))
            })
            .collect()
    });
    drop(progress);
    let called: Result<Vec<(T, u64)>, StageError> = results.into_iter().collect();
    let called = ctx.agree("calling shards", called.and_then(|c| ctx.fault_point("after_calling").map(|()| c)))?;
    let (called, cpu): (Vec<T>, Vec<u64>) = called.into_iter().unzip();
    let seconds = |us: &[u64]| us.iter().map(|&u| u as f64 / 1e6).collect::<Vec<f64>>();
    let Some(cluster) = ctx.cluster else {
        let total = cpu.iter().sum::<u64>() as f64 / 1e6;
        return Ok(Some((called, ShardWork { shard_cpu: seconds(&cpu), rank_cpu: vec![total] })));
    };
    let gathered = cluster.gather("sending called shards to rank 0", encode(&(called, cpu))?)?;
    if rank != 0 {
        return Ok(None);
    }
    let mut by_rank: Vec<std::vec::IntoIter<(T, u64)>> = Vec::new();
    let mut rank_cpu = Vec::with_capacity(ranks);
    for bytes in &gathered {
        let (part, cpu): (Vec<T>, Vec<u64>) = decode(bytes, "called shards")?;
        if part.len() != cpu.len() {
            return Err(StageError::runtime("internal: a rank sent shards and CPU times that do not pair up"));
        }
        rank_cpu.push(cpu.iter().sum::<u64>() as f64 / 1e6);
        by_rank.push(part.into_iter().zip(cpu).collect::<Vec<_>>().into_iter());
    }
    // Shard i was called by rank i % ranks, as its (i / ranks)-th.
    let mut ordered = Vec::with_capacity(shards.len());
    let mut shard_cpu = Vec::with_capacity(shards.len());
    for i in 0..shards.len() {
        let (shard, cpu) = by_rank[i % ranks]
            .next()
            .ok_or_else(|| StageError::runtime(format!("internal: rank {} sent too few shards", i % ranks)))?;
        ordered.push(shard);
        shard_cpu.push(cpu as f64 / 1e6);
    }
    Ok(Some((ordered, ShardWork { shard_cpu, rank_cpu })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_metrics_give_the_max_and_the_median_per_shard_and_per_rank() {
        let work = ShardWork { shard_cpu: vec![1.0, 4.0, 2.0, 3.0], rank_cpu: vec![6.0, 4.0, 0.5] };
        let m = work.metrics();
        assert_eq!(m["shard_cpu_seconds_max"], 4.0);
        assert_eq!(m["shard_cpu_seconds_median"], 2.5);
        assert_eq!(m["rank_cpu_seconds_max"], 6.0);
        assert_eq!(m["rank_cpu_seconds_median"], 4.0);
        assert_eq!(max_and_median(&[]), (0.0, 0.0));
    }
}
