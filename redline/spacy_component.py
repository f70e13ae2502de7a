"""redline as a spaCy pipeline component.

    import spacy
    nlp = spacy.load("en_core_web_md")      # or spacy.blank("en"): any English pipeline
    nlp.add_pipe("redline")                 # found through the `spacy_factories` entry point
    doc = nlp(text)
    for span in doc.spans["redline"]:
        print(span.label_, span._.redline_score, span.text)

The component runs redline's own pipeline (`redline.pipeline.Pipeline`) on `doc.text`:
the spaCy tokens of the host pipeline are not used for the analysis, only to place the
results. Each result's exact character offsets are mapped to the smallest run of tokens
that covers them (`doc.char_span(..., alignment_mode="expand")`); the exact offsets stay
in the span's `_.redline_start` / `_.redline_end`, so `doc.text[span._.redline_start:
span._.redline_end]` is what redline found, even where a span starts inside a token.

Span groups written:

* `doc.spans["redline"]`: technique spans, label = technique (`_.redline_score`: the
  calibrated probability);
* `doc.spans["redline_actors"]`: every mention of every actor, label = actor type
  (`_.redline_actor`: the actor's id, `_.redline_role`: how the text casts it, a dict as in
  redline's JSON, or None);
* `doc.spans["redline_claims"]`: check-worthy claims, label "CLAIM" (`_.redline_score`:
  check-worthiness, `_.redline_source`: the actor id that vouches for it or "author",
  `_.redline_attribution`: the source's words and cue as in redline's JSON, or None).

`doc._.redline` holds the whole analysis as redline's JSON (relations, roles with their
evidence, the models), and `doc._.redline_error` the reason when redline could not
analyse a text (empty, too long): the doc then passes on with empty groups, so one bad
text does not stop an `nlp.pipe` batch.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup

from redline.doc import Document
from redline.errors import InputError

log = logging.getLogger("redline.spacy")

TECHNIQUES_KEY = "redline"
ACTORS_KEY = "redline_actors"
CLAIMS_KEY = "redline_claims"
CLAIM_LABEL = "CLAIM"

# Per-span values live in one dict on the doc, keyed by the span's id (`span.id_`), and
# the Span extensions read them through getters. Why not plain `Span.set_extension(...,
# default=None)`: spaCy keys such values by the span's character boundaries only, so two
# spans over the same tokens (two techniques on one phrase, two exact spans that expand to
# the same tokens) would share one score.
_SPAN_ATTRS = ("score", "start", "end", "actor", "role", "source", "attribution")


def _span_getter(attr: str):
    def get(span: Span) -> Any:
        data = span.doc._.redline_span_data or {}
        return data.get(span.id_, {}).get(attr)
    return get


def register_extensions() -> None:
    """Declare the Doc and Span extensions (idempotent: spaCy's extension table is per process)."""
    if not Doc.has_extension("redline"):
        Doc.set_extension("redline", default=None)
    if not Doc.has_extension("redline_error"):
        Doc.set_extension("redline_error", default=None)
    if not Doc.has_extension("redline_span_data"):
        Doc.set_extension("redline_span_data", default=None)
    for attr in _SPAN_ATTRS:
        name = f"redline_{attr}"
        if not Span.has_extension(name):
            Span.set_extension(name, getter=_span_getter(attr))


class RedlineComponent:
    """Runs one redline pipeline (loaded once, for this component) over each Doc's text."""

    def __init__(self, nlp: Language, name: str = "redline", components: Optional[List[str]] = None,
                 threshold: Optional[float] = None):
        from redline.pipeline import DEFAULT_COMPONENTS, Pipeline

        register_extensions()
        self.name = name
        options = {"tagger": {"threshold": threshold}} if threshold is not None else {}
        # Loaded here, not shared through a module global: two components with different
        # settings in one process each keep their own models.
        self.pipeline = Pipeline.from_names(tuple(components or DEFAULT_COMPONENTS), **options)

    def __call__(self, doc: Doc) -> Doc:
        try:
            result = self.pipeline(Document(id="spacy", text=doc.text))
        except InputError as exc:
            # Bad input (an empty or too long text): say why on the doc and pass it on.
            log.warning("redline: %s", exc)
            doc._.redline_error = str(exc)
            for key in (TECHNIQUES_KEY, ACTORS_KEY, CLAIMS_KEY):
                doc.spans[key] = []
            return doc
        place(doc, result)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 32) -> Iterator[Doc]:
        # redline analyses one article at a time; batching buys nothing here.
        for doc in docs:
            yield self(doc)


def place(doc: Doc, result: Document) -> None:
    """Write a redline Document's findings onto a spaCy Doc over the same text."""
    if result.text != doc.text:
        raise ValueError("the redline analysis is of another text than this Doc's")
    data: dict[str, dict[str, Any]] = {}
    names = {a.id: a for a in result.actors}

    def add(group: list[Span], kind: str, index: int, start: int, end: int, label: str, **values) -> None:
        span_id = f"redline:{kind}:{index}"
        span = doc.char_span(start, end, label=label, alignment_mode="expand", span_id=span_id)
        if span is None:  # no token covers the offsets (whitespace only): nothing to place
            log.warning("redline: %s [%d, %d) covers no token; left out of doc.spans", kind, start, end)
            return
        data[span_id] = {"start": start, "end": end, **values}
        group.append(span)

    techniques: list[Span] = []
    for i, s in enumerate(result.spans):
        add(techniques, "technique", i, s.start, s.end, s.technique, score=float(s.score))
    actors: list[Span] = []
    n = 0
    for actor in result.actors:
        role = actor.role.to_json() if actor.role else None
        for m in actor.mentions:
            add(actors, "actor", n, m.start, m.end, actor.type, actor=actor.id, role=role)
            n += 1
    claims: list[Span] = []
    for i, c in enumerate(result.claims):
        att = c.attribution.to_json() if c.attribution else None
        add(claims, "claim", i, c.start, c.end, CLAIM_LABEL, score=float(c.checkworthiness), source=c.source,
            attribution=att, actor=c.source if c.source in names else None)

    doc._.redline_span_data = data
    doc._.redline = result.to_json()
    doc._.redline_error = None
    doc.spans[TECHNIQUES_KEY] = SpanGroup(doc, name=TECHNIQUES_KEY, spans=techniques)
    doc.spans[ACTORS_KEY] = SpanGroup(doc, name=ACTORS_KEY, spans=actors)
    doc.spans[CLAIMS_KEY] = SpanGroup(doc, name=CLAIMS_KEY, spans=claims)


@Language.factory(
    "redline",
    default_config={"components": None, "threshold": None},
    # spaCy's attribute check knows "doc.spans", not its keys (see the module doc for those).
    assigns=["doc.spans", "doc._.redline", "doc._.redline_error"],
)
def make_redline(nlp: Language, name: str, components: Optional[List[str]], threshold: Optional[float]):
    """The `redline` factory. Config: `components` (default: redline's full pipeline; e.g.
    ["tagger"] for the technique spans alone) and `threshold` (the tagger's; default the
    model's own)."""
    return RedlineComponent(nlp, name, components=components, threshold=threshold)
