//! CRAM indexes read as data: the compressed bytes of a CRAM's slices per 16 kb window
//! ([`window_bytes`]), where the calling stages expect their work, as [`super::bai::window_bytes`]
//! gives them for a BAM.
//!
//! A CRAI (CRAM spec, section 12) is gzip-compressed text, one line per slice and reference:
//! reference id, alignment start (1-based), alignment span, the container's byte offset, the
//! slice's offset in the container and the slice's size in bytes. A slice's size is spread over
//! the windows its span overlaps, in proportion to the overlap. Lines of unmapped reads (id -1)
//! weigh nothing. Cost: O(lines + windows).

use std::io::{self, Read};

/// Bases per window: the grain of a BAI's linear index, so that both kinds of index give the
/// same map.
const WINDOW: u64 = super::bai::LINEAR_WINDOW;

fn bad(line: usize, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a CRAI: line {line}: {what}"))
}

/// Bytes per 16 kb window, per reference id (up to the highest id the index names), from the
/// compressed bytes of a `.crai` file.
pub fn window_bytes(crai: &[u8]) -> io::Result<Vec<Vec<u64>>> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(crai).read_to_string(&mut text)?;
    let mut out: Vec<Vec<u64>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 6 {
            return Err(bad(n + 1, format_args!("{} fields, not 6", fields.len())));
        }
        let number =
            |i: usize| fields[i].trim().parse::<i64>().map_err(|e| bad(n + 1, format_args!("field {}: {e}", i + 1)));
        let (id, start, span, size) = (number(0)?, number(1)?, number(2)?, number(5)?);
        let (Ok(id), Ok(start), Ok(span), Ok(size)) =
            (usize::try_from(id), u64::try_from(start), u64::try_from(span), u64::try_from(size))
        else {
            continue; // unmapped or multi-reference placeholders carry no position
        };
        if span == 0 {
            continue;
        }
        let (from, to) = (start.saturating_sub(1), start.saturating_sub(1) + span);
        if out.len() <= id {
            out.resize(id + 1, Vec::new());
        }
        let windows = &mut out[id];
        let last = to.div_ceil(WINDOW) as usize;
        if windows.len() < last {
            windows.resize(last, 0);
        }
        let first = (from / WINDOW) as usize;
        let mut given = 0u64;
        for (w, bytes) in windows[first..last].iter_mut().enumerate().map(|(k, b)| (first + k, b)) {
            let (ws, we) = (w as u64 * WINDOW, (w as u64 + 1) * WINDOW);
            let overlap = we.min(to) - ws.max(from);
            // The last window takes the rounding remainder, so the slice's bytes are kept whole.
            let share = if w + 1 == last { size - given } else { size * overlap / span };
            *bytes += share;
            given += share;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn slice_bytes_spread_over_the_windows_they_span() {
        let w = WINDOW;
        // ref 0: a slice over the second window only, one over half of window 0 and half of
        // window 1; ref 2: a slice over 3 windows; unmapped slices weigh nothing.
        let text = format!(
            "0\t{}\t{}\t100\t10\t1000\n0\t{}\t{}\t2000\t10\t600\n2\t1\t{}\t3000\t10\t900\n-1\t0\t0\t4000\t10\t5000\n",
            w + 1,
            w,
            w / 2 + 1,
            w,
            3 * w
        );
        let map = window_bytes(&gz(&text)).unwrap();
        assert_eq!(map, vec![vec![300, 1300], vec![], vec![300, 300, 300]]);
        assert!(window_bytes(&gz("0\t1\t2\n")).is_err());
        assert!(window_bytes(b"not gzip").is_err());
    }
}
