"""Learn the attribution cue lexicon and source-choice scorer from PolNeAR train.

PolNeAR (Newell, Margolin and Ruths, LREC 2018) marks, in 924 political news articles,
each attribution's Source, Cue and Content spans (brat standoff, `T` lines; `E` lines tie
them). This module reads it and fits what `redline.components.attribution` uses:

* the cue lexicon: for each (lemma, coarse POS) that heads a gold Cue span in train, how
  often an occurrence of it is a cue (its reliability), e.g. say/VERB 0.85, tell/VERB 0.69,
  accord/VERB 0.92 ("according to" is keyed by its head word), think/VERB 0.13;
* the speaker nouns: heads of gold Source spans that are common nouns ("spokesman",
  "official", "manager"), so a pronoun speaker can go back to "the garage manager";
* a logistic regression that scores a candidate (cue token, source phrase) pair from parse
  features; the component keeps the best candidate per cue when it clears the threshold.

Run: `python -m redline.training.attribution --data ../shared/data [--out DIR] [--limit N]`.
It prints the train and dev figures of the fitted scorer as JSON; the model card in
`redline/models/attribution/MODEL_CARD.md` records the command and the scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Span = tuple[int, int]


@dataclass
class GoldAttribution:
    """One PolNeAR attribution: its spans as lists of fragments (a discontinuous span has several)."""

    source: list[Span] = field(default_factory=list)  # empty: no source ("Attribution-no-source")
    cue: list[Span] = field(default_factory=list)
    content: list[Span] = field(default_factory=list)

    @staticmethod
    def extent(frags: list[Span]) -> Span | None:
        return (min(s for s, _ in frags), max(e for _, e in frags)) if frags else None


@dataclass
class Article:
    name: str
    text: str
    attributions: list[GoldAttribution]


def _fragments(offsets: str) -> list[Span]:
    out = []
    for piece in offsets.split(";"):
        s, e = piece.split()
        out.append((int(s), int(e)))
    return out


def read_ann(path: Path | str) -> list[GoldAttribution]:
    """The attributions of one brat .ann file (Discard / Discuss notes are left out)."""
    spans: dict[str, tuple[str, list[Span]]] = {}
    events: list[dict[str, str]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line.startswith("T") and len(parts) >= 2:
            label, _, offsets = parts[1].partition(" ")
            try:
                spans[parts[0]] = (label, _fragments(offsets))
            except ValueError:
                continue
        elif line.startswith("E") and len(parts) >= 2:
            events.append(dict(arg.split(":", 1) for arg in parts[1].split() if ":" in arg))
    out = []
    for ev in events:
        def frags(role: str) -> list[Span]:
            tid = ev.get(role)
            return spans[tid][1] if tid in spans else []
        if "Attribution" not in ev and "Attribution-no-source" not in ev:
            continue
        att = GoldAttribution(source=frags("Source"), cue=frags("Cue"), content=frags("Content"))
        if att.content:
            out.append(att)
    return out


def read_polnear(split_dir: Path | str, limit: int | None = None) -> list[Article]:
    """Articles of one PolNeAR split (`train/` or `dev/`). Where several annotators worked
    on an article, the first .ann by file name is the gold one."""
    split_dir = Path(split_dir)
    anns: dict[str, Path] = {}
    for ann in sorted((split_dir / "attributions").glob("*.ann")):
        stem = ann.stem.rsplit("_", 1)[0]
        anns.setdefault(stem, ann)
    out = []
    for txt in sorted((split_dir / "text").glob("*.txt")):
        if txt.stem not in anns:
            continue
        out.append(Article(txt.stem, txt.read_text(encoding="utf-8"), read_ann(anns[txt.stem])))
        if limit and len(out) >= limit:
            break
    return out


# ----------------------------------------------------------------------------- learning

def _head_token(sp, frags: list[Span]):
    """The syntactic head of a (possibly discontinuous) gold span in a spaCy parse."""
    toks = [t for s, e in frags for t in (sp.char_span(s, e, alignment_mode="expand") or []) if not t.is_space]
    if not toks:
        return None
    ids = {t.i for t in toks}
    heads = [t for t in toks if t.head.i not in ids or t.head.i == t.i]
    # "has learned": the verb, not the auxiliary; "according to": "according"
    verbs = [t for t in heads if t.pos_ == "VERB"]
    return (verbs or heads or toks)[0]


def learn_lexicons(parsed: list[tuple[Article, object]], min_count: int = 3) -> dict:
    """Cue reliability per (lemma, POS) and speaker nouns, counted over parsed train articles."""
    from redline.components.attribution import cue_key

    cue_heads: Counter = Counter()
    occurrences: Counter = Counter()
    speaker_nouns: Counter = Counter()
    noun_occurrences: Counter = Counter()
    for art, sp in parsed:
        for tok in sp:
            occurrences[cue_key(tok)] += 1
            if tok.pos_ == "NOUN":
                noun_occurrences[tok.lemma_.lower()] += 1
        for att in art.attributions:
            head = _head_token(sp, att.cue)
            if head is not None:
                cue_heads[cue_key(head)] += 1
            src = _head_token(sp, att.source)
            if src is not None and src.pos_ == "NOUN":
                speaker_nouns[src.lemma_.lower()] += 1
    cues = {}
    for key, n in cue_heads.items():
        if n >= min_count and key[1] in ("VERB", "NOUN", "ADP", "AUX", "ADJ"):
            occ = max(occurrences[key], n)
            cues[f"{key[0]}/{key[1]}"] = {"count": n, "reliability": round(n / occ, 4)}
    speakers = {w: {"count": n, "share": round(n / max(noun_occurrences[w], n), 4)}
                for w, n in speaker_nouns.items() if n >= min_count}
    return {"cues": dict(sorted(cues.items(), key=lambda kv: -kv[1]["count"])),
            "speaker_nouns": dict(sorted(speakers.items(), key=lambda kv: -kv[1]["count"]))}


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def candidate_rows(parsed: list[tuple[Article, object]], lexicon: dict):
    """Feature rows and labels for every (cue token, source candidate) pair the extractor
    proposes, labelled 1 when the cue token lies in a gold Cue and the candidate overlaps
    that attribution's Source."""
    from redline.components.attribution import CueLexicon, candidate_pairs, pair_features

    lex = CueLexicon(lexicon)
    X, y, groups = [], [], []
    for ai, (art, sp) in enumerate(parsed):
        gold = []
        for att in art.attributions:
            gold.append(([(s, e) for s, e in att.cue], [(s, e) for s, e in att.source]))
        for pair in candidate_pairs(sp, lex):
            cue_span = (pair.cue.idx, pair.cue.idx + len(pair.cue.text))
            src_span = (pair.source_start, pair.source_end)
            label = 0
            for cues, sources in gold:
                if any(_overlaps(cue_span, c) for c in cues) and any(_overlaps(src_span, s) for s in sources):
                    label = 1
                    break
            X.append(pair_features(pair, lex))
            y.append(label)
            groups.append(ai)
    return np.asarray(X, np.float32), np.asarray(y, np.int64), np.asarray(groups)


