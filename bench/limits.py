"""Time and memory of one long text through the pipeline (issue 18): where the limit comes from.

For each length in --chars, a fresh Python process loads the pipeline, analyses a short
article to warm it (models, thread pools, allocator), notes its RSS (the baseline), then
analyses a text of that length made of PTC dev articles joined, and prints

* the wall time and the peak RSS of the whole run (VmHWM, reset before the text);
* with --breakdown, each step's time and peak in turn: the spaCy parse alone first, then
  each component (the parse is then cached), so the step that grows is named;
* the RSS after the text (document dropped, as the server does: gc, malloc_trim), and
  after --repeat more runs of the same text, so growth that does not come back shows.

    python bench/limits.py --chars 60000
    python bench/limits.py --chars 20000 60000 120000 --breakdown
    python bench/limits.py --chars 60000 --components tagger
    python bench/limits.py --chars 100000 --one-line      # no line breaks at all

Figures on a shared machine include other processes' contention for the cores: time
inflates, memory does not. Nothing is sent anywhere; everything runs in-process.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is this step's."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def long_text(n: int, one_line: bool = False) -> str:
    dev = ROOT.parent / "shared" / "data" / "ptc" / "dev-articles"
    parts = [p.read_text(encoding="utf-8") for p in sorted(dev.glob("*.txt"))]
    if not parts:
        parts = [(ROOT / "examples" / "op-ed.txt").read_text(encoding="utf-8")]
    text = "\n\n".join(parts)
    while len(text) < n:
        text += "\n\n" + text
    if one_line:  # the worst layout: no line break to cut the parse at
        text = " ".join(text.split())
        while len(text) < n:
            text += " " + text
    return text[:n - 1].rstrip() + "."


def bad_offsets(node, text: str):
    """Every {"start", "end", "text"} in the document's JSON that does not slice the text."""
    if isinstance(node, dict):
        if {"start", "end", "text"} <= node.keys() and isinstance(node["start"], int):
            if text[node["start"]:node["end"]] != node["text"]:
                yield node
        for value in node.values():
            yield from bad_offsets(value, text)
    elif isinstance(node, list):
        for value in node:
            yield from bad_offsets(value, text)


def child(chars: int, components: tuple[str, ...] | None, breakdown: bool, repeat: int,
          past_limit: bool = False, one_line: bool = False) -> dict:
    import redline
    from redline.doc import Document
    from redline.pipeline import check_text, default_pipeline
    from redline.server import _release_freed_memory

    warm = (ROOT / "examples" / "op-ed.txt").read_text(encoding="utf-8")
    t = time.monotonic()
    pipe = default_pipeline(components)
    redline.analyze(warm, components=components)
    load_s = time.monotonic() - t
    gc.collect()
    _release_freed_memory()
    base = status_mb("VmRSS")
    text = long_text(chars, one_line)
    if past_limit:  # to measure what a longer limit would cost
        import redline.pipeline
        redline.pipeline.MAX_CHARS = max(redline.pipeline.MAX_CHARS, len(text))
    check_text(text)  # refuses past MAX_CHARS, like the library call would

    steps = []
    reset_peak()
    t = time.monotonic()
    if breakdown:
        from redline.components.nlp import parse
        doc = Document(id="long", text=text)
        t0 = time.monotonic()
        parse(doc)
        steps.append(("spacy parse", time.monotonic() - t0, status_mb("VmHWM")))
        for comp in pipe.components:
            reset_peak()
            t0 = time.monotonic()
            doc = comp(doc)
            steps.append((comp.name, time.monotonic() - t0, status_mb("VmHWM")))
        doc.sort_spans()
    else:
        doc = pipe(Document(id="long", text=text))
    wall = time.monotonic() - t
    peak = max([status_mb("VmHWM")] + [s[2] for s in steps])
    n_spans, n_actors = len(doc.spans), len(doc.actors)
    bad = list(bad_offsets(doc.to_json(), text))
    del doc
    gc.collect()
    _release_freed_memory()
    after = [status_mb("VmRSS")]
    for _ in range(repeat):
        pipe(Document(id="again", text=text))
        gc.collect()
        _release_freed_memory()
        after.append(status_mb("VmRSS"))
    return {"chars": chars, "load_s": load_s, "base_mb": base, "wall_s": wall, "peak_mb": peak,
            "after_mb": after, "steps": steps, "spans": n_spans, "actors": n_actors, "bad_offsets": len(bad)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, nargs="+", default=[60_000])
    ap.add_argument("--components", default="", help="comma-separated (default: the default pipeline)")
    ap.add_argument("--breakdown", action="store_true", help="time and peak of each step in turn")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the same text after the first, for RSS after")
    ap.add_argument("--past-limit", action="store_true", help="measure lengths beyond redline's MAX_CHARS too")
    ap.add_argument("--one-line", action="store_true", help="the text on one line, whitespace collapsed")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    comps = tuple(c for c in args.components.split(",") if c) or None
    if args.child:
        print(json.dumps(child(args.child, comps, args.breakdown, args.repeat, args.past_limit, args.one_line)))
        return
    for n in args.chars:
        cmd = [sys.executable, __file__, "--child", str(n), "--repeat", str(args.repeat)]
        if args.components:
            cmd += ["--components", args.components]
        cmd += ["--breakdown"] * args.breakdown + ["--past-limit"] * args.past_limit + ["--one-line"] * args.one_line
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{n:,} characters: failed\n{r.stderr[-2000:]}")
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        after = ", ".join(f"{a:.0f}" for a in res["after_mb"])
        print(f"{n:,} characters: {res['wall_s']:.1f} s, peak RSS {res['peak_mb']:.0f} MB; "
              f"RSS {res['base_mb']:.0f} MB before, {after} MB after each run "
              f"({(res['after_mb'][0] - res['base_mb']) / res['base_mb']:+.1%} after the first); "
              f"{res['spans']} spans, {res['actors']} actors, {res['bad_offsets']} offsets that do not slice the text "
              f"(load and warm-up {res['load_s']:.1f} s)")
        for name, secs, peak in res["steps"]:
            print(f"    {name:<12} {secs:6.1f} s  peak {peak:6.0f} MB")


if __name__ == "__main__":
    main()
