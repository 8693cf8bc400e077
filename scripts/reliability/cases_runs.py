"""Cases K (signals), C (concurrency), O (output folders), D (disk full), RS (resume), L (leaks).
All on BIG (testdata TUMOR x4, 52,360 pairs) or the small sample, --threads 1.

Kill points are placed from the run itself, not from wall-clock guesses: the first log line that
names the stage (`stage=align`, the engine's structured field, not a wording that a build may
change) plus a fraction of that stage's duration in the clean baseline run of the same binary on
the same machine (its summary table). prepare-reference kills use fractions of a clean build's
duration measured in the same case. L02 waits for the first file in --tmp-dir."""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

from lib import (COLLISION, LEAK, LOSS, NOTRUN, OK, PANIC, RMISS, WEAK, WRONG, ENOSPC, NotRun,
                 avail_kb, bad_finals, case, diff_digests, digests, fill_fs, md5_file, ran_stages,
                 rc_verdict, res, temp_leftovers, worst, sam_header)
from fixtures import write



def stage_line(stage):
    """The first log line of a stage (its `running:` line carries `stage=<name>`)."""
    return rf"\bstage={stage}\b"


ALIGN_START = stage_line("align")


def out(ctx, label):
    return f"out/{ctx.case}/{label}"


def big_argv(outdir, pipeline="germline", extra=()):
    return ["run", pipeline, "--samplesheet", "big/big.csv", "--reference", "ref/ref.fa", "--outdir", outdir,
            "--threads", "1", *extra]


def small_argv(outdir, pipeline="align", extra=()):
    return ["run", pipeline, "--sample", "S", "--fastq1", "fq/g1.fq.gz", "--fastq2", "fq/g2.fq.gz",
            "--reference", "ref/ref.fa", "--outdir", outdir, "--threads", "1", *extra]


def big_baseline(ctx):
    """Digests of a clean germline run of BIG (out/_baseline/KS)."""
    if "big_base" not in ctx.memo:
        ctx.fix.base()
        saved, ctx.case = ctx.case, "_baseline"
        o = "out/_baseline/KS"
        if os.path.exists(ctx.w(o)):
            shutil.rmtree(ctx.w(o))
        r = ctx.dagr("big_germline", big_argv(o), timeout=600)
        ctx.case = saved
        if r.rc != 0:
            raise RuntimeError("baseline germline run of BIG failed: " + r.key())
        ctx.memo["big_base"] = digests(ctx.w(o), "BIG")
        secs = stage_secs(r)
        ctx.memo["big_secs"] = {s: secs.get(("BIG", s), 1.0) for s in ("align", "call_germline")}
        ctx.log(f"baseline BIG: align {ctx.memo['big_secs']['align']:.1f} s, "
                f"call_germline {ctx.memo['big_secs']['call_germline']:.1f} s")
    return ctx.memo["big_base"]


def stage_secs(run):
    """{(entity, stage): seconds} from the run summary table."""
    d = {}
    for l in (run.out + "\n" + run.err).splitlines():
        m = re.match(r"^  (\S+)\s+(\S+)\s+[a-z_]+\s+([\d.]+) s\s*$", l)
        if m:
            d[(m.group(1), m.group(2))] = float(m.group(3))
    return d


def current_stage(text):
    m = re.findall(r"\bstage=(\w+)", text)
    return m[-1] if m else "?"


def kill_point(ctx, label, stage, frac, sig, pipeline="germline", extra=(), resume=True):
    """Starts BIG, waits for the first log line of `stage`, sleeps `frac` of that stage's baseline
    duration, sends `sig`; then checks final names and resumes. Returns what it saw."""
    big_baseline(ctx)
    delay = frac * ctx.memo["big_secs"][stage]
    trigger = stage_line(stage)
    o = out(ctx, label)
    p = ctx.spawn(label, big_argv(o, pipeline, extra), timeout=600)
    seen = p.wait_for(trigger, 180)
    if seen:
        time.sleep(delay)
    stage = current_stage(p.stderr_text())
    alive = p.alive()
    t_sig = time.monotonic()
    if alive:
        p.signal(sig)
    r = p.wait(180)
    latency = time.monotonic() - t_sig
    rep = ctx.w(o, "run_report.json")
    report = open(rep, errors="replace").read() if os.path.exists(rep) else None
    d = {"run": r, "seen": seen and alive, "stage": f"{stage} at {delay:.2f} s", "latency": latency, "report": report,
         "bad": bad_finals(ctx.w(o)), "resume": None, "diff": []}
    if resume:
        rr = ctx.dagr(label + "_resume", big_argv(o, pipeline, ("--resume",) + tuple(extra)), timeout=600)
        d["resume"] = rr
        if rr.rc == 0:
            base = big_baseline(ctx)
            keys = ["bam"] if pipeline == "align" else None
            d["diff"] = diff_digests(base, digests(ctx.w(o), "BIG"), keys)
    return d


