"""Actor quality and speed: prints figures (it is not a test).

    python bench/actors.py                      # the working tree's actors component
    python bench/actors.py --rev f16d025        # the component as committed at a revision
    python bench/actors.py --only gum           # one of the two gold sets (gum | frames)

Two gold standards from ../shared/data (REDLINE_SHARED moves it):

1. GUM news (24 Wikinews articles, `gum-news/derived/`): gold entity clusters of type
   person, organization and place. A predicted mention matches a gold mention by exact
   span, or (lenient) when it contains the gold mention's head word (the last word
   before a post-modifier such as "of ...", "who ...", ", ..."). On the mentions both
   sides find, B-cubed precision, recall and F1 of the actor clusters against the gold
   clusters; beside them the mention recall (share of gold mentions of those types
   found; pronouns are gold mentions that the actors never list, so the recall without
   them is printed too) and the share of predicted mentions that match no gold mention
   of those types (bylines, topics, places that GUM does not annotate as entities; by
   exact span it is high because GUM's spans include "the" and post-modifiers).
2. Narrative frames (428 climate articles, `narrative-frames-climate/`): the share of the
   gold role entities whose string occurs in their article that are found among the
   actors, by `match_gold_entity` (what "found" means is in its docstring).

The spaCy parse is not part of the actors step's time: each article is parsed first
(the parse is shared by every component), then the actors step alone is timed.
`--parse-cache FILE` keeps the parses between runs (spaCy DocBin).

`--rev REV` loads `redline/components/actors.py` and `gazetteer.py` from that git
revision (`git show`), leaving the working tree and everyone's other files alone.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from redline.training.entity_match import (
    PRONOUNS, entity_pattern as _entity_pattern, head_span, match_gold_entity, name_form as _name_form)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REDLINE_SHARED", REPO.parent / "shared"))
GUM = SHARED / "data" / "gum-news" / "derived"
FRAMES = SHARED / "data" / "narrative-frames-climate"
GOLD_ACTOR_TYPES = ("person", "organization", "place")
# Narrative-frames stakeholder groups made only of people and organisations (the others also
# hold topics, nature and technology: "climate change", "the Amazon", "renewable energy").
PEOPLE_AND_ORGANISATIONS = ("GOVERNMENTS_POLITICIANS_POLIT.ORGS", "ENV.ORGS_ACTIVISTS",
                            "SCIENCE_EXPERTS_SCI.REPORTS", "MEDIA_JOURNALISTS")

# --------------------------------------------------------------------------- which code runs

def load_actors_module(rev: str | None):
    """The actors module: the working tree's, or the one committed at `rev`."""
    if rev is None:
        from redline.components import actors
        return actors
    import redline.components

    modules = {}
    with tempfile.TemporaryDirectory(prefix="redline-actors-") as tmp:
        for name in ("gazetteer", "actors"):  # gazetteer first: actors imports it
            source = subprocess.run(["git", "show", f"{rev}:redline/components/{name}.py"], cwd=REPO, check=True,
                                    capture_output=True, text=True).stdout
            path = Path(tmp) / f"{name}.py"
            path.write_text(source, encoding="utf-8")
            full = f"redline.components.{name}"
            spec = importlib.util.spec_from_file_location(full, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            setattr(redline.components, name, module)
            spec.loader.exec_module(module)
            modules[name] = module
    return modules["actors"]


# --------------------------------------------------------------------------- parsing (cached)

class Parser:
    """spaCy parses of the bench's texts, kept in a DocBin file between runs if asked."""

    def __init__(self, cache_path: Path | None):
        from redline.components import nlp
        self.nlp = nlp.get_nlp()
        self.cache_path = cache_path
        self.parsed = {}
        self.dirty = False
        if cache_path and cache_path.exists():
            from spacy.tokens import DocBin
            docs = list(DocBin().from_disk(cache_path).get_docs(self.nlp.vocab))
            self.parsed = {d.text: d for d in docs}

    def doc(self, text: str, doc_id: str):
        """A redline Document with its parse in the private cache, and the parse's seconds."""
        from redline.components.nlp import cache_for
        from redline.doc import Document
        doc = Document(id=doc_id, text=text)
        t0 = time.perf_counter()
        parsed = self.parsed.get(text)
        if parsed is None:
            parsed = self.nlp(text)
            self.parsed[text] = parsed
            self.dirty = True
        cache_for(doc)["spacy"] = parsed
        return doc, time.perf_counter() - t0

    def save(self):
        if self.cache_path and self.dirty:
            from spacy.tokens import DocBin
            bin_ = DocBin(store_user_data=False)
            for d in self.parsed.values():
                bin_.add(d)
            bin_.to_disk(self.cache_path)


REPEAT = 3  # the actors step is timed this many times per article, the fastest counts


def run_actors(actors_module, doc, repeat: int = 1) -> float:
    """Fill doc.actors with the actors step alone; its seconds (the fastest of `repeat` runs:
    the machine is shared, and the fastest run is the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        doc.actors, index = actors_module.build_actors(doc)
        best = min(best, time.perf_counter() - t0)
    from redline.components.nlp import cache_for
    cache_for(doc)["actor_index"] = index
    return best


# --------------------------------------------------------------------------- heads


# --------------------------------------------------------------------------- GUM

def bcubed(pairs: list[tuple[str, str]]) -> tuple[float, float, float]:
    """B-cubed P/R/F1 over items given as (predicted cluster, gold cluster) pairs."""
    if not pairs:
        return 0.0, 0.0, 0.0
    pred_size = defaultdict(int)
    gold_size = defaultdict(int)
    both = defaultdict(int)
    for p, g in pairs:
        pred_size[p] += 1
        gold_size[g] += 1
        both[p, g] += 1
    precision = sum(both[p, g] / pred_size[p] for p, g in pairs) / len(pairs)
    recall = sum(both[p, g] / gold_size[g] for p, g in pairs) / len(pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def match_mentions(text: str, predicted: list[tuple[int, int, str]], gold: list[tuple[int, int, str]],
                   lenient: bool) -> list[tuple[tuple, tuple]]:
    """One-to-one (predicted, gold) mention pairs: exact spans, or a predicted mention that
    contains the gold mention's head word (the biggest overlap first)."""
    if not lenient:
        gold_at = {(s, e): g for s, e, g in gold}
        return [((s, e, p), (s, e, gold_at[s, e])) for s, e, p in predicted if (s, e) in gold_at]
    options = []
    for gs, ge, g in gold:
        hs, he = head_span(text, gs, ge)
        for ps, pe, p in predicted:
            if ps <= hs and he <= pe:
                overlap = min(pe, ge) - max(ps, gs)
                options.append((-overlap, abs(ps - gs) + abs(pe - ge), (ps, pe, p), (gs, ge, g)))
    options.sort(key=lambda o: (o[0], o[1], o[2][:2], o[3][:2]))
    used_p, used_g, pairs = set(), set(), []
    for _, _, pm, gm in options:
        if pm[:2] in used_p or gm[:2] in used_g:
            continue
        used_p.add(pm[:2])
        used_g.add(gm[:2])
        pairs.append((pm, gm))
    return pairs


def bench_gum(actors_module, parser: Parser) -> dict:
    records = [json.loads(line) for line in (GUM / "gum_news_entities.jsonl").read_text().splitlines() if line]
    totals = {"exact": [], "lenient": []}
    gold_count = gold_nonpronoun = pred_count = 0
    found = {"exact": [0, 0, 0], "lenient": [0, 0, 0]}  # gold found, gold non-pronoun found, pred matched
    seconds = []
    for rec in records:
        text = (GUM / f"{rec['doc']}.txt").read_text(encoding="utf-8")
        doc, _ = parser.doc(text, rec["doc"])
        seconds.append(run_actors(actors_module, doc, REPEAT))
        predicted = [(m.start, m.end, a.id) for a in doc.actors for m in a.mentions]
        gold = [(s, e, f"{rec['doc']}:{ent['id']}") for ent in rec["entities"] if ent["type"] in GOLD_ACTOR_TYPES
                for s, e, _ in ent["mentions"]]
        pronoun = {(s, e) for s, e, _ in gold if text[s:e].lower() in PRONOUNS}
        gold_count += len(gold)
        gold_nonpronoun += len(gold) - len(pronoun)
        pred_count += len(predicted)
        for mode in ("exact", "lenient"):
            pairs = match_mentions(text, predicted, gold, lenient=mode == "lenient")
            totals[mode] += [(f"{rec['doc']}:{p[2]}", g[2]) for p, g in pairs]
            found[mode][0] += len(pairs)
            found[mode][1] += sum(1 for _, g in pairs if g[:2] not in pronoun)
            found[mode][2] += len(pairs)
    out = {"docs": len(records), "gold_mentions": gold_count, "predicted_mentions": pred_count,
           "actors_s_per_doc": sum(seconds) / len(seconds)}
    for mode in ("exact", "lenient"):
        p, r, f = bcubed(totals[mode])
        out[mode] = {"b3_precision": p, "b3_recall": r, "b3_f1": f, "matched": found[mode][0],
                     "mention_recall": found[mode][0] / gold_count,
                     "mention_recall_no_pronouns": found[mode][1] / gold_nonpronoun,
                     "predicted_unmatched": 1 - found[mode][2] / max(pred_count, 1)}
    return out


# --------------------------------------------------------------------------- narrative frames

def read_frames() -> tuple[dict[str, str], list[dict]]:
    csv.field_size_limit(1 << 30)
    with open(FRAMES / "articles_metadata.tsv", encoding="utf-8", newline="") as f:
        texts = {row["ID"]: row["text"] for row in csv.DictReader(f, delimiter="\t")}
    with open(FRAMES / "role_and_frame_annoations.tsv", encoding="utf-8", newline="") as f:
        entities = [row for row in csv.DictReader(f, delimiter="\t")]
    return texts, entities


def bench_frames(actors_module, parser: Parser, limit: int | None = None) -> dict:
    texts, entities = read_frames()
    by_article = defaultdict(list)
    for row in entities:
        if row["ID"] in texts and _entity_pattern(row["entity"]).search(texts[row["ID"]]):
            by_article[row["ID"]].append(row)
    article_ids = sorted(texts, key=int)[:limit] if limit else sorted(texts, key=int)
    seconds, parse_seconds = [], []
    occurring = found = pronouns = 0
    actor_count = mention_count = 0
    by_group = defaultdict(lambda: [0, 0])
    for aid in article_ids:
        doc, parse_s = parser.doc(texts[aid], aid)
        parse_seconds.append(parse_s)
        seconds.append(run_actors(actors_module, doc, REPEAT))
        actor_count += len(doc.actors)
        mention_count += sum(len(a.mentions) for a in doc.actors)
        for row in by_article.get(aid, []):
            occurring += 1
            pronouns += _name_form(row["entity"]) in PRONOUNS
            hit = match_gold_entity(doc, row["entity"]) is not None
            found += hit
            by_group[row["group"]][0] += hit
            by_group[row["group"]][1] += 1
    return {"articles": len(article_ids), "occurring": occurring, "found": found, "share": found / occurring,
            "share_without_pronouns": found / (occurring - pronouns), "pronoun_entities": pronouns,
            "by_group": {g: (f, n) for g, (f, n) in sorted(by_group.items(), key=lambda kv: -kv[1][1])},
            "people_and_organisations": tuple(map(sum, zip(*(by_group[g] for g in PEOPLE_AND_ORGANISATIONS)))),
            "actors_per_article": actor_count / len(article_ids),
            "mentions_per_article": mention_count / len(article_ids),
            "actors_s_per_doc": sum(seconds) / len(seconds), "parse_s_per_doc": sum(parse_seconds) / len(seconds)}


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", help="git revision whose actors.py and gazetteer.py to measure (default: working tree)")
    ap.add_argument("--only", choices=("gum", "frames"))
    ap.add_argument("--limit", type=int, help="first N narrative-frames articles only")
    ap.add_argument("--parse-cache", type=Path, help="DocBin file to keep the spaCy parses in between runs")
    args = ap.parse_args(argv)
    if not GUM.is_dir() or not FRAMES.is_dir():
        sys.exit(f"bench data not found under {SHARED / 'data'}")
    actors_module = load_actors_module(args.rev)
    parser = Parser(args.parse_cache)
    print(f"actors component: {'working tree' if not args.rev else 'revision ' + args.rev}")
    if args.only in (None, "gum"):
        g = bench_gum(actors_module, parser)
        print(f"\nGUM news: {g['docs']} docs, {g['gold_mentions']} gold person/organization/place mentions, "
              f"{g['predicted_mentions']} predicted actor mentions")
        for mode in ("exact", "lenient"):
            m = g[mode]
            print(f"  {mode:8s} B3 P {m['b3_precision']:.3f}  R {m['b3_recall']:.3f}  F1 {m['b3_f1']:.3f}  "
                  f"on {m['matched']} matched mentions | mention recall {m['mention_recall']:.3f} "
                  f"(without pronouns {m['mention_recall_no_pronouns']:.3f}) | predicted unmatched "
                  f"{m['predicted_unmatched']:.3f}")
        print(f"  actors step {1000 * g['actors_s_per_doc']:.1f} ms/article (fastest of {REPEAT} runs each)")
    if args.only in (None, "frames"):
        f = bench_frames(actors_module, parser, args.limit)
        print(f"\nNarrative frames: {f['articles']} articles, {f['occurring']} gold entities occur in their article")
        print(f"  found {f['found']} = {f['share']:.3f} (without the {f['pronoun_entities']} pronoun entities: "
              f"{f['share_without_pronouns']:.3f})")
        hit, n = f["people_and_organisations"]
        print(f"  in the four stakeholder groups of people and organisations only: {hit}/{n} = {hit / n:.3f}")
        print(f"  {f['actors_per_article']:.1f} actors and {f['mentions_per_article']:.1f} mentions per article")
        for group, (hit, n) in f["by_group"].items():
            print(f"    {group:38s} {hit:4d}/{n:<4d} {hit / n:.2f}")
        parse = (f"; the spaCy parse before it, shared with other components: {1000 * f['parse_s_per_doc']:.0f} "
                 f"ms/article" if f["parse_s_per_doc"] > 0.005 else "; the spaCy parses came from --parse-cache")
        print(f"  actors step {1000 * f['actors_s_per_doc']:.1f} ms/article (fastest of {REPEAT} runs each{parse})")
    parser.save()


if __name__ == "__main__":
    main()
