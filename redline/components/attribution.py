"""Attribution: who vouches for each sentence of an article (reported speech).

Used by the claims component. Everything is read from the spaCy parse already cached on
the document; nothing here runs the encoder.

How a sentence gets its speaker:

1. Cues. A token is a candidate reporting cue when its (lemma, POS) is in the cue lexicon
   learned from PolNeAR train (`redline.training.attribution`), e.g. say/VERB, claim/VERB,
   tell/VERB, announce/VERB, warn/VERB, according/VERB ("according to"). The lexicon
   stores each entry's reliability: the share of its train occurrences that were cues.
2. Sources. For each cue, the candidate source phrases the parse offers (its subject,
   also after the verb in "..., said X"; the object of "according to"; a "by" agent; the
   possessor or "of" phrase of a noun cue; the noun an "acl"/"relcl" cue hangs from; the
   subject inherited through "xcomp"/"conj"; its object, as a negative). A logistic
   regression fitted on PolNeAR train scores each (cue, source) pair from parse features;
   the best pair per cue is kept when its probability reaches the model's threshold.
   A cue whose speaker is a personified abstraction ("the facts say", "history shows",
   "according to the evidence") proposes no pair: that is the author arguing, not a
   source (documents, polls and institutions remain sources).
3. Sentences. A kept cue attributes its own sentence when the reported content (the cue's
   clausal complement, or for inversions and "according to" the rest of the sentence)
   covers a good part of it; cues inside quotation marks (nested speech) give way to the
   speaker outside them, and a report or statement that only relays what an actor said
   ("She told police that ..., the report said") gives way to that actor. A quotation
   spanning several sentences takes the speaker named before or after it, and a sentence
   that continues a quotation after an attributed quoted sentence keeps that speaker.
4. Pronoun speakers ("he said", "they claimed") go, in order, to the most recent
   compatible speaker in the previous two sentences (so "He said they came and went
   around 3am" after "The garage manager said ..." is the manager's), else to the actor
   the actors component resolved the pronoun to, else to the nearest preceding person
   (or, for "they"/"it", organisation or group). The source span is then the nearest
   full mention of that speaker before the pronoun.

A source that is no actor of the article ("a spokesman", "sources") still gives an
attribution, with `actor=None`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redline.components.actors import actor_index
from redline.components.nlp import parse, sentence_index
from redline.doc import Attribution, Document
from redline.errors import ModelError
from redline.models import load_once

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "attribution"
MODEL_FILE = "attribution.json"

SUBJ_DEPS = ("nsubj", "nsubjpass", "csubj")
PERSON_PRONOUNS = {"he", "him", "she", "her"}
PLURAL_PRONOUNS = {"they", "them"}
THING_PRONOUNS = {"it"}
FIRST_SECOND = {"i", "me", "we", "us", "you"}
# Abstractions an author makes speak for the argument ("the facts say", "history teaches",
# "the numbers show", "science tells us"); not data, polls or studies, which PolNeAR and
# readers take as sources.
RHETORICAL_SPEAKERS = {"fact", "evidence", "truth", "reality", "history", "number", "math", "mathematics",
                       "arithmetic", "logic", "science", "experience"}
OPEN_QUOTES = "“«"
CLOSE_QUOTES = "”»"
QUOTE_CHARS = {'"', "“", "”", "«", "»", "''", "``"}  # as spaCy tokens
# How the source candidate relates to the cue (one-hot features, in this order).
RELATIONS = ("subj", "passive_subj", "agent", "according", "poss", "of", "head", "inherited", "object", "compound",
             "left_noun")
SPEAKER_RELATIONS = ("subj", "passive_subj", "agent", "according", "head", "inherited")
CLAUSAL = ("ccomp", "xcomp", "parataxis")
# A signature after a quotation: a dash, then a name of a few capitalised words (and commas).
_SIGNATURE = re.compile(r"[ \t]*(?P<dash>[―—–]|--?)[ \t]*(?P<name>[A-Z][\w.'’-]*(?:[ \t,]+[\w.'’-]+){0,7}?)[ \t]*\.?[ \t]*$")
# A speaker label opening a line: "Sanders: ...", "PENCE: ...", "Sen. Ted Cruz (R-Texas): ..."
_SPEAKER_LABEL = re.compile(r"[ \t]*(?P<name>[A-Z][\w.'’-]*(?:[ \t]+[A-Z][\w.'’-]*){0,3}(?:[ \t]+\([^()\n]{1,20}\))?)"
                            r"[ \t]*(?P<colon>:)[ \t]+\S")
MIN_CUE_RELIABILITY = 0.1  # below this a lemma is never a candidate (keeps the pair list short)
XCOMP_MIN_RELIABILITY = 0.5  # see _coverage
RELIABLE_CUE = 0.5  # lexicon reliability of a speech cue (say 0.85, tell 0.69, decide 0.25, want 0.17)
SPINE_DEPTH = 2  # how deep a speech cue may sit and still vouch for its sentence
MIN_COVERAGE = 0.4  # share of a sentence's words a cue's content must cover to attribute the sentence


def cue_key(tok) -> tuple[str, str]:
    """The lexicon key of a token: (lowercased lemma, coarse POS)."""
    return tok.lemma_.lower(), tok.pos_


# ----------------------------------------------------------------------------- model

class CueLexicon:
    """Cue reliabilities and speaker nouns learned from PolNeAR train."""

    def __init__(self, model: dict):
        self.cues = {tuple(k.rsplit("/", 1)): float(v["reliability"]) for k, v in model.get("cues", {}).items()}
        self.speaker_nouns = {w: float(v["share"]) for w, v in model.get("speaker_nouns", {}).items()}

    def reliability(self, tok) -> float:
        return self.cues.get(cue_key(tok), 0.0)


class PairScorer:
    """Standardise -> logistic regression over `pair_features`."""

    def __init__(self, weights: dict):
        self.mean = np.asarray(weights["mean"], np.float32)
        self.scale = np.asarray(weights["scale"], np.float32)
        self.coef = np.asarray(weights["coef"], np.float32)
        self.intercept = float(weights["intercept"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0, np.float32)
        z = ((np.asarray(X, np.float32) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


class LexiconRuleScorer:
    """The rule alternative to `PairScorer` (for comparison in bench/attribution.py): a
    pair scores the cue's learned reliability when the candidate is its speaker by syntax
    (subject, "according to", "by" agent, inherited subject, the noun of "officials who
    said", the noun right before it) and the cue is not inside a quotation; else 0."""

    def __init__(self):
        col = FEATURE_NAMES.index
        self.reliability = col("cue_reliability")
        self.in_quotes = col("cue_in_quotes")
        self.speaker = [col(f"rel_{r}") for r in SPEAKER_RELATIONS + ("left_noun",) if r != "passive_subj"]

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32)
        if len(X) == 0:
            return np.zeros(0, np.float32)
        ok = (X[:, self.speaker].sum(axis=1) > 0) & (X[:, self.in_quotes] == 0)
        return np.where(ok, X[:, self.reliability], 0.0)


