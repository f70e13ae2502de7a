"""Quality on PTC dev with the official SemEval-2020 Task 11 semantics.

    python bench/quality.py                      # the default pipeline (trained model)
    python bench/quality.py --components lexicon # the rule baseline
    python bench/quality.py --components tagger --without sentences  # a boundary rule off

SI and FLC: the pipeline's spans on the raw dev articles. TC: the technique model
labels the gold spans (for the rule baseline: the technique of the rule span that
overlaps a gold span most, else the majority class Loaded_Language).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redline.io.ptc import Label, group_by_article, load_articles, read_labels  # noqa: E402
from redline.metrics import score_flc, score_si, score_tc  # noqa: E402
from redline.models import PRECISIONS  # noqa: E402
from redline.pipeline import analyze  # noqa: E402


def evaluate(articles: dict[str, str], gold: list[Label], comps: tuple[str, ...] | None,
             threshold: float | None = None, tc: bool = True):
    """(documents, SI, TC, FLC) of a pipeline on the articles, official semantics. A
    function so that bench/int8_sensitivity.py can score encoder variants in one process
    with exactly this code (tc=False skips TC, which SI and FLC do not need)."""
    docs = {aid: analyze(text, id=aid, threshold=threshold, components=comps) for aid, text in articles.items()}
    pred = [Label(aid, s.technique, s.start, s.end) for aid, d in docs.items() for s in d.spans]
    si = score_si(gold, [Label(p.article_id, "", p.start, p.end) for p in pred])
    flc = score_flc(gold, pred)
    if not tc:
        return docs, si, None, flc
    tc_pred = []
    if comps is None or "tagger" in comps:
        from redline.components.tagger import TechniqueTagger
        tagger = TechniqueTagger()
        for aid, labs in group_by_article(gold).items():
            techs = tagger.classify(articles[aid], [(l.start, l.end) for l in labs])
            tc_pred += [Label(aid, t, l.start, l.end) for l, (t, _) in zip(labs, techs)]
    else:
        for aid, labs in group_by_article(gold).items():
            for l in labs:
                best, overlap = "Loaded_Language", 0
                for s in docs[aid].spans:
                    o = min(s.end, l.end) - max(s.start, l.start)
                    if o > overlap:
                        best, overlap = s.technique, o
                tc_pred.append(Label(aid, best, l.start, l.end))
    return docs, si, score_tc(gold, tc_pred), flc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--components", default=None)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--precision", choices=PRECISIONS, default=None,
                    help="the technique encoder's precision (default: $REDLINE_PRECISION, else auto)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--without", action="append", default=[],
                    choices=["phrase_edges", "title", "paragraphs", "sentences"],
                    help="turn one of the technique model's boundary rules off (repeatable; "
                         "the score and threshold stay as shipped: bench/tune_spans.py refits them)")
    a = ap.parse_args()
    if a.precision:
        import os
        os.environ["REDLINE_PRECISION"] = a.precision
    ptc = a.data / "ptc"
    if not (ptc / "dev-articles").is_dir():
        sys.exit(f"PTC dev not found under {ptc}")
    comps = tuple(a.components.split(",")) if a.components else None
    articles = load_articles(ptc / "dev-articles")
    gold = read_labels(ptc / "dev-task-flc-tc.labels")
    if a.without:
        import dataclasses

        from redline.components.tagger import load_technique_model
        model = load_technique_model()  # loaded once per process: the pipeline gets this one
        model.rules = dataclasses.replace(model.rules, **{name: False for name in a.without})
    t0 = time.time()
    docs, si, tc, flc = evaluate(articles, gold, comps, a.threshold)
    elapsed = time.time() - t0
    precision = next((d.model.get("tagger", {}).get("precision") for d in docs.values()), None)
    result = {"detector": ",".join(comps) if comps else "default", "precision": precision, "articles": len(articles),
              "si": si.as_dict(), "tc": tc.as_dict(), "flc": flc.as_dict(), "seconds": round(elapsed, 1)}
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"PTC dev, {len(articles)} articles, detector: {result['detector']}"
          + (f", {precision}" if precision else "") + f" ({elapsed:.0f}s)")
    for name, s in (("SI", si), ("TC", tc), ("FLC", flc)):
        print(f"  {name:<4} P={s.precision:.4f} R={s.recall:.4f} F1={s.f1:.4f}  (pred {s.n_pred}, gold {s.n_gold})")
    print("\n  per-technique F1          TC      FLC   (gold spans)")
    for tech in sorted(tc.per_technique, key=lambda t: -tc.per_technique[t]["n_gold"]):
        f = flc.per_technique.get(tech, {}).get("f1", 0.0)
        print(f"  {tech:<40} {tc.per_technique[tech]['f1']:.3f}  {f:.3f}  ({tc.per_technique[tech]['n_gold']})")


if __name__ == "__main__":
    main()
