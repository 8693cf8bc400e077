//! Site resources looked up one call at a time: a bgzipped VCF with its tabix/CSI index (a panel
//! of normals, a population allele-frequency resource such as gnomAD), opened once and queried by
//! position through the index, so a genome-wide resource costs no memory. Cost per lookup: one
//! index seek and the records at one position.

use crate::outcome::{Classify, Failure};
use rust_htslib::bcf::{self, Read as _};
use std::path::{Path, PathBuf};

/// Why a site resource cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SitesError {
    #[error(
        "{}: cannot open as a bgzipped VCF with its index (.tbi/.csi beside it; `tabix -p vcf` makes one): {source}",
        path.display()
    )]
    Open { path: PathBuf, source: rust_htslib::errors::Error },
    #[error("{}: fetch {contig}:{pos}: {source}", path.display())]
    Fetch { path: PathBuf, contig: String, pos: u64, source: rust_htslib::errors::Error },
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: rust_htslib::errors::Error },
}

/// A resource that does not open is the user's file (bad input); failing later is runtime.
impl Classify for SitesError {
    fn failure(&self) -> Failure {
        match self {
            SitesError::Open { .. } => Failure::BadInput,
            _ => Failure::Runtime,
        }
    }
}

/// An indexed VCF of sites.
pub struct SiteResource {
    path: PathBuf,
    reader: bcf::IndexedReader,
}

impl SiteResource {
    pub fn open(path: &Path) -> Result<Self, SitesError> {
        let reader = bcf::IndexedReader::from_path(path)
            .map_err(|source| SitesError::Open { path: path.to_path_buf(), source })?;
        Ok(SiteResource { path: path.to_path_buf(), reader })
    }

    /// `Some(AF)` when a record at 0-based `pos` of `contig` has this REF and ALT (the `AF` of
    /// that ALT, if the record has one); `None` when there is no such record. Alleles compare
    /// case-insensitively; a contig the resource does not have has no records.
    pub fn lookup(
        &mut self,
        contig: &str,
        pos: u64,
        ref_allele: &[u8],
        alt_allele: &[u8],
    ) -> Result<Option<Option<f32>>, SitesError> {
        let Ok(rid) = self.reader.header().name2rid(contig.as_bytes()) else { return Ok(None) };
        self.reader.fetch(rid, pos, Some(pos)).map_err(|source| SitesError::Fetch {
            path: self.path.clone(),
            contig: contig.to_string(),
            pos: pos + 1,
            source,
        })?;
        for record in self.reader.records() {
            let record = record.map_err(|source| SitesError::Read { path: self.path.clone(), source })?;
            if u64::try_from(record.pos()).ok() != Some(pos) {
                continue;
            }
            let alleles = record.alleles();
            if !alleles.first().is_some_and(|r| r.eq_ignore_ascii_case(ref_allele)) {
                continue;
            }
            if let Some(k) = alleles.iter().skip(1).position(|a| a.eq_ignore_ascii_case(alt_allele)) {
                let af = record.info(b"AF").float().ok().flatten().and_then(|v| v.get(k).copied());
                return Ok(Some(af.filter(|x| x.is_finite())));
            }
        }
        Ok(None)
    }
}
