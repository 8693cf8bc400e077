//! `align` over the ranks of an MPI job (`dagr run --mpi`): the same records, flags and QC as one
//! process, the BAM written in slices by every rank at once.
//!
//! 1. **Split the batches.** Every rank reads the FASTQ lanes (decompression and checks are cheap
//!    beside mapping) and maps the batches whose global ordinal `b` has `b % ranks == rank`.
//!    Batches and pair ids are those of a single process, so records and keys are too.
//! 2. **Cut the genome by coverage.** The ranks hold the records of their first
//!    [`EXCHANGE_EVERY`] batches, all-gather where those fall ([`PlacementSample`], a counter per
//!    bin of about 1/4096 of the genome) and cut the genome (contigs in header order, end to end)
//!    into `ranks` slices holding equal shares of them ([`GenomeSlices::by_coverage`]; every rank
//!    computes the same cut). FASTQ order is unrelated to position, so the first batches are a
//!    fair sample: reads that cover a region of the reference only still spread over every rank.
//!    Where the cut falls changes no output.
//! 3. **Exchange by genome slice and by duplicate key.** Rank r owns the records whose sort key
//!    falls in slice r (records without a position: the last rank). Duplicate candidates go to
//!    the rank [`markdup::shard_of`] names. Every [`EXCHANGE_EVERY`] batches per rank the buffers
//!    are swapped ([`Cluster::exchange`], chunked rounds) and the received records go into this
//!    rank's [`RecordSorter`] (spilling past the memory budget as usual).
//! 4. **Mark duplicates as a keyed reduction** ([`markdup`]'s partitioned form): fragment ends
//!    are all-gathered, each rank answers which of them its pairs cover, answers go to the ends'
//!    owners, each rank reduces its candidates, and the parts are all-gathered and merged, so
//!    every rank has every mark.
//! 5. **Write slices.** Each rank sorts its records, flags duplicates and writes
//!    `work/align/mpi/rank-<r>.bam` (BGZF, htslib compression threads) with its index built while
//!    writing, and measures its slice with the alignment QC beside the writer
//!    ([`AlignmentQc::for_slice`]: its own coordinates, edges handed over). Rank 0 joins the
//!    slices in rank order without recompressing ([`concatenate_bam`]: the slices' indexes merged,
//!    the MD5 taken while copying), merges the slices' QC ([`merge_slices`]) and writes the QC
//!    files exactly as one process does. It reads the joined BAM back only where the QC does not
//!    merge exactly (a record reaching more than 64 kb past its slice; reported as
//!    `alignment_qc_reread`).
//!
//! Every fallible step passes through [`StageContext::agree`] before the next collective, so a
//! failing rank fails the stage on every rank with its own message.
//!
//! Cost beyond one process: each rank decompresses every lane; each record crosses the network
//! once (and candidates once, marks once to every rank); rank 0 copies the slices into one file.

use super::lanes::LaneTotals;
use super::qc_beside::QcBeside;
use super::{AlignCounts, AlignJob};
use crate::align::AlignedBatch;
use crate::alignments::keys::{DupCandidate, SortKey};
use crate::alignments::markdup::{
    self, DuplicateMarks, EndKey, MarkdupOptions, MarksPart, covered_ends, end_shard, fragment_ends,
};
use crate::alignments::partition::{GenomeSlices, PlacementSample};
use crate::alignments::sort::wire::{decode_records, encode_record};
use crate::alignments::sort::{RecordSorter, SortOptions};
use crate::alignments::writer::{AlignmentWriter, OutputFormat, concatenate_bam};
use crate::engine::stage::Cluster;
use crate::engine::stage::cluster::{decode, encode};
use crate::engine::stage::{StageContext, StageError, StageOutputs};
use crate::genome::Reference;
use crate::outcome::Failure;
use crate::qc::alignment::{AlignmentQc, SliceQc, merge_slices, territory_from_reference};
use rust_htslib::bam::Read as _;
use rust_htslib::bam::Record;

/// Batches each rank maps between two exchanges (bounds the records held for sending:
/// 16 × 8192 pairs, about 100 MB for 150 bp reads).
const EXCHANGE_EVERY: u64 = 16;

