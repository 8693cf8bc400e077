pub struct LocalRunner;
impl crate::engine::Runner for LocalRunner {}
