"""Tune the span decoding and fit the span score on PTC dev; write them to config.json.

    python bench/tune_spans.py                  # tune, fit, print; --write to update the model
    python bench/tune_spans.py --write

What it chooses, all on PTC dev (75 articles) with the shipped weights (issue #16):
* the candidate decoding (hysteresis start and grow levels, merge gap): a small grid;
* the span score: a logistic regression, over the span's mean token probability (logit)
  and whether it is a bare proper noun, of the event span_decoding.SCORE_EVENT;
* the default threshold on that score: the one with the best SI F1.
And on PTC train (no model needed): the techniques whose gold spans cross a line break
more than 10% of the time (they may cross paragraphs).
Two-fold figures (choose and fit on one half of dev, score the other, both ways) show
how optimistic the dev figures are. The model's encoder pass is cached in --cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redline.io.ptc import Label, group_by_article, load_articles, read_labels  # noqa: E402
from redline.metrics import score_flc, score_si  # noqa: E402
from redline.models import span_decoding as sd  # noqa: E402
from redline.taxonomy import PTC_TECHNIQUES  # noqa: E402

FEATURES = ("logit_mean_p", "bare_proper_noun")
GRID = [sd.DecodeParams(th, gap, 2, low, 1, 0.0) for th in (0.45, 0.5, 0.55) for low in (0.3,) for gap in (20, 40)]
CROSS_SHARE = 0.10


def crossing_techniques(ptc: Path) -> dict[str, dict[str, float]]:
    """Per boundary ("paragraphs": a line break, "sentences": a sentence end), per
    technique, the share of PTC train gold spans that cross one."""
    arts = load_articles(ptc / "train-articles")
    total, cross = Counter(), {"paragraphs": Counter(), "sentences": Counter()}
    for lab in read_labels(ptc / "train-task-flc-tc.labels"):
        frag = arts[lab.article_id][lab.start:lab.end].strip()
        total[lab.technique] += 1
        cross["paragraphs"][lab.technique] += "\n" in frag
        cross["sentences"][lab.technique] += len(sd.split_at_sentences(frag, 0, len(frag))) > 1
    return {kind: {t: c[t] / total[t] for t in total} for kind, c in cross.items()}


def encoder_outputs(model, articles: dict[str, str], cache: Path | None) -> dict:
    outputs = {}
    for aid, text in articles.items():
        f = cache / f"{aid}.pkl" if cache else None
        if f and f.exists():
            out = pickle.loads(f.read_bytes())
            out.hidden = [[torch.as_tensor(h).float() for h in hs] for hs in out.hidden]
            outputs[aid] = out
            continue
        outputs[aid] = model.run(text)
        if f:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(pickle.dumps(outputs[aid]))
    return outputs


def decode(model, articles, outputs, params, rules) -> list[tuple[str, sd.RefinedSpan]]:
    spans = []
    for aid, text in articles.items():
        out = outputs[aid]
        cands = sd.candidate_spans(text, out.tok.offsets, out.p_span, params)
        for r in sd.refine_spans(text, cands, lambda s: model.classify(text, s, out), rules, list(PTC_TECHNIQUES)):
            spans.append((aid, r))
    return spans


def overlaps_gold(gold_by_article, aid, r) -> bool:
    return any(min(r.end, g.end) > max(r.start, g.start) for g in gold_by_article.get(aid, []))


def fit_scorer(articles, spans, gold_by_article) -> sd.SpanScorer:
    from sklearn.linear_model import LogisticRegression

    X = np.array([[sd.score_features(articles[a], r)[f] for f in FEATURES] for a, r in spans])
    y = np.array([overlaps_gold(gold_by_article, a, r) for a, r in spans])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    return sd.SpanScorer(FEATURES, [float(c) for c in lr.coef_[0]], float(lr.intercept_[0]))


def si_at(gold, spans, scores, threshold, ids=None) -> float:
    pred = [Label(a, "", r.start, r.end) for (a, r), s in zip(spans, scores)
            if s >= threshold and (ids is None or a in ids)]
    return score_si([g for g in gold if ids is None or g.article_id in ids], pred).f1


def best_threshold(gold, spans, scores, ids=None) -> tuple[float, float]:
    grid = np.round(np.arange(0.05, 0.80, 0.005), 3)
    return max(((si_at(gold, spans, scores, t, ids), float(t)) for t in grid))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    return float(sum((idx == b).mean() * abs(p[idx == b].mean() - y[idx == b].mean())
                     for b in range(bins) if (idx == b).any()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=None, help="folder for the encoder outputs (pickles)")
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped one)")
    ap.add_argument("--write", action="store_true", help="update the model folder's config.json")
    ap.add_argument("--without", action="append", default=[],
                    choices=["phrase_edges", "title", "paragraphs", "sentences"],
                    help="turn a boundary rule off (repeatable), to measure what it costs or gains")
    ap.add_argument("--decode", default=None,
                    help='fixed decoding instead of the grid, as JSON: \'{"threshold": 0.5, "low": 0.3, ...}\'')
    a = ap.parse_args()
    from redline.components.tagger import DEFAULT_MODEL_DIR, load_technique_model

    ptc = a.data / "ptc"
    shares = crossing_techniques(ptc)
    crossing = {kind: sorted(t for t, s in share.items() if s > CROSS_SHARE) for kind, share in shares.items()}
    rules = sd.SpanRules(cross_paragraphs=frozenset(crossing["paragraphs"]),
                         cross_sentences=frozenset(crossing["sentences"]))
    off = {name: False for name in a.without}
    rules = dataclasses.replace(rules, **off)
    grid = GRID if not a.decode else [sd.DecodeParams(**json.loads(a.decode))]
    model = load_technique_model(a.model)
    articles = load_articles(ptc / "dev-articles")
    gold = read_labels(ptc / "dev-task-flc-tc.labels")
    by_article = group_by_article(gold)
    outputs = encoder_outputs(model, articles, a.cache)
    ids = sorted(articles)
    halves = [set(ids[::2]), set(ids[1::2])]

    results = []
    for params in grid:
        spans = decode(model, articles, outputs, params, rules)
        scorer = fit_scorer(articles, spans, by_article)
        scores = [scorer(articles[aid], r) for aid, r in spans]
        f1, threshold = best_threshold(gold, spans, scores)
        print(f"  start {params.threshold} grow {params.low} gap {params.merge_gap}: SI {f1:.4f} at {threshold}",
              flush=True)
        results.append((f1, params, spans, scorer, scores, threshold))
    f1, params, spans, scorer, scores, threshold = max(results, key=lambda r: r[0])

    # Two-fold: decoding, score fit and threshold chosen on one half, measured on the other.
    twofold, eces = [], []
    for fit_ids, test_ids in (halves, halves[::-1]):
        def on(ids_, items):
            return [x for x in items if x[0] in ids_]
        best = None
        for _, p, sp, _, _, _ in results:
            part = on(fit_ids, sp)
            sc = fit_scorer(articles, part, by_article)
            f, t = best_threshold(gold, part, [sc(articles[x], r) for x, r in part], fit_ids)
            if best is None or f > best[0]:
                best = (f, sp, sc, t)
        _, sp, sc, t = best
        test = on(test_ids, sp)
        test_scores = [sc(articles[x], r) for x, r in test]
        twofold.append(si_at(gold, test, test_scores, t, test_ids))
        y = np.array([overlaps_gold(by_article, x, r) for x, r in test])
        eces.append(ece(np.array(test_scores), y))

    kept = [(x, r) for (x, r), s in zip(spans, scores) if s >= threshold]
    pred = [Label(x, PTC_TECHNIQUES[r.label], r.start, r.end) for x, r in kept]
    si = score_si(gold, [Label(p.article_id, "", p.start, p.end) for p in pred])
    flc = score_flc(gold, pred)
    y_all = np.array([overlaps_gold(by_article, x, r) for x, r in spans])
    report = {
        "decode": params.__dict__, "threshold": threshold, "span_score": scorer.to_config(),
        "crossing": {kind: {t: round(shares[kind][t], 3) for t in ts} for kind, ts in crossing.items()},
        "rules_off": a.without,
        "si_f1": si.f1, "flc_f1": flc.f1, "si_two_fold": float(np.mean(twofold)),
        "ece_in_sample": ece(np.array(scores), y_all), "ece_two_fold": float(np.mean(eces)),
        "spans_kept": len(kept), "candidates": len(spans),
    }
    print(json.dumps(report, indent=2))
    if a.write:
        path = (a.model or DEFAULT_MODEL_DIR) / "config.json"
        config = json.loads(path.read_text())
        config["decode"] = params.__dict__
        config["span_rules"] = {**{k: v for k, v in rules.__dict__.items() if not k.startswith("cross_")},
                                "cross_paragraphs": crossing["paragraphs"],
                                "cross_sentences": crossing["sentences"]}
        config["span_score"] = {**scorer.to_config(), "fitted_on": "PTC dev (75 articles), bench/tune_spans.py"}
        config["threshold"] = threshold
        config.setdefault("dev_scores", {}).update({
            "si_f1": si.f1, "flc_f1": flc.f1, "si_two_fold": float(np.mean(twofold)),
            "ece_two_fold": float(np.mean(eces))})
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
