#!/usr/bin/env python3
"""Reliability harness: runs the 148 cases of shared/reviews/reliability.md against one dagr
binary. Use run.sh (it documents the arguments). A measuring tool: no project test calls it."""
import argparse
import datetime
import fnmatch
import os
import signal
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lib  # noqa: E402
from lib import CASES, Ctx, HARNESS, NOTRUN, NotRun, one_line  # noqa: E402
import fixtures  # noqa: E402
import cases_inputs  # noqa: E402,F401  (registers F, S, Y, R)
import cases_runs  # noqa: E402,F401    (registers K, C, O, D, RS, L)
import cases_misc  # noqa: E402,F401    (registers X, B, SL)

COLS = ["id", "group", "expected", "exit_codes", "message", "verdict", "notes", "review_verdict", "secs"]


def tsv(v):
    return str(v).replace("\t", " ").replace("\n", " | ").replace("\r", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dagr")
    ap.add_argument("outdir")
    ap.add_argument("globs", nargs="*", default=["*"])
    ap.add_argument("--repo", default=os.path.abspath(os.path.join(HERE, "..", "..")))
    a = ap.parse_args()

    os.makedirs(a.outdir, exist_ok=True)
    logf = open(os.path.join(a.outdir, "harness.log"), "a")

    def log(msg):
        line = f"{datetime.datetime.now():%H:%M:%S} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    ctx = Ctx(a.dagr, a.outdir, a.repo, log)
    ctx.fix = fixtures.Fix(ctx)
    selected = [c for c in CASES if any(fnmatch.fnmatchcase(c.id, g) for g in a.globs)]
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case id"
    log(f"dagr: {ctx.dagr_bin} ({subprocess.run([ctx.dagr_bin, '--version'], capture_output=True, text=True).stdout.strip()})")
    log(f"{len(selected)} of {len(CASES)} cases selected; scratch: {ctx.work}")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results = []
    t_all = time.monotonic()
    try:
        for c in selected:
            lib.wait_quiet(log)
            ctx.case = c.id
            for stale in (ctx.w("out", c.id), ctx.logdir()):  # each case starts from scratch
                if os.path.lexists(stale):
                    subprocess.run(["rm", "-rf", "--one-file-system", stale])
            t0 = time.monotonic()
            try:
                r = c.fn(ctx)
                verdict, codes, msg, notes = r.verdict, r.exit_codes(), r.message(), r.notes
            except NotRun as e:
                verdict, codes, msg, notes = NOTRUN, "-", "", str(e)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001
                verdict, codes, msg = HARNESS, "-", f"{type(e).__name__}: {e}"
                notes = "harness error, see cases/%s/traceback.txt" % c.id
                os.makedirs(ctx.logdir(), exist_ok=True)
                with open(os.path.join(ctx.logdir(), "traceback.txt"), "w") as f:
                    traceback.print_exc(file=f)
            finally:
                ctx.stop_all()
                ctx.umount_all()
            secs = time.monotonic() - t0
            results.append([c.id, c.group, c.expected, codes, msg, verdict, notes, c.review, f"{secs:.1f}"])
            flag = "" if verdict == c.review else f"   (review: {c.review})"
            log(f"{c.id:5} {verdict:13} {secs:6.1f}s  {one_line(codes, 60)}  {one_line(msg, 90)}{flag}")
    except KeyboardInterrupt:
        log("interrupted: writing what ran so far")
    finally:
        ctx.stop_all()
        ctx.umount_all()
    total = time.monotonic() - t_all
    write_results(a.outdir, results)
    write_summary(a.outdir, results, ctx, total, len(selected))
    log(f"done: {len(results)} cases in {total:.0f} s -> {a.outdir}/results.tsv, summary.md")


def write_results(outdir, results):
    with open(os.path.join(outdir, "results.tsv"), "w") as f:
        f.write("\t".join(COLS) + "\n")
        for r in results:
            f.write("\t".join(tsv(x) for x in r) + "\n")


def write_summary(outdir, results, ctx, total, nsel):
    counts, review_counts = {}, {}
    for r in results:
        counts[r[5]] = counts.get(r[5], 0) + 1
        review_counts[r[7]] = review_counts.get(r[7], 0) + 1
    order = lib.ORDER
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        ver = subprocess.run([ctx.dagr_bin, "--version"], capture_output=True, text=True).stdout.strip()
        f.write(f"# Reliability harness: {ctx.dagr_bin}\n\n")
        f.write(f"`{ver}`; {len(results)} of {nsel} selected cases ran in {total:.0f} s "
                f"({datetime.datetime.now():%Y-%m-%d %H:%M}).\n\n")
        f.write("| verdict | count | review (3cf1fb9), same cases |\n|---|---|---|\n")
        for v in order:
            if counts.get(v) or review_counts.get(v):
                f.write(f"| {v} | {counts.get(v, 0)} | {review_counts.get(v, 0)} |\n")
        f.write("\n## Non-OK cases\n\n| id | verdict | exit codes | message | notes |\n|---|---|---|---|---|\n")
        for r in results:
            if r[5] != "OK":
                f.write(f"| {r[0]} | {r[5]} | {md(r[3], 80)} | {md(r[4], 160)} | {md(r[6], 200)} |\n")
        diff = [r for r in results if r[5] != r[7]]
        f.write(f"\n## Verdicts that differ from the review ({len(diff)})\n\n")
        if diff:
            f.write("| id | review | now | notes |\n|---|---|---|---|\n")
            for r in diff:
                f.write(f"| {r[0]} | {r[7]} | {r[5]} | {md(r[6], 200)} |\n")
        else:
            f.write("None.\n")


def md(s, n):
    s = one_line(str(s), n)
    return s.replace("|", "\\|")


if __name__ == "__main__":
    main()
