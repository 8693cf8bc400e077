//! One sample over several processes (MPI ranks): the collective operations a distributed stage
//! needs, behind the [`Cluster`] trait, so stages do not depend on MPI (the backend,
//! [`mpi_backend`], is compiled only with the cargo feature `mpi`).
//!
//! Protocol, all ranks in lockstep: every collective call is made by every rank in the same
//! order. A rank that fails does not leave the others waiting: it still takes part in the next
//! [`Cluster::agree`], which tells every rank that rank *n* failed and why, and every rank
//! returns that error (bad input, runtime failure or interruption, as the failing rank saw it).
//! A rank that dies or hangs is caught by the backend's timeout on every wait, which aborts the
//! whole job with a message naming the waiting rank and the step.
//!
//! Messages: [`Cluster::exchange`] moves one byte buffer per (source, destination) in rounds of
//! at most [`ROUND_BYTES`] per message, whatever the total, so no MPI count overflows 2 GiB.

#[cfg(feature = "mpi")]
pub mod mpi_backend;

use crate::engine::stage::StageError;

/// Largest single message of an exchange round (well under MPI's 2 GiB count limit).
pub const ROUND_BYTES: usize = 256 << 20;

/// How a rank ended a step, as [`Cluster::agree`] shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Outcome {
    Ok = 0,
    BadInput = 1,
    Runtime = 2,
    Interrupted = 3,
}

impl Outcome {
    pub fn of<T>(result: &Result<T, StageError>) -> (Outcome, String) {
        match result {
            Ok(_) => (Outcome::Ok, String::new()),
            Err(StageError::BadInput(m)) => (Outcome::BadInput, m.clone()),
            Err(StageError::Runtime(m)) => (Outcome::Runtime, m.clone()),
            Err(StageError::Interrupted) => (Outcome::Interrupted, "interrupted by a signal".into()),
        }
    }
    pub fn from_u8(v: u8) -> Outcome {
        match v {
            0 => Outcome::Ok,
            1 => Outcome::BadInput,
            3 => Outcome::Interrupted,
            _ => Outcome::Runtime,
        }
    }
}

/// The collective operations of one job's ranks. Every method must be called by every rank, in
/// the same order; `what` names the step for timeout messages.
pub trait Cluster: Send + Sync {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;

    /// Shares every rank's outcome of a step. `Ok` when all ranks succeeded; otherwise the first
    /// failing rank's error (lowest rank), its message prefixed with `rank <n>`, on every rank.
    fn agree_outcome(&self, what: &str, outcome: Outcome, message: &str) -> Result<(), StageError>;

    /// Lets the next wait that waits for other ranks (not a data transfer) last `extra` longer
    /// than the timeout: rank 0 is about to work alone for up to that long.
    fn allow_next_wait(&self, extra: std::time::Duration) {
        let _ = extra;
    }

    /// Ends every rank of the job now (after an internal error that leaves the ranks out of step).
    fn abort(&self, message: &str) -> !;

    /// All-to-all: `outgoing[d]` goes to rank `d`; returns what each rank sent here, by source.
    fn exchange(&self, what: &str, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, StageError>;
}

/// Object-safe helpers over any cluster.
impl dyn Cluster + '_ {
    /// [`Cluster::agree_outcome`] for a result; `Ok(value)` only when every rank succeeded.
    pub fn agree<T>(&self, what: &str, result: Result<T, StageError>) -> Result<T, StageError> {
        let (outcome, message) = Outcome::of(&result);
        self.agree_outcome(what, outcome, &message)?;
        result
    }

    /// Every rank's buffer at rank 0 (in rank order); other ranks get an empty list.
    pub fn gather(&self, what: &str, data: Vec<u8>) -> Result<Vec<Vec<u8>>, StageError> {
        let mut outgoing = vec![Vec::new(); self.size()];
        outgoing[0] = data;
        let got = self.exchange(what, outgoing)?;
        Ok(if self.rank() == 0 { got } else { Vec::new() })
    }

    /// Every rank's buffer on every rank, in rank order.
    pub fn all_gather(&self, what: &str, data: Vec<u8>) -> Result<Vec<Vec<u8>>, StageError> {
        let outgoing = vec![data; self.size()];
        self.exchange(what, outgoing)
    }

    /// Rank 0's buffer on every rank (what other ranks pass is ignored).
    pub fn broadcast(&self, what: &str, data: Vec<u8>) -> Result<Vec<u8>, StageError> {
        let outgoing = if self.rank() == 0 { vec![data; self.size()] } else { vec![Vec::new(); self.size()] };
        let mut got = self.exchange(what, outgoing)?;
        Ok(std::mem::take(&mut got[0]))
    }
}

/// Serializes a message between ranks (postcard: compact, no schema drift within one binary).
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StageError> {
    postcard::to_stdvec(value).map_err(|e| StageError::Runtime(format!("internal: cannot encode a rank message: {e}")))
}

/// The inverse of [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StageError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StageError::Runtime(format!("internal: a rank message ({what}) does not decode: {e}")))
}

/// The message sizes of each round for `total` bytes: full rounds of [`ROUND_BYTES`] then the rest.
pub fn round_count(max_total: usize, round_bytes: usize) -> usize {
    max_total.div_ceil(round_bytes.max(1)).max(1)
}

/// The part of a `total`-byte buffer sent in round `round` (0-based) with `round_bytes` per round.
pub fn round_slice(total: usize, round: usize, round_bytes: usize) -> std::ops::Range<usize> {
    let start = (round * round_bytes).min(total);
    let end = ((round + 1) * round_bytes).min(total);
    start..end
}

/// Formats the first failing rank's error the same way on every rank.
pub fn rank_error(outcomes: &[(Outcome, String)]) -> Option<StageError> {
    let failed: Vec<usize> = (0..outcomes.len()).filter(|&r| outcomes[r].0 != Outcome::Ok).collect();
    let &first = failed.first()?;
    let others = if failed.len() > 1 {
        let list: Vec<String> = failed[1..].iter().map(|r| r.to_string()).collect();
        format!(" (ranks {} failed too)", list.join(", "))
    } else {
        String::new()
    };
    let (outcome, message) = &outcomes[first];
    Some(match outcome {
        Outcome::Interrupted => StageError::Interrupted,
        Outcome::BadInput => StageError::BadInput(format!("rank {first}: {message}{others}")),
        _ => StageError::Runtime(format!("rank {first}: {message}{others}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_cover_every_byte_once() {
        let total = 10;
        let parts: Vec<_> = (0..round_count(total, 4)).map(|r| round_slice(total, r, 4)).collect();
        assert_eq!(parts, vec![0..4, 4..8, 8..10]);
        assert_eq!(round_count(0, 4), 1);
        assert_eq!(round_slice(0, 0, 4), 0..0);
        assert_eq!(round_slice(3, 2, 4), 3..3);
    }

    #[test]
    fn first_failing_rank_is_named() {
        let ok = (Outcome::Ok, String::new());
        assert!(rank_error(&[ok.clone(), ok.clone()]).is_none());
        let e = rank_error(&[ok.clone(), (Outcome::Runtime, "disk full".into()), (Outcome::BadInput, "x".into())]);
        assert_eq!(e.unwrap().to_string(), "rank 1: disk full (ranks 2 failed too)");
        let e = rank_error(&[(Outcome::BadInput, "truncated R2".into()), ok]);
        assert!(matches!(e, Some(StageError::BadInput(m)) if m == "rank 0: truncated R2"));
    }
}
