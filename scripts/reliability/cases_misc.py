"""Cases X (CLI), B (bench compare), SL (Slurm, against stub sbatch/squeue on PATH)."""
import gzip
import os
import random
import re
import shlex

from fixtures import gz, random_seq, write
from lib import (INJECTION, LOSS, NOTRUN, OK, PANIC, WEAK, WRONG, case, digests, diff_digests,
                 rc_verdict, res, worst)
from cases_runs import big_argv, big_baseline, small_argv

GB = 1 << 30


def out(ctx, label):
    return f"out/{ctx.case}/{label}"


def expect(runs, ok_rcs, notes=""):
    runs = runs if isinstance(runs, list) else [runs]
    v = rc_verdict(runs, ok_rcs)
    return res(v, runs, notes, focus=next((r for r in runs if r.panicked or r.rc not in ok_rcs), None))


# =================================================================================================
# CLI
# =================================================================================================
G = "CLI"


@case("X01", G, "2, clear messages (bad --threads/--max-memory/--sex/--mpi-timeout/--mpi, unknown pipeline, "
                "--sample with --samplesheet, no samples)")
def x01(ctx):
    ctx.fix.base()
    ss = ctx.fix.ss("x01", ["P1,XX,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    base = small_argv(out(ctx, "o"), "qc")

    def with_opt(opt, val):
        a = list(base)
        if opt in a:
            a[a.index(opt) + 1] = val
        else:
            a += [opt, val]
        return a

    variants = {
        "threads0": with_opt("--threads", "0"), "threads-1": with_opt("--threads", "-1"),
        "mem0": with_opt("--max-memory", "0"), "mem12Q": with_opt("--max-memory", "12Q"),
        "sexZZ": with_opt("--sex", "ZZ"), "mpitimeout0": with_opt("--mpi-timeout", "0"),
        "mpi": base + ["--mpi"], "unknown_pipeline": ["run", "nosuchpipeline"] + base[2:],
        "sample_and_sheet": base + ["--samplesheet", ss],
        "no_samples": ["run", "qc", "--reference", "ref/ref.fa", "--outdir", out(ctx, "o"), "--threads", "1"],
    }
    runs = [ctx.dagr(k, v, timeout=60) for k, v in variants.items()]
    return expect(runs, {2})


@case("X02", G, "clamp: 0 (--threads 99999999; --max-memory 99999999999999999999T)")
def x02(ctx):
    ctx.fix.base()
    a = small_argv(out(ctx, "threads"), "qc")
    a[a.index("--threads") + 1] = "99999999"
    runs = [ctx.dagr("threads", a), ctx.dagr("memory", small_argv(out(ctx, "memory"), "qc", ("--max-memory", "99999999999999999999T")))]
    return expect(runs, {0})


@case("X03", G, "works through spills, identical BAM (--max-memory 1 on BIG)")
def x03(ctx):
    base = big_baseline(ctx)
    r = ctx.dagr("mem1", big_argv(out(ctx, "o"), "align", ("--max-memory", "1")), timeout=900)
    v = expect(r, {0})
    if r.rc == 0:
        d = diff_digests(base, digests(ctx.w(out(ctx, "o")), "BIG"), ["bam"])
        spills = re.findall(r"spill\w*[= ]+(\d+)", r.text)
        v.notes = ("BAM records identical" if not d else "BAM differs") + (f"; spill counts in log: {spills[-1]}" if spills else "")
        if d:
            v.verdict = LOSS
    return v


@case("X04", G, "2 (--sample ../../etc)")
def x04(ctx):
    ctx.fix.base()
    a = small_argv(out(ctx, "o"), "qc")
    a[a.index("--sample") + 1] = "../../etc"
    return expect(ctx.dagr("traversal", a), {2})


@case("X05", G, "0 or 141 (stdout closed early: validate --list-stages | head -1, x10; big output | head -c 10, x3)",
      review=PANIC)
def x05(ctx):
    ctx.fix.base()
    big = ctx.fix.big_yaml()
    script = f"""
for i in $(seq 10); do "$D" validate --list-stages 2>>"$ERR" | head -1 >/dev/null; echo "list$i=${{PIPESTATUS[0]}}"; done
for i in 1 2 3; do "$D" validate {shlex.quote(big)} 2>>"$ERR" | head -c 10 >/dev/null; echo "big$i=${{PIPESTATUS[0]}}"; done
"""
    errf = os.path.join(ctx.logdir(), "pipes.stderr")
    os.makedirs(ctx.logdir(), exist_ok=True)
    r = ctx.sh("pipes", script, timeout=300, env={"ERR": errf})
    codes = dict(l.split("=") for l in r.out.split() if "=" in l)
    err = open(errf, errors="replace").read() if os.path.exists(errf) else ""
    r.err += err
    panics = [k for k, c in codes.items() if c in ("101", "134")]
    bad = [k for k, c in codes.items() if c not in ("0", "141")]
    line = next((l for l in err.splitlines() if "panicked" in l), "")
    summary = " ".join(f"{k}={c}" for k, c in codes.items())
    if panics or "panicked" in err:
        return res(PANIC, r, f"{len(panics)} of {len(codes)} runs panicked: {summary}", msg=line)
    return res(WRONG if bad or len(codes) != 13 else OK, r, summary)


# =================================================================================================
# bench compare (GERM truth, BIG.vcf.gz query)
# =================================================================================================
G = "bench compare"


def bench_fixtures(ctx):
    if "bench" not in ctx.memo:
        big_baseline(ctx)
        os.makedirs(ctx.w("vcf"), exist_ok=True)
        tsrc = os.path.join(ctx.repo, "testdata/germline/truth.vcf.gz")
        write(ctx.w("vcf/truth.vcf.gz"), open(tsrc, "rb").read())
        write(ctx.w("vcf/truth.vcf.gz.tbi"), open(tsrc + ".tbi", "rb").read())
        q = gzip.open(ctx.w("out/_baseline/KS/BIG/BIG.vcf.gz"), "rt").read().rstrip("\n").split("\n")
        write(ctx.w("vcf/q.vcf.gz"), gz(("\n".join(q) + "\n").encode()))
        ctx.memo["bench"] = q
    return ctx.memo["bench"]


def qvcf(ctx, name, header=None, body=None, crlf=False, raw=None):
    q = bench_fixtures(ctx)
    if raw is not None:
        write(ctx.w(f"vcf/{name}"), raw)
        return f"vcf/{name}"
    h = [l for l in q if l.startswith("#")] if header is None else header
    b = [l for l in q if not l.startswith("#")] if body is None else body
    nl = "\r\n" if crlf else "\n"
    write(ctx.w(f"vcf/{name}"), nl.join(h + b) + nl)
    return f"vcf/{name}"


def body(ctx):
    return [l.split("\t") for l in bench_fixtures(ctx) if not l.startswith("#")]


def header(ctx):
    return [l for l in bench_fixtures(ctx) if l.startswith("#")]


def compare(ctx, label, query, extra=(), reference="ref/ref.fa", truth="vcf/truth.vcf.gz", **kw):
    return ctx.dagr(label, ["bench", "compare", "--truth", truth, "--query", query, "--reference", reference, *extra],
                    timeout=120, **kw)


def scores(r):
    return [l.split() for l in r.out.splitlines() if re.match(r"^(SNV|INDEL)\s", l)]


def names_file_line(r, fname):
    k = r.key()
    return os.path.basename(fname) in k and re.search(r"line \d+|:\d+", k)


@case("B01", G, "2, names file and line (5 columns; POS 12x; POS 0)")
def b01(ctx):
    b = body(ctx)
    runs, files = [], []
    for label, fn in (("cols5", lambda r: r[:5]), ("pos12x", lambda r: [r[0], "12x"] + r[2:]),
                      ("pos0", lambda r: [r[0], "0"] + r[2:])):
        bb = [x[:] for x in b]
        bb[3] = fn(bb[3])
        f = qvcf(ctx, f"q_{label}.vcf", body=["\t".join(x) for x in bb])
        files.append(f)
        runs.append(compare(ctx, label, f))
    v = expect(runs, {2})
    if v.verdict == OK:
        unnamed = [r.label for r, f in zip(runs, files) if not names_file_line(r, f)]
        if unnamed:
            v.verdict, v.notes = WEAK, f"file/line not named: {unnamed}"
    return v


def ok_or_warn(runs, pattern=r"WARN|warning"):
    """rc 2, or rc 0 with a warning: OK; rc 0 silent: WEAK MESSAGE."""
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    vs = []
    for r in runs:
        if r.rc == 2 or (r.rc == 0 and re.search(pattern, r.text)):
            vs.append(OK)
        elif r.rc == 0:
            vs.append(WEAK)
        else:
            vs.append(WRONG)
    v = worst(vs)
    return res(v, runs, focus=next((r for r, x in zip(runs, vs) if x != OK), runs[0]))


@case("B02", G, "2 or warn (POS past the contig end; POS 99999999999; REF of 2 Mb)")
def b02(ctx):
    b = body(ctx)
    runs = []
    for label in ("past_end", "pos_huge", "ref2mb"):
        bb = [x[:] for x in b]
        if label == "past_end":
            bb[-1][1] = "1000050"
        elif label == "pos_huge":
            bb[-1][1] = "99999999999"
        else:
            bb[5][3] = bb[5][3] + random_seq(2000000, 2)
            bb[5][4] = bb[5][3][0] if len(bb[5][4]) == 1 else bb[5][4]
        runs.append(compare(ctx, label, qvcf(ctx, f"q_{label}.vcf", body=["\t".join(x) for x in bb])))
    return ok_or_warn(runs)


@case("B03", G, "warn or 2 (REF mismatching the reference, every SNV)")
def b03(ctx):
    bb = [x[:] for x in body(ctx)]
    n = 0
    for x in bb:
        if len(x[3]) == 1 and len(x[4]) == 1:
            x[3] = {"A": "C", "C": "G", "G": "T", "T": "A"}.get(x[3], "A")
            if x[3] == x[4]:
                x[3] = {"A": "C", "C": "G", "G": "T", "T": "A"}[x[3]]
            n += 1
    v = ok_or_warn([compare(ctx, "refmismatch", qvcf(ctx, "q_refmismatch.vcf", body=["\t".join(x) for x in bb]))])
    v.notes = f"{n} SNV REFs changed"
    return v


@case("B04", G, "2 (contig absent from the reference: header+body, body only; wrong reference)")
def b04(ctx):
    q = bench_fixtures(ctx)
    a = qvcf(ctx, "q_chrZZ_all.vcf", header=[l.replace("chr20_1M", "chrZZ") for l in header(ctx)],
             body=["\t".join(["chrZZ"] + x[1:]) for x in body(ctx)])
    b = qvcf(ctx, "q_chrZZ_body.vcf", body=["\t".join(["chrZZ"] + x[1:]) for x in body(ctx)])
    other = ctx.fix.fasta("other_contig.fa", [("ctg1", random_seq(10000, 4))])
    runs = [compare(ctx, "all", a), compare(ctx, "body", b), compare(ctx, "wrongref", "vcf/q.vcf.gz", reference=other)]
    return expect(runs, {2})


@case("B05", G, "0, zeros (header-only VCF)")
def b05(ctx):
    return expect(compare(ctx, "headeronly", qvcf(ctx, "q_headeronly.vcf", body=[])), {0})


@case("B06", G, "2 (0-byte; no header; random binary)")
def b06(ctx):
    bench_fixtures(ctx)
    rnd = random.Random(6)
    runs = [compare(ctx, "zero", qvcf(ctx, "q_zero.vcf", raw=b"")),
            compare(ctx, "noheader", qvcf(ctx, "q_noheader.vcf", header=[])),
            compare(ctx, "binary", qvcf(ctx, "q_binary.vcf", raw=bytes(rnd.randrange(256) for _ in range(4096))))]
    return expect(runs, {2})


@case("B07", G, "0, same scores (unsorted, duplicate records, CRLF, lowercase, sites-only)")
def b07(ctx):
    b = body(ctx)
    h = header(ctx)
    ref = compare(ctx, "reference_scores", "vcf/q.vcf.gz")
    lower = [x[:3] + [x[3].lower(), x[4].lower()] + x[5:] for x in b]
    variants = {
        "unsorted": qvcf(ctx, "q_unsorted.vcf", body=["\t".join(x) for x in reversed(b)]),
        "duplicates": qvcf(ctx, "q_dups.vcf", body=[l for x in b for l in ("\t".join(x), "\t".join(x))]),
        "crlf": qvcf(ctx, "q_crlf.vcf", crlf=True),
        "lowercase": qvcf(ctx, "q_lower.vcf", body=["\t".join(x) for x in lower]),
        "sites_only": qvcf(ctx, "q_sites.vcf", header=h[:-1] + ["\t".join(h[-1].split("\t")[:8])],
                           body=["\t".join(x[:8]) for x in b]),
    }
    runs = [ref] + [compare(ctx, k, f) for k, f in variants.items()]
    v = expect(runs, {0})
    if v.verdict == OK:
        diff = [r.label for r in runs[1:5] if scores(r) != scores(ref)]
        if diff:
            v.verdict, v.notes = WRONG, f"scores differ for {diff}"
        else:
            v.notes = "same scores (sites-only scored without GT)"
    return v


@case("B08", G, "2 (GT 5/7 with 1 ALT; ALT . with GT 0/1)")
def b08(ctx):
    b = body(ctx)
    a = [x[:] for x in b]
    a[2][9] = "5/7" + a[2][9][3:]
    c = [x[:] for x in b]
    c[2][4] = "."
    runs = [compare(ctx, "gt57", qvcf(ctx, "q_gt57.vcf", body=["\t".join(x) for x in a])),
            compare(ctx, "altdot", qvcf(ctx, "q_altdot.vcf", body=["\t".join(x) for x in c]))]
    return expect(runs, {2})


@case("B09", G, "skip: 0 (symbolic / breakend ALT)")
def b09(ctx):
    b = body(ctx)
    a = [x[:] for x in b]
    a[2][4] = "<DEL>"
    c = [x[:] for x in b]
    c[2][4] = c[2][3] + "]chr20_1M:300000]"
    runs = [compare(ctx, "symbolic", qvcf(ctx, "q_symbolic.vcf", body=["\t".join(x) for x in a])),
            compare(ctx, "breakend", qvcf(ctx, "q_breakend.vcf", body=["\t".join(x) for x in c]))]
    return expect(runs, {0})


@case("B10", G, "2 (--regions start > end; non-numeric)")
def b10(ctx):
    bench_fixtures(ctx)
    write(ctx.w("vcf/startend.bed"), "chr20_1M\t299000\t258000\n")
    write(ctx.w("vcf/nonnum.bed"), "chr20_1M\tabc\t299000\n")
    runs = [compare(ctx, "start_gt_end", "vcf/q.vcf.gz", ("--regions", "vcf/startend.bed")),
            compare(ctx, "nonnumeric", "vcf/q.vcf.gz", ("--regions", "vcf/nonnum.bed"))]
    return expect(runs, {2})


@case("B11", G, "warn or 2 (--regions BED whose contig is not in the reference)", review=WEAK)
def b11(ctx):
    bench_fixtures(ctx)
    write(ctx.w("vcf/absent.bed"), "chrZZ\t1\t100\n")
    r = compare(ctx, "absent", "vcf/q.vcf.gz", ("--regions", "vcf/absent.bed"))
    v = ok_or_warn([r], r"WARN|warning|chrZZ|not in the reference|no (variant|region|record)")
    if v.verdict == WEAK:
        v.notes = "exit 0, no warning"
        v.msg = "exit 0; " + " / ".join(" ".join(x) for x in scores(r))
    return v


@case("B12", G, "2 / 2 / 1 / accept (--fail-below snv=abc, snv=1.5; --json on a read-only fs; gzipped reference)")
def b12(ctx):
    bench_fixtures(ctx)
    ro = ctx.mount_tmpfs("b12_ro", "1M", ro=True)
    write(ctx.w("vcf/ref.fa.gz"), gz(open(ctx.w("ref/ref.fa"), "rb").read()))
    runs = [compare(ctx, "abc", "vcf/q.vcf.gz", ("--fail-below", "snv=abc")),
            compare(ctx, "1.5", "vcf/q.vcf.gz", ("--fail-below", "snv=1.5")),
            compare(ctx, "json_ro", "vcf/q.vcf.gz", ("--json", os.path.join(ro, "s.json"))),
            compare(ctx, "gzref", "vcf/q.vcf.gz", reference="vcf/ref.fa.gz")]
    want = [2, 2, 1, 0]
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    bad = [r for r, w in zip(runs, want) if r.rc != w]
    return res(WRONG if bad else OK, runs, focus=bad[0] if bad else None)


# =================================================================================================
# Slurm (stub sbatch/squeue/sinfo on PATH)
# =================================================================================================
G = "Slurm"


def slurm_ss(ctx):
    ctx.fix.base()
    import shutil
    for n in ("1", "2"):
        for r in (1, 2):
            p = ctx.w(f"slurmt/s{n}_R{r}.fq.gz")
            if not os.path.exists(p):
                os.makedirs(os.path.dirname(p), exist_ok=True)
                shutil.copyfile(ctx.w(f"fq/g{r}.fq.gz"), p)
    write(ctx.w("slurmt/ss.csv"), "patient,sex,status,sample,lane,fastq_1,fastq_2\n"
          "P1,XX,0,S1,L1,s1_R1.fq.gz,s1_R2.fq.gz\nP2,XX,0,S2,L1,s2_R1.fq.gz,s2_R2.fq.gz\n")
    return "slurmt/ss.csv"


def outdir_values(text):
    vals = []
    for l in text.splitlines():
        if l.startswith("OUTDIR="):
            try:
                vals.append(shlex.split(l[len("OUTDIR="):])[0])
            except (ValueError, IndexError):
                vals.append(l[len("OUTDIR="):])
    return vals


def pwned(ctx, prefix):
    return [os.path.join(d, f) for d, _, fs in os.walk(ctx.outdir) for f in fs if f.startswith(prefix)]


@case("SL1", G, "no injection; tasks done (hostile outdir, partition, account; rendered scripts run by bash)")
def sl1(ctx):
    ss = slurm_ss(ctx)
    env = ctx.fix.fake_env()
    o = out(ctx, "sl1 \"dq\" 'sq' $(touch PWNED_SL1a) `touch PWNED_SL1b` ;touch PWNED_SL1c")
    dry = ctx.dagr("dry", ["slurm", "submit", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir", o,
                           "--partition", "p a;rt", "--account", "acc'$(touch PWNED_SL1d)", "--dry-run"], env=env)
    sub = ctx.dagr("submit", ["slurm", "submit", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir", o,
                              "--partition", "p a;rt", "--account", "acc'$(touch PWNED_SL1d)"], env=env)
    runs = [dry, sub]
    if sub.rc != 0:
        return res(WRONG if not sub.panicked else PANIC, runs, focus=sub)
    ids = re.search(r"reference job (\d+), sample array (\d+)", sub.text)
    ref_id, arr_id = (ids.group(1), ids.group(2)) if ids else ("100", "101")
    od = ctx.w(o)
    sdir = os.path.join(od, "slurm")
    runs.append(ctx.spawn("script_reference", ["bash", os.path.join(sdir, "prepare_reference.sbatch")], cwd=od,
                          env=dict(env, SLURM_JOB_ID=ref_id), dagr=False, timeout=300).wait())
    for t in (0, 1):
        runs.append(ctx.spawn(f"script_task{t}", ["bash", os.path.join(sdir, "sample_array.sbatch")], cwd=od,
                              env=dict(env, SLURM_ARRAY_JOB_ID=arr_id, SLURM_ARRAY_TASK_ID=str(t)),
                              dagr=False, timeout=300).wait())
    st = ctx.dagr("status", ["slurm", "status", "--outdir", o], env=env)
    runs.append(st)
    found = pwned(ctx, "PWNED_SL1")
    if found:
        return res(INJECTION, runs, f"created: {[os.path.basename(f) for f in found]}")
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    done = re.findall(r"^(S1|S2)\s+done", st.out, re.M)
    bad = [r for r in runs if r.rc != 0]
    if bad or len(done) != 2:
        return res(WRONG, runs, f"status: {len(done)} of 2 samples done", focus=bad[0] if bad else st)
    return res(OK, runs, "every value quoted; 3 rendered scripts ran; no PWNED file; status shows both samples done")


@case("SL2", G, "taken literally (outdir containing {{TIME}})", review=INJECTION)
def sl2(ctx):
    ss = slurm_ss(ctx)
    o = out(ctx, "sl4{{TIME}}")
    r = ctx.dagr("dry", ["slurm", "submit", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir", o,
                         "--dry-run"], env=ctx.fix.fake_env())
    vals = outdir_values(r.out)
    if r.panicked:
        return res(PANIC, r)
    if r.rc == 2:
        return res(OK, r, "refused")
    if r.rc != 0 or not vals:
        return res(WRONG, r)
    wrong = [v for v in vals if not v.endswith("sl4{{TIME}}")]
    if wrong:
        return res(INJECTION, r, f"OUTDIR rendered as {sorted(set(wrong))}", msg="OUTDIR=" + wrong[0])
    return res(OK, r, "OUTDIR kept literally")


@case("SL3", G, "2 with a user-facing message, or taken literally (outdir containing {{FOO}} / {{REFERENCE_ARGS}})",
      review=WRONG)
def sl3(ctx):
    ss = slurm_ss(ctx)
    runs, vs = [], []
    for label, name in (("foo", "sl3{{FOO}}"), ("refargs", "sl3{{REFERENCE_ARGS}}")):
        r = ctx.dagr(label, ["slurm", "submit", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir",
                             out(ctx, name), "--dry-run"], env=ctx.fix.fake_env())
        runs.append(r)
        vals = outdir_values(r.out)
        if r.panicked:
            vs.append(PANIC)
        elif r.rc == 2 and "internal" not in r.key():
            vs.append(OK)
        elif r.rc == 0 and vals and all(v.endswith(name) for v in vals):
            vs.append(OK)
        elif r.rc == 0:
            vs.append(INJECTION)
        else:
            vs.append(WRONG)
    return res(worst(vs), runs, focus=next((r for r, v in zip(runs, vs) if v != OK), runs[0]))


@case("SL4", G, "renders: 0 (20,000 samples, --dry-run)")
def sl4(ctx):
    ss = ctx.fix.many_samples(20000)
    r = ctx.dagr("dry", ["slurm", "submit", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir",
                         out(ctx, "o"), "--dry-run"], env=ctx.fix.fake_env(), timeout=600, limit_as=8 * GB)
    v = expect(r, {0})
    arr = re.search(r"--array=(\S+)", r.out)
    v.notes = f"{r.secs:.1f} s, {r.maxrss_kb // 1024} MB" + (f"; --array={arr.group(1)} (Slurm's default MaxArraySize is 1001)"
                                                             if arr else "")
    if v.verdict == OK and r.secs > 180:
        v.verdict = WRONG
    return v
