//! Human units on the command line and in YAML: sizes (`512M`, `8G`, `1.5GiB`) and durations
//! (`90s`, `30m`, `2h`, `1d`, `HH:MM:SS`, `D-HH:MM:SS` as Slurm writes them).

/// Parses a size; suffixes K/M/G/T (optionally followed by `B` or `iB`) are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size like 512M or 8G"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let multiplier: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}`: unknown size unit (use K, M, G or T)")),
    };
    let bytes = value * multiplier as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("`{text}` must be a positive size"));
    }
    Ok(bytes as u64)
}

/// Formats bytes as `--max-memory` reads them, rounded up: whole MiB below 10 GiB (`1530M`),
/// tenths of a GiB above (`17.3G`), so that the text parsed back is never less than `bytes`.
pub fn size_rounded_up(bytes: u64) -> String {
    if bytes < 10 << 30 {
        format!("{}M", bytes.div_ceil(1 << 20))
    } else {
        let tenths = (bytes as f64 * 10.0 / (1u64 << 30) as f64).ceil() as u64;
        format!("{}.{}G", tenths / 10, tenths % 10)
    }
}

/// A size as people read it: `{n} bytes` under a MiB, else [`size_rounded_up`].
pub fn size_for_humans(bytes: u64) -> String {
    if bytes < 1 << 20 { format!("{bytes} bytes") } else { size_rounded_up(bytes) }
}

/// Formats bytes the way Slurm's `--mem` reads them (whole MiB, `M` suffix).
pub fn slurm_mem(bytes: u64) -> String {
    format!("{}M", bytes.div_ceil(1 << 20))
}

/// Parses a duration into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a duration like 90s, 30m, 2h, 1d or HH:MM:SS");
    let too_long = || format!("`{text}` is longer than any time limit");
    if t.contains(':') {
        let (days, clock) = match t.split_once('-') {
            Some((d, rest)) => (d.parse::<u64>().map_err(|_| bad())?, rest),
            None => (0, t),
        };
        let parts: Vec<u64> =
            clock.split(':').map(|p| p.parse::<u64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
        let secs = match parts.as_slice() {
            [h, m, s] => {
                h.checked_mul(3600).and_then(|x| x.checked_add(m.checked_mul(60)?)).and_then(|x| x.checked_add(*s))
            }
            [m, s] => m.checked_mul(60).and_then(|x| x.checked_add(*s)),
            _ => return Err(bad()),
        };
        return secs.and_then(|s| days.checked_mul(86400)?.checked_add(s)).ok_or_else(too_long);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: u64 = number.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    if value == 0 {
        return Err(bad());
    }
    value.checked_mul(mult).ok_or_else(too_long)
}

/// Formats seconds as Slurm's `D-HH:MM:SS`.
pub fn slurm_time(seconds: u64) -> String {
    let (d, rest) = (seconds / 86400, seconds % 86400);
    format!("{d}-{:02}:{:02}:{:02}", rest / 3600, (rest % 3600) / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn rounded_sizes_parse_back_to_at_least_the_bytes() {
        for bytes in [1, 1 << 20, (1 << 20) + 1, 1_530_000_000, 10 << 30, (17 << 30) + 12345, 3_000_000_000_000] {
            let text = size_rounded_up(bytes);
            let back = parse_size(&text).unwrap();
            assert!(back >= bytes && back - bytes <= (1 << 30) / 5, "{bytes} → {text} → {back}");
        }
        assert_eq!(size_rounded_up(1_530_000_000), "1460M");
        assert_eq!(size_rounded_up(17 << 30), "17.0G");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("01:30:00").unwrap(), 5400);
        assert_eq!(parse_duration("1-00:00:10").unwrap(), 86410);
        assert!(parse_duration("soon").is_err());
        assert_eq!(slurm_time(86410), "1-00:00:10");
    }
}
