//! Allowed: the stage contract and its submodules (lines 3-4). Forbidden: engine::scheduler (line 5).
pub mod align;
use crate::engine::stage::Stage;
use crate::engine::stage::params::Params;
use crate::engine::scheduler::Plan;
