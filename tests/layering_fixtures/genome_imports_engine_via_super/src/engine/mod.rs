pub mod samplesheet;
pub struct Y;
