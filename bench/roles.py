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


def dump_line(doc, article: str, fold, gold_of: dict[str, str], set_name: str) -> str:
    """One held-out article for `redline.training.camps`: each actor's role probabilities
    from its own words (before the camps), its matched gold role, and the camp edges."""
    from redline.components.roles import camp_edges

    actors = [{"id": a.id, "type": a.type, "gold": gold_of.get(a.id),
               "probs": list((a.role.evidence.get("reading_from_its_own_words") or a.role.probabilities).values())
               if a.role else None} for a in doc.actors]
    return json.dumps({"article": article, "fold": fold, "set": set_name, "actors": actors,
                       "edges": camp_edges(doc)}) + "\n"


def semeval_pass(args) -> int:
    """SemEval-2025 Task 10 articles through the full pipeline with the fold models that held
    them out: main-role accuracy on the gold mentions that an actor's mention overlaps."""
    from redline.components.roles import fix_offsets, load_role_model, read_article, read_mentions
    from redline.doc import Document
    from redline.pipeline import Pipeline

    tau = load_role_model().abstain_below
    root = args.data / "semeval2025-task10-en"
    rows = read_mentions(root / "train-annotations.txt")
    names = ("tagger", "actors", "relations", "claims", "roles")
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    gold_rows, found = [], 0
    fold_dirs = sorted(p for p in args.folds.iterdir() if (p / "config.json").exists())
    for fold in fold_dirs:
        cfg = json.loads((fold / "config.json").read_text())
        held = cfg["held_out_semeval_articles"][: args.limit or None]
        pipe = Pipeline.from_names(names, roles={"model_dir": fold})
        for aid in held:
            text = read_article(root / "train-documents", aid)
            doc = pipe(Document(id=aid, text=text))
            gold_of: dict[str, str] = {}
            for r_aid, mention, s, e, labels in rows:
                if r_aid != aid:
                    continue
                fs, fe = fix_offsets(text, mention, s, e)
                hit = next((a for a in doc.actors if any(m.start < fe and fs < m.end for m in a.mentions)), None)
                gold_rows.append((labels[0], hit.role.guess if hit and hit.role else None))
                if hit is not None and hit.role is not None:
                    found += 1
                    gold_of.setdefault(hit.id, labels[0])
            if dump:
                dump.write(dump_line(doc, aid, cfg.get("fold"), gold_of, "semeval"))
    if dump:
        dump.close()
    hits = [(g, p) for g, p in gold_rows if p is not None]
    print(f"semeval through the pipeline: {len(gold_rows)} gold mentions, {found} on an actor "
          f"({found / max(len(gold_rows), 1):.3f}); accuracy on those "
          f"{sum(g == p for g, p in hits) / max(len(hits), 1):.3f}, macro-F1 "
          f"{macro_f1([g for g, _ in hits], [p for _, p in hits]):.3f} (abstention threshold {tau:.2f} not applied)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--folds", type=Path, default=ROOT / "runs" / "roles" / "folds")
    ap.add_argument("--limit", type=int, default=0, help="articles per fold (0: all)")
    ap.add_argument("--dump", type=Path, default=None,
                    help="write each held-out article's actors (text-only role probabilities, matched gold "
                         "role) and camp edges as JSONL, for `python -m redline.training.camps`")
    ap.add_argument("--set", choices=("narrative", "semeval"), default="narrative",
                    help="semeval: the SemEval-2025 articles through the full pipeline instead, each gold "
                         "mention tied to the actor whose mention overlaps it")
    args = ap.parse_args()
    if args.set == "semeval":
        return semeval_pass(args)

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
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
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
            gold_of: dict[str, str] = {}
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
                gold_of.setdefault(aid_match, role)
            if dump:
                dump.write(dump_line(doc, aid, cfg.get("fold"), gold_of, "narrative"))
    if dump:
        dump.close()
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