def fit_scorer(X: np.ndarray, y: np.ndarray, C: float = 1.0, seed: int = 0) -> dict:
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    clf.fit((X - mean) / scale, y)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": clf.coef_.ravel().tolist(),
            "intercept": float(clf.intercept_[0])}


def parse_articles(articles: list[Article]) -> list[tuple[Article, object]]:
    from redline.components.nlp import get_nlp

    nlp = get_nlp()
    return list(zip(articles, nlp.pipe((a.text for a in articles), batch_size=16)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data", help="folder holding polnear/")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "models" / "attribution"))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train articles (smoke tests)")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    root = Path(args.data) / "polnear"
    if not (root / "train").is_dir():
        print(f"redline: error: PolNeAR not found in {root}", file=sys.stderr)
        return 2
    t0 = time.time()
    train = parse_articles(read_polnear(root / "train", args.limit))
    lexicon = learn_lexicons(train)
    X, y, _ = candidate_rows(train, lexicon)
    scorer = fit_scorer(X, y, C=args.C, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from redline.components.attribution import FEATURE_NAMES, PairScorer

    model = {"name": "redline-attribution", "version": 1,
             "trained_on": f"PolNeAR train ({len(train)} articles)", "features": FEATURE_NAMES,
             "scorer": scorer, **lexicon}
    result = {"train_articles": len(train), "train_pairs": int(len(y)), "train_positive": int(y.sum()),
              "cue_entries": len(lexicon["cues"]), "speaker_nouns": len(lexicon["speaker_nouns"])}
    scorer_obj = PairScorer(scorer)
    p = scorer_obj.predict(X)
    result["train_pair_accuracy"] = round(float(((p >= 0.5) == (y == 1)).mean()), 4)
    if (root / "dev").is_dir() and not args.limit:
        dev = parse_articles(read_polnear(root / "dev"))
        Xd, yd, _ = candidate_rows(dev, lexicon)
        pd = scorer_obj.predict(Xd)
        tp = int(((pd >= 0.5) & (yd == 1)).sum())
        prec = tp / max(int((pd >= 0.5).sum()), 1)
        rec = tp / max(int(yd.sum()), 1)
        result.update({"dev_pairs": int(len(yd)), "dev_pair_precision": round(prec, 4),
                       "dev_pair_recall": round(rec, 4),
                       "dev_pair_f1": round(2 * prec * rec / max(prec + rec, 1e-9), 4)})
    model["validation"] = result
    (out / "attribution.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
