//! Test code: not checked, but walked (its submodule counts as reached).
mod fixture;
use crate::call::germline;
