pub mod local;
use crate::engine::report::RunStatus; // allowed: exec -> engine
