pub mod params;
pub trait Stage {}
