//! Writes dagr's in-process minimap2 alignment of a read pair set to a BAM, unsorted and without
//! duplicate marking, for a side-by-side comparison with the minimap2 command line
//! (`minimap2 -ax sr`). Not a test: a data generator run by hand.
//!
//! ```sh
//! cargo run --release --example write_testdata_bam -- OUT.bam [REF.fa R1.fastq.gz R2.fastq.gz]
//! ```
//!
//! Defaults: `testdata/ref/ref.fa` and `testdata/somatic/normal_R{1,2}.fastq.gz`. The minimap2
//! index is built in a temporary folder with dagr's default parameters; the read group is `N1`
//! (sample `NORM`). Prints the alignment statistics on stderr.
#![allow(clippy::unwrap_used)]

use dagr::align::{AlignOptions, AlignStats, IndexParams, PairAligner, ReadGroup, build_index, load_index};
use dagr::reads::PairedFastqReader;
use rust_htslib::bam::{Format, Header, Writer, header::HeaderRecord};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, inputs) = match args.as_slice() {
        [out] => (out.clone(), None),
        [out, fasta, r1, r2] => (out.clone(), Some((fasta.into(), r1.into(), r2.into()))),
        _ => {
            eprintln!("usage: write_testdata_bam OUT.bam [REF.fa R1.fastq.gz R2.fastq.gz]");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let (fasta, r1, r2): (PathBuf, PathBuf, PathBuf) = inputs.unwrap_or_else(|| {
        (root.join("ref/ref.fa"), root.join("somatic/normal_R1.fastq.gz"), root.join("somatic/normal_R2.fastq.gz"))
    });

    let dir = tempfile::tempdir().unwrap();
    let mmi = dir.path().join("ref.mmi");
    build_index(&fasta, &mmi, IndexParams::default(), 2).unwrap();
    let aligner = PairAligner::new(Arc::new(load_index(&mmi, 1).unwrap()), AlignOptions::default()).unwrap();
    let mut header = Header::new();
    for c in aligner.contigs() {
        header.push_record(HeaderRecord::new(b"SQ").push_tag(b"SN", &c.name).push_tag(b"LN", c.length));
    }
    header.push_record(HeaderRecord::new(b"RG").push_tag(b"ID", "N1").push_tag(b"SM", "NORM"));
    let mut writer = Writer::from_path(&out, &header, Format::Bam).unwrap();
    let cancel = AtomicBool::new(false);
    let mut reader = PairedFastqReader::open(&r1, &r2, &cancel).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let rg = ReadGroup { id: "N1".into(), library_index: 0 };
    let (mut next_id, mut stats) = (0, AlignStats::default());
    while let Some(batch) = reader.next_batch().unwrap() {
        let aligned = aligner.align_batch(&batch, next_id, &rg, &pool).unwrap();
        next_id += batch.len() as u64;
        stats.merge(&aligned.stats);
        for (_, r) in &aligned.records {
            writer.write(r).unwrap();
        }
    }
    eprintln!("{out}: {stats:?}");
}
