use super::metrics::format_double;
use super::reduce::optical_flags;
use super::*;
use crate::alignments::keys::{DupKey, FlowcellPosition, Mate, ReadEnd};

fn end(pos: i64, reverse: bool) -> ReadEnd {
    ReadEnd { tid: 0, unclipped_5prime: pos, reverse }
}

fn pair(id: u64, a: i64, b: i64, score: u32) -> DupCandidate {
    DupCandidate {
        key: DupKey::Pair { library: 0, first: end(a, false), second: end(b, true) },
        score,
        name_hash: id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        pair_id: id,
        position: None,
    }
}

fn frag(id: u64, pos: i64, reverse: bool, score: u32, mate: Mate) -> DupCandidate {
    DupCandidate {
        key: DupKey::Fragment { library: 0, end: end(pos, reverse), mate },
        score,
        name_hash: id,
        pair_id: id,
        position: None,
    }
}

fn at(mut c: DupCandidate, tile: u32, x: u32, y: u32) -> DupCandidate {
    c.position = Some(FlowcellPosition { lane: 1, tile, x, y });
    c
}

fn names() -> Vec<String> {
    vec!["LIB".to_string()]
}

#[test]
fn pairs_keep_the_best_score_and_flag_both_mates_of_the_rest() {
    let c = vec![pair(1, 100, 300, 50), pair(2, 100, 300, 70), pair(3, 100, 300, 60), pair(4, 100, 301, 10)];
    let m = resolve(c, &names(), &MarkdupOptions::default());
    assert!(!m.is_duplicate(2, Mate::R1) && !m.is_duplicate(2, Mate::R2));
    for id in [1, 3] {
        assert!(m.is_duplicate(id, Mate::R1) && m.is_duplicate(id, Mate::R2));
    }
    assert!(!m.is_duplicate(4, Mate::R1));
    assert_eq!(m.flagged_reads(), 4);
    let c = m.counts()[&0];
    assert_eq!((c.read_pairs_examined, c.read_pair_duplicates), (4, 2));
}

#[test]
fn score_ties_go_to_the_smaller_name_hash_then_pair_id() {
    let mut a = pair(10, 5, 9, 30);
    let mut b = pair(11, 5, 9, 30);
    a.name_hash = 7;
    b.name_hash = 3;
    let m = resolve(vec![a, b], &names(), &MarkdupOptions::default());
    assert!(m.is_duplicate(10, Mate::R1) && !m.is_duplicate(11, Mate::R1));
    b.name_hash = 7;
    let m = resolve(vec![b, a], &names(), &MarkdupOptions::default());
    assert!(!m.is_duplicate(10, Mate::R1) && m.is_duplicate(11, Mate::R1));
}

#[test]
fn fragments_lose_to_pairs_and_otherwise_keep_the_best() {
    let c = vec![
        pair(1, 100, 300, 10),
        frag(2, 300, true, 99, Mate::R2), // same end as pair 1's second end: duplicate
        frag(3, 500, false, 20, Mate::R1),
        frag(4, 500, false, 40, Mate::R2),
        frag(5, 500, true, 5, Mate::R1), // other strand: its own group
    ];
    let m = resolve(c, &names(), &MarkdupOptions::default());
    assert!(m.is_duplicate(2, Mate::R2) && !m.is_duplicate(2, Mate::R1), "unmapped mate is not flagged");
    assert!(m.is_duplicate(3, Mate::R1) && !m.is_duplicate(3, Mate::R2));
    assert!(!m.is_duplicate(4, Mate::R2) && !m.is_duplicate(5, Mate::R1));
    assert!(!m.is_duplicate(1, Mate::R1));
    let c = m.counts()[&0];
    assert_eq!((c.unpaired_reads_examined, c.unpaired_read_duplicates, c.unmapped_reads), (4, 2, 4));
}

#[test]
fn libraries_are_reduced_apart() {
    let mut b = pair(2, 100, 300, 10);
    if let DupKey::Pair { library, .. } = &mut b.key {
        *library = 1;
    }
    let m = resolve(vec![pair(1, 100, 300, 10), b], &["A".into(), "B".into()], &MarkdupOptions::default());
    assert_eq!(m.flagged_pairs(), 0);
    let rows = m.metrics();
    assert_eq!(rows.iter().map(|r| r.library.as_str()).collect::<Vec<_>>(), ["A", "B"]);
}

fn shuffled(mut v: Vec<DupCandidate>, seed: u64) -> Vec<DupCandidate> {
    let mut s = seed;
    for i in (1..v.len()).rev() {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        v.swap(i, (s >> 33) as usize % (i + 1));
    }
    v
}

fn workload() -> Vec<DupCandidate> {
    let mut v = Vec::new();
    for id in 0..400u64 {
        let p = (id % 37) as i64 * 10;
        v.push(at(
            pair(id, p, p + 200 + (id % 3) as i64, (id % 5) as u32),
            1101 + (id % 2) as u32,
            (id * 97 % 5000) as u32,
            7,
        ));
        if id % 11 == 0 {
            v.push(frag(10_000 + id, p + (id % 2) as i64 * 200, id % 2 == 1, (id % 4) as u32, Mate::R1));
        }
    }
    v
}