/// Under MPI: this rank aligns batches `rank, rank + ranks, ...`; until the genome is cut, it
/// holds their records; then records it owns go to its own sorter, the others and every
/// duplicate key are buffered for their ranks and exchanged every [`EXCHANGE_EVERY`] rounds of
/// batches (every rank reaches each exchange, and the cut, after the same batch).
struct RankSink<'a> {
    ctx: &'a StageContext<'a>,
    cluster: &'a dyn Cluster,
    rank: usize,
    ranks: usize,
    cut: Cut<'a>,
    routing: Routing,
}

/// The genome's slices, or what they will be cut from.
enum Cut<'a> {
    /// Before the first exchange: the reference's contigs and N runs, and the records held.
    Pending {
        contigs: &'a [(u64, Vec<(u64, u64)>)],
        held: Vec<(SortKey, Record)>,
    },
    Done(GenomeSlices),
}

impl RankSink<'_> {
    /// Cuts the genome from the records every rank holds (a collective: every rank calls it
    /// after the same batch) and files the held records by their owner. Does nothing once cut.
    /// Every error it returns is every rank's.
    fn cut_genome(&mut self) -> Result<(), StageError> {
        let Cut::Pending { contigs, held } = &mut self.cut else { return Ok(()) };
        let (contigs, held) = (*contigs, std::mem::take(held));
        let lengths: Vec<u64> = contigs.iter().map(|c| c.0).collect();
        let mut sample = PlacementSample::new(&lengths);
        for (key, _) in &held {
            sample.add(key);
        }
        let mine = self.ctx.agree("counting where the first records fall", encode(&sample))?;
        let samples = self.cluster.all_gather("sharing where the first records fall", mine)?;
        let mut all = PlacementSample::new(&lengths);
        for bytes in &samples {
            let part = decode::<PlacementSample>(bytes, "a placement sample")?;
            all.merge(&part).map_err(|e| StageError::runtime(format!("internal: {e}")))?;
        }
        self.cut = Cut::Done(GenomeSlices::by_coverage(contigs.iter().cloned(), &all, self.ranks));
        let filed = self.route(held).map_err(|stop| match stop {
            Stop::Local(e) | Stop::Shared(e) => e,
        });
        self.ctx.agree("filing the first records", filed)
    }

    /// Sends each record towards its owner: its own sorter or the buffer for its rank.
    fn route(&mut self, records: Vec<(SortKey, Record)>) -> Result<(), Stop> {
        let slices = match &mut self.cut {
            Cut::Done(slices) => slices,
            Cut::Pending { held, .. } => {
                held.extend(records);
                return Ok(());
            }
        };
        // Records this rank owns skip the encoding and go to its sorter directly.
        let mut own = Vec::new();
        for (key, record) in records {
            match slices.owner(&key) {
                owner if owner == self.rank => own.push((key, record)),
                owner => encode_record(&mut self.routing.records_out[owner], &key, &record),
            }
        }
        self.routing.sorter.push(own, self.ctx.pool)?;
        Ok(())
    }
}

impl super::lanes::BatchSink for RankSink<'_> {
    type Error = Stop;
    fn aligns(&self, ordinal: u64) -> bool {
        ordinal % self.ranks as u64 == self.rank as u64
    }
    fn take(&mut self, batch: AlignedBatch) -> Result<(), Stop> {
        self.route(batch.records)?;
        for c in batch.candidates {
            self.routing.candidates_out[markdup::shard_of(&c.key, self.ranks)].push(c);
        }
        Ok(())
    }
    fn after_batch(&mut self, ordinal: u64) -> Result<(), Stop> {
        if ordinal.is_multiple_of(EXCHANGE_EVERY * self.ranks as u64) {
            self.cluster.agree("mapping read batches", Ok(())).map_err(Stop::Shared)?;
            self.cut_genome().map_err(Stop::Shared)?;
            self.routing.exchange(self.ctx, self.cluster).map_err(Stop::Shared)?;
        }
        Ok(())
    }
}

/// What this rank holds for sending, and what it has received.
struct Routing {
    records_out: Vec<Vec<u8>>,
    candidates_out: Vec<Vec<DupCandidate>>,
    my_candidates: Vec<DupCandidate>,
    sorter: RecordSorter,
}