def kill_verdict(points, want_rc, extra_check=None):
    runs, notes, vs = [], [], []
    for i, d in enumerate(points):
        runs.append(d["run"])
        if d["resume"]:
            runs.append(d["resume"])
        n = f"#{i + 1} in {d['stage']}"
        if not d["seen"]:
            n += " (kill point missed: the run ended first)"
        v = OK
        if d["run"].panicked or (d["resume"] and d["resume"].panicked):
            v = PANIC
        elif d["bad"]:
            v = LOSS
            n += f": partial under a final name {d['bad']}"
        elif d["seen"] and d["run"].rc not in want_rc:
            v = WRONG
            n += f": exit {d['run'].rc}"
        elif d["resume"] and d["resume"].rc != 0:
            v = WRONG
            n += f": resume exit {d['resume'].rc}"
        elif d["diff"]:
            v = LOSS
            n += f": resume differs ({','.join(d['diff'])})"
        if extra_check:
            v2, n2 = extra_check(d)
            v = worst([v, v2])
            n += n2
        vs.append(v)
        notes.append(n)
    if not any(d["seen"] for d in points):
        return res(NOTRUN, runs, "every kill point was missed; " + "; ".join(notes))
    v = worst(vs)
    i = next((i for i, x in enumerate(vs) if x != OK), None)
    if i is None:
        return res(v, runs, "; ".join(notes), focus=points[0]["run"])
    d = points[i]
    msg = d["run"].key() if re.search(r"error|panicked", d["run"].key(), re.I) else \
        f"exit {d['run'].rc} after the signal; " + notes[i]
    return res(v, runs, "; ".join(notes), msg=msg)


# =================================================================================================
# Runs, signals
# =================================================================================================
G = "Signals"


@case("K01", G, "no final-named partial; resume identical (kill -9 during align, 5 points)")
def k01(ctx):
    big_baseline(ctx)
    pts = (0.02, 0.2, 0.45, 0.7, 0.9)
    return kill_verdict([kill_point(ctx, f"k{i + 1}", "align", f, signal.SIGKILL) for i, f in enumerate(pts)], {137})


@case("K02", G, "BAM set complete, no partial VCF; resume identical (kill -9 during call_germline, 6 points)")
def k02(ctx):
    big_baseline(ctx)
    pts = (0.02, 0.2, 0.4, 0.6, 0.75, 0.9)

    def bam_complete(d):
        bam = ctx.w(out(ctx, d["run"].label), "BIG", "BIG.bam")
        if d["stage"].startswith("call_germline") and not os.path.exists(bam):
            return LOSS, ": BAM missing after the kill in call_germline"
        return OK, ""

    return kill_verdict([kill_point(ctx, f"k{i + 1}", "call_germline", f, signal.SIGKILL) for i, f in enumerate(pts)],
                        {137}, bam_complete)


def interrupted_check(ctx):
    def chk(d):
        notes = f" ({d['latency']:.1f} s to exit)"
        if not d["report"] or "interrupted" not in d["report"]:
            return WRONG, notes + ": no run report saying interrupted"
        if d["latency"] > 10:
            return WRONG, notes + ": slow to stop"
        return OK, notes
    return chk


@case("K03", G, "3, report says interrupted; resume identical (SIGTERM during align, 2 points)")
def k03(ctx):
    big_baseline(ctx)
    pts = (0.3, 0.65)
    return kill_verdict([kill_point(ctx, f"t{i + 1}", "align", f, signal.SIGTERM) for i, f in enumerate(pts)],
                        {3}, interrupted_check(ctx))


@case("K04", G, "3; resume identical (SIGINT in call_germline; SIGUSR1 in align)")
def k04(ctx):
    big_baseline(ctx)
    a = kill_point(ctx, "int", "call_germline", 0.4, signal.SIGINT)
    b = kill_point(ctx, "usr1", "align", 0.4, signal.SIGUSR1)
    return kill_verdict([a, b], {3}, interrupted_check(ctx))


@case("K05", G, "130 (second SIGINT)")
def k05(ctx):
    big_baseline(ctx)
    runs, notes = [], []
    # First SIGINT early in align (while the index loads, the cancel flag is not polled), the
    # second one `gap` later. Conclusive only if the run still lived when the second was sent.
    for i, gap in enumerate((0.1, 0.05, 0.02)):
        o = out(ctx, f"twice{i + 1}")
        p = ctx.spawn(f"twice{i + 1}", big_argv(o), timeout=600)
        seen = p.wait_for(ALIGN_START, 120)
        time.sleep(0.05 * ctx.memo["big_secs"]["align"])
        first = seen and p.alive()
        p.signal(signal.SIGINT)
        time.sleep(gap)
        second = p.alive()
        p.signal(signal.SIGINT)
        r = p.wait(120)
        runs.append(r)
        if first and second:
            notes.append(f"second SIGINT {gap:.2f} s after the first; temp folder handling: see L02")
            return res(rc_verdict([r], {130}), runs, "; ".join(notes), focus=r)
        notes.append(f"try {i + 1}: the run ended before the second SIGINT")
    return res(NOTRUN, runs, "; ".join(notes))


@case("K06", G, "3, like TERM (SIGHUP, terminal closed)", review=WRONG)
def k06(ctx):
    big_baseline(ctx)
    d = kill_point(ctx, "hup", "align", 0.45, signal.SIGHUP)
    return kill_verdict([d], {3}, interrupted_check(ctx))


def big30(ctx):
    p = ctx.w("rf30/big30.fa")
    if not os.path.exists(p):
        import random
        seq = ctx.fix.ref_seq()
        rnd = random.Random(7)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            for i in range(30):
                k = (i * 33331) % len(seq)
                s = list(seq[k:] + seq[:k])
                for j in range(rnd.randrange(100), len(s), 97):
                    s[j] = "ACGT"[("ACGT".index(s[j]) + 1 + i % 3) % 4] if s[j] in "ACGT" else s[j]
                s = "".join(s)
                f.write(f">c{i}\n")
                for j in range(0, len(s), 80):
                    f.write(s[j:j + 80] + "\n")
    return "rf30/big30.fa"


