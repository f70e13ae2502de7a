"""Issue #15's corpus targets, measured and printed (figures go in the note, tests check behaviour).

    python bench/corpus.py                      # all four parts
    python bench/corpus.py --only kill,scale    # some of them

* throughput: `redline corpus ingest` against `redline analyze -f jsonl` on the same
  narrative-frames articles (a folder of .txt files), in interleaved pairs (ABBA order),
  whole commands (start-up included in both); the ratio as the best of each and as the
  median of the pairs; target: ingest >= 95% of analyze.
* kill: an ingest of 200 articles killed with SIGKILL at three random points, then run
  again to the end; target: its export equals an uninterrupted run's, byte for byte.
* ray: `--engine ray --workers 2` (1 thread each) against the local engine with
  `--threads 1`; identical export, and the speed-up, both for the whole command and for
  the steady rate (articles/s between the first and the last committed batch, which
  leaves out start-up and model loading).
* scale: 10,000 short synthetic articles through the lexicon pipeline: peak RSS of the
  ingest at 1,000 and at 10,000 articles (target: flat), and the time of the corpus
  statistics on the 10,000 (target: under 2 s).

Timings on a shared machine are noisy: the CPU and load average are printed with them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REDLINE = [sys.executable, "-m", "redline.cli"]


def env(threads: int | None = None) -> dict[str, str]:
    out = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}
    if threads:
        out["OMP_NUM_THREADS"] = str(threads)
    return out


def cpu_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


def narrative_rows(data: Path, n: int) -> list[dict[str, str]]:
    path = data / "narrative-frames-climate" / "articles_metadata.tsv"
    if not path.exists():
        sys.exit(f"bench/corpus.py: {path} not found (the narrative-frames data, see ../shared/data)")
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return rows[:n]


def write_folder(rows: list[dict[str, str]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        (folder / f"nf{int(row['ID']):04d}.txt").write_text(row["text"], encoding="utf-8")
    return folder


def write_tsv(rows: list[dict[str, str]], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


def timed(cmd: list[str], threads: int | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (kB) and stderr of a command run to its end."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=env(threads))
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"bench/corpus.py: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss, err


def export_bytes(store: Path, out: Path) -> dict[str, bytes]:
    from redline.corpus.export import export_store

    export_store(store, out, "parquet")
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def steady_rate(cmd: list[str], threads: int | None = None) -> tuple[float, float]:
    """(whole-command seconds, articles/s between the first and the last committed batch)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=env(threads))
    marks = []
    for line in proc.stderr:
        if line.startswith("redline: ingest: "):
            marks.append((time.monotonic(), int(line.split("(", 1)[1].split(" stored")[0])))
    proc.wait()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"bench/corpus.py: {' '.join(map(str, cmd))} failed ({proc.returncode})")
    marks = [m for m in marks if m[1] > 0]
    if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
        return wall, float("nan")
    return wall, (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])


# --- the parts ---------------------------------------------------------------------------------

