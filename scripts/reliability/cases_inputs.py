"""Cases F (FASTQ), S (samplesheet), Y (pipeline YAML), R (reference FASTA)."""
import gzip
import hashlib
import os
import re
import shutil
import subprocess

from fixtures import GERMLINE_YAML, QC_YAML, bgzip_file, gz, make_fifo, random_seq, write
from lib import (INJECTION, LOSS, NOTRUN, OK, PANIC, WEAK, WRONG, COLLISION, RMISS, NotRun, case,
                 digests, diff_digests, ran_stages, rc_verdict, res, worst)

GB = 1 << 30


# --- helpers ---------------------------------------------------------------------------------------
def out(ctx, label):
    return f"out/{ctx.case}/{label}"


def qc(ctx, label, f1, f2, pipeline="qc", extra=(), timeout=120, **kw):
    ctx.fix.base()
    return ctx.dagr(label, ["run", pipeline, "--sample", "S", "--fastq1", f1, "--fastq2", f2,
                            "--reference", "ref/ref.fa", "--outdir", out(ctx, label), "--threads", "1",
                            *extra], timeout=timeout, **kw)


def align(ctx, label, f1, f2, **kw):
    return qc(ctx, label, f1, f2, pipeline="align", **kw)


def sheet(ctx, label, ss, pipeline="qc", extra=(), timeout=120, **kw):
    ctx.fix.base()
    return ctx.dagr(label, ["run", pipeline, "--samplesheet", ss, "--reference", "ref/ref.fa",
                            "--outdir", out(ctx, label), "--threads", "1", *extra], timeout=timeout, **kw)


def validate(ctx, label, yaml, timeout=60, limit_as=4 * GB, **kw):
    ctx.fix.base()
    return ctx.dagr(label, ["validate", yaml], timeout=timeout, limit_as=limit_as, **kw)


def expect(runs, ok_rcs, notes=""):
    """The common rule: PANIC, else WRONG EXIT if an exit code is outside ok_rcs, else OK."""
    runs = runs if isinstance(runs, list) else [runs]
    v = rc_verdict(runs, ok_rcs)
    focus = next((r for r in runs if r.panicked or r.rc not in ok_rcs), None)
    return res(v, runs, notes, focus=focus)


def sam_lines(bam):
    r = subprocess.run(["samtools", "view", bam], capture_output=True, text=True)
    return [l.split("\t") for l in r.stdout.splitlines()] if r.returncode == 0 else None


def bam_of(ctx, label, sample="S"):
    return ctx.w(out(ctx, label), sample, f"{sample}.bam")


# =================================================================================================
# FASTQ
# =================================================================================================
G = "FASTQ"


