"""Fixture generators for the reliability harness. Every file is written under OUTDIR/work; the
repository's testdata/ is only read (copied). Each generator runs once per harness run (memoized)
and is deterministic (fixed seeds, gzip mtime 0).

Layout (relative to OUTDIR/work, which is the cwd of every dagr command):
  ref/ref.fa            copy of testdata/ref/ref.fa (its cache ref/ref.fa.dagr/ is prepared once)
  fq/g1.fq[.gz] g2...   200 pairs of testdata germline lane 1 (the "small sample" S)
  fq/<defect>_R1/R2...  FASTQ defects (F cases)
  germ/, gs/germ.csv    testdata GERM (4 lanes) and its samplesheet (R cases)
  big/big_R1/R2.fq.gz   "BIG": testdata TUMOR reads x4 (names suffixed x0..x3), 52,360 pairs
  big/big.csv           samplesheet of BIG (one normal sample, patient PB)
  ss/ yaml/ rf/ vcf/    samplesheets, pipeline YAMLs, reference FASTAs, VCFs/BEDs
  fakebin/              stub sbatch/squeue/sinfo/scancel/scontrol (state in fakebin/state)
"""
import gzip
import io
import os
import random
import shutil
import stat
import subprocess
import zlib

HEADER = "patient,sex,status,sample,lane,fastq_1,fastq_2"

QC_YAML = """\
# qc: prepare the reference once, then validate and measure every sample's FASTQ.
# Outputs: <outdir>/<sample>/<sample>.fastq_metrics.json (+ .md5), run reports.
pipeline: qc
description: Reference preparation (fai, dict, MD5s, minimap2 index) and FASTQ validation with read metrics.
stages:
  - name: prepare_reference
    stage: prepare_reference
    inputs:
      fasta: reference
    outputs:
      index: reference_index
    params:
      minimizer_k: 21
      minimizer_w: 11
    resources:
      threads: 2
      memory: 4G
      time: 2h

  - name: fastq_intake
    stage: fastq_intake
    samples: all
    inputs:
      reads: reads
      reference: reference_index
    outputs:
      metrics: fastq_metrics
    params:
      min_base_quality: 20
    resources:
      threads: 2
      memory: 1G
      time: 4h
"""

GERMLINE_YAML = """\
pipeline: germline
description: FASTQ to BAM to germline VCF.
stages:
  - name: prepare_reference
    stage: prepare_reference
    inputs:
      fasta: reference
    outputs:
      index: reference_index
    resources:
      threads: 2
      memory: 16G
      time: 4h

  - name: align
    stage: align
    samples: normal
    inputs:
      reads: reads
      reference: reference_index
    outputs:
      alignments: alignments
    resources:
      threads: 16
      memory: 32G
      time: 24h

  - name: call_germline
    stage: call_germline
    samples: normal
    inputs:
      alignments: alignments
      reference: reference_index
    outputs:
      variants: germline_variants
    params:
      shard_size: 250000
      min_mapq: 20
      sex_check: error
    resources:
      threads: 16
      memory: 16G
      time: 12h
"""


