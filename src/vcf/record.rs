//! One variant record as the comparison needs it: where, which alleles, FILTER, and the genotype
//! of one chosen sample. Alleles are stored upper-case.

use super::error::Location;
use crate::genome::region::Position;
use serde::Serialize;

/// The FILTER column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `.`: no filter applied.
    Missing,
    /// `PASS`.
    Pass,
    /// Anything else (the failed filter names, `PASS` included if listed beside others).
    Failed(Vec<String>),
}

impl Filter {
    /// Parses the FILTER column text.
    pub fn parse(text: &str) -> Self {
        match text {
            "." | "" => Filter::Missing,
            "PASS" => Filter::Pass,
            other => Filter::Failed(other.split(';').map(str::to_string).collect()),
        }
    }

    /// FILTER is `PASS` or `.`: what dagr counts as a passing call.
    pub fn passes(&self) -> bool {
        matches!(self, Filter::Missing | Filter::Pass)
    }
}

/// A genotype: allele indexes (`None` = missing `.`), any ploidy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genotype {
    pub alleles: Vec<Option<u32>>,
    /// True when any separator is `|`.
    pub phased: bool,
}

impl Genotype {
    /// Parses a GT value (`0/1`, `1|0`, `1`, `.`, `./.`, `0/1/2`); every allele index must be at
    /// most `alt_count`.
    pub fn parse(text: &str, alt_count: usize) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty GT value".to_string());
        }
        let mut alleles = Vec::with_capacity(2);
        for token in text.split(['/', '|']) {
            let allele = match token {
                "." => None,
                digits => {
                    let index: u32 = digits
                        .parse()
                        .map_err(|_| format!("GT `{text}`: allele `{digits}` is neither `.` nor an index"))?;
                    if index as usize > alt_count {
                        return Err(format!(
                            "GT `{text}`: allele index {index} but the record has {alt_count} ALT allele(s)"
                        ));
                    }
                    Some(index)
                }
            };
            alleles.push(allele);
        }
        Ok(Self { alleles, phased: text.contains('|') })
    }

    /// Whether the genotype "carries an ALT" the way `bcftools view -i 'GT="alt"'` decides it:
    /// every allele called and at least one of them non-reference (`0/1`, `1/1`, `1` yes; `1/.`,
    /// `./.`, `0/0` no).
    pub fn carries_alt(&self) -> bool {
        !self.alleles.is_empty()
            && self.alleles.iter().all(Option::is_some)
            && self.alleles.iter().any(|a| matches!(a, Some(i) if *i > 0))
    }

    /// Zygosity of a biallelic genotype (allele indexes above 0 count as ALT).
    pub fn zygosity(&self) -> Zygosity {
        let called: Vec<u32> = self.alleles.iter().flatten().copied().collect();
        let alts = called.iter().filter(|&&a| a > 0).count();
        if called.len() < self.alleles.len() {
            return if called.is_empty() { Zygosity::Missing } else { Zygosity::Partial };
        }
        match (called.len(), alts) {
            (1, 0) => Zygosity::HaploidRef,
            (1, _) => Zygosity::HaploidAlt,
            (_, 0) => Zygosity::HomRef,
            (n, a) if a == n => Zygosity::HomAlt,
            _ => Zygosity::Het,
        }
    }
}

impl std::fmt::Display for Genotype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.phased { '|' } else { '/' };
        for (i, allele) in self.alleles.iter().enumerate() {
            if i > 0 {
                write!(f, "{sep}")?;
            }
            match allele {
                Some(a) => write!(f, "{a}")?,
                None => write!(f, ".")?,
            }
        }
        Ok(())
    }
}

/// Zygosity of a biallelic genotype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zygosity {
    HomRef,
    Het,
    HomAlt,
    HaploidRef,
    HaploidAlt,
    /// Some alleles called, some missing (`1/.`).
    Partial,
    /// No allele called.
    Missing,
}

/// The class a biallelic variant is scored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VariantClass {
    /// REF and ALT both one base.
    Snv,
    /// Everything else (insertions, deletions, and the complex or MNP records that atomization
    /// leaves whole).
    Indel,
}

