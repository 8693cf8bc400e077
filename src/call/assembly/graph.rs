//! The de Bruijn graph of one active region: nodes are k-mers (2 bits a base in a `u128`,
//! k ≤ 63), edges join k-mers that follow each other in the reference window or in a read.
//! Reference edges are always kept; read edges count the reads supporting them and are pruned
//! below `min_edge_weight`; a read k-mer pair is used only when all its k + 1 bases are A/C/G/T
//! with quality ≥ `min_kmer_qual`. The graph is trimmed to nodes on some path from the first to
//! the last reference k-mer, and is rejected (so the caller retries another k) when a k-mer
//! repeats in the reference window or the trimmed graph has a cycle. Paths are enumerated best
//! first by the sum of log transition probabilities ((w + 1) / Σ(w' + 1) over a node's out-edges)
//! with a k-best dynamic programme over the topological order: O(edges × max_paths).

use std::collections::{BTreeMap, HashMap};

/// Encodes A/C/G/T as 0..4; anything else is `None`.
fn code(base: u8) -> Option<u128> {
    match base {
        b'A' => Some(0),
        b'C' => Some(1),
        b'G' => Some(2),
        b'T' => Some(3),
        _ => None,
    }
}

const DECODE: [u8; 4] = *b"ACGT";

/// One segment of read bases with qualities, as projected onto the window.
pub struct Segment<'a> {
    pub bases: &'a [u8],
    pub quals: &'a [u8],
}

#[derive(Debug)]
pub struct Graph {
    k: usize,
    kmers: Vec<u128>,
    /// Out-edges: target → (read weight, is reference).
    out: Vec<BTreeMap<u32, (u32, bool)>>,
    source: u32,
    sink: u32,
}

impl Graph {
    fn node(&mut self, ids: &mut HashMap<u128, u32>, kmer: u128) -> u32 {
        *ids.entry(kmer).or_insert_with(|| {
            self.kmers.push(kmer);
            self.out.push(BTreeMap::new());
            (self.kmers.len() - 1) as u32
        })
    }

