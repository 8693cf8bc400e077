"""Runner, helpers and verdict rules for the reliability harness (see run.sh).

A measuring tool: the project's tests must not import or call anything here.
Everything a run writes goes under OUTDIR; the repository is only read.
"""
import glob
import gzip
import hashlib
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import time

TIMING_FLAG = "/work/benchdata/TIMING_IN_PROGRESS"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENOSPC = re.compile(r"No space left on device|os error 28|ENOSPC|disk (is )?full", re.I)

OK = "OK"
WEAK = "WEAK MESSAGE"
WRONG = "WRONG EXIT"
PANIC = "PANIC"
LOSS = "DATA LOSS"
INJECTION = "INJECTION"
COLLISION = "COLLISION"
LEAK = "LEAK"
RMISS = "RESUME MISS"
NOTRUN = "NOT RUN"
HARNESS = "HARNESS ERROR"


class NotRun(Exception):
    """Raised by a case whose precondition is missing (reported as NOT RUN with the reason)."""


def strip_ansi(s):
    return ANSI.sub("", s)


def one_line(s, n=200):
    s = strip_ansi(s).replace("\t", " ").replace("\r", "\\r").replace("\n", " | ").strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def wait_quiet(log):
    """CPU etiquette: never start dagr while a timed benchmark runs on this machine."""
    waited = False
    while os.path.exists(TIMING_FLAG):
        if not waited:
            log(f"waiting: {TIMING_FLAG} exists (timed benchmark running)")
            waited = True
        time.sleep(60)
    if waited:
        log("timing flag gone, going on")


class Run:
    """The outcome of one command."""

    def __init__(self, label, cmd, rc, out, err, secs, maxrss_kb, timed_out):
        self.label, self.cmd, self.rc, self.out, self.err = label, cmd, rc, out, err
        self.secs, self.maxrss_kb, self.timed_out = secs, maxrss_kb, timed_out

    @property
    def text(self):
        return strip_ansi(self.err + "\n" + self.out)

    @property
    def panicked(self):
        return self.rc in (101, 134, 139) or "panicked at" in self.err or "Assertion" in self.err

    def key(self):
        """The line that matters: a panic, else dagr's first error line (stderr), else the run
        summary, else a warning, else the last line of stderr (or stdout)."""
        clean = lambda l: one_line(re.sub(r"^\S+Z\s+", "", l), 220)
        err = [l.strip() for l in strip_ansi(self.err).splitlines() if l.strip()]
        out = [l.strip() for l in strip_ansi(self.out).splitlines() if l.strip()]
        for pat, lines in ((r"panicked at|Assertion", err), (r"\berror\b|ERROR|failed:|failed\b", err),
                           (r"^dagr .*(finished|INTERRUPTED|dry run)|^submitted|: valid,", err + out),
                           (r"WARN|warning", err + out)):
            for l in lines:
                if re.search(pat, l):
                    return clean(l)
        if err:
            return clean(err[-1])
        return clean(out[-1]) if out else ""

    def counts(self):
        """(ran, reused) from the run summary line, or None."""
        m = re.search(r"\((\d+) ran, (\d+) reused", self.text)
        return (int(m.group(1)), int(m.group(2))) if m else None


