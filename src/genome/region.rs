//! Typed 1-based positions and regions; BED reading (0-based half-open converted here, once).
//!
//! - [`Position`]: a 1-based coordinate that cannot be zero (wraps `NonZeroU64`, so
//!   `Option<Position>` costs nothing).
//! - [`Region`]: `contig:start-end`, 1-based and closed, with `start <= end` enforced by its
//!   constructor.
//! - [`read_bed`]: BED (plain or gzip/BGZF) to regions. BED's 0-based half-open `[s, e)` becomes
//!   the 1-based closed `[s+1, e]` here and nowhere else. `track`, `browser` and `#` lines and
//!   blank lines are skipped; errors name the file and line.
//! - [`RegionSet`]: the regions of each contig sorted and merged (overlapping or adjacent
//!   intervals joined), so `contains` is one binary search: O(log n) per query, O(n log n) to build.

use flate2::read::MultiGzDecoder;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

/// A 1-based position on a contig; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(NonZeroU64);

impl Position {
    /// `None` for 0.
    pub fn new(one_based: u64) -> Option<Self> {
        NonZeroU64::new(one_based).map(Self)
    }

    /// The 1-based position of the 0-based coordinate `zero_based`; `None` on overflow.
    pub fn from_zero_based(zero_based: u64) -> Option<Self> {
        zero_based.checked_add(1).and_then(Self::new)
    }

    /// The 1-based value.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The 0-based value (`get() - 1`).
    pub fn zero_based(self) -> u64 {
        self.0.get() - 1
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A stretch of a contig, 1-based and closed: `start <= end` always holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    contig: String,
    start: Position,
    end: Position,
}

impl Region {
    /// `None` when `start > end`.
    pub fn new(contig: impl Into<String>, start: Position, end: Position) -> Option<Self> {
        (start <= end).then(|| Self { contig: contig.into(), start, end })
    }

    /// From BED-style 0-based half-open `[start0, end0)`; `None` when `start0 >= end0`.
    pub fn from_zero_based_half_open(contig: impl Into<String>, start0: u64, end0: u64) -> Option<Self> {
        if start0 >= end0 {
            return None;
        }
        Self::new(contig, Position::from_zero_based(start0)?, Position::new(end0)?)
    }

    pub fn contig(&self) -> &str {
        &self.contig
    }
    pub fn start(&self) -> Position {
        self.start
    }
    pub fn end(&self) -> Position {
        self.end
    }
    /// Number of bases covered (at least 1).
    pub fn len(&self) -> u64 {
        self.end.get() - self.start.get() + 1
    }
    /// Never true; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// True when `pos` on `contig` lies inside.
    pub fn contains(&self, contig: &str, pos: Position) -> bool {
        self.contig == contig && self.start <= pos && pos <= self.end
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}-{}", self.contig, self.start, self.end)
    }
}

/// Problems reading a BED file; each names the file and, for content, the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    #[error("{}: cannot read BED file: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: a BED line needs at least 3 tab-separated columns (chrom, start, end), found {found}", path.display())]
    TooFewColumns { path: PathBuf, line: u64, found: usize },
    #[error("{}:{line}: BED {column} `{value}` is not a non-negative integer", path.display())]
    NotANumber { path: PathBuf, line: u64, column: &'static str, value: String },
    #[error("{}:{line}: BED start {start} is not below end {end} (0-based, half-open)", path.display())]
    EmptyInterval { path: PathBuf, line: u64, start: u64, end: u64 },
}

/// A missing or malformed BED is bad input; other I/O failures are runtime.
impl crate::outcome::Classify for RegionError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            RegionError::Io { source, .. } if source.kind() != io::ErrorKind::NotFound => {
                crate::outcome::Failure::Runtime
            }
            _ => crate::outcome::Failure::BadInput,
        }
    }
}

