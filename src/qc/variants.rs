//! Germline variant QC: record, PASS, SNV/MNP/insertion/deletion and multi-allelic counts, Ti/Tv,
//! het/hom and the indel-length histogram, counted once per VCF record as the gather writes it.
//! Cost: O(1) per record plus one map entry per distinct indel length.

use crate::vcf::model::CalledVariant;
use std::collections::BTreeMap;

/// Variant counts for the run report and the QC file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VariantQc {
    snv: u64,
    mnp_or_complex: u64,
    insertions: u64,
    deletions: u64,
    multiallelic: u64,
    pass: u64,
    transitions: u64,
    transversions: u64,
    het: u64,
    hom: u64,
    /// Indel length (insertions positive, deletions negative) → count.
    indel_lengths: BTreeMap<i64, u64>,
}

impl VariantQc {
    /// Counts one record of the VCF.
    pub fn add(&mut self, v: &CalledVariant) {
        if v.filters.is_empty() {
            self.pass += 1;
        }
        // `*` (a spanning deletion, counted at its own record) is no allele of this site.
        let alts: Vec<&Vec<u8>> = v.alt_alleles.iter().filter(|a| a.as_slice() != b"*").collect();
        if alts.len() > 1 {
            self.multiallelic += 1;
        }
        let distinct: std::collections::BTreeSet<u8> = v.genotype.iter().copied().collect();
        if distinct.len() > 1 {
            self.het += 1
        } else {
            self.hom += 1
        }
        for alt in alts {
            let (r, a) = (v.ref_allele.len(), alt.len());
            if r == 1 && a == 1 {
                self.snv += 1;
                let pair = (v.ref_allele[0].to_ascii_uppercase(), alt[0].to_ascii_uppercase());
                let transition = matches!(pair, (b'A', b'G') | (b'G', b'A') | (b'C', b'T') | (b'T', b'C'));
                if transition { self.transitions += 1 } else { self.transversions += 1 }
            } else if r == a {
                self.mnp_or_complex += 1;
            } else {
                let len = a as i64 - r as i64;
                if len > 0 {
                    self.insertions += 1
                } else {
                    self.deletions += 1
                }
                *self.indel_lengths.entry(len).or_insert(0) += 1;
            }
        }
    }

    /// The counts as the QC file and the run report write them.
    pub fn summary(&self) -> serde_json::Value {
        let ratio = |a: u64, b: u64| if b == 0 { None } else { Some(a as f64 / b as f64) };
        serde_json::json!({
            "records": self.het + self.hom,
            "pass": self.pass,
            "snv": self.snv,
            "insertions": self.insertions,
            "deletions": self.deletions,
            "mnp_or_complex": self.mnp_or_complex,
            "multiallelic": self.multiallelic,
            "ti_tv": ratio(self.transitions, self.transversions),
            "het_hom": ratio(self.het, self.hom),
            // In numeric order (−13 … −1, 1 … 19): serde_json keeps insertion order here.
            "indel_length_histogram": self
                .indel_lengths
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }
}
