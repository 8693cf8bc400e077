//! Normalization equal to `bcftools norm -a -m -any -f ref.fa | bcftools norm -d exact`
//! (bcftools 1.16, with `-c w` behaviour for REF mismatches), for one chosen sample's GT.
//!
//! Per record, in bcftools' order:
//! 1. Atomize when every ALT is plain sequence ([`atomize`]): MNPs become SNVs, complex alleles
//!    become SNVs plus one indel-or-complex atom, overlapping atoms of different ALTs get the
//!    genotype bookkeeping bcftools gives them. Records with a `*`, symbolic or invalid ALT are
//!    only split into one row per ALT.
//! 2. Per biallelic row: REF checked against the reference (a mismatch is counted, an example
//!    kept, the row left unnormalized); `*`, symbolic (`<*>`, `<NON_REF>`, `<DEL>`, breakends) and
//!    invalid ALTs dropped and counted, as are ALT == REF rows and records without ALT; the rest
//!    left-aligned and trimmed ([`realign`]).
//! 3. The genotype follows the allele: a GT allele becomes 1 when its source allele carries the
//!    row's ALT, 0 otherwise; missing stays missing.
//! 4. At the end: stable sort by (contig in order of first appearance, POS) and removal of exact
//!    duplicates (same CHROM, POS, REF, ALT), the first one kept, as `norm -d exact` does.
//!
//! Cost: one pass over the records, O(n log n) for the final sort; memory about 100 bytes per
//! normalized record (a whole-genome truth set of 5 M records needs some 500 MB).

mod atomize;
mod realign;

use super::error::{Location, VcfError};
use super::reader::VariantReader;
use super::record::{AltKind, Genotype, VariantClass, VcfRecord};
use super::sequence::SequenceSource;
use crate::genome::region::Position;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many REF mismatches are quoted in the statistics.
const MISMATCH_EXAMPLES: usize = 5;

/// A normalized biallelic variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedVariant {
    pub contig: Arc<str>,
    pub pos: Position,
    pub ref_allele: Box<[u8]>,
    pub alt: Box<[u8]>,
    /// FILTER is `PASS` or `.`.
    pub filter_pass: bool,
    /// The chosen sample's GT re-coded for this record (0 = REF, 1 = this ALT).
    pub genotype: Option<Genotype>,
    /// REF did not match the reference; left as written.
    pub ref_mismatch: bool,
    /// Ordinal (0-based) of the file record this row came from: the rows atomized from one
    /// record share it, and so share that record's phase (haplotype-aware comparison).
    pub source: u64,
}

impl NormalizedVariant {
    pub fn class(&self) -> VariantClass {
        VariantClass::of(&self.ref_allele, &self.alt)
    }
}

/// What normalization did to one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NormalizationStats {
    /// Records read from the file.
    pub records_read: u64,
    /// Biallelic sequence records produced by atomizing and splitting (before de-duplication).
    pub biallelic_records: u64,
    /// Biallelic rows whose REF differs from the reference (left unnormalized, as `bcftools norm
    /// -c w`); bcftools also warns for the `*` companions, not counted here.
    pub ref_mismatches: u64,
    /// The first few mismatches, `contig:pos REF=x reference=y`.
    pub ref_mismatch_examples: Vec<String>,
    /// Records moved or trimmed by left-alignment.
    pub realigned: u64,
    /// `*` records (bcftools' spanning-deletion companions and `*` ALTs) dropped.
    pub spanning_deletions_dropped: u64,
    /// Symbolic ALTs (`<*>`, `<NON_REF>`, `<DEL>`, breakends) dropped.
    pub symbolic_dropped: u64,
    /// ALTs with characters other than A, C, G, T, N dropped.
    pub invalid_alt_dropped: u64,
    /// Rows whose ALT equals REF dropped.
    pub alt_equals_ref_dropped: u64,
    /// Records with ALT `.` dropped.
    pub no_alt_dropped: u64,
    /// Exact duplicates removed (same CHROM, POS, REF, ALT).
    pub duplicates_removed: u64,
    /// Normalized records kept.
    pub kept: u64,
}

