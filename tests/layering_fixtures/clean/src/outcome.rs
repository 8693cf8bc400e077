pub enum Failure { BadInput, Runtime }
