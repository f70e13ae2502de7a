"""Components in a pipeline, and the one library call everything else wraps.

A component is any object with a `name` and `__call__(doc) -> doc` that reads the
`Document` and adds to it. Components register under a name, so the CLI, the server
and the corpus runner build the same pipeline from the same names:

    >>> import redline
    >>> doc = redline.analyze("They are traitors! Never forget it.")
    >>> [(s.text, s.technique) for s in doc.spans]
"""

from __future__ import annotations

import re
import threading
from typing import Iterable

from redline.doc import Document
from redline.errors import InputError
from redline.registry import (  # noqa: F401  (register, registered, create_component: part of this API)
    REGISTRY, Component, create_component, import_builtin_components, register, registered, with_requirements,
)

# The longest text analysed, by measurement (issue 18; `python bench/limits.py`, 2 cores
# shared with other work). With the spaCy parse in bounded pieces, peak RSS is 1.24 GB
# at 60,000 characters (17-30 s) and 1.31-1.35 GB at 100,000, but 100,000 took 50-81 s (92 s
# on one line): the actors step grows faster than the length (11 s at 60,000, 41 s at
# 100,000). So time, not memory, sets the limit: 60,000 runs in well under a minute and
# holds every PTC article (the longest is 47,473). Longer texts are refused with this
# figure in the message; split them.
MAX_CHARS = 60_000


# Order matters: techniques first; actors before the steps that refer to them;
# link last, because it joins spans, claims and actors by index.
DEFAULT_COMPONENTS = ("tagger", "actors", "relations", "claims", "roles", "link")
TECHNIQUES_ONLY = ("tagger",)


class Pipeline:
    """An ordered list of components run over each document."""

    def __init__(self, components: Iterable[Component]):
        self.components = list(components)
        self._lock = threading.Lock()

    @classmethod
    def from_names(cls, names: Iterable[str], **options) -> "Pipeline":
        names = with_requirements(list(names))  # "roles" alone pulls in "actors"
        import_builtin_components()
        if any(getattr(REGISTRY.get(name), "uses_parse", False) for name in names):
            from redline.components.nlp import preload_nlp
            preload_nlp()  # spaCy loads in a thread while the technique model loads here
        comps = []
        for name in names:
            comps.append(create_component(name, **options.get(name, {})))
        return cls(comps)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.components]

    def __call__(self, doc: Document) -> Document:
        check_text(doc.text)
        if any(getattr(c, "uses_parse", False) for c in self.components):
            from redline.components.nlp import start_parse
            start_parse(doc)  # overlaps the spaCy parse with the components before it
        for comp in self.components:
            doc = comp(doc)
        doc.sort_spans()
        doc.model.setdefault("components", self.names)
        return doc

    def pipe(self, docs: Iterable[Document]) -> Iterable[Document]:
        for doc in docs:
            yield self(doc)


# A lone surrogate (U+D800-U+DFFF) is not a character: it cannot be encoded as UTF-8,
# so it would fail deep in the pipeline (hashing, the tokenizer) or in the JSON answer.
# It arrives from JSON "\ud800" escapes and from Python strings built by hand.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def check_text(text: str) -> None:
    """Refuse, with a clear InputError, any text the pipeline cannot analyse."""
    if not isinstance(text, str):
        raise InputError("the text must be a string")
    if len(text) > MAX_CHARS:
        raise InputError(f"the text has {len(text):,} characters; redline reads at most {MAX_CHARS:,} "
                         "(memory and time grow with length); split it into parts")
    if not text.strip().strip("\ufeff").strip():  # a byte-order mark alone is empty too
        raise InputError("the text is empty")
    if "\x00" in text:
        raise InputError("the text contains NUL bytes: is it a binary file?")
    check_unicode(text, "the text")


def check_unicode(value: str, what: str) -> None:
    """Refuse a string with a lone surrogate (not valid Unicode), naming where it is."""
    bad = _SURROGATE_RE.search(value)
    if bad:
        raise InputError(f"{what} contains a lone surrogate U+{ord(bad.group()):04X} at character {bad.start():,}, "
                         "which is not valid Unicode text")


_default: dict[tuple, Pipeline] = {}
_default_lock = threading.Lock()


def default_pipeline(components: tuple[str, ...] | None = None, threshold: float | None = None,
                     taxonomy: str | None = None) -> Pipeline:
    """The shared, lazily loaded pipeline (models load once per process). `taxonomy`: the
    tagger's technique labels, "ptc" or "semeval2023" (redline.taxonomy.TAXONOMIES)."""
    from redline.taxonomy import DEFAULT_TAXONOMY, check_taxonomy

    taxonomy = check_taxonomy(taxonomy)
    key = (tuple(components or DEFAULT_COMPONENTS), threshold, taxonomy)
    if taxonomy != "ptc" and ("tagger" not in key[0] or "lexicon" in key[0]):
        # Only the tagger speaks the 23 techniques; the lexicon's rules give PTC labels.
        raise InputError(f"taxonomy {taxonomy!r} needs the 'tagger' component and not 'lexicon' "
                         f"(got: {', '.join(key[0])})")
    with _default_lock:
        if key not in _default:
            tagger_opts = {"threshold": threshold} if threshold is not None else {}
            if taxonomy != DEFAULT_TAXONOMY:
                tagger_opts["taxonomy"] = taxonomy
            _default[key] = Pipeline.from_names(key[0], **({"tagger": tagger_opts} if tagger_opts else {}))
        return _default[key]


def analyze(text: str, id: str = "doc", meta: dict | None = None, *, threshold: float | None = None,
            components: tuple[str, ...] | None = None, taxonomy: str | None = None) -> Document:
    """Analyse one article: the library call behind the CLI, the server and the corpus runner."""
    check_text(text)
    if not isinstance(id, str):
        raise InputError("the document id must be a string")
    check_unicode(id, "the document id")
    doc = Document(id=id, text=text, meta=dict(meta or {}))
    return default_pipeline(components, threshold, taxonomy)(doc)
