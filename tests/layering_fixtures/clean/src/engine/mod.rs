pub mod run;
pub mod stage;
pub trait Runner {}
