//! One process: every instance runs here, on a rayon pool of its own share of the thread
//! budget, several at once when the budget allows (see `engine::scheduler`).

use crate::engine::instance::{InstanceJob, InstanceOutcome, Participation, run_instance};
use crate::engine::run::{self, RunError, RunRequest, RunResult};
use crate::engine::runner::Runner;
use crate::engine::stage::{CancelFlag, Stage};

/// Runs instances in this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalRunner;

impl Runner for LocalRunner {
    fn run(&self, job: &InstanceJob) -> InstanceOutcome {
        run_instance(job, Participation::Alone)
    }
}

/// Runs a request in this process with signal handling: what `dagr run`, `dagr demo` and a
/// Slurm task do.
pub fn execute(request: &RunRequest, registry: &[&'static dyn Stage]) -> Result<RunResult, RunError> {
    let cancel = CancelFlag::default();
    crate::engine::signals::install(&cancel).map_err(RunError::Signals)?;
    run::run(request, registry, &LocalRunner, cancel)
}