impl Routing {
    /// Swaps the buffers with every rank and files what arrives. All ranks call it together.
    fn exchange(&mut self, ctx: &StageContext<'_>, cluster: &dyn Cluster) -> Result<(), StageError> {
        let ranks = cluster.size();
        let mut outgoing = Vec::with_capacity(ranks);
        for (records, candidates) in self.records_out.iter_mut().zip(&mut self.candidates_out) {
            // (This rank's own buffer stays empty: its records went to its sorter directly.)
            let mut message = (records.len() as u64).to_le_bytes().to_vec();
            message.append(records);
            message.extend(encode(&std::mem::take(candidates))?);
            outgoing.push(message);
        }
        let incoming = cluster.exchange("exchanging aligned records", outgoing)?;
        let filed = (|| -> Result<(), StageError> {
            for (source, message) in incoming.into_iter().enumerate() {
                let corrupt = || StageError::runtime(format!("internal: records from rank {source} do not decode"));
                let len = message.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize);
                let len = len.filter(|&l| 8 + l <= message.len()).ok_or_else(corrupt)?;
                let records = decode_records(&message[8..8 + len]).ok_or_else(corrupt)?;
                let candidates: Vec<DupCandidate> = decode(&message[8 + len..], "duplicate candidates")?;
                self.my_candidates.extend(candidates);
                self.sorter.push(records, ctx.pool)?;
            }
            Ok(())
        })();
        ctx.agree("filing received records", filed)
    }
}

/// Why the mapping loop stopped early: a local error (to be shared with the other ranks) or one
/// a collective already shared (every rank has it; sharing it again would be out of step).
enum Stop {
    Local(StageError),
    Shared(StageError),
}

impl<E: Into<StageError>> From<E> for Stop {
    fn from(e: E) -> Stop {
        Stop::Local(e.into())
    }
}

