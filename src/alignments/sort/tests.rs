use super::*;
use rust_htslib::bam::record::{Aux, Cigar, CigarString};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// A deterministic pseudo-random stream (xorshift64*), so tests need no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A record with every field set: name, CIGAR, sequence, qualities, aux tags, flags, mate fields.
pub(crate) fn full_record(i: u64, key: &SortKey) -> Record {
    let mut r = Record::new();
    let name = format!("A00217:76:HFLT3DSXX:1:1104:{}:{}", i % 10_000, i);
    let cigar = CigarString(vec![Cigar::SoftClip(3), Cigar::Match(20), Cigar::Del(2), Cigar::Match(7)]);
    let bases = b"ACGTNACGTTGCAACGTACGTACCGTAGGCA";
    let seq = &bases[..30];
    let qual: Vec<u8> = (0..30).map(|q| ((q as u64 + i) % 41) as u8).collect();
    r.set(name.as_bytes(), Some(&cigar), seq, &qual);
    r.set_tid(if key.tid == SortKey::UNPLACED { -1 } else { key.tid as i32 });
    r.set_pos(key.pos);
    r.set_mapq((i % 61) as u8);
    r.set_flags(0x1 | 0x2 | if key.reverse { 0x10 } else { 0x20 } | if key.rank == 0 { 0x40 } else { 0x80 });
    r.set_mtid(key.tid as i32 % 3);
    r.set_mpos(key.pos + 250);
    r.set_insert_size(-(i as i64 % 700));
    r.push_aux(b"NM", Aux::U8(2)).unwrap();
    r.push_aux(b"AS", Aux::I32(-(i as i32))).unwrap();
    r.push_aux(b"MC", Aux::String("30M")).unwrap();
    r.push_aux(b"RG", Aux::String("lane1")).unwrap();
    r
}

fn random_keys(n: usize, seed: u64) -> Vec<SortKey> {
    let mut rng = Rng(seed);
    (0..n as u64)
        .map(|pair_id| SortKey {
            tid: if rng.next().is_multiple_of(50) { SortKey::UNPLACED } else { (rng.next() % 4) as u32 },
            pos: (rng.next() % 5_000) as i64,
            reverse: rng.next().is_multiple_of(2),
            pair_id,
            rank: (rng.next() % 3) as u8,
        })
        .collect()
}

fn sort_all(
    keys: &[SortKey],
    memory_bytes: u64,
    batch: usize,
    fan_in: usize,
    tmp: &Path,
) -> (Vec<(SortKey, Record)>, SortStats) {
    let pool = pool(2);
    let mut sorter = RecordSorter::new(SortOptions { memory_bytes, tmp_dir: tmp.to_path_buf() }).unwrap();
    sorter.set_fan_in(fan_in);
    for (b, chunk) in keys.chunks(batch).enumerate() {
        let records = chunk.iter().enumerate().map(|(j, k)| (*k, full_record((b * batch + j) as u64, k))).collect();
        sorter.push(records, &pool).unwrap();
    }
    let sorted = sorter.finish(&pool).unwrap();
    let stats = sorted.stats();
    (sorted.map(|r| r.unwrap()).collect(), stats)
}

#[test]
fn in_memory_sort_matches_plain_sort() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = random_keys(3_000, 7);
    let (sorted, stats) = sort_all(&keys, u64::MAX, 250, MAX_FAN_IN, tmp.path());
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(sorted.iter().map(|(k, _)| *k).collect::<Vec<_>>(), expected);
    assert_eq!(stats.spilled_runs, 0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no spill folder without spills");
}

#[test]
fn tiny_budget_spills_many_runs_and_keeps_order() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = random_keys(20_000, 11);
    // ~100 records per run: hundreds of runs, merged in groups of 16 first.
    let (sorted, stats) = sort_all(&keys, 40_000, 97, 16, tmp.path());
    assert!(stats.spilled_runs > 100, "{stats:?}");
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(sorted.len(), expected.len());
    assert_eq!(sorted.iter().map(|(k, _)| *k).collect::<Vec<_>>(), expected);
    // Every record still carries the content it was built with (its key's pair_id is its index).
    for (key, record) in sorted.iter().step_by(997) {
        assert_eq!(*record, full_record(key.pair_id, key));
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "spill files left after finish");
}

#[test]
fn spilled_records_round_trip_byte_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = pool(2);
    let keys = random_keys(1_500, 3);
    let original: Vec<(SortKey, Record)> = keys.iter().map(|k| (*k, full_record(k.pair_id, k))).collect();
    let path = tmp.path().join("one.spill");
    assert_eq!(spill::write_run(&path, &original, &pool).unwrap(), 1_500);
    let mut reader = RunReader::open(&path).unwrap();
    for (key, record) in &original {
        let (k, r) = reader.next_record().unwrap().unwrap();
        assert_eq!(k, *key);
        assert_eq!(r, *record);
        assert_eq!(r.qname(), record.qname());
        assert_eq!(r.cigar().to_string(), "3S20M2D7M");
        assert_eq!(r.seq().as_bytes(), record.seq().as_bytes());
        assert_eq!(r.qual(), record.qual());
        assert_eq!(r.aux(b"MC").unwrap(), Aux::String("30M"));
        assert_eq!(r.aux(b"AS").unwrap(), record.aux(b"AS").unwrap());
        assert_eq!(
            (r.flags(), r.mtid(), r.mpos(), r.insert_size()),
            (record.flags(), record.mtid(), record.mpos(), record.insert_size())
        );
    }
    assert!(reader.next_record().unwrap().is_none());
}

#[test]
fn truncated_spill_is_an_error_not_a_short_read() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = random_keys(2_000, 5);
    let records: Vec<_> = keys.iter().map(|k| (*k, full_record(k.pair_id, k))).collect();
    let path = tmp.path().join("cut.spill");
    spill::write_run(&path, &records, &pool(1)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
    let mut reader = RunReader::open(&path).unwrap();
    let err = loop {
        match reader.next_record() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("truncation not detected"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, SortError::CorruptSpill { .. }), "{err}");
}

#[test]
fn dropping_mid_way_removes_spills() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = pool(2);
    let keys = random_keys(5_000, 9);
    let mut sorter =
        RecordSorter::new(SortOptions { memory_bytes: 50_000, tmp_dir: tmp.path().to_path_buf() }).unwrap();
    for chunk in keys.chunks(200) {
        sorter.push(chunk.iter().map(|k| (*k, full_record(k.pair_id, k))).collect(), &pool).unwrap();
    }
    assert!(sorter.stats().spilled_runs > 3);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "one private spill folder");
    drop(sorter);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // And when the merged iterator is dropped part-way through.
    let mut sorter =
        RecordSorter::new(SortOptions { memory_bytes: 50_000, tmp_dir: tmp.path().to_path_buf() }).unwrap();
    for chunk in keys.chunks(200) {
        sorter.push(chunk.iter().map(|k| (*k, full_record(k.pair_id, k))).collect(), &pool).unwrap();
    }
    let mut sorted = sorter.finish(&pool).unwrap();
    assert!(sorted.next().unwrap().is_ok());
    drop(sorted);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn missing_tmp_dir_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = RecordSorter::new(SortOptions { memory_bytes: 1, tmp_dir: missing.clone() }).err().unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn same_records_with_and_without_spills() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = random_keys(4_000, 13);
    let (a, _) = sort_all(&keys, u64::MAX, 333, MAX_FAN_IN, tmp.path());
    let (b, _) = sort_all(&keys, 60_000, 50, 4, tmp.path());
    assert!(a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && x.1 == y.1));
    assert_eq!(a.len(), b.len());
}