def cache_files(cache):
    """{name: md5} of the final-named regular files of a prepared reference (any digest folder)."""
    outp = {}
    for d in glob.glob(os.path.join(cache, "*")):
        if not os.path.isdir(d):
            continue
        for fn in os.listdir(d):
            p = os.path.join(d, fn)
            if fn.startswith(".") or os.path.islink(p) or not os.path.isfile(p) or fn == "reference.json":
                continue
            outp[fn] = md5_file(p)
    return outp


@case("K07", G, "no partial final; rebuilt index byte-identical (kill -9 of prepare-reference, 30 Mb, 3 points)")
def k07(ctx):
    fa = big30(ctx)
    clean_dir = ctx.w(out(ctx, "clean"))
    a = ctx.dagr("clean", ["prepare-reference", fa, "--threads", "1", "--cache-dir", clean_dir], timeout=600)
    if a.rc != 0:
        raise RuntimeError("clean prepare-reference failed: " + a.key())
    clean = cache_files(clean_dir)
    total = a.secs
    runs, notes, vs = [a], [], []
    for i, frac in enumerate((0.15, 0.5, 0.85)):
        cd = ctx.w(out(ctx, f"cache{i + 1}"))
        p = ctx.spawn(f"kill{i + 1}", ["prepare-reference", fa, "--threads", "1", "--cache-dir", cd], timeout=600)
        time.sleep(frac * total)
        alive = p.alive()
        last = [l for l in p.stderr_text().splitlines() if l.strip()]
        p.signal(signal.SIGKILL)
        r = p.wait(60)
        after = cache_files(cd)
        partial = [k for k, v in after.items() if clean.get(k) != v]
        rb = ctx.dagr(f"rebuild{i + 1}", ["prepare-reference", fa, "--threads", "1", "--cache-dir", cd], timeout=600)
        rebuilt = cache_files(cd)
        differ = [k for k in clean if rebuilt.get(k) != clean[k]]
        runs += [r, rb]
        where = re.sub(r"^\S+Z\s+\w+\s+", "", last[-1])[:50] if last else "start"
        n = f"#{i + 1} at {frac * total:.2f} s: " + (f"killed after '{where}'" if alive else "missed (already done)")
        n += f", finals after kill {sorted(after)}"
        v = OK
        if r.panicked or rb.panicked:
            v = PANIC
        elif partial:
            v, n = LOSS, n + f", partial {partial}"
        elif rb.rc != 0:
            v, n = WRONG, n + f", rebuild exit {rb.rc}"
        elif differ:
            v, n = LOSS, n + f", rebuilt differs {differ}"
        elif not alive:
            v = NOTRUN
        vs.append(v)
        notes.append(n)
    return res(worst([x for x in vs if x != NOTRUN]) if any(x != NOTRUN for x in vs) else NOTRUN, runs, "; ".join(notes))


@case("K08", G, "3 (SIGTERM during the minimap2 index build)")
def k08(ctx):
    fa = big30(ctx)
    # a clean run first: where in prepare_reference does the index build start, and how long is it?
    clean = ctx.dagr("clean", ["run", "qc", "--sample", "S", "--fastq1", "fq/g1.fq.gz", "--fastq2", "fq/g2.fq.gz",
                               "--reference", fa, "--reference-cache", ctx.w(out(ctx, "cache_clean")), "--outdir",
                               out(ctx, "clean"), "--threads", "1"], timeout=600)
    dur = stage_secs(clean).get(("reference", "prepare_reference"), 1.0)
    o = out(ctx, "term")
    p = ctx.spawn("term", ["run", "qc", "--sample", "S", "--fastq1", "fq/g1.fq.gz", "--fastq2", "fq/g2.fq.gz",
                           "--reference", fa, "--reference-cache", ctx.w(out(ctx, "cache")), "--outdir", o,
                           "--threads", "1"], timeout=600)
    seen = p.wait_for(stage_line("prepare_reference"), 120)
    time.sleep(0.6 * dur)  # scanning takes about the first 15 %, the index build the rest
    alive = seen and p.alive()
    last = [l for l in p.stderr_text().splitlines() if l.strip()]
    t = time.monotonic()
    p.signal(signal.SIGTERM)
    r = p.wait(120)
    lat = time.monotonic() - t
    if not alive:
        return res(NOTRUN, [clean, r], "the run ended before the signal")
    where = re.sub(r"^\S+Z\s+\w+\s+", "", last[-1])[:60] if last else "?"
    return res(rc_verdict([r], {3}), [clean, r], f"SIGTERM {0.6 * dur:.2f} s into prepare_reference "
               f"(last line: '{where}'); exit {lat:.1f} s later", focus=r)


# =================================================================================================
# Concurrency
# =================================================================================================
G = "Concurrency"
LOCKED = r"another|lock|in use|already running|busy"


