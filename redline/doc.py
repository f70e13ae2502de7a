"""redline's one data model: a document and everything found in it.

Every component reads a `Document` and annotates it in place (spaCy's `Doc`
idea). Offsets are Python character positions into `Document.text`, end
exclusive, and every span's `text` is exactly `doc.text[start:end]`: the
constructors below refuse anything else, so a bad offset fails where it is
made, not in a reader's browser.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


class OffsetError(ValueError):
    """A span whose offsets do not fit the text it claims to slice."""


def _check_offsets(text: str, start: int, end: int) -> None:
    if not (0 <= start < end <= len(text)):
        raise OffsetError(f"span [{start}, {end}) does not fit a text of {len(text)} characters")


@dataclass
class TechniqueSpan:
    """A fragment of the text that uses one persuasion technique."""

    start: int
    end: int
    technique: str  # a PTC label, e.g. "Name_Calling,Labeling" (see redline.taxonomy)
    score: float = 1.0  # calibrated probability that the span and technique are right
    text: str = ""
    source: str = ""  # which component found it, e.g. "lexicon" or "tagger"
    # The words inside the span that the model leaned on most (Mention objects).
    triggers: list = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "technique": self.technique,
            "score": round(float(self.score), 4),
        }
        if self.triggers:
            out["triggers"] = [t.to_json() for t in self.triggers]
        return out


@dataclass
class Mention:
    start: int
    end: int
    text: str = ""
    kind: str = ""  # for a claim's markers: "hedge" or "certainty"; empty for actor mentions

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.kind:
            out["kind"] = self.kind
        return out


MAIN_ROLES = ("Protagonist", "Antagonist", "Innocent")


@dataclass
class Role:
    """How the article casts an actor (SemEval-2025 Task 10 entity framing).

    A role describes the text, not the actor: "Antagonist" means this article presents
    the actor as a villain. `main` is None ("unclear") when the model is not sure
    enough; `guess` is its best guess all the same (what `redline frame` writes).
    """

    main: str | None  # Protagonist | Antagonist | Innocent, or None: unclear
    fine: list[str] = field(default_factory=list)
    score: float = 0.0  # calibrated probability of `guess`
    guess: str = ""  # the most probable main role, also when `main` is None
    probabilities: dict[str, float] = field(default_factory=dict)  # per main role, calibrated
    # What in the text supports the reading, e.g. {"techniques_aimed": {...}, "agent_of_harm": 2}.
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.guess and self.main:
            self.guess = self.main

    def to_json(self) -> dict[str, Any]:
        return {
            "main": self.main,
            "guess": self.guess or None,
            "fine": list(self.fine),
            "score": round(float(self.score), 4),
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
            "evidence": dict(self.evidence),
        }


@dataclass
class Actor:
    """A person, organisation, country or group, with all its mentions merged."""

    id: str
    name: str
    type: str  # PERSON | ORG | GPE | NORP | GROUP
    mentions: list[Mention] = field(default_factory=list)
    role: Role | None = None
    techniques: list[int] = field(default_factory=list)  # indexes into Document.spans
    claims: list[int] = field(default_factory=list)  # indexes into Document.claims

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "mentions": [m.to_json() for m in self.mentions],
            "role": self.role.to_json() if self.role else None,
            "techniques": list(self.techniques),
            "claims": list(self.claims),
        }


@dataclass
class Relation:
    """Who does what to whom: subject and object are actor ids."""

    subject: str
    action: str
    object: str
    type: str  # coarse event type, see redline.taxonomy.RELATION_TYPES
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Attribution:
    """Who vouches for a claim in this article: the words naming the speaker and the cue.

    `source` is the speaker's mention in this article (for a pronoun speaker, the nearest
    full mention of the actor it refers to); `actor` the id of that actor, or None when
    the speaker is no actor (e.g. "a spokesman"); `cue` the reporting words ("said",
    "according to", a quotation's verb), or None when there are none (a bare quote).
    """

    source: Mention
    actor: str | None = None
    cue: Mention | None = None

    def to_json(self) -> dict[str, Any]:
        src = {"start": self.source.start, "end": self.source.end, "text": self.source.text, "actor": self.actor}
        cue = {"start": self.cue.start, "end": self.cue.end, "text": self.cue.text} if self.cue else None
        return {"source": src, "cue": cue}


@dataclass
class Claim:
    """A sentence asserting a checkable fact, with who vouches for it."""

    start: int
    end: int
    text: str
    checkworthiness: float
    source: str  # actor id of whoever vouches for it, or "author"
    hedges: list[Mention] = field(default_factory=list)
    attribution: Attribution | None = None  # None: the author's own voice

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "checkworthiness": round(float(self.checkworthiness), 4),
            "source": self.source,
            "attribution": self.attribution.to_json() if self.attribution else None,
            "hedges": [h.to_json() for h in self.hedges],
        }


@dataclass
class Document:
    """An article and its annotations. Components add to the lists below."""

    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    spans: list[TechniqueSpan] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)  # which components and weights ran
    # Work the components share on this document (the spaCy parse, sentence encodings, the
    # technique pass, the actor index), keyed by the text's SHA-256 so an edited text is
    # worked anew. Never part of the output or of equality; `link` clears it at the end.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def add_span(self, start: int, end: int, technique: str, score: float = 1.0, source: str = "",
                 triggers: tuple[tuple[int, int], ...] | list[tuple[int, int]] = ()) -> TechniqueSpan:
        _check_offsets(self.text, start, end)
        span = TechniqueSpan(start, end, technique, float(score), self.text[start:end], source,
                             [self.mention(a, b) for a, b in triggers])
        self.spans.append(span)
        return span

    def mention(self, start: int, end: int, kind: str = "") -> Mention:
        _check_offsets(self.text, start, end)
        return Mention(start, end, self.text[start:end], kind)

    def sort_spans(self) -> None:
        self.spans.sort(key=lambda s: (s.start, -s.end, s.technique))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text_sha256": self.text_sha256,
            "techniques": [s.to_json() for s in self.spans],
        }
        if self.actors or self.claims or self.relations:
            out["actors"] = [a.to_json() for a in self.actors]
            out["relations"] = [r.to_json() for r in self.relations]
            out["claims"] = [c.to_json() for c in self.claims]
        out["model"] = self.model
        return out
