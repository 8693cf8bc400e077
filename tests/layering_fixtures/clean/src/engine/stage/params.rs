pub struct Params;
