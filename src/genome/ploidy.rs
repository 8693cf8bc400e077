//! Sex and ploidy: the samplesheet's [`Sex`], the copies of a region in a genome ([`Ploidy`]),
//! ploidy by region from the sample's sex ([`PloidyMap`]), and sex inference from X/Y coverage.
//!
//! Built in: GRCh37 (`X`/`Y` or `chrX`/`chrY` of GRCh37 length) and GRCh38 (`chrX`/`chrY`)
//! pseudo-autosomal regions. An XX sample is diploid everywhere and has no chrY; an XY sample is
//! haploid on chrX and chrY outside the PARs, diploid in the chrX PARs, and chrY's PARs are
//! absent (their reads map to the chrX copy, which is called diploid, as GATK and DRAGEN do).
//! Autosomes and every other contig are diploid. A BED with a fourth column (`0`, `1` or `2`)
//! overrides any of it, for other assemblies or species; its intervals win over the built-in map.
//! Lookups are a binary search over at most a few intervals per contig.
//!
//! Sex inference: mean depth on chrX and chrY outside the PARs relative to the autosomes; XX has
//! X/A ≈ 1 and Y/A ≈ 0, XY has X/A ≈ 0.5 and Y/A ≈ 0.5.

use super::contig::Contig;
use super::region::{RegionError, read_bed_lines};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Chromosomal sex, for ploidy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sex {
    XX,
    XY,
    /// Unknown (`NA`): inferred from coverage where the caller can.
    #[serde(rename = "NA")]
    Unknown,
}

impl Sex {
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim() {
            "XX" | "xx" | "female" | "F" => Some(Sex::XX),
            "XY" | "xy" | "male" | "M" => Some(Sex::XY),
            "NA" | "" | "unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::XX => "XX",
            Sex::XY => "XY",
            Sex::Unknown => "NA",
        })
    }
}

/// Copies of a region in the sample's genome (from the ploidy map and the sample's sex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ploidy {
    Absent,
    Haploid,
    Diploid,
}

impl Ploidy {
    pub fn copies(self) -> usize {
        match self {
            Ploidy::Absent => 0,
            Ploidy::Haploid => 1,
            Ploidy::Diploid => 2,
        }
    }
}

/// Which human assembly's PAR coordinates apply, recognised by chrX's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assembly {
    Grch37,
    Grch38,
}

const GRCH37_X_LEN: u64 = 155_270_560;
const GRCH38_X_LEN: u64 = 156_040_895;

/// Two 0-based half-open intervals.
type TwoIntervals = [(u64, u64); 2];

/// 0-based half-open PARs: (X intervals, Y intervals).
fn pars(assembly: Assembly) -> (TwoIntervals, TwoIntervals) {
    match assembly {
        Assembly::Grch37 => {
            ([(60_000, 2_699_520), (154_931_043, 155_260_560)], [(10_000, 2_649_520), (59_034_049, 59_363_566)])
        }
        Assembly::Grch38 => {
            ([(10_000, 2_781_479), (155_701_382, 156_030_895)], [(10_000, 2_781_479), (56_887_902, 57_217_415)])
        }
    }
}

/// The role of a contig for ploidy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContigRole {
    X,
    Y,
    Other,
}

/// Recognises chrX/chrY by name (`X`, `chrX`, `Y`, `chrY`).
pub fn contig_role(name: &str) -> ContigRole {
    match name.strip_prefix("chr").unwrap_or(name) {
        "X" => ContigRole::X,
        "Y" => ContigRole::Y,
        _ => ContigRole::Other,
    }
}

/// Detects the assembly from the contigs (name, length), if human.
pub fn detect_assembly(contigs: &[Contig]) -> Option<Assembly> {
    contigs.iter().find(|c| contig_role(&c.name) == ContigRole::X).and_then(|c| match c.length {
        GRCH37_X_LEN => Some(Assembly::Grch37),
        GRCH38_X_LEN => Some(Assembly::Grch38),
        _ => None,
    })
}

/// Ploidy intervals per contig name; positions outside any interval are diploid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PloidyMap {
    /// contig → sorted, non-overlapping (start, end, ploidy).
    intervals: BTreeMap<String, Vec<(u64, u64, Ploidy)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PloidyError {
    /// Not a BED (unreadable, too few columns, bad coordinates).
    #[error(transparent)]
    Bed(#[from] RegionError),
    #[error("{path}:{line}: {message}")]
    Invalid { path: String, line: u64, message: String },
}

impl crate::outcome::Classify for PloidyError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            PloidyError::Bed(RegionError::Io { .. }) => crate::outcome::Failure::Runtime,
            _ => crate::outcome::Failure::BadInput,
        }
    }
}