impl VariantClass {
    pub fn of(ref_allele: &[u8], alt: &[u8]) -> Self {
        if ref_allele.len() == 1 && alt.len() == 1 { VariantClass::Snv } else { VariantClass::Indel }
    }
    pub fn name(self) -> &'static str {
        match self {
            VariantClass::Snv => "SNV",
            VariantClass::Indel => "INDEL",
        }
    }
}

/// One record of a VCF/BCF file, reduced to what normalization and comparison use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcfRecord {
    /// Where it came from (line or BCF record ordinal), for error messages.
    pub location: Location,
    pub contig: String,
    pub pos: Position,
    /// Upper-case.
    pub ref_allele: Vec<u8>,
    /// Upper-case; empty when ALT is `.`.
    pub alts: Vec<Vec<u8>>,
    pub filter: Filter,
    /// GT of the chosen sample; `None` without samples or without a GT field.
    pub genotype: Option<Genotype>,
}

/// Kinds of ALT allele, as normalization treats them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltKind {
    /// Only A, C, G, T, N.
    Sequence,
    /// `*`: a deletion spanning this position, described elsewhere.
    SpanningDeletion,
    /// `<...>` (e.g. `<NON_REF>`, `<*>`, `<DEL>`) or a breakend (`[`, `]`, `.` inside).
    Symbolic,
    /// Any other character (IUPAC codes, typos).
    Invalid,
}

impl AltKind {
    pub fn of(alt: &[u8]) -> Self {
        if alt == b"*" {
            AltKind::SpanningDeletion
        } else if alt.first() == Some(&b'<') || alt.iter().any(|b| matches!(b, b'[' | b']' | b'.')) {
            AltKind::Symbolic
        } else if is_acgtn(alt) {
            AltKind::Sequence
        } else {
            AltKind::Invalid
        }
    }
}

/// True when every base is A, C, G, T or N (either case) and there is at least one.
pub fn is_acgtn(seq: &[u8]) -> bool {
    !seq.is_empty() && seq.iter().all(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genotypes_parse_and_carry_alt_like_bcftools() {
        let gt = |s: &str| Genotype::parse(s, 2).unwrap();
        assert!(gt("0/1").carries_alt());
        assert!(gt("1|1").carries_alt() && gt("1|1").phased);
        assert!(gt("1").carries_alt());
        assert!(gt("1/2").carries_alt());
        for no in ["0/0", "0", ".", "./.", "1/.", "./1", "0/."] {
            assert!(!gt(no).carries_alt(), "{no}");
        }
        assert_eq!(gt("./1").to_string(), "./1");
        assert!(Genotype::parse("0/3", 2).unwrap_err().contains("index 3"));
        assert!(Genotype::parse("0/x", 2).is_err());
        assert!(Genotype::parse("", 2).is_err());
    }

    #[test]
    fn zygosity_of_biallelic_genotypes() {
        let z = |s: &str| Genotype::parse(s, 1).unwrap().zygosity();
        assert_eq!(z("0/1"), Zygosity::Het);
        assert_eq!(z("1|0"), Zygosity::Het);
        assert_eq!(z("1/1"), Zygosity::HomAlt);
        assert_eq!(z("0/0"), Zygosity::HomRef);
        assert_eq!(z("1"), Zygosity::HaploidAlt);
        assert_eq!(z("1/."), Zygosity::Partial);
        assert_eq!(z("./."), Zygosity::Missing);
    }

    #[test]
    fn alt_kinds_and_classes() {
        assert_eq!(AltKind::of(b"ACGTN"), AltKind::Sequence);
        assert_eq!(AltKind::of(b"*"), AltKind::SpanningDeletion);
        for s in [&b"<NON_REF>"[..], b"<*>", b"<DEL>", b"G]1:5]", b"G."] {
            assert_eq!(AltKind::of(s), AltKind::Symbolic);
        }
        assert_eq!(AltKind::of(b"GGX"), AltKind::Invalid);
        assert_eq!(VariantClass::of(b"A", b"G"), VariantClass::Snv);
        assert_eq!(VariantClass::of(b"AC", b"GT"), VariantClass::Indel);
        assert_eq!(Filter::parse("."), Filter::Missing);
        assert!(Filter::parse("PASS").passes());
        assert!(!Filter::parse("PASS;LowQual").passes());
    }
}