def gz(data):
    """gzip with mtime 0 (deterministic)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as f:
        f.write(data)
    return buf.getvalue()


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def parse_fq(data):
    lines = data.split(b"\n")
    return [lines[i:i + 4] for i in range(0, len(lines) - 3, 4)]


def fmt_fq(recs):
    return b"".join(b"\n".join(r) + b"\n" for r in recs)


class Fix:
    def __init__(self, ctx):
        self.ctx = ctx
        self.td = os.path.join(ctx.repo, "testdata")
        self.done = set()

    def w(self, *p):
        return self.ctx.w(*p)

    def once(self, key):
        if key in self.done:
            return False
        self.done.add(key)
        return True

    # --- the base set --------------------------------------------------------------------------
    def base(self):
        """ref/ref.fa (prepared), fq/g1/g2 (small sample), germ/ (GERM), big/ (BIG)."""
        if not self.once("base"):
            return
        w = self.w
        os.makedirs(w("ref"), exist_ok=True)
        shutil.copyfile(os.path.join(self.td, "ref/ref.fa"), w("ref/ref.fa"))
        for r in (1, 2):
            data = gzip.open(os.path.join(self.td, f"germline/germline_L1_R{r}.fastq.gz")).read()
            recs = parse_fq(data)[:200]
            write(w(f"fq/g{r}.fq"), fmt_fq(recs))
            write(w(f"fq/g{r}.fq.gz"), gz(fmt_fq(recs)))
        # GERM, all 4 lanes
        rows = [HEADER]
        os.makedirs(w("germ"), exist_ok=True)
        for lane in (1, 2, 3, 4):
            for r in (1, 2):
                shutil.copyfile(os.path.join(self.td, f"germline/germline_L{lane}_R{r}.fastq.gz"),
                                w(f"germ/germline_L{lane}_R{r}.fastq.gz"))
            rows.append(f"PG,XX,0,GERM,L{lane},../germ/germline_L{lane}_R1.fastq.gz,../germ/germline_L{lane}_R2.fastq.gz")
        write(w("gs/germ.csv"), "\n".join(rows) + "\n")
        # BIG: the tumour reads four times, names suffixed x0..x3
        for r in (1, 2):
            recs = parse_fq(gzip.open(os.path.join(self.td, f"somatic/tumor_R{r}.fastq.gz")).read())
            out = []
            for k in range(4):
                sfx = b"x%d" % k
                for rec in recs:
                    name = rec[0].split(b" ")[0]
                    out.append([name + sfx + rec[0][len(name):], rec[1], b"+", rec[3]])
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as f:
                f.write(fmt_fq(out))
            write(w(f"big/big_R{r}.fq.gz"), buf.getvalue())
        write(w("big/big.csv"), HEADER + "\nPB,XX,0,BIG,L1,big_R1.fq.gz,big_R2.fq.gz\n")
        # testdata/bad copied (F33, S14)
        shutil.copytree(os.path.join(self.td, "bad"), w("bad"), dirs_exist_ok=True)
        r = self.ctx.dagr("prepare-reference", ["prepare-reference", "ref/ref.fa", "--threads", "1"], timeout=300)
        if r.rc != 0:
            raise RuntimeError("prepare-reference of ref/ref.fa failed: " + r.key())

    def recs(self, r):
        self.base()
        return parse_fq(open(self.w(f"fq/g{r}.fq"), "rb").read())

    # --- FASTQ ---------------------------------------------------------------------------------
    def fq_pair(self, name, r1=None, r2=None, gzip_it=True, raw1=None, raw2=None):
        """fq/<name>_R1/_R2(.fq.gz|.fq) from edited copies of g1/g2. r1/r2: functions over the
        record list; raw1/raw2: bytes used as they are. Returns (path1, path2) relative to work."""
        ext = ".fq.gz" if gzip_it else ".fq"
        paths = []
        for r, fn, raw in ((1, r1, raw1), (2, r2, raw2)):
            if raw is not None:
                data = raw
            else:
                recs = [list(x) for x in self.recs(r)]
                if fn:
                    recs = fn(recs)
                data = fmt_fq(recs) if isinstance(recs, list) else recs
            p = f"fq/{name}_R{r}{ext}"
            write(self.w(p), gz(data) if gzip_it else data)
            paths.append(p)
        return tuple(paths)

    def gz_bomb(self):
        """fq/bomb_R1.fq.gz: about 0.5 MB of gzip that inflates to one 500 MB sequence line."""
        p = self.w("fq/bomb_R1.fq.gz")
        if not os.path.exists(p):
            co = zlib.compressobj(9, zlib.DEFLATED, 31)
            with open(p, "wb") as f:
                f.write(co.compress(b"@bomb\n"))
                chunk = b"A" * (1 << 20)
                for _ in range(500):
                    f.write(co.compress(chunk))
                f.write(co.compress(b"\n+\nF\n"))
                f.write(co.flush())
        return "fq/bomb_R1.fq.gz"

    # --- samplesheets --------------------------------------------------------------------------
    def ss(self, name, rows, header=HEADER, raw=None, enc="utf-8"):
        """ss/<name>.csv; rows are CSV lines (paths relative to ss/, e.g. ../fq/g1.fq.gz)."""
        self.base()
        data = raw if raw is not None else (header + "\n" + "\n".join(rows) + "\n").encode(enc)
        return write(self.w(f"ss/{name}.csv"), data) and f"ss/{name}.csv"

    @staticmethod
    def row(sample="S1", patient="P1", sex="XX", status="0", lane="L1", f1="../fq/g1.fq.gz",
            f2="../fq/g2.fq.gz", extra=None):
        cols = [patient, sex, status, sample, lane, f1, f2] + ([extra] if extra is not None else [])
        return ",".join(cols)

    def many_samples(self, n, pairs=True):
        """ss/many<n>.csv: n samples (n/2 patients with a normal and a tumour), each with its own
        copy of testdata/bad/good_R1/R2 (10 pairs, about 1 kB; distinct files, so no same-file
        rule applies)."""
        p = f"ss/many{n}.csv"
        if os.path.exists(self.w(p)):
            return p
        self.base()
        d = self.w("many")
        os.makedirs(d, exist_ok=True)
        src = [open(self.w("bad/good_R1.fastq.gz"), "rb").read(), open(self.w("bad/good_R2.fastq.gz"), "rb").read()]
        rows = [HEADER]
        for i in range(n):
            for r in (1, 2):
                with open(os.path.join(d, f"s{i}_R{r}.fq.gz"), "wb") as f:
                    f.write(src[r - 1])
            pat, status = (f"P{i // 2}", str(i % 2)) if pairs else (f"P{i}", "0")
            rows.append(f"{pat},XX,{status},S{i},L1,../many/s{i}_R1.fq.gz,../many/s{i}_R2.fq.gz")
        write(self.w(p), "\n".join(rows) + "\n")
        return p

    # --- YAML ----------------------------------------------------------------------------------
    def yaml(self, name, text):
        p = f"yaml/{name}.yaml"
        write(self.w(p), text)
        return p

    def qc_yaml_with(self, old, new, name):
        assert old in QC_YAML, old
        return self.yaml(name, QC_YAML.replace(old, new, 1))

    def germ_yaml_with(self, old, new, name):
        assert old in GERMLINE_YAML, old
        return self.yaml(name, GERMLINE_YAML.replace(old, new, 1))

    def big_yaml(self):
        """yaml/big50.yaml: a valid qc pipeline with a 25 MB description and 26 MB of comments."""
        p = "yaml/big50.yaml"
        if not os.path.exists(self.w(p)):
            desc = "x" * (25 * 1000 * 1000)
            text = QC_YAML.replace(
                "description: Reference preparation (fai, dict, MD5s, minimap2 index) and FASTQ validation with read metrics.",
                "description: " + desc)
            comments = ("# " + "c" * 98 + "\n") * 260000
            write(self.w(p), comments + text)
        return p

    # --- references ----------------------------------------------------------------------------
    def ref_seq(self):
        self.base()
        if "seq" not in self.ctx.memo:
            lines = open(self.w("ref/ref.fa")).read().split("\n")
            self.ctx.memo["seq"] = "".join(l for l in lines[1:] if l)
        return self.ctx.memo["seq"]

    def fasta(self, name, contigs, width=80, eol="\n", final_newline=True, raw=None):
        """rf/<name>: contigs = [(header_without_gt, sequence)]."""
        p = f"rf/{name}"
        if raw is not None:
            write(self.w(p), raw)
            return p
        out = []
        for h, s in contigs:
            out.append(">" + h)
            out.extend(s[i:i + width] for i in range(0, len(s), width))
        text = eol.join(out) + (eol if final_newline else "")
        write(self.w(p), text)
        return p

    def good_fa(self):
        return self.fasta("good.fa", [("chr20_1M", self.ref_seq())])

    # --- VCFs ----------------------------------------------------------------------------------
    def vcf_lines(self, query_vcf_gz):
        return gzip.open(query_vcf_gz, "rt").read().rstrip("\n").split("\n")

    def vcf(self, name, lines, crlf=False, gzip_it=False):
        text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
        p = f"vcf/{name}" + (".gz" if gzip_it else "")
        write(self.w(p), gz(text.encode()) if gzip_it else text)
        return p

    # --- Slurm stubs ---------------------------------------------------------------------------
    def fakebin(self):
        d = self.w("fakebin")
        if self.once("fakebin"):
            state = os.path.join(d, "state")
            os.makedirs(state, exist_ok=True)
            stubs = {
                "sbatch": f"""#!/bin/bash