@case("F01", G, "2, names the file")
def f01(ctx):
    ctx.fix.base()
    full = open(ctx.w("germ/germline_L1_R1.fastq.gz"), "rb").read()
    write(ctx.w("fq/trunc_R1.fq.gz"), full[: len(full) // 2])
    shutil.copyfile(ctx.w("germ/germline_L1_R2.fastq.gz"), ctx.w("fq/trunc_R2.fq.gz"))
    r = qc(ctx, "trunc", "fq/trunc_R1.fq.gz", "fq/trunc_R2.fq.gz")
    if r.panicked:
        return res(PANIC, r)
    if r.rc != 2:
        return res(WRONG, r)
    return res(OK if "trunc_R1" in r.key() else WEAK, r, "" if "trunc_R1" in r.key() else "file not named")


@case("F02", G, "2 (or warn)")
def f02(ctx):
    ctx.fix.base()
    write(ctx.w("fq/trail_R1.fq.gz"), open(ctx.w("fq/g1.fq.gz"), "rb").read() + b"trailing garbage\n" * 4)
    r = qc(ctx, "trail", "fq/trail_R1.fq.gz", "fq/g2.fq.gz")
    if r.panicked:
        return res(PANIC, r)
    if r.rc == 2:
        return res(OK, r)
    if r.rc == 0:
        warned = re.search(r"WARN|warning", r.text) and re.search(r"trail|garbage|after the end|extra", r.text, re.I)
        return res(OK if warned else WEAK, r, "accepted with a warning" if warned else "accepted silently")
    return res(WRONG, r)


@case("F03", G, "2 or accept")
def f03(ctx):
    ctx.fix.base()
    p = ctx.fix.fq_pair("crlf", gzip_it=False,
                        raw1=open(ctx.w("fq/g1.fq"), "rb").read().replace(b"\n", b"\r\n"),
                        raw2=open(ctx.w("fq/g2.fq"), "rb").read().replace(b"\n", b"\r\n"))
    return expect(qc(ctx, "crlf", *p), {0, 2})


def _edit(recs, i, field, fn):
    recs[i][field] = fn(recs[i][field])
    return recs


@case("F04", G, "accept (qc and align); upper-case bases in the BAM")
def f04(ctx):
    low = lambda rs: [[r[0], r[1].lower(), r[2], r[3]] for r in rs]
    p = ctx.fix.fq_pair("lower", r1=low, r2=low)
    a = qc(ctx, "qc", *p)
    b = align(ctx, "align", *p)
    v = expect([a, b], {0})
    if b.rc == 0:
        lines = sam_lines(bam_of(ctx, "align"))
        if lines is None or any(re.search("[a-z]", l[9]) for l in lines):
            v.notes = "lower-case bases in the BAM"
            v.verdict = worst([v.verdict, WRONG])
        else:
            v.notes = "BAM bases upper-case"
    return v


@case("F05", G, "2 (IUPAC R/Y/K/M; J/Z)")
def f05(ctx):
    runs = []
    for b in "RYKMJZ":
        p = ctx.fix.fq_pair(f"iupac{b}", r1=lambda rs, b=b: _edit(rs, 0, 1, lambda s: s[:10] + b.encode() + s[11:]))
        runs.append(qc(ctx, b, *p))
    return expect(runs, {2})


@case("F06", G, "2 ('.' bases)")
def f06(ctx):
    p = ctx.fix.fq_pair("dot", r1=lambda rs: _edit(rs, 0, 1, lambda s: s[:10] + b"." + s[11:]))
    return expect(qc(ctx, "dot", *p), {2})


@case("F07", G, "accept; SEQ * unmapped (read of length 0: R1 only; both mates; align)")
def f07(ctx):
    empty = lambda rs: _edit(_edit(rs, 0, 1, lambda s: b""), 0, 3, lambda s: b"")
    p1 = ctx.fix.fq_pair("empty1", r1=empty)
    p2 = ctx.fix.fq_pair("empty2", r1=empty, r2=empty)
    runs = [qc(ctx, "r1only", *p1), qc(ctx, "both", *p2), align(ctx, "align", *p2)]
    v = expect(runs, {0})
    if runs[2].rc == 0:
        lines = sam_lines(bam_of(ctx, "align")) or []
        star = [l for l in lines if l[9] == "*" and int(l[1]) & 4]
        v.notes = f"{len(star)} unmapped records with SEQ *"
        if not star:
            v.verdict = worst([v.verdict, WRONG])
    return v


@case("F08", G, "accept (100 kb read); one unmapped 100 kb record")
def f08(ctx):
    long = random_seq(100000, 8).encode()
    p = ctx.fix.fq_pair("long", r1=lambda rs: _edit(_edit(rs, 0, 1, lambda s: long), 0, 3, lambda s: b"F" * len(long)))
    runs = [qc(ctx, "qc", *p), align(ctx, "align", *p)]
    v = expect(runs, {0})
    if runs[1].rc == 0:
        lines = sam_lines(bam_of(ctx, "align")) or []
        n = [l for l in lines if len(l[9]) == 100000]
        v.notes = f"{len(n)} record(s) of 100 kb"
    return v


@case("F09", G, "2 (quality byte 0x20, 0x7f, 0xff)")
def f09(ctx):
    runs = []
    for b in (0x20, 0x7F, 0xFF):
        p = ctx.fix.fq_pair(f"q{b:02x}", r1=lambda rs, b=b: _edit(rs, 0, 3, lambda s: s[:5] + bytes([b]) + s[6:]))
        runs.append(qc(ctx, f"0x{b:02x}", *p))
    return expect(runs, {2})


@case("F10", G, "2 (missing + line)")
def f10(ctx):
    def drop_plus(rs):
        data = b"".join(b"\n".join(r) + b"\n" for r in rs)
        lines = data.split(b"\n")
        del lines[6]  # the '+' of record 2
        return b"\n".join(lines)
    p = ctx.fix.fq_pair("noplus", r1=drop_plus)
    return expect(qc(ctx, "noplus", *p), {2})


@case("F11", G, "2 (header without @)")
def f11(ctx):
    p = ctx.fix.fq_pair("noat", r1=lambda rs: _edit(rs, 0, 0, lambda s: s[1:]))
    return expect(qc(ctx, "noat", *p), {2})


@case("F12", G, "2 (R2 one record short at the end; and R1)")
def f12(ctx):
    p1 = ctx.fix.fq_pair("r2short", r2=lambda rs: rs[:-1])
    p2 = ctx.fix.fq_pair("r1short", r1=lambda rs: rs[:-1])
    return expect([qc(ctx, "r2short", *p1), qc(ctx, "r1short", *p2)], {2})


@case("F13", G, "0 (R1 and R2 swapped: undetectable)")
def f13(ctx):
    ctx.fix.base()
    return expect(qc(ctx, "swap", "fq/g2.fq.gz", "fq/g1.fq.gz"), {0})


@case("F14", G, "accept or warn (duplicate read names in a lane)")
def f14(ctx):
    dup = lambda rs: _edit(rs, 1, 0, lambda s: rs[0][0])
    p = ctx.fix.fq_pair("dupname", r1=dup, r2=dup)
    runs = [qc(ctx, "qc", *p), align(ctx, "align", *p)]
    ok = all(r.rc == 0 or (r.rc == 2 and re.search("duplicate", r.key(), re.I)) for r in runs)
    v = PANIC if any(r.panicked for r in runs) else (OK if ok else WRONG)
    warned = any(re.search(r"(WARN|warning|error).*(read name|QNAME|same name)", r.text, re.I) for r in runs)
    return res(v, runs, "warned or refused" if warned else "no uniqueness check (accepted silently)")


@case("F15", G, "accept (plain text named .gz)")
def f15(ctx):
    ctx.fix.base()
    shutil.copyfile(ctx.w("fq/g1.fq"), ctx.w("fq/plain_R1.fq.gz"))
    shutil.copyfile(ctx.w("fq/g2.fq"), ctx.w("fq/plain_R2.fq.gz"))
    return expect(qc(ctx, "plain", "fq/plain_R1.fq.gz", "fq/plain_R2.fq.gz"), {0})


@case("F16", G, "0 (BGZF)")
def f16(ctx):
    ctx.fix.base()
    bgzip_file(ctx.w("fq/g1.fq"), ctx.w("fq/bgzf_R1.fq.gz"))
    bgzip_file(ctx.w("fq/g2.fq"), ctx.w("fq/bgzf_R2.fq.gz"))
    return expect(qc(ctx, "bgzf", "fq/bgzf_R1.fq.gz", "fq/bgzf_R2.fq.gz"), {0})


@case("F17", G, "0 (multi-member gzip, one member per record)")
def f17(ctx):
    for r in (1, 2):
        recs = ctx.fix.recs(r)
        write(ctx.w(f"fq/multi_R{r}.fq.gz"), b"".join(gz(b"\n".join(x) + b"\n") for x in recs))
    return expect(qc(ctx, "multi", "fq/multi_R1.fq.gz", "fq/multi_R2.fq.gz"), {0})


@case("F18", G, "2 (0-byte files)")
def f18(ctx):
    ctx.fix.base()
    write(ctx.w("fq/zero_R1.fq.gz"), b"")
    write(ctx.w("fq/zero_R2.fq.gz"), b"")
    return expect(qc(ctx, "zero", "fq/zero_R1.fq.gz", "fq/zero_R2.fq.gz"), {2})


@case("F19", G, "2 (complete gzip, text cut mid-record)")
def f19(ctx):
    recs = ctx.fix.recs(1)
    text = b"".join(b"\n".join(r) + b"\n" for r in recs[:9]) + b"\n".join(recs[9][:3]) + b"\n" + recs[9][3][:81]
    write(ctx.w("fq/cut_R1.fq.gz"), gz(text))
    return expect(qc(ctx, "cut", "fq/cut_R1.fq.gz", "fq/g2.fq.gz"), {2})


@case("F20", G, "0 (no final newline)")
def f20(ctx):
    ctx.fix.base()
    p = ctx.fix.fq_pair("nonl", raw1=open(ctx.w("fq/g1.fq"), "rb").read().rstrip(b"\n"),
                        raw2=open(ctx.w("fq/g2.fq"), "rb").read().rstrip(b"\n"))
    return expect(qc(ctx, "nonl", *p), {0})


@case("F21", G, "2 (NUL in sequence)")
def f21(ctx):
    p = ctx.fix.fq_pair("nul", r1=lambda rs: _edit(rs, 0, 1, lambda s: s[:10] + b"\0" + s[11:]))
    return expect(qc(ctx, "nul", *p), {2})


@case("F22", G, "2 (empty name '@')")
def f22(ctx):
    e = lambda rs: _edit(rs, 0, 0, lambda s: b"@")
    p = ctx.fix.fq_pair("noname", r1=e, r2=e)
    return expect(qc(ctx, "noname", *p), {2})


@case("F23", G, "0 or 2 ('+' line names another read)")
def f23(ctx):
    p = ctx.fix.fq_pair("plusname", r1=lambda rs: _edit(rs, 0, 2, lambda s: b"+" + rs[1][0][1:]))
    return expect(qc(ctx, "plusname", *p), {0, 2})


@case("F24", G, "0, pairs correctly (/1, /2 suffixes)")
def f24(ctx):
    p = ctx.fix.fq_pair("slash", r1=lambda rs: [[r[0] + b"/1"] + r[1:] for r in rs],
                        r2=lambda rs: [[r[0] + b"/2"] + r[1:] for r in rs])
    runs = [qc(ctx, "qc", *p), align(ctx, "align", *p)]
    v = expect(runs, {0})
    if runs[1].rc == 0:
        lines = sam_lines(bam_of(ctx, "align")) or []
        bad = [l[0] for l in lines if l[0].endswith(("/1", "/2")) or not int(l[1]) & 1]
        v.notes = f"{len(lines)} records; {len(bad)} with a /1,/2 QNAME or unpaired"
        if bad or not lines:
            v.verdict = worst([v.verdict, WRONG])
    return v


@case("F25", G, "2 (blank lines between records)")
def f25(ctx):
    recs = ctx.fix.recs(1)
    data = b"\n".join(b"\n".join(r) for r in recs) + b"\n"
    data = b"\n\n".join(b"\n".join(r) for r in recs) + b"\n"
    p = ctx.fix.fq_pair("blank", raw1=data, raw2=open(ctx.w("fq/g2.fq"), "rb").read())
    return expect(qc(ctx, "blank", *p), {2})


@case("F26", G, "2 (directory as FASTQ)")
def f26(ctx):
    ctx.fix.base()
    os.makedirs(ctx.w("fq/dir_R1.fq.gz"), exist_ok=True)
    return expect(qc(ctx, "dir", "fq/dir_R1.fq.gz", "fq/g2.fq.gz"), {2})


@case("F27", G, "2 or read it (FIFO as FASTQ)")
def f27(ctx):
    ctx.fix.base()
    make_fifo(ctx.w("fq/fifo_R1.fq"))
    writer = ctx.spawn("writer", ["bash", "-c", "cat fq/g1.fq > fq/fifo_R1.fq"], timeout=30, dagr=False)
    r = qc(ctx, "fifo", "fq/fifo_R1.fq", "fq/g2.fq", timeout=60)
    writer.kill_group()
    writer.wait(5)
    v = expect(r, {0, 2})
    if r.timed_out:
        v.verdict, v.notes = WRONG, "hangs on the FIFO"
    return v


@case("F28", G, "2 (chmod 000; as root: not testable)")
def f28(ctx):
    ctx.fix.base()
    shutil.copyfile(ctx.w("fq/g1.fq.gz"), ctx.w("fq/mode000_R1.fq.gz"))
    os.chmod(ctx.w("fq/mode000_R1.fq.gz"), 0)
    r = qc(ctx, "mode000", "fq/mode000_R1.fq.gz", "fq/g2.fq.gz")
    if os.geteuid() == 0:
        return res(PANIC if r.panicked else OK, r, "n/a: root ignores the mode (not testable as root)")
    return expect(r, {2})


@case("F29", G, "2 (FASTQ does not exist)")
def f29(ctx):
    ctx.fix.base()
    return expect(qc(ctx, "missing", "fq/missing_R1.fq.gz", "fq/g2.fq.gz"), {2})


@case("F30", G, "2 (same file as R1 and R2; align and samplesheet)", review=WRONG)
def f30(ctx):
    ctx.fix.base()
    a = align(ctx, "align", "fq/g1.fq.gz", "fq/g1.fq.gz")
    ss = ctx.fix.ss("same_r1_r2", [ctx.fix.row(f1="../fq/g1.fq.gz", f2="../fq/g1.fq.gz")])
    b = sheet(ctx, "sheet", ss)
    v = expect([a, b], {2})
    if a.rc == 0:
        lines = sam_lines(bam_of(ctx, "align")) or []
        flags = sorted(set(int(l[1]) for l in lines))[:6]
        v.notes = f"accepted; BAM flags {','.join(map(str, flags))}"
    return v


@case("F31", G, "2 (/dev/null)")
def f31(ctx):
    ctx.fix.base()
    return expect(qc(ctx, "devnull", "/dev/null", "/dev/null"), {2})


@case("F32", G, "2, bounded memory (gzip bomb: 0.5 MB .gz -> one 500 MB line)")
def f32(ctx):
    ctx.fix.base()
    b = ctx.fix.gz_bomb()
    r = qc(ctx, "bomb", b, "fq/g2.fq.gz", limit_as=4 * GB, timeout=180)
    mb = r.maxrss_kb // 1024
    if r.panicked:
        return res(PANIC, r)
    ok = r.rc == 2 and mb < 1536 and not re.search("out of memory|memory allocation", r.text, re.I)
    return res(OK if ok else WRONG, r, f"max RSS {mb} MB, {r.secs:.1f} s")


@case("F33", G, "2 each (testdata/bad through align)")
def f33(ctx):
    ctx.fix.base()
    runs = []
    for name, f1, f2 in [("mismatched", "mismatched_names_R1", "mismatched_names_R2"),
                         ("qual_length", "qual_length_R1", "qual_length_R2"),
                         ("empty", "empty_R1", "empty_R2"),
                         ("truncated", "truncated_r1", "truncated_r2"),
                         ("r1_longer", "r1_longer_R1", "r1_longer_R2")]:
        runs.append(align(ctx, name, f"bad/{f1}.fastq.gz", f"bad/{f2}.fastq.gz"))
    return expect(runs, {2})


# =================================================================================================
# Samplesheet
# =================================================================================================
G = "Samplesheet"
ROW = "P1,XX,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"


@case("S01", G, "accept, or say BOM (UTF-8 BOM)", review=WEAK)
def s01(ctx):
    ss = ctx.fix.ss("excel_utf8", None, raw=("\ufeff" + "patient,sex,status,sample,lane,fastq_1,fastq_2\n" + ROW + "\n").encode())
    r = sheet(ctx, "excel", ss)
    if r.panicked:
        return res(PANIC, r)
    if r.rc == 0:
        return res(OK, r, "BOM accepted")
    if r.rc == 2:
        named = re.search(r"BOM|byte.order|U\+FEFF|\\u\{?feff", r.key(), re.I)
        return res(OK if named else WEAK, r, "" if named else "refused; the message does not name the BOM")
    return res(WRONG, r)


@case("S02", G, "0 (CRLF)")
def s02(ctx):
    ss = ctx.fix.ss("crlf", None, raw=("patient,sex,status,sample,lane,fastq_1,fastq_2\r\n" + ROW + "\r\n").encode())
    return expect(sheet(ctx, "crlf", ss), {0})


@case("S03", G, "accept, or say quoting unsupported (quoted fields)", review=WEAK)
def s03(ctx):
    a = ctx.fix.ss("quoted", ['P1,XX,0,"S1",L1,../fq/g1.fq.gz,../fq/g2.fq.gz'])
    b = ctx.fix.ss("r_write_csv", ['"P1","XX","0","S1","L1","../fq/g1.fq.gz","../fq/g2.fq.gz"'],
                   header='"patient","sex","status","sample","lane","fastq_1","fastq_2"')
    runs = [sheet(ctx, "quoted", a), sheet(ctx, "r_write_csv", b)]
    vs = []
    for r in runs:
        if r.panicked:
            vs.append(PANIC)
        elif r.rc == 0:
            vs.append(OK)
        elif r.rc == 2:
            vs.append(OK if re.search(r"quot", r.key(), re.I) else WEAK)
        else:
            vs.append(WRONG)
    v = worst(vs)
    return res(v, runs, "" if v == OK else "the message does not say that quoting is unsupported",
               focus=next((r for r, x in zip(runs, vs) if x != OK), None))


@case("S04", G, "2 (quoted field with a comma)")
def s04(ctx):
    ss = ctx.fix.ss("quoted_comma", ['P1,XX,0,"S1,x",L1,../fq/g1.fq.gz,../fq/g2.fq.gz'])
    return expect(sheet(ctx, "comma", ss), {2})


@case("S05", G, "0 (trailing blank lines)")
def s05(ctx):
    ss = ctx.fix.ss("trailing_blank", [ROW, "", "", ""])
    return expect(sheet(ctx, "blank", ss), {0})


@case("S06", G, "2, names line and column (extra column / missing column / extra field)")
def s06(ctx):
    a = ctx.fix.ss("extra_col", [ROW + ",x"], header="patient,sex,status,sample,lane,fastq_1,fastq_2,foo")
    b = ctx.fix.ss("missing_col", ["P1,XX,0,S1,L1,../fq/g1.fq.gz"], header="patient,sex,status,sample,lane,fastq_1")
    c = ctx.fix.ss("extra_field", [ROW + ",extra"])
    return expect([sheet(ctx, "extra_col", a), sheet(ctx, "missing_col", b), sheet(ctx, "extra_field", c)], {2})


@case("S07", G, "2 each; nothing executed (hostile sample names)")
def s07(ctx):
    names = {"dotdot": "../S1", "space": "S 1", "semicolon": "S1;touch PWNED_S07a",
             "subst": "$(touch PWNED_S07b)", "umlaut": "Sämple", "dash": "-S1", "long129": "S" * 129,
             "nul": "S1\0x"}
    runs = []
    for k, n in names.items():
        ss = ctx.fix.ss(f"name_{k}", [f"P1,XX,0,{n},L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
        runs.append(sheet(ctx, k, ss))
    pwned = [os.path.join(d, f) for d, _, fs in os.walk(ctx.outdir) for f in fs if f.startswith("PWNED_S07")]
    v = expect(runs, {2})
    if pwned:
        v.verdict, v.notes = INJECTION, f"created: {pwned}"
    return v


@case("S08", G, "0 (name S1.., a safe file name)")
def s08(ctx):
    ss = ctx.fix.ss("name_dots", ["P1,XX,0,S1..,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect(sheet(ctx, "dots", ss), {0})


@case("S09", G, "2 (name reference)")
def s09(ctx):
    ss = ctx.fix.ss("name_reference", ["P1,XX,0,reference,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect(sheet(ctx, "reference", ss), {2})


@case("S10", G, "2, like reference (name run_report.json)", review=WRONG)
def s10(ctx):
    ss = ctx.fix.ss("name_runreport", ["P1,XX,0,run_report.json,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    a = sheet(ctx, "runreport", ss)
    runs = [a]
    if a.rc != 2:  # the review: every --resume fails the same way
        runs.append(ctx.dagr("resume", ["run", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa",
                                        "--outdir", out(ctx, "runreport"), "--threads", "1", "--resume"]))
    return expect(runs, {2})


@case("S11", G, "0 (sex M, female)")
def s11(ctx):
    a = ctx.fix.ss("sex_M", ["P1,M,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    b = ctx.fix.ss("sex_female", ["P1,female,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect([sheet(ctx, "M", a), sheet(ctx, "female", b)], {0})


@case("S12", G, "2 (sex XXY; status 2)")
def s12(ctx):
    a = ctx.fix.ss("sex_XXY", ["P1,XXY,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    b = ctx.fix.ss("status_2", ["P1,XX,2,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect([sheet(ctx, "XXY", a), sheet(ctx, "status2", b)], {2})


@case("S13", G, "0 (status ' 1 ' with spaces)")
def s13(ctx):
    ss = ctx.fix.ss("status_spaces", ["P1,XX, 1 ,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect(sheet(ctx, "spaces", ss), {0})


@case("S14", G, "2 (one lane listed twice)")
def s14(ctx):
    ctx.fix.base()
    return expect(sheet(ctx, "duplane", "bad/samplesheet_duplicate_lane.csv"), {2})


@case("S15", G, "warn (same FASTQ for two samples)", review=WEAK)
def s15(ctx):
    ss = ctx.fix.ss("same_fastq_two_samples", [ROW, "P2,XX,0,S2,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    r = sheet(ctx, "twosamples", ss)
    if r.panicked:
        return res(PANIC, r)
    warned = re.search(r"(WARN|warning|error).*(g1\.fq|same|also|twice|both|more than one|already|shared)", r.text, re.I)
    if r.rc in (0, 2) and warned:
        return res(OK, r, "warned" if r.rc == 0 else "refused")
    if r.rc == 0:
        return res(WEAK, r, "accepted silently")
    return res(WRONG, r)


@case("S16", G, "2 (same FASTQ as two lanes of one sample)", review=WRONG)
def s16(ctx):
    ss = ctx.fix.ss("same_fastq_two_lanes", [ROW, "P1,XX,0,S1,L2,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect(sheet(ctx, "twolanes", ss), {2})


@case("S17", G, "0 (relative paths resolve against the sheet's folder)")
def s17(ctx):
    ctx.fix.base()
    write(ctx.w("ss/sub/rel.csv"), "patient,sex,status,sample,lane,fastq_1,fastq_2\n"
          "P1,XX,0,S1,L1,../../fq/g1.fq.gz,../../fq/g2.fq.gz\n")
    return expect(sheet(ctx, "rel", "ss/sub/rel.csv"), {0})


@case("S18", G, "2 (empty file / header only)")
def s18(ctx):
    a = ctx.fix.ss("empty", None, raw=b"")
    b = ctx.fix.ss("header_only", [], header="patient,sex,status,sample,lane,fastq_1,fastq_2")
    write(ctx.w(b), "patient,sex,status,sample,lane,fastq_1,fastq_2\n")
    return expect([sheet(ctx, "empty", a), sheet(ctx, "header_only", b)], {2})


@case("S19", G, "2 (duplicate header column)", review=WRONG)
def s19(ctx):
    ss = ctx.fix.ss("dup_header_col", ["P1,XX,0,S1,S2,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"],
                    header="patient,sex,status,sample,sample,lane,fastq_1,fastq_2")
    return expect(sheet(ctx, "dupcol", ss), {2})


@case("S20", G, "0 (upper-case header)")
def s20(ctx):
    ss = ctx.fix.ss("upper_header", [ROW], header="PATIENT,SEX,STATUS,SAMPLE,LANE,FASTQ_1,FASTQ_2")
    return expect(sheet(ctx, "upper", ss), {0})


@case("S21", G, "0 on Linux (samples S1 and s1)")
def s21(ctx):
    ctx.fix.base()
    for n in ("a", "b"):
        for r in (1, 2):
            shutil.copyfile(ctx.w(f"fq/g{r}.fq.gz"), ctx.w(f"fq/case{n}_R{r}.fq.gz"))
    ss = ctx.fix.ss("case_names", ["P1,XX,0,S1,L1,../fq/casea_R1.fq.gz,../fq/casea_R2.fq.gz",
                                   "P2,XX,0,s1,L1,../fq/caseb_R1.fq.gz,../fq/caseb_R2.fq.gz"])
    v = expect(sheet(ctx, "case", ss), {0})
    v.notes = "would collide on a case-insensitive file system"
    return v


@case("S22", G, "2 (sample named like a pair label T_vs_N beside pair T/N)", review=COLLISION)
def s22(ctx):
    ctx.fix.base()
    for n in ("N", "T", "X"):
        for r in (1, 2):
            shutil.copyfile(ctx.w(f"fq/g{r}.fq.gz"), ctx.w(f"fq/s22{n}_R{r}.fq.gz"))
    ss = ctx.fix.ss("pair_label_collide", ["P1,XX,0,N,L1,../fq/s22N_R1.fq.gz,../fq/s22N_R2.fq.gz",
                                           "P1,XX,1,T,L1,../fq/s22T_R1.fq.gz,../fq/s22T_R2.fq.gz",
                                           "P2,XX,0,T_vs_N,L1,../fq/s22X_R1.fq.gz,../fq/s22X_R2.fq.gz"])
    r = sheet(ctx, "somatic", ss, pipeline="somatic", timeout=300)
    if r.panicked:
        return res(PANIC, r)
    if r.rc == 2:
        return res(OK, r, "refused")
    d = ctx.w(out(ctx, "somatic"), "T_vs_N")
    files = sorted(os.listdir(d)) if os.path.isdir(d) else []
    both = any(f.startswith("T_vs_N.bam") for f in files) and any("somatic" in f for f in files)
    if r.rc != 0:
        return res(WRONG, r)
    if both:
        return res(COLLISION, r, f"one folder T_vs_N/ holds the sample's and the pair's outputs ({len(files)} files)")
    return res(OK, r, f"accepted without sharing a folder; T_vs_N/ has {len(files)} files")


@case("S23", G, "2 (library lib;x; lane $(id))")
def s23(ctx):
    a = ctx.fix.ss("library_semicolon", [ROW + ",lib;x"], header="patient,sex,status,sample,lane,fastq_1,fastq_2,library")
    b = ctx.fix.ss("lane_subst", ["P1,XX,0,S1,$(id),../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect([sheet(ctx, "library", a), sheet(ctx, "lane", b)], {2})


@case("S24", G, "2 (Latin-1 file)")
def s24(ctx):
    ss = ctx.fix.ss("latin1", None, raw=("patient,sex,status,sample,lane,fastq_1,fastq_2\n"
                                         "Pé,XX,0,S1,L1,../fq/g1.fq.gz,../fq/g2.fq.gz\n").encode("latin-1"))
    return expect(sheet(ctx, "latin1", ss), {2})


@case("S25", G, "2 (;-separated; TSV)")
def s25(ctx):
    a = ctx.fix.ss("semicolons", None, raw=("patient;sex;status;sample;lane;fastq_1;fastq_2\n"
                                            + ROW.replace(",", ";") + "\n").encode())
    b = ctx.fix.ss("tsv", None, raw=("patient\tsex\tstatus\tsample\tlane\tfastq_1\tfastq_2\n"
                                     + ROW.replace(",", "\t") + "\n").encode())
    return expect([sheet(ctx, "semicolon", a), sheet(ctx, "tsv", b)], {2})


@case("S26", G, "bounded: 0 (20,000 samples, somatic --dry-run)")
def s26(ctx):
    ss = ctx.fix.many_samples(20000)
    r = sheet(ctx, "many", ss, pipeline="somatic", extra=("--dry-run",), timeout=600, limit_as=8 * GB)
    mb = r.maxrss_kb // 1024
    v = expect(r, {0})
    if v.verdict == OK and (r.secs > 180 or mb > 2048):
        v.verdict = WRONG
    v.notes = f"{r.secs:.1f} s, max RSS {mb} MB"
    return v


@case("S27", G, "non-zero; the good sample completes; --resume after fixing reruns only BAD")
def s27(ctx):
    ctx.fix.base()
    bad = ctx.fix.fq_pair("s27bad", r1=lambda rs: _edit(rs, 0, 1, lambda s: s[:10] + b"R" + s[11:]))
    ss = ctx.fix.ss("good_bad", [ROW.replace("S1", "GOOD"),
                                 f"P2,XX,0,BAD,L1,../{bad[0]},../{bad[1]}"])
    a = sheet(ctx, "first", ss)
    good_done = os.path.exists(ctx.w(out(ctx, "first"), "GOOD", "GOOD.fastq_metrics.json"))
    # fix BAD: valid reads, other content than GOOD's (last pair dropped)
    ctx.fix.fq_pair("s27bad", r1=lambda rs: rs[:-1], r2=lambda rs: rs[:-1])
    b = ctx.dagr("resume", ["run", "qc", "--samplesheet", ss, "--reference", "ref/ref.fa", "--outdir",
                            out(ctx, "first"), "--threads", "1", "--resume"])
    ran = [s for s in ran_stages(b) if not s.startswith("reference/")]
    notes = f"GOOD complete: {good_done}; resume ran: {','.join(ran) or 'nothing'}"
    if a.panicked or b.panicked:
        return res(PANIC, [a, b], notes)
    if a.rc == 0 or not good_done or b.rc != 0:
        return res(WRONG, [a, b], notes)
    if ran != ["BAD/fastq_intake"]:
        return res(RMISS, [a, b], notes)
    return res(OK, [a, b], notes)


@case("S28", G, "2 (somatic: tumour without a normal; single sample)")
def s28(ctx):
    a = ctx.fix.ss("tumour_only", ["P1,XX,1,T,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    b = ctx.fix.ss("single_normal", ["P1,XX,0,N,L1,../fq/g1.fq.gz,../fq/g2.fq.gz"])
    return expect([sheet(ctx, "tumour_only", a, pipeline="somatic"),
                   sheet(ctx, "single", b, pipeline="somatic")], {2})


# =================================================================================================
# Pipeline YAML (validate, ulimit -v 4G)
# =================================================================================================
G = "Pipeline YAML"


def laughs(indent, n=9):
    """Billion-laughs anchors a..i (9 levels of 9) as top-level keys at `indent`."""
    pad = " " * indent
    lines = [pad + "a: &a [" + ",".join(["lol"] * n) + "]"]
    prev = "a"
    for k in "bcdefghi":
        lines.append(pad + f"{k}: &{k} [" + ",".join([f"*{prev}"] * n) + "]")
        prev = k
    return "\n".join(lines) + "\n"


def laughs_value(n=9):
    """The same anchors as one flow sequence: a single value that expands to 9^9 nodes."""
    parts = ["&a [" + ",".join(["lol"] * n) + "]"]
    prev = "a"
    for k in "bcdefghi":
        parts.append(f"&{k} [" + ",".join([f"*{prev}"] * n) + "]")
        prev = k
    return "[" + ", ".join(parts) + "]"


@case("Y01", G, "2 (billion laughs, top level)")
def y01(ctx):
    p = ctx.fix.yaml("laughs_top", laughs(0) + QC_YAML)
    r = validate(ctx, "laughs_top", p)
    v = expect(r, {2})
    v.notes = f"{r.secs:.2f} s, {r.maxrss_kb // 1024} MB"
    return v


@case("Y02", G, "2, bounded (billion laughs inside a parameter value)")
def y02(ctx):
    p = ctx.fix.qc_yaml_with("min_base_quality: 20", "min_base_quality: " + laughs_value(), "laughs_params")
    r = validate(ctx, "laughs_params", p)
    v = expect(r, {2})
    mb = r.maxrss_kb // 1024
    if v.verdict == OK and (r.secs > 10 or mb > 1024):
        v.verdict = WRONG
    v.notes = f"{r.secs:.2f} s, {mb} MB"
    return v


@case("Y03", G, "2, names the key (list as a parameter value)", review=WEAK)
def y03(ctx):
    p = ctx.fix.qc_yaml_with("min_base_quality: 20", "min_base_quality: [20, 30]", "list_param")
    r = validate(ctx, "list_param", p)
    if r.panicked:
        return res(PANIC, r)
    if r.rc != 2:
        return res(WRONG, r)
    good = "min_base_quality" in r.key() and not re.search("untagged enum|RawParam", r.key())
    return res(OK if good else WEAK, r, "" if good else "internal type name / key not named")


@case("Y04", G, "2 (200k nested '['; 50k nested maps)")
def y04(ctx):
    a = ctx.fix.yaml("nested_lists", "stages: " + "[" * 200000 + "]" * 200000 + "\n")
    b = ctx.fix.yaml("nested_maps", "pipeline: " + "{a: " * 50000 + "1" + "}" * 50000 + "\n")
    return expect([validate(ctx, "lists", a), validate(ctx, "maps", b)], {2})


@case("Y05", G, "2, names key and range (threads 1e23, -4, 2.5)", review=WEAK)
def y05(ctx):
    runs = []
    for k, val in (("huge", "99999999999999999999999"), ("neg", "-4"), ("float", "2.5")):
        p = ctx.fix.qc_yaml_with("      threads: 2\n      memory: 4G", f"      threads: {val}\n      memory: 4G", f"{k}_threads")
        runs.append(validate(ctx, k, p))
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    if any(r.rc != 2 for r in runs):
        return expect(runs, {2})
    weak = [r for r in runs if not ("threads" in r.key() and re.search(r"4096|between|range", r.key()))]
    return res(WEAK if weak else OK, runs, "key or range missing" if weak else "", focus=weak[0] if weak else None)


@case("Y06", G, "2 (threads 0; 2^64-1)")
def y06(ctx):
    runs = []
    for k, val in (("zero", "0"), ("u64max", "18446744073709551615")):
        p = ctx.fix.qc_yaml_with("      threads: 2\n      memory: 4G", f"      threads: {val}\n      memory: 4G", f"{k}_threads")
        runs.append(validate(ctx, k, p))
    return expect(runs, {2})


@case("Y07", G, "2 (memory 0; 1e20G; 17179869184G; time 999999999999999999h)", review=WRONG)
def y07(ctx):
    runs = []
    for k, old, new in (("zero_memory", "memory: 4G", "memory: 0"),
                        ("huge_memory", "memory: 4G", "memory: 99999999999999999999G"),
                        ("overflow_memory", "memory: 4G", "memory: 17179869184G"),
                        ("huge_time", "time: 2h", "time: 999999999999999999h")):
        runs.append(validate(ctx, k, ctx.fix.qc_yaml_with(old, new, k)))
    v = expect(runs, {2})
    shown = []
    for r in runs:
        m = re.search(r"resources threads=\S+ (memory=\S+) (time=\S+)", r.out)
        if r.rc == 0 and m:
            shown.append(m.group(2) if "time" in r.label else m.group(1))
    if shown:
        v.notes = "accepted: " + ", ".join(shown)
        v.msg = v.notes
    return v


@case("Y08", G, "2 with the range (minimizer_k 2^63-1; min_base_quality -5; time -2h)")
def y08(ctx):
    runs = [validate(ctx, "k", ctx.fix.qc_yaml_with("minimizer_k: 21", "minimizer_k: 9223372036854775807", "huge_k")),
            validate(ctx, "mbq", ctx.fix.qc_yaml_with("min_base_quality: 20", "min_base_quality: -5", "neg_mbq")),
            validate(ctx, "time", ctx.fix.qc_yaml_with("time: 2h", "time: -2h", "neg_time"))]
    return expect(runs, {2})


@case("Y09", G, "2, lists the known kinds (unknown stage kind)")
def y09(ctx):
    r = validate(ctx, "kind", ctx.fix.qc_yaml_with("stage: fastq_intake", "stage: frobnicate", "unknown_kind"))
    return expect(r, {2})


@case("Y10", G, "2 (duplicate keys in params and top level; duplicate stage name)")
def y10(ctx):
    runs = [validate(ctx, "param", ctx.fix.qc_yaml_with("      min_base_quality: 20\n",
                                                         "      min_base_quality: 20\n      min_base_quality: 30\n", "dup_param")),
            validate(ctx, "top", ctx.fix.qc_yaml_with("pipeline: qc\n", "pipeline: qc\npipeline: qc2\n", "dup_top")),
            validate(ctx, "stage", ctx.fix.qc_yaml_with("  - name: fastq_intake", "  - name: prepare_reference", "dup_stage"))]
    return expect(runs, {2})


@case("Y11", G, "2 (tabs)")
def y11(ctx):
    r = validate(ctx, "tabs", ctx.fix.qc_yaml_with("      threads: 2\n      memory: 4G", "\tthreads: 2\n      memory: 4G", "tabs"))
    return expect(r, {2})


@case("Y12", G, "2 (empty; comment only; stages: null; stages: [])")
def y12(ctx):
    runs = [validate(ctx, "empty", ctx.fix.yaml("empty", "")),
            validate(ctx, "comment", ctx.fix.yaml("comment", "# nothing\n")),
            validate(ctx, "null", ctx.fix.yaml("stages_null", "pipeline: x\ndescription: y\nstages:\n")),
            validate(ctx, "emptylist", ctx.fix.yaml("stages_empty", "pipeline: x\ndescription: y\nstages: []\n"))]
    return expect(runs, {2})


@case("Y13", G, "2 (stage name ../../evil)")
def y13(ctx):
    r = validate(ctx, "evil", ctx.fix.qc_yaml_with("  - name: fastq_intake", "  - name: ../../evil", "evil_name"))
    return expect(r, {2})


@case("Y14", G, "harmless (pipeline names 'qc; touch PWNED', 'germ\\n##INJECTED=1\\tx')")
def y14(ctx):
    ctx.fix.base()
    p1 = ctx.fix.qc_yaml_with("pipeline: qc\n", "pipeline: 'qc; touch PWNED_Y14'\n", "name_shell")
    p2 = ctx.fix.germ_yaml_with("pipeline: germline\n", 'pipeline: "germ\\n##INJECTED=1\\tx"\n', "name_newline")
    runs = [validate(ctx, "v_shell", p1), validate(ctx, "v_newline", p2)]
    runs.append(ctx.dagr("run_newline", ["run", p2, "--sample", "S", "--fastq1", "fq/g1.fq.gz", "--fastq2", "fq/g2.fq.gz",
                                         "--reference", "ref/ref.fa", "--outdir", out(ctx, "run"), "--threads", "1"], timeout=300))
    ss = ctx.fix.ss("y14", [ROW])
    runs.append(ctx.dagr("slurm_shell", ["slurm", "submit", p1, "--samplesheet", ss, "--reference", "ref/ref.fa",
                                         "--outdir", out(ctx, "slurm"), "--dry-run"], env=ctx.fix.fake_env()))
    problems = []
    vcf = ctx.w(out(ctx, "run"), "S", "S.vcf.gz")
    if os.path.exists(vcf):
        if any(l.startswith("##INJECTED") for l in gzip.open(vcf, "rt").read().split("\n")):
            problems.append("##INJECTED line in the VCF header")
    bam = ctx.w(out(ctx, "run"), "S", "S.bam")
    if os.path.exists(bam):
        h = subprocess.run(["samtools", "view", "-H", bam], capture_output=True, text=True).stdout
        if any(l.startswith("##INJECTED") for l in h.split("\n")):
            problems.append("##INJECTED line in the BAM header")
    for l in runs[3].out.splitlines():
        m = re.match(r"#SBATCH --job-name=(.*)", l)
        if m and not re.fullmatch(r"[A-Za-z0-9._-]+", m.group(1)):
            problems.append(f"job name not sanitized: {m.group(1)!r}")
    pwned = [f for d, _, fs in os.walk(ctx.outdir) for f in fs if f == "PWNED_Y14"]
    if pwned:
        problems.append("PWNED_Y14 created")
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    if problems:
        return res(INJECTION, runs, "; ".join(problems))
    v = rc_verdict(runs, {0, 2})
    return res(v, runs, "not in the VCF/BAM headers; job names sanitized")


@case("Y15", G, "2 / 0 / 0 / 2 (!!binary tag; merge key <<; BOM; Latin-1)")
def y15(ctx):
    # !!binary that decodes to a byte that is not UTF-8 (0xff), as the description string
    binary = ctx.fix.yaml("binary", QC_YAML.replace(
        "description: Reference preparation (fai, dict, MD5s, minimap2 index) and FASTQ validation with read metrics.",
        "description: !!binary /w=="))
    merge_text = QC_YAML.replace("    resources:\n      threads: 2\n      memory: 4G\n      time: 2h\n",
                                 "    resources: &res\n      threads: 2\n      memory: 4G\n      time: 2h\n", 1)
    merge_text = merge_text.replace("    resources:\n      threads: 2\n      memory: 1G\n      time: 4h\n",
                                    "    resources:\n      <<: *res\n      memory: 1G\n      time: 4h\n", 1)
    merge = ctx.fix.yaml("merge", merge_text)
    bom = ctx.fix.yaml("bom", "\ufeff" + QC_YAML)
    latin = "latin1"
    write(ctx.w(f"yaml/{latin}.yaml"), QC_YAML.replace("with read metrics.", "with read metrics (é).").encode("latin-1"))
    runs = [validate(ctx, "binary", binary), validate(ctx, "merge", merge), validate(ctx, "bom", bom),
            validate(ctx, "latin1", f"yaml/{latin}.yaml")]
    want = [2, 0, 0, 2]
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    badr = [r for r, w in zip(runs, want) if r.rc != w]
    return res(WRONG if badr else OK, runs, focus=badr[0] if badr else None)


@case("Y16", G, "bounded: 0 (50 MB YAML: 25 MB description + 26 MB comments); a run with it is fine")
def y16(ctx):
    p = ctx.fix.big_yaml()
    a = validate(ctx, "validate", p, timeout=120)
    b = ctx.dagr("run", ["run", p, "--sample", "S", "--fastq1", "fq/g1.fq.gz", "--fastq2", "fq/g2.fq.gz",
                         "--reference", "ref/ref.fa", "--outdir", out(ctx, "run"), "--threads", "1"],
                 timeout=300, limit_as=4 * GB)
    v = expect([a, b], {0})
    mb = a.maxrss_kb // 1024
    if v.verdict == OK and (a.secs > 20 or mb > 1024):
        v.verdict = WRONG
    v.notes = f"validate {a.secs:.2f} s, {mb} MB; run {b.maxrss_kb // 1024} MB"
    return v


@case("Y17", G, "2, bounded (57 MB YAML, 2.5 M params)")
def y17(ctx):
    p = "yaml/params57.yaml"
    if not os.path.exists(ctx.w(p)):
        params = "".join(f"      p{i:07d}: 12345678\n" for i in range(2500000))
        write(ctx.w(p), QC_YAML.replace("      min_base_quality: 20\n", "      min_base_quality: 20\n" + params))
    r = validate(ctx, "params", p, timeout=120)
    v = expect(r, {2})
    mb = r.maxrss_kb // 1024
    if v.verdict == OK and (r.secs > 20 or mb > 1536):
        v.verdict = WRONG
    v.notes = f"{os.path.getsize(ctx.w(p)) // 1000000} MB file; {r.secs:.2f} s, {mb} MB"
    return v


@case("Y18", G, "2 at once, not a regular file (ploidy_bed /dev/zero, /dev/urandom)", review=WRONG)
def y18(ctx):
    runs = []
    for k in ("zero", "urandom"):
        p = ctx.fix.germ_yaml_with("      shard_size: 250000\n", f"      shard_size: 250000\n      ploidy_bed: /dev/{k}\n", f"ploidy_{k}")
        runs.append(validate(ctx, k, p, limit_as=3000000 * 1024, timeout=60))
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    bad = [r for r in runs if r.rc != 2 or r.secs > 3 or r.maxrss_kb > 512 * 1024
           or re.search("out of memory|memory allocation", r.text, re.I)]
    notes = "; ".join(f"{r.label}: {r.secs:.1f} s, {r.maxrss_kb // 1024} MB" for r in runs)
    return res(WRONG if bad else OK, runs, notes, focus=bad[0] if bad else None)


@case("Y19", G, "2; no file content in the message (ploidy_bed: a folder, a missing file, /etc/shadow)")
def y19(ctx):
    ctx.fix.base()
    os.makedirs(ctx.w("yaml/a_folder"), exist_ok=True)
    secret = write(ctx.w("yaml/secret.txt"), "SECRET-7f3a9 root:x:0:0 not a bed\n")
    targets = {"folder": ctx.w("yaml/a_folder"), "missing": ctx.w("yaml/missing.bed"), "secret": secret}
    if os.path.exists("/etc/shadow"):
        targets["shadow"] = "/etc/shadow"
    runs = []
    for k, t in targets.items():
        p = ctx.fix.germ_yaml_with("      shard_size: 250000\n", f"      shard_size: 250000\n      ploidy_bed: {t}\n", f"ploidy_{k}")
        runs.append(validate(ctx, k, p))
    v = expect(runs, {2})
    leaked = []
    shadow = []
    if os.path.exists("/etc/shadow"):
        shadow = [l.strip() for l in open("/etc/shadow", errors="replace") if len(l.strip()) > 8]
    for r in runs:
        if "SECRET-7f3a9" in r.text or any(l in r.text for l in shadow):
            leaked.append(r.label)
    if leaked:
        v.verdict, v.notes = worst([v.verdict, WEAK]), f"file content in the message: {leaked}"
    return v


# =================================================================================================
# Reference FASTA (run germline on GERM; outputs compared with rf/good.fa)
# =================================================================================================
G = "Reference FASTA"


def germ(ctx, label, fasta, extra=(), outdir=None, timeout=300):
    ctx.fix.base()
    return ctx.dagr(label, ["run", "germline", "--samplesheet", "gs/germ.csv", "--reference", fasta,
                            "--outdir", outdir or out(ctx, label), "--threads", "1", *extra], timeout=timeout)


def germ_baseline(ctx):
    if "germ_base" not in ctx.memo:
        saved = ctx.case
        ctx.case = "_baseline"
        fa = ctx.fix.good_fa()
        shutil.rmtree(ctx.w("out/_baseline/germ_good"), ignore_errors=True)
        r = germ(ctx, "germ_good", fa, outdir="out/_baseline/germ_good")
        ctx.case = saved
        if r.rc != 0:
            raise RuntimeError("baseline germline run on rf/good.fa failed: " + r.key())
        ctx.memo["germ_base"] = digests(ctx.w("out/_baseline/germ_good"), "GERM")
    return ctx.memo["germ_base"]


def same_as_good(ctx, label, rename=None):
    base = germ_baseline(ctx)
    d = digests(ctx.w(out(ctx, label)), "GERM", rename)
    return diff_digests(base, d)


def ref_case(ctx, runs_want, compare=()):
    """runs_want: [(Run, set of ok rcs)]; compare: labels whose outputs must equal the baseline."""
    runs = [r for r, _ in runs_want]
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    bad = [r for r, w in runs_want if r.rc not in w]
    if bad:
        return res(WRONG, runs, focus=bad[0])
    diffs = []
    for label, rename in compare:
        r = next(x for x in runs if x.label == label)
        if r.rc == 0:
            d = same_as_good(ctx, label, rename)
            if d:
                diffs.append(f"{label}: {','.join(d)} differ")
    if diffs:
        return res(LOSS, runs, "; ".join(diffs))
    return res(OK, runs, "identical outputs" if compare else "")


@case("R01", G, "same calls (soft-masked 10 kb)")
def r01(ctx):
    s = ctx.fix.ref_seq()
    fa = ctx.fix.fasta("softmask.fa", [("chr20_1M", s[:270000] + s[270000:280000].lower() + s[280000:])])
    return ref_case(ctx, [(germ(ctx, "softmask", fa), {0})], compare=[("softmask", None)])


@case("R02", G, "accept; no IUPAC REF (IUPAC codes in the sequence)")
def r02(ctx):
    s = list(ctx.fix.ref_seq())
    for i, pos in enumerate(range(260000, 299000, 3000)):
        s[pos] = "RYKMSWBDHV"[i % 10]
    fa = ctx.fix.fasta("iupac.fa", [("chr20_1M", "".join(s))])
    r = germ(ctx, "iupac", fa)
    v = expect(r, {0})
    if r.rc == 0:
        bad = []
        for f in ("GERM.vcf.gz", "GERM.g.vcf.gz"):
            for l in gzip.open(ctx.w(out(ctx, "iupac"), "GERM", f), "rt"):
                if not l.startswith("#") and not re.fullmatch(r"[ACGTN]+", l.split("\t")[3]):
                    bad.append(l.split("\t")[1] + ":" + l.split("\t")[3])
        if bad:
            v.verdict, v.notes = LOSS, f"IUPAC REF in the output: {bad[:5]}"
        else:
            v.notes = "no IUPAC REF"
    return v


@case("R03", G, "accept or 2 (Windows line endings)")
def r03(ctx):
    fa = ctx.fix.fasta("crlf.fa", [("chr20_1M", ctx.fix.ref_seq())], eol="\r\n")
    r = germ(ctx, "crlf", fa)
    return ref_case(ctx, [(r, {0, 2})], compare=[("crlf", None)] if r.rc == 0 else [])


@case("R04", G, "2 (blank line inside a contig)")
def r04(ctx):
    s = ctx.fix.ref_seq()
    lines = [">chr20_1M"] + [s[i:i + 80] for i in range(0, len(s), 80)]
    lines.insert(102, "")
    fa = ctx.fix.fasta("blankline.fa", None, raw="\n".join(lines) + "\n")
    return ref_case(ctx, [(germ(ctx, "blank", fa), {2})])


@case("R05", G, "same output; names kept (description, HLA-A*01:01:01:01, chr20:1-300000, a tab)")
def r05(ctx):
    s = ctx.fix.ref_seq()
    runs, compare = [], []
    for label, header, name in (("desc", "chr20_1M some description", "chr20_1M"),
                                ("hla", "HLA-A*01:01:01:01", "HLA-A*01:01:01:01"),
                                ("colon", "chr20:1-300000", "chr20:1-300000"),
                                ("tab", "chr20_1M\tafter a tab", "chr20_1M")):
        fa = ctx.fix.fasta(f"name_{label}.fa", [(header, s)])
        runs.append((germ(ctx, label, fa), {0}))
        compare.append((label, [(name, "chr20_1M")] if name != "chr20_1M" else None))
    return ref_case(ctx, runs, compare)


@case("R06", G, "2 (empty name, >255 characters, chrÄ)")
def r06(ctx):
    s = ctx.fix.ref_seq()
    runs = []
    for label, h in (("empty", ""), ("long", "c" * 256), ("umlaut", "chrÄ")):
        runs.append((germ(ctx, label, ctx.fix.fasta(f"name_bad_{label}.fa", [(h, s)])), {2}))
    return ref_case(ctx, runs)


@case("R07", G, "2 (duplicate contig names)")
def r07(ctx):
    s = ctx.fix.ref_seq()
    fa = ctx.fix.fasta("dupnames.fa", [("chr20_1M", s[:500000]), ("chr20_1M", s[500000:])])
    return ref_case(ctx, [(germ(ctx, "dup", fa), {2})])


@case("R08", G, "2, documented (gzip / BGZF FASTA)")
def r08(ctx):
    good = ctx.w(ctx.fix.good_fa())
    write(ctx.w("rf/gz.fa.gz"), gz(open(good, "rb").read()))
    bgzip_file(good, ctx.w("rf/bgzf.fa.gz"))
    return ref_case(ctx, [(germ(ctx, "gzip", "rf/gz.fa.gz"), {2}), (germ(ctx, "bgzf", "rf/bgzf.fa.gz"), {2})])


@case("R09", G, "2 (empty contig; header only)")
def r09(ctx):
    s = ctx.fix.ref_seq()
    a = ctx.fix.fasta("emptycontig.fa", None, raw=">c0\n" + ">chr20_1M\n" + "\n".join(s[i:i + 80] for i in range(0, len(s), 80)) + "\n")
    b = ctx.fix.fasta("headeronly.fa", None, raw=">chr20_1M\n")
    return ref_case(ctx, [(germ(ctx, "emptycontig", a), {2}), (germ(ctx, "headeronly", b), {2})])


def _flip_base(path, pos_in_seq, keep_mtime):
    """Changes one base in place (same size); optionally restores st_mtime_ns."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        data = f.read()
        nl = data.index(b"\n") + 1
        off = nl + pos_in_seq + pos_in_seq // 80  # 80 columns
        old = data[off:off + 1]
        new = b"A" if old != b"A" else b"C"
        f.seek(off)
        f.write(new)
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return old, new


@case("R10a", G, "rerun (FASTA edited after prepare-reference, then --resume)")
def r10a(ctx):
    fa = ctx.fix.fasta("edited.fa", [("chr20_1M", ctx.fix.ref_seq())])
    a = germ(ctx, "first", fa)
    import time as _t
    _t.sleep(0.05)
    _flip_base(ctx.w(fa), 258178, keep_mtime=False)
    b = germ(ctx, "resume", fa, extra=("--resume",), outdir=out(ctx, "first"))
    ran = ran_stages(b)
    v = expect([a, b], {0})
    v.notes = f"resume ran: {','.join(ran)}"
    if v.verdict == OK and not any(x.endswith("/align") for x in ran):
        v.verdict = LOSS
    return v


@case("R10b", G, "rerun / rebuild (same-size in-place edit, mtime_ns restored)", review=LOSS)
def r10b(ctx):
    s = ctx.fix.ref_seq()
    fa = ctx.fix.fasta("stale.fa", [("chr20_1M", s)])
    a = germ(ctx, "first", fa)
    _flip_base(ctx.w(fa), 258178, keep_mtime=True)
    b = germ(ctx, "resume", fa, extra=("--resume",), outdir=out(ctx, "first"))
    c = germ(ctx, "fresh", fa)
    runs = [a, b, c]
    if any(r.panicked for r in runs):
        return res(PANIC, runs)
    notes = []
    ran = ran_stages(b)
    lost = False
    if b.rc == 0 and not any(x.endswith("/align") for x in ran):
        notes.append("--resume reused every stage")
        lost = True
    newseq = "".join(l.strip() for l in open(ctx.w(fa)) if not l.startswith(">")).upper()
    want = hashlib.md5(newseq.encode()).hexdigest()
    bam = ctx.w(out(ctx, "fresh"), "GERM", "GERM.bam")
    if c.rc == 0 and os.path.exists(bam):
        h = subprocess.run(["samtools", "view", "-H", bam], capture_output=True, text=True).stdout
        m = re.search(r"M5:([0-9a-f]{32})", h)
        if m and m.group(1) != want:
            notes.append(f"fresh run: @SQ M5 {m.group(1)} is not the FASTA's {want}")
            lost = True
    if lost:
        return res(LOSS, runs, "; ".join(notes), focus=b)
    bad = [r for r in runs if r.rc != 0]
    return res(WRONG if bad else OK, runs, "; ".join(notes) or "change detected", focus=bad[0] if bad else None)


@case("R10c", G, "ignored, identical output (stale ref.fa.fai beside the FASTA)")
def r10c(ctx):
    fa = ctx.fix.fasta("withfai.fa", [("chr20_1M", ctx.fix.ref_seq())])
    write(ctx.w(fa + ".fai"), "chr20_1M\t500000\t10\t60\t61\n")
    return ref_case(ctx, [(germ(ctx, "stalefai", fa), {0})], compare=[("stalefai", None)])


@case("R11", G, "2, with line and column (J, *, NUL in the sequence)")
def r11(ctx):
    s = ctx.fix.ref_seq()
    runs = []
    for label, ch in (("J", "J"), ("star", "*"), ("nul", "\0")):
        fa = ctx.fix.fasta(f"bad_{label}.fa", [("chr20_1M", s[:5000] + ch + s[5001:])])
        runs.append((germ(ctx, label, fa), {2}))
    return ref_case(ctx, runs)


@case("R12", G, "2 (ragged line width)")
def r12(ctx):
    s = ctx.fix.ref_seq()
    lines = [">chr20_1M"] + [s[i:i + 80] for i in range(0, len(s), 80)]
    lines[50] = lines[50][:79]
    lines[51] = lines[51] + "A"
    fa = ctx.fix.fasta("ragged.fa", None, raw="\n".join(lines) + "\n")
    return ref_case(ctx, [(germ(ctx, "ragged", fa), {2})])


@case("R13", G, "2 (0-byte, no header, folder, missing)")
def r13(ctx):
    s = ctx.fix.ref_seq()
    ctx.fix.base()
    a = ctx.fix.fasta("zero.fa", None, raw="")
    b = ctx.fix.fasta("noheader.fa", None, raw="\n".join(s[i:i + 80] for i in range(0, len(s), 80)) + "\n")
    os.makedirs(ctx.w("rf/folder.fa"), exist_ok=True)
    return ref_case(ctx, [(germ(ctx, "zero", a), {2}), (germ(ctx, "noheader", b), {2}),
                          (germ(ctx, "folder", "rf/folder.fa"), {2}), (germ(ctx, "missing", "rf/missing.fa"), {2})])


@case("R14", G, "0, identical (no final newline)")
def r14(ctx):
    fa = ctx.fix.fasta("nofinalnl.fa", [("chr20_1M", ctx.fix.ref_seq())], final_newline=False)
    return ref_case(ctx, [(germ(ctx, "nonl", fa), {0})], compare=[("nonl", None)])


@case("R15", G, "0, identical (path with spaces and a quote; data:x.fa; a##idx##b.fa)")
def r15(ctx):
    s = ctx.fix.ref_seq()
    runs, compare = [], []
    for label, name in (("quote", "my ref's.fa"), ("data", "data:x.fa"), ("idx", "a##idx##b.fa")):
        fa = ctx.fix.fasta(name, [("chr20_1M", s)])
        runs.append((germ(ctx, label, fa), {0}))
        compare.append((label, None))
    return ref_case(ctx, runs, compare)
