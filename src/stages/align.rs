//! Stage `align` (scope sample): paired FASTQ → duplicate-marked, coordinate-sorted BAM/CRAM with
//! its index and alignment QC, in one streaming pass inside one process.
//!
//! Per lane (one read group each): [`crate::reads::PairedFastqReader`] decompresses and validates
//! R1/R2 on two threads (the same checks as `fastq_intake`, one decompression pass) and hands
//! fixed-size batches to [`crate::align::PairAligner`], which maps each batch on the stage's rayon
//! pool with minimap2 (`sr`) and builds the records, their sort keys and the pairs' duplicate keys
//! while both mates are in hand. Records go to [`crate::alignments::sort::RecordSorter`] (in-memory
//! runs, spilled under `--tmp-dir` past the memory budget); duplicate keys to a vector. At the end,
//! [`crate::alignments::markdup::resolve`] reduces the keys per library, and one merge pass over
//! the sorted records sets 0x400 on duplicates, feeds [`crate::qc::alignment::AlignmentQc`] on a
//! thread beside the writer ([`qc_beside`]) and writes through
//! [`crate::alignments::writer::AlignmentWriter`] (htslib compression threads; the index and the
//! MD5 built while writing, so the finished BAM is never read again).
//! Output does not depend on the thread count: batches are a fixed number of pairs, results are
//! reassembled in input order, and sort keys and duplicate ties are broken by input order or by
//! read-name hash.
//!
//! Cost: minimap2 mapping dominates; sorting is O(n log n) in memory plus one spill write and one
//! read per record past the budget; the write pass is one BGZF compression per record.

mod distributed;
mod lanes;
pub mod memory;
mod outputs;
mod qc_beside;
mod shared_index;

use crate::align::{AlignOptions, AlignedBatch, PairAligner, ReadGroup};
use crate::alignments::header::{HeaderSpec, ProgramLine, ReadGroupLine, build_header};
use crate::alignments::markdup::{self, CandidateStore, MarkdupOptions};
use crate::alignments::sort::{RecordSorter, SortOptions};
use crate::alignments::writer::{AlignmentWriter, OutputFormat};
use crate::engine::stage::artifact::role;
use crate::engine::stage::{
    ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage, StageContext, StageError,
    StageInfo, StageOutputs,
};
use crate::genome::Contig;
use crate::genome::Reference;
use crate::outcome::Failure;
use crate::qc::alignment::{AlignmentQc, territory_from_reference};
use crate::reads::FastqStats;
use crate::samples::Sample;
use crate::units::size_rounded_up;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bits of a [`PairId`](crate::alignments::keys::PairId) left for the pair's ordinal within its lane (the lane index is above).
const LANE_SHIFT: u32 = 40;

pub struct Align;

static INPUTS: [SlotSpec; 2] = [
    SlotSpec { name: "reads", kind: ArtifactKind::FastqReads, doc: "the sample's paired FASTQ lanes" },
    SlotSpec {
        name: "reference",
        kind: ArtifactKind::ReferenceIndex,
        doc: "prepared reference (minimap2 index, MD5s)",
    },
];
static OUTPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "alignments",
    kind: ArtifactKind::Alignments,
    doc: "<sample>.bam/.cram + index, alignment QC, duplicate metrics",
}];
static PARAMS: [ParamSpec; 4] = [
    ParamSpec {
        name: "format",
        kind: ParamKind::Choice(&["bam", "cram"]),
        default: ParamDefault::Choice("bam"),
        doc: "output container: BAM, or CRAM 3.0 against the reference (not embedded)",
    },
    ParamSpec {
        name: "optical_pixel_distance",
        kind: ParamKind::Int { min: 0, max: 100_000 },
        default: ParamDefault::Int(2500),
        doc: "duplicates closer than this on one tile are optical (2500 patterned flow cells, 100 older ones)",
    },
    ParamSpec {
        name: "max_fragment_length",
        kind: ParamKind::Int { min: 50, max: 100_000 },
        default: ParamDefault::Int(800),
        doc: "longest fragment minimap2 pairs and the proper-pair flag accepts",
    },
    ParamSpec {
        name: "compression_level",
        kind: ParamKind::Int { min: 1, max: 9 },
        default: ParamDefault::Int(crate::alignments::writer::DEFAULT_BAM_LEVEL as i64),
        doc: "BAM deflate level: 5 (Picard's default) spends ~40 % less compression CPU than samtools' 6 for a \
              ~1.5 % larger file; 1 fastest, 9 smallest (CRAM: not used)",
    },
];

