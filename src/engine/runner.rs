//! The execution seam: the scheduler hands each ready instance to a [`Runner`] and never names a
//! backend. `exec::local::LocalRunner` runs instances in this process; `exec::mpi`'s leader
//! runner also has the other ranks of an MPI job take part in distributed stages. Both run the
//! instance itself through [`super::instance::run_instance`]. (Slurm is a launcher one level up:
//! each array task is a whole `dagr run` with its own runner.)

use super::instance::{InstanceJob, InstanceOutcome};

/// Runs stage instances for the scheduler.
pub trait Runner: Sync {
    /// Runs one instance to its end; called on a scheduler thread, possibly several at once
    /// (unless [`Runner::one_at_a_time`]).
    fn run(&self, job: &InstanceJob) -> InstanceOutcome;

    /// Whether instances must run strictly one after another (an MPI job: every rank takes part
    /// in distributed instances in the same order).
    fn one_at_a_time(&self) -> bool {
        false
    }

    /// Ranks of the MPI job this runner drives, for the run report; `None` in one process.
    fn mpi_ranks(&self) -> Option<usize> {
        None
    }
}