class AttributionModel:
    def __init__(self, folder: Path | str):
        path = Path(folder) / MODEL_FILE
        try:
            self.config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"no attribution model at {path}: {exc}; run `python -m redline.training.attribution`") \
                from exc
        if self.config.get("features") != FEATURE_NAMES:
            raise ModelError(f"the attribution model at {path} was fitted on other features; "
                             "run `python -m redline.training.attribution`")
        self.lexicon = CueLexicon(self.config)
        self.scorer = PairScorer(self.config["scorer"])
        self.threshold = float(self.config.get("threshold", 0.5))


def load_attribution_model(folder: Path | str | None = None) -> AttributionModel:
    return load_once(AttributionModel, folder, "REDLINE_ATTRIBUTION_MODEL", DEFAULT_MODEL_DIR)


# ----------------------------------------------------------------------------- candidates

@dataclass
class Pair:
    """A candidate (cue, source) pair proposed by the parse."""

    cue: object  # spaCy Token
    source: object  # head token of the source phrase
    source_start: int
    source_end: int
    relation: str  # one of RELATIONS


def _phrase_span(head, stop=None) -> tuple[int, int]:
    """Char span of a noun phrase: the head's subtree within its sentence, without the
    stop token's subtree (the cue, when the phrase contains it), relative and participle
    clauses, or edge punctuation."""
    sent = head.sent
    banned: set[int] = set()
    if stop is not None and stop.i != head.i and any(a.i == head.i for a in stop.ancestors):
        banned |= {t.i for t in stop.subtree}  # "officials speaking on condition ...": not the cue's words
    for c in head.children:
        if c.dep_ in ("relcl", "acl") and c.i > head.i:
            banned |= {t.i for t in c.subtree}
    toks = [t for t in head.subtree if sent.start <= t.i < sent.end and t.i not in banned]
    # keep the contiguous run around the head
    ids = sorted(t.i for t in toks)
    lo = hi = head.i
    idset = set(ids)
    while lo - 1 in idset:
        lo -= 1
    while hi + 1 in idset:
        hi += 1
    doc = head.doc
    while lo < hi and (doc[lo].is_punct or doc[lo].is_space or doc[lo].dep_ == "cc"):
        lo += 1
    while hi > lo and (doc[hi].is_punct or doc[hi].is_space or doc[hi].dep_ == "cc"):
        hi -= 1
    return doc[lo].idx, doc[hi].idx + len(doc[hi].text)


def _pobj(prep):
    return [g for g in prep.children if g.dep_ == "pobj"]