@case("C01", G, "2 (two runs, same outdir: fresh, --resume, other pipeline)")
def c01(ctx):
    ctx.fix.base()
    o = out(ctx, "shared")
    a = ctx.spawn("A", big_argv(o), timeout=600)
    a.wait_for(ALIGN_START, 120)
    b1 = ctx.dagr("B_fresh", big_argv(o), timeout=120)
    b2 = ctx.dagr("B_resume", big_argv(o, extra=("--resume",)), timeout=120)
    b3 = ctx.dagr("B_qc", small_argv(o, "qc"), timeout=120)
    alive = a.alive()
    ra = a.wait(600)
    runs = [ra, b1, b2, b3]
    if not alive:
        return res(NOTRUN, runs, "run A ended before the second runs")
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    bad = [r for r in (b1, b2, b3) if r.rc != 2 or not re.search(LOCKED, r.text)]
    if bad:
        v = COLLISION if any(r.rc in (0, 1) for r in bad) else WRONG
        return res(v, runs, "a second run was not refused", focus=bad[0])
    return res(OK if ra.rc == 0 else WRONG, runs, "", focus=b1)


@case("C02", G, "0 (--dry-run while another run holds the outdir)")
def c02(ctx):
    ctx.fix.base()
    o = out(ctx, "shared")
    a = ctx.spawn("A", big_argv(o), timeout=600)
    a.wait_for(ALIGN_START, 120)
    b = ctx.dagr("dry", big_argv(o, extra=("--resume", "--dry-run")), timeout=120)
    alive = a.alive()
    ra = a.wait(600)
    if not alive:
        return res(NOTRUN, [ra, b], "run A ended first")
    return res(rc_verdict([ra, b], {0}), [ra, b], focus=b)


@case("C03", G, "all 0, identical BAMs (3 concurrent runs, one new reference cache)")
def c03(ctx):
    ctx.fix.base()
    cache = ctx.w(out(ctx, "cache"))
    ps = [ctx.spawn(f"run{i}", small_argv(out(ctx, f"o{i}"), extra=("--reference-cache", cache)), timeout=300)
          for i in (1, 2, 3)]
    runs = [p.wait(300) for p in ps]
    v = rc_verdict(runs, {0})
    md5s = set(digests(ctx.w(out(ctx, f"o{i}")), "S")["bam"] for i in (1, 2, 3))
    waited = sum(1 for r in runs if re.search("waiting for another", r.text))
    if v == OK and len(md5s) != 1:
        v = COLLISION
    return res(v, runs, f"{len(md5s)} distinct BAM record sets; {waited} run(s) waited for the cache lock")


@case("C04", G, "second refused (Slurm task and local dagr run on the same outdir and sample)", review=COLLISION)
def c04(ctx):
    ctx.fix.base()
    env = ctx.fix.fake_env()
    runs, notes, vs = [], [], []
    for t in (1, 2, 3):
        o = out(ctx, f"MIX{t}")
        s = ctx.dagr(f"submit{t}", ["slurm", "submit", "align", "--samplesheet", "big/big.csv", "--reference",
                                    "ref/ref.fa", "--outdir", o], env=env, timeout=120)
        if s.rc != 0:
            raise RuntimeError("slurm submit against the stub failed: " + s.key())
        sub = ctx.w(o, "slurm", "submission.json")
        write(sub, re.sub(r'"threads": \d+', '"threads": 1', open(sub).read()))
        task = ctx.spawn(f"task{t}", ["slurm", "task", "--outdir", o, "--sample-index", "0"],
                         env=dict(env, SLURM_ARRAY_JOB_ID="900", SLURM_ARRAY_TASK_ID="0"), timeout=600)
        task.wait_for(ALIGN_START, 120)
        time.sleep(0.3)
        overlapped = task.alive()
        local = ctx.dagr(f"local{t}", ["run", "align", "--samplesheet", "big/big.csv", "--reference", "ref/ref.fa",
                                       "--outdir", o, "--threads", "1"], timeout=600)
        rt = task.wait(600)
        runs += [rt, local]
        pair = sorted([rt.rc, local.rc])
        refused = pair == [0, 2] and re.search(LOCKED, (rt.text if rt.rc == 2 else local.text))
        bam = ctx.w(o, "BIG", "BIG.bam")
        ok_bam = os.path.exists(bam) and not bad_finals(ctx.w(o, "BIG"))
        if rt.panicked or local.panicked:
            v = PANIC
        elif refused and ok_bam:
            v = OK
        else:
            v = COLLISION
        vs.append(v)
        notes.append(f"#{t}: task {rt.rc}, local {local.rc}{'' if overlapped else ' (no overlap)'}"
                     f"{'' if ok_bam else ', no valid final BAM'}")
    focus = next((r for r in runs if r.rc not in (0,)), runs[0])
    return res(worst(vs), runs, "; ".join(notes), focus=focus)


@case("C05", G, "both succeed (two runs with the same PID sharing --tmp-dir, unshare --pid)", review=COLLISION)
def c05(ctx):
    big_baseline(ctx)
    if shutil.which("unshare") is None:
        raise NotRun("unshare not available")
    chk = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True)
    if chk.returncode != 0:
        raise NotRun("unshare --pid --fork refused: " + chk.stderr.decode().strip())
    tmp = ctx.w(out(ctx, "tmp_shared"))
    os.makedirs(tmp, exist_ok=True)
    pre = ["unshare", "--pid", "--fork", ctx.dagr_bin]
    a = ctx.spawn("A", pre + big_argv(out(ctx, "PIDA"), "align", ("--max-memory", "60M", "--tmp-dir", tmp)),
                  dagr=False, timeout=600)
    a.wait_for(ALIGN_START, 120)
    time.sleep(0.25 * ctx.memo["big_secs"]["align"])
    b = ctx.spawn("B", pre + small_argv(out(ctx, "PIDB"), "align", ("--max-memory", "60M", "--tmp-dir", tmp)),
                  dagr=False, timeout=600)
    rb = b.wait(600)
    alive = a.alive()
    ra = a.wait(600)
    runs = [ra, rb]
    pids = sorted(set(re.findall(r"dagr-(\d+)", ra.text + rb.text)))
    note = f"temp roots seen: {','.join('dagr-' + p for p in pids) or '-'}"
    if not alive and ra.rc == 0:
        note += " (A ended before B; no overlap)"
    if any(r.panicked for r in runs):
        return res(PANIC, runs, note)
    if ra.rc == 0 and rb.rc == 0:
        return res(OK, runs, note)
    return res(COLLISION, runs, note, focus=ra if ra.rc else rb)