# stub sbatch: records its argv, prints a job id (--parsable)
state={state!r}
n=$(cat "$state/next" 2>/dev/null || echo 100)
echo $((n + 1)) > "$state/next"
printf '%q ' "$@" >> "$state/sbatch.log"; echo >> "$state/sbatch.log"
echo "$n"
""",
                "squeue": "#!/bin/bash\n# stub squeue: nothing is queued\nexit 0\n",
                "sinfo": "#!/bin/bash\n# stub sinfo: one node, 2 CPUs, 8 GB\necho 'node1 2 8000'\n",
                "scancel": "#!/bin/bash\nexit 0\n",
                "scontrol": "#!/bin/bash\nexit 0\n",
            }
            for k, v in stubs.items():
                write(os.path.join(d, k), v, 0o755)
        return d

    def fake_env(self):
        return {"PATH": self.fakebin() + ":" + os.environ.get("PATH", "")}


def make_fifo(path):
    if os.path.exists(path):
        os.remove(path)
    os.mkfifo(path)
    return path


def random_seq(n, seed):
    rnd = random.Random(seed)
    return "".join(rnd.choice("ACGT") for _ in range(n))


def bgzip_file(src, dst):
    with open(dst, "wb") as f:
        subprocess.run(["bgzip", "-c", src], stdout=f, check=True)
    return dst


def is_exec(p):
    return os.path.exists(p) and os.stat(p).st_mode & stat.S_IXUSR
