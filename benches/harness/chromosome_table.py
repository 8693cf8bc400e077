"""The markdown table of chromosome.sh, from the TSVs it wrote into WORK.

Usage: chromosome_table.py WORK THREADS RUNS GERMLINE_MB SOMATIC_MB GENOME_MB REF_MB
Medians over runs for wall and CPU seconds, the maximum for peak RSS; core-seconds per Mb are
the median CPU seconds over the part's Mb; the projection scales dagr's germline figure.
"""

import csv
import statistics
import sys


def rows(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except FileNotFoundError:
        return []


def main():
    work, threads, runs, germline_mb, somatic_mb, genome_mb, ref_mb = sys.argv[1:]
    threads, germline_mb, somatic_mb, genome_mb = int(threads), float(germline_mb), float(somatic_mb), float(genome_mb)
    mb = {"germline": germline_mb, "somatic": somatic_mb}
    print("```")
    print(open(f"{work}/versions.txt").read().rstrip())
    print("```\n")
    speed(rows(f"{work}/runs.tsv"), mb, threads, runs)
    accuracy(rows(f"{work}/accuracy.tsv"))
    tiers(rows(f"{work}/tiers.tsv"))
    stages(rows(f"{work}/stages.tsv"))
    projection(rows(f"{work}/runs.tsv"), germline_mb, genome_mb, threads, float(ref_mb))


def speed(runs, mb, threads, nruns):
    groups = {}
    for r in runs:
        groups.setdefault((r["part"], r["tool"]), []).append(r)
    print(f"## Speed ({threads} threads; dagr: median of {nruns} run(s); peers: one run, cached between invocations)\n")
    print("| part | contender | wall s | CPU s | peak RSS MiB | BAM MB | VCF MB | core-s/Mb | alloc core-s/Mb | runs | contended | cached |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (part, tool), v in groups.items():
        wall = statistics.median(float(r["wall_s"]) for r in v)
        cpu = statistics.median(float(r["cpu_s"]) for r in v)
        rss = max(int(r["peak_rss_kb"]) for r in v) / 1024
        bam = f'{int(v[-1]["bam_bytes"]) / 1e6:.1f}' if int(v[-1]["bam_bytes"]) else "-"
        vcf = int(v[-1]["vcf_bytes"]) / 1e6
        m = mb.get(part) or 1.0
        cont = sum(int(r["contended"]) for r in v)
        cached = "yes" if v[-1]["cached"] == "1" else ""
        print(f"| {part} | {tool} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {bam} | {vcf:.2f} | {cpu / m:.2f} | "
              f"{wall * threads / m:.2f} | {len(v)} | {cont}/{len(v)} | {cached} |")
    print(f"\ncore-s/Mb: CPU seconds (user+sys, children included) per Mb: germline over {mb['germline']:.2f} Mb "
          f"(the .fai length, N included; for a REGION build or with GERMLINE_MB set, that length), somatic over {mb['somatic']:.2f} Mb (the span "
          "of somatic/confident.bed, where its reads lie); alloc: wall x threads per Mb. Peak RSS: the largest single "
          "process (/usr/bin/time). contended: runs during which other processes burnt > 10 % of the wall in CPU, "
          "or that started after QUIET_WAIT gave up. The dagr somatic run also aligns and calls the normal's germline "
          "variants; the peer pair does not call the normal's germline variants.\n")


def accuracy(acc):
    for part in ("germline", "somatic"):
        v = [r for r in acc if r["part"] == part]
        if not v:
            continue
        print(f"## {part.capitalize()} accuracy (dagr bench compare; P / R / F1 exact, F1 haplotype-aware)\n")
        print("| contender | stratum | SNV P | SNV R | SNV F1 | SNV F1 hap | INDEL P | INDEL R | INDEL F1 | INDEL F1 hap | rescued clusters |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        by = {}
        for r in v:
            by.setdefault((r["tool"], r["stratum"]), {})[r["class"]] = r
        for (tool, stratum), c in by.items():
            s, i = c["snv"], c["indel"]
            print(f"| {tool} | {stratum} | {s['exact_p']} | {s['exact_r']} | {s['exact_f1']} | {s['hap_f1']} | "
                  f"{i['exact_p']} | {i['exact_r']} | {i['exact_f1']} | {i['hap_f1']} | {s['rescued']} |")
        print()
    if acc:
        print("confident: the data's confident BED; selfsimilar: strat_selfsimilar_100mer.bed inside it. Somatic: PASS "
              "calls against truth_somatic.vcf.gz in somatic/confident.bed.\n")


def tiers(t):
    if not t:
        return
    print("## Somatic recall per truth tier (report only)\n")
    tools = sorted({r["tool"] for r in t})
    print("| tier | expected VAF | truth | " + " | ".join(f"{x} R exact | {x} R hap" for x in tools) + " |")
    print("|---|---|---:|" + "---:|" * (2 * len(tools)))
    def evaf(tier):
        try:
            return -float(next(r["evaf"] for r in t if r["tier"] == tier).split("/")[0])
        except ValueError:
            return 0.0
    for tier in sorted({r["tier"] for r in t}, key=lambda x: (evaf(x), x)):
        cells = {r["tool"]: r for r in t if r["tier"] == tier}
        first = next(iter(cells.values()))
        vals = " | ".join(f"{cells[x]['exact_recall']} | {cells[x]['hap_recall']}" if x in cells else "- | -" for x in tools)
        print(f"| {tier} | {first['evaf']} | {first['truth']} | {vals} |")
    print()


def stages(st):
    if not st:
        return
    groups = {}
    for r in st:
        groups.setdefault((r["part"], r["stage"], r["entity"]), []).append(r)
    print("## dagr stages (median over runs; from run_report.json)\n")
    print("| part | stage | entity | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|")
    for (part, stage, entity), v in groups.items():
        wall = statistics.median(float(r["wall_s"]) for r in v)
        cpu = statistics.median(float(r["cpu_s"]) for r in v)
        rss = max(int(r["peak_rss_kb"]) for r in v) / 1024
        print(f"| {part} | {stage} | {entity} | {wall:.1f} | {cpu:.1f} | {rss:.0f} |")
    print()


def projection(runs, germline_mb, genome_mb, threads, ref_mb):
    v = [r for r in runs if r["part"] == "germline" and r["tool"] == "dagr"]
    if not v:
        return
    cpu = statistics.median(float(r["cpu_s"]) for r in v)
    wall = statistics.median(float(r["wall_s"]) for r in v)
    per_mb = cpu / germline_mb
    alloc = wall * threads / germline_mb
    print("## Projection to a whole genome\n")
    print(f"dagr germline: {per_mb:.2f} core-s/Mb (CPU) -> {per_mb * genome_mb / 3600:.1f} core-hours for a "
          f"{genome_mb / 1000:.1f} Gb 30x genome; allocated (wall x {threads} threads): {alloc:.2f} core-s/Mb -> "
          f"{alloc * genome_mb / 3600:.1f} core-hours.")
    print("Caveat: a linear scaling of one chromosome's simulated reads (no reads from other chromosomes to mismap, "
          f"a {ref_mb:.0f} Mb index instead of {genome_mb / 1000:.1f} Gb: "
          "minimap2's seeding and the memory grow with the index, the N fraction and "
          "repeat content differ by chromosome); a planning figure, not a measurement.")


if __name__ == "__main__":
    main()
