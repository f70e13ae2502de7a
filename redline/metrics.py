"""Scores with the official SemEval-2020 Task 11 semantics.

SI  -- techniques ignored; overlapping spans merged on each side (touching spans
       are not merged); every (predicted s, gold t) pair in an article adds
       |s∩t|/|s| to the precision sum and |s∩t|/|t| to the recall sum;
       P = precision sum / #predicted spans, R = recall sum / #gold spans.
TC  -- the prediction labels the gold spans; micro-F1 over spans, duplicate labels
       on one span matched in the best way; per-technique P/R/F1.
FLC -- SI computed per technique (spans merged within a technique), so that
       credit is only given where the techniques agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from redline.io.ptc import Label


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    n_pred: int
    n_gold: int
    per_technique: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "n_pred": self.n_pred, "n_gold": self.n_gold, "per_technique": self.per_technique}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def merge_overlapping(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge spans that share at least one character; [0,5) and [5,9) stay apart."""
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _credit(pred: list[tuple[int, int]], gold: list[tuple[int, int]]) -> tuple[float, float]:
    """Sum of |s∩t|/|s| and of |s∩t|/|t| over all pairs; spans are sorted and disjoint."""
    p_sum = r_sum = 0.0
    j0 = 0
    for s, e in pred:
        while j0 < len(gold) and gold[j0][1] <= s:
            j0 += 1
        j = j0
        while j < len(gold) and gold[j][0] < e:
            gs, ge = gold[j]
            inter = min(e, ge) - max(s, gs)
            if inter > 0:
                p_sum += inter / (e - s)
                r_sum += inter / (ge - gs)
            j += 1
    return p_sum, r_sum


def _spans_by_key(labels: Iterable[Label], by_technique: bool) -> dict[tuple, list[tuple[int, int]]]:
    raw: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    for lab in labels:
        key = (lab.article_id, lab.technique) if by_technique else (lab.article_id,)
        raw[key].append((lab.start, lab.end))
    return {k: merge_overlapping(v) for k, v in raw.items()}


def _overlap_score(gold: list[Label], pred: list[Label], by_technique: bool) -> Score:
    g = _spans_by_key(gold, by_technique)
    p = _spans_by_key(pred, by_technique)
    n_gold = sum(len(v) for v in g.values())
    n_pred = sum(len(v) for v in p.values())
    p_sum = r_sum = 0.0
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for key in set(g) | set(p):
        ps, rs = _credit(p.get(key, []), g.get(key, []))
        p_sum += ps
        r_sum += rs
        if by_technique:
            acc = per[key[1]]
            acc[0] += ps
            acc[1] += rs
            acc[2] += len(p.get(key, []))
            acc[3] += len(g.get(key, []))
    prec = p_sum / n_pred if n_pred else 0.0
    rec = r_sum / n_gold if n_gold else 0.0
    per_tech = {}
    for tech, (ps, rs, np_, ng) in sorted(per.items()):
        tp, tr = (ps / np_ if np_ else 0.0), (rs / ng if ng else 0.0)
        per_tech[tech] = {"precision": tp, "recall": tr, "f1": _f1(tp, tr), "n_pred": np_, "n_gold": ng}
    return Score(prec, rec, _f1(prec, rec), n_pred, n_gold, per_tech)


def score_si(gold: list[Label], pred: list[Label]) -> Score:
    return _overlap_score(gold, pred, by_technique=False)


def score_flc(gold: list[Label], pred: list[Label]) -> Score:
    return _overlap_score(gold, pred, by_technique=True)


def score_tc(gold: list[Label], pred: list[Label]) -> Score:
    """Micro-F1 of technique labels on given spans (prediction lists the gold spans)."""
    gold_by_span: dict[tuple, Counter] = defaultdict(Counter)
    pred_by_span: dict[tuple, Counter] = defaultdict(Counter)
    for lab in gold:
        gold_by_span[(lab.article_id, lab.start, lab.end)][lab.technique] += 1
    for lab in pred:
        pred_by_span[(lab.article_id, lab.start, lab.end)][lab.technique] += 1
    correct: Counter = Counter()
    for span, pc in pred_by_span.items():
        gc = gold_by_span.get(span, Counter())
        for tech in pc:
            # Best matching of duplicate labels on one span: each label matches at most
            # as often as it occurs on both sides.
            correct[tech] += min(pc[tech], gc[tech])
    n_pred, n_gold = len(pred), len(gold)
    tp = sum(correct.values())
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_gold if n_gold else 0.0
    pred_count = Counter(lab.technique for lab in pred)
    gold_count = Counter(lab.technique for lab in gold)
    per_tech = {}
    for tech in sorted(set(pred_count) | set(gold_count)):
        tp_t = correct[tech]
        pt = tp_t / pred_count[tech] if pred_count[tech] else 0.0
        rt = tp_t / gold_count[tech] if gold_count[tech] else 0.0
        per_tech[tech] = {"precision": pt, "recall": rt, "f1": _f1(pt, rt),
                          "n_pred": pred_count[tech], "n_gold": gold_count[tech]}
    return Score(prec, rec, _f1(prec, rec), n_pred, n_gold, per_tech)


SCORERS = {"si": score_si, "tc": score_tc, "flc": score_flc}
