//! Stage kinds: each file adapts one domain module to the engine's [`Stage`] trait.

pub mod align;
pub mod call_germline;
pub mod call_somatic;
mod calling;
pub mod fastq_intake;
pub mod prepare_reference;

use crate::engine::stage::Stage;

/// Every stage kind dagr ships, for lookup by the name used in pipeline YAML.
pub fn registry() -> Vec<&'static dyn Stage> {
    vec![
        &prepare_reference::PrepareReference,
        &fastq_intake::FastqIntake,
        &align::Align,
        &call_germline::CallGermline,
        &call_somatic::CallSomatic,
    ]
}

/// The stage kind called `kind`, if it exists.
pub fn lookup(kind: &str) -> Option<&'static dyn Stage> {
    registry().into_iter().find(|s| s.kind() == kind)
}
