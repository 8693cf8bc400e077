//! Read names: the one hash dagr keys reads by (duplicate-marking tie-breaks, deterministic
//! downsampling in the callers), so every module that needs it agrees on the same value, and
//! the platform unit an Illumina name carries.

/// FNV-1a 64-bit hash of a read name: stable across platforms, versions and runs.
pub fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The platform unit (`PU`) an Illumina/Casava 1.8 read name gives
/// (`instrument:run:flowcell:lane:tile:x:y` → `flowcell.lane`); `None` for other names.
pub fn platform_unit(name: &[u8]) -> Option<String> {
    let fields: Vec<&[u8]> = name.split(|&b| b == b':').collect();
    if fields.len() >= 7
        && let (Ok(flowcell), Ok(lane)) = (std::str::from_utf8(fields[2]), std::str::from_utf8(fields[3]))
        && !flowcell.is_empty()
        && lane.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(format!("{flowcell}.{lane}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illumina_names_give_flowcell_and_lane() {
        assert_eq!(platform_unit(b"GERM:1:HBENCHXX:3:1143:20184:9274").as_deref(), Some("HBENCHXX.3"));
        assert_eq!(platform_unit(b"read42"), None);
    }

    #[test]
    fn fnv1a_reference_values() {
        assert_eq!(name_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
