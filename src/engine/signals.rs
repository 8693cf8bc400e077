//! SIGINT, SIGTERM, SIGUSR1 (Slurm's warning before preemption) and SIGHUP (a lost terminal or
//! ssh session) set the run's cancel flag;
//! stages stop at their next batch, the engine marks the report interrupted and exits 3. A second
//! SIGINT while already cancelling ends the process at once (exit 130).

use super::stage::CancelFlag;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

/// Installs the handlers for `flag`. Returns the signals' registration error, if any.
pub fn install(flag: &CancelFlag) -> std::io::Result<()> {
    let atomic = flag.0.clone();
    // Order matters: the conditional shutdown sees the flag before this SIGINT sets it.
    signal_hook::flag::register_conditional_shutdown(SIGINT, 130, atomic.clone())?;
    for sig in [SIGINT, SIGTERM, SIGUSR1, SIGHUP] {
        signal_hook::flag::register(sig, atomic.clone())?;
    }
    Ok(())
}
