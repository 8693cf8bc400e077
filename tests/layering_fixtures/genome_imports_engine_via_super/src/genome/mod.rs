pub mod ploidy;
