//! Reading a samplesheet: nf-core/sarek's CSV columns `patient,sample,lane,fastq_1,fastq_2`, with
//! `sex` (default `NA`: inferred from coverage where a stage needs it), `status` (default 0,
//! normal) and `library` (default: the sample name) optional, as sarek has them: a column may be
//! absent or a cell empty.
//!
//! Rows of one sample (several lanes) become one [`Sample`] with one [`Lane`] per row, each later a
//! read group. Relative FASTQ paths resolve against the samplesheet's folder. Everything is checked
//! here, before anything runs: columns, names safe for files and shells, `status` 0/1, `sex`
//! XX/XY/NA, duplicate (sample, lane), a sample under two patients, missing or unreadable files.
//! Errors name the file, the line and the column. Cost: one pass over the file, one `open` per FASTQ.

use super::{Lane, PairNames, Sample, TissueStatus, check_safe_name, check_sample_name};
use crate::genome::ploidy::Sex;
use crate::outcome::{Classify, Failure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// All samples of a run, in samplesheet order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Samplesheet {
    /// Where it was read from (None when built from `--sample/--fastq1/--fastq2`).
    pub source: Option<PathBuf>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, thiserror::Error)]
pub enum SamplesheetError {
    #[error("{path}: cannot read the samplesheet: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: PathBuf, line: usize, message: String },
    /// A sample given with `--sample/--fastq1/--fastq2`: the message names the flag.
    #[error("{0}")]
    CommandLine(String),
    /// A tumour whose patient has no normal (pipelines with pair stages need one).
    #[error("tumour `{tumour}` of patient `{patient}` has no normal sample (status 0)")]
    TumourWithoutNormal { tumour: String, patient: String },
    #[error("patient `{patient}` has {count} normal samples; pair each tumour with exactly one normal")]
    SeveralNormals { patient: String, count: usize },
}

impl Classify for SamplesheetError {
    fn failure(&self) -> Failure {
        Failure::BadInput
    }
}

const REQUIRED: [&str; 5] = ["patient", "sample", "lane", "fastq_1", "fastq_2"];
const OPTIONAL: [&str; 3] = ["sex", "status", "library"];
/// Columns of sarek's samplesheets for its later start steps, and what dagr says to each.
const SAREK_LATER_STEPS: [(&str, &str); 9] = [
    ("bam", ALIGNED_INPUT),
    ("bai", ALIGNED_INPUT),
    ("cram", ALIGNED_INPUT),
    ("crai", ALIGNED_INPUT),
    ("spring_1", SPRING_INPUT),
    ("spring_2", SPRING_INPUT),
    (
        "table",
        "is a base-recalibration table of sarek's --step variant_calling; dagr does no BQSR and needs none: give the FASTQ in fastq_1,fastq_2",
    ),
    ("vcf", ANNOTATION_INPUT),
    ("variantcaller", ANNOTATION_INPUT),
];
const ALIGNED_INPUT: &str = "names aligned reads (sarek's --step markduplicates, prepare_recalibration or variant_calling); dagr does not start from BAM/CRAM yet: give the FASTQ in fastq_1,fastq_2 (`samtools collate -u -O in.bam | samtools fastq -1 R1.fq.gz -2 R2.fq.gz -0 /dev/null -s /dev/null -`)";
const SPRING_INPUT: &str = "names SPRING-compressed reads, which dagr does not read: decompress them (`spring -d -i in.spring -o R1.fastq.gz R2.fastq.gz -g`) and give fastq_1,fastq_2";
const ANNOTATION_INPUT: &str = "belongs to sarek's --step annotate (VCFs to annotate); dagr calls variants from FASTQ and does not annotate: give fastq_1,fastq_2";

