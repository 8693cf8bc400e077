//! What the calling stages (`call_germline`, `call_somatic`) share: the prepared reference with
//! its contig table, indexed readers of the input alignments, and the shard driver
//! ([`call_shards`]) that runs a caller over the genome's shards on the stage's pool, and over the
//! ranks of an MPI job where the stage is distributed.

use crate::call::shards::Shard;
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

/// Runs `call` on every shard this process owns, in parallel on the stage's pool with one set of
/// readers per thread (`open_readers`), and returns every shard's result in shard order; `None`
/// on MPI ranks above 0, which hand their results to rank 0.
///
/// Under `--mpi` (a distributed stage), rank r calls shards r, r + n, r + 2n, … (interleaved, so
/// that dense and empty stretches of the genome spread over the ranks) and sends them to rank 0
/// in one chunked gather; shard results are the same wherever they are computed, so rank 0's
/// output is a one-process run's. Fault points `before_calling` and `after_calling`.
pub(super) fn call_shards<R, T>(
    ctx: &StageContext<'_>,
    shards: &[Shard],
    open_readers: impl Fn() -> Result<R, StageError> + Sync + Send,
    call: impl Fn(&mut R, &Shard) -> Result<T, StageError> + Sync + Send,
) -> Result<Option<Vec<T>>, StageError>
where
    T: Send + serde::Serialize + serde::de::DeserializeOwned,
{
    let (rank, ranks) = ctx.rank_and_size();
    let mine: Vec<usize> = (rank..shards.len()).step_by(ranks).collect();
    ctx.agree("starting to call", ctx.fault_point("before_calling"))?;
    let results: Vec<Result<T, StageError>> = ctx.pool.install(|| {
        mine.par_iter()
            .map_init(&open_readers, |readers, &i| {
                if ctx.cancel.is_cancelled() {
                    return Err(StageError::interrupted());
                }
                let readers = readers.as_mut().map_err(|e| e.copy_text())?;
                call(readers, &shards[i])
            })
            .collect()
    });
    let called: Result<Vec<T>, StageError> = results.into_iter().collect();
    let called = ctx.agree("calling shards", called.and_then(|c| ctx.fault_point("after_calling").map(|()| c)))?;
    let Some(cluster) = ctx.cluster else { return Ok(Some(called)) };
    let gathered = cluster.gather("sending called shards to rank 0", encode(&called)?)?;
    if rank != 0 {
        return Ok(None);
    }
    drop(called);
    let mut by_rank: Vec<std::vec::IntoIter<T>> = Vec::new();
    for bytes in &gathered {
        let part: Vec<T> = decode(bytes, "called shards")?;
        by_rank.push(part.into_iter());
    }
    // Shard i was called by rank i % ranks, as its (i / ranks)-th.
    let mut ordered = Vec::with_capacity(shards.len());
    for i in 0..shards.len() {
        let shard = by_rank[i % ranks]
            .next()
            .ok_or_else(|| StageError::runtime(format!("internal: rank {} sent too few shards", i % ranks)))?;
        ordered.push(shard);
    }
    Ok(Some(ordered))
}