pub(super) fn run(
    ctx: &StageContext<'_>,
    cluster: &dyn Cluster,
    job: AlignJob<'_>,
) -> Result<StageOutputs, StageError> {
    let cpu_start = crate::accounting::process_cpu_micros();
    let AlignJob { sample, files, format, aligner, contigs, libraries, markdup, memory } = job;
    let (libraries, files) = (&libraries[..], &files);
    let (rank, ranks) = (cluster.rank(), cluster.size());
    let OutputFormat::Bam { level } = format else {
        return ctx.agree(
            "checking the output format",
            Err(StageError::bad_input(
                "align: `format: cram` is not available with --mpi yet; use `format: bam` (convert afterwards with \
                 `samtools view -C`) or run without --mpi",
            )),
        );
    };
    // Every rank scans the reference's N runs (the slices spread bins' work over non-N bases;
    // rank 0 keeps them for the coverage QC).
    let territory = ctx.agree(
        "scanning the reference for N runs",
        Reference::open(&files.fasta, &files.fai)
            .and_then(|reference| territory_from_reference(&reference))
            .map_err(StageError::as_runtime),
    )?;
    let contig_work: Vec<(u64, Vec<(u64, u64)>)> = {
        let n_runs: std::collections::HashMap<&str, &Vec<(u64, u64)>> =
            territory.iter().map(|t| (t.name.as_str(), &t.n_runs)).collect();
        contigs
            .iter()
            .map(|c| (c.length, n_runs.get(c.name.as_str()).map(|r| (*r).clone()).unwrap_or_default()))
            .collect()
    };
    // Duplicate keys stay in memory here: a rank holds 1/ranks of them, within the candidates'
    // share up to ranks × that share in all.
    let sorter = RecordSorter::new(SortOptions { memory_bytes: memory.sort, tmp_dir: ctx.tmp_dir.to_path_buf() })
        .map_err(StageError::from);
    let routing = Routing {
        records_out: vec![Vec::new(); ranks],
        candidates_out: vec![Vec::new(); ranks],
        my_candidates: Vec::new(),
        sorter: ctx.agree("starting the sort", sorter)?,
    };
    let cut = Cut::Pending { contigs: &contig_work, held: Vec::new() };
    let mut sink = RankSink { ctx, cluster, rank, ranks, cut, routing };
    // Map this rank's batches; a local failure is carried to the next agreement (every rank
    // reaches one), never returned past a collective.
    let mapped = super::lanes::map_lanes(ctx, sample, &aligner, libraries, &mut sink);
    drop(aligner);
    // An error that came out of a collective is already every rank's; a local one is shared
    // here, where the other ranks are at this agreement or the one before an exchange.
    let LaneTotals { fastq, counts, read_groups } = match mapped {
        Err(Stop::Shared(e)) => return Err(e),
        Err(Stop::Local(e)) => ctx.agree::<LaneTotals>("mapping read batches", Err(e))?,
        Ok(totals) => ctx.agree("mapping read batches", Ok(totals))?,
    };
    // Fewer batches than one round: the genome is cut from all of them.
    sink.cut_genome()?;
    let Cut::Done(slices) = sink.cut else { return Err(StageError::runtime("internal: the genome was not cut")) };
    let mut routing = sink.routing;
    routing.exchange(ctx, cluster)?;
    if rank == 0 {
        tracing::info!(ranks, "batches mapped and exchanged; marking duplicates");
    }

    // Counts to rank 0; every rank gets every duplicate mark.
    let gathered = cluster.gather("collecting alignment counts", encode(&counts)?)?;
    let marks = mark_duplicates(cluster, std::mem::take(&mut routing.my_candidates), libraries, &markdup)?;
    ctx.agree("marking duplicates", ctx.fault_point("before_write"))?;

    // Each rank writes its slice.
    let header = ctx.agree("building the header", super::sam_header(ctx, sample, files, contigs, read_groups))?;
    let slice_dir = ctx.work_dir.join("mpi");
    let slice_path = |r: usize| slice_dir.join(format!("rank-{r}.bam"));
    // This rank's slice of the coordinates, measured by the QC beside its writer.
    let (from, to) = (slices.first_locus(rank), slices.first_locus(rank + 1));
    let written = (|| -> Result<(SliceQc, crate::alignments::sort::SortStats), StageError> {
        std::fs::create_dir_all(&slice_dir)
            .map_err(|e| StageError::runtime(format!("{}: cannot create folder: {e}", slice_dir.display())))?;
        let mut writer = AlignmentWriter::create_slice(&slice_path(rank), &header, level, ctx.threads)?;
        let mut qc = QcBeside::start(AlignmentQc::for_slice(territory.clone(), from, to))?;
        let sorted = routing.sorter.finish(ctx.pool)?;
        let stats = super::lanes::write_marked(ctx, sorted, &marks, rank == 0, |record| {
            qc.observe(record);
            Ok(writer.write(record)?)
        })?;
        writer.finish_shard()?;
        Ok((qc.finish()?.finish_slice(), stats))
    })();
    let (slice_qc, sort_stats) = ctx.agree("writing BAM slices", written)?;
    let slice_qcs = cluster.gather("collecting the slices' alignment QC", encode(&slice_qc)?)?;
    drop(slice_qc);
    // Each rank's CPU up to its written slice, for the balance of the slices (rank 0 adds the
    // join and QC below).
    let slice_cpu = (crate::accounting::process_cpu_micros() - cpu_start) as f64 / 1e6;
    let rank_load = cluster.gather("collecting the ranks' CPU time", encode(&(slice_cpu, sort_stats.records))?)?;
    if rank == 0 {
        tracing::info!(ranks, "BAM slices written; joining them");
    }
    if rank != 0 {
        return Ok(StageOutputs::default());
    }
    let rank_load =
        rank_load.iter().map(|b| decode::<(f64, u64)>(b, "a rank's CPU time")).collect::<Result<Vec<_>, _>>()?;
    let mut rank_cpu: Vec<f64> = rank_load.iter().map(|l| l.0).collect();
    let rank_records: Vec<u64> = rank_load.iter().map(|l| l.1).collect();

    // Rank 0: join, index, QC, metrics.
    let mut counts = AlignCounts::new(libraries.len());
    for bytes in &gathered {
        counts.merge(&decode::<AlignCounts>(bytes, "alignment counts")?);
    }
    let mut marks = marks;
    counts.add_to(&mut marks);
    let slices_written: Vec<std::path::PathBuf> = (0..ranks).map(slice_path).collect();
    let out_path = ctx.output_dir.join(format!("{}.bam", sample.name));
    let total_records = counts.align.records;
    let joined = concatenate_bam(&slices_written, &out_path, total_records)?;
    let _ = std::fs::remove_dir_all(&slice_dir);
    tracing::info!(ranks, records = total_records, "BAM slices joined and indexed");

    let parts = slice_qcs.iter().map(|b| decode::<SliceQc>(b, "a slice's alignment QC")).collect::<Result<_, _>>()?;
    let (qc, reread) = match merge_slices(territory.clone(), parts) {
        Ok(report) => (report, false),
        Err(not_exact) => {
            tracing::warn!("{not_exact}; measuring the joined BAM in one pass instead");
            (qc_of_joined(&joined, territory, ctx.threads)?, true)
        }
    };
    let measured = super::outputs::Measured { qc, marks: &marks, fastq: &fastq, align: &counts.align };
    let mut outputs = super::outputs::write(ctx, sample, joined, measured, &markdup)?;
    outputs.metrics.insert("sort_spilled_runs".into(), sort_stats.spilled_runs.into());
    outputs.metrics.insert("sort_spilled_records".into(), sort_stats.spilled_records.into());
    outputs.metrics.insert("mpi_ranks".into(), ranks.into());
    outputs.metrics.insert("alignment_qc_reread".into(), reread.into());
    // Rank 0 also joined the slices and merged their QC: its share of the stage includes them.
    let join_and_qc = (crate::accounting::process_cpu_micros() - cpu_start) as f64 / 1e6 - slice_cpu;
    rank_cpu[0] += join_and_qc;
    crate::stages::calling::insert_cpu_balance(&mut outputs.metrics, "rank", &rank_cpu);
    // Records per slice: how evenly the cut by coverage spread them.
    let (fewest, most) = (rank_records.iter().min().copied(), rank_records.iter().max().copied());
    outputs.metrics.insert("rank_records_min".into(), fewest.unwrap_or(0).into());
    outputs.metrics.insert("rank_records_max".into(), most.unwrap_or(0).into());
    let join_and_qc = (join_and_qc * 1000.0).round() / 1000.0;
    outputs.metrics.insert("rank0_join_and_qc_cpu_seconds".into(), serde_json::json!(join_and_qc));
    Ok(outputs)
}

