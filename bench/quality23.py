"""Quality in the 23 techniques of SemEval-2023 Task 3, on our held-out split.

    python bench/quality23.py                        # the pipeline with --taxonomy semeval2023
    python bench/quality23.py --taxonomy ptc         # the 14-class model, its labels mapped to 2023's
    python bench/quality23.py --limit 10 --json      # a quick look, JSON

The split: the SemEval-2023 English articles whose ids are PTC dev articles (75; the
23-technique head and the encoder never trained on them; redline/training/technique23.py
checks each match by text). The real pipeline (tagger only) runs on the 2023 texts.

Two scores:

* **paragraph-level micro-F1**, SemEval-2023 subtask 3's semantics: every non-empty line
  of an article is a paragraph; its gold is the set of techniques of the gold spans that
  touch it, its prediction the set of the predicted spans that touch it; micro-F1 over
  (paragraph, technique) pairs.
* **span-level FLC-style F1**: SemEval-2020 Task 11's FLC semantics (partial-overlap
  credit, per technique) on the 23-technique labels.

`--on-ptc` turns the comparison round: the 23-technique spans, each label mapped to its
PTC class (`redline.taxonomy.to_ptc`; labels without one dropped), on PTC dev with the
official SI and FLC scores of `bench/quality.py` (the 14-class model's own benchmark).

`--taxonomy ptc` is a reference: the 14-class model's spans, each PTC label replaced by
its most frequent SemEval-2023 successor in train (a merged class such as
"Whataboutism,Straw_Men,Red_Herring" can only become one of its parts), so the two
taxonomies' answers are scored on the same gold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redline.io.ptc import Label  # noqa: E402
from redline.taxonomy import SEMEVAL2023_TO_PTC  # noqa: E402
from redline.training.technique23 import (  # noqa: E402
    gold_of, load_semeval2023, paragraph_scores, span_scores,
)


def ptc_to_2023(train_spans: list[tuple[str, int, int]]) -> dict[str, str]:
    """Each PTC label -> its most frequent SemEval-2023 successor among the train spans."""
    counts = Counter(t for t, _, _ in train_spans)
    result: dict[str, str] = {}
    for new, old in SEMEVAL2023_TO_PTC.items():
        if old is not None and counts[new] > counts.get(result.get(old, ""), -1):
            result[old] = new
    return result


def touching_paragraphs(article_id: str, text: str, spans: list[Label]) -> dict[tuple[str, int], set[str]]:
    from redline.training.technique23 import gold_paragraphs

    return {(article_id, n): techs
            for n, techs in gold_paragraphs(text, [(s.technique, s.start, s.end) for s in spans])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--taxonomy", choices=("semeval2023", "ptc"), default="semeval2023")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev articles")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--on-ptc", action="store_true", help="score the 23-technique spans on PTC dev (SI, FLC)")
    a = ap.parse_args()
    from redline.pipeline import analyze

    if a.on_ptc:
        on_ptc(a)
        return

    articles = load_semeval2023(a.data)
    dev = [x for x in articles if x.split == "dev"]
    if a.limit:
        dev = dev[:a.limit]
    mapping = ptc_to_2023([s for x in articles if x.split == "train" for s in x.spans])
    t0 = time.time()
    pred_spans: list[Label] = []
    pred_paras: dict = {}
    for art in dev:
        doc = analyze(art.text, id=art.id, threshold=a.threshold, components=("tagger",), taxonomy=a.taxonomy)
        spans = [Label(art.id, s.technique if a.taxonomy == "semeval2023" else mapping[s.technique], s.start, s.end)
                 for s in doc.spans]
        pred_spans += spans
        pred_paras.update(touching_paragraphs(art.id, art.text, spans))
    elapsed = time.time() - t0
    gold_p, gold_s = gold_of(dev)
    para, span = paragraph_scores(gold_p, pred_paras), span_scores(gold_s, pred_spans)
    result = {"taxonomy": a.taxonomy, "articles": len(dev), "threshold": a.threshold, "paragraph": para,
              "span": span, "seconds": round(elapsed, 1)}
    if a.json:
        print(json.dumps(result, indent=1))
        return
    print(f"SemEval-2023 dev split (PTC dev counterparts), {len(dev)} articles, taxonomy {a.taxonomy} "
          f"({elapsed:.0f}s)")
    print(f"  paragraph micro-F1 {para['micro_f1']:.4f} (P {para['micro_precision']:.4f} "
          f"R {para['micro_recall']:.4f}), macro-F1 {para['macro_f1']:.4f}, {para['paragraphs']} paragraphs")
    print(f"  span FLC-style F1  {span['f1']:.4f} (P {span['precision']:.4f} R {span['recall']:.4f}, "
          f"pred {span['n_pred']}, gold {span['n_gold']})")
    print(f"\n  {'technique':<34} {'para F1':>7} {'span F1':>7} {'gold paras':>10}")
    for t, pt in sorted(para["per_technique"].items(), key=lambda kv: -kv[1]["n_gold"]):
        sf = span["per_technique"].get(t, {}).get("f1", 0.0)
        print(f"  {t:<34} {pt['f1']:7.3f} {sf:7.3f} {pt['n_gold']:10d}")


def on_ptc(a) -> None:
    from redline.io.ptc import load_articles, read_labels
    from redline.metrics import score_flc, score_si
    from redline.pipeline import analyze
    from redline.taxonomy import to_ptc

    articles = load_articles(a.data / "ptc" / "dev-articles")
    if a.limit:
        articles = dict(list(articles.items())[:a.limit])
    gold = [g for g in read_labels(a.data / "ptc" / "dev-task-flc-tc.labels") if g.article_id in articles]
    pred = []
    for aid, text in articles.items():
        doc = analyze(text, id=aid, threshold=a.threshold, components=("tagger",), taxonomy="semeval2023")
        pred += [Label(aid, to_ptc(s.technique), s.start, s.end) for s in doc.spans if to_ptc(s.technique)]
    si = score_si(gold, [Label(p.article_id, "", p.start, p.end) for p in pred])
    flc = score_flc(gold, pred)
    if a.json:
        print(json.dumps({"articles": len(articles), "si": si.as_dict(), "flc": flc.as_dict()}, indent=1))
        return
    print(f"PTC dev, {len(articles)} articles, the 23-technique spans mapped to PTC classes")
    for name, sc in (("SI", si), ("FLC", flc)):
        print(f"  {name:<4} P={sc.precision:.4f} R={sc.recall:.4f} F1={sc.f1:.4f}  "
              f"(pred {sc.n_pred}, gold {sc.n_gold})")


if __name__ == "__main__":
    main()