/// Normalizes records one at a time; [`Normalizer::finish`] sorts and deduplicates.
pub struct Normalizer<'a> {
    path: PathBuf,
    reference: &'a dyn SequenceSource,
    stats: NormalizationStats,
    variants: Vec<NormalizedVariant>,
    /// Contig name → (order of first appearance, length in the reference).
    contigs: HashMap<String, (usize, Arc<str>, u64)>,
}

impl<'a> Normalizer<'a> {
    /// `path` names the file in errors.
    pub fn new(path: &Path, reference: &'a dyn SequenceSource) -> Self {
        Self {
            path: path.to_path_buf(),
            reference,
            stats: NormalizationStats::default(),
            variants: Vec::new(),
            contigs: HashMap::new(),
        }
    }

    /// Normalizes one record. Errors: contig not in the reference, reference fetch failure.
    pub fn push(&mut self, rec: &VcfRecord) -> Result<(), VcfError> {
        self.stats.records_read += 1;
        if rec.alts.is_empty() {
            self.stats.no_alt_dropped += 1;
            return Ok(());
        }
        let (contig, contig_len) = self.contig(&rec.contig, rec.location)?;
        let rows = if rec.alts.iter().all(|a| AltKind::of(a) == AltKind::Sequence) {
            atomize::atomize(&rec.ref_allele, &rec.alts)
        } else {
            atomize::split(&rec.ref_allele, &rec.alts)
        };
        for row in rows {
            if row.star {
                self.stats.spanning_deletions_dropped += 1;
            }
            let pos0 = rec.pos.zero_based().saturating_add(row.offset);
            let Some(variant) = self.normalize_row(rec, &contig, contig_len, pos0, &row)? else {
                continue;
            };
            self.variants.push(variant);
        }
        Ok(())
    }

    fn contig(&mut self, name: &str, location: Location) -> Result<(Arc<str>, u64), VcfError> {
        if let Some((_, arc, len)) = self.contigs.get(name) {
            return Ok((arc.clone(), *len));
        }
        let len = self.reference.contig_length(name).ok_or_else(|| VcfError::ContigNotInReference {
            path: self.path.clone(),
            location,
            contig: name.to_string(),
        })?;
        let entry = (self.contigs.len(), Arc::<str>::from(name), len);
        self.contigs.insert(name.to_string(), entry.clone());
        Ok((entry.1, entry.2))
    }

    /// One biallelic row: REF check, ALT screening, realignment, genotype re-coding.
    fn normalize_row(
        &mut self,
        rec: &VcfRecord,
        contig: &Arc<str>,
        contig_len: u64,
        pos0: u64,
        row: &atomize::Row,
    ) -> Result<Option<NormalizedVariant>, VcfError> {
        let path = self.path.clone();
        let fetch_err = |(start0, end0, message): (u64, u64, String)| VcfError::Reference {
            path: path.clone(),
            location: rec.location,
            contig: contig.to_string(),
            start0,
            end0,
            message,
        };
        let ref_ok =
            realign::ref_matches(self.reference, contig, contig_len, pos0, &row.ref_allele).map_err(fetch_err)?;
        if !ref_ok {
            self.note_mismatch(contig, contig_len, pos0, &row.ref_allele);
        }
        match AltKind::of(&row.alt) {
            AltKind::Sequence => {}
            AltKind::SpanningDeletion => {
                self.stats.spanning_deletions_dropped += 1;
                return Ok(None);
            }
            AltKind::Symbolic => {
                self.stats.symbolic_dropped += 1;
                return Ok(None);
            }
            AltKind::Invalid => {
                self.stats.invalid_alt_dropped += 1;
                return Ok(None);
            }
        }
        if row.alt == row.ref_allele {
            self.stats.alt_equals_ref_dropped += 1;
            return Ok(None);
        }
        self.stats.biallelic_records += 1;
        let aligned = if ref_ok {
            realign::realign(self.reference, contig, pos0, &row.ref_allele, &row.alt).map_err(fetch_err)?
        } else {
            realign::Aligned { pos0, ref_allele: row.ref_allele.clone(), alt: row.alt.clone() }
        };
        if aligned.pos0 != pos0 || aligned.ref_allele != row.ref_allele {
            self.stats.realigned += 1;
        }
        let pos = Position::from_zero_based(aligned.pos0).ok_or_else(|| {
            VcfError::malformed(&self.path, rec.location, format!("position {} overflows", aligned.pos0))
        })?;
        Ok(Some(NormalizedVariant {
            contig: contig.clone(),
            pos,
            ref_allele: aligned.ref_allele.into_boxed_slice(),
            alt: aligned.alt.into_boxed_slice(),
            filter_pass: rec.filter.passes(),
            genotype: rec.genotype.as_ref().map(|gt| recode(gt, &row.carriers)),
            ref_mismatch: !ref_ok,
            source: self.stats.records_read.saturating_sub(1),
        }))
    }