def candidate_pairs(sp, lexicon: CueLexicon):
    """Every (cue, source candidate) pair in a parsed text, in text order."""
    text = sp.text  # spaCy rebuilds it on every access
    for tok in sp:
        if tok.is_punct or tok.is_space or lexicon.reliability(tok) < MIN_CUE_RELIABILITY:
            continue
        found: list[tuple[object, str]] = [(g, "according") for g in _according_objects(tok)]
        subject_ids = {c.i for c in _subjects(tok)}
        has_subject = False
        for c in tok.children:
            if c.dep_ in SUBJ_DEPS and c.i not in subject_ids:
                continue  # the parse's misplaced object of a relative clause (`_subjects`)
            if c.dep_ in SUBJ_DEPS:
                if c.tag_ in ("WDT", "WP") and tok.dep_ == "relcl":
                    found.append((tok.head, "head"))  # "officials who said": the noun
                else:
                    found.append((c, "passive_subj" if c.dep_ == "nsubjpass" else "subj"))
                has_subject = True
            elif c.dep_ == "agent":
                found += [(g, "agent") for g in _pobj(c)]
            elif c.dep_ in ("dobj", "dative", "iobj"):
                targets = _pobj(c) if c.pos_ == "ADP" else [c]
                found += [(g, "object") for g in targets if g.pos_ in ("NOUN", "PROPN", "PRON")]
            elif c.dep_ == "poss":
                found.append((c, "poss"))
            elif c.dep_ == "prep" and c.lower_ in ("of", "from", "by") and tok.pos_ == "NOUN":
                found += [(g, "of") for g in _pobj(c)]
            elif c.dep_ == "compound" and tok.pos_ == "NOUN" and c.pos_ in ("PROPN", "NOUN"):
                found.append((c, "compound"))
        if not has_subject and tok.head.i != tok.i:
            head = tok.head
            if tok.dep_ == "acl" and head.pos_ in ("NOUN", "PROPN", "PRON"):
                found.append((head, "head"))  # "a statement saying", "officials speaking"
            elif tok.dep_ == "pcomp" and head.dep_ == "prep" and head.head.pos_ in ("VERB", "AUX"):
                head = head.head  # "began by saying": the subject of "began"
            if tok.dep_ in ("xcomp", "conj", "advcl", "pcomp") and head.pos_ in ("VERB", "AUX"):
                found += [(c, "inherited") for c in _subjects(head) if c.dep_ == "nsubj"]
        if any(_rhetorical(src) for src, rel in found if rel in SPEAKER_RELATIONS and rel != "passive_subj"):
            continue  # "the facts say", "according to the evidence": the author's own voice
        # A parse may run a headline into the next line; a source on another line is no source.
        found = [(src, rel) for src, rel in found if src.i != tok.i and _same_line(text, src.idx, tok.idx)]
        if tok.pos_ == "VERB" and not any(rel in SPEAKER_RELATIONS for _, rel in found):
            left = _noun_run_before(tok, text)
            if left is not None:
                yield Pair(tok, left[0], left[1], left[2], "left_noun")
        for src, relation in found:
            s, e = _phrase_span(src, stop=tok)
            yield Pair(tok, src, s, e, relation)


def _according_objects(cue) -> list:
    """The source of "according to X": X (none for any other cue)."""
    if cue.lower_ != "according":
        return []
    found = [g for c in cue.children if c.lower_ == "to" for g in _pobj(c)]
    if not found and cue.i + 1 < len(cue.doc) and cue.nbor(1).lower_ == "to":
        found = _pobj(cue.nbor(1))  # "according to" parsed with "to" as the head's sibling
    return found


def _subjects(verb) -> list:
    """The verb's subjects, without one that is really the object of another subject's
    relative clause: in "A neighbor who heard the gunfire said ...", spaCy may hang
    "gunfire" on "said" as a second subject, right where the clause "who heard" ends. A
    verb has one subject; the one the clause leaves stranded is not it."""
    subjects = [c for c in verb.children if c.dep_ in SUBJ_DEPS]
    stranded = set()
    for subject in subjects:
        for clause in subject.children:
            if clause.dep_ in ("relcl", "acl") and clause.i > subject.i:
                clause_end = max(t.i for t in clause.subtree)
                stranded |= {other.i for other in subjects
                             if other.i != subject.i and other.left_edge.i == clause_end + 1}
    return [c for c in subjects if c.i not in stranded]


def _rhetorical(src) -> bool:
    """A personified abstraction as the speaker ("the facts on the ground say", "history
    shows", "according to the evidence"): a figure of the author's own argument, not a
    source. Documents, polls and institutions are sources ("the report said"), and so is
    someone's record ("the ministry's figures show", hence no possessor)."""
    return src.pos_ == "NOUN" and src.lemma_.lower() in RHETORICAL_SPEAKERS and \
        not any(c.dep_ == "poss" for c in src.children)


def _same_line(text: str, a: int, b: int) -> bool:
    return "\n" not in text[min(a, b):max(a, b)]


