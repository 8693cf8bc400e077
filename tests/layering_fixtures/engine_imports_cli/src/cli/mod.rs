pub mod exit;
use crate::engine::report::RunStatus; // allowed: cli -> engine
use crate::exec::local; // allowed: cli -> exec