# =================================================================================================
# Output folders
# =================================================================================================
G = "Output folders"


@case("O01", G, "2 (read-only outdir: inside a ro mount, and the ro mount itself)")
def o01(ctx):
    ctx.fix.base()
    ro = ctx.mount_tmpfs("o01_ro", "1M", ro=True)
    a = ctx.dagr("inside", small_argv(os.path.join(ro, "o"), "qc"))
    b = ctx.dagr("root", small_argv(ro, "qc"))
    v = rc_verdict([a, b], {2})
    return res(v, [a, b], focus=next((r for r in (a, b) if r.rc != 2), a))


@case("O02", G, "2 (outdir is a file)")
def o02(ctx):
    ctx.fix.base()
    write(ctx.w(out(ctx, "afile")), "x")
    r = ctx.dagr("file", small_argv(out(ctx, "afile"), "qc"))
    return res(rc_verdict([r], {2}), r)


@case("O03", G, "0 (outdir with spaces)")
def o03(ctx):
    ctx.fix.base()
    r = ctx.dagr("spaces", small_argv(out(ctx, "with some spaces"), "align"))
    return res(rc_verdict([r], {0}), r)


@case("O04", G, "0, quoted in @PG (outdir with \", ', $(...), backticks)")
def o04(ctx):
    ctx.fix.base()
    o = out(ctx, "o4 \"dq\" 'sq' $(touch PWNED_O04a) `touch PWNED_O04b`")
    r = ctx.dagr("hostile", small_argv(o, "align"))
    v = rc_verdict([r], {0})
    notes = []
    pwned = [f for d, _, fs in os.walk(ctx.outdir) for f in fs if f.startswith("PWNED_O04")]
    if pwned:
        return res("INJECTION", r, f"created {pwned}")
    if r.rc == 0:
        h = sam_header(ctx.w(o, "S", "S.bam")) or ""
        cls = [l for l in h.split("\n") if l.startswith("@PG")]
        ok = False
        for l in cls:
            m = re.search(r"\tCL:([^\t]*)", l)
            if m:
                try:
                    ok = ok or o in shlex.split(m.group(1))
                except ValueError:
                    pass
        notes.append("@PG CL quoted correctly" if ok else "@PG CL does not give the outdir back")
        if not ok:
            v = worst([v, WRONG])
    return res(v, r, "; ".join(notes))


@case("O05", G, "2 (TAB or newline in the outdir or FASTQ path)")
def o05(ctx):
    ctx.fix.base()
    shutil.copyfile(ctx.w("fq/g1.fq.gz"), ctx.w("fq/tab\there_R1.fq.gz"))
    runs = [ctx.dagr("outdir_tab", small_argv(out(ctx, "a\tb"))),
            ctx.dagr("outdir_newline", small_argv(out(ctx, "a\nb"))),
            ctx.dagr("fastq_tab", ["run", "align", "--sample", "S", "--fastq1", "fq/tab\there_R1.fq.gz", "--fastq2",
                                   "fq/g2.fq.gz", "--reference", "ref/ref.fa", "--outdir", out(ctx, "fqtab"),
                                   "--threads", "1"])]
    v = rc_verdict(runs, {2})
    return res(v, runs, focus=next((r for r in runs if r.rc != 2), runs[0]))


@case("O06", G, "2 (read-only --reference-cache; read-only --tmp-dir)")
def o06(ctx):
    ctx.fix.base()
    ro = ctx.mount_tmpfs("o06_ro", "1M", ro=True)
    a = ctx.dagr("ro_cache", small_argv(out(ctx, "a"), extra=("--reference-cache", os.path.join(ro, "cache"))))
    b = ctx.dagr("ro_tmp", small_argv(out(ctx, "b"), extra=("--tmp-dir", ro)))
    return res(rc_verdict([a, b], {2}), [a, b], focus=next((r for r in (a, b) if r.rc != 2), a))


@case("O07", G, "2 (--tmp-dir whose parent does not exist)", review=WRONG)
def o07(ctx):
    ctx.fix.base()
    t = ctx.w(out(ctx, "nonexistent"), "x")
    r = ctx.dagr("tmpdir", small_argv(out(ctx, "o"), extra=("--tmp-dir", t)))
    created = os.path.exists(t)
    return res(rc_verdict([r], {2}), r, f"the folder was {'created and left' if created else 'not created'}")


# =================================================================================================
# Disk full (tmpfs)
# =================================================================================================
G = "Disk full"


def failure_lines(run):
    """dagr's own error lines (not htslib's [E::...] chatter), without the log timestamp."""
    return [re.sub(r"^\S+Z\s+", "", l).strip() for l in run.text.splitlines() if re.search(r"ERROR|^error:", l)]


