//! The VCF 4.2 header dagr writes: what it holds and in which order.
//!
//! Lines, in order: `##fileformat=VCFv4.2`, `##fileDate=YYYYMMDD` (UTC, from `SOURCE_DATE_EPOCH`
//! when set), `##source=dagr-<version>`, `##reference=file://<absolute path>`, one `##contig`
//! per reference contig (`ID`, `length`, `md5`, and `assembly` when known), then `##ALT`,
//! `##FILTER` (PASS first, then the caller's filters in the order given), `##INFO`, `##FORMAT`,
//! the gVCF's `##GVCFBlock` band lines, the somatic sample lines, `##dagr_command` and the
//! `#CHROM` line. Only keys the records can carry are defined, and every key they carry is.
//! Free text (descriptions, names) is checked rather than escaped: a `"`, tab or newline where
//! it would break the line is an error naming the field.

use super::gvcf::GqBands;
use crate::genome::Contig;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// An extra `##INFO`/`##FORMAT` definition (for keys a later writer adds, e.g. somatic ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub id: String,
    /// VCF `Number`: an integer, `A`, `R`, `G` or `.`.
    pub number: String,
    /// VCF `Type`: `Integer`, `Float`, `Flag`, `Character` or `String`.
    pub value_type: String,
    pub description: String,
}

/// Which VCF this header introduces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VcfKind {
    /// Variant calls of one germline sample: FORMAT GT:AD:DP:GQ:PL.
    Germline,
    /// Genomic VCF: variant records with `<NON_REF>`, reference blocks with END and MIN_DP.
    Gvcf { bands: GqBands },
    /// Tumour/normal: the sample lines and pedigree; `tumour` and `normal` must be samples.
    Somatic { tumour: String, normal: String },
}

/// Everything the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcfHeaderSpec {
    /// One `##contig` each; every contig must carry its MD5 (SAM `M5`).
    pub contigs: Vec<Contig>,
    pub assembly: Option<String>,
    pub reference_path: PathBuf,
    pub sample_names: Vec<String>,
    /// dagr's version (`crate::VERSION`), written as `##source=dagr-<version>`.
    pub source_version: String,
    /// The canonical command line (execution-only flags already dropped).
    pub command_line: String,
    /// `(ID, Description)` of every filter the records may name (PASS is always declared).
    pub filters: Vec<(String, String)>,
    pub kind: VcfKind,
    pub extra_info: Vec<FieldDef>,
    pub extra_format: Vec<FieldDef>,
    /// The `##fileDate` as seconds since the epoch: the engine decides it once per run
    /// (`SOURCE_DATE_EPOCH` when set, see `crate::clock`); the writer never reads the clock.
    pub file_date_epoch: u64,
}

/// The spec cannot make a valid header; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid VCF header: {0}")]
pub struct HeaderSpecError(pub String);

const NON_REF_ALT: &str =
    "##ALT=<ID=NON_REF,Description=\"Any allele other than REF and the ALT alleles listed at this site\">";

const INFO_FS: &str =
    "##INFO=<ID=FS,Number=1,Type=Float,Description=\"Phred-scaled p-value of Fisher's exact test for strand bias\">";
const INFO_AC: &str =
    "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count in genotypes, for each ALT allele\">";
const INFO_AF: &str =
    "##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele frequency in genotypes (AC/AN), for each ALT allele\">";
const INFO_AN: &str = "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Number of alleles in called genotypes\">";
const INFO_BASEQ_RANK_SUM: &str = "##INFO=<ID=BaseQRankSum,Number=1,Type=Float,Description=\"Z-score of the Mann-Whitney U test of ALT against REF read base qualities at the site\">";
const INFO_DP: &str =
    "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Reads over the site after filtering, informative or not\">";
const INFO_MQ: &str =
    "##INFO=<ID=MQ,Number=1,Type=Float,Description=\"Root mean square mapping quality of the reads over the site\">";