class Proc:
    """A started command: poll its stderr, signal it, wait for it (rusage of the child itself)."""

    def __init__(self, ctx, label, argv, cwd, env, timeout, limit_as, stdin, logdir):
        self.ctx, self.label, self.argv, self.timeout = ctx, label, argv, timeout
        os.makedirs(logdir, exist_ok=True)
        base = os.path.join(logdir, re.sub(r"[^A-Za-z0-9_.-]", "_", label))
        self.out_path, self.err_path = base + ".out", base + ".err"
        with open(base + ".cmd", "w") as f:
            f.write(f"cd {shlex.quote(cwd)} && {shlex.join(argv)}\n")
        self.fo, self.fe = open(self.out_path, "wb"), open(self.err_path, "wb")

        def pre():
            if limit_as:
                resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

        self.t0 = time.monotonic()
        fin = open(stdin, "rb") if isinstance(stdin, str) else subprocess.DEVNULL
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.fo, stderr=self.fe, stdin=fin,
                                  start_new_session=True, preexec_fn=pre)
        if fin is not subprocess.DEVNULL:
            fin.close()
        self.pid = self.p.pid
        self.rc = None
        self.maxrss = 0
        self.timed_out = False
        self.secs = None
        ctx.live.add(self)

    def _reap(self, block):
        if self.rc is not None:
            return True
        try:
            pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid, status, ru = self.pid, 0, None
        if pid == 0:
            return False
        self.secs = time.monotonic() - self.t0
        rc = os.waitstatus_to_exitcode(status)
        self.rc = 128 - rc if rc < 0 else rc  # killed by a signal: the shell's 128+N
        self.maxrss = ru.ru_maxrss if ru else 0
        self.p.returncode = rc
        self.fo.close()
        self.fe.close()
        self.ctx.live.discard(self)
        return True

    def alive(self):
        return not self._reap(False)

    def stderr_text(self):
        try:
            with open(self.err_path, "rb") as f:
                return strip_ansi(f.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def wait_for(self, pattern, timeout=60.0, poll=0.01):
        """Waits until `pattern` (regex) shows in stderr. True if seen while the process lives."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if rx.search(self.stderr_text()):
                return True
            if not self.alive():
                return bool(rx.search(self.stderr_text()))
            time.sleep(poll)
        return False

    def wait_path(self, pattern, timeout=60.0, poll=0.01):
        """Waits until a glob matches a file. Returns the first match or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = glob.glob(pattern, recursive=True)
            if m:
                return m[0]
            if not self.alive():
                return None
            time.sleep(poll)
        return None

    def wait_file(self, root, timeout=60.0, poll=0.01):
        """Waits until a regular file (of any name) exists below `root`. Returns its path or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for d, _, fs in os.walk(root):
                if fs:
                    return os.path.join(d, fs[0])
            if not self.alive():
                return None
            time.sleep(poll)
        return None

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        end = time.monotonic() + timeout
        while not self._reap(False):
            if time.monotonic() > end:
                self.timed_out = True
                self.kill_group()
                self._reap(True)
                self.rc = 124
                break
            time.sleep(0.01)
        try:
            os.killpg(self.pid, signal.SIGKILL)  # strays of the group (e.g. under unshare)
        except (ProcessLookupError, PermissionError):
            pass
        with open(self.out_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        with open(self.err_path, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        if self.timed_out:
            err += f"\n[harness] TIMEOUT after {timeout:.0f} s: killed"
        return Run(self.label, shlex.join(self.argv), self.rc, out, err, self.secs, self.maxrss, self.timed_out)


class Ctx:
    def __init__(self, dagr, outdir, repo, log):
        self.dagr_bin = os.path.abspath(dagr)
        self.outdir = os.path.abspath(outdir)
        self.work = os.path.join(self.outdir, "work")
        self.repo = repo
        self.log = log
        self.live = set()
        self.memo = {}
        self.mounts = []
        self.case = None
        os.makedirs(os.path.join(self.work, "tmp"), exist_ok=True)
        self.umount_stale()
        self.env = dict(os.environ)
        self.env.update({"TMPDIR": os.path.join(self.work, "tmp"), "NO_COLOR": "1", "LC_ALL": "C.UTF-8"})
        self.env.pop("RUST_LOG", None)

    # --- paths -----------------------------------------------------------------------------
    def w(self, *p):
        return os.path.join(self.work, *p)

    def logdir(self):
        return os.path.join(self.outdir, "cases", self.case or "_setup")

    # --- processes ---------------------------------------------------------------------------
    def spawn(self, label, argv, cwd=None, env=None, timeout=300, limit_as=None, stdin=None, dagr=True):
        if not self.live:
            wait_quiet(self.log)
        argv = [self.dagr_bin] + list(argv) if dagr else list(argv)
        e = dict(self.env)
        if env:
            e.update(env)
        return Proc(self, label, argv, cwd or self.work, e, timeout, limit_as, stdin, self.logdir())

    def dagr(self, label, argv, **kw):
        timeout = kw.pop("timeout", 300)
        return self.spawn(label, argv, timeout=timeout, **kw).wait()

    def sh(self, label, script, timeout=300, cwd=None, env=None):
        """A bash script (pipelines, ulimit). $D is the dagr binary."""
        e = {"D": self.dagr_bin}
        if env:
            e.update(env)
        return self.spawn(label, ["bash", "-c", script], cwd=cwd, env=e, timeout=timeout, dagr=False).wait()

    def stop_all(self):
        for p in list(self.live):
            p.kill_group()
            p._reap(True)

    # --- mounts ------------------------------------------------------------------------------
    def mount_tmpfs(self, name, size, ro=False):
        path = self.w("mnt", name)
        self.umount(path)
        os.makedirs(path, exist_ok=True)
        opts = f"size={size}" + (",ro" if ro else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], capture_output=True, text=True)
        if r.returncode != 0:
            raise NotRun(f"mount -t tmpfs failed: {r.stderr.strip()}")
        self.mounts.append(path)
        return path

    def remount(self, path, opts):
        subprocess.run(["mount", "-o", "remount," + opts, path], check=True, capture_output=True)

    def umount(self, path):
        while os.path.ismount(path):
            if subprocess.run(["umount", path], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", path], capture_output=True)
        if path in self.mounts:
            self.mounts.remove(path)

    def umount_stale(self):
        """tmpfs mounts left under work/mnt by a harness run that was killed."""
        root = os.path.join(self.work, "mnt") + "/"
        with open("/proc/mounts") as f:
            stale = [l.split()[1] for l in f if l.split()[1].startswith(root)]
        for m in sorted(stale, reverse=True):
            self.umount(m)

    def umount_all(self):
        for m in list(self.mounts):
            self.umount(m)


# --- file checks ---------------------------------------------------------------------------------
def md5_bytes(b):
    return hashlib.md5(b).hexdigest()


def md5_file(p):
    h = hashlib.md5()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bam_records_md5(p):
    r = subprocess.run(["samtools", "view", p], capture_output=True, timeout=300)
    if r.returncode != 0:
        return None
    return md5_bytes(r.stdout)


def sam_header(p):
    r = subprocess.run(["samtools", "view", "-H", p], capture_output=True, text=True, timeout=60)
    return r.stdout if r.returncode == 0 else None


def gz_text(p):
    with gzip.open(p, "rb") as f:
        return f.read()


def vcf_body_md5(p, rename=None):
    try:
        data = gz_text(p)
    except (OSError, EOFError):
        return None
    body = b"\n".join(l for l in data.split(b"\n") if l and not l.startswith(b"#"))
    if rename:
        for a, b in rename:
            body = body.replace(a.encode(), b.encode())
    return md5_bytes(body)


def digests(outdir, sample, rename=None):
    """Content digests of one sample's outputs (None when a file is missing or unreadable)."""
    d = {}
    base = os.path.join(outdir, sample, sample)
    bam = base + ".bam"
    if os.path.exists(bam):
        if rename:
            r = subprocess.run(["samtools", "view", bam], capture_output=True, timeout=300)
            t = r.stdout
            for a, b in rename:
                t = t.replace(a.encode(), b.encode())
            d["bam"] = md5_bytes(t) if r.returncode == 0 else None
        else:
            d["bam"] = bam_records_md5(bam)
    else:
        d["bam"] = None
    for k, suffix in (("vcf", ".vcf.gz"), ("gvcf", ".g.vcf.gz")):
        p = base + suffix
        d[k] = vcf_body_md5(p, rename) if os.path.exists(p) else None
    p = base + ".callable.bed.gz"
    if os.path.exists(p):
        try:
            t = gz_text(p)
            for a, b in rename or []:
                t = t.replace(a.encode(), b.encode())
            d["bed"] = md5_bytes(t)
        except (OSError, EOFError):
            d["bed"] = None
    else:
        d["bed"] = None
    return d


def diff_digests(a, b, keys=None):
    keys = keys or [k for k in a if a[k] is not None]
    return [k for k in keys if a.get(k) != b.get(k)]


def sidecar_ok(path):
    """True/False when `path.md5` exists and does/doesn't match; None without a sidecar."""
    sc = path + ".md5"
    if not os.path.exists(sc):
        return None
    try:
        want = open(sc).read().split()[0]
    except (OSError, IndexError):
        return False
    return want == md5_file(path)


def bad_finals(folder):
    """Final-named files (no leading dot) that are truncated or corrupt. Checks: the .md5 sidecar
    when there is one, else gzip/BGZF integrity for .gz, samtools quickcheck for .bam, and JSON
    parsing for .json."""
    bad = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith("dagr-")]
        for fn in files:
            if fn.startswith(".") or fn.endswith(".md5"):
                continue
            p = os.path.join(root, fn)
            ok = sidecar_ok(p)
            if ok is False:
                bad.append(os.path.relpath(p, folder) + " (md5 mismatch)")
                continue
            if ok is None:
                try:
                    if fn.endswith(".gz"):
                        gz_text(p)
                    elif fn.endswith(".bam"):
                        if subprocess.run(["samtools", "quickcheck", p]).returncode != 0:
                            bad.append(os.path.relpath(p, folder) + " (quickcheck)")
                    elif fn.endswith(".json"):
                        import json
                        json.load(open(p))
                except Exception as e:  # noqa: BLE001
                    bad.append(os.path.relpath(p, folder) + f" ({type(e).__name__})")
    return bad


