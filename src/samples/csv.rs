//! Writing a samplesheet back as CSV, with absolute FASTQ paths, in a chosen sample order: the
//! frozen copy a Slurm submission keeps and the one-entity sheets of its tasks. Reading it again
//! with [`super::Samplesheet::from_csv`] gives the same samples. Values are never quoted, so a
//! path holding a comma or a line break is refused rather than written.

use super::{Samplesheet, TissueStatus};
use crate::outcome::{Classify, Failure};
use std::path::{Path, PathBuf};

/// Why a samplesheet cannot be written as CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("sample `{0}` is not in the samplesheet")]
    UnknownSample(String),
    #[error("{}: {source}", path.display())]
    Path { path: PathBuf, source: std::io::Error },
    #[error("{}: the path is not UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{text}: paths with commas or line breaks cannot go into a samplesheet")]
    Unquotable { text: String },
}

impl Classify for CsvError {
    fn failure(&self) -> Failure {
        match self {
            CsvError::UnknownSample(_) => Failure::Runtime,
            _ => Failure::BadInput,
        }
    }
}

/// The samplesheet as CSV with absolute FASTQ paths, in the order of `samples`.
pub fn sheet_csv(sheet: &Samplesheet, samples: &[&str]) -> Result<String, CsvError> {
    let mut out = String::from("patient,sex,status,sample,lane,fastq_1,fastq_2,library\n");
    for name in samples {
        let s = sheet.sample(name).ok_or_else(|| CsvError::UnknownSample(name.to_string()))?;
        let status = if s.status == TissueStatus::Tumour { "1" } else { "0" };
        for lane in &s.lanes {
            let r1 = absolute_text(&lane.fastq_1)?;
            let r2 = absolute_text(&lane.fastq_2)?;
            out.push_str(&format!(
                "{},{},{status},{},{},{r1},{r2},{}\n",
                s.patient, s.sex, s.name, lane.lane, lane.library
            ));
        }
    }
    Ok(out)
}

/// An absolute path as text, refused when it holds a comma, a newline or is not UTF-8.
pub fn absolute_text(path: &Path) -> Result<String, CsvError> {
    let abs = std::path::absolute(path).map_err(|source| CsvError::Path { path: path.to_path_buf(), source })?;
    let text = abs.to_str().ok_or_else(|| CsvError::NotUtf8 { path: abs.clone() })?;
    if text.contains([',', '\n', '\r']) {
        return Err(CsvError::Unquotable { text: text.to_string() });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_sheet_reads_back_the_same_samples() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a_R1.fq", "a_R2.fq", "b_R1.fq", "b_R2.fq"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let p = d.path().join("s.csv");
        std::fs::write(
            &p,
            "patient,sex,status,sample,lane,fastq_1,fastq_2\nP1,XY,0,N1,L1,a_R1.fq,a_R2.fq\nP1,XY,1,T1,L1,b_R1.fq,b_R2.fq\n",
        )
        .unwrap();
        let sheet = Samplesheet::from_csv(&p).unwrap();
        let text = sheet_csv(&sheet, &["T1", "N1"]).unwrap();
        let q = d.path().join("again.csv");
        std::fs::write(&q, &text).unwrap();
        let again = Samplesheet::from_csv(&q).unwrap();
        assert_eq!(again.samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["T1", "N1"]);
        let without_lines = |s: &crate::samples::Sample| {
            let mut s = s.clone();
            s.lanes.iter_mut().for_each(|l| l.line = 0);
            s
        };
        assert_eq!(without_lines(again.sample("N1").unwrap()), without_lines(sheet.sample("N1").unwrap()));
        assert!(matches!(sheet_csv(&sheet, &["X"]), Err(CsvError::UnknownSample(_))));
    }
}
