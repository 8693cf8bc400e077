pub const FAILURE: u8 = 1;