/// One data line of a BED file: its 1-based line number, its region, and the columns after
/// `end` (name, score, or a caller's own column such as a ploidy), untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedLine {
    pub line: u64,
    pub region: Region,
    pub rest: Vec<String>,
}

/// Reads every region of a BED file (gzip or BGZF compressed or plain), in file order.
/// Cost: one pass over the file.
pub fn read_bed(path: &Path) -> Result<Vec<Region>, RegionError> {
    Ok(read_bed_lines(path)?.into_iter().map(|l| l.region).collect())
}

/// [`read_bed`] with each line's number and extra columns, for BEDs that carry a value per
/// interval. The one BED parser of dagr: every BED goes through it.
pub fn read_bed_lines(path: &Path) -> Result<Vec<BedLine>, RegionError> {
    let io_err = |source| RegionError::Io { path: path.to_path_buf(), source };
    let reader = open_maybe_gzip(path).map_err(io_err)?;
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(io_err)?;
        if let Some(parsed) = parse_bed_line(path, index as u64 + 1, &line)? {
            lines.push(parsed);
        }
    }
    Ok(lines)
}

/// Opens a file, decompressing it when it starts with the gzip magic bytes.
fn open_maybe_gzip(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let mut file = BufReader::new(File::open(path)?);
    let magic = file.fill_buf()?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(file))))
    } else {
        Ok(Box::new(file))
    }
}

fn parse_bed_line(path: &Path, line_no: u64, line: &str) -> Result<Option<BedLine>, RegionError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.starts_with('#') || line.starts_with("track") || line.starts_with("browser") {
        return Ok(None);
    }
    let fields: Vec<&str> =
        if line.contains('\t') { line.split('\t').collect() } else { line.split_whitespace().collect() };
    if fields.len() < 3 {
        return Err(RegionError::TooFewColumns { path: path.to_path_buf(), line: line_no, found: fields.len() });
    }
    let number = |column: &'static str, value: &str| {
        value.trim().parse::<u64>().map_err(|_| RegionError::NotANumber {
            path: path.to_path_buf(),
            line: line_no,
            column,
            value: value.to_string(),
        })
    };
    let start = number("start", fields[1])?;
    let end = number("end", fields[2])?;
    let region = Region::from_zero_based_half_open(fields[0].trim(), start, end).ok_or(RegionError::EmptyInterval {
        path: path.to_path_buf(),
        line: line_no,
        start,
        end,
    })?;
    let rest = fields[3..].iter().map(|f| f.trim().to_string()).collect();
    Ok(Some(BedLine { line: line_no, region, rest }))
}

/// Regions grouped by contig, sorted and merged, for fast membership tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionSet {
    /// Per contig: disjoint, non-adjacent `(start, end)` 1-based closed intervals, sorted.
    by_contig: HashMap<String, Vec<(u64, u64)>>,
}

