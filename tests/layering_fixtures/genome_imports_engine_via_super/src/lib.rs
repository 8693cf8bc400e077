pub mod engine;
pub mod genome;