    /// Builds, prunes and checks the graph; `None` when this `k` cannot be used.
    pub fn build(
        reference: &[u8],
        reads: &[Segment<'_>],
        k: usize,
        min_kmer_qual: u8,
        min_edge_weight: u32,
    ) -> Option<Graph> {
        if k == 0 || k > 63 || reference.len() <= k {
            return None;
        }
        let mask: u128 = (1u128 << (2 * k)) - 1;
        let mut g = Graph { k, kmers: Vec::new(), out: Vec::new(), source: 0, sink: 0 };
        let mut ids: HashMap<u128, u32> = HashMap::new();
        let mut prev: Option<u32> = None;
        let mut kmer = 0u128;
        for (i, &b) in reference.iter().enumerate() {
            kmer = ((kmer << 2) | code(b)?) & mask;
            if i + 1 < k {
                continue;
            }
            if ids.contains_key(&kmer) {
                return None; // repeated reference k-mer: the reference path would cycle
            }
            let node = g.node(&mut ids, kmer);
            if let Some(p) = prev {
                g.out[p as usize].insert(node, (0, true));
            }
            prev = Some(node);
        }
        g.sink = prev?;
        for seg in reads {
            g.add_read(&mut ids, seg, mask, min_kmer_qual);
        }
        for edges in &mut g.out {
            edges.retain(|_, &mut (w, is_ref)| is_ref || w >= min_edge_weight);
        }
        g.trim();
        g.topological_order().is_some().then_some(g)
    }

    fn add_read(&mut self, ids: &mut HashMap<u128, u32>, seg: &Segment<'_>, mask: u128, min_qual: u8) {
        let mut run = 0usize;
        let mut kmer = 0u128;
        let mut prev: Option<u32> = None;
        for (i, &b) in seg.bases.iter().enumerate() {
            let q = seg.quals.get(i).copied().unwrap_or(0);
            match code(b) {
                Some(c) if q >= min_qual => {
                    kmer = ((kmer << 2) | c) & mask;
                    run += 1;
                }
                _ => {
                    run = 0;
                    prev = None;
                    continue;
                }
            }
            if run < self.k {
                continue;
            }
            let node = self.node(ids, kmer);
            if let Some(p) = prev {
                self.out[p as usize].entry(node).or_insert((0, false)).0 += 1;
            }
            prev = Some(node);
        }
    }

    /// Drops nodes not on a source → sink path (their edges too).
    fn trim(&mut self) {
        let n = self.kmers.len();
        let mut fwd = vec![false; n];
        let mut stack = vec![self.source];
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut fwd[v as usize], true) {
                stack.extend(self.out[v as usize].keys().copied());
            }
        }
        let mut rev_adj: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (u, edges) in self.out.iter().enumerate() {
            for &v in edges.keys() {
                rev_adj[v as usize].push(u as u32);
            }
        }
        let mut back = vec![false; n];
        let mut stack = vec![self.sink];
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut back[v as usize], true) {
                stack.extend(rev_adj[v as usize].iter().copied());
            }
        }
        for (u, edges) in self.out.iter_mut().enumerate() {
            if fwd[u] && back[u] {
                edges.retain(|&v, _| fwd[v as usize] && back[v as usize]);
            } else {
                edges.clear();
            }
        }
    }

    /// Kahn's order over the nodes reachable from the source; `None` when there is a cycle.
    fn topological_order(&self) -> Option<Vec<u32>> {
        let n = self.kmers.len();
        let mut indeg = vec![0u32; n];
        for edges in &self.out {
            for &v in edges.keys() {
                indeg[v as usize] += 1;
            }
        }
        if indeg[self.source as usize] > 0 {
            return None; // a read path returns to the first reference k-mer
        }
        let live: usize = (0..n).filter(|&v| v as u32 == self.source || indeg[v] > 0).count();
        let mut order = Vec::with_capacity(live);
        let mut ready = vec![self.source];
        while let Some(v) = ready.pop() {
            order.push(v);
            for &w in self.out[v as usize].keys() {
                indeg[w as usize] -= 1;
                if indeg[w as usize] == 0 {
                    ready.push(w);
                }
            }
        }
        (order.len() == live).then_some(order)
    }

    /// Up to `max_paths` source → sink sequences, best first (the reference path may be absent
    /// from the list when weaker than `max_paths` others).
    pub fn best_paths(&self, max_paths: usize) -> Vec<Vec<u8>> {
        let Some(order) = self.topological_order() else { return Vec::new() };
        // Per node: (score, predecessor node, predecessor entry), best first.
        let mut best: Vec<Vec<(f64, u32, u32)>> = vec![Vec::new(); self.kmers.len()];
        best[self.source as usize].push((0.0, u32::MAX, 0));
        for &u in &order {
            let total: f64 = self.out[u as usize].values().map(|&(w, _)| f64::from(w) + 1.0).sum();
            for (&v, &(w, _)) in &self.out[u as usize] {
                let step = ((f64::from(w) + 1.0) / total).ln();
                let from: Vec<(f64, u32, u32)> =
                    best[u as usize].iter().enumerate().map(|(r, e)| (e.0 + step, u, r as u32)).collect();
                let list = &mut best[v as usize];
                list.extend(from);
                list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
                list.truncate(max_paths);
            }
        }
        (0..best[self.sink as usize].len()).map(|r| self.spell(&best, r as u32)).collect()
    }

    /// The sequence of the `rank`-th best path into the sink.
    fn spell(&self, best: &[Vec<(f64, u32, u32)>], rank: u32) -> Vec<u8> {
        let mut nodes = vec![self.sink];
        let (mut node, mut r) = (self.sink, rank);
        while let Some(&(_, pred, pr)) = best[node as usize].get(r as usize) {
            if pred == u32::MAX {
                break;
            }
            nodes.push(pred);
            (node, r) = (pred, pr);
        }
        nodes.reverse();
        let first = self.kmers[nodes[0] as usize];
        let mut seq: Vec<u8> = (0..self.k).rev().map(|i| DECODE[((first >> (2 * i)) & 3) as usize]).collect();
        seq.extend(nodes[1..].iter().map(|&n| DECODE[(self.kmers[n as usize] & 3) as usize]));
        seq
    }
}
