pub struct Contig;
