//! Typed 1-based positions and regions; BED reading (0-based half-open converted here, once).
