pub fn germline() -> crate::vcf::Record {
    crate::vcf::Record
}
