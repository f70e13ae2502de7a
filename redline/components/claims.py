"""Claims: the sentences that assert a checkable fact, who vouches for them, and how sure
they sound.

* Check-worthiness: a logistic-regression head over the technique encoder's frozen sentence
  states (mean pooling of its three feature layers, each L2-normalised) plus a few lexical features (numbers, years,
  money, capitalised names, reporting verbs, first/second person, modals, questions),
  trained on ClaimBuster and CLEF CheckThat! 2019/2020 debates (`redline train-claims`;
  figures in `redline/models/claims/MODEL_CARD.md`). A sentence becomes a `Claim` when
  its score reaches the model's tuned threshold (option `min_score` to change it).
* Source: the actor who vouches for the sentence: the subject of a reporting verb
  ("Gen. Pourdastan, announced that ..."; "Iranian officials announce that ..."), the
  object of "according to"; otherwise "author".
* Hedges: hedges and certainty markers in the sentence, from the `persuasion-index`
  lexicons HEDGES and "Actually" (booster words), minus a few words that are mostly not
  hedges in news prose ("about", "can", ...), plus our own list ("his fate is unknown",
  "reportedly", "will in no way", "undoubtedly", ...).

`score_lines(path)` scores a CLEF-format file (`line<TAB>speaker<TAB>text[<TAB>label]`)
for `redline claims --score-lines`.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from redline.components.nlp import (
    Encoded, check_head, get_encoder, parse, sentence_encodings, sentences,
)
from redline.doc import Claim, Document
from redline.errors import ModelError
from redline.io.inputs import tsv_rows
from redline.models import check_feature_width, load_once, read_npz_model
from redline.pipeline import register

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "claims"

# ----------------------------------------------------------------------------- features

_NUM_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
              r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|"
              r"half|percent|per cent|twice|double|triple|first|second|third|majority|minority")
_RE = {
    "digit": re.compile(r"\d"),
    "number": re.compile(rf"\b(?:\d[\d,.]*|{_NUM_WORDS})\b", re.I),
    "money_pct": re.compile(r"[$€£%]|\b(?:percent|per cent|dollars?|euros?|pounds|rubles?|rials?)\b", re.I),
    "year": re.compile(r"\b(?:1[89]\d\d|20\d\d)s?\b"),
    "report": re.compile(r"\b(?:said|says|say|announced|announces|reported|reports|according to|claimed|claims|"
                         r"stated|states|declared|confirmed|revealed|told|voted|passed|signed|cut|raised|"
                         r"increased|decreased|rose|fell|killed|died|lost|won)\b", re.I),
    "i": re.compile(r"\b(?:I|me|my|mine|I'm|I've|I'd|I'll)\b"),
    "we": re.compile(r"\b(?:we|our|us|ours|we're|we've|we'll)\b", re.I),
    "you": re.compile(r"\b(?:you|your|yours|you're|you've)\b", re.I),
    "modal": re.compile(r"\b(?:will|would|should|could|may|might|must|shall|can|won't|wouldn't|shouldn't)\b", re.I),
    "opinion": re.compile(r"\b(?:think|believe|feel|hope|want|wish|love|hate|great|terrible|wonderful|"
                          r"horrible|disgrace|amazing|best|worst|should|must|need|needs|let's|let us)\b", re.I),
    "compare": re.compile(r"\b(?:more|less|fewer|most|least|highest|lowest|largest|biggest|smallest|"
                          r"increase|decrease|doubled|tripled|record|since|than|every|all|none|never)\b", re.I),
}
N_LEX = 14


def lexical_features(text: str) -> np.ndarray:
    words = text.split()
    n = max(len(words), 1)
    caps = sum(1 for w in words[1:] if w[:1].isupper() and w.strip("\"'“”‘’").isalpha() and w.upper() != w or
               (w.isupper() and len(w) > 1 and w.isalpha()))
    f = [
        1.0 if _RE["digit"].search(text) else 0.0,
        math.log1p(len(_RE["number"].findall(text))),
        1.0 if _RE["money_pct"].search(text) else 0.0,
        1.0 if _RE["year"].search(text) else 0.0,
        math.log1p(caps),
        math.log1p(len(_RE["report"].findall(text))),
        math.log1p(len(_RE["i"].findall(text))),
        math.log1p(len(_RE["we"].findall(text))),
        math.log1p(len(_RE["you"].findall(text))),
        math.log1p(len(_RE["modal"].findall(text))),
        math.log1p(len(_RE["opinion"].findall(text))),
        math.log1p(len(_RE["compare"].findall(text))),
        1.0 if text.rstrip().endswith("?") else 0.0,
        math.log1p(n) / 4.0,
    ]
    return np.asarray(f, dtype=np.float32)


def n_emb() -> int:
    """Width of the sentence embedding part of a feature row."""
    from redline.components.nlp import feature_width
    return feature_width() * 3  # the three mean-pooled feature layers


def claim_features(enc: list[Encoded], texts: list[str]) -> np.ndarray:
    """[the mean-pooled feature layers, each L2-normalised; lexical features] per sentence."""
    if not texts:
        return np.zeros((0, n_emb() + N_LEX), dtype=np.float32)
    emb = np.stack([e.multi_layer() for e in enc]).astype(np.float32)
    lex = np.stack([lexical_features(t) for t in texts])
    return np.concatenate([emb, lex], axis=1)


# ----------------------------------------------------------------------------- model

class ClaimModel:
    """Standardise -> logistic regression; weights in weights.npz, settings in config.json."""

    def __init__(self, folder: Path | str):
        self.config, w = read_npz_model(folder, "claims", "redline train-claims")
        try:
            self.mean, self.scale, self.coef = w["mean"], w["scale"], w["coef"]
            self.intercept = float(w["intercept"][0])
        except KeyError as exc:
            raise ModelError(f"no usable claims model in {folder}: missing {exc}; run `redline train-claims`") from exc
        self.threshold = float(self.config.get("threshold", 0.5))

    @classmethod
    def from_arrays(cls, mean, scale, coef, intercept, config) -> "ClaimModel":
        self = cls.__new__(cls)
        self.mean, self.scale = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
        self.coef, self.intercept = np.asarray(coef, np.float32).ravel(), float(intercept)
        self.config = dict(config)
        self.threshold = float(self.config.get("threshold", 0.5))
        return self

    def save(self, folder: Path | str) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "weights.npz", mean=self.mean, scale=self.scale, coef=self.coef,
                 intercept=np.asarray([self.intercept], np.float32))
        (folder / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0, dtype=np.float32)
        check_feature_width(X, len(self.mean), "claims", "redline train-claims")
        z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def score_texts(self, texts: list[str]) -> np.ndarray:
        enc = get_encoder().encode(texts) if texts else []
        return self.predict_features(claim_features(enc, texts))


def load_claim_model(folder: Path | str | None = None) -> ClaimModel:
    return load_once(ClaimModel, folder, "REDLINE_CLAIMS_MODEL", DEFAULT_MODEL_DIR)


# ----------------------------------------------------------------------------- hedges

# Lexicon entries that are rarely hedges in news prose.
_HEDGE_DROP = {"about", "around", "can", "favor", "question", "ish", "inasmuch as", "typical", "indicate",
               "suggest", "appear", "seem", "suppose", "suspect", "presume", "certain", "positively", "really",
               "totally", "literally", "seriously", "frankly", "honestly", "forsooth", "in good sooth", "verily",
               "of a truth", "for real", "no kidding", "i'm serious", "seriously though", "often", "frequently",
               "sometimes", "usually", "mainly", "mostly", "largely", "quite", "rather", "fairly", "a bit",
               "a little", "a touch", "a bit of", "a little bit", "invariably", "strictly speaking", "plainly",
               "evidently", "essentially", "basically", "generally", "in general", "relatively", "comparatively"}
# Our additions: uncertainty about facts and attribution hedges ...
HEDGES_EXTRA = [
    "his fate is unknown", "her fate is unknown", "their fate is unknown", "fate is unknown", "is unknown",
    "remains unknown", "remain unknown", "unknown", "unconfirmed", "unverified", "not confirmed",
    "could not be confirmed", "could not be verified", "remains unclear", "it is unclear", "is not clear",
    "reportedly", "allegedly", "purportedly", "supposedly", "ostensibly", "is said to", "are said to",
    "was said to", "were said to", "is believed to", "are believed to", "is thought to", "rumored", "rumoured",
    "it seems", "seems to", "appears to", "appeared to", "may", "might", "could", "would", "perhaps",
    "possibly", "probably", "likely", "unlikely", "apparently", "presumably", "arguably", "alleged",
]
# ... and certainty markers (boosters): the text vouching for itself.
CERTAINTY_EXTRA = [
    "will in no way", "in no way", "by no means", "no doubt", "without a doubt", "undoubtedly", "certainly",
    "surely", "definitely", "clearly", "obviously", "of course", "indeed", "in fact", "it is true that",
    "is a fact", "the facts on the ground", "there is no doubt", "inevitably", "inevitable", "never",
    "always", "absolutely", "completely", "it is clear that", "make no mistake", "undeniably", "must",
    "cannot", "can not", "won't", "will never", "is bound to", "are bound to", "ultimately", "unprecedented",
]
HEDGE, CERTAINTY = "hedge", "certainty"


@lru_cache(maxsize=1)
def _marker_phrases() -> dict[str, str]:
    """Phrase -> HEDGE or CERTAINTY: persuasion-index's HEDGES and "Actually" (certainty)
    lexicons, less the entries too vague to mark a claim, plus our own lists."""
    kinds: dict[str, str] = {}
    try:
        import helper_features

        path = Path(helper_features.__file__).parent / "lexicons_expanded_LLM_audited.json"
        lex = json.loads(path.read_text(encoding="utf-8"))
        for key, kind in (("HEDGES", HEDGE), ("Actually", CERTAINTY)):
            kinds.update({p.strip().lower(): kind for p in lex.get(key, []) if p.strip()})
    except (ImportError, OSError, ValueError):
        pass
    for p in _HEDGE_DROP:
        kinds.pop(p, None)
    kinds.update({p: HEDGE for p in HEDGES_EXTRA})
    kinds.update({p: CERTAINTY for p in CERTAINTY_EXTRA})
    return kinds


def _norm_phrase(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


@lru_cache(maxsize=1)
def _hedge_kinds() -> dict[str, str]:
    return {_norm_phrase(p): k for p, k in _marker_phrases().items()}


@lru_cache(maxsize=1)
def _hedge_regex() -> re.Pattern:
    # Cached: joining and escaping the few thousand phrases cost 1 ms per sentence.
    alt = "|".join(re.escape(p).replace(r"\ ", r"\s+").replace("'", "['’]")
                   for p in sorted(_marker_phrases(), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alt})(?![\w-])", re.I)


_APPROX = re.compile(r"(?<![\w-])(?:about|around|nearly|almost|roughly|some|up to|more than|less than|at least)"
                     r"\s+(?=\$?\d|(?:a|one|two|three|four|five|six|seven|eight|nine|ten|hundreds?|thousands?|"
                     r"millions?|dozens?)\b)", re.I)


def find_hedges(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """Hedges and certainty markers inside text[start:end]: (start, end, kind), absolute
    offsets, in text order; kind is HEDGE (uncertainty, attribution, approximation) or
    CERTAINTY (boosters such as "in no way", "undoubtedly")."""
    frag = text[start:end]
    kinds = _hedge_kinds()
    found: list[tuple[int, int, str]] = []
    matches = [(m, None) for m in _hedge_regex().finditer(frag)] + [(m, HEDGE) for m in _APPROX.finditer(frag)]
    for m, kind in matches:
        s, e = m.span()
        while e > s and frag[e - 1].isspace():
            e -= 1
        if e > s and not any(s < b and a < e for a, b, _ in found):
            found.append((s, e, kind or kinds.get(_norm_phrase(frag[s:e]), HEDGE)))
    return sorted((start + s, start + e, k) for s, e, k in found)


# ----------------------------------------------------------------------------- sources

REPORT_LEMMAS = {
    "say", "announce", "claim", "state", "report", "tell", "declare", "confirm", "reveal", "insist", "assert",
    "allege", "add", "note", "warn", "explain", "deny", "admit", "acknowledge", "stress", "write", "estimate",
    "argue", "tweet", "testify", "maintain", "indicate", "suggest", "believe", "contend", "charge", "accuse",
    "emphasize", "emphasise", "predict", "promise", "vow", "threaten", "boast", "concede", "disclose", "quote",
}


def sentence_sources(doc: Document, spans: list[tuple[int, int]]) -> list[str]:
    """For each sentence span, the actor id who vouches for it, or "author"."""
    from redline.components.relations import _Extractor

    sp = parse(doc)
    ex = _Extractor(doc)
    out = []
    for s, e in spans:
        span = sp.char_span(s, e, alignment_mode="expand")
        source = "author"
        if span is not None:
            for tok in span:
                if tok.lower_ == "according":
                    to = next((c for c in tok.children if c.lower_ == "to"), None)
                    if to is not None:
                        actors = [a for g in to.children if g.dep_ == "pobj" for a in ex.actors_of(g)]
                        if actors:
                            source = actors[0]
                            break
                if tok.pos_ == "VERB" and tok.lemma_.lower() in REPORT_LEMMAS:
                    has_clause = any(c.dep_ in ("ccomp", "xcomp", "parataxis") for c in tok.children) or \
                        tok.dep_ in ("parataxis",) or any(t.text in "\"“”" for t in span)
                    if not has_clause:
                        continue
                    actors = ex.subject_of(tok)
                    if actors:
                        source = actors[0]
                        break
        out.append(source)
    return out


# ----------------------------------------------------------------------------- component

@register("claims")
class ClaimFinder:
    """Check-worthy sentences with their source and hedges."""

    name = "claims"
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __init__(self, model_dir: str | Path | None = None, min_score: float | None = None, min_words: int = 4):
        self.model = load_claim_model(model_dir)
        self.min_score = self.model.threshold if min_score is None else float(min_score)
        self.min_words = min_words
        check_head(self.model.config, "claims", "redline train-claims")

    def __call__(self, doc: Document) -> Document:
        spans = sentences(doc)
        keep = [i for i, (s, e) in enumerate(spans) if len(doc.text[s:e].split()) >= self.min_words]
        doc.claims = []
        if keep:
            enc = sentence_encodings(doc)
            texts = [doc.text[spans[i][0]:spans[i][1]] for i in keep]
            scores = self.model.predict_features(claim_features([enc[i] for i in keep], texts))
            chosen = [(i, float(p)) for i, p in zip(keep, scores) if p >= self.min_score]
            sources = sentence_sources(doc, [spans[i] for i, _ in chosen])
            for (i, p), src in zip(chosen, sources):
                s, e = spans[i]
                hedges = [doc.mention(a, b, kind=k) for a, b, k in find_hedges(doc.text, s, e)]
                doc.claims.append(Claim(start=s, end=e, text=doc.text[s:e], checkworthiness=p, source=src,
                                        hedges=hedges))
        cfg = self.model.config
        doc.model["claims"] = {"name": cfg.get("name", "redline-claims"), "encoder": cfg.get("encoder"),
                               "min_score": round(self.min_score, 4), "validation": cfg.get("validation", {})}
        return doc


def read_clef_lines(path: Path | str) -> list[tuple[str, str, str, int | None]]:
    """CLEF CheckThat! lines: (line, speaker, text, label or None)."""
    rows = []
    for _, parts in tsv_rows(path, 3, "line<TAB>speaker<TAB>text[<TAB>label]"):
        label = None
        if len(parts) >= 4 and parts[3].strip() in ("0", "1"):
            label = int(parts[3].strip())
        rows.append((parts[0].strip(), parts[1], parts[2], label))
    return rows


def score_lines(path: Path | str, model_dir: str | Path | None = None) -> list[tuple[str, float]]:
    """Check-worthiness of every line of a CLEF-format file, in file order."""
    rows = read_clef_lines(path)
    model = load_claim_model(model_dir)
    scores = model.score_texts([r[2] for r in rows])
    return [(r[0], float(p)) for r, p in zip(rows, scores)]