const INFO_MQ_RANK_SUM: &str = "##INFO=<ID=MQRankSum,Number=1,Type=Float,Description=\"Z-score of the Mann-Whitney U test of ALT against REF read mapping qualities\">";
const INFO_QD: &str = "##INFO=<ID=QD,Number=1,Type=Float,Description=\"QUAL divided by the informative depth (sum of AD) of the non-hom-ref sample\">";
const INFO_RAW_MQ_AND_DP: &str = "##INFO=<ID=RAW_MQandDP,Number=2,Type=Integer,Description=\"Sum of squared mapping qualities and number of reads over the site (for a cohort's RMS MQ)\">";
const FMT_SB: &str = "##FORMAT=<ID=SB,Number=4,Type=Integer,Description=\"Informative reads: REF forward, REF reverse, ALT forward, ALT reverse (the strand-bias table)\">";
const INFO_READ_POS_RANK_SUM: &str = "##INFO=<ID=ReadPosRankSum,Number=1,Type=Float,Description=\"Z-score of the Mann-Whitney U test of ALT against REF distances of the site from the nearer read end\">";
const INFO_SOR: &str = "##INFO=<ID=SOR,Number=1,Type=Float,Description=\"Symmetric odds ratio of REF/ALT by forward/reverse informative reads (strand bias)\">";
/// The site annotations of VCF variant records, alphabetical as the writer puts them (the gVCF's
/// list adds `END` and `RAW_MQandDP`).
const INFO_SITE: [&str; 8] =
    [INFO_BASEQ_RANK_SUM, INFO_DP, INFO_FS, INFO_MQ, INFO_MQ_RANK_SUM, INFO_QD, INFO_READ_POS_RANK_SUM, INFO_SOR];
const INFO_END: &str =
    "##INFO=<ID=END,Number=1,Type=Integer,Description=\"End position (1-based, inclusive) of this reference block\">";
const FMT_GT: &str = "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">";
const FMT_AD: &str = "##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths of informative reads for the REF and ALT alleles\">";
const FMT_DP: &str = "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Read depth after filtering\">";
const FMT_DP_GERMLINE: &str = "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Informative reads (sum of AD); in reference blocks, reads after filtering\">";
const FMT_PS: &str = "##FORMAT=<ID=PS,Number=1,Type=Integer,Description=\"Phase set: POS of the first het of the read-backed phase block\">";
const FMT_GQ: &str =
    "##FORMAT=<ID=GQ,Number=1,Type=Integer,Description=\"Genotype quality: the second-lowest PL, capped at 99\">";
const FMT_MIN_DP: &str =
    "##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description=\"Minimum depth in this reference block\">";