static INFO: StageInfo = StageInfo {
    kind: "align",
    description: "FASTQ to a duplicate-marked, coordinate-sorted BAM/CRAM + index and alignment QC (minimap2, one pass)",
    version: 1,
    scope: Scope::Sample,
    inputs: &INPUTS,
    outputs: &OUTPUTS,
    params: &PARAMS,
    resources: Resources { threads: 16, memory_bytes: 32 << 30, time_seconds: 24 * 3600 },
};

impl Stage for Align {
    fn info(&self) -> &'static StageInfo {
        &INFO
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        run(ctx)
    }

    fn distributed(&self) -> bool {
        true
    }

    fn tool_versions(&self) -> Vec<(&'static str, String)> {
        vec![("minimap2", crate::align::minimap2_version())]
    }

    fn memory_floor(
        &self,
        reference: &crate::engine::stage::ReferenceFacts,
        threads: usize,
    ) -> Option<crate::engine::stage::MemoryFloor> {
        Some(memory::floor_before_running(reference, threads))
    }
}

/// The prepared reference's files, from the input artifact.
struct PreparedFiles {
    /// The cache's FASTA (a symlink with the `.fai` beside it: what htslib and CRAM need).
    fasta: PathBuf,
    fai: PathBuf,
    md5: PathBuf,
    mmi: PathBuf,
}

fn prepared_files(ctx: &StageContext<'_>) -> Result<PreparedFiles, StageError> {
    let r = ctx.input("reference")?;
    Ok(PreparedFiles {
        fasta: r.file(role::FASTA)?.to_path_buf(),
        fai: r.file(role::FAI)?.to_path_buf(),
        md5: r.file(role::MD5)?.to_path_buf(),
        mmi: r.file(role::MMI)?.to_path_buf(),
    })
}

/// What the alignment pass collected before the write pass.
struct Aligned {
    sorter: RecordSorter,
    candidates: CandidateStore,
    fastq: FastqStats,
    counts: AlignCounts,
    read_groups: Vec<ReadGroupLine>,
}

/// Alignment statistics and the per-library counts duplicate metrics need that the candidates
/// cannot show; additive, so MPI ranks' counts sum to one process's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct AlignCounts {
    align: crate::align::AlignStats,
    /// Per library index: reads without a mapped primary, and supplementary/secondary records.
    unmapped_by_library: Vec<u64>,
    extra_records_by_library: Vec<u64>,
}

impl AlignCounts {
    fn new(libraries: usize) -> AlignCounts {
        AlignCounts {
            align: Default::default(),
            unmapped_by_library: vec![0; libraries],
            extra_records_by_library: vec![0; libraries],
        }
    }

    /// Adds one lane's statistics (of library `library`).
    fn add_lane(&mut self, library: usize, lane: &crate::align::AlignStats) {
        self.unmapped_by_library[library] += lane.reads - lane.mapped_reads;
        self.extra_records_by_library[library] += lane.supplementary_records + lane.secondary_records;
        self.align.merge(lane);
    }

    fn merge(&mut self, other: &AlignCounts) {
        self.align.merge(&other.align);
        for (sum, n) in self.unmapped_by_library.iter_mut().zip(&other.unmapped_by_library) {
            *sum += n;
        }
        for (sum, n) in self.extra_records_by_library.iter_mut().zip(&other.extra_records_by_library) {
            *sum += n;
        }
    }

    /// Adds the reads the duplicate candidates cannot show to the marks' metrics.
    fn add_to(&self, marks: &mut markdup::DuplicateMarks) {
        for (library, (&unmapped, &extra)) in
            self.unmapped_by_library.iter().zip(&self.extra_records_by_library).enumerate()
        {
            marks.add_unmapped_reads(library as u32, unmapped);
            marks.add_secondary_or_supplementary(library as u32, extra);
        }
    }
}

/// The `@RG` line of a lane; `PU` from its first read name when that is an Illumina name.
fn read_group_line(sample: &Sample, library: &str, rg: &ReadGroup, platform_unit: Option<String>) -> ReadGroupLine {
    ReadGroupLine {
        id: rg.id.clone(),
        sample: sample.name.clone(),
        library: library.to_string(),
        platform: "ILLUMINA".into(),
        platform_unit: platform_unit.unwrap_or_else(|| rg.id.clone()),
    }
}

