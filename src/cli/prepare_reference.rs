//! `dagr prepare-reference`: validate a FASTA and build its `.fai`, `.dict`, MD5 table and
//! minimap2 index in the digest-keyed reference cache (see `stages::prepare_reference`).

use super::{CliError, exit};
use crate::align::{IndexParams, Minimap2Index};
use crate::engine::stage::CancelFlag;
use crate::genome::cache::{PrepareOptions, PreparedReference, prepare_reference};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

const EXAMPLES: &str = "\
Examples:
  # prepare beside the FASTA (in GRCh38.fa.dagr/<digest>/)
  dagr prepare-reference GRCh38.fa

  # the FASTA's folder is read-only: keep the cache elsewhere (pass the same folder to
  # `dagr run --reference-cache`)
  dagr prepare-reference /refs/GRCh38.fa --cache-dir /scratch/dagr-refs --threads 8

  # a second index with other minimizer parameters, next to the first
  dagr prepare-reference GRCh38.fa --minimizer-k 19 --minimizer-w 10

Running it again is cheap: files that are up to date are kept, and concurrent jobs wait for each
other instead of racing. A malformed FASTA exits with code 2 and names the file, line and contig.";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct PrepareReferenceArgs {
    /// Reference FASTA (plain text; lines of each contig equally wrapped)
    pub fasta: PathBuf,
    /// Cache folder for prepared references [default: <FASTA>.dagr/ beside the FASTA]
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Threads for scanning and index building
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// minimap2 k-mer size of the index (10-28; short-read preset: 21)
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u8).range(10..=28))]
    pub minimizer_k: u8,
    /// minimap2 minimizer window of the index (1-50; short-read preset: 11)
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u8).range(1..=50))]
    pub minimizer_w: u8,
}

/// Prepares the reference and prints the cache folder and its files.
pub fn run(args: &PrepareReferenceArgs) -> Result<u8, CliError> {
    let index = IndexParams::new(args.minimizer_k.into(), args.minimizer_w.into())?;
    let cancel = CancelFlag::default();
    crate::engine::signals::install(&cancel)
        .map_err(|e| CliError::failure(format!("cannot install signal handlers: {e}")))?;
    execute(args, index, &cancel)
}

/// [`run`] without installing signal handlers.
fn execute(args: &PrepareReferenceArgs, index: IndexParams, cancel: &CancelFlag) -> Result<u8, CliError> {
    let threads = usize::from(args.threads);
    let index = Minimap2Index { params: index };
    let opts = PrepareOptions { index: &index, threads };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::failure(format!("cannot start {threads} threads: {e}")))?;
    let started = Instant::now();
    let prepared =
        pool.install(|| prepare_reference(&args.fasta, args.cache_dir.as_deref(), &opts, cancel.as_atomic()))?;
    super::output::print(&summary(&prepared, started.elapsed().as_secs_f64()))?;
    Ok(exit::SUCCESS)
}

/// What the user sees: folder, files, contigs and what was rebuilt.
fn summary(p: &PreparedReference, seconds: f64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "reference cache: {}", p.dir.display());
    let _ = writeln!(out, "digest: sha256:{}", p.digest);
    for f in &p.files {
        let target = match std::fs::read_link(&f.path) {
            Ok(t) => format!(" -> {}", t.display()),
            Err(_) => String::new(),
        };
        let _ = writeln!(out, "  {:<6} {}{target}", f.role, f.path.display());
    }
    let status = if p.up_to_date() { "up to date".to_string() } else { format!("rebuilt: {}", p.rebuilt.join(", ")) };
    let _ = writeln!(
        out,
        "{} contigs, {} bp, index {}; {status} ({seconds:.1} s)",
        p.contigs.len(),
        p.total_length,
        p.index
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PrepareReferenceArgs,
    }

    #[test]
    fn arguments_parse_with_defaults_and_ranges() {
        let w = Wrapper::try_parse_from(["x", "ref.fa"]).unwrap();
        assert_eq!((w.args.threads, w.args.minimizer_k, w.args.minimizer_w), (2, 21, 11));
        assert!(w.args.cache_dir.is_none());
        let w = Wrapper::try_parse_from(["x", "ref.fa", "--cache-dir", "/c", "--minimizer-k", "19"]).unwrap();
        assert_eq!(w.args.cache_dir.as_deref(), Some(std::path::Path::new("/c")));
        assert_eq!(w.args.minimizer_k, 19);
        assert!(Wrapper::try_parse_from(["x", "ref.fa", "--minimizer-k", "29"]).is_err());
        assert!(Wrapper::try_parse_from(["x", "ref.fa", "--threads", "0"]).is_err());
    }

    #[test]
    fn bad_fasta_exits_2_naming_file_line_and_contig() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("bad.fa");
        std::fs::write(&fasta, ">chr1\nACGT\nAC\nACGT\n").unwrap();
        let args = PrepareReferenceArgs {
            fasta,
            cache_dir: Some(dir.path().join("cache")),
            threads: 1,
            minimizer_k: 21,
            minimizer_w: 11,
        };
        let e = execute(&args, IndexParams::default(), &CancelFlag::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("bad.fa: line 3: contig `chr1`"), "{}", e.message);
    }
}
