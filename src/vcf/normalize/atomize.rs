//! Atomization the way `bcftools norm -a` (htslib 1.16 era `abuf.c`) does it, and the plain
//! multi-allelic split (`-m -any`) for records it leaves whole.
//!
//! Per ALT allele, no alignment: trim the common suffix (keeping one base on each side), then walk
//! REF and ALT left to right. A differing base pair starts a one-base atom; once one allele runs
//! out, the remaining bases of the other extend the current atom (an indel, or a complex atom such
//! as `CGT>G` that stays an INDEL); an equal base right before one allele runs out becomes the
//! anchor of the indel atom. Atoms of all ALTs are sorted by (offset, REF, ALT, source allele);
//! each distinct (offset, REF, ALT) becomes one output row. For every row a table says, per source
//! allele, whether a genotype carrying that allele carries the row's ALT: yes for the allele(s)
//! that produced the atom, and, for other alleles whose atoms overlap the row, yes when identical
//! and no otherwise (bcftools then adds a `*` ALT to the row; after the multi-allelic split, that
//! `*` record is dropped and those genotype alleles read as REF, `--multi-overlaps 0`).
//! Cost: O(L log L) per record for L bases of alleles.

/// One biallelic row produced from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// 0-based offset from the record's POS.
    pub offset: u64,
    pub ref_allele: Vec<u8>,
    pub alt: Vec<u8>,
    /// Indexed by source allele (0 = REF, never set): does a GT allele with this index carry
    /// the row's ALT?
    pub carriers: Vec<bool>,
    /// bcftools writes a companion `*` record for this row (dropped later, counted).
    pub star: bool,
}

#[derive(Debug, Clone)]
struct Atom {
    beg: usize,
    end: usize,
    ref_allele: Vec<u8>,
    alt: Vec<u8>,
    /// Source ALT allele, 1-based.
    allele: usize,
}

impl Atom {
    fn key(&self) -> (usize, &[u8], &[u8]) {
        (self.beg, &self.ref_allele, &self.alt)
    }
}

/// Splits `ref_allele`/`alt` (ALT number `allele`) into atoms appended to `out`.
fn atomize_allele(ref_allele: &[u8], alt: &[u8], allele: usize, out: &mut Vec<Atom>) {
    let (mut rlen, mut alen) = (ref_allele.len(), alt.len());
    while rlen > 1 && alen > 1 && ref_allele[rlen - 1] == alt[alen - 1] {
        rlen -= 1;
        alen -= 1;
    }
    let mut current: Option<usize> = None;
    for i in 0..rlen.max(alen) {
        let r = ref_allele[..rlen].get(i).copied();
        let a = alt[..alen].get(i).copied();
        let new_atom = |out: &mut Vec<Atom>, r: u8, a: u8| {
            out.push(Atom { beg: i, end: i, ref_allele: vec![r], alt: vec![a], allele });
            Some(out.len() - 1)
        };
        match (r, a) {
            (Some(r), Some(a)) if r != a => current = new_atom(out, r, a),
            (Some(r), Some(a)) => {
                // Equal bases: the anchor of an indel when either allele ends after this base.
                if i + 1 >= rlen || i + 1 >= alen {
                    current = new_atom(out, r, a);
                }
            }
            (r, a) => {
                if let Some(atom) = current.and_then(|k| out.get_mut(k)) {
                    if let Some(a) = a {
                        atom.alt.push(a);
                    }
                    if let Some(r) = r {
                        atom.ref_allele.push(r);
                        atom.end += 1;
                    }
                }
            }
        }
    }
}

/// Atomizes a record whose ALTs are all plain sequence. `alts[k]` is allele `k + 1`.
pub(crate) fn atomize(ref_allele: &[u8], alts: &[Vec<u8>]) -> Vec<Row> {
    let mut atoms = Vec::new();
    for (k, alt) in alts.iter().enumerate() {
        atomize_allele(ref_allele, alt, k + 1, &mut atoms);
    }
    atoms.sort_by(|a, b| a.key().cmp(&b.key()).then(a.allele.cmp(&b.allele)));

    // One row per distinct atom; `owner[row]` is the atom that created it.
    let mut owner: Vec<usize> = Vec::new();
    for i in 0..atoms.len() {
        if i == 0 || atoms[i - 1].key() != atoms[i].key() {
            owner.push(i);
        }
    }
    let n_alleles = alts.len() + 1;
    // table[row][allele]: 0 = REF/unrelated, 1 = carries the row's ALT, 2 = conflicting overlap.
    let mut table = vec![vec![0u8; n_alleles]; owner.len()];
    let mut star = vec![false; owner.len()];
    for (row, &atom) in owner.iter().enumerate() {
        table[row][atoms[atom].allele] = 1;
    }
    for (i, atom) in atoms.iter().enumerate() {
        for (row, &own) in owner.iter().enumerate() {
            if own == i {
                continue;
            }
            let out = &atoms[own];
            if atom.beg > out.end {
                continue;
            }
            if atom.end < out.beg {
                break;
            }
            table[row][atom.allele] = if atom.key() == out.key() { 1 } else { 2 };
            star[row] = true;
        }
    }
    owner
        .iter()
        .enumerate()
        .map(|(row, &own)| Row {
            offset: atoms[own].beg as u64,
            ref_allele: atoms[own].ref_allele.clone(),
            alt: atoms[own].alt.clone(),
            carriers: table[row].iter().map(|&t| t == 1).collect(),
            star: star[row],
        })
        .collect()
}

