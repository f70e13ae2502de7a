"""Roles: how the article casts each actor (SemEval-2025 Task 10 entity framing).

A role describes the text, not the actor: "Antagonist" means this article presents the
actor as a villain or a threat, "Protagonist" as a hero or a force for good, "Innocent"
as a victim. The reading comes from the portrayal network (`redline/models/portrayal.py`,
card in `redline/models/roles/MODEL_CARD.md`), which reads a window around each of the
actor's mentions (at most six, spread over the article) from the technique encoder's
pass over the article (no second encoder pass): encoder states, the tagger's technique
probabilities, whether the mention is quoted, and its syntax (subject, object, agent or
patient of harm or support). Its main-role probability is calibrated (temperature fitted
on held-out articles); under the model's abstention threshold the actor gets
`main: None` ("unclear") and keeps its best `guess`.

Each role carries its evidence, the signals a reader can check in the text: the
technique spans that overlap the actor's mentions, whom the relations show it allied
with, harming, or harmed by, how many of its mentions are in quotes, and how many claims
it vouches for.

Camps. A reader casts an actor partly by the company it keeps: whoever arms the villain
is on the villain's side. After the network, the relations between actors (ally: supports,
arms, deploys; harm: attacks, kills, threatens, accuses) revise each actor's probabilities
by loopy belief propagation (`redline.models.portrayal.camp_update`; tables and weight
fitted on held-out articles by `redline.training.camps`); an actor so revised also shows
`reading_from_its_own_words`, the network's reading before the revision.

`frame_mentions(mentions_tsv, docs_dir)` labels SemEval-format mention files (that task
has no "unclear": it always writes the best guess).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from redline.components.nlp import check_head, parse, parse_text, technique_output
from redline.doc import Document, Role
from redline.errors import InputError
from redline.io.inputs import tsv_rows
from redline.models import load_once
from redline.registry import register

# redline.models.portrayal (and with it torch, ~2 s) is imported where it is used, so that a
# pipeline without roles (`--components lexicon`) starts without torch.

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "roles"

SYN_DEPS = ["nsubj", "nsubjpass", "obj", "pobj", "poss", "mod", "appos", "other"]


def syntax_cues(sp, start: int, end: int) -> list[float]:
    """The mention's dependency role (one-hot over SYN_DEPS) and whether it is agent or
    patient of a hostile or a supportive verb (the relations component's verb lists)."""
    from redline.components.relations import VERB_TYPE

    span = sp.char_span(start, end, alignment_mode="expand")
    dep = [0.0] * len(SYN_DEPS)
    roles = [0.0] * 4  # agent_hostile, patient_hostile, agent_support, patient_support
    if span is None or len(span) == 0:
        dep[-1] = 1.0
        return dep + roles
    root = span.root
    d = root.dep_
    name = {"nsubj": "nsubj", "nsubjpass": "nsubjpass", "dobj": "obj", "dative": "obj", "iobj": "obj",
            "attr": "obj", "pobj": "pobj", "poss": "poss", "compound": "mod", "amod": "mod", "nmod": "mod",
            "appos": "appos"}.get(d, "other")
    dep[SYN_DEPS.index(name)] = 1.0
    head = root.head
    prep = ""
    if d == "pobj" and head.dep_ in ("prep", "agent"):
        prep = head.lower_
        head = head.head
    if d in ("poss", "compound", "amod") and head.head is not None:
        # "Russia's invasion": the noun's verb
        head = head.head if head.dep_ in ("nsubj", "dobj", "pobj") else head
    typ = VERB_TYPE.get(head.lemma_.lower())
    hostile = typ in ("attack", "kill_injure", "threaten", "accuse", "demand")
    support = typ in ("support", "give_aid")
    agent = d == "nsubj" or prep == "by"
    patient = d in ("nsubjpass", "dobj", "dative", "iobj") or (d == "pobj" and prep in ("against", "on", "at", "to"))
    roles = [float(hostile and agent), float(hostile and patient), float(support and agent),
             float(support and patient)]
    return dep + roles


# ----------------------------------------------------------------------------- model

def load_role_model(folder: Path | str | None = None) -> "PortrayalModel":  # noqa: F821
    from redline.models.portrayal import PortrayalModel

    return load_once(PortrayalModel, folder, "REDLINE_ROLES_MODEL", DEFAULT_MODEL_DIR)


def actor_windows(states, out, sp, quotes, occurrences: list[tuple[int, int]]):
    """The network's input for one actor (or one SemEval mention with its occurrences):
    `states` per word piece of the article pass (`PortrayalModel.project(out)`)."""
    from redline.models.portrayal import mention_windows

    cues = [syntax_cues(sp, s, e) for s, e in occurrences]
    return mention_windows(states, out, occurrences, quotes, cues)


HARM_TYPES = {"attack", "kill_injure", "threaten", "accuse"}
SUPPORT_TYPES = {"support", "give_aid"}
ALLY_TYPES = SUPPORT_TYPES | {"supply_arms"}
PLACE_TYPES = {"GPE", "LOC", "FAC"}


def role_evidence(doc: Document, actor, quotes) -> dict:
    """What in the text supports a reading of the actor, for the reader to check."""
    spans = [(m.start, m.end) for m in actor.mentions]
    aimed: dict[str, int] = {}
    for span in doc.spans:
        if any(span.start < e and s < span.end for s, e in spans):
            aimed[span.technique] = aimed.get(span.technique, 0) + 1
    ev: dict = {}
    if aimed:
        ev["techniques_on_mentions"] = dict(sorted(aimed.items(), key=lambda kv: -kv[1]))
    quoted = sum(1 for s, _ in spans if s < len(quotes) and quotes[s])
    if quoted:
        ev["mentions_in_quotes"] = quoted
    speaks = sum(1 for c in doc.claims if c.source == actor.id)
    if speaks:
        ev["claims_it_vouches_for"] = speaks
    return ev


def camp_edges(doc: Document) -> list[tuple[int, int, str]]:
    """The relations that put two actors on one side ("ally": X supports, arms or sends Y)
    or on opposite sides ("harm": X attacks, kills, threatens or accuses Y), as index
    pairs into doc.actors, each pair and kind once (repeating a relation is not more
    evidence of a side). Deploying into a place ("Russia's intervention in Syria") allies
    no one with the place."""
    pos = {a.id: i for i, a in enumerate(doc.actors)}
    places = {a.id for a in doc.actors if a.type in PLACE_TYPES}
    edges: set[tuple[int, int, str]] = set()
    for r in doc.relations:
        if r.subject == r.object or r.subject not in pos or r.object not in pos:
            continue
        i, j = pos[r.subject], pos[r.object]
        if r.type in HARM_TYPES:
            edges.add((i, j, "harm"))
        elif r.type in ALLY_TYPES or (r.type == "deploy" and r.object not in places):
            edges.add((min(i, j), max(i, j), "ally"))
    return sorted(edges)


def camp_company(k: int, edges: list[tuple[int, int, str]], names: list[str]) -> dict[str, list[str]]:
    """Actor k's side in the story as a reader can check it: whom it is allied with, whom
    it harms, who harms it."""
    out: dict[str, list[str]] = {}
    for i, j, kind in edges:
        if kind == "ally" and k in (i, j):
            out.setdefault("allied_with", []).append(names[j if i == k else i])
        elif kind == "harm" and i == k:
            out.setdefault("harms", []).append(names[j])
        elif kind == "harm" and j == k:
            out.setdefault("harmed_by", []).append(names[i])
    return out


# ----------------------------------------------------------------------------- component

@register("roles")
class RoleLabeler:
    """Casts each actor: main role (or unclear), fine roles, calibrated probability, evidence."""

    name = "roles"
    requires = ("actors",)  # it casts the actors another step finds
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __init__(self, model_dir: str | Path | None = None):
        self.model = load_role_model(model_dir)
        check_head(self.model.config, "roles", "redline train-roles")

    def __call__(self, doc: Document) -> Document:
        from redline.models.portrayal import MAIN_ROLES, camp_update, quote_mask, spread

        if doc.actors:
            out, sp, quotes = technique_output(doc), parse(doc), quote_mask(doc.text)
            states = self.model.project(out)
            groups = [actor_windows(states, out, sp, quotes,
                                    spread([(m.start, m.end) for m in a.mentions]))
                      for a in doc.actors]
            main_logits, fine_logits = self.model.logits(groups)
            text_probs = self.model.main_probabilities(main_logits)
            edges = camp_edges(doc)
            camps = self.model.config.get("camps") or {}
            probs = camp_update(text_probs, edges, camps)
            names = [a.name for a in doc.actors]
            for k, (actor, p) in enumerate(zip(doc.actors, self.model.decode(main_logits, fine_logits, probs))):
                evidence = role_evidence(doc, actor, quotes)
                company = camp_company(k, edges, names)
                evidence.update(company)  # allied_with, harms, harmed_by: names a reader can check
                if company and camps.get("weight"):
                    # the company revised the reading: show the one from the words around it alone
                    evidence["reading_from_its_own_words"] = {r: round(float(x), 4)
                                                              for r, x in zip(MAIN_ROLES, text_probs[k])}
                actor.role = Role(main=p.main, fine=p.fine if p.main else [], score=p.score, guess=p.guess,
                                  probabilities=p.probabilities, evidence=evidence)
        cfg = self.model.config
        doc.model["roles"] = {"name": cfg.get("name", "redline-portrayal"), "version": cfg.get("version"),
                              "abstain_below": cfg.get("abstain_below"),
                              "meaning": "how the text casts the actor, not a judgement of the actor"}
        return doc


# ----------------------------------------------------------------------------- SemEval files

def read_mentions(path: Path | str) -> list[tuple[str, str, int, int, list[str]]]:
    """SemEval-2025 Task 10 subtask 1 rows: (article_id, mention, start, end_inclusive, labels)."""
    rows = []
    for n, parts in tsv_rows(path, 4, "article_id<TAB>mention<TAB>start<TAB>end"):
        try:
            start, end = int(parts[2]), int(parts[3])
        except ValueError as exc:
            raise InputError(f"{path}:{n}: start and end must be integers") from exc
        rows.append((parts[0], parts[1], start, end, parts[4:]))
    return rows


def read_article(docs_dir: Path | str, article_id: str) -> str:
    docs_dir = Path(docs_dir)
    for name in (article_id, article_id + ".txt", re.sub(r"\.txt$", "", article_id)):
        path = docs_dir / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise InputError(f"no document {article_id!r} in {docs_dir}")


def occurrences(text: str, mention: str, ignore_case: bool = False) -> list[tuple[int, int]]:
    """Every occurrence of a mention string as a whole word (case-sensitive unless asked)."""
    if not mention.strip():
        return []
    pat = re.compile(r"(?<![\w])" + re.escape(mention) + r"(?![\w])", re.I if ignore_case else 0)
    return [m.span() for m in pat.finditer(text)]


def fix_offsets(text: str, mention: str, start: int, end_inclusive: int) -> tuple[int, int]:
    """Exclusive-end offsets of the mention; the nearest occurrence if the given ones are off."""
    if text[start:end_inclusive + 1] == mention:
        return start, end_inclusive + 1
    occ = [m.start() for m in re.finditer(re.escape(mention), text)]
    if not occ:
        return max(0, min(start, len(text) - 1)), max(1, min(end_inclusive + 1, len(text)))
    best = min(occ, key=lambda o: abs(o - start))
    return best, best + len(mention)


def frame_mentions(mentions_tsv: Path | str, docs_dir: Path | str, model_dir: Path | str | None = None) -> list[str]:
    """Predict roles for a SemEval-format mention file: one output line per input line, in order.

    Each mention is read with the other occurrences of its string in the article (at most
    six, the nearest first), as in training; the task has no "unclear", so the best guess
    is always written."""
    from redline.components.nlp import get_encoder
    from redline.models.portrayal import MAX_MENTIONS, quote_mask

    rows = read_mentions(mentions_tsv)
    model = load_role_model(model_dir)
    by_article: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_article[row[0]].append(i)
    preds = {}
    for aid, idxs in by_article.items():
        text = read_article(docs_dir, aid)
        out, sp, quotes = get_encoder().article_output(text), parse_text(text), quote_mask(text)
        states = model.project(out)
        groups = []
        for i in idxs:
            _, mention, s, e, _ = rows[i]
            focus = fix_offsets(text, mention, s, e)
            others = sorted((o for o in occurrences(text, mention) if o != focus), key=lambda o: abs(o[0] - focus[0]))
            groups.append(actor_windows(states, out, sp, quotes, sorted([focus] + others[:MAX_MENTIONS - 1])))
        for i, p in zip(idxs, model.predict(groups)):
            preds[i] = p
    out_lines = []
    for i, (aid, mention, s, e, _) in enumerate(rows):
        p = preds[i]
        out_lines.append("\t".join([aid, mention, str(s), str(e), p.guess, *p.fine]))
    return out_lines
