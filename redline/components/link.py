"""Link: the joined view of techniques, claims and actors.

Runs last. For each actor:

* `actor.techniques`: indexes into `doc.spans` of the technique spans aimed at it. A
  span is aimed at an actor when it overlaps one of the actor's mentions ("the
  terrorist Assad regime"), or, failing that, when the actor's nearest mention in the
  same sentence (a resolved pronoun counts: "his fate is unknown") is at most
  `max_distance` arcs away in the dependency tree from the span's head word; ties go
  to every tied actor.
* `actor.claims`: indexes into `doc.claims` of the claims that mention the actor or
  that it is the source of.

Because the indexes point into `doc.spans`, this component sorts the spans first (the
pipeline sorts them again after the last component, which then changes nothing).

Being last, it also drops the document's private parse cache (spaCy doc, sentence
encodings: a few MB per article) unless `release=False`, so a corpus run does not keep
every parse alive.
"""

from __future__ import annotations

from redline.components.actors import actor_index
from redline.components.nlp import parse, release_cache
from redline.doc import Document
from redline.registry import register


def _path_to_root(tok) -> list[int]:
    out = [tok.i]
    while tok.head.i != tok.i and len(out) < 64:
        tok = tok.head
        out.append(tok.i)
    return out


def tree_distance(a, b) -> int:
    pa, pb = _path_to_root(a), _path_to_root(b)
    where = {t: i for i, t in enumerate(pa)}
    for j, t in enumerate(pb):
        if t in where:
            return where[t] + j
    return 999


@register("link")
class Linker:
    """Fills actors[*].techniques and actors[*].claims."""

    name = "link"

    def __init__(self, max_distance: int = 4, release: bool = True):
        self.max_distance = max_distance
        self.release = release

    def __call__(self, doc: Document) -> Document:
        doc.sort_spans()
        for actor in doc.actors:
            actor.techniques, actor.claims = [], []
        if doc.actors:
            self.link_techniques(doc)
            self.link_claims(doc)
        doc.model["link"] = {"name": "redline-link", "max_distance": self.max_distance}
        if self.release:
            release_cache(doc)
        return doc

    def link_techniques(self, doc: Document) -> None:
        sp = parse(doc)
        index = actor_index(doc)
        by_id = {a.id: a for a in doc.actors}
        spans_of = [(m.start, m.end, a.id) for a in doc.actors for m in a.mentions]
        for si, span in enumerate(doc.spans):
            targets = {aid for s, e, aid in spans_of if s < span.end and span.start < e}
            if not targets:
                tspan = sp.char_span(span.start, span.end, alignment_mode="expand")
                if tspan is None or len(tspan) == 0:
                    continue
                head = tspan.root
                sent = head.sent
                best, best_d = set(), self.max_distance + 1
                for tok in sent:
                    aid = index.token_actor.get(tok.i)
                    if aid is None or aid not in by_id or tspan.start <= tok.i < tspan.end:
                        continue
                    d = tree_distance(head, tok)
                    if d < best_d:
                        best, best_d = {aid}, d
                    elif d == best_d:
                        best.add(aid)
                targets = best
            for aid in targets:
                if aid in by_id:
                    by_id[aid].techniques.append(si)

    def link_claims(self, doc: Document) -> None:
        for ci, claim in enumerate(doc.claims):
            for actor in doc.actors:
                if claim.source == actor.id or any(claim.start < m.end and m.start < claim.end for m in actor.mentions):
                    actor.claims.append(ci)