impl PloidyMap {
    /// The built-in map for `sex` on these contigs. Unknown sex is treated as XX for chrX
    /// (diploid) and leaves chrY diploid where reads exist: infer sex first where possible.
    pub fn for_sex(contigs: &[Contig], sex: Sex) -> PloidyMap {
        let mut map = PloidyMap::default();
        let assembly = detect_assembly(contigs);
        for Contig { name, length: len, .. } in contigs {
            let role = contig_role(name);
            let (x_pars, y_pars) = assembly.map(pars).unwrap_or(([(0, 0); 2], [(0, 0); 2]));
            let intervals = match (sex, role) {
                (Sex::XY, ContigRole::X) => complement(*len, &x_pars, Ploidy::Haploid, Some(Ploidy::Diploid)),
                (Sex::XY, ContigRole::Y) => complement(*len, &y_pars, Ploidy::Haploid, Some(Ploidy::Absent)),
                (Sex::XX, ContigRole::Y) => vec![(0, *len, Ploidy::Absent)],
                _ => continue,
            };
            map.intervals.insert(name.clone(), intervals);
        }
        map
    }

    /// Applies a BED (`contig start end ploidy`, 0-based half-open; see [`read_bed`]) over the
    /// map. Every contig must be one of `contigs` (name, length) and every interval must lie
    /// within it; the first bad line is an error naming the file and line.
    pub fn override_with_bed(&mut self, path: &Path, contigs: &[Contig]) -> Result<(), PloidyError> {
        for entry in read_bed(path)? {
            let bad =
                |message: String| PloidyError::Invalid { path: path.display().to_string(), line: entry.line, message };
            let Some(Contig { length: len, .. }) = contigs.iter().find(|c| c.name == entry.contig) else {
                return Err(bad(format!("contig `{}` is not in the reference", entry.contig)));
            };
            if entry.end > *len {
                return Err(bad(format!(
                    "end {} is past the end of contig `{}` (length {len})",
                    entry.end, entry.contig
                )));
            }
            self.set(&entry.contig, entry.start, entry.end, entry.ploidy);
        }
        Ok(())
    }

    /// Sets `ploidy` on `[start, end)` of `contig`, replacing what was there.
    pub fn set(&mut self, contig: &str, start: u64, end: u64, ploidy: Ploidy) {
        let list = self.intervals.entry(contig.to_string()).or_default();
        let mut next = Vec::with_capacity(list.len() + 2);
        for &(s, e, p) in list.iter() {
            if e <= start || s >= end {
                next.push((s, e, p));
                continue;
            }
            if s < start {
                next.push((s, start, p));
            }
            if e > end {
                next.push((end, e, p));
            }
        }
        next.push((start, end, ploidy));
        next.sort_unstable_by_key(|&(s, _, _)| s);
        *list = next;
    }

    /// Ploidy at a 0-based position.
    pub fn at(&self, contig: &str, pos: u64) -> Ploidy {
        let Some(list) = self.intervals.get(contig) else { return Ploidy::Diploid };
        let i = list.partition_point(|&(s, _, _)| s <= pos);
        match i.checked_sub(1).map(|j| list[j]) {
            Some((_, e, p)) if pos < e => p,
            _ => Ploidy::Diploid,
        }
    }
}

/// One interval of a ploidy BED, with its 1-based line (0-based half-open coordinates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedPloidy {
    pub line: u64,
    pub contig: String,
    pub start: u64,
    pub end: u64,
    pub ploidy: Ploidy,
}

