#!/usr/bin/env python3
"""Score duplicate marking per duplicate set against the bench truth.

usage: score_duplicates.py BAM TRUTH_TSV[.gz] [--label NAME]

TRUTH_TSV (germline.duplicates.tsv.gz): one line per PCR copy, `duplicate_read<TAB>original_read`
(read-pair names; `#` lines are comments). Pairs linked by the truth are grouped into sets
(union-find, so a copy of a copy joins its original's set); a set of k pairs is right when exactly
k-1 of its pairs are flagged 0x400 (the copies are exact, so which member stays unflagged is a
tie). A pair counts as flagged when its primary R1 or R2 record is; pairs with only one mate
flagged are counted separately (split).

Reads the BAM's primary records (`samtools view -F 0x900`; samtools on PATH). Prints:
  sets, sets right, sets wrong (too few flagged / all k flagged), flagged reads in total (primary),
  the truth's expected flagged reads (2 per duplicate line), flagged pairs outside any truth set
  (coincidental same-position pairs a marker is allowed to flag: not errors of the truth sets),
  split pairs, and whether every truth read was found in the BAM.
Measuring tool only: the project's tests must not call it.
"""
import argparse
import gzip
import subprocess
import sys


def open_text(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def strip_mate(name):
    return name[:-2] if name.endswith(("/1", "/2")) else name


def truth_sets(path):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    lines = 0
    for line in open_text(path):
        if not line.strip() or line.startswith("#"):
            continue
        dup, orig = line.split()[:2]
        a, b = find(strip_mate(dup)), find(strip_mate(orig))
        if a != b:
            parent[a] = b
        lines += 1
    sets = {}
    for name in parent:
        sets.setdefault(find(name), []).append(name)
    return list(sets.values()), lines


def flags_by_pair(bam):
    """{pair name: [R1 flagged or None, R2 flagged or None]} from primary records; plus totals."""
    proc = subprocess.Popen(["samtools", "view", "-F", "0x900", bam], stdout=subprocess.PIPE, text=True, bufsize=1 << 20)
    pairs = {}
    flagged_reads = primary = extra_primary = 0
    for line in proc.stdout:
        qname, flag = line.split("\t", 2)[:2]
        flag = int(flag)
        mate = 1 if flag & 0x80 else 0
        dup = bool(flag & 0x400)
        primary += 1
        flagged_reads += dup
        slot = pairs.setdefault(qname, [None, None])
        if slot[mate] is not None:
            extra_primary += 1
        slot[mate] = dup
    if proc.wait() != 0:
        sys.exit(f"score_duplicates: samtools view {bam} failed")
    return pairs, flagged_reads, primary, extra_primary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bam")
    ap.add_argument("truth")
    ap.add_argument("--label", default=None)
    a = ap.parse_args()
    sets, lines = truth_sets(a.truth)
    pairs, flagged_reads, primary, extra_primary = flags_by_pair(a.bam)

    right = too_few = too_many = missing = 0
    in_sets = set()
    for members in sets:
        k = len(members)
        in_sets.update(members)
        flagged = 0
        for m in members:
            f = pairs.get(m)
            if f is None:
                missing += 1
                continue
            flagged += any(x for x in f if x)
        if flagged == k - 1:
            right += 1
        elif flagged < k - 1:
            too_few += 1
        else:
            too_many += 1
    split = sum(1 for f in pairs.values() if f[0] is not None and f[1] is not None and f[0] != f[1])
    outside = sum(1 for n, f in pairs.items() if n not in in_sets and any(x for x in f if x))
    size_hist = {}
    for members in sets:
        size_hist[len(members)] = size_hist.get(len(members), 0) + 1

    label = a.label or a.bam
    print(f"{label}")
    print(f"  truth: {lines} duplicate lines in {len(sets)} sets (sizes {dict(sorted(size_hist.items()))}), expected flagged reads {2 * lines}")
    print(f"  sets right {right}, wrong {too_few + too_many} (too few flagged {too_few}, all flagged {too_many})")
    print(f"  flagged primary reads {flagged_reads} (truth {2 * lines}); flagged pairs outside truth sets {outside}; split-flag pairs {split}")
    print(f"  primary records {primary}, pairs {len(pairs)}, duplicate primaries {extra_primary}, truth pairs missing from BAM {missing}")
    print(f"TSV\t{label}\t{len(sets)}\t{right}\t{too_few + too_many}\t{too_few}\t{too_many}\t{flagged_reads}\t{2 * lines}\t{outside}\t{split}")


if __name__ == "__main__":
    main()
