//! The in-process aligner (minimap2): index building and loading.
