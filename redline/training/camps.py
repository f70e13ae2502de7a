"""Fit the camps step of portrayal: how an actor's relations revise its role.

    python bench/roles.py --dump runs/roles-dump.jsonl      # held-out pipeline readings
    python bench/roles.py --set semeval --dump runs/roles-dump-semeval.jsonl
    python -m redline.training.camps runs/roles-dump.jsonl runs/roles-dump-semeval.jsonl \
        [--write redline/models/roles/config.json]

The dumps hold, for each narrative-frames and SemEval-2025 article analysed by the fold
model that held it out, every actor's text-only main-role probabilities, its gold role
where a gold entity matched it, and the camp edges (`redline.components.roles.camp_edges`).
From them this script estimates the lift tables L[r_i, r_j] = P(r_i, r_j) / (P(r_i) P(r_j))
for "ally" and "harm" edges (add-one smoothed; edges with gold at one end count with the
other end's held-out probabilities as soft counts), then chooses the edge weight by
cross-validation over the dumps' folds: the tables from four folds, each weight scored on
the fifth by the log-loss of the gold roles of the actors that have an edge. The number of
rounds of belief propagation is not tuned: two, so that a chain of two relations counts
(all settings are printed, one and two rounds, for the record). It prints accuracy and
macro-F1 on all matched gold entities beside, and with `--write` stores the tables from
all folds and the chosen weight under "camps" in the roles model's config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from redline.models.portrayal import MAIN_ROLES, camp_update

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
ROUNDS = (1, 2)
ROUNDS_SHIPPED = 2


def read_dump(path: Path) -> list[dict]:
    arts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        a["probs"] = np.array([x["probs"] or [1 / 3] * 3 for x in a["actors"]], dtype=np.float64)
        a["gold"] = [MAIN_ROLES.index(x["gold"]) if x["gold"] else -1 for x in a["actors"]]
        a["edges"] = [tuple(e) for e in a["edges"]]
        arts.append(a)
    return arts


def lift_tables(arts: list[dict]) -> dict[str, list[list[float]]]:
    """Add-one smoothed lift of the two roles at the ends of each kind of edge. Few edges
    join two gold entities, so an edge with gold at one end counts too, with the other
    end's held-out text-only probabilities as soft counts (they are calibrated)."""
    tables = {}
    for kind in ("ally", "harm"):
        c = np.ones((3, 3))
        for a in arts:
            for i, j, k in a["edges"]:
                if k != kind:
                    continue
                gi, gj = a["gold"][i], a["gold"][j]
                if gi < 0 and gj < 0:
                    continue
                ri = np.eye(3)[gi] if gi >= 0 else a["probs"][i]
                rj = np.eye(3)[gj] if gj >= 0 else a["probs"][j]
                c += np.outer(ri, rj)
                if kind == "ally":  # undirected
                    c += np.outer(rj, ri)
        joint = c / c.sum()
        lift = joint / np.outer(joint.sum(1), joint.sum(0))
        tables[kind] = lift.round(4).tolist()
    return tables


def pairs(arts: list[dict]) -> dict[str, dict[str, int]]:
    """Edges per kind with gold at both ends and at one end."""
    n = {k: {"both": 0, "one": 0} for k in ("ally", "harm")}
    for a in arts:
        for i, j, k in a["edges"]:
            golds = (a["gold"][i] >= 0) + (a["gold"][j] >= 0)
            if golds:
                n[k]["both" if golds == 2 else "one"] += 1
    return n


def revised(arts: list[dict], camps: dict) -> list[np.ndarray]:
    return [camp_update(a["probs"], a["edges"], camps) for a in arts]


def scores(arts: list[dict], probs: list[np.ndarray], only_with_edges: bool = False) -> dict[str, float]:
    gold, pred, ll = [], [], 0.0
    for a, p in zip(arts, probs):
        linked = {i for e in a["edges"] for i in e[:2]}
        for k, g in enumerate(a["gold"]):
            if g < 0 or (only_with_edges and k not in linked):
                continue
            gold.append(g)
            pred.append(int(np.argmax(p[k])))
            ll -= float(np.log(max(p[k, g], 1e-9)))
    gold_a, pred_a = np.array(gold), np.array(pred)
    f1s = []
    for r in range(3):
        tp = int(((pred_a == r) & (gold_a == r)).sum())
        prec = tp / max(int((pred_a == r).sum()), 1)
        rec = tp / max(int((gold_a == r).sum()), 1)
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return {"n": len(gold), "accuracy": float((gold_a == pred_a).mean()) if gold else 0.0,
            "macro_f1": float(np.mean(f1s)), "log_loss": ll / max(len(gold), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", type=Path, nargs="+", help="bench/roles.py --dump files (narrative, semeval)")
    ap.add_argument("--write", type=Path, default=None, help="roles config.json to store the camps in")
    args = ap.parse_args()

    arts = [a for path in args.dump for a in read_dump(path)]
    folds = sorted({a["fold"] for a in arts})
    print(f"{len(arts)} articles, {len(folds)} folds; gold pairs on edges: {pairs(arts)}")
    # cross-validated choice: tables from the other folds, each setting scored on the held-out fold
    cv: dict[tuple[float, int], list[np.ndarray]] = {}
    order = []
    for f in folds:
        test = [a for a in arts if a["fold"] == f]
        tables = lift_tables([a for a in arts if a["fold"] != f])
        order += test
        for w in WEIGHTS:
            for r in ROUNDS:
                cv.setdefault((w, r), []).extend(revised(test, {**tables, "weight": w, "rounds": r}))
    print(f"{'weight':>6} {'rounds':>6}  {'log-loss (linked)':>17}  {'acc (linked)':>12}  {'acc (all)':>9}  "
          f"{'macro-F1 (all)':>14}")
    results = {}
    for (w, r), probs in cv.items():
        linked, every = scores(order, probs, True), scores(order, probs)
        results[(w, r)] = linked["log_loss"]
        print(f"{w:>6} {r:>6}  {linked['log_loss']:>17.4f}  {linked['accuracy']:>12.3f}  {every['accuracy']:>9.3f}  "
              f"{every['macro_f1']:>14.3f}   (n linked {linked['n']}, all {every['n']})")
    best = min((k for k in results if k[1] == ROUNDS_SHIPPED), key=lambda k: (round(results[k], 4), k[0]))
    print(f"chosen: weight {best[0]} (lowest cross-validated log-loss on linked actors at {ROUNDS_SHIPPED} rounds)")
    if args.write:
        cfg = json.loads(args.write.read_text(encoding="utf-8"))
        cfg["camps"] = {**lift_tables(arts), "weight": best[0], "rounds": best[1],
                        "fitted_on": f"{len(arts)} articles ({', '.join(str(p) for p in args.dump)}: held-out "
                                     f"pipeline readings), edges with gold {pairs(arts)}; weight and rounds by "
                                     f"{len(folds)}-fold CV"}
        args.write.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        print(f"wrote camps into {args.write}")


if __name__ == "__main__":
    main()