impl Samplesheet {
    /// Reads and validates a samplesheet CSV.
    pub fn from_csv(path: &Path) -> Result<Samplesheet, SamplesheetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SamplesheetError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, path, &base)
    }

    /// One sample given on the command line (`--sample --fastq1 --fastq2 [--sex]`).
    pub fn single(name: &str, fastq_1: &Path, fastq_2: &Path, sex: Sex) -> Result<Samplesheet, SamplesheetError> {
        let invalid = SamplesheetError::CommandLine;
        check_sample_name(name).map_err(|m| invalid(format!("--sample: sample name {m}")))?;
        for (flag, p) in [("--fastq1", fastq_1), ("--fastq2", fastq_2)] {
            check_readable(p).map_err(|m| invalid(format!("{flag} {m}")))?;
        }
        Ok(Samplesheet {
            source: None,
            samples: vec![Sample {
                name: name.to_string(),
                patient: name.to_string(),
                sex,
                status: TissueStatus::Normal,
                lanes: vec![Lane {
                    lane: "1".into(),
                    fastq_1: fastq_1.to_path_buf(),
                    fastq_2: fastq_2.to_path_buf(),
                    library: name.to_string(),
                    line: 0,
                }],
            }],
        })
    }

    fn parse(text: &str, path: &Path, base: &Path) -> Result<Samplesheet, SamplesheetError> {
        let invalid =
            |line: usize, message: String| SamplesheetError::Invalid { path: path.to_path_buf(), line, message };
        // Excel's "CSV UTF-8" starts with a byte-order mark: not part of the first column's name.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let (header_line, header) =
            lines.by_ref().find(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')).ok_or_else(|| {
                invalid(1, "is empty: expected a header `patient,sex,status,sample,lane,fastq_1,fastq_2`".into())
            })?;
        let columns: Vec<String> = header.split(',').map(|c| unquote(c.trim()).to_ascii_lowercase()).collect();
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(invalid(header_line, format!("column `{c}` appears twice in the header")));
            }
        }
        for c in &columns {
            if let Some((_, why)) = SAREK_LATER_STEPS.iter().find(|(name, _)| name == c) {
                return Err(invalid(header_line, format!("column `{c}` {why}")));
            }
            if !REQUIRED.contains(&c.as_str()) && !OPTIONAL.contains(&c.as_str()) {
                return Err(invalid(
                    header_line,
                    format!(
                        "unknown column `{c}`; columns are {} and optionally {}",
                        REQUIRED.join(","),
                        OPTIONAL.join(",")
                    ),
                ));
            }
        }
        let index_of = |name: &str| columns.iter().position(|c| c == name);
        for req in REQUIRED {
            if index_of(req).is_none() {
                return Err(invalid(header_line, format!("missing column `{req}`")));
            }
        }
        let col = |name: &str| index_of(name).expect("required column checked above");
        let optional_col = |name: &str| index_of(name);

        let mut samples: Vec<Sample> = Vec::new();
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for (line_no, line) in lines {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(|f| unquote(f.trim())).collect();
            if fields.len() != columns.len() {
                return Err(invalid(
                    line_no,
                    format!(
                        "has {} fields, the header has {} (commas inside values are not allowed)",
                        fields.len(),
                        columns.len()
                    ),
                ));
            }
            let get = |name: &str| fields[col(name)];
            let get_optional = |name: &str| optional_col(name).map_or("", |i| fields[i]);
            let name = get("sample");
            check_sample_name(name).map_err(|m| invalid(line_no, format!("column `sample`: {m}")))?;
            let patient = get("patient");
            check_safe_name(patient).map_err(|m| invalid(line_no, format!("column `patient`: {m}")))?;
            let lane = get("lane");
            check_safe_name(lane).map_err(|m| invalid(line_no, format!("column `lane`: {m}")))?;
            let sex = Sex::parse(get_optional("sex")).ok_or_else(|| {
                invalid(line_no, format!("column `sex`: `{}` is not XX, XY or NA", get_optional("sex")))
            })?;
            let status = match get_optional("status") {
                "0" | "" => TissueStatus::Normal,
                "1" => TissueStatus::Tumour,
                other => {
                    return Err(invalid(
                        line_no,
                        format!("column `status`: `{other}` is not 0 (normal) or 1 (tumour)"),
                    ));
                }
            };
            let library = match get_optional("library") {
                l if !l.is_empty() => {
                    check_safe_name(l).map_err(|m| invalid(line_no, format!("column `library`: {m}")))?;
                    l.to_string()
                }
                _ => name.to_string(),
            };
            let mut fastq = [PathBuf::new(), PathBuf::new()];
            for (i, column) in ["fastq_1", "fastq_2"].into_iter().enumerate() {
                let raw = get(column);
                if raw.is_empty() {
                    return Err(invalid(line_no, format!("column `{column}` is empty")));
                }
                let p = Path::new(raw);
                let resolved = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
                check_readable(&resolved).map_err(|m| invalid(line_no, format!("column `{column}`: {m}")))?;
                fastq[i] = resolved;
            }
            let [fastq_1, fastq_2] = fastq;
            let new_lane = Lane { lane: lane.to_string(), fastq_1, fastq_2, library, line: line_no };
            match by_name.get(name) {
                Some(&i) => {
                    let s = &mut samples[i];
                    if s.patient != patient {
                        return Err(invalid(
                            line_no,
                            format!(
                                "sample `{name}` is listed under patient `{patient}` here and `{}` on an earlier line",
                                s.patient
                            ),
                        ));
                    }
                    if s.status != status || s.sex != sex {
                        return Err(invalid(
                            line_no,
                            format!("sample `{name}` has a different sex or status than on an earlier line"),
                        ));
                    }
                    if let Some(prev) = s.lanes.iter().find(|l| l.lane == lane) {
                        return Err(invalid(
                            line_no,
                            format!("duplicate sample/lane `{name}`/`{lane}` (first on line {})", prev.line),
                        ));
                    }
                    s.lanes.push(new_lane);
                }
                None => {
                    by_name.insert(name.to_string(), samples.len());
                    samples.push(Sample {
                        name: name.to_string(),
                        patient: patient.to_string(),
                        sex,
                        status,
                        lanes: vec![new_lane],
                    });
                }
            }
        }
        if samples.is_empty() {
            return Err(invalid(header_line, "has a header but no samples".into()));
        }
        Ok(Samplesheet { source: Some(path.to_path_buf()), samples })
    }

    /// Tumour/normal pairs: each tumour with the normal of its patient. A tumour whose patient has
    /// no normal (or more than one) is an error naming it.
    pub fn pairs(&self) -> Result<Vec<PairNames>, SamplesheetError> {
        let mut pairs = Vec::new();
        for t in self.samples.iter().filter(|s| s.status == TissueStatus::Tumour) {
            let normals: Vec<&Sample> =
                self.samples.iter().filter(|s| s.status == TissueStatus::Normal && s.patient == t.patient).collect();
            match normals.as_slice() {
                [n] => pairs.push(PairNames { tumour: t.name.clone(), normal: n.name.clone() }),
                [] => {
                    return Err(SamplesheetError::TumourWithoutNormal {
                        tumour: t.name.clone(),
                        patient: t.patient.clone(),
                    });
                }
                _ => {
                    return Err(SamplesheetError::SeveralNormals { patient: t.patient.clone(), count: normals.len() });
                }
            }
        }
        Ok(pairs)
    }

    /// Refuses a FASTQ file used twice: as R1 and R2 of one lane, in two lanes, or by two samples
    /// (a copy-paste slip that doubles every read or mixes two people's data). Files are compared
    /// by device and inode, so links and other spellings of one path count as one file. Callers
    /// skip this check when the user says the reuse is intended (`--allow-shared-fastq`). Cost:
    /// one `stat` per FASTQ.
    pub fn check_fastq_reuse(&self) -> Result<(), SamplesheetError> {
        use std::os::unix::fs::MetadataExt;
        const WHY: &str = "each FASTQ belongs to one lane of one sample (the same file twice doubles its reads or \
                           mixes two samples); pass --allow-shared-fastq if this is intended";
        let mut seen: BTreeMap<(u64, u64), (&str, &str, &'static str, usize)> = BTreeMap::new();
        for s in &self.samples {
            for lane in &s.lanes {
                for (mate, path) in [("R1", &lane.fastq_1), ("R2", &lane.fastq_2)] {
                    let Ok(meta) = std::fs::metadata(path) else { continue };
                    let here = (s.name.as_str(), lane.lane.as_str(), mate, lane.line);
                    if let Some(&(sample, first_lane, first_mate, first_line)) = seen.get(&(meta.dev(), meta.ino())) {
                        let Some(source) = &self.source else {
                            return Err(SamplesheetError::CommandLine(format!(
                                "--fastq1 and --fastq2 are the same file ({}): {WHY}",
                                path.display()
                            )));
                        };
                        let whence = if first_line > 0 { format!(" on line {first_line}") } else { String::new() };
                        return Err(SamplesheetError::Invalid {
                            path: source.clone(),
                            line: lane.line,
                            message: format!(
                                "{} is {mate} of sample `{}` lane `{}` and also {first_mate} of sample `{sample}` lane \
                                 `{first_lane}`{whence}: {WHY}",
                                path.display(),
                                s.name,
                                lane.lane
                            ),
                        });
                    }
                    seen.insert((meta.dev(), meta.ino()), here);
                }
            }
        }
        Ok(())
    }

    pub fn sample(&self, name: &str) -> Option<&Sample> {
        self.samples.iter().find(|s| s.name == name)
    }
}

