//! Forbidden: genome -> engine through `super` chains (lines 3 and 7, the second in an inline module).
use self::inner::X;
use super::super::engine::samplesheet::Sex;
mod inner {
    pub struct X;
    #[allow(unused)]
    use super::super::super::engine::Y;
}
