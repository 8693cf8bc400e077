pub struct Record;
