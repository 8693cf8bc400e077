"""Read simulation shared by the testdata generators (paralog/, collapsed/): the reference as one
upper-case string, and read pairs from a template with binned NovaSeq-style qualities (the
frequencies measured on GERM's germline_L1_R1), a base miscalled with probability 10^(-Q/10).
Every draw comes from the caller's `random.Random`, in a fixed order, so output is reproducible."""

# (quality character, Phred value, frequency)
BINS = [("K", 42, 0.845), ("F", 37, 0.088), ("A", 32, 0.037), (",", 11, 0.016),
        ("<", 27, 0.013), ("7", 22, 0.010), ("(", 7, 0.0015)]
WEIGHTS = [w for _, _, w in BINS]
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def read_reference(path):
    """The sequence of a one-contig FASTA, upper-cased."""
    seq = []
    with open(path) as f:
        for line in f:
            if not line.startswith(">"):
                seq.append(line.strip())
    return "".join(seq).upper()


def read_from(rng, template):
    """(bases, qualities) of a read of `template` with drawn qualities and errors."""
    quals = rng.choices(BINS, weights=WEIGHTS, k=len(template))
    bases = []
    for b, (_, q, _) in zip(template, quals):
        if rng.random() < 10 ** (-q / 10):
            b = rng.choice([x for x in "ACGT" if x != b])
        bases.append(b)
    return "".join(bases), "".join(c for c, _, _ in quals)


def pair_from(rng, seg, frag_min, frag_max, read_len):
    """A fragment wholly inside `seg` on a random strand: (start in seg, (R1 bases, quals), (R2 ...))."""
    frag = rng.randint(frag_min, frag_max)
    start = rng.randrange(0, len(seg) - frag + 1)
    f = seg[start:start + frag]
    rc = "".join(COMPLEMENT[b] for b in reversed(f))
    fwd, rev = (f, rc) if rng.random() < 0.5 else (rc, f)
    return start, read_from(rng, fwd[:read_len]), read_from(rng, rev[:read_len])