/// The output container (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Bam,
    Cram,
}

/// The stage's parameters ([`PARAMS`] states their ranges and defaults).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlignParams {
    format: Format,
    optical_pixel_distance: u32,
    max_fragment_length: usize,
    compression_level: u8,
}

/// What both align paths (one process, MPI ranks) start from: the stage's inputs and parameters,
/// read once.
struct AlignJob<'a> {
    sample: &'a Sample,
    files: PreparedFiles,
    format: OutputFormat,
    aligner: PairAligner,
    contigs: Vec<Contig>,
    /// Library names, sorted: library index = position.
    libraries: Vec<String>,
    markdup: MarkdupOptions,
    memory: memory::MemoryPlan,
}

fn job<'a>(ctx: &'a StageContext<'_>) -> Result<AlignJob<'a>, StageError> {
    let sample = ctx.sample()?;
    let params: AlignParams = ctx.params.typed()?;
    let files = prepared_files(ctx)?;
    let format = match params.format {
        Format::Cram => OutputFormat::Cram { reference_fasta: files.fasta.clone() },
        Format::Bam => OutputFormat::Bam { level: params.compression_level },
    };
    // The floor is checked from the index's counts before the index is loaded.
    let index_bytes = crate::align::index::index_resident_bytes(&files.mmi)
        .map_err(|e| StageError::runtime(format!("{}: not a whole minimap2 index: {e}", files.mmi.display())))?;
    let memory = memory::MemoryPlan::new(ctx.memory_bytes, index_bytes, ctx.threads, ctx.cluster.is_some())?;
    tracing::info!(
        index = %size_rounded_up(memory.index),
        working = %size_rounded_up(memory.working),
        sort = %size_rounded_up(memory.sort),
        duplicate_keys = %size_rounded_up(memory.candidates),
        "memory of {}", size_rounded_up(memory.budget)
    );
    let index = shared_index::load(&files.mmi, ctx.threads)?;
    let options = AlignOptions { max_fragment_len: Some(params.max_fragment_length), secondary: false };
    let aligner = PairAligner::new(index, options)
        .map_err(|e| StageError::because(Failure::Runtime, files.mmi.display().to_string(), e))?;
    let contigs = header_contigs(&files.md5, &aligner)?;
    let libraries = sample.lanes.iter().map(|l| l.library.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let markdup = MarkdupOptions { optical_pixel_distance: params.optical_pixel_distance };
    Ok(AlignJob { sample, files, format, aligner, contigs, libraries, markdup, memory })
}

fn run(ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
    let job = job(ctx)?;
    if let Some(cluster) = ctx.cluster {
        return distributed::run(ctx, cluster, job);
    }
    let AlignJob { sample, files, format, aligner, contigs, libraries, markdup, memory } = job;
    let aligned = align_lanes(ctx, sample, &aligner, &libraries, &memory)?;
    // The index is not needed past mapping: the write pass gets its memory back.
    drop(aligner);
    tracing::info!(pairs = aligned.counts.align.pairs, "aligned; marking duplicates and writing");
    let (mut marks, candidate_stats) = aligned.candidates.resolve(&libraries, &markdup)?;
    aligned.counts.add_to(&mut marks);
    ctx.fault_point("before_write")?;

    let header = sam_header(ctx, sample, &files, contigs, aligned.read_groups.clone())?;
    let reference = Reference::open(&files.fasta, &files.fai).map_err(StageError::as_runtime)?;
    let territory = territory_from_reference(&reference).map_err(StageError::as_runtime)?;
    let mut qc = qc_beside::QcBeside::start(AlignmentQc::new(territory))?;

    let extension = if matches!(format, OutputFormat::Cram { .. }) { "cram" } else { "bam" };
    let out_path = ctx.output_dir.join(format!("{}.{extension}", sample.name));
    let mut writer = AlignmentWriter::create(&out_path, format, &header, ctx.threads)?;
    let sorted = aligned.sorter.finish(ctx.pool)?;
    let sort_stats = lanes::write_marked(ctx, sorted, &marks, true, |record| {
        qc.observe(record);
        writer.write(record)?;
        Ok(())
    })?;
    let written = writer.finish()?;
    let qc = qc.finish()?;
    let measured =
        outputs::Measured { qc: qc.finish(), marks: &marks, fastq: &aligned.fastq, align: &aligned.counts.align };
    let mut outputs = outputs::write(ctx, sample, written, measured, &markdup)?;
    // How the sort went (runs spilled under --tmp-dir past the memory budget): run report only.
    outputs.metrics.insert("sort_spilled_runs".into(), sort_stats.spilled_runs.into());
    outputs.metrics.insert("sort_spilled_records".into(), sort_stats.spilled_records.into());
    outputs.metrics.insert("duplicate_key_spills".into(), candidate_stats.spills.into());
    outputs.metrics.insert("memory_plan".into(), serde_json::to_value(memory).unwrap_or_default());
    Ok(outputs)
}

/// The output's header: `@SQ` with `M5`/`UR`, one `@RG` per lane, `@PG` with the command.
fn sam_header(
    ctx: &StageContext<'_>,
    sample: &Sample,
    files: &PreparedFiles,
    contigs: Vec<Contig>,
    read_groups: Vec<ReadGroupLine>,
) -> Result<rust_htslib::bam::Header, StageError> {
    build_header(&HeaderSpec {
        contigs,
        reference_uri: crate::genome::dict::file_uri(
            &std::fs::canonicalize(&files.fasta).unwrap_or(files.fasta.clone()),
        ),
        assembly: None,
        read_groups,
        program: ProgramLine {
            id: "dagr".into(),
            name: "dagr".into(),
            version: crate::VERSION.into(),
            command_line: ctx.command.to_string(),
        },
    })
    .map_err(|e| StageError::bad_input(format!("sample `{}`: {e}", sample.name)))
}

/// `@SQ` lines in the index's contig order, checked against the prepared reference's MD5 table.
fn header_contigs(md5_table: &Path, aligner: &PairAligner) -> Result<Vec<Contig>, StageError> {
    let table = crate::genome::dict::read_md5_table(md5_table).map_err(StageError::as_runtime)?;
    let index = aligner.contigs();
    let same =
        table.len() == index.len() && table.iter().zip(index).all(|(t, i)| t.name == i.name && t.length == i.length);
    if !same {
        return Err(StageError::runtime(format!(
            "{}: the minimap2 index and the reference's MD5 table list different contigs; rerun prepare_reference",
            md5_table.display()
        )));
    }
    if let Some(c) = table.iter().find(|c| c.md5.is_none()) {
        return Err(StageError::runtime(format!("{}: no MD5 for contig `{}`", md5_table.display(), c.name)));
    }
    Ok(table)
}

/// One process: every batch is aligned here; records go to the sorter, duplicate keys to a list.
struct LocalSink<'a> {
    sorter: RecordSorter,
    candidates: CandidateStore,
    pool: &'a rayon::ThreadPool,
}

