"""Speed and memory of `analyze` over the PTC dev articles, on this machine.

    python bench/speed.py [--components tagger,actors,...] [--threads 2] [--repeat 3]

Prints: full-pipeline throughput (articles/s, characters/s), the encoder-only forward
throughput over the same articles (the bound the pipeline is compared against), warm
latency for a 5,000-character article, cold CLI start to first result, and peak RSS.
The analyze pass and the cold start also give their CPU time (user+sys, all threads),
steadier than wall time on a machine whose cores other work shares.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redline.models import PRECISIONS  # noqa: E402  (torch-free; redline sets the OpenMP policy first)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name() -> str:
    """The CPU model and whether it has native bf16: the figures depend on both."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "unknown CPU")
    flags = next((l for l in info.splitlines() if l.startswith("flags")), "")
    extras = [f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f" {f}" in flags]
    return f"{name} ({', '.join(extras) or 'no AVX2'})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--components", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev articles")
    ap.add_argument("--repeat", type=int, default=1,
                    help="passes over dev and cold starts; figures are medians, with the range")
    ap.add_argument("--precision", choices=PRECISIONS, default=None,
                    help="the technique encoder's precision (default: $REDLINE_PRECISION, else auto)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.precision:
        os.environ["REDLINE_PRECISION"] = a.precision  # the cold-start subprocess inherits it

    import redline  # noqa: F401  (before torch: it sets the OpenMP wait policy torch reads at load)
    import torch
    torch.set_num_threads(a.threads)
    os.environ.setdefault("REDLINE_THREADS", str(a.threads))
    from redline.io.ptc import load_articles
    from redline.pipeline import analyze, default_pipeline

    dev = a.data / "ptc" / "dev-articles"
    if not dev.is_dir():
        sys.exit(f"PTC dev not found under {dev}")
    articles = list(load_articles(dev).values())
    if a.limit:
        articles = articles[:a.limit]
    comps = tuple(a.components.split(",")) if a.components else None
    chars = sum(len(t) for t in articles)

    t = time.perf_counter()
    default_pipeline(comps)  # load models
    load_s = time.perf_counter() - t
    analyze(articles[0], components=comps)  # warm-up

    # This machine's timings vary from run to run (shared CPUs): --repeat gives a range.
    # CPU time (user+sys, all threads) varies less than wall time there: it is printed too.
    rates, cpus = [], []
    for _ in range(max(1, a.repeat)):
        t, c = time.perf_counter(), time.process_time()
        n_spans = 0
        for i, text in enumerate(articles):
            n_spans += len(analyze(text, id=str(i), components=comps).spans)
        rates.append(len(articles) / (time.perf_counter() - t))
        cpus.append((time.process_time() - c) / len(articles))
    full_s = len(articles) / statistics.median(rates)

    result = {
        "articles": len(articles), "characters": chars, "threads": a.threads,
        "components": list(comps or default_pipeline(comps).names),
        "model_load_s": round(load_s, 2),
        "analyze_articles_per_s": round(len(articles) / full_s, 2),
        "analyze_articles_per_s_range": [round(min(rates), 2), round(max(rates), 2)],
        "analyze_chars_per_s": round(chars / full_s),
        "analyze_cpu_s_per_article": round(statistics.median(cpus), 3),
        "spans": n_spans,
    }

    # Encoder-only bound: the same windows through the bare encoder, nothing else.
    from redline.components.tagger import load_technique_model
    try:
        model = load_technique_model()
    except Exception:  # noqa: BLE001 - no trained model: skip the bound
        model = None
    if model is not None:
        from redline.models.technique_net import WINDOW_BATCH, tokenize_article, window_batches
        toks = [tokenize_article(model.tokenizer, text, model.window, model.stride) for text in articles]
        t = time.perf_counter()
        with torch.inference_mode():
            for tk in toks:
                for _, ids, mask in window_batches(tk, model.tokenizer, WINDOW_BATCH):
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=model.bf16):
                        for net in model.nets:
                            net.encode(ids, mask)
        enc_s = time.perf_counter() - t
        result["encoder_only_articles_per_s"] = round(len(articles) / enc_s, 2)
        result["pieces"] = sum(len(tk.ids) for tk in toks)
        result["precision"] = model.precision
    result["cpu"] = cpu_name()

    # Warm latency for a 5,000-character article.
    long_text = "\n".join(articles)
    five_k = long_text[:5000]
    lat = []
    for _ in range(5):
        t = time.perf_counter()
        analyze(five_k, components=comps)
        lat.append(time.perf_counter() - t)
    result["warm_latency_5000_chars_s"] = round(statistics.median(lat), 3)
    result["peak_rss_mb"] = round(peak_rss_mb())

    # Cold start: a fresh CLI process to its first result.
    sample = REPO / "examples" / "op-ed.txt"
    cmd = [sys.executable, "-m", "redline.cli", "analyze", str(sample), "-f", "json"]
    if comps:
        cmd += ["--components", ",".join(comps)]
    colds, cold_cpus, ok = [], [], True
    for _ in range(max(1, a.repeat)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, env={**os.environ, "REDLINE_THREADS": str(a.threads)})
        colds.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cold_cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        ok = ok and r.returncode == 0
    result["cold_cli_first_result_s"] = round(statistics.median(colds), 2)
    result["cold_cli_first_result_s_range"] = [round(min(colds), 2), round(max(colds), 2)]
    result["cold_cli_cpu_s"] = round(statistics.median(cold_cpus), 2)
    result["cold_cli_ok"] = ok

    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"PTC dev: {result['articles']} articles, {chars:,} characters, {a.threads} threads, "
          f"pipeline {'+'.join(result['components'])}")
    print(f"  CPU: {result['cpu']}")
    lo, hi = result["analyze_articles_per_s_range"]
    print(f"  analyze:        {result['analyze_articles_per_s']:>7} articles/s  {result['analyze_chars_per_s']:>9,} chars/s"
          + (f"  (range {lo}-{hi} over {a.repeat} passes)" if a.repeat > 1 else "")
          + f"  CPU {result['analyze_cpu_s_per_article']} s/article")
    if "encoder_only_articles_per_s" in result:
        print(f"  encoder only:   {result['encoder_only_articles_per_s']:>7} articles/s  ({result['precision']})")
    print(f"  warm latency:   {result['warm_latency_5000_chars_s']:>7} s for 5,000 characters")
    lo, hi = result["cold_cli_first_result_s_range"]
    print(f"  cold CLI start: {result['cold_cli_first_result_s']:>7} s to first result (ok={result['cold_cli_ok']})"
          + (f"  (range {lo}-{hi})" if a.repeat > 1 else "") + f"  CPU {result['cold_cli_cpu_s']} s user+sys")
    print(f"  model load:     {result['model_load_s']:>7} s   peak RSS: {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