#[test]
fn result_is_independent_of_input_order_and_of_sharding() {
    let opts = MarkdupOptions::default();
    let one = resolve(workload(), &names(), &opts);
    assert_eq!(one, resolve(shuffled(workload(), 7), &names(), &opts));
    for shards in [2, 3, 5] {
        let all = shuffled(workload(), shards as u64);
        let mut buckets: Vec<Vec<DupCandidate>> = vec![Vec::new(); shards];
        for c in all {
            buckets[shard_of(&c.key, shards)].push(c);
        }
        // The all-to-all for fragments: every shard answers which fragment ends its pairs cover.
        let wanted: Vec<EndKey> = {
            let mut w: Vec<EndKey> = buckets.iter().flat_map(|b| fragment_ends(b)).collect();
            w.sort_unstable();
            w
        };
        let mut remote: Vec<Vec<EndKey>> = vec![Vec::new(); shards];
        for b in &buckets {
            for e in covered_ends(b, &wanted) {
                remote[end_shard(&e, shards)].push(e);
            }
        }
        let parts = buckets.into_iter().zip(remote).map(|(b, r)| resolve_partition(b, &r, &opts)).collect();
        assert_eq!(DuplicateMarks::merge(parts, &names()), one, "{shards} shards");
    }
}

#[test]
fn optical_clusters_count_members_minus_one_and_never_the_kept_one() {
    // Kept member 0 at (1000, 1000); 1 near it; 2 and 3 near each other only (3 has the smaller
    // x, so 2 is the optical one); 4 on another tile.
    let g = vec![
        at(pair(0, 1, 2, 9), 1101, 1000, 1000),
        at(pair(1, 1, 2, 8), 1101, 1100, 900),
        at(pair(2, 1, 2, 7), 1101, 9000, 9000),
        at(pair(3, 1, 2, 6), 1101, 8950, 9050),
        at(pair(4, 1, 2, 5), 1102, 1000, 1000),
        pair(5, 1, 2, 4),
    ];
    let f = optical_flags(&g, 100);
    assert_eq!(f, [false, true, true, false, false, false]);
    // Transitive chain: 0–1 and 1–2 close, 0–2 not: one cluster of 3, two optical.
    let chain = vec![at(pair(0, 1, 2, 9), 1, 0, 0), at(pair(1, 1, 2, 8), 1, 90, 0), at(pair(2, 1, 2, 7), 1, 180, 0)];
    assert_eq!(optical_flags(&chain, 100).iter().filter(|&&o| o).count(), 2);
    let m = resolve(g, &names(), &MarkdupOptions { optical_pixel_distance: 100 });
    assert_eq!(m.counts()[&0].read_pair_optical_duplicates, 2);
    assert!(m.is_optical_duplicate(1) && m.is_optical_duplicate(2) && !m.is_optical_duplicate(3));
}

#[test]
fn library_size_matches_hand_computed_lander_waterman() {
    // 90 / X = 1 − exp(−100 / X) at X = 466.08 (checked: 0.19310 both sides).
    assert_eq!(estimate_library_size(100, 90), Some(466));
    assert_eq!(estimate_library_size(1_000_000, 900_000), Some(4_660_793));
    assert_eq!(estimate_library_size(10, 10), None);
    assert_eq!(estimate_library_size(0, 0), None);
}

#[test]
fn metrics_text_and_json_follow_picard() {
    let mut c = vec![pair(1, 1, 9, 5), pair(2, 1, 9, 6), frag(3, 50, false, 1, Mate::R1)];
    c.extend((10..20).map(|i| pair(i, i as i64 * 100, i as i64 * 100 + 50, 1)));
    let mut m = resolve(c, &names(), &MarkdupOptions::default());
    m.add_unmapped_reads(0, 4);
    let row = &m.metrics()[0];
    assert_eq!((row.read_pairs_examined, row.read_pair_duplicates, row.unmapped_reads), (12, 1, 5));
    assert!((row.percent_duplication - 2.0 / 25.0).abs() < 1e-12);
    assert_eq!(row.estimated_library_size, estimate_library_size(12, 11));
    let mut text = Vec::new();
    m.write_picard_metrics(&mut text, "GERM.bam", &MarkdupOptions::default()).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("## METRICS CLASS\tpicard.sam.DuplicationMetrics\nLIBRARY\tUNPAIRED_READS_EXAMINED"));
    assert!(text.contains("\nLIB\t1\t12\t0\t5\t0\t1\t0\t0.08\t"), "{text}");
    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["READ_PAIR_DUPLICATES"], 1);
    assert_eq!(format_double(0.0), "0");
    assert_eq!(format_double(0.1234567), "0.123457");
}