def _noun_run_before(cue, text: str):
    """(head, start, end) of the noun phrase right before a cue on its line ("Vladimir
    Putin said" where the parse lost the subject), or None."""
    doc = cue.doc

    def on_cue_line(i: int) -> bool:
        return _same_line(text, doc[i].idx, cue.idx)

    j = cue.i - 1
    while j >= 0 and doc[j].tag_ in ("RB", "MD") and on_cue_line(j):
        j -= 1
    if j < 0 or doc[j].pos_ not in ("PROPN", "NOUN", "PRON") or not on_cue_line(j):
        return None
    k = j
    if doc[j].pos_ != "PRON":  # a name or noun: take its modifiers ("the garage manager")
        while k - 1 >= 0 and doc[k - 1].pos_ in ("PROPN", "NOUN", "ADJ", "DET") and doc[k - 1].tag_ != "PRP" \
                and on_cue_line(k - 1):
            k -= 1
    return doc[j], doc[k].idx, doc[j].idx + len(doc[j].text)


# ----------------------------------------------------------------------------- features

FEATURE_NAMES = (
    ["cue_reliability", "cue_logit", "cue_verb", "cue_noun", "cue_other_pos", "cue_past", "cue_present",
     "cue_gerund", "cue_participle", "cue_root", "cue_clausal_dep", "cue_relcl_acl", "cue_has_ccomp",
     "cue_has_quote_child", "cue_negated", "cue_in_quotes", "sentence_has_quotes"]
    + [f"rel_{r}" for r in RELATIONS]
    + ["src_after_cue", "src_pron_person", "src_pron_plural", "src_pron_it", "src_pron_first", "src_propn",
       "src_ent_person", "src_ent_org", "src_ent_gpe_norp", "src_speaker_noun", "src_plural", "src_wh",
       "src_log_tokens", "log_distance"]
)


def _in_quotes(tok) -> bool:
    """Whether a token sits between quotation marks (see `_quote_regions`); the mask is
    cached on the spaCy Doc."""
    cache = getattr(tok.doc, "user_data", None)
    key = "redline_quote_mask"
    if cache is not None and key in cache:
        mask = cache[key]
    else:
        mask = _quote_mask(tok.doc.text)
        if cache is not None:
            cache[key] = mask
    return bool(mask[tok.idx]) if tok.idx < len(mask) else False


_QUOTE_MARK = re.compile(r"''|``|[\"“”«»]")


def _quote_regions(text: str) -> list[tuple[int, int]]:
    """Quoted stretches, (start, end) inside the marks. Curly quotes and guillemets open and
    close; straight double quotes and the double apostrophes of some archives ('' and ``)
    alternate; a closing mark with no quote open opens one (a common typo); an unclosed
    quote runs to the end of its paragraph."""
    out = []
    pos = 0
    for para in text.split("\n"):
        open_at = -1
        for m in _QUOTE_MARK.finditer(para):
            mark = m.group()
            if open_at < 0:
                if mark not in ("»",):
                    open_at = m.end()
            elif mark not in ("“", "«", "``"):
                if m.start() > open_at:
                    out.append((pos + open_at, pos + m.start()))
                open_at = -1
        if 0 <= open_at < len(para):
            out.append((pos + open_at, pos + len(para)))
        pos += len(para) + 1
    return out


def _quote_mask(text: str) -> np.ndarray:
    mask = np.zeros(len(text) + 1, dtype=bool)
    for s, e in _quote_regions(text):
        mask[s:e] = True
    return mask


def pair_features(pair: Pair, lexicon: CueLexicon) -> list[float]:
    cue, src = pair.cue, pair.source
    r = lexicon.reliability(cue)
    sent = cue.sent
    f = [
        r, math.log((r + 1e-3) / (1 - r + 1e-3)),
        float(cue.pos_ == "VERB"), float(cue.pos_ == "NOUN"), float(cue.pos_ not in ("VERB", "NOUN")),
        float(cue.tag_ == "VBD"), float(cue.tag_ in ("VBZ", "VBP")), float(cue.tag_ == "VBG"),
        float(cue.tag_ == "VBN"), float(cue.dep_ == "ROOT"), float(cue.dep_ in CLAUSAL),
        float(cue.dep_ in ("relcl", "acl")), float(any(c.dep_ in ("ccomp", "xcomp") for c in cue.children)),
        float(any(t.text in QUOTE_CHARS for c in cue.children if c.dep_ in CLAUSAL for t in c.subtree)),
        float(any(c.dep_ == "neg" for c in cue.children)), float(_in_quotes(cue)),
        float(any(t.text in QUOTE_CHARS for t in sent)),
    ]
    f += [float(pair.relation == rel) for rel in RELATIONS]
    low = src.lower_
    ent = src.ent_type_
    f += [
        float(src.i > cue.i), float(low in PERSON_PRONOUNS), float(low in PLURAL_PRONOUNS),
        float(low in THING_PRONOUNS), float(low in FIRST_SECOND), float(src.pos_ == "PROPN"),
        float(ent == "PERSON"), float(ent == "ORG"), float(ent in ("GPE", "NORP")),
        lexicon.speaker_nouns.get(src.lemma_.lower(), 0.0), float(src.tag_ in ("NNS", "NNPS")),
        float(src.tag_ in ("WDT", "WP")),
        math.log1p(len(src.doc.char_span(pair.source_start, pair.source_end, alignment_mode="expand") or [])),
        math.log1p(abs(src.i - cue.i)),
    ]
    return f


