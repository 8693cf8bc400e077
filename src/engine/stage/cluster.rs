//! The collectives a distributed stage may use when one instance runs over the ranks of an MPI
//! job ([`Cluster`]), so that stages never depend on MPI: the backend (`exec::mpi`) implements
//! the trait, compiled only with the cargo feature `mpi`.
//!
//! Protocol, all ranks in lockstep: every collective call is made by every rank in the same
//! order. A rank that fails does not leave the others waiting: it still takes part in the next
//! [`agree`](Cluster::agree_outcome), which tells every rank that rank *n* failed and why, and every
//! rank returns that error with the failing rank's class (bad input, runtime failure or
//! interruption). A rank that dies or hangs is caught by the backend's timeout on every wait,
//! which aborts the whole job with a message naming the waiting rank and the step.
//!
//! On the wire a rank's outcome is its exit code ([`outcome_code`]): 0 for success, else
//! [`Failure::exit_code`], so every encoding agrees with the documented exit codes.

use super::StageError;
use crate::outcome::{Classify, Failure, SUCCESS};

/// The collective operations of one job's ranks. Every method must be called by every rank, in
/// the same order; `what` names the step for timeout messages.
pub trait Cluster: Send + Sync {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;

    /// Shares every rank's outcome of a step (`None`: it succeeded). `Ok` when all ranks
    /// succeeded; otherwise the first failing rank's error (lowest rank) on every rank, see
    /// [`rank_error`].
    fn agree_outcome(&self, what: &str, outcome: Option<Failure>, message: &str) -> Result<(), StageError>;

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
        let (outcome, message) = match &result {
            Ok(_) => (None, String::new()),
            Err(e) => (Some(e.failure()), e.chain()),
        };
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

/// A rank's outcome as one byte: 0 for success, else the failure's exit code.
pub fn outcome_code(outcome: Option<Failure>) -> u8 {
    outcome.map_or(SUCCESS, Failure::exit_code)
}

/// The inverse of [`outcome_code`].
pub fn outcome_from_code(code: u8) -> Option<Failure> {
    Failure::from_exit_code(code)
}

/// Serializes a message between ranks (postcard: compact, no schema drift within one binary).
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StageError> {
    postcard::to_stdvec(value)
        .map_err(|e| StageError::because(Failure::Runtime, "internal: cannot encode a rank message", e))
}

/// The inverse of [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StageError> {
    postcard::from_bytes(bytes).map_err(|e| {
        StageError::because(Failure::Runtime, format!("internal: a rank message ({what}) does not decode"), e)
    })
}

/// The first failing rank's failure, as every rank reports it.
#[derive(Debug, thiserror::Error)]
#[error("rank {rank}: {message}{}", others_text(.others))]
pub struct RankFailed {
    pub failure: Failure,
    pub rank: usize,
    /// The failing rank's error with its causes.
    pub message: String,
    /// Other ranks that failed in the same step.
    pub others: Vec<usize>,
}

fn others_text(others: &[usize]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let list: Vec<String> = others.iter().map(|r| r.to_string()).collect();
    format!(" (ranks {} failed too)", list.join(", "))
}

impl Classify for RankFailed {
    fn failure(&self) -> Failure {
        self.failure
    }
}

/// The error of the first failing rank, formatted the same way on every rank; `None` when every
/// rank succeeded. An interruption stays an interruption (every rank stops for `--resume`).
pub fn rank_error(outcomes: &[(Option<Failure>, String)]) -> Option<StageError> {
    let failed: Vec<usize> = (0..outcomes.len()).filter(|&r| outcomes[r].0.is_some()).collect();
    let &first = failed.first()?;
    let (outcome, message) = &outcomes[first];
    let failure = (*outcome)?;
    if failure == Failure::Interrupted {
        return Some(StageError::interrupted());
    }
    Some(StageError::from(RankFailed { failure, rank: first, message: message.clone(), others: failed[1..].to_vec() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_failing_rank_is_named() {
        let ok = (None, String::new());
        assert!(rank_error(&[ok.clone(), ok.clone()]).is_none());
        let e = rank_error(&[
            ok.clone(),
            (Some(Failure::Runtime), "disk full".into()),
            (Some(Failure::BadInput), "x".into()),
        ])
        .unwrap();
        assert_eq!(e.to_string(), "rank 1: disk full (ranks 2 failed too)");
        assert_eq!(e.failure(), Failure::Runtime);
        let e = rank_error(&[(Some(Failure::BadInput), "truncated R2".into()), ok]).unwrap();
        assert_eq!(e.failure(), Failure::BadInput);
        assert_eq!(e.to_string(), "rank 0: truncated R2");
    }

    #[test]
    fn outcomes_travel_as_exit_codes() {
        assert_eq!(outcome_code(None), 0);
        assert_eq!(outcome_code(Some(Failure::BadInput)), 2);
        assert_eq!(outcome_code(Some(Failure::Runtime)), 1);
        for f in [None, Some(Failure::BadInput), Some(Failure::Runtime), Some(Failure::Interrupted)] {
            assert_eq!(outcome_from_code(outcome_code(f)), f);
        }
    }
}