/// Reads a ploidy BED: `contig start end ploidy` (`0`, `1` or `2`), 0-based half-open, through
/// the one BED reader ([`read_bed_lines`]: comments, `track` and `browser` lines skipped, gzip
/// accepted). Checks the syntax only (the contigs are checked against a reference by
/// [`PloidyMap::override_with_bed`]).
pub fn read_bed(path: &Path) -> Result<Vec<BedPloidy>, PloidyError> {
    let mut out = Vec::new();
    for entry in read_bed_lines(path)? {
        let bad =
            |message: String| PloidyError::Invalid { path: path.display().to_string(), line: entry.line, message };
        let ploidy = match entry.rest.first().map(String::as_str) {
            Some("0") => Ploidy::Absent,
            Some("1") => Ploidy::Haploid,
            Some("2") => Ploidy::Diploid,
            Some(other) => return Err(bad(format!("ploidy `{other}` is not 0, 1 or 2"))),
            None => return Err(bad("expected 4 tab-separated columns: contig, start, end, ploidy (0, 1 or 2)".into())),
        };
        let region = &entry.region;
        out.push(BedPloidy {
            line: entry.line,
            contig: region.contig().to_string(),
            start: region.start().zero_based(),
            end: region.end().get(),
            ploidy,
        });
    }
    Ok(out)
}

/// Intervals of `[0, len)`: `inside` the `pars` (when given) and `outside` elsewhere.
fn complement(len: u64, pars: &[(u64, u64)], outside: Ploidy, inside: Option<Ploidy>) -> Vec<(u64, u64, Ploidy)> {
    let mut out = Vec::new();
    let mut cursor = 0;
    for &(s, e) in pars.iter().filter(|(s, e)| e > s && *s < len) {
        if s > cursor {
            out.push((cursor, s, outside));
        }
        if let Some(p) = inside {
            out.push((s, e.min(len), p));
        }
        cursor = e.min(len);
    }
    if cursor < len {
        out.push((cursor, len, outside));
    }
    out
}

/// Sex inferred from mean depths, or `None` when the reference has no chrX or the depth is too
/// low to say (autosomal mean below 1).
pub fn infer_sex(autosomal_depth: f64, x_depth: Option<f64>, y_depth: Option<f64>) -> Option<Sex> {
    let x = x_depth?;
    if autosomal_depth < 1.0 {
        return None;
    }
    let x_ratio = x / autosomal_depth;
    let y_ratio = y_depth.map(|y| y / autosomal_depth).unwrap_or(0.0);
    if x_ratio > 0.8 && y_ratio < 0.1 {
        Some(Sex::XX)
    } else if x_ratio < 0.7 && y_ratio > 0.2 {
        Some(Sex::XY)
    } else {
        None
    }
}

/// Sex from mapped-read density per contig (`(name, length, mapped reads)`, e.g. from a BAM
/// index): reads per base on chrX and chrY against the autosomes, scaled to depth-like values
/// for [`infer_sex`] (150 bp reads, so that its "depth below 1" guard means little data).
/// `None` without chrX, without autosomal reads, or when the ratios are ambiguous. Cost: one pass
/// over the contigs.
pub fn infer_sex_from_read_density<'a>(contigs: impl IntoIterator<Item = (&'a str, u64, u64)>) -> Option<Sex> {
    let (mut auto_reads, mut auto_len) = (0u64, 0u64);
    let (mut x, mut y) = (None, None);
    for (name, len, mapped) in contigs {
        let density = if len > 0 { mapped as f64 / len as f64 } else { 0.0 };
        match contig_role(name) {
            ContigRole::X => x = Some(density),
            ContigRole::Y => y = Some(density),
            ContigRole::Other => {
                auto_reads += mapped;
                auto_len += len;
            }
        }
    }
    if auto_len == 0 {
        return None;
    }
    let autosomal = auto_reads as f64 / auto_len as f64;
    let scale = 150.0;
    infer_sex(autosomal * scale, x.map(|d| d * scale), y.map(|d| d * scale))
}

/// The samplesheet's sex disagrees with the one the reads show.
#[derive(Debug, thiserror::Error)]
#[error(
    "sample `{sample}`: the samplesheet says sex {declared} but chrX/chrY coverage says {inferred} (a sample swap?); \
     fix the samplesheet, or set `sex_check: warn` on call_germline to go on with {declared}"
)]
pub struct SexMismatch {
    pub sample: String,
    pub declared: Sex,
    pub inferred: Sex,
}

impl crate::outcome::Classify for SexMismatch {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::BadInput
    }
}