/// The plain split for records that are not atomized: one row per ALT, REF kept whole.
pub(crate) fn split(ref_allele: &[u8], alts: &[Vec<u8>]) -> Vec<Row> {
    alts.iter()
        .enumerate()
        .map(|(k, alt)| {
            let mut carriers = vec![false; alts.len() + 1];
            carriers[k + 1] = true;
            Row { offset: 0, ref_allele: ref_allele.to_vec(), alt: alt.clone(), carriers, star: false }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &str, alts: &[&str]) -> Vec<(u64, String, String, Vec<bool>, bool)> {
        let alts: Vec<Vec<u8>> = alts.iter().map(|a| a.as_bytes().to_vec()).collect();
        atomize(r.as_bytes(), &alts)
            .into_iter()
            .map(|row| {
                let s = |v: Vec<u8>| String::from_utf8(v).unwrap();
                (row.offset, s(row.ref_allele), s(row.alt), row.carriers, row.star)
            })
            .collect()
    }

    // Expected rows below were checked against `bcftools norm -a -m -any` (bcftools 1.16).

    #[test]
    fn mnp_becomes_snvs() {
        let got = rows("AC", &["GT"]);
        assert_eq!(
            got,
            vec![
                (0, "A".into(), "G".into(), vec![false, true], false),
                (1, "C".into(), "T".into(), vec![false, true], false)
            ]
        );
        let got = rows("AGATCA", &["TGATGA"]);
        assert_eq!(
            got.iter().map(|r| (r.0, r.1.as_str(), r.2.as_str())).collect::<Vec<_>>(),
            vec![(0, "A", "T"), (4, "C", "G")]
        );
    }

    #[test]
    fn complex_alleles_give_snvs_plus_one_indel_atom() {
        // ACGT>AG: one complex atom CGT>G at offset 1.
        let got = rows("ACGT", &["AG"]);
        assert_eq!(got.iter().map(|r| (r.0, r.1.as_str(), r.2.as_str())).collect::<Vec<_>>(), vec![(1, "CGT", "G")]);
        // ATCGAC>AGG: SNV T>G, then CGAC>G.
        let got = rows("ATCGAC", &["AGG"]);
        assert_eq!(
            got.iter().map(|r| (r.0, r.1.as_str(), r.2.as_str())).collect::<Vec<_>>(),
            vec![(1, "T", "G"), (2, "CGAC", "G")]
        );
        // GGG>GGGGA: insertion anchored on the last G.
        let got = rows("GGG", &["GGGGA"]);
        assert_eq!(got.iter().map(|r| (r.0, r.1.as_str(), r.2.as_str())).collect::<Vec<_>>(), vec![(2, "G", "GGA")]);
    }

    #[test]
    fn overlapping_alleles_get_a_star_and_conflicts_read_as_ref() {
        // A>AT,G: two rows, each with a star; allele 2 does not carry AT, allele 1 not G.
        let got = rows("A", &["AT", "G"]);
        assert_eq!(got[0], (0, "A".into(), "AT".into(), vec![false, true, false], true));
        assert_eq!(got[1], (0, "A".into(), "G".into(), vec![false, false, true], true));
        // GG>AG,AC: both alleles carry G>A (identical atoms), allele 2 alone carries G>C.
        let got = rows("GG", &["AG", "AC"]);
        assert_eq!(got[0], (0, "G".into(), "A".into(), vec![false, true, true], true));
        assert_eq!(got[1], (1, "G".into(), "C".into(), vec![false, false, true], false));
    }

    #[test]
    fn plain_split_keeps_ref_whole() {
        let alts = vec![b"AT".to_vec(), b"<DEL>".to_vec()];
        let got = split(b"ATCGA", &alts);
        assert_eq!(got.len(), 2);
        assert_eq!((got[1].alt.as_slice(), got[1].carriers.as_slice()), (&b"<DEL>"[..], &[false, false, true][..]));
        assert_eq!(got[0].ref_allele, b"ATCGA");
    }
}