/// A field without one pair of surrounding double quotes, as R's `write.csv` and spreadsheets
/// write them (`"S1"` → `S1`). A comma inside quotes stays unsupported: the field count shows it.
fn unquote(field: &str) -> &str {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.trim(),
        _ => field,
    }
}

fn check_readable(path: &Path) -> Result<(), String> {
    match File::open(path) {
        Ok(f) => match f.metadata() {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(format!("{} is not a regular file", path.display())),
            Err(e) => Err(format!("{}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("{} does not exist", path.display())),
        Err(e) => Err(format!("{} cannot be read: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(dir: &Path, body: &str) -> Result<Samplesheet, SamplesheetError> {
        for f in ["a_R1.fq", "a_R2.fq", "b_R1.fq", "b_R2.fq"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let p = dir.join("s.csv");
        std::fs::write(&p, body).unwrap();
        Samplesheet::from_csv(&p)
    }

    const HEADER: &str = "patient,sex,status,sample,lane,fastq_1,fastq_2\n";

    #[test]
    fn sex_and_status_are_optional_as_in_sarek() {
        let d = tempfile::tempdir().unwrap();
        // Without the columns: sex NA, normal.
        let s = sheet(d.path(), "patient,sample,lane,fastq_1,fastq_2\nP1,N1,L1,a_R1.fq,a_R2.fq\n").unwrap();
        assert_eq!((s.samples[0].sex, s.samples[0].status), (Sex::Unknown, TissueStatus::Normal));
        // Empty cells: the same defaults; given values still count.
        let s =
            sheet(d.path(), &format!("{HEADER}P1,,,N1,L1,a_R1.fq,a_R2.fq\nP1,XY,1,T1,L1,b_R1.fq,b_R2.fq\n")).unwrap();
        assert_eq!((s.samples[0].sex, s.samples[0].status), (Sex::Unknown, TissueStatus::Normal));
        assert_eq!((s.samples[1].sex, s.samples[1].status), (Sex::XY, TissueStatus::Tumour));
        // Wrong values are still refused; the required columns are still required.
        let e =
            sheet(d.path(), "patient,sample,lane,status,fastq_1,fastq_2\nP1,N1,L1,2,a_R1.fq,a_R2.fq\n").unwrap_err();
        assert!(e.to_string().contains("column `status`: `2` is not 0"), "{e}");
        let e = sheet(d.path(), "patient,sample,fastq_1,fastq_2\nP1,N1,a_R1.fq,a_R2.fq\n").unwrap_err();
        assert!(e.to_string().contains("missing column `lane`"), "{e}");
        let e =
            sheet(d.path(), "patient,sample,lane,fastq_1,fastq_2,flowcell\nP1,N1,L1,a_R1.fq,a_R2.fq,x\n").unwrap_err();
        assert!(
            e.to_string().contains("unknown column `flowcell`")
                && e.to_string().contains("optionally sex,status,library"),
            "{e}"
        );
        // sarek's columns for its later steps: each named, with what to give instead.
        for (column, says) in [
            ("bam", "does not start from BAM/CRAM yet"),
            ("spring_1", "spring -d"),
            ("table", "no BQSR"),
            ("vcf", "does not annotate"),
        ] {
            let e = sheet(d.path(), &format!("patient,sample,lane,{column}\nP1,N1,L1,x\n")).unwrap_err().to_string();
            assert!(e.contains(&format!("column `{column}`")) && e.contains(says) && e.contains("s.csv:1:"), "{e}");
        }
    }

    #[test]
    fn lanes_group_into_samples_and_paths_resolve_against_the_sheet() {
        let d = tempfile::tempdir().unwrap();
        let s = sheet(d.path(), &format!("{HEADER}P1,XX,0,N1,L1,a_R1.fq,a_R2.fq\nP1,XX,0,N1,L2,b_R1.fq,b_R2.fq\n"))
            .unwrap();
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.samples[0].lanes.len(), 2);
        assert_eq!(s.samples[0].lanes[1].fastq_1, d.path().join("b_R1.fq"));
        assert_eq!(s.samples[0].lanes[0].library, "N1");
    }

    #[test]
    fn duplicate_lane_names_the_line() {
        let d = tempfile::tempdir().unwrap();
        let e = sheet(d.path(), &format!("{HEADER}P1,XX,0,N1,L1,a_R1.fq,a_R2.fq\nP1,XX,0,N1,L1,b_R1.fq,b_R2.fq\n"))
            .unwrap_err();
        assert!(e.to_string().contains(":3: duplicate sample/lane `N1`/`L1`"), "{e}");
    }

    #[test]
    fn unsafe_names_and_missing_files_are_rejected() {
        let d = tempfile::tempdir().unwrap();
        let e = sheet(d.path(), &format!("{HEADER}P1,XX,0,N1;rm,L1,a_R1.fq,a_R2.fq\n")).unwrap_err();
        assert!(e.to_string().contains("contains `;`"), "{e}");
        let e = sheet(d.path(), &format!("{HEADER}P1,XX,0,N1,L1,missing.fq,a_R2.fq\n")).unwrap_err();
        assert!(e.to_string().contains("missing.fq does not exist"), "{e}");
    }

    #[test]
    fn sample_under_two_patients_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        let e = sheet(d.path(), &format!("{HEADER}P1,XX,0,N1,L1,a_R1.fq,a_R2.fq\nP2,XX,0,N1,L2,b_R1.fq,b_R2.fq\n"))
            .unwrap_err();
        assert!(e.to_string().contains("listed under patient `P2`"), "{e}");
    }

    #[test]
    fn tumours_pair_with_their_patients_normal() {
        let d = tempfile::tempdir().unwrap();
        let s = sheet(
            d.path(),
            &format!(
                "{HEADER}P1,XY,0,N1,L1,a_R1.fq,a_R2.fq\nP1,XY,1,T1,L1,b_R1.fq,b_R2.fq\nP1,XY,1,T2,L1,b_R1.fq,b_R2.fq\n"
            ),
        )
        .unwrap();
        let pairs = s.pairs().unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1], PairNames { tumour: "T2".into(), normal: "N1".into() });
        let s = sheet(d.path(), &format!("{HEADER}P2,XY,1,T9,L1,b_R1.fq,b_R2.fq\n")).unwrap();
        assert!(s.pairs().unwrap_err().to_string().contains("has no normal"));
    }
}
