"""Who vouches for each claim: source-span scores on PolNeAR dev.

    python bench/attribution.py                 # the 84 dev articles (a minute or two)
    python bench/attribution.py --limit 10      # a quick look
    python bench/attribution.py --json          # the figures as JSON

For every claim the default claims component reports (`analyze(text, components=("tagger",
"actors", "claims"))`), and separately for every sentence of the article:

* gold: the PolNeAR attribution (with a Source) whose Content overlaps the sentence most,
  by characters; none when no such Content overlaps it (attributions without a Source
  count as none: nobody is named to credit);
* prediction: the source span (`claim.attribution.source`), or none for the author's voice;
* TP: prediction and gold both present and the predicted span overlaps the gold Source
  (any of its fragments) or, for "exact", equals it (its extent or one of its fragments);
  FP: a prediction that is not a TP; FN: a gold attribution without a TP; TN: neither.
  Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean; a wrong
  span counts once as FP and once as FN.

Systems: redline (the source span as `Attribution.source`: for a pronoun speaker the
nearest full mention of the actor before it), redline with the speaker as written (the
pronoun itself; PolNeAR marks the pronoun), the same pipeline with the learned scorer
replaced by rules over the learned cue lexicon (`LexiconRuleScorer`: a syntactic speaker
of a cue whose reliability reaches 0.5, speaker as written), and a plain rule baseline on
the sentence text: "according to X", "X said/says", ", said X".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import copy  # noqa: E402

from redline.components.attribution import (  # noqa: E402
    LexiconRuleScorer, find_attributions, load_attribution_model,
)
from redline.components.nlp import sentences  # noqa: E402
from redline.pipeline import analyze  # noqa: E402
from redline.training.attribution import Article, GoldAttribution, read_polnear  # noqa: E402

Span = tuple[int, int]


# ----------------------------------------------------------------------------- baseline

_ACCORDING = re.compile(r"\baccording to\s+([^,.;:!?\"“”()]+)", re.I)
_SAID_AFTER = re.compile(r"([^,.;:!?\"“”()]+?)\s+(?:said|says)\b")
_SAID_BEFORE = re.compile(r"\b(?:said|says)\s+([^,.;:!?\"“”()]+)")


def baseline_source(text: str, start: int, end: int) -> Span | None:
    """The rule baseline: "according to X", else "X said", else "said X" (inversion)."""
    sent = text[start:end]
    for rx in (_ACCORDING, _SAID_AFTER):
        m = rx.search(sent)
        if m:
            s, e = m.span(1)
            words = sent[s:e].split()
            if rx is _SAID_AFTER and len(words) > 6:  # "X said": the last few words before the verb
                s = e - len(" ".join(words[-6:]))
            return _trim(text, start + s, start + e)
    m = _SAID_BEFORE.search(sent)
    if m and m.start() > 0 and sent[:m.start()].rstrip()[-1:] in ",\"”":
        return _trim(text, start + m.start(1), start + m.end(1))
    return None


def _trim(text: str, s: int, e: int) -> Span | None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if e > s else None


# ----------------------------------------------------------------------------- scoring

def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def gold_for(sentence: Span, gold: list[GoldAttribution]) -> GoldAttribution | None:
    best, best_ov = None, 0
    for att in gold:
        if not att.source:
            continue
        ov = sum(_overlap(sentence, frag) for frag in att.content)
        if ov > best_ov:
            best, best_ov = att, ov
    return best


class Score:
    def __init__(self):
        self.tp = self.fp = self.fn = self.tn = 0
        self.exact_tp = self.exact_fp = self.exact_fn = 0
        self.author = self.n = 0

    def add(self, pred: Span | None, gold: GoldAttribution | None) -> None:
        self.n += 1
        self.author += pred is None
        if pred is None:
            self.tn += gold is None
            self.fn += gold is not None
            self.exact_fn += gold is not None
            return
        hit = gold is not None and any(_overlap(pred, f) for f in gold.source)
        exact = gold is not None and (pred == GoldAttribution.extent(gold.source) or pred in gold.source)
        self.tp += hit
        self.fp += not hit
        self.fn += gold is not None and not hit
        self.exact_tp += exact
        self.exact_fp += not exact
        self.exact_fn += gold is not None and not exact

    @staticmethod
    def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}

    def to_json(self) -> dict:
        return {"sentences": self.n, "gold_attributed": self.tp + self.fn,
                "overlap": self._prf(self.tp, self.fp, self.fn),
                "exact": self._prf(self.exact_tp, self.exact_fp, self.exact_fn),
                "true_negatives": self.tn, "author_share": round(self.author / max(self.n, 1), 4)}


SYSTEMS = ("redline", "redline_speaker_as_written", "lexicon_rules_speaker_as_written", "baseline")


def evaluate(articles: list[Article], verbose: bool = False) -> dict:
    scores = {name: {"claims": Score(), "all_sentences": Score()}
              for name in SYSTEMS}
    source_author = 0
    n_claims = 0
    rules = copy.copy(load_attribution_model())
    rules.scorer, rules.threshold = LexiconRuleScorer(), 0.5
    t0 = time.time()
    for k, art in enumerate(articles):
        doc = analyze(art.text, id=art.name, components=("tagger", "actors", "claims"))
        spans = sentences(doc)
        found = find_attributions(doc, spans)
        by_rules = dict(zip(spans, find_attributions(doc, spans, rules)))
        by_span = {sp: f for sp, f in zip(spans, found)}
        claim_spans = {(c.start, c.end) for c in doc.claims}
        for c in doc.claims:
            n_claims += 1
            source_author += c.source == "author"
        for sp, f in by_span.items():
            gold = gold_for(sp, art.attributions)
            preds = {
                "redline": (f.source_start, f.source_end) if f else None,
                "redline_speaker_as_written": (f.speaker_start, f.speaker_end) if f else None,
                "lexicon_rules_speaker_as_written": (by_rules[sp].speaker_start, by_rules[sp].speaker_end)
                if by_rules[sp] else None,
                "baseline": baseline_source(art.text, *sp),
            }
            for name, pred in preds.items():
                scores[name]["all_sentences"].add(pred, gold)
                if sp in claim_spans:
                    scores[name]["claims"].add(pred, gold)
        if verbose:
            print(f"{k + 1}/{len(articles)} {art.name} {time.time() - t0:.0f}s", file=sys.stderr)
    out = {name: {part: s.to_json() for part, s in parts.items()} for name, parts in scores.items()}
    out["claims"] = {"n": n_claims, "source_author_share": round(source_author / max(n_claims, 1), 4)}
    out["articles"] = len(articles)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    folder = a.data / "polnear" / a.split
    if not folder.is_dir():
        sys.exit(f"PolNeAR {a.split} not found in {folder}")
    result = evaluate(read_polnear(folder, a.limit), a.verbose)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"PolNeAR {a.split}: {result['articles']} articles, {result['claims']['n']} claims, "
          f"{result['seconds']} s; claims with source 'author': {result['claims']['source_author_share']:.1%}")
    for part in ("claims", "all_sentences"):
        print(f"\n{part.replace('_', ' ')}          overlap P / R / F1        exact P / R / F1     no attribution")
        for name in SYSTEMS:
            r = result[name][part]
            o, e = r["overlap"], r["exact"]
            print(f"  {name:34s} {o['precision']:.3f} / {o['recall']:.3f} / {o['f1']:.3f}   "
                  f"{e['precision']:.3f} / {e['recall']:.3f} / {e['f1']:.3f}   {r['author_share']:.1%}"
                  f"   (n={r['sentences']}, gold attributed {r['gold_attributed']})")


if __name__ == "__main__":
    main()