impl RegionSet {
    /// Builds the set; overlapping and adjacent regions are merged. O(n log n).
    pub fn new(regions: impl IntoIterator<Item = Region>) -> Self {
        let mut by_contig: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
        for region in regions {
            by_contig.entry(region.contig).or_default().push((region.start.get(), region.end.get()));
        }
        for intervals in by_contig.values_mut() {
            intervals.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
            for &(start, end) in intervals.iter() {
                match merged.last_mut() {
                    Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            *intervals = merged;
        }
        Self { by_contig }
    }

    /// Reads a BED file into a set.
    pub fn from_bed(path: &Path) -> Result<Self, RegionError> {
        read_bed(path).map(Self::new)
    }

    /// True when `pos` on `contig` lies in one of the regions. O(log n).
    pub fn contains(&self, contig: &str, pos: Position) -> bool {
        let Some(intervals) = self.by_contig.get(contig) else {
            return false;
        };
        let pos = pos.get();
        // First interval starting after `pos`; the one before it is the only candidate.
        let after = intervals.partition_point(|&(start, _)| start <= pos);
        after > 0 && intervals[after - 1].1 >= pos
    }

    /// Bases covered, all contigs together.
    pub fn total_bases(&self) -> u64 {
        self.by_contig.values().flatten().map(|&(start, end)| end - start + 1).sum()
    }

    /// Number of merged intervals.
    pub fn interval_count(&self) -> usize {
        self.by_contig.values().map(Vec::len).sum()
    }

    /// True when no region is present.
    pub fn is_empty(&self) -> bool {
        self.by_contig.is_empty()
    }

    /// Contig names with at least one region, sorted.
    pub fn contigs(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_contig.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// Reads the whole of `reader` (for callers that hold BED text in memory, e.g. tests).
pub fn read_bed_from(path_label: &Path, mut reader: impl Read) -> Result<Vec<Region>, RegionError> {
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|source| RegionError::Io { path: path_label.to_path_buf(), source })?;
    let mut regions = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(parsed) = parse_bed_line(path_label, index as u64 + 1, line)? {
            regions.push(parsed.region);
        }
    }
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(p: u64) -> Position {
        Position::new(p).unwrap()
    }

    fn bed(text: &str) -> Result<Vec<Region>, RegionError> {
        read_bed_from(Path::new("x.bed"), text.as_bytes())
    }

    #[test]
    fn position_is_one_based_and_non_zero() {
        assert!(Position::new(0).is_none());
        assert_eq!(Position::from_zero_based(0).unwrap().get(), 1);
        assert_eq!(pos(10).zero_based(), 9);
        assert_eq!(std::mem::size_of::<Option<Position>>(), 8);
    }

    #[test]
    fn bed_is_converted_once_to_one_based_closed() {
        let regions = bed("track name=x\nbrowser position c\n# comment\n\nc\t0\t10\nd 5 6 name\n").unwrap();
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0].to_string(), "c:1-10");
        assert_eq!(regions[0].len(), 10);
        assert_eq!(regions[1].to_string(), "d:6-6");
    }

    #[test]
    fn bed_errors_name_file_and_line() {
        let err = bed("c\t0\t10\nc\t5\n").unwrap_err().to_string();
        assert!(err.contains("x.bed:2") && err.contains("3 tab-separated"), "{err}");
        let err = bed("c\tfive\t10\n").unwrap_err().to_string();
        assert!(err.contains("x.bed:1") && err.contains("`five`"), "{err}");
        let err = bed("c\t1\t10\nc\t10\t10\n").unwrap_err().to_string();
        assert!(err.contains("x.bed:2") && err.contains("not below"), "{err}");
        let err = bed("c\t-1\t10\n").unwrap_err().to_string();
        assert!(err.contains("start `-1`"), "{err}");
    }

    #[test]
    fn region_set_merges_and_searches() {
        let set = RegionSet::new(bed("c\t10\t20\nc\t0\t5\nc\t18\t30\nc\t30\t31\nd\t100\t101\n").unwrap());
        // c: [1,5], [11,31] after merging overlap (11-20 with 19-30) and adjacency (31).
        assert_eq!(set.interval_count(), 3);
        assert_eq!(set.total_bases(), 5 + 21 + 1);
        for (p, inside) in [(1, true), (5, true), (6, false), (10, false), (11, true), (31, true), (32, false)] {
            assert_eq!(set.contains("c", pos(p)), inside, "c:{p}");
        }
        assert!(set.contains("d", pos(101)));
        assert!(!set.contains("d", pos(100)));
        assert!(!set.contains("e", pos(1)));
        assert_eq!(set.contigs(), vec!["c", "d"]);
    }

    #[test]
    fn region_rejects_inverted_bounds() {
        assert!(Region::new("c", pos(5), pos(4)).is_none());
        assert!(Region::from_zero_based_half_open("c", 5, 5).is_none());
        assert!(Region::new("c", pos(5), pos(5)).unwrap().contains("c", pos(5)));
    }
}
