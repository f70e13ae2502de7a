"""Portrayal in the full pipeline, on articles the role model never saw.

    python bench/roles.py [--folds runs/roles/folds] [--limit N]

Narrative frames (../shared/data/narrative-frames-climate): each article is analysed by
the real pipeline (tagger, actors, relations, claims, roles) with the fold model that
held that article out (`redline train-roles` keeps the fold models under
`runs/roles/folds/K`, each naming its held-out articles). A gold entity (hero / villain /
victim) whose string occurs in its article is "found" when `bench/actors.py`'s
`match_gold_entity` ties it to an actor; on found entities the bench prints main-role
accuracy and macro-F1 at full coverage (the role's best guess), the same on the actors
that are not "unclear" with the coverage, and the majority baseline beside them.

Also prints the founding op-ed's actors with their roles (shipped model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Macro-F1 over the three main roles (the training script's, on role names)."""
    import numpy as np

    from redline.models.portrayal import MAIN_ROLES
    from redline.training.roles import macro_f1 as macro_f1_ids

    ids = {r: i for i, r in enumerate(MAIN_ROLES)}
    return macro_f1_ids(np.array([ids[x] for x in gold]), np.array([ids[x] for x in pred]), len(MAIN_ROLES))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--folds", type=Path, default=ROOT / "runs" / "roles" / "folds")
    ap.add_argument("--limit", type=int, default=0, help="articles per fold (0: all)")
    args = ap.parse_args()

    from actors import match_gold_entity

    from redline.components.roles import load_role_model
    from redline.training.roles import PRONOUNS, narrative_gold
    from redline.doc import Document
    from redline.pipeline import Pipeline

    # "Unclear" as the shipped model decides it: the fold models carry no threshold of their
    # own (it is chosen from all their out-of-fold predictions together).
    tau = load_role_model().abstain_below

    texts, gold = narrative_gold(args.data)
    names = ("tagger", "actors", "relations", "claims", "roles")
    rows = []  # (gold role, guess, main or None)
    in_text = found = 0
    t0, n_articles = time.time(), 0
    fold_dirs = sorted(p for p in args.folds.iterdir() if (p / "config.json").exists()) if args.folds.exists() else []
    if not fold_dirs:
        print(f"no fold models in {args.folds}: run `python -m redline.training.roles --cv-only` first")
        return 2
    for fold in fold_dirs:
        cfg = json.loads((fold / "config.json").read_text())
        held = [a for a in cfg["held_out_narrative_articles"] if a in texts]
        if args.limit:
            held = held[:args.limit]
        pipe = Pipeline.from_names(names, roles={"model_dir": fold})
        for aid in held:
            text = texts[aid]
            doc = pipe(Document(id=aid, text=text))
            n_articles += 1
            by_id = {a.id: a for a in doc.actors}
            for ent, role in gold.get(aid, []):
                if ent.lower() in PRONOUNS or ent.lower() not in text.lower():
                    continue
                in_text += 1
                aid_match = match_gold_entity(doc, ent)
                if aid_match is None or aid_match not in by_id or by_id[aid_match].role is None:
                    continue
                found += 1
                r = by_id[aid_match].role
                rows.append((role, r.guess, r.guess if r.score >= tau else None))
    secs = time.time() - t0
    g = [r[0] for r in rows]
    guess = [r[1] for r in rows]
    covered = [(r[0], r[2]) for r in rows if r[2] is not None]
    majority = Counter(g).most_common(1)[0][0] if g else "Antagonist"
    print(f"narrative frames, {n_articles} held-out articles ({secs / max(n_articles, 1):.2f} s/article), "
          f"{len(fold_dirs)} fold models")
    print(f"  gold entities whose string occurs in the article: {in_text}; found among actors: {found} "
          f"({found / max(in_text, 1):.3f})")
    print(f"  on found entities, full coverage: accuracy {sum(a == b for a, b in zip(g, guess)) / max(len(g), 1):.3f}"
          f", macro-F1 {macro_f1(g, guess):.3f}  (majority '{majority}': accuracy "
          f"{sum(x == majority for x in g) / max(len(g), 1):.3f}, macro-F1 {macro_f1(g, [majority] * len(g)):.3f})")
    if covered:
        print(f"  with 'unclear' allowed (below {tau:.2f}): coverage {len(covered) / len(rows):.3f}, accuracy "
              f"{sum(a == b for a, b in covered) / len(covered):.3f}, macro-F1 "
              f"{macro_f1([a for a, _ in covered], [b for _, b in covered]):.3f}")
    print("  predicted roles:", dict(Counter(guess)), " gold:", dict(Counter(g)))

    example = args.data.parent / "examples" / "assad-redline.txt"
    if example.exists():
        import redline
        doc = redline.analyze(example.read_text(encoding="utf-8"), id="assad-redline")
        print("\nfounding op-ed (shipped model):")
        for a in doc.actors:
            r = a.role
            label = r.main or f"unclear (leans {r.guess})"
            print(f"  {a.name:<28} {label:<28} {r.score:.2f}  "
                  + " ".join(f"{k[:3]}={v:.2f}" for k, v in r.probabilities.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
