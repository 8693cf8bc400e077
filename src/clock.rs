//! Time as dagr writes it: UTC timestamps for reports and status files, and the one place that
//! reads `SOURCE_DATE_EPOCH` (reproducible builds' convention) for dates written into outputs.
//!
//! Domain writers never read the clock: the engine computes a run's output date once
//! ([`output_date_epoch`]) and hands it to stages, which pass it to the writers as a value.

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn utc_timestamp(epoch_seconds: u64) -> String {
    let (year, month, day) = civil_date(epoch_seconds);
    let secs = epoch_seconds % 86400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// The UTC calendar date of an epoch second as (year, month, day).
pub fn civil_date(epoch_seconds: u64) -> (i64, i64, i64) {
    let days = (epoch_seconds / 86400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds since the epoch by the wall clock (for report timestamps).
pub fn wall_clock_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The date written into outputs (VCF `##fileDate`): `SOURCE_DATE_EPOCH` when set, else now.
pub fn output_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or_else(wall_clock_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_651_200), "2026-11-26T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
    }
}
