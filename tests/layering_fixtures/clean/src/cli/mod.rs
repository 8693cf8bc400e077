use crate::{engine::run::validate, exec::local::LocalRunner, stages::registry};
pub fn run() {
    let _ = (validate(registry()), LocalRunner, crate::vcf::Record, crate::outcome::Failure::Runtime);
}