def temp_leftovers(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        for fn in files:
            if fn.endswith(".dagr-tmp"):
                out.append(os.path.relpath(os.path.join(root, fn), folder))
    return sorted(out)


def fill_fs(path, leave_kb, name="filler"):
    """Fills the file system of `path` until `leave_kb` KiB stay available."""
    p = os.path.join(path, name)
    if os.path.exists(p):
        os.remove(p)
    st = os.statvfs(path)
    avail = st.f_bavail * st.f_frsize
    n = max(0, avail - leave_kb * 1024)
    with open(p, "wb") as f:
        chunk = b"\0" * (1 << 20)
        while n > 0:
            k = min(n, len(chunk))
            try:
                f.write(chunk[:k])
                f.flush()
            except OSError:
                break
            n -= k
    return p


def avail_kb(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // 1024


ORDER = [PANIC, LOSS, INJECTION, COLLISION, WRONG, RMISS, LEAK, WEAK, HARNESS, NOTRUN, OK]


def worst(verdicts):
    """The most severe verdict of several sub-runs (ORDER, worst first)."""
    vs = set(v for v in verdicts if v)
    for v in ORDER:
        if v in vs:
            return v
    return OK


def stage_rows(run):
    """The per-stage table of a run summary: [(entity, stage, status)]."""
    rows = []
    for l in strip_ansi(run.out + "\n" + run.err).splitlines():
        m = re.match(r"^  (\S+)\s+(\S+)\s+([a-z_]+)\s+[\d.]+ s\s*$", l)
        if m:
            rows.append(m.groups())
    return rows


def ran_stages(run):
    """Stages that ran (or would run) in a run, as 'entity/stage'."""
    return [f"{e}/{s}" for e, s, st in stage_rows(run) if st in ("done", "would_run", "failed", "ran")]


def rc_verdict(runs, ok_rcs, fail=WRONG):
    """PANIC if any run panicked, `fail` if any exit code is outside `ok_rcs`, else OK."""
    if any(r.panicked for r in runs):
        return PANIC
    if any(r.rc not in ok_rcs for r in runs):
        return fail
    return OK


# --- case registry ------------------------------------------------------------------------------
CASES = []


class Case:
    def __init__(self, cid, group, expected, review, fn):
        self.id, self.group, self.expected, self.review, self.fn = cid, group, expected, review, fn


def case(cid, group, expected, review=OK):
    """Registers a case. `expected` is the review's "expected" column; `review` its verdict at
    commit 3cf1fb9 (for the comparison in summary.md)."""

    def deco(fn):
        CASES.append(Case(cid, group, expected, review, fn))
        return fn

    return deco


class Result:
    """What a case returns. `runs`: every sub-run (their exit codes go to the table); `focus`: the
    run whose key message is shown (default: the first run with an unexpected outcome, else the
    first); `msg` overrides the message."""

    def __init__(self, verdict, runs, notes="", focus=None, msg=None):
        self.verdict, self.runs, self.notes, self.focus, self.msg = verdict, list(runs), notes, focus, msg

    def exit_codes(self):
        if len(self.runs) == 1:
            return str(self.runs[0].rc)
        return ",".join(f"{r.label}={r.rc}" for r in self.runs)

    def message(self):
        if self.msg is not None:
            return one_line(self.msg, 240)
        r = self.focus or (self.runs[0] if self.runs else None)
        return r.key() if r else ""


def res(verdict, runs, notes="", focus=None, msg=None):
    return Result(verdict, runs if isinstance(runs, (list, tuple)) else [runs], notes, focus, msg)
