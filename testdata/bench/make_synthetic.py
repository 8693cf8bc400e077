#!/usr/bin/env python3
"""Writes the synthetic stress case: random SNVs, MNPs, insertions, deletions, repeat expansions,
complex and multi-allelic records (some with `*` or <NON_REF>), haploid/phased/partly missing GTs
and duplicate records, as a truth and a query made from it (20 % dropped, FILTER PASS/./LowQual,
10 % of GTs changed, 60 unrelated records added), plus 20 random regions.

    make_synthetic.py REF.fa OUTDIR     # then bgzip both VCFs; the BCF is
                                        # bcftools view -Ob synthetic_query.vcf.gz
Deterministic (fixed seeds, Python's `random`)."""
import random, sys

seq = open(sys.argv[1]).read().split('\n', 1)[1].replace('\n', '')
out = sys.argv[2]
L, B = len(seq), 'ACGT'

def mut(s):
    s = list(s); k = random.randrange(len(s)); s[k] = random.choice([b for b in B if b != s[k]]); return ''.join(s)

def rand_alt(r, p):
    t = random.random()
    if t < 0.2: return mut(r) if len(r) >= 1 else r
    if t < 0.4: return r[0] + ''.join(random.choice(B) for _ in range(random.randint(1, 4))) + r[1:]
    if t < 0.55 and len(r) > 1: return r[0] + r[random.randint(2, len(r)):]
    if t < 0.7:
        u = seq[p:p + random.randint(1, 3)]; return r + u if random.random() < 0.5 else r[:1] + u + r[1:]
    if t < 0.85: return ''.join(random.choice(B) for _ in range(random.randint(1, len(r) + 2)))
    return mut(mut(r))

def variants(seed):
    random.seed(seed)
    recs = []
    for p in [1, 2, 3] + sorted(random.sample(range(5, L - 60), 400)):
        rl = random.choice([1, 1, 1, 2, 3, 4, 6]); r = seq[p - 1:p - 1 + rl]
        alts = []
        for _ in range(random.choice([1, 1, 1, 2, 2, 3])):
            a = rand_alt(r, p)
            if a and a != r and a not in alts: alts.append(a)
        if not alts: continue
        if random.random() < 0.03: alts.append('*')
        if random.random() < 0.03: alts.append('<NON_REF>')
        if random.random() < 0: r = mut(r)  # no REF mismatches (score.sh aborts on them); keeps the draws
        ploidy = random.choice([2, 2, 2, 1])
        al = [random.choice(['.'] + [str(i) for i in range(len(alts) + 1)]) for _ in range(ploidy)]
        if random.random() < 0.8: al = [str(random.randint(0, len(alts))) for _ in range(ploidy)]
        recs.append(['chr20_1M', str(p), '.', r, ','.join(alts), '.', '.', '.', 'GT', random.choice(['/', '|']).join(al)])
        if random.random() < 0.1:
            recs.append(['chr20_1M', str(p), '.', r, alts[0], '.', '.', '.', 'GT', random.choice(['0/1', '1/1', '0/0'])])
    return recs

HEAD = ['##fileformat=VCFv4.2', '##contig=<ID=chr20_1M,length=%d>' % L,
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="G">',
        '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS']

def write(path, head, recs):
    with open(path, 'w') as f:
        f.write(''.join(h + '\n' for h in head) + ''.join('\t'.join(r) + '\n' for r in recs))

truth, other = variants(3), variants(103)
write(out + '/synthetic_truth.vcf', HEAD, truth)
random.seed(3)
query = []
for f in truth:
    if random.random() < 0.2: continue
    f = list(f); f[6] = random.choice(['.', '.', 'PASS', 'PASS', 'LowQual'])
    if random.random() < 0.1: f[9] = random.choice(['0/1', '1/1', '0/0', './.', '1'])
    query.append(f)
query += random.sample(other, 60)
query.sort(key=lambda f: int(f[1]))
write(out + '/synthetic_query.vcf', HEAD[:1] + ['##FILTER=<ID=LowQual,Description="x">'] + HEAD[1:], query)
random.seed(7)
pts = sorted(random.sample(range(0, 1000000), 40))
with open(out + '/synthetic_regions.bed', 'w') as f:
    f.write(''.join(f'chr20_1M\t{pts[i]}\t{pts[i + 1]}\n' for i in range(0, 40, 2)))
