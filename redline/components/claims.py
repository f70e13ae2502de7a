"""Claims: the sentences that assert a checkable fact, who vouches for them, and how sure
they sound.

* Check-worthiness: a logistic-regression head over the technique encoder's frozen sentence
  states (mean pooling of its three feature layers, each L2-normalised) plus a few lexical features (numbers, years,
  money, capitalised names, reporting verbs, first/second person, modals, questions),
  trained on ClaimBuster and CLEF CheckThat! 2019/2020 debates (`redline train-claims`;
  figures in `redline/models/claims/MODEL_CARD.md`). A sentence becomes a `Claim` when
  its score reaches the model's tuned threshold (option `min_score` to change it).
  Page furniture is never a claim: cross-promotion ("Also on rt.com ...", "READ MORE:",
  "Click here", "Follow us"), photo captions and credits (a line with "©", "/ Reuters",
  "FILE PHOTO:", or a short unpunctuated line that is not the title), bylines, time stamps,
  and a sentence repeating an earlier one (a headline shown twice).
* Attribution (`redline.components.attribution`): who vouches for the sentence, learned from
  PolNeAR: reported speech ("X said/claimed/told/announced/warned ...", "..., said X",
  "according to X", "X's report says"), quotations over several sentences with the speaker
  named before or after them, a quoted sentence continuing the last speaker, pronoun
  speakers resolved to their actor. `Claim.attribution` holds the source mention (for a
  pronoun, the nearest full mention of the speaker before it), its actor id or None, and
  the cue; None means the author's own voice.
  `Claim.source` is the speaker's actor id, else "author": "author" covers both the
  author's own voice (`attribution` None) and a speaker who is no actor of the article
  ("a spokesman", "sources": `attribution.actor` None), so read `attribution` to tell them
  apart.
* Hedges: hedges and certainty markers in the sentence, from the `persuasion-index`
  lexicons HEDGES and "Actually" (booster words), minus a few words that are mostly not
  hedges in news prose ("about", "can", ...), plus our own list ("his fate is unknown",
  "reportedly", "will in no way", "undoubtedly", ...), each checked against the parse: a
  modal ("may", "might", "will", "must") only where spaCy tags it MD, and no marker inside
  a name or a date ("Theresa May", "in May", "with all its might" are no hedges).

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
from redline.components.attribution import attribute, load_attribution_model
from redline.doc import Claim, Document
from redline.errors import ModelError
from redline.io.inputs import tsv_rows
from redline.models import check_feature_width, load_once, read_npz_model
from redline.registry import register

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


# ----------------------------------------------------------------------------- markers in context

# Single words of the marker lexicons that are modal verbs: markers only when the parse
# tags them MD ("Theresa May", "the will of the people", "with all his might" are not).
MODALS = {"may", "might", "could", "would", "will", "must", "can", "cannot", "shall", "should", "won't"}
# Entity types of names: a marker word inside one is part of the name ("Theresa May").
# Not DATE: "nearly two years" is an approximation, and "in May" is caught as a proper noun.
_NAME_ENTS = {"PERSON", "ORG", "GPE", "NORP", "FAC", "LOC", "WORK_OF_ART", "EVENT", "LAW", "PRODUCT"}


def marker_in_context(sp, start: int, end: int) -> bool:
    """Whether a lexicon match at text[start:end] is a hedge or certainty marker in this
    parse: a modal must be tagged MD where the phrase starts with it; a one-word marker is
    no part of a name, nor a proper noun capitalised inside a sentence ("in May"; a
    headline's first word may be tagged PROPN and still be "Alleged")."""
    span = sp.char_span(start, end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return True
    first = span[0]
    if first.lower_.replace("’", "'") in MODALS or first.lower_ in ("ca", "wo"):  # spaCy splits "can't" / "won't"
        if first.tag_ != "MD":
            return False
    if len(span) == 1 and (first.ent_type_ in _NAME_ENTS or (
            first.pos_ == "PROPN" and first.text[:1].isupper() and not first.is_sent_start)):
        return False
    return True


def find_markers(doc: Document, start: int, end: int) -> list[tuple[int, int, str]]:
    """`find_hedges` over a sentence of `doc`, keeping only the matches its parse confirms."""
    sp = parse(doc)
    return [(a, b, k) for a, b, k in find_hedges(doc.text, start, end) if marker_in_context(sp, a, b)]


# ----------------------------------------------------------------------------- not claims

# Cross-promotion, navigation and sharing lines of news pages.
_PROMO = re.compile(
    r"^\W*(?:also on [\w.-]+\.[a-z]{2,}|read more|read also|see also|click here|follow us|follow \S+ on|"
    r"like us on|sign up (?:for|to)|subscribe to|share this|continue reading|don't miss)\b"
    # a label and a colon, or a label alone on its line: "RELATED:", "Watch the video:", "Advertisement"
    r"|^\W*(?:related|more|watch|listen|trending|recommended|sponsored|advertisement|video|photos?|gallery)"
    r"(?:\s+\w+){0,3}\s*(?::|$)", re.I)
# Photo captions and credits. Agency names alone are no credit ("a Reuters/Ipsos poll"):
# only as the end of a line ("... / Reuters"), in capitals before a slash ("REUTERS/Name"),
# or as "AP Photo". "Ã©" is a mis-decoded "é", not a copyright sign.
_CREDIT = re.compile(
    r"(?<!Ã)©|(?i:\bfile photo\b|\bgetty images\b|\bshutterstock\b|\bvia getty\b|"
    r"\b(?:photo|image|picture)s?\s+(?:credit|courtesy)\b|"
    r"^\W*(?:photo|image|picture|video|graphic|illustration)s?\s*(?:by\b|:|/)|"
    r"\b(?:ap|afp|epa|sputnik|tass|ria novosti)\s+photos?\b|"
    r"/\s*(?:reuters|afp|ap|getty images|epa|sputnik|tass|ria novosti)\s*$)|"
    r"\b(?:REUTERS|AFP|AP|EPA|SPUTNIK|TASS)\s*/")
_BYLINE = re.compile(r"^(?:by|written by|posted by|reporting by|edited by|additional reporting by)\s+[A-Z]", re.I)
_DATELINE = re.compile(r"^(?:published|updated|posted|last updated|first published)\b.{0,40}\d", re.I)


def _norm_sentence(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


_LINE_END = re.compile(r"[.!?…:;\"”’')\]]\s*$")


def not_claim_reason(text: str, seen: set[str] = frozenset(), line: str | None = None, first_line: bool = False,
                     line_has_verb: bool = True) -> str:
    """Why a sentence is page furniture rather than a claim ("" when it may be a claim):
    cross-promotion ("Also on rt.com ...", "READ MORE:"), a photo caption or credit, a
    byline or time stamp, a short unpunctuated line without a verb that is not the title
    (a caption, a heading, a name list), or a repeat of an earlier sentence (a headline
    shown twice). `line` is the whole line the sentence sits on: a caption's credit often
    ends the line, after the caption. Some outlets drop the full stops, so an unpunctuated
    line with a verb may still be a claim."""
    stripped = text.strip()
    line = (line if line is not None else text).strip()
    if _PROMO.match(line) or _PROMO.match(stripped):
        return "promotion"
    if _CREDIT.search(stripped) or (len(line.split()) <= 60 and _CREDIT.search(line)):
        return "caption"
    if _BYLINE.match(line) and len(line.split()) <= 12:
        return "byline"
    if (_DATELINE.match(line) and len(line.split()) <= 12) or (_DATELINE.match(stripped) and len(stripped.split()) <= 12):
        return "dateline"  # also a time stamp glued into a longer line ("... Published: February 11, 2018, 4:45 pm")
    if not first_line and not line_has_verb and len(line.split()) <= 20 and not _LINE_END.search(line):
        return "caption or heading"
    if _norm_sentence(stripped) in seen:
        return "repeat"
    return ""


def claim_sentences(doc: Document, spans: list[tuple[int, int]]) -> list[bool]:
    """Per sentence span, whether it may be a claim (see `not_claim_reason`)."""
    text = doc.text
    sp = parse(doc)
    seen: set[str] = set()
    out = []
    first_line_end = text.find("\n", len(text) - len(text.lstrip()))
    for s, e in spans:
        ls = text.rfind("\n", 0, s) + 1
        le = text.find("\n", e)
        le = len(text) if le < 0 else le
        on_first_line = first_line_end < 0 or s < first_line_end
        line_tokens = sp.char_span(ls, le, alignment_mode="expand") if le > ls else None
        has_verb = line_tokens is None or any(t.pos_ in ("VERB", "AUX") for t in line_tokens)
        out.append(not not_claim_reason(text[s:e], seen, text[ls:le], first_line=on_first_line,
                                        line_has_verb=has_verb))
        seen.add(_norm_sentence(text[s:e]))
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
        self.attribution_model = load_attribution_model()  # fails here, not on the first article

    def __call__(self, doc: Document) -> Document:
        spans = sentences(doc)
        may_be_claim = claim_sentences(doc, spans)
        keep = [i for i, (s, e) in enumerate(spans)
                if may_be_claim[i] and len(doc.text[s:e].split()) >= self.min_words]
        doc.claims = []
        if keep:
            enc = sentence_encodings(doc)
            texts = [doc.text[spans[i][0]:spans[i][1]] for i in keep]
            scores = self.model.predict_features(claim_features([enc[i] for i in keep], texts))
            chosen = [(i, float(p)) for i, p in zip(keep, scores) if p >= self.min_score]
            # every sentence, not only the claims: a quotation may run on from an earlier one
            attributions = attribute(doc, spans, self.attribution_model)
            for i, p in chosen:
                s, e = spans[i]
                hedges = [doc.mention(a, b, kind=k) for a, b, k in find_markers(doc, s, e)]
                att = attributions[i]
                doc.claims.append(Claim(start=s, end=e, text=doc.text[s:e], checkworthiness=p,
                                        source=att.actor if att and att.actor else "author",
                                        hedges=hedges, attribution=att))
        cfg = self.model.config
        att_cfg = self.attribution_model.config
        doc.model["claims"] = {"name": cfg.get("name", "redline-claims"), "encoder": cfg.get("encoder"),
                               "min_score": round(self.min_score, 4), "validation": cfg.get("validation", {}),
                               "attribution": {"name": att_cfg.get("name"), "trained_on": att_cfg.get("trained_on")}}
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
