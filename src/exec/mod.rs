//! Where stage instances run, one module per backend behind the engine's
//! [`Runner`](crate::engine::runner::Runner) seam:
//! - [`local`]: in this process, on a rayon pool per instance;
//! - [`mpi`]: one run over the ranks of an MPI job (rank 0 leads, the others serve);
//! - [`slurm`]: many samples as Slurm job arrays, each task a whole run of its own.

pub mod local;
pub mod mpi;
pub mod slurm;