# ----------------------------------------------------------------------------- per document

@dataclass
class Found:
    """A kept cue with its speaker, as written and as resolved."""

    cue_start: int
    cue_end: int
    speaker_start: int  # the source phrase as written (a pronoun stays a pronoun)
    speaker_end: int
    source_start: int  # the mention that names the speaker (a pronoun's antecedent)
    source_end: int
    actor: str | None
    score: float
    sentence: int  # index into the sentence spans
    coverage: float  # share of the sentence's words the reported content covers
    in_quotes: bool  # the cue sits inside a quotation (nested speech)
    pronoun: str = ""  # the speaker pronoun, lowercased, when it is one
    speaker_kind: str = ""  # person | plural | thing: what a later pronoun may refer to it as
    depth: int = 0  # how deep the cue sits in its sentence's tree (the outermost cue wins)
    top_level: bool = False  # the cue is the sentence's main verb (or an inserted "X said")
    reliability: float = 1.0  # the cue lexicon's reliability for the cue word
    cue_token: int = -1  # the cue's token index in the parse
    reports_to: int = -1  # the token index of the cue whose reported clause this cue heads, else -1


def _cue_span(cue) -> tuple[int, int]:
    """The cue words: the token, with "to" for "according to" and a particle ("pointed out")."""
    s, e = cue.idx, cue.idx + len(cue.text)
    for c in cue.children:
        if (c.lower_ == "to" and cue.lower_ == "according") or c.dep_ == "prt":
            if c.i == cue.i + 1:
                e = c.idx + len(c.text)
    if cue.lower_ == "according" and cue.i + 1 < len(cue.doc) and cue.nbor(1).lower_ == "to":
        e = cue.nbor(1).idx + len(cue.nbor(1).text)
    return s, e


def _coverage(cue, relation: str, lexicon: CueLexicon) -> float:
    """Share of the sentence's words that the cue reports (its content)."""
    sent = cue.sent
    words = [t for t in sent if not (t.is_punct or t.is_space)]
    if not words:
        return 0.0
    # An infinitive complement reports speech only for reliable cues ("vowed to build"),
    # not for intentions ("decided to develop"), which are the author's account.
    reported = CLAUSAL if lexicon.reliability(cue) >= XCOMP_MIN_RELIABILITY else ("ccomp", "parataxis")
    if relation == "according":
        own = {t.i for t in cue.subtree}
    elif cue.dep_ in ("ROOT", "parataxis"):
        # "X said that ...", "..., X said", "... ,said X": everything but the cue's own words
        own = {cue.i}
        for c in cue.children:
            if c.dep_ not in reported + ("dobj",):
                own |= {t.i for t in c.subtree}
        if not any(c.dep_ in reported for c in cue.children) and cue.dep_ == "ROOT" and \
                not any(t.text in QUOTE_CHARS for t in sent):
            return 0.0  # "Iran decided to ...", "He announced the plan": no proposition reported
        if cue.dep_ != "ROOT":
            own |= {t.i for t in cue.subtree if t.i != cue.i and not any(
                a.dep_ in reported + ("dobj",) and a.head.i == cue.i for a in [t] + list(t.ancestors))}
    else:
        content = {t.i for c in cue.children if c.dep_ in reported for t in c.subtree}
        return len([t for t in words if t.i in content]) / len(words)
    return len([t for t in words if t.i not in own]) / len(words)


def _speaker_kind(tok, actor_type: str | None) -> str:
    """What a later pronoun may call this speaker: "person" (he/she), "plural" (they) or
    "thing" (it, also they)."""
    if actor_type == "PERSON" or tok.ent_type_ == "PERSON" or tok.lower_ in PERSON_PRONOUNS:
        return "person"
    if tok.tag_ in ("NNS", "NNPS") or tok.lower_ in PLURAL_PRONOUNS or actor_type in ("GROUP", "NORP"):
        return "plural"
    if actor_type in ("ORG", "GPE") or tok.ent_type_ in ("ORG", "GPE", "NORP") or tok.lower_ in THING_PRONOUNS:
        return "thing" if tok.tag_ not in ("NNS", "NNPS") else "plural"
    return "person" if tok.pos_ == "NOUN" else "thing"


_MALE_TITLE = re.compile(r"\b(?:Mr|Sir|Lord|King|Prince)\b\.?")
_FEMALE_TITLE = re.compile(r"\b(?:Ms|Mrs|Miss|Madam|Lady|Queen|Princess)\b\.?")


