//! BCF reading through htslib (rust-htslib's `bcf::Reader`), converted record by record into
//! [`VcfRecord`]. htslib does the binary decoding; this module guards what rust-htslib does not
//! (a header that fails to parse comes back as a null pointer) and names the record ordinal in
//! errors.

use super::error::{Location, VcfError};
use super::record::{Filter, Genotype, VcfRecord};
use crate::genome::region::Position;
use rust_htslib::bcf::record::GenotypeAllele;
use rust_htslib::bcf::{Read, Reader, Record};
use std::path::{Path, PathBuf};

pub(crate) struct BcfReader {
    path: PathBuf,
    reader: Reader,
    record: Record,
    ordinal: u64,
    samples: Vec<String>,
    sample_index: Option<usize>,
}

impl BcfReader {
    pub(crate) fn open(path: &Path) -> Result<Self, VcfError> {
        let reader = Reader::from_path(path).map_err(|e| VcfError::NotVariantFile {
            path: path.to_path_buf(),
            reason: format!("htslib could not open it as BCF: {e}"),
        })?;
        // SAFETY: the pointer is only compared with null, never dereferenced here.
        if unsafe { reader.header().as_ptr() }.is_null() {
            return Err(VcfError::malformed(path, Location::Header, "the BCF header could not be parsed"));
        }
        let samples = reader.header().samples().iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        let record = reader.empty_record();
        Ok(Self { path: path.to_path_buf(), reader, record, ordinal: 0, samples, sample_index: None })
    }

    pub(crate) fn samples(&self) -> &[String] {
        &self.samples
    }

    pub(crate) fn set_sample_index(&mut self, index: Option<usize>) {
        self.sample_index = index;
    }

    pub(crate) fn next_record(&mut self) -> Option<Result<VcfRecord, VcfError>> {
        self.ordinal += 1;
        let location = Location::Record(self.ordinal);
        match self.reader.read(&mut self.record)? {
            Ok(()) => Some(self.convert(location)),
            Err(e) => Some(Err(VcfError::malformed(&self.path, location, format!("htslib could not decode it: {e}")))),
        }
    }

    fn convert(&self, location: Location) -> Result<VcfRecord, VcfError> {
        let fail = |message: String| VcfError::malformed(&self.path, location, message);
        let rec = &self.record;
        let rid = rec.rid().ok_or_else(|| fail("record without CHROM".to_string()))?;
        let contig = rec
            .header()
            .rid2name(rid)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .map_err(|e| fail(format!("CHROM id {rid} is not in the header: {e}")))?;
        let pos = u64::try_from(rec.pos() + 1)
            .ok()
            .and_then(Position::new)
            .ok_or_else(|| fail(format!("POS {} is not a positive integer", rec.pos() + 1)))?;
        let alleles = rec.alleles();
        let Some((first, rest)) = alleles.split_first() else {
            return Err(fail("record without REF".to_string()));
        };
        let ref_allele = first.to_ascii_uppercase();
        let alts: Vec<Vec<u8>> = rest.iter().map(|a| a.to_ascii_uppercase()).collect();
        Ok(VcfRecord {
            location,
            contig,
            pos,
            ref_allele,
            filter: self.filter(),
            genotype: self.genotype(alts.len()).map_err(fail)?,
            alts,
        })
    }

    fn filter(&self) -> Filter {
        let names: Vec<String> = self
            .record
            .filters()
            .map(|id| String::from_utf8_lossy(&self.record.header().id_to_name(id)).into_owned())
            .collect();
        match names.as_slice() {
            [] => Filter::Missing,
            [only] if only == "PASS" => Filter::Pass,
            _ => Filter::Failed(names),
        }
    }

    fn genotype(&self, alt_count: usize) -> Result<Option<Genotype>, String> {
        let Some(index) = self.sample_index else {
            return Ok(None);
        };
        let Ok(genotypes) = self.record.genotypes() else {
            return Ok(None);
        };
        let gt = genotypes.get(index);
        let mut alleles = Vec::with_capacity(gt.len());
        let mut phased = false;
        for allele in gt.iter() {
            phased |= matches!(allele, GenotypeAllele::Phased(_) | GenotypeAllele::PhasedMissing);
            let value = match allele.index() {
                Some(i) if i as usize > alt_count => {
                    return Err(format!("GT allele index {i} but the record has {alt_count} ALT allele(s)"));
                }
                other => other,
            };
            alleles.push(value);
        }
        Ok(Some(Genotype { alleles, phased }))
    }
}
