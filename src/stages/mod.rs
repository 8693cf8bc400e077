//! Stage kinds: each file adapts one domain module to the engine's [`Stage`] trait.

pub mod align;
pub mod call_germline;
pub mod call_somatic;
mod calling;
pub mod fastq_intake;
mod pair_progress;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The minimap2 version in every shipped pipeline's cache keys is the linked library's, read
    /// in one place (`align::minimap2_version`), the same the reference cache records.
    #[test]
    fn shipped_pipelines_key_on_the_linked_minimap2_and_htslib() {
        for (name, _) in crate::engine::spec::SHIPPED {
            let pipeline = crate::engine::pipeline::load(name, &registry()).unwrap();
            assert_eq!(pipeline.tools.get("minimap2"), Some(&crate::align::minimap2_version()), "{name}");
            assert!(pipeline.tools.contains_key("htslib"), "{name}");
        }
    }
}
