//! Where stage instances run. `local`: in this process, on a rayon pool per instance.

pub mod local;
pub mod slurm;