/// Alignment QC by one pass over the joined BAM: only where the slices' QC does not merge
/// exactly (a record reaching further past its slice than the hand-over, see
/// [`crate::qc::alignment::coverage`]).
fn qc_of_joined(
    joined: &crate::alignments::writer::WrittenAlignment,
    territory: Vec<crate::qc::alignment::ContigTerritory>,
    threads: usize,
) -> Result<crate::qc::alignment::AlignmentQcReport, StageError> {
    let mut qc = AlignmentQc::new(territory);
    let mut reader = rust_htslib::bam::Reader::from_path(&joined.data.path).map_err(StageError::as_runtime)?;
    // htslib's decompression threads are charged to the stage (see `accounting`).
    let (started, mut decompression) = crate::accounting::start_foreign(|| reader.set_threads(threads.max(1)));
    started.map_err(StageError::as_runtime)?;
    let mut record = rust_htslib::bam::Record::new();
    let mut seen = 0u64;
    while let Some(r) = reader.read(&mut record) {
        r.map_err(|e| StageError::because(Failure::Runtime, joined.data.path.display().to_string(), e))?;
        qc.observe(&record);
        seen += 1;
    }
    decompression.charge();
    if seen != joined.records {
        return Err(StageError::runtime(format!(
            "{}: {seen} records read back, {} written by the ranks",
            joined.data.path.display(),
            joined.records
        )));
    }
    Ok(qc.finish())
}

/// The partitioned duplicate reduction (see [`markdup`]'s module docs); every rank gets the
/// merged marks.
fn mark_duplicates(
    cluster: &dyn Cluster,
    candidates: Vec<DupCandidate>,
    libraries: &[String],
    options: &MarkdupOptions,
) -> Result<DuplicateMarks, StageError> {
    let ranks = cluster.size();
    let ends = cluster.all_gather("sharing fragment ends", encode(&fragment_ends(&candidates))?)?;
    let mut wanted: Vec<EndKey> = Vec::new();
    for bytes in &ends {
        wanted.extend(decode::<Vec<EndKey>>(bytes, "fragment ends")?);
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut answers: Vec<Vec<EndKey>> = vec![Vec::new(); ranks];
    for end in covered_ends(&candidates, &wanted) {
        answers[end_shard(&end, ranks)].push(end);
    }
    let outgoing = answers.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    let mut remote_covered = Vec::new();
    for bytes in cluster.exchange("answering which fragment ends pairs cover", outgoing)? {
        remote_covered.extend(decode::<Vec<EndKey>>(&bytes, "covered ends")?);
    }
    remote_covered.sort_unstable();
    remote_covered.dedup();
    let part = markdup::resolve_partition(candidates, &remote_covered, options);
    let parts = cluster.all_gather("sharing duplicate marks", encode(&part)?)?;
    let parts = parts.iter().map(|b| decode::<MarksPart>(b, "duplicate marks")).collect::<Result<Vec<_>, _>>()?;
    Ok(DuplicateMarks::merge(parts, libraries))
}