def stage_failure(run):
    """The first `ERROR failed:` line (the stage's own failure), else the first error line."""
    ls = failure_lines(run)
    return next((l for l in ls if "failed" in l), ls[0] if ls else run.key())


@case("D01", G, "1, no partial, names ENOSPC; resume identical (disk full while writing the BAM, 2 MB)", review=WEAK)
def d01(ctx):
    base = big_baseline(ctx)
    m = ctx.mount_tmpfs("d01", "2M")
    o = os.path.join(m, "o")
    r = ctx.dagr("full", big_argv(o), timeout=600)
    bad = bad_finals(o)
    ctx.remount(m, "size=64M")
    rr = ctx.dagr("resume", big_argv(o, extra=("--resume",)), timeout=600)
    diff = diff_digests(base, digests(o, "BIG")) if rr.rc == 0 else ["(resume failed)"]
    first = stage_failure(r)
    runs = [r, rr]
    if any(x.panicked for x in runs):
        return res(PANIC, runs)
    if bad:
        return res(LOSS, runs, f"partial under a final name: {bad}")
    if diff:
        return res(LOSS, runs, f"resume differs: {diff}")
    if r.rc != 1 or rr.rc != 0:
        return res(WRONG, runs, focus=r if r.rc != 1 else rr)
    named = bool(ENOSPC.search(first))
    return res(OK if named else WEAK, runs, "no partial; resume identical" +
               ("" if named else "; the stage failure does not name ENOSPC"), msg=first)


def disk_scan(ctx):
    """D02/D03: call_germline resumed with 0..56 KB free on a 16 MB tmpfs (BAM made beforehand)."""
    if "disk_scan" in ctx.memo:
        return ctx.memo["disk_scan"]
    base = big_baseline(ctx)
    saved, ctx.case = ctx.case, "D02"
    m = ctx.mount_tmpfs("d02", "16M")
    o = os.path.join(m, "o")
    first = ctx.dagr("align", big_argv(o, "align"), timeout=600)
    if first.rc != 0:
        ctx.case = saved
        raise RuntimeError("align into the tmpfs failed: " + first.key())
    levels = []
    for kb in (0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56):
        for f in glob.glob(os.path.join(o, "BIG", "BIG.*")):
            if not re.search(r"BIG\.(bam|bam\.bai|alignment_|markdup|stats)", os.path.basename(f)):
                os.remove(f)
        filler = fill_fs(m, kb)
        r = ctx.dagr(f"free{kb}k", big_argv(o, extra=("--resume",)), timeout=600)
        lv = {"kb": kb, "avail": avail_kb(m), "run": r, "bad": bad_finals(o), "tmp": temp_leftovers(o),
              "fail": stage_failure(r)}
        os.remove(filler)
        rr = ctx.dagr(f"free{kb}k_resume", big_argv(o, extra=("--resume",)), timeout=600)
        lv["resume"] = rr
        lv["diff"] = diff_digests(base, digests(o, "BIG")) if rr.rc == 0 else ["(resume failed)"]
        lv["tmp_after_resume"] = temp_leftovers(o)
        levels.append(lv)
    ctx.umount(m)
    ctx.case = saved
    ctx.memo["disk_scan"] = (first, levels)
    return ctx.memo["disk_scan"]


@case("D02", G, "no corrupt final; resume identical (disk full writing VCF/gVCF/BED/TBI/json, 13 levels)", review=WEAK)
def d02(ctx):
    first, levels = disk_scan(ctx)
    runs = [first] + [x for lv in levels for x in (lv["run"], lv["resume"])]
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    notes, vs, weak_lines = [], [], []
    for lv in levels:
        r = lv["run"]
        v = OK
        if lv["bad"]:
            v = LOSS
            notes.append(f"{lv['kb']}K: corrupt final {lv['bad']}")
        elif lv["resume"].rc != 0 or lv["diff"]:
            v = LOSS if lv["diff"] != ["(resume failed)"] else WRONG
            notes.append(f"{lv['kb']}K: resume {lv['resume'].rc} {lv['diff']}")
        elif r.rc not in (0, 1):
            v = WRONG
            notes.append(f"{lv['kb']}K: exit {r.rc}")
        elif r.rc == 1 and not ENOSPC.search(lv["fail"]):
            v = WEAK
            weak_lines.append(f"{lv['kb']}K: {lv['fail']}")
        vs.append(v)
    summary = ",".join(f"{lv['kb']}K={lv['run'].rc}" for lv in levels)
    v = worst(vs)
    msg = weak_lines[0] if weak_lines else None
    if weak_lines:
        notes.append(f"{len(weak_lines)} of {len(levels)} failures lack ENOSPC in the first error")
    notes.append("exit per level: " + summary)
    return res(v, runs, "; ".join(notes), msg=msg)


@case("D03", G, "1, no temp left (disk full while committing the run report / a sidecar)", review=LEAK)
def d03(ctx):
    first, levels = disk_scan(ctx)
    runs = [lv["run"] for lv in levels]
    leaks = [(lv["kb"], lv["tmp"]) for lv in levels if lv["tmp"]]
    after = sorted(set(t for lv in levels for t in lv["tmp_after_resume"]))
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    if leaks or after:
        names = sorted(set(t for _, ts in leaks for t in ts))
        return res(LEAK, runs, f"left after failed runs: {names}; still there after the successful resume: {after or 'none'}",
                   msg=f"{len(leaks)} failed runs left *.dagr-tmp files")
    if not any(r.rc == 1 for r in runs):
        return res(NOTRUN, runs, "no level failed")
    return res(OK, runs, "no temporary file left")