    fn note_mismatch(&mut self, contig: &str, contig_len: u64, pos0: u64, ref_allele: &[u8]) {
        self.stats.ref_mismatches += 1;
        if self.stats.ref_mismatch_examples.len() < MISMATCH_EXAMPLES {
            let end0 = pos0.saturating_add(ref_allele.len() as u64).min(contig_len);
            let actual =
                if pos0 < end0 { self.reference.fetch(contig, pos0, end0).unwrap_or_default() } else { Vec::new() };
            self.stats.ref_mismatch_examples.push(format!(
                "{contig}:{} REF={} reference={}",
                pos0.saturating_add(1),
                String::from_utf8_lossy(ref_allele),
                if actual.is_empty() {
                    "(past the contig end)".to_string()
                } else {
                    String::from_utf8_lossy(&actual).to_ascii_uppercase()
                }
            ));
        }
    }

    /// Sorts (stable, by contig order then POS), removes exact duplicates keeping the first.
    pub fn finish(mut self) -> (Vec<NormalizedVariant>, NormalizationStats) {
        let order: HashMap<Arc<str>, usize> = self.contigs.values().map(|(o, name, _)| (name.clone(), *o)).collect();
        let key = |v: &NormalizedVariant| (order.get(&v.contig).copied().unwrap_or(usize::MAX), v.pos);
        self.variants.sort_by_key(key);
        let mut kept: Vec<NormalizedVariant> = Vec::with_capacity(self.variants.len());
        let mut group_start = 0;
        for variant in self.variants {
            if kept.get(group_start).is_none_or(|first| first.contig != variant.contig || first.pos != variant.pos) {
                group_start = kept.len();
            }
            let duplicate =
                kept[group_start..].iter().any(|k| k.ref_allele == variant.ref_allele && k.alt == variant.alt);
            if duplicate {
                self.stats.duplicates_removed += 1;
            } else {
                kept.push(variant);
            }
        }
        self.stats.kept = kept.len() as u64;
        (kept, self.stats)
    }
}

/// Re-codes a GT for a biallelic row: allele k → 1 when `carriers[k]`, else 0; missing stays.
fn recode(gt: &Genotype, carriers: &[bool]) -> Genotype {
    let alleles =
        gt.alleles.iter().map(|a| a.map(|k| u32::from(carriers.get(k as usize).copied().unwrap_or(false)))).collect();
    Genotype { alleles, phased: gt.phased }
}

/// A whole file, normalized.
#[derive(Debug, Clone)]
pub struct NormalizedCallset {
    pub path: PathBuf,
    /// All samples of the file.
    pub samples: Vec<String>,
    /// The sample whose GT the variants carry.
    pub sample: Option<String>,
    pub variants: Vec<NormalizedVariant>,
    pub stats: NormalizationStats,
}

/// Reads and normalizes `path` (VCF, VCF.gz or BCF) against `reference`.
pub fn normalize_file(
    path: &Path,
    sample: Option<&str>,
    reference: &dyn SequenceSource,
) -> Result<NormalizedCallset, VcfError> {
    let reader = VariantReader::open(path, sample)?;
    let samples = reader.samples().to_vec();
    let chosen = reader.sample().map(str::to_string);
    let mut normalizer = Normalizer::new(path, reference);
    for record in reader {
        normalizer.push(&record?)?;
    }
    let (variants, stats) = normalizer.finish();
    Ok(NormalizedCallset { path: path.to_path_buf(), samples, sample: chosen, variants, stats })
}

#[cfg(test)]
mod tests;