def _fits(pronoun: str, kind: str, name: str = "") -> bool:
    """Whether a speaker pronoun may refer to a speaker of this kind (and, where the name
    carries an honorific, this gender)."""
    if pronoun in PERSON_PRONOUNS:
        if pronoun in ("she", "her") and _MALE_TITLE.search(name) or \
                pronoun in ("he", "him") and _FEMALE_TITLE.search(name):
            return False
        return kind == "person"
    if pronoun in PLURAL_PRONOUNS:
        return kind in ("plural", "thing")  # "they" for an organisation is common in news
    return kind == "thing"


class _Attributor:
    def __init__(self, doc: Document, spans: list[tuple[int, int]], model: AttributionModel):
        self.doc = doc
        self.sp = parse(doc)
        self.spans = spans
        self.model = model
        self.index = actor_index(doc)
        self.actor_type = {a.id: a.type for a in doc.actors}

    # ------------------------------------------------------------ actors of a phrase
    def phrase_actor(self, head, start: int, end: int) -> str | None:
        """The actor a source phrase names: its head or an apposition ("the commander, Gen.
        Pourdastan"); for a singular head, also its possessor or "of"/"for" phrase ("the
        council's own report", "a spokesman for the ministry"), but not for a plural one
        ("Trump's critics" are not Trump); else an actor mention over the head word."""
        ta = self.index.token_actor
        pron = self.index.pronoun_actor

        def named(tok) -> str | None:
            return ta[tok.i] if tok.i in ta and tok.i not in pron else None

        if named(head):
            return named(head)
        singular = head.tag_ not in ("NNS", "NNPS")
        for c in head.children:
            if c.dep_ in ("appos", "compound") and named(c):
                return named(c)
            if singular and c.dep_ == "poss" and named(c):
                return named(c)
            if singular and c.dep_ == "prep" and c.lower_ in ("of", "for", "from", "at"):
                for g in _pobj(c):
                    if named(g):
                        return named(g)
        h_start, h_end = head.idx, head.idx + len(head.text)
        for s, e, aid in self.index.mention_actor:
            if s >= end:
                break
            if s < h_end and h_start < e and start <= s:
                return aid
        return None

    def mention_before(self, aid: str, pos: int) -> tuple[int, int] | None:
        """The nearest mention of an actor before `pos` (else its first mention)."""
        before = [(s, e) for s, e, a in self.index.mention_actor if a == aid and s < pos]
        if before:
            return before[-1]
        after = [(s, e) for s, e, a in self.index.mention_actor if a == aid]
        return after[0] if after else None

    # ------------------------------------------------------------ cues
    def sentence_of(self, pos: int) -> int:
        return sentence_index(self.spans, pos)

    def found(self) -> list[Found]:
        lex = self.model.lexicon
        pairs = list(candidate_pairs(self.sp, lex))
        if not pairs:
            return []
        probs = self.model.scorer.predict(np.asarray([pair_features(p, lex) for p in pairs], np.float32))
        best: dict[int, tuple[float, Pair]] = {}
        for p, pr in zip(pairs, probs):
            if pr >= self.model.threshold and (p.cue.i not in best or pr > best[p.cue.i][0]):
                best[p.cue.i] = (float(pr), p)
        out: list[Found] = []
        for _, (pr, p) in sorted(best.items()):
            out.append(self.resolve(p, pr, out))
        return out

    def resolve(self, p: Pair, score: float, earlier: list[Found]) -> Found:
        cs, ce = _cue_span(p.cue)
        sent_i = self.sentence_of(p.cue.idx)
        low = p.source.lower_
        src_span = (p.source_start, p.source_end)
        actor = None
        pronoun = ""
        if low in FIRST_SECOND and p.source.pos_ == "PRON":
            pronoun = low
            kind = "plural" if low in ("we", "us") else "person"
        elif low in PERSON_PRONOUNS | PLURAL_PRONOUNS | THING_PRONOUNS and p.source.pos_ == "PRON":
            pronoun = low
            src_span, actor, kind = self.resolve_pronoun(p.source, sent_i, earlier)
        else:
            actor = self.phrase_actor(p.source, *src_span)
            kind = _speaker_kind(p.source, self.actor_type.get(actor) if actor else None)
        cov = _coverage(p.cue, p.relation, self.model.lexicon)
        top = p.cue.dep_ == "ROOT" or (p.cue.dep_ == "parataxis" and p.cue.head.dep_ == "ROOT") or \
            p.relation == "according" and p.cue.head.dep_ == "ROOT"
        return Found(cs, ce, p.source_start, p.source_end, src_span[0], src_span[1], actor, score, sent_i,
                     cov, _in_quotes(p.cue), pronoun, kind, depth=sum(1 for _ in p.cue.ancestors),
                     top_level=top and cov > 0, reliability=self.model.lexicon.reliability(p.cue),
                     cue_token=p.cue.i, reports_to=p.cue.head.i if p.cue.dep_ in ("ccomp", "parataxis") else -1)

    def resolve_pronoun(self, tok, sent_i: int, earlier: list[Found]):
        """(source span, actor, kind) for a pronoun speaker; see the module docstring, step 4."""
        pronoun = tok.lower_
        for f in reversed(earlier):  # the same speaker going on: "The manager said ... He said ..."
            if sent_i - f.sentence > 2:
                break
            name = self.doc.text[f.source_start:f.source_end]
            if f.pronoun not in FIRST_SECOND and f.source_start < tok.idx and _fits(pronoun, f.speaker_kind, name):
                return (f.source_start, f.source_end), f.actor, f.speaker_kind
        aid = self.index.pronoun_actor.get(tok.i)
        if aid:
            span = self.mention_before(aid, tok.idx)
            if span and _fits(pronoun, "person" if pronoun in PERSON_PRONOUNS else "thing",
                              self.doc.text[span[0]:span[1]]):
                return span, aid, _speaker_kind(tok, self.actor_type.get(aid))
        # the nearest preceding fitting name in this or the two previous sentences
        first = self.spans[max(sent_i - 2, 0)][0]
        for ent in reversed([e for e in self.sp.ents if first <= e.start_char < tok.idx]):
            kind = "person" if ent.label_ == "PERSON" else "thing" if ent.label_ in ("ORG", "GPE") else ""
            if kind and _fits(pronoun, kind, ent.text):
                aid = self.phrase_actor(ent.root, ent.start_char, ent.end_char)
                return (ent.start_char, ent.end_char), aid, kind
        return (tok.idx, tok.idx + len(tok.text)), None, _speaker_kind(tok, None)

    # ------------------------------------------------------------ sentences
    def sentences(self) -> list[Found | None]:
        found = self.found()
        n = len(self.spans)
        own: list[Found | None] = [None] * n
        for f in found:
            cur = own[f.sentence]
            if f.pronoun in FIRST_SECOND and not f.in_quotes:
                continue  # "I knew", "we think": the author's own voice; "you think": the reader's
            if not self.attributes_sentence(f):
                continue
            # outside quotes beats inside (nested speech); then the outermost cue ("X said
            # he hopes ..."), then the wider content, then the score
            if cur is None or self.rank(f) > self.rank(cur):
                own[f.sentence] = f
        for f in found:
            cur = own[f.sentence]
            if cur is not None and self.relays(cur, f):
                own[f.sentence] = f
        out = list(own)
        quoted = self.quoted_sentences()
        # A quotation over several sentences: its speaker is named where it opens or closes.
        for qs, qe, members in quoted:
            speaker = self.quote_speaker(qs, qe, members, found)
            if speaker is None:
                continue
            for i in members:
                if out[i] is None or out[i].in_quotes:
                    out[i] = speaker
        # "Sanders: Clinton needs to ...", "PENCE: Well, look, ...": a speaker label opens the
        # line, and everything on it is that speaker's turn (cues on it are nested speech).
        for i, f in self.labelled_lines():
            out[i] = f
        # A quoted sentence right after an attributed sentence that quotes: the same speaker
        # goes on ('"...," Mr. Obama said. "Democracy is on the ballot."').
        in_quote = {i for _, _, members in quoted for i in members}
        quoting = set(in_quote)
        for qs, qe in _quote_regions(self.doc.text):
            quoting |= {self.sentence_of(qs), self.sentence_of(max(qe - 1, qs))}
        for i in range(1, n):
            if out[i] is None and i in in_quote and out[i - 1] is not None and i - 1 in quoting:
                out[i] = out[i - 1]
        return out

    @staticmethod
    def attributes_sentence(f: Found) -> bool:
        """A kept cue vouches for its whole sentence when it reports most of it, or is the
        main verb, or is a speech cue (reliable in the lexicon: "said", "told", "called
        for") on the sentence's spine rather than deep in a subordinate clause."""
        return f.coverage >= MIN_COVERAGE or f.top_level or \
            (f.reliability >= RELIABLE_CUE and f.depth <= SPINE_DEPTH)

    @staticmethod
    def relays(outer: Found, inner: Found) -> bool:
        """Whether the outer source only passes on what an actor of the article said: in "She
        told police that he threatened her, the report said", the report relays her words and
        the claim is hers. The inner cue heads the outer one's reported clause and is a speech
        cue outside quotation marks; the outer speaker is a single source the article does not
        cast (a report, a statement, a spokesman), the inner one an actor. Actors and groups
        keep what they report ("Trump said Clinton described ...", "Other leaders denounce
        ..."): PolNeAR, like a reader, credits the outer voice there."""
        return inner.reports_to == outer.cue_token and inner.reliability >= RELIABLE_CUE and \
            not inner.in_quotes and not outer.in_quotes and inner.actor is not None and \
            outer.actor is None and not outer.pronoun and outer.speaker_kind != "plural"

    @staticmethod
    def rank(f: Found) -> tuple:
        # outside quotes first; a speech cue before an intention ("Mr. Clarke said, he
        # decided to ..."); then the outermost, the widest content, the surest
        return (not f.in_quotes, f.reliability >= RELIABLE_CUE, -f.depth, f.coverage, f.score)

    def quoted_sentences(self) -> list[tuple[int, int, list[int]]]:
        """Quotations with the sentences that lie mostly inside them."""
        out = []
        for qs, qe in _quote_regions(self.doc.text):
            members = []
            for i in range(self.sentence_of(qs), len(self.spans)):
                s, e = self.spans[i]
                if s >= qe:
                    break
                if min(e, qe) - max(s, qs) >= 0.5 * (e - s):
                    members.append(i)
            if members:
                out.append((qs, qe, members))
        return out

    def quote_speaker(self, qs: int, qe: int, members: list[int], found: list[Found]) -> Found | None:
        """The kept cue outside the quotation, in a sentence that touches it or right after it."""
        first, last = self.sentence_of(qs), self.sentence_of(max(qe - 1, qs))
        # a speech cue introduces a quotation wherever the parse hung it ('"...," said X,
        # senior counsel at ...' can come out deep in a long sentence)
        near = [f for f in found if not (qs <= f.cue_start < qe) and first <= f.sentence <= last
                and (self.attributes_sentence(f) or f.reliability >= RELIABLE_CUE)]
        if near:
            return min(near, key=lambda f: min(abs(f.cue_start - qs), abs(f.cue_start - qe)))
        return self.signed_quote(qe)

    def labelled_lines(self):
        """(sentence index, Found) for the sentences of lines that open with a speaker
        label: a name the parse knows (an entity or an actor) or a transcript's capitals,
        then a colon."""
        text = self.doc.text
        label_of_line: dict[int, Found | None] = {}
        for i, (s, e) in enumerate(self.spans):
            line_start = text.rfind("\n", 0, s) + 1
            if line_start not in label_of_line:
                label_of_line[line_start] = self.speaker_label(line_start)
            if label_of_line[line_start] is not None:
                yield i, label_of_line[line_start]

    def speaker_label(self, line_start: int) -> Found | None:
        text = self.doc.text
        m = _SPEAKER_LABEL.match(text, line_start)
        if not m:
            return None
        ns, ne = m.span("name")
        span = self.sp.char_span(ns, ne, alignment_mode="expand")
        if span is None:
            return None
        named = any(t.ent_type_ in ("PERSON", "ORG", "GPE", "NORP") for t in span) or \
            any(s < ne and ns < e for s, e, _ in self.index.mention_actor)
        capitals = text[ns:ne].isupper() and len(text[ns:ne]) >= 3
        if not (named or capitals):
            return None
        actor = self.phrase_actor(span.root, ns, ne)
        kind = "person" if capitals or span.root.ent_type_ == "PERSON" else "thing"
        colon = m.start("colon")
        return Found(colon, colon + 1, ns, ne, ns, ne, actor, 1.0, self.sentence_of(ns), 1.0, False, "", kind,
                     top_level=True)

    def signed_quote(self, qe: int) -> Found | None:
        """A quotation signed after a dash on its line: “...” ― Oscar P. Quintero."""
        text = self.doc.text
        line_end = text.find("\n", qe)
        line_end = len(text) if line_end < 0 else line_end
        m = _SIGNATURE.match(text, qe + 1, line_end)
        if not m:
            return None
        ns, ne = m.span("name")
        span = self.sp.char_span(ns, ne, alignment_mode="expand")
        actor = self.phrase_actor(span.root, ns, ne) if span is not None else None
        kind = "person" if span is not None and span.root.ent_type_ == "PERSON" else "thing"
        return Found(m.start("dash"), m.end("dash"), ns, ne, ns, ne, actor, 1.0, self.sentence_of(ns), 1.0,
                     False, "", kind, top_level=True)


def find_attributions(doc: Document, spans: list[tuple[int, int]], model: AttributionModel | None = None
                      ) -> list[Found | None]:
    """For each sentence span, the kept cue and speaker that vouch for it, or None."""
    if not spans:
        return []
    model = model or load_attribution_model()
    return _Attributor(doc, spans, model).sentences()


def to_attribution(doc: Document, f: Found) -> Attribution:
    return Attribution(source=doc.mention(f.source_start, f.source_end), actor=f.actor,
                       cue=doc.mention(f.cue_start, f.cue_end))


def attribute(doc: Document, spans: list[tuple[int, int]], model: AttributionModel | None = None
              ) -> list[Attribution | None]:
    """`Attribution` per sentence span (None: the author's own voice)."""
    return [to_attribution(doc, f) if f else None for f in find_attributions(doc, spans, model)]


__all__ = ["AttributionModel", "CueLexicon", "LexiconRuleScorer", "FEATURE_NAMES", "Found", "Pair", "PairScorer", "attribute",
           "candidate_pairs", "cue_key", "find_attributions", "load_attribution_model", "pair_features"]