impl lanes::BatchSink for LocalSink<'_> {
    type Error = StageError;
    fn aligns(&self, _ordinal: u64) -> bool {
        true
    }
    fn take(&mut self, batch: AlignedBatch) -> Result<(), StageError> {
        self.candidates.extend(batch.candidates)?;
        self.sorter.push(batch.records, self.pool)?;
        Ok(())
    }
}

fn align_lanes(
    ctx: &StageContext<'_>,
    sample: &Sample,
    aligner: &PairAligner,
    libraries: &[String],
    memory: &memory::MemoryPlan,
) -> Result<Aligned, StageError> {
    let sorter = RecordSorter::new(SortOptions { memory_bytes: memory.sort, tmp_dir: ctx.tmp_dir.to_path_buf() })?;
    let candidates = CandidateStore::new(memory.candidates, ctx.tmp_dir);
    let mut sink = LocalSink { sorter, candidates, pool: ctx.pool };
    let totals = lanes::map_lanes(ctx, sample, aligner, libraries, &mut sink)?;
    Ok(Aligned {
        sorter: sink.sorter,
        candidates: sink.candidates,
        fastq: totals.fastq,
        counts: totals.counts,
        read_groups: totals.read_groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_deserialize() {
        let p: AlignParams = crate::engine::stage::Params::defaults(&PARAMS).typed().unwrap();
        assert_eq!((p.format, p.optical_pixel_distance, p.max_fragment_length), (Format::Bam, 2500, 800));
    }
}
