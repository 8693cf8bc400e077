pub struct CalledVariant;
