use crate::engine::Runner;