@case("D04", G, "1, clear ENOSPC; spill removed; resume identical (--tmp-dir full during a sort spill)")
def d04(ctx):
    base = big_baseline(ctx)
    m = ctx.mount_tmpfs("d04", "1M")
    o = out(ctx, "o")
    r = ctx.dagr("spill", big_argv(o, "align", ("--max-memory", "60M", "--tmp-dir", m)), timeout=600)
    left = [os.path.relpath(os.path.join(d, f), m) for d, _, fs in os.walk(m) for f in fs]
    rr = ctx.dagr("resume", big_argv(o, "align", ("--max-memory", "60M", "--tmp-dir", ctx.w("tmp"), "--resume")),
                  timeout=600)
    diff = diff_digests(base, digests(ctx.w(o), "BIG"), ["bam"]) if rr.rc == 0 else ["(resume failed)"]
    runs = [r, rr]
    if any(x.panicked for x in runs):
        return res(PANIC, runs)
    if r.rc == 0:
        return res(NOTRUN, runs, "no spill hit the full tmp-dir")
    notes = f"left in tmp-dir: {left or 'nothing'}"
    if diff:
        return res(LOSS, runs, notes + f"; resume differs {diff}")
    if r.rc != 1 or rr.rc != 0:
        return res(WRONG, runs, notes)
    if left:
        return res(LEAK, runs, notes)
    first = stage_failure(r)
    return res(OK if ENOSPC.search(first) else WEAK, runs, notes, msg=first)


@case("D05", G, "no partial final (reference cache on a nearly full disk)", review=LOSS)
def d05(ctx):
    ctx.fix.base()
    clean = {}
    for d in glob.glob(ctx.w("ref/ref.fa.dagr/*/")):
        clean.update(cache_files(os.path.dirname(d.rstrip("/"))))
    m = ctx.mount_tmpfs("d05", "16M")
    fill_fs(m, 1024)
    cache = os.path.join(m, "cache")
    r = ctx.dagr("nearlyfull", small_argv(out(ctx, "o"), "qc", ("--reference-cache", cache)), timeout=300)
    after = {}
    sizes = {}
    for d in glob.glob(os.path.join(cache, "*", "")):
        for fn in os.listdir(d):
            p = os.path.join(d, fn)
            if not fn.startswith(".") and os.path.isfile(p) and not os.path.islink(p) and fn != "reference.json":
                after[fn] = md5_file(p)
                sizes[fn] = os.path.getsize(p)
    partial = [f"{k} ({sizes[k]} B)" for k, v in after.items() if k in clean and clean[k] != v]
    if r.panicked:
        return res(PANIC, r)
    if partial:
        return res(LOSS, r, f"truncated under the final name: {partial}")
    if r.rc == 0:
        return res(OK, r, "fitted (nothing to test)")
    return res(OK if r.rc in (1, 2) else WRONG, r, f"finals present: {sorted(after)}")


# =================================================================================================
# Resume
# =================================================================================================
G = "Resume"


def big_run(ctx, label, pipeline="germline"):
    r = ctx.dagr(label, big_argv(out(ctx, label), pipeline), timeout=600)
    if r.rc != 0:
        raise RuntimeError(f"{label}: BIG run failed: " + r.key())
    return r


def non_ref(stages):
    return [s for s in stages if not s.startswith("reference/")]


@case("RS1", G, "reuse (resume with other --threads/--max-memory/--tmp-dir/--log-format)")
def rs1(ctx):
    ctx.fix.base()
    src = big_run(ctx, "src")
    o = out(ctx, "src")
    runs, ran = [src], {}
    os.makedirs(ctx.w("tmp", "rs1"), exist_ok=True)
    for label, extra in (("threads", ("--threads", "2")), ("memory", ("--max-memory", "8G")),
                         ("tmpdir", ("--tmp-dir", ctx.w("tmp", "rs1"))), ("json", ("--log-format", "json"))):
        argv = big_argv(o, extra=("--resume",))
        if label == "threads":
            argv[argv.index("--threads") + 1] = "2"
        else:
            argv += list(extra)
        r = ctx.dagr(label, argv, timeout=600)
        runs.append(r)
        rows = ran_stages(r)
        if r.rc != 0:
            ran[label] = ["(failed)"]
        elif not rows and not re.search(r"\b0 ran\b|\"ran\": ?0", r.text):
            ran[label] = ["(no summary found)"]
        else:
            ran[label] = non_ref(rows)
    v = rc_verdict(runs, {0})
    missed = {k: x for k, x in ran.items() if x}
    if v == OK and missed:
        v = RMISS
    return res(v, runs, "reran: " + str(missed) if missed else "all reused")


