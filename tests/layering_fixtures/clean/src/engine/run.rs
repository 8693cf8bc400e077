use super::stage::Stage;
pub fn validate(_registry: Vec<Box<dyn Stage>>) -> Result<(), crate::outcome::Failure> { Ok(()) }
