use crate::engine::run::validate;
