//! Test-only fault injection, read from the environment once per run (see [`FaultPlan`]).

use crate::outcome::{Classify, Failure};

/// A malformed `DAGR_FAULT_INJECT` or `DAGR_FAULT_RANK` (bad usage: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FaultPlanError {
    #[error("DAGR_FAULT_INJECT: `{0}` is not <stage>:<point>:<fail|abort|sigterm|hang|delay>[:<entity>]")]
    Rule(String),
    #[error("DAGR_FAULT_INJECT: unknown action `{action}` in `{rule}`")]
    Action { action: String, rule: String },
    #[error("DAGR_FAULT_RANK: `{0}` is not a rank number")]
    Rank(String),
}

impl Classify for FaultPlanError {
    fn failure(&self) -> Failure {
        Failure::BadInput
    }
}

/// Test-only fault injection: `DAGR_FAULT_INJECT=<stage>:<point>:<action>[:<entity>]`, where
/// action is `fail` (the stage returns an error), `abort` (the process dies on the spot, like a
/// node failure or SIGKILL), `sigterm` (the process sends itself SIGTERM), `hang` (the
/// process stops answering) or `delay` (10 s of sleep, then on: a slow stage). Under `--mpi`, `DAGR_FAULT_RANK=<n>` limits the faults to rank `n`. Stages call
/// [`StageContext::fault_point`] at named points; with the variable unset nothing happens.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub rules: Vec<FaultRule>,
    /// `DAGR_FAULT_RANK=<n>`: under `--mpi`, only rank `n` hits the faults.
    pub only_rank: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub stage: String,
    pub point: String,
    pub action: FaultAction,
    pub entity: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    Fail,
    Abort,
    Sigterm,
    /// Stops answering (sleeps for good), like a hung node: for the MPI timeout tests.
    Hang,
    /// Sleeps 10 s, then goes on: a slow stage.
    Delay,
}

impl FaultPlan {
    pub const ENV: &'static str = "DAGR_FAULT_INJECT";
    pub const RANK_ENV: &'static str = "DAGR_FAULT_RANK";

    /// Reads [`FaultPlan::ENV`]; several rules separated by `,`. Malformed rules are an error.
    pub fn from_env() -> Result<Self, FaultPlanError> {
        let mut plan = match std::env::var(Self::ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v)?,
            _ => Self::default(),
        };
        if let Ok(rank) = std::env::var(Self::RANK_ENV)
            && !rank.trim().is_empty()
        {
            plan.only_rank = Some(rank.trim().parse().map_err(|_| FaultPlanError::Rank(rank.clone()))?);
        }
        Ok(plan)
    }

    pub fn parse(spec: &str) -> Result<Self, FaultPlanError> {
        let mut rules = Vec::new();
        for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let parts: Vec<&str> = rule.split(':').collect();
            if parts.len() < 3 || parts.len() > 4 {
                return Err(FaultPlanError::Rule(rule.to_string()));
            }
            let action = match parts[2] {
                "fail" => FaultAction::Fail,
                "abort" => FaultAction::Abort,
                "sigterm" => FaultAction::Sigterm,
                "hang" => FaultAction::Hang,
                "delay" => FaultAction::Delay,
                other => return Err(FaultPlanError::Action { action: other.to_string(), rule: rule.to_string() }),
            };
            rules.push(FaultRule {
                stage: parts[0].to_string(),
                point: parts[1].to_string(),
                action,
                entity: parts.get(3).map(|s| s.to_string()),
            });
        }
        Ok(Self { rules, only_rank: None })
    }

    pub(super) fn matching(&self, stage: &str, point: &str, entity: &str) -> Option<FaultAction> {
        self.rules
            .iter()
            .find(|r| r.stage == stage && r.point == point && r.entity.as_deref().is_none_or(|e| e == entity))
            .map(|r| r.action)
    }
}
