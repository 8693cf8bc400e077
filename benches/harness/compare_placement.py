#!/usr/bin/env python3
"""Placement agreement of primary reads between two alignment files (BAM, CRAM or SAM).

usage: compare_placement.py QUERY.bam TRUTH.sam [--label NAME] [--show N]

Reads the primary records of both (`samtools view -F 0x900`; samtools on PATH), keyed by
(read name, R1/R2). A read agrees when both place it at the same contig, 1-based POS and strand,
or both leave it unmapped. Prints: reads compared (in both), agreement % over all of them,
agreement % over the reads mapped in both, and the disagreements by kind (other contig, other
position, other strand, mapped in one only); reads in one file only are counted, not compared.
Measuring tool only: the project's tests must not call it.
"""
import argparse
import subprocess
import sys


def placements(path):
    proc = subprocess.Popen(["samtools", "view", "-F", "0x900", path], stdout=subprocess.PIPE, text=True, bufsize=1 << 20)
    out = {}
    for line in proc.stdout:
        f = line.split("\t", 5)
        flag = int(f[1])
        key = (f[0], 2 if flag & 0x80 else 1)
        out[key] = None if flag & 0x4 else (f[2], int(f[3]), bool(flag & 0x10))
    if proc.wait() != 0:
        sys.exit(f"compare_placement: samtools view {path} failed")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("query")
    ap.add_argument("truth")
    ap.add_argument("--label", default=None)
    ap.add_argument("--show", type=int, default=0, help="print the first N disagreements")
    a = ap.parse_args()
    q, t = placements(a.query), placements(a.truth)
    common = q.keys() & t.keys()
    same = both_mapped = same_mapped = 0
    kinds = {"contig": 0, "position": 0, "strand": 0, "mapped in query only": 0, "mapped in truth only": 0}
    shown = 0
    for k in common:
        x, y = q[k], t[k]
        if x == y:
            same += 1
        if x is not None and y is not None:
            both_mapped += 1
            if x == y:
                same_mapped += 1
            elif x[0] != y[0]:
                kinds["contig"] += 1
            elif x[1] != y[1]:
                kinds["position"] += 1
            else:
                kinds["strand"] += 1
        elif x is not None:
            kinds["mapped in query only"] += 1
        elif y is not None:
            kinds["mapped in truth only"] += 1
        if x != y and shown < a.show:
            print(f"  {k[0]}/{k[1]}: query {x} truth {y}")
            shown += 1
    n = len(common)
    label = a.label or f"{a.query} vs {a.truth}"
    pct = 100.0 * same / n if n else 0.0
    pct_m = 100.0 * same_mapped / both_mapped if both_mapped else 0.0
    print(label)
    print(f"  reads compared {n} (query only {len(q) - n}, truth only {len(t) - n})")
    print(f"  same contig/pos/strand: {same} = {pct:.3f} % of all; {same_mapped}/{both_mapped} = {pct_m:.3f} % of reads mapped in both")
    print("  disagreements: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    print(f"TSV\t{label}\t{n}\t{same}\t{pct:.4f}\t{both_mapped}\t{same_mapped}\t{pct_m:.4f}")


if __name__ == "__main__":
    main()
