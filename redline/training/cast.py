"""Train the cast model: which noun phrases are part of a story's cast.

    python -m redline.training.cast --data ../shared/data --out redline/models/cast \
        [--parse-cache runs/frames-parse.docbin]

Data: narrative frames (`narrative-frames-climate/`, 428 climate articles): every base noun
phrase that the actor finder does not already take is an example; it is positive when it
covers a hero / villain / victim entity of its article (the entity string occurs there and
the phrase holds the entity's head word, as `redline.training.entity_match` defines it).
Model: standardised features (`redline.components.cast.chunk_features`), L2 logistic
regression. Evaluation: 5-fold cross-validation held out by article (seed 13); for each
threshold it prints the share of gold entities found among the actors (the issue's
measure: the real actor finder with each held-out article's fold model), the share of the
cast actors that are a gold entity of their article, and the cast actors per article. The
threshold written to config.json is the highest whose cross-validated found share reaches
`--min-found` (the issue's target: the fewest cast actors that get there).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from redline.training.entity_match import PRONOUNS, entity_pattern, head_span, match_gold_entity, name_form


def read_narrative(data: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    root = data / "narrative-frames-climate"
    csv.field_size_limit(1 << 30)
    with open(root / "articles_metadata.tsv", encoding="utf-8", newline="") as f:
        texts = {r["ID"]: r["text"] for r in csv.DictReader(f, delimiter="\t")}
    entities: dict[str, list[str]] = defaultdict(list)
    with open(root / "role_and_frame_annoations.tsv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["ID"] in texts:
                entities[r["ID"]].append(r["entity"])  # every annotator's row, as the bench counts them
    return texts, entities


def parses(texts: dict[str, str], cache: Path | None):
    """spaCy parses by article id (kept in a DocBin file between runs when `cache` is given)."""
    from spacy.tokens import DocBin

    from redline.components.nlp import get_nlp
    nlp = get_nlp()
    known = {}
    if cache and cache.exists():
        known = {d.text: d for d in DocBin().from_disk(cache).get_docs(nlp.vocab)}
    out, dirty = {}, False
    for aid, text in texts.items():
        if text not in known:
            known[text] = nlp(text)
            dirty = True
        out[aid] = known[text]
    if cache and dirty:
        bin_ = DocBin(store_user_data=False)
        for d in known.values():
            bin_.add(d)
        cache.parent.mkdir(parents=True, exist_ok=True)
        bin_.to_disk(cache)
    return out


def examples(texts, entities, parsed):
    """Per article: the features and labels of the phrases the actor finder leaves."""
    from redline.components.actors import build_actors
    from redline.components.cast import candidate_chunks, chunk_features
    from redline.components.nlp import cache_for
    from redline.doc import Document

    out = {}
    for aid in sorted(texts, key=int):
        text, sp = texts[aid], parsed[aid]
        doc = Document(id=aid, text=text)
        cache_for(doc)["spacy"] = sp
        doc.actors, _ = build_actors(doc, cast_model=None)
        taken = [(m.start, m.end) for a in doc.actors for m in a.mentions]
        chunks = candidate_chunks(sp, taken)
        occurrences = []
        for ent in set(entities.get(aid, [])):
            if name_form(ent) in PRONOUNS:
                continue
            for m in entity_pattern(ent).finditer(text):
                hs, he = head_span(text, *m.span())
                occurrences.append((m.start(), m.end(), hs, he, ent))
        y = np.array([any(c.start < g[1] and g[0] < c.end and c.start <= g[2] and g[3] <= c.end
                              for g in occurrences) for c in chunks], dtype=bool)
        x = chunk_features(sp, chunks) if chunks else np.zeros((0, 1), np.float32)
        out[aid] = {"x": x, "y": y}
    return out


def fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit((x - mean) / scale, y)
    return mean, scale, lr.coef_[0].astype(np.float32), float(lr.intercept_[0])


def pipeline_curve(texts, entities, parsed, models: dict[str, "object"], thresholds) -> list[dict]:
    """What the actor finder gives with the cast model of each article's fold, at each
    threshold: the share of gold entity rows found (`match_gold_entity`, the benchmark's
    measure), the share of cast actors that are a gold entity of their article, and the
    cast actors per article."""
    from redline.components.actors import build_actors
    from redline.components.nlp import cache_for
    from redline.doc import Document

    out = []
    for t in thresholds:
        found = rows_n = cast_n = cast_good = 0
        for aid, model in models.items():
            model.threshold = float(t)
            doc = Document(id=aid, text=texts[aid])
            cache_for(doc)["spacy"] = parsed[aid]
            doc.actors, _ = build_actors(doc, model)
            rows = [e for e in entities.get(aid, []) if entity_pattern(e).search(texts[aid])]
            hits = [match_gold_entity(doc, e) for e in rows]
            found += sum(1 for h in hits if h is not None)
            hit_ids = set(hits)
            rows_n += len(rows)
            things = [a.id for a in doc.actors if a.type in ("THING", "LAW")]
            cast_n += len(things)
            cast_good += sum(1 for a in things if a in hit_ids)
        out.append({"threshold": round(float(t), 3), "found": found / rows_n,
                    "cast_precision": cast_good / max(1, cast_n), "cast_per_article": cast_n / len(models)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("redline/models/cast"))
    ap.add_argument("--parse-cache", type=Path, help="DocBin file that keeps the spaCy parses between runs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--C", type=float, default=0.05, help="inverse L2 strength")
    ap.add_argument("--thresholds", default="0.06,0.08,0.10,0.12,0.15,0.20,0.30,0.50")
    ap.add_argument("--min-found", type=float, default=0.70,
                    help="the threshold chosen is the highest whose cross-validated found share reaches this")
    args = ap.parse_args(argv)

    t0 = time.time()
    texts, entities = read_narrative(args.data)
    parsed = parses(texts, args.parse_cache)
    per_article = examples(texts, entities, parsed)
    print(f"{len(per_article)} articles, {sum(len(a['y']) for a in per_article.values())} phrases, "
          f"{sum(a['y'].sum() for a in per_article.values())} positive ({time.time() - t0:.0f} s)")

    ids = sorted(per_article, key=int)
    rng = np.random.default_rng(args.seed)
    fold_of = dict(zip(ids, rng.permutation(len(ids)) % args.folds))
    from redline.components.cast import CastModel
    fold_models = {}
    for k in range(args.folds):
        train = [a for a in ids if fold_of[a] != k and len(per_article[a]["y"])]
        mean, scale, coef, bias = fit(np.concatenate([per_article[a]["x"] for a in train]),
                                      np.concatenate([per_article[a]["y"] for a in train]), args.C)
        for a in ids:
            if fold_of[a] == k:
                fold_models[a] = CastModel(mean, scale, coef, bias, 0.5)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    cv = pipeline_curve(texts, entities, parsed, fold_models, thresholds)
    base = pipeline_curve(texts, entities, parsed, fold_models, [1.01])[0]
    print(f"without the cast model: found {base['found']:.3f}")
    print("threshold  found  cast_precision  cast/article   (cross-validated, held out by article)")
    for r in cv:
        print(f"  {r['threshold']:.2f}    {r['found']:.3f}    {r['cast_precision']:.3f}        {r['cast_per_article']:.1f}")
    ok = [r for r in cv if r["found"] >= args.min_found]
    chosen = ok[-1] if ok else cv[0]
    print(f"chosen threshold {chosen['threshold']} (highest with found >= {args.min_found})")

    final = fit(np.concatenate([per_article[a]["x"] for a in ids if len(per_article[a]["y"])]),
                np.concatenate([per_article[a]["y"] for a in ids if len(per_article[a]["y"])]), args.C)
    args.out.mkdir(parents=True, exist_ok=True)
    mean, scale, coef, bias = final
    np.savez_compressed(args.out / "weights.npz", mean=mean.astype(np.float32), scale=scale.astype(np.float32),
                        coef=coef.astype(np.float32), bias=np.float32(bias))
    config = {"name": "redline-cast", "version": "1.0", "threshold": chosen["threshold"], "C": args.C,
              "seed": args.seed, "folds": args.folds, "cv_without_cast": base, "cv_chosen": chosen,
              "cv_curve": cv, "features": "redline.components.cast.chunk_features",
              "spacy": "en_core_web_md 3.8.0 vectors"}
    (args.out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