@case("RS2", G, "rerun or warn (BAM corrupted in place, same size, then --resume)")
def rs2(ctx):
    ctx.fix.base()
    src = big_run(ctx, "src")
    o = out(ctx, "src")
    bam = ctx.w(o, "BIG", "BIG.bam")
    size = os.path.getsize(bam)
    with open(bam, "r+b") as f:
        f.seek(size // 2)
        chunk = f.read(64)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    r = ctx.dagr("resume", big_argv(o, extra=("--resume",)), timeout=600)
    ran = non_ref(ran_stages(r))
    md5ok = subprocess.run(["md5sum", "-c", "--quiet", "BIG.bam.md5"], cwd=ctx.w(o, "BIG"), capture_output=True).returncode == 0
    if r.panicked:
        return res(PANIC, [src, r])
    v = OK if r.rc in (0, 1, 2) else WRONG
    warned = re.search(r"WARN.*(BIG\.bam|checksum|md5|corrupt)", r.text)
    note = ("reran " + ",".join(ran)) if ran else ("reused" + (" with a warning" if warned else " (size-only check: design limit)"))
    return res(v, [src, r], f"{note}; md5sum -c BIG.bam.md5 {'OK' if md5ok else 'FAILED'}")


@case("RS3", G, "rerun align and calling (copied outdir, BAM/BAI/VCF deleted, --resume)", review=LOSS)
def rs3(ctx):
    base = big_baseline(ctx)
    src = big_run(ctx, "src")
    o, c = out(ctx, "src"), out(ctx, "copy")
    subprocess.run(["cp", "-a", ctx.w(o), ctx.w(c)], check=True)
    for f in ("BIG.bam", "BIG.bam.bai", "BIG.vcf.gz"):
        os.remove(ctx.w(c, "BIG", f))
    r = ctx.dagr("resume", big_argv(c, extra=("--resume",)), timeout=600)
    missing = [f for f in ("BIG.bam", "BIG.bam.bai", "BIG.vcf.gz") if not os.path.exists(ctx.w(c, "BIG", f))]
    ran = non_ref(ran_stages(r))
    runs = [src, r]
    if r.panicked:
        return res(PANIC, runs)
    if r.rc == 0 and missing:
        return res(LOSS, runs, f"exit 0, ran {ran or 'nothing'}; still missing: {missing}", focus=r)
    if r.rc != 0:
        return res(WRONG, runs, focus=r)
    diff = diff_digests(base, digests(ctx.w(c), "BIG"))
    if diff:
        return res(LOSS, runs, f"outputs differ: {diff}", focus=r)
    return res(OK, runs, f"reran {','.join(ran)}; identical", focus=r)


@case("RS4", G, "reuse (outdir moved, or resumed from another cwd / with an absolute --outdir)", review=RMISS)
def rs4(ctx):
    ctx.fix.base()
    runs, notes, vs = [], [], []
    # a: from another cwd (work/out), paths spelled relative to it
    a = big_run(ctx, "a")
    ra = ctx.dagr("a_other_cwd", ["run", "germline", "--samplesheet", "../big/big.csv", "--reference", "../ref/ref.fa",
                                  "--outdir", f"{ctx.case}/a", "--threads", "1", "--resume"], cwd=ctx.w("out"), timeout=600)
    # b: absolute --outdir
    b = big_run(ctx, "b")
    rb = ctx.dagr("b_absolute", big_argv(ctx.w(out(ctx, "b")), extra=("--resume",)), timeout=600)
    # c: moved
    c = big_run(ctx, "c")
    os.rename(ctx.w(out(ctx, "c")), ctx.w(out(ctx, "c_moved")))
    rc = ctx.dagr("c_moved", big_argv(out(ctx, "c_moved"), extra=("--resume",)), timeout=600)
    for src, r in ((a, ra), (b, rb), (c, rc)):
        runs += [src, r]
        ran = non_ref(ran_stages(r))
        if r.panicked:
            vs.append(PANIC)
        elif r.rc != 0:
            vs.append(WRONG)
        elif ran:
            vs.append(RMISS)
        else:
            vs.append(OK)
        why = re.search(r"running: ([^\n]*?missing)", r.text)
        notes.append(f"{r.label}: {'reran ' + ','.join(ran) if ran else 'reused'}" + (f" ({why.group(1)})" if why else ""))
    return res(worst(vs), runs, "; ".join(notes), focus=next((r for r, v in zip((ra, rb, rc), vs) if v != OK), ra))


# =================================================================================================
# Leaks
# =================================================================================================
G = "Leaks"


@case("L02", G, "temp files removed by the next run (SIGKILL after the first sort spill, then --resume)", review=LEAK)
def l02(ctx):
    ctx.fix.base()
    tmp = ctx.w(out(ctx, "tmp"))
    os.makedirs(tmp, exist_ok=True)
    o = out(ctx, "o")
    extra = ("--max-memory", "60M", "--tmp-dir", tmp)
    p = ctx.spawn("kill", big_argv(o, "align", extra), timeout=600)
    spill = p.wait_file(tmp, 180)
    if spill:
        time.sleep(0.05)
    p.signal(signal.SIGKILL)
    r = p.wait(60)
    rr = ctx.dagr("resume", big_argv(o, "align", extra + ("--resume",)), timeout=600)
    left = []
    for d, _, fs in os.walk(tmp):
        for f in fs:
            left.append(f"{os.path.relpath(os.path.join(d, f), tmp)} ({os.path.getsize(os.path.join(d, f))} B)")
    runs = [r, rr]
    if not spill:
        return res(NOTRUN, runs, "no file appeared in --tmp-dir before the run ended")
    if rr.panicked:
        return res(PANIC, runs)
    if rr.rc != 0:
        return res(WRONG, runs, focus=rr)
    if left:
        return res(LEAK, runs, f"after the successful resume: {left[:3]}", msg=f"{len(left)} file(s) left in --tmp-dir")
    return res(OK, runs, "temp folder of the killed run removed")