const INFO_TLOD: &str = "##INFO=<ID=TLOD,Number=A,Type=Float,Description=\"Tumour log10 odds: ALT at its best-fitting fraction vs no ALT\">";
const INFO_NLOD: &str = "##INFO=<ID=NLOD,Number=A,Type=Float,Description=\"Normal log10 odds: no ALT beyond tumour-in-normal vs a het ALT\">";
const FMT_AF: &str = "##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"ALT fraction (tumour: the model's best fit; normal: of informative reads)\">";
const FMT_F1R2: &str = "##FORMAT=<ID=F1R2,Number=R,Type=Integer,Description=\"Informative reads per allele in F1R2 orientation (first of pair forward, or second reverse)\">";
const FMT_F2R1: &str =
    "##FORMAT=<ID=F2R1,Number=R,Type=Integer,Description=\"Informative reads per allele in F2R1 orientation\">";
const FMT_PL: &str = "##FORMAT=<ID=PL,Number=G,Type=Integer,Description=\"Phred-scaled genotype likelihoods (no priors), normalized to the most likely genotype\">";

impl VcfHeaderSpec {
    /// The filter IDs records may name (PASS excluded: it is written for an empty list).
    pub fn declared_filters(&self) -> BTreeSet<String> {
        self.filters.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The full header text, ending with the `#CHROM` line and a newline.
    pub fn render(&self) -> Result<String, HeaderSpecError> {
        self.check()?;
        let (year, month, day) = crate::clock::civil_date(self.file_date_epoch);
        let date = format!("{year:04}{month:02}{day:02}");
        let reference = std::path::absolute(&self.reference_path)
            .map_err(|e| HeaderSpecError(format!("reference path {}: {e}", self.reference_path.display())))?;
        let mut lines = vec![
            "##fileformat=VCFv4.2".to_string(),
            format!("##fileDate={date}"),
            format!("##source=dagr-{}", self.source_version),
            format!("##reference=file://{}", reference.display()),
        ];
        for c in &self.contigs {
            let assembly = self.assembly.as_deref().map(|a| format!(",assembly={a}")).unwrap_or_default();
            let md5 = c.md5.as_deref().unwrap_or_default();
            lines.push(format!("##contig=<ID={},length={},md5={md5}{assembly}>", c.name, c.length));
        }
        if matches!(self.kind, VcfKind::Gvcf { .. }) {
            lines.push(NON_REF_ALT.to_string());
        }
        lines.push("##FILTER=<ID=PASS,Description=\"All filters passed\">".to_string());
        for (id, description) in &self.filters {
            lines.push(format!("##FILTER=<ID={id},Description=\"{description}\">"));
        }
        self.push_definitions(&mut lines);
        if let VcfKind::Gvcf { bands } = &self.kind {
            lines.extend(bands.header_lines());
        }
        if let VcfKind::Somatic { tumour, normal } = &self.kind {
            lines.push(format!("##tumor_sample={tumour}"));
            lines.push(format!("##normal_sample={normal}"));
            lines.push(format!("##SAMPLE=<ID={tumour},Description=\"Tumour\">"));
            lines.push(format!("##SAMPLE=<ID={normal},Description=\"Normal\">"));
            lines.push(format!("##PEDIGREE=<Derived={tumour},Original={normal}>"));
        }
        lines.push(format!("##dagr_command={}", self.command_line.replace(['\n', '\r'], " ")));
        let mut chrom = String::from("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
        for sample in &self.sample_names {
            chrom.push('\t');
            chrom.push_str(sample);
        }
        lines.push(chrom);
        let mut text = lines.join("\n");
        text.push('\n');
        Ok(text)
    }

    fn push_definitions(&self, lines: &mut Vec<String>) {
        let (info, format): (Vec<&str>, &[&str]) = match self.kind {
            VcfKind::Germline => (
                [&[INFO_AC, INFO_AF, INFO_AN][..], &INFO_SITE].concat(),
                &[FMT_GT, FMT_AD, FMT_DP_GERMLINE, FMT_GQ, FMT_PL, FMT_PS],
            ),
            VcfKind::Gvcf { .. } => {
                let info = vec![
                    INFO_END,
                    INFO_BASEQ_RANK_SUM,
                    INFO_DP,
                    INFO_FS,
                    INFO_MQ,
                    INFO_MQ_RANK_SUM,
                    INFO_QD,
                    INFO_RAW_MQ_AND_DP,
                    INFO_READ_POS_RANK_SUM,
                    INFO_SOR,
                ];
                (info, &[FMT_GT, FMT_AD, FMT_DP_GERMLINE, FMT_GQ, FMT_MIN_DP, FMT_PL, FMT_SB, FMT_PS])
            }
            VcfKind::Somatic { .. } => {
                (vec![INFO_TLOD, INFO_NLOD], &[FMT_GT, FMT_AD, FMT_AF, FMT_DP, FMT_F1R2, FMT_F2R1])
            }
        };
        lines.extend(info.iter().map(|s| (*s).to_string()));
        lines.extend(self.extra_info.iter().map(|d| definition("INFO", d)));
        lines.extend(format.iter().map(|s| (*s).to_string()));
        lines.extend(self.extra_format.iter().map(|d| definition("FORMAT", d)));
    }

    fn check(&self) -> Result<(), HeaderSpecError> {
        let err = |m: String| Err(HeaderSpecError(m));
        if self.contigs.is_empty() {
            return err("no contigs".into());
        }
        let mut names = BTreeSet::new();
        for c in &self.contigs {
            if !valid_contig_name(&c.name) {
                return err(format!("contig name {:?} is not allowed in VCF 4.2", c.name));
            }
            if !names.insert(c.name.as_str()) {
                return err(format!("contig {:?} listed twice", c.name));
            }
            if c.length == 0 || c.length > i32::MAX as u64 {
                return err(format!("contig {:?} has length {} (VCF needs 1..2^31-1)", c.name, c.length));
            }
            if c.checked_md5().is_none() {
                let md5 = c.md5.as_deref().unwrap_or_default();
                return err(format!("contig {:?} md5 {md5:?} is not 32 lower-case hex digits", c.name));
            }
        }
        if let Some(a) = &self.assembly {
            plain_token("assembly", a)?;
        }
        plain_token("source version", &self.source_version)?;
        if self.sample_names.is_empty() {
            return err("no sample".into());
        }
        let mut samples = BTreeSet::new();
        for s in &self.sample_names {
            plain_token("sample name", s)?;
            if !samples.insert(s.as_str()) {
                return err(format!("sample {s:?} listed twice"));
            }
        }
        if let VcfKind::Somatic { tumour, normal } = &self.kind {
            for s in [tumour, normal] {
                if !samples.contains(s.as_str()) {
                    return err(format!("somatic sample {s:?} is not among the samples"));
                }
            }
        }
        let mut ids = BTreeSet::new();
        for (id, description) in &self.filters {
            key_id("FILTER", id)?;
            if id == "PASS" || !ids.insert(id.as_str()) {
                return err(format!("FILTER {id:?} declared twice (PASS is built in)"));
            }
            description_text(id, description)?;
        }
        for d in self.extra_info.iter().chain(&self.extra_format) {
            key_id("INFO/FORMAT", &d.id)?;
            description_text(&d.id, &d.description)?;
            plain_token("Number", &d.number)?;
            plain_token("Type", &d.value_type)?;
        }
        Ok(())
    }
}

fn definition(kind: &str, d: &FieldDef) -> String {
    format!("##{kind}=<ID={},Number={},Type={},Description=\"{}\">", d.id, d.number, d.value_type, d.description)
}

/// VCF 4.2 contig ID: `[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*`.
fn valid_contig_name(name: &str) -> bool {
    let allowed = |b: u8, first: bool| {
        b.is_ascii_alphanumeric() || b"!#$%&+./:;?@^_|~-".contains(&b) || (!first && (b == b'*' || b == b'='))
    };
    let bytes = name.as_bytes();
    !bytes.is_empty() && allowed(bytes[0], true) && bytes[1..].iter().all(|&b| allowed(b, false))
}

fn plain_token(what: &str, value: &str) -> Result<(), HeaderSpecError> {
    if value.is_empty() || value.bytes().any(|b| b.is_ascii_whitespace() || b"<>,\"".contains(&b)) {
        return Err(HeaderSpecError(format!("{what} {value:?} must be non-empty, without blanks, `<>,\"`")));
    }
    Ok(())
}

fn key_id(what: &str, id: &str) -> Result<(), HeaderSpecError> {
    let ok = id.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if !ok {
        return Err(HeaderSpecError(format!("{what} ID {id:?} must match [A-Za-z_][0-9A-Za-z_.]*")));
    }
    Ok(())
}

fn description_text(id: &str, text: &str) -> Result<(), HeaderSpecError> {
    if text.bytes().any(|b| b == b'"' || b == b'\\' || b.is_ascii_control()) {
        return Err(HeaderSpecError(format!("description of {id:?} holds a quote, backslash or control character")));
    }
    Ok(())
}
