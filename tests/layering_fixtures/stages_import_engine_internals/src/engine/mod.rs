pub mod scheduler;
pub mod stage;
