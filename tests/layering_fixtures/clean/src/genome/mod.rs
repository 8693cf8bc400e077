pub struct Contig;
pub const BUILT_BY: &str = crate::VERSION;
#[cfg(test)]
#[path = "scan_tests.rs"]
mod scan_tests;
