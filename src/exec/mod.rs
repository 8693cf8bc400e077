//! Where stage instances run.