/// The sex to use: the declared one, or the inferred one when the samplesheet says `NA`; a
/// declared sex the reads contradict is a [`SexMismatch`].
pub fn check_sex(declared: Sex, inferred: Option<Sex>, sample: &str) -> Result<Sex, SexMismatch> {
    match (declared, inferred) {
        (Sex::Unknown, Some(s)) => Ok(s),
        (d, Some(i)) if d != i => Err(SexMismatch { sample: sample.to_string(), declared: d, inferred: i }),
        (d, _) => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grch38() -> Vec<Contig> {
        vec![Contig::new("chr1", 248_956_422), Contig::new("chrX", GRCH38_X_LEN), Contig::new("chrY", 57_227_415)]
    }

    #[test]
    fn xy_is_haploid_outside_the_pars() {
        let m = PloidyMap::for_sex(&grch38(), Sex::XY);
        assert_eq!(m.at("chr1", 1_000_000), Ploidy::Diploid);
        assert_eq!(m.at("chrX", 5_000), Ploidy::Haploid);
        assert_eq!(m.at("chrX", 1_000_000), Ploidy::Diploid, "PAR1");
        assert_eq!(m.at("chrX", 50_000_000), Ploidy::Haploid);
        assert_eq!(m.at("chrX", 155_800_000), Ploidy::Diploid, "PAR2");
        assert_eq!(m.at("chrY", 20_000_000), Ploidy::Haploid);
        assert_eq!(m.at("chrY", 1_000_000), Ploidy::Absent, "chrY PAR reads map to chrX");
    }

    #[test]
    fn xx_has_no_y() {
        let m = PloidyMap::for_sex(&grch38(), Sex::XX);
        assert_eq!(m.at("chrX", 50_000_000), Ploidy::Diploid);
        assert_eq!(m.at("chrY", 20_000_000), Ploidy::Absent);
    }

    #[test]
    fn a_bed_declares_a_haploid_contig() {
        let d = tempfile::tempdir().unwrap();
        let bed = d.path().join("p.bed");
        std::fs::write(&bed, "# test\nctg1\t0\t1000\t1\nctg1\t100\t200\t2\n").unwrap();
        let mut m = PloidyMap::default();
        let contigs = vec![Contig::new("ctg1", 5000)];
        m.override_with_bed(&bed, &contigs).unwrap();
        assert_eq!(m.at("ctg1", 50), Ploidy::Haploid);
        assert_eq!(m.at("ctg1", 150), Ploidy::Diploid);
        assert_eq!(m.at("ctg1", 500), Ploidy::Haploid);
        assert_eq!(m.at("ctg1", 1000), Ploidy::Diploid);
        std::fs::write(&bed, "ctg1\t0\t1000\t3\n").unwrap();
        let e = m.override_with_bed(&bed, &contigs).unwrap_err().to_string();
        assert!(e.contains("p.bed:1: ploidy `3`"), "{e}");
        std::fs::write(&bed, "ctg1\t0\t10\t1\nctg2\t0\t10\t1\n").unwrap();
        let e = m.override_with_bed(&bed, &contigs).unwrap_err().to_string();
        assert!(e.contains("p.bed:2: contig `ctg2` is not in the reference"), "{e}");
        std::fs::write(&bed, "ctg1\t0\t6000\t1\n").unwrap();
        let e = m.override_with_bed(&bed, &contigs).unwrap_err().to_string();
        assert!(e.contains("p.bed:1: end 6000 is past the end of contig `ctg1`"), "{e}");
    }

    #[test]
    fn sex_from_depth_ratios() {
        assert_eq!(infer_sex(30.0, Some(29.0), Some(0.5)), Some(Sex::XX));
        assert_eq!(infer_sex(30.0, Some(15.0), Some(14.0)), Some(Sex::XY));
        assert_eq!(infer_sex(30.0, None, None), None);
        assert_eq!(infer_sex(0.2, Some(0.1), None), None);
    }

    #[test]
    fn sex_from_read_density_and_the_check() {
        let density = |x: u64, y: u64| {
            infer_sex_from_read_density([("chr1", 1_000_000, 200_000), ("chrX", 1_000_000, x), ("chrY", 1_000_000, y)])
        };
        assert_eq!(density(200_000, 0), Some(Sex::XX));
        assert_eq!(density(100_000, 100_000), Some(Sex::XY));
        assert_eq!(infer_sex_from_read_density([("chr1", 1_000, 10)]), None, "no chrX");
        assert_eq!(check_sex(Sex::Unknown, Some(Sex::XY), "S").unwrap(), Sex::XY);
        assert_eq!(check_sex(Sex::XX, None, "S").unwrap(), Sex::XX);
        let e = check_sex(Sex::XX, Some(Sex::XY), "S").unwrap_err();
        assert!(e.to_string().starts_with("sample `S`: the samplesheet says sex XX but chrX/chrY coverage says XY"));
    }
}
