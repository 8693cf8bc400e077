//! [`Cluster`] over MPI (rsmpi, OpenMPI or any MPI-3 library): `dagr run --mpi` under `mpirun`
//! or `srun --mpi=pmix`.
//!
//! Every collective is a non-blocking MPI-3 call (`MPI_Iallgather`, `MPI_Ialltoallv`) completed
//! by polling `MPI_Test`, so that (a) every wait has a deadline (`--mpi-timeout`): past it the
//! rank prints which step it was waiting in and calls `MPI_Abort`, which ends every rank of the
//! job; (b) a rank waiting for slower ranks naps between polls and does not spin a core that a
//! busy rank on the same node needs (oversubscribed runs). Once every rank is in an exchange
//! (its size all-gather met them all), the data rounds are polled without naps: MPI moves a
//! large message only while it is polled.
//!
//! MPI is initialized with `MPI_THREAD_SERIALIZED`: stages call collectives from their own
//! thread, one stage at a time, and a mutex here makes the calls of one process strictly
//! sequential whatever the caller does.

use super::{ROUND_BYTES, round_count, round_slice};
use crate::engine::stage::StageError;
use crate::engine::stage::cluster::{Cluster, outcome_code, outcome_from_code, rank_error};
use crate::outcome::{Classify, Failure};
use mpi::Count;
use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Exit status of every rank when a wait times out (`MPI_Abort`'s error code).
pub const TIMEOUT_EXIT: i32 = 1;

/// The world communicator of this job.
pub struct MpiCluster {
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    timeout: Duration,
    /// Seconds the next idle wait may last beyond `timeout` ([`Cluster::allow_next_wait`]).
    next_wait_extra: AtomicU64,
}

// SAFETY: the communicator is a handle to MPI_COMM_WORLD; MPI was initialized with at least
// MPI_THREAD_SERIALIZED (checked in `init`) and every use goes through the mutex, so no two
// threads of this process are ever inside MPI at once.
unsafe impl Send for MpiCluster {}
unsafe impl Sync for MpiCluster {}

/// MPI could not be started as dagr needs it (a runtime failure: the job's environment).
#[derive(Debug, thiserror::Error)]
pub enum MpiInitError {
    #[error("MPI could not be initialized (already initialized in this process)")]
    AlreadyInitialized,
    #[error("the MPI library offers thread level {0}; dagr needs MPI_THREAD_SERIALIZED or better")]
    ThreadLevel(String),
}

impl Classify for MpiInitError {
    fn failure(&self) -> Failure {
        Failure::Runtime
    }
}

/// Initializes MPI. Keep the [`Universe`] alive until the end of the program (dropping it
/// finalizes MPI).
pub fn init(timeout: Duration) -> Result<(Universe, MpiCluster), MpiInitError> {
    let (universe, threading) =
        mpi::initialize_with_threading(mpi::Threading::Serialized).ok_or(MpiInitError::AlreadyInitialized)?;
    if matches!(threading, mpi::Threading::Single | mpi::Threading::Funneled) {
        return Err(MpiInitError::ThreadLevel(format!("{threading:?}")));
    }
    let world = universe.world();
    let rank = usize::try_from(world.rank()).unwrap_or(0);
    let size = usize::try_from(world.size()).unwrap_or(1);
    Ok((universe, MpiCluster { world: Mutex::new(world), rank, size, timeout, next_wait_extra: AtomicU64::new(0) }))
}

impl MpiCluster {
    /// Polls `req` until it completes; past the timeout, aborts the whole job. `Idle` naps
    /// between polls (waiting for ranks still at work); `Busy` only yields (all ranks are in the
    /// call and data is moving: MPI progresses a transfer only while it is polled).
    fn wait<'a, D: ?Sized, S: mpi::request::Scope<'a>>(
        &self,
        world: &SimpleCommunicator,
        mut req: mpi::request::Request<'a, D, S>,
        what: &str,
        polling: Polling,
    ) {
        let start = Instant::now();
        let mut nap = Duration::from_micros(20);
        let limit = match polling {
            Polling::Idle => self.timeout + Duration::from_secs(self.next_wait_extra.swap(0, Ordering::Relaxed)),
            Polling::Busy => self.timeout,
        };
        loop {
            match req.test() {
                Ok(_) => return,
                Err(pending) => req = pending,
            }
            if polling == Polling::Busy {
                std::thread::yield_now();
                if start.elapsed() <= limit {
                    continue;
                }
            }
            if start.elapsed() > limit {
                eprintln!(
                    "error: rank {} of {}: no answer from the other ranks within {} s while {what}: a rank died, \
                     hung or is far behind (raise --mpi-timeout if the work is just slow); aborting the whole job",
                    self.rank,
                    self.size,
                    limit.as_secs()
                );
                world.abort(TIMEOUT_EXIT);
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimpleCommunicator> {
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How [`MpiCluster::wait`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polling {
    Idle,
    Busy,
}

fn count(n: usize) -> Count {
    Count::try_from(n).expect("round sizes stay under 2 GiB by construction")
}

impl Cluster for MpiCluster {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn agree_outcome(&self, what: &str, outcome: Option<Failure>, message: &str) -> Result<(), StageError> {
        let mine = [outcome_code(outcome)];
        let mut all = vec![0u8; self.size];
        {
            let world = self.lock();
            mpi::request::scope(|scope| {
                let req = world.immediate_all_gather_into(scope, &mine[..], &mut all[..]);
                self.wait(&world, req, what, Polling::Idle);
            });
        }
        if all.iter().all(|&o| outcome_from_code(o).is_none()) {
            return Ok(());
        }
        let messages = self.exchange(what, vec![message.as_bytes().to_vec(); self.size])?;
        let outcomes: Vec<(Option<Failure>, String)> = all
            .iter()
            .zip(messages)
            .map(|(&o, m)| (outcome_from_code(o), String::from_utf8_lossy(&m).into_owned()))
            .collect();
        Err(rank_error(&outcomes).unwrap_or_else(|| StageError::runtime("internal: inconsistent rank outcomes")))
    }

    fn allow_next_wait(&self, extra: Duration) {
        self.next_wait_extra.store(extra.as_secs(), Ordering::Relaxed);
    }

    fn abort(&self, message: &str) -> ! {
        eprintln!("error: rank {} of {}: {message}; aborting the whole job", self.rank, self.size);
        self.lock().abort(TIMEOUT_EXIT)
    }

    fn exchange(&self, what: &str, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, StageError> {
        let size = self.size;
        if outgoing.len() != size {
            return Err(StageError::runtime(format!(
                "internal: exchange of {} buffers among {size} ranks",
                outgoing.len()
            )));
        }
        let world = self.lock();
        // 1. Every rank learns every buffer's size (row = source, column = destination).
        let row: Vec<u64> = outgoing.iter().map(|b| b.len() as u64).collect();
        let mut matrix = vec![0u64; size * size];
        mpi::request::scope(|scope| {
            let req = world.immediate_all_gather_into(scope, &row[..], &mut matrix[..]);
            self.wait(&world, req, what, Polling::Idle);
        });
        // 2. Rounds of at most ROUND_BYTES in all per rank and round (per peer: a share of it).
        let per_peer = (ROUND_BYTES / size).max(1 << 20);
        let largest = matrix.iter().copied().max().unwrap_or(0) as usize;
        let rounds = round_count(largest, per_peer);
        let me = self.rank;
        let mut incoming: Vec<Vec<u8>> =
            (0..size).map(|s| Vec::with_capacity(matrix[s * size + me] as usize)).collect();
        for round in 0..rounds {
            let mut send = Vec::new();
            let (mut send_counts, mut send_displs) = (vec![0 as Count; size], vec![0 as Count; size]);
            for (d, buffer) in outgoing.iter().enumerate() {
                let part = round_slice(buffer.len(), round, per_peer);
                send_displs[d] = count(send.len());
                send_counts[d] = count(part.len());
                send.extend_from_slice(&buffer[part]);
            }
            let (mut recv_counts, mut recv_displs) = (vec![0 as Count; size], vec![0 as Count; size]);
            let mut total = 0usize;
            for s in 0..size {
                let part = round_slice(matrix[s * size + me] as usize, round, per_peer);
                recv_displs[s] = count(total);
                recv_counts[s] = count(part.len());
                total += part.len();
            }
            // One spare byte each, never sent: OpenMPI refuses two empty buffers because their
            // dangling pointers compare equal (it takes them for one aliased buffer).
            send.push(0);
            let mut recv = vec![0u8; total + 1];
            {
                let send_part = Partition::new(&send[..], &send_counts[..], &send_displs[..]);
                let mut recv_part = PartitionMut::new(&mut recv[..], &recv_counts[..], &recv_displs[..]);
                mpi::request::scope(|scope| {
                    // Every rank is here (the size exchange above met them all): move the data.
                    let req = world.immediate_all_to_all_varcount_into(scope, &send_part, &mut recv_part);
                    self.wait(&world, req, what, Polling::Busy);
                });
            }
            for s in 0..size {
                let start = recv_displs[s] as usize;
                incoming[s].extend_from_slice(&recv[start..start + recv_counts[s] as usize]);
            }
        }
        Ok(incoming)
    }
}
