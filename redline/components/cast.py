"""The story's non-human cast: policies, phenomena, places of nature and the like.

News casts more than people and organisations: in a climate story "climate change" is the
villain, "the Great Barrier Reef" the victim, "the Green New Deal" a hero to some and a
villain to others. spaCy's named entities miss most of them (they are common nouns), and
a word list would not travel beyond the stories it was written for. So every base noun
phrase the actor finder did not take is scored by a small logistic model
(`redline/models/cast/`), trained on the narrative-frames corpus's hero / villain /
victim entities, on what makes a phrase part of a story's cast: what its head word means
(spaCy's word vectors), what it does or has done to it (the governing verb's vector and
its dependency role), whether it is a law or an event, and how often the article comes
back to it. Phrases that score at or above the model's threshold become actors of type
`THING` (or `LAW`); the repeated phrase ("climate change" five times) is one actor. The
actor finder leaves out what is not a thing of the story even when it scores: groups of
people ("people", "children": the group rules judge those) and a thing named mostly as the
setting of an event ("died at a local hospital"); see `actors._add_cast`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from redline.errors import ModelError

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "cast"
DEPS = ("nsubj", "nsubjpass", "dobj", "pobj", "conj", "attr", "appos", "compound", "ROOT", "dative")
ENT_TYPES = ("LAW", "EVENT", "ORG", "PRODUCT", "GPE", "LOC", "FAC", "NORP", "PERSON", "WORK_OF_ART")
NUMERIC_ENTS = {"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT"}
# Words that never start a name of the cast (dropped from the key and the display name).
_LEAD = {"DET", "PRON", "NUM", "PUNCT", "SPACE"}
VECTOR_WIDTH = 300
N_FEATURES = 3 * VECTOR_WIDTH + len(DEPS) + 1 + len(ENT_TYPES) + 1 + 8


@dataclass
class Chunk:
    """A base noun phrase the actor finder did not take."""
    start: int  # characters, end exclusive, after dropping leading determiners
    end: int
    ts: int  # tokens [ts, te)
    te: int
    head: int  # token index of the head
    key: str  # lower-case lemmas of the content words: one actor per key (`CastModel.cast` may shorten it)
    name: str
    phrase_key: str = ""  # the key of this phrase's own words, before any joining


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def candidate_chunks(sp, taken: list[tuple[int, int]]) -> list[Chunk]:
    """Base noun phrases of the parse `sp` overlapping no character range in `taken`."""
    taken = sorted(taken)
    text = sp.text  # spaCy rebuilds Doc.text on every read: once here, not once per chunk
    out = []
    for nc in sp.noun_chunks:
        root = nc.root
        if root.pos_ not in ("NOUN", "PROPN") or root.ent_type_ in NUMERIC_ENTS:
            continue
        ts = nc.start
        while ts < root.i and (sp[ts].pos_ in _LEAD or sp[ts].tag_ in ("PRP$", "WP$") or sp[ts].is_punct):
            ts += 1
        te = nc.end
        while te > ts + 1 and (sp[te - 1].is_punct or sp[te - 1].is_space):
            te -= 1
        start, end = sp[ts].idx, sp[te - 1].idx + len(sp[te - 1].text)
        if any(start < e and s < end for s, e in taken):
            continue
        words = [t for t in sp[ts:te] if not t.is_punct and not t.is_space]
        key = " ".join(t.lemma_.lower() for t in words)
        if not key or not any(c.isalpha() for c in key):
            continue
        out.append(Chunk(start, end, ts, te, root.i, key, text[start:end], phrase_key=key))
    return out


def chunk_features(sp, chunks: list[Chunk]) -> np.ndarray:
    """One feature row per chunk (see the module docstring); float32."""
    rows = np.zeros((len(chunks), N_FEATURES), dtype=np.float32)
    head_counts: dict[str, int] = {}
    key_counts: dict[str, int] = {}
    for t in sp:
        if t.pos_ in ("NOUN", "PROPN"):
            head_counts[t.lemma_.lower()] = head_counts.get(t.lemma_.lower(), 0) + 1
    for c in chunks:
        key_counts[c.key] = key_counts.get(c.key, 0) + 1
    first_line_end = sp.text.find("\n")
    n_chars = max(1, len(sp.text))
    w = VECTOR_WIDTH
    for i, c in enumerate(chunks):
        head = sp[c.head]
        content = [t for t in sp[c.ts:c.te] if t.has_vector and not t.is_stop and not t.is_punct]
        gov = head.head
        if head.dep_ == "pobj" and gov.dep_ == "prep":
            gov = gov.head  # "damage to the reef": the word the preposition hangs on
        row = rows[i]
        if head.has_vector:
            row[0:w] = _unit(head.vector)
        if content:
            row[w:2 * w] = _unit(np.mean([t.vector for t in content], axis=0))
        if gov is not head and gov.has_vector:
            row[2 * w:3 * w] = _unit(gov.vector)
        o = 3 * w
        dep = head.dep_
        row[o + (DEPS.index(dep) if dep in DEPS else len(DEPS))] = 1.0
        o += len(DEPS) + 1
        ent = head.ent_type_
        row[o + (ENT_TYPES.index(ent) if ent in ENT_TYPES else len(ENT_TYPES))] = 1.0
        o += len(ENT_TYPES) + 1
        row[o:o + 8] = (
            math.log1p(head_counts.get(head.lemma_.lower(), 1)),
            math.log1p(key_counts[c.key]),
            c.start / n_chars,
            float(sp[c.ts - 1].lower_ == "the") if c.ts > 0 else 0.0,
            float(all(t.text[:1].isupper() for t in sp[c.ts:c.te] if t.is_alpha)),
            math.log1p(c.te - c.ts),
            float(head.tag_ in ("NNS", "NNPS")),
            float(0 <= first_line_end and c.start < first_line_end),
        )
    return rows


class CastModel:
    """The logistic model that says which chunks are part of the story's cast."""

    def __init__(self, mean, scale, coef, bias: float, threshold: float, config: dict | None = None):
        self.mean = np.asarray(mean, np.float32)
        self.scale = np.asarray(scale, np.float32)
        self.coef = np.asarray(coef, np.float32)
        self.bias = float(bias)
        self.threshold = float(threshold)
        self.config = config or {}

    @classmethod
    def load(cls, folder: Path = MODEL_DIR) -> "CastModel":
        try:
            cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            w = np.load(folder / "weights.npz")
            return cls(w["mean"], w["scale"], w["coef"], float(w["bias"]), cfg["threshold"], cfg)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"no usable cast model in {folder} ({exc}); reinstall redline or run "
                             "`python -m redline.training.cast`") from exc

    def scores(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.coef + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def cast(self, sp, taken: list[tuple[int, int]]) -> list[tuple[Chunk, float]]:
        """The chunks of the cast with their group's best score (every occurrence of a kept
        group). A phrase joins the shortest other phrase of the article that ends in the
        same words after lower-case modifiers ("methane emissions" joins "emissions" when the
        article has it bare; "the Green New Deal" never joins "deal"), so that one thing is
        one actor."""
        chunks = [c for c in candidate_chunks(sp, taken) if not _shouting(sp, c) and not _of_an_actor(sp, c, taken)]
        if not chunks:
            return []
        p = self.scores(chunk_features(sp, chunks))
        keys = {c.key for c in chunks}
        for c in chunks:
            tokens = [t for t in sp[c.ts:c.te] if not t.is_punct and not t.is_space]
            lemmas = c.key.split()
            if len(tokens) != len(lemmas):
                continue
            for i in range(1, len(lemmas)):
                if tokens[i - 1].pos_ == "PROPN" or tokens[i - 1].ent_type_:
                    break  # "Green New Deal" never joins "deal": names stay whole
                if " ".join(lemmas[i:]) in keys:
                    c.key = " ".join(lemmas[i:])
                    break
        best: dict[str, float] = {}
        for c, s in zip(chunks, p):
            best[c.key] = max(best.get(c.key, 0.0), float(s))
        return [(c, best[c.key]) for c in chunks if best[c.key] >= self.threshold]


def _of_an_actor(sp, c: Chunk, taken: list[tuple[int, int]]) -> bool:
    """"The fall (and annihilation) of the Syrian regime": the event of an actor. The
    actor is the one cast; the event noun is not an actor of its own."""
    head = sp[c.head]
    for noun in [head] + list(head.conjuncts):
        for prep in noun.children:
            if prep.dep_ == "prep" and prep.lower_ == "of":
                for obj in prep.children:
                    if obj.dep_ == "pobj" and any(s <= obj.idx < e for s, e in taken):
                        return True
    return False


def _shouting(sp, c: Chunk) -> bool:
    """A phrase of several words in capitals: a headline or credit line, where spaCy's parse
    of "OCASIO-CORTEZ CALLS CLIMATE CHANGE" is not to be trusted."""
    words = [t.text for t in sp[c.ts:c.te] if t.is_alpha]
    return len(words) > 1 and all(w.isupper() for w in words)


@lru_cache(maxsize=2)
def load_cast_model(folder: str = str(MODEL_DIR)) -> CastModel:
    return CastModel.load(Path(folder))
