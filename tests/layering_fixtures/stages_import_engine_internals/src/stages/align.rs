pub struct Align;