def part_throughput(args, tmp: Path) -> None:
    rows = narrative_rows(args.data, args.n_throughput)
    folder = write_folder(rows, tmp / "tp-articles")
    comps = ["--components", args.components] if args.components != "default" else []
    analyze_s, ingest_s, store_share = [], [], []

    def run_analyze(i: int) -> None:
        wall, _, _ = timed([*REDLINE, "analyze", str(folder), "-f", "jsonl", "-o", str(tmp / f"tp{i}.jsonl"),
                            "-q", *comps])
        analyze_s.append(wall)

    def run_ingest(i: int) -> None:
        wall, _, err = timed([*REDLINE, "corpus", "ingest", str(tmp / f"tp{i}.duckdb"), str(folder), *comps])
        ingest_s.append(wall)
        # The ingest's own account: "writing the store took S s of T s".
        took = err.rsplit("writing the store took ", 1)[1].split(" s")[0]
        store_share.append(float(took) / wall)

    for i in range(args.repeat):
        # ABBA order: a load that drifts during the run (a shared machine) favours neither.
        for step in ((run_analyze, run_ingest) if i % 2 == 0 else (run_ingest, run_analyze)):
            step(i)
    n = len(rows)
    a, g = min(analyze_s), min(ingest_s)
    ratio = (n / g) / (n / a)
    # Each pair ran back to back, so its ratio shares that moment's load; the median of the
    # pairs is steadier than the best of each when the load changes between pairs.
    pairs = sorted(x / y for x, y in zip(analyze_s, ingest_s))
    median = pairs[len(pairs) // 2] if len(pairs) % 2 else (pairs[len(pairs) // 2 - 1] + pairs[len(pairs) // 2]) / 2
    print(f"throughput ({n} narrative-frames articles, pipeline {args.components}, {args.repeat} interleaved "
          f"pairs (ABBA), whole commands):")
    print(f"  analyze -f jsonl {n / a:.2f} articles/s best ({a:.1f} s; runs {', '.join(f'{x:.1f}' for x in analyze_s)})")
    print(f"  corpus ingest    {n / g:.2f} articles/s best ({g:.1f} s; runs {', '.join(f'{x:.1f}' for x in ingest_s)})")
    print(f"  ingest / analyze: best of each {ratio:.3f}, median of the pairs {median:.3f} "
          f"(pairs {', '.join(f'{x:.2f}' for x in pairs)}); target >= 0.95: "
          f"{'met' if min(ratio, median) >= 0.95 else 'NOT met'}")
    print(f"  writing the store: {max(store_share):.1%} of the ingest's time at most (the rest is the pipeline, "
          "as in analyze)")


def part_kill(args, tmp: Path) -> None:
    rows = narrative_rows(args.data, args.n_kill)
    tsv = write_tsv(rows, tmp / "kill.tsv")
    base = ["--components", args.kill_components, "--batch-size", "8", "--log-every", "0"]
    whole, killed = tmp / "whole.duckdb", tmp / "killed.duckdb"
    wall, _, _ = timed([*REDLINE, "corpus", "ingest", str(whole), str(tsv), *base])
    rng = random.Random(args.seed)
    points = []
    for _ in range(3):
        proc = subprocess.Popen([*REDLINE, "corpus", "ingest", str(killed), str(tsv), *base], cwd=REPO, env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Once this run has committed a batch of its own, a random moment within the next
        # few batches: mid-analysis, mid-transaction or between batches.
        for line in proc.stderr:
            if line.startswith("redline: ingest: ") and " (0 stored" not in line:
                break
        time.sleep(rng.uniform(0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        import duckdb

        con = duckdb.connect(str(killed), read_only=True)
        points.append(con.execute("SELECT count(*) FROM documents").fetchone()[0])
        con.close()
    timed([*REDLINE, "corpus", "ingest", str(killed), str(tsv), *base])
    same = export_bytes(killed, tmp / "e-killed") == export_bytes(whole, tmp / "e-whole")
    print(f"kill -9 ({len(rows)} articles, pipeline {args.kill_components}, batches of 8; uninterrupted run "
          f"{wall:.0f} s): killed at {', '.join(map(str, points))} articles stored, then resumed")
    print(f"  export equals the uninterrupted run's, byte for byte: {'yes (met)' if same else 'NO (NOT met)'}")


def part_ray(args, tmp: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        print("ray: skipped, Ray is not installed (pip install 'redline[ray]')")
        return
    rows = narrative_rows(args.data, args.n_ray)
    folder = write_folder(rows, tmp / "ray-articles")
    base = ["--components", args.ray_components, "--log-every", "0", "--batch-size", "4"]
    local_store, ray_store = tmp / "local.duckdb", tmp / "ray.duckdb"
    local_wall, local_rate = steady_rate([*REDLINE, "corpus", "ingest", str(local_store), str(folder), *base,
                                          "--threads", "1"], threads=1)
    ray_wall, ray_rate = steady_rate([*REDLINE, "corpus", "ingest", str(ray_store), str(folder), *base,
                                      "--engine", "ray", "--workers", "2"], threads=1)
    same = export_bytes(local_store, tmp / "e-local") == export_bytes(ray_store, tmp / "e-ray")
    n = len(rows)
    print(f"ray ({n} narrative-frames articles, pipeline {args.ray_components}): local engine 1 thread vs "
          "Ray 2 workers x 1 thread")
    print(f"  whole command: local {local_wall:.1f} s, ray {ray_wall:.1f} s, speed-up {local_wall / ray_wall:.2f}x "
          "(Ray's cluster start included)")
    print(f"  steady rate:   local {local_rate:.2f}/s, ray {ray_rate:.2f}/s, speed-up {ray_rate / local_rate:.2f}x")
    print(f"  identical export: {'yes (met)' if same else 'NO (NOT met)'}")


WORDS = ("council harbour budget minister election climate report bridge vote plan deal city river "
         "school energy tax road court union farm storm").split()
LOADED = ["They are traitors, all of them.", "Never forget what they did to us!", "This is a total disaster.",
          "Only a fool would believe the corrupt elite.", "Wake up before it is too late!",
          "Everyone knows the truth.", "A shameful betrayal, again and again."]
OUTLETS = ["bbc", "BBC", "foxnews", "Fox News", "theguardian", "breitbart", "npr", "vox"]


def synthetic(n: int, path: Path, seed: int) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            sentences = []
            for _ in range(rng.randint(3, 7)):
                if rng.random() < 0.3:
                    sentences.append(rng.choice(LOADED))
                else:
                    words = rng.sample(WORDS, rng.randint(5, 10))
                    sentences.append(" ".join(words).capitalize() + ".")
            date = f"{rng.randint(2017, 2019)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            fh.write(json.dumps({"id": f"s{i:05d}", "text": f"Story {i}. " + " ".join(sentences),
                                 "source": rng.choice(OUTLETS), "date": date}) + "\n")
    return path


def part_scale(args, tmp: Path) -> None:
    big = synthetic(args.synthetic, tmp / "synthetic.jsonl", args.seed)
    small = tmp / "synthetic-1k.jsonl"
    with big.open(encoding="utf-8") as src, small.open("w", encoding="utf-8") as dst:
        for _, line in zip(range(min(1000, args.synthetic)), src):
            dst.write(line)
    figures = {}
    for name, path in (("1k", small), ("all", big)):
        wall, rss_kb, _ = timed([*REDLINE, "corpus", "ingest", str(tmp / f"scale-{name}.duckdb"), str(path),
                                 "--components", "lexicon", "-q", "--batch-size", "64"])
        n = sum(1 for _ in path.open(encoding="utf-8"))
        figures[name] = (n, wall, rss_kb)
    (n1, w1, r1), (n2, w2, r2) = figures["1k"], figures["all"]
    print(f"scale (synthetic short articles, lexicon pipeline, batches of 64):")
    print(f"  {n1:>6} articles: {w1:6.1f} s, {n1 / w1:6.1f} articles/s, peak RSS {r1 / 1024:.0f} MB")
    print(f"  {n2:>6} articles: {w2:6.1f} s, {n2 / w2:6.1f} articles/s, peak RSS {r2 / 1024:.0f} MB")
    growth = r2 / r1 - 1
    print(f"  peak RSS grows {growth:+.1%} for {n2 / n1:.0f}x the articles (target: flat, within 10%: "
          f"{'met' if growth <= 0.10 else 'NOT met'})")
    import duckdb

    con = duckdb.connect(str(tmp / "scale-all.duckdb"), read_only=True)
    try:
        from redline.corpus.stats import compute
    except ImportError:
        compute = None
    start = time.monotonic()
    if compute is not None:
        result = compute(con, by=("source",))
        what = f"redline.corpus.stats.compute(by=source): {len(result['groups'])} groups, bootstrap CIs"
    else:
        con.execute("SELECT d.source, count(DISTINCT d.doc_id), count(s.doc_id) FROM documents d "
                    "LEFT JOIN spans s USING (doc_id) GROUP BY 1").fetchall()
        what = "a plain SQL aggregate (redline.corpus.stats is not there)"
    took = time.monotonic() - start
    print(f"  stats on {n2} articles: {took:.2f} s, {what} (target < 2 s: {'met' if took < 2 else 'NOT met'})")


PARTS = {"throughput": part_throughput, "kill": part_kill, "ray": part_ray, "scale": part_scale}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    ap.add_argument("--components", default="default", help="pipeline for the throughput part")
    ap.add_argument("--n-throughput", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=2, help="alternated analyze/ingest pairs")
    ap.add_argument("--n-kill", type=int, default=200)
    ap.add_argument("--kill-components", default="lexicon")
    ap.add_argument("--n-ray", type=int, default=40)
    ap.add_argument("--ray-components", default="tagger")
    ap.add_argument("--synthetic", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        ap.error(f"--only: unknown {', '.join(unknown)}")
    print(f"bench/corpus.py on {cpu_line()}")
    with tempfile.TemporaryDirectory(prefix="redline-corpus-bench-") as tmp:
        for name in chosen:
            started = time.monotonic()
            PARTS[name](args, Path(tmp))
            print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)
    print(f"(load average at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
