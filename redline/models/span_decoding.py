"""From per-token probabilities to the spans a reader sees (issue #16).

Any token-level span model can use this module (the PTC technique head and the
23-technique head share it). Three steps, each a plain function:

1. `candidate_spans`: hysteresis over the per-token span probability. A span starts at
   a token at or above `DecodeParams.threshold` and grows over neighbours at or above
   `low`; spans are snapped to whole words and merged across short gaps on one line.
   The candidates do not depend on the reader's threshold: `--threshold` only filters
   them by their score (`filter_by_score`), so that whatever is shown at a higher
   threshold is also shown, unchanged, at any lower one.
2. Boundary rules (`snap_to_phrase`, `split_at_paragraphs`, `title_end`,
   `is_bare_proper_noun`): spans start and end where a reader would draw them.
3. `SpanScorer`: one calibrated probability per span, of one stated event (see
   `SCORE_EVENT`), fitted on PTC dev by `bench/tune_spans.py`.

`span_triggers` names the words inside a span that the model leaned on most.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

# What a span's score is the probability of (the model card and README say the same).
SCORE_EVENT = ("the span overlaps a fragment that PTC annotators marked with a persuasion technique "
               "(any of the 14; the technique named is right about 63% of the time: TC on dev)")


@dataclass
class DecodeParams:
    threshold: float = 0.5  # token probability needed to start a span
    merge_gap: int = 0  # merge spans this many characters apart on one line
    min_chars: int = 2
    low: float = 1.0  # hysteresis: grow a started span while tokens stay above this (<= threshold)
    smooth: int = 1  # moving-average width over token probabilities (1 = none)
    min_span_prob: float = 0.0  # drop spans whose mean token probability is lower


@dataclass
class Candidate:
    """A decoded span before it gets a technique: characters and its token evidence."""

    start: int
    end: int
    mean_p: float  # mean span probability over its word pieces
    max_p: float
    tokens: list[int] = field(default_factory=list)  # word-piece indexes it covers


# -- 1. candidates ------------------------------------------------------------------------
def token_runs(p: np.ndarray, params: DecodeParams) -> list[list[int]]:
    """Runs of consecutive tokens that hysteresis keeps: each reaches `threshold`
    somewhere and stays at or above `low` throughout."""
    if params.smooth > 1:
        p = np.convolve(p, np.ones(params.smooth) / params.smooth, mode="same")
    low = min(params.low, params.threshold)
    runs: list[list[int]] = []
    i, n = 0, len(p)
    while i < n:
        if p[i] < low:
            i += 1
            continue
        j = i
        while j < n and p[j] >= low:
            j += 1
        if (p[i:j] >= params.threshold).any():
            runs.append(list(range(i, j)))
        i = j
    return runs


# Punctuation that closes the previous clause: a span never starts with it.
_CLOSING_PUNCT = frozenset(".,;:!?)]}")


def without_leading_punct(text: str, start: int, end: int) -> int:
    """The start past the previous clause's closing punctuation (". It is a land grab" ->
    "It is ..."): no PTC gold span starts with it."""
    while start < end and (text[start].isspace() or text[start] in _CLOSING_PUNCT):
        start += 1
    return start


def word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a piece-level span to whole words and trim surrounding spaces."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def candidate_spans(text: str, offsets: list[tuple[int, int]], p_span: np.ndarray,
                    params: DecodeParams) -> list[Candidate]:
    """Token probabilities -> candidate character spans (hysteresis, words, merging)."""
    pieces = []
    for toks in token_runs(p_span, params):
        s, e = word_bounds(text, offsets[toks[0]][0], offsets[toks[-1]][1])
        if e > s:
            pieces.append(Candidate(s, e, 0.0, 0.0, toks))
    merged: list[Candidate] = []
    for c in pieces:
        if merged:
            prev = merged[-1]
            gap = text[prev.end:c.start]
            if c.start <= prev.end or (len(gap) <= params.merge_gap and "\n" not in gap):
                prev.end = max(prev.end, c.end)
                prev.tokens = prev.tokens + c.tokens
                continue
        merged.append(c)
    out = []
    for c in merged:
        c.start = without_leading_punct(text, c.start, c.end)
        probs = p_span[c.tokens]
        c.mean_p, c.max_p = float(probs.mean()), float(probs.max())
        if c.end - c.start >= params.min_chars and c.mean_p >= params.min_span_prob:
            out.append(c)
    return out


# -- 2. boundaries ------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Words a span never ends on: a phrase does not stop at an article, a preposition, a
# conjunction, an auxiliary or a subject pronoun ("...tomorrow they will"). In PTC train
# each of these ends at most 0.2% of gold spans, against 0.7-1.6% of the spans the
# model decoded before this rule.
TRAILING_FUNCTION_WORDS = frozenset("""
a an the of to for and or nor but in on at by with from about as into onto than that which whose
is are was were be been being will would shall should can could may might must has have had
do does did his her their its our my your this these those they we he she i
""".split())

# Words a span never starts on: a finite verb or conjunction left over from the clause
# before ("is a disaster", "and the elites"): overrepresented 3-8x as first words in the
# decoded spans against PTC train gold.
LEADING_FUNCTION_WORDS = frozenset("""
is are was were has have had will would should shall does did and nor because s 's ’s
""".split())


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each word in text[start:end], in text's offsets."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def snap_to_phrase(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim function words a phrase does not start or end with, and a clause fragment of
    one or two words cut off by a comma at either edge ("euro maniac, Donald" ->
    "euro maniac"). Never trims a span to nothing: returns it unchanged instead."""
    words = _words(text, start, end)
    i, j = 0, len(words)
    while i < j and text[words[i][0]:words[i][1]].lower() in LEADING_FUNCTION_WORDS:
        i += 1
    while j > i and text[words[j - 1][0]:words[j - 1][1]].lower() in TRAILING_FUNCTION_WORDS:
        j -= 1
    if j - i >= 4:
        # A comma (or semicolon) just inside an edge, with one or two words beyond it.
        for k in (j - 1, j - 2):
            if k > i + 1 and re.search(r"[,;]\s*$", text[words[k - 1][1]:words[k][0]]):
                j = k
                break
        for k in (i + 1, i + 2):
            if k < j - 1 and re.search(r"^\s*[,;]", text[words[k - 1][1]:words[k][0]]):
                i = k
                break
    if i >= j:
        return start, end
    s, e = words[i][0], words[j - 1][1]
    # Keep closing punctuation and quotes that belong to the phrase ("cannot be crossed!").
    while e < end and text[e] in "!?\"”’'":
        e += 1
    if s > start and text[s - 1] in "\"“'‘" and s - 1 >= start:
        s -= 1
    return s, e


def split_at_paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The parts of a span on each line (trimmed of spaces), empty parts left out."""
    parts, s = [], start
    while True:
        nl = text.find("\n", s, end)
        e = end if nl < 0 else nl
        a, b = s, e
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            parts.append((a, b))
        if nl < 0:
            return parts
        s = nl + 1


def title_end(text: str) -> int:
    """Where the first non-empty line (the headline, in news articles) ends; no span
    runs from it into the body (no PTC train gold span does)."""
    first = len(text) - len(text.lstrip())
    nl = text.find("\n", first)
    return len(text) if nl < 0 else nl


def is_bare_proper_noun(text: str, start: int, end: int) -> bool:
    """One to three capitalised words and nothing else ("Britain", "Donald Trump")."""
    words = [text[a:b] for a, b in _words(text, start, end)]
    if not 1 <= len(words) <= 3 or not re.fullmatch(r"[\w'’.\- ]+", text[start:end]):
        return False
    return all(w[0].isupper() and w.lower() not in TRAILING_FUNCTION_WORDS for w in words)


@dataclass
class SpanRules:
    """Which boundary rules apply (all on by default; bench/quality.py --rules turns
    them off one by one to show what each costs or gains)."""

    phrase_edges: bool = True  # snap_to_phrase
    title: bool = True  # no span runs from the headline into the body
    paragraphs: bool = True  # split at line breaks unless the technique crosses them
    # Techniques whose spans may cross a line break: those for which more than 10% of
    # PTC train gold spans do (measured by bench/tune_spans.py; config.json).
    cross_paragraphs: frozenset = frozenset()
    sentences: bool = True  # split at sentence ends unless the technique crosses them
    cross_sentences: frozenset = frozenset()  # the same measure for sentence ends

    @classmethod
    def from_config(cls, block: dict | None) -> "SpanRules":
        block = dict(block or {})
        for key in ("cross_paragraphs", "cross_sentences"):
            block[key] = frozenset(block.get(key, ()))
        return cls(**block)


@dataclass
class RefinedSpan:
    """A span after the boundary rules, with its label from the classifier."""

    start: int
    end: int
    label: int  # index into the classifier's labels
    label_p: float  # the classifier's probability of that label
    cand: Candidate  # the decoded span it came from (its token evidence)


def refine_spans(text: str, cands: list[Candidate], classify, rules: SpanRules,
                 labels: list[str]) -> list[RefinedSpan]:
    """Apply the boundary rules and label each span.

    `classify(spans) -> array (len(spans), len(labels))` gives label probabilities for
    character spans (the span head of whichever model decoded `cands`). A span that
    crosses a line break or a sentence end is labelled whole first: if its label is not
    one whose gold spans cross such boundaries, its parts are labelled again on their own.
    """
    head = title_end(text)
    pieces: list[tuple[int, int, Candidate]] = []
    for c in cands:
        bounds = [(c.start, c.end)]
        if rules.title and c.start < head < c.end:
            bounds = [b for b in (_strip(text, c.start, head), _strip(text, head, c.end)) if b[1] > b[0]]
        for a, b in bounds:
            if rules.phrase_edges:
                a, b = snap_to_phrase(text, a, b)
            if b > a:
                pieces.append((a, b, c))
    if not pieces:
        return []
    probs = classify([(a, b) for a, b, _ in pieces])
    kept: list[RefinedSpan | None] = []  # None: cut into the parts below, in its place
    cut: list[tuple[int, int, Candidate, int]] = []  # (start, end, candidate, position in kept)
    for (a, b, c), p in zip(pieces, probs):
        k = int(np.argmax(p))
        parts = _parts_for(text, a, b, labels[k], rules)
        if len(parts) > 1:
            if rules.phrase_edges:
                parts = [snap_to_phrase(text, s, e) for s, e in parts]
            cut += [(s, e, c, len(kept)) for s, e in parts if e > s]
            kept.append(None)
        else:
            kept.append(RefinedSpan(a, b, k, float(p[k]), c))
    # The parts of all cut spans are labelled in one call (a call per span would redo
    # the article-wide setup of the span head each time).
    parts_at: dict[int, list[RefinedSpan]] = {}
    if cut:
        for (s, e, c, at), q in zip(cut, classify([(s, e) for s, e, _, _ in cut])):
            kk = int(np.argmax(q))
            parts_at.setdefault(at, []).append(RefinedSpan(s, e, kk, float(q[kk]), c))
    out: list[RefinedSpan] = []
    for at, r in enumerate(kept):
        out += [r] if r is not None else parts_at.get(at, [])
    return out


# A sentence ends at . ! or ? (and a closing quote), before a capital or an opening quote.
_SENTENCE_END = re.compile(r"[.!?][\"”’']?\s+(?=[\"“‘']?[A-Z])")


def split_at_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentences of a span (its end punctuation kept), empty parts left out."""
    parts, s = [], start
    for m in _SENTENCE_END.finditer(text, start, end):
        parts.append(_strip(text, s, m.end()))
        s = m.end()
    parts.append(_strip(text, s, end))
    return [(a, b) for a, b in parts if b > a]


def _parts_for(text: str, start: int, end: int, label: str, rules: SpanRules) -> list[tuple[int, int]]:
    """A labelled span cut at the boundaries its technique does not cross."""
    parts = [(start, end)]
    if rules.paragraphs and label not in rules.cross_paragraphs:
        parts = [q for a, b in parts for q in split_at_paragraphs(text, a, b)]
    if rules.sentences and label not in rules.cross_sentences:
        parts = [q for a, b in parts for q in split_at_sentences(text, a, b)]
    return parts or [(start, end)]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# -- 3. scores -----------------------------------------------------------------------------
def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def score_features(text: str, span: RefinedSpan) -> dict[str, float]:
    """Everything the calibrated score may read about a span; SpanScorer picks the
    features its config names."""
    return {
        "logit_mean_p": _logit(span.cand.mean_p),
        "logit_max_p": _logit(span.cand.max_p),
        "log_label_p": math.log(max(span.label_p, 1e-6)),
        "log_chars": math.log1p(span.end - span.start),
        "bare_proper_noun": 1.0 if is_bare_proper_noun(text, span.start, span.end) else 0.0,
    }


@dataclass
class SpanScorer:
    """Logistic calibration: P(event | span) = sigmoid(coef . features + intercept),
    fitted on dev (bench/tune_spans.py). Logistic rather than isotonic: strictly
    monotone in the span evidence, so it invents no ties between spans."""

    features: tuple[str, ...]
    coef: list[float]
    intercept: float
    event: str = SCORE_EVENT

    @classmethod
    def from_config(cls, block: dict) -> "SpanScorer":
        features = tuple(block["features"])
        unknown = set(features) - set(score_features("x", RefinedSpan(0, 1, 0, 1.0, Candidate(0, 1, 0.5, 0.5))))
        if unknown or len(block["coef"]) != len(features):
            raise ValueError(f"span score: unknown features {sorted(unknown)} or a coefficient count that "
                             f"does not match {list(features)}")
        return cls(features, [float(c) for c in block["coef"]], float(block["intercept"]),
                   block.get("event", SCORE_EVENT))

    def to_config(self) -> dict:
        return {"event": self.event, "features": list(self.features),
                "coef": [round(c, 6) for c in self.coef], "intercept": round(self.intercept, 6)}

    # Features a candidate span keeps through the boundary rules (its parts inherit its
    # token evidence), and 0/1 features the rules may change.
    _CANDIDATE_FEATURES = frozenset({"logit_mean_p", "logit_max_p"})
    _BINARY_FEATURES = frozenset({"bare_proper_noun"})

    def upper_bound(self, text: str, cand: Candidate) -> float | None:
        """The highest score any span refined from `cand` can get (None when the
        features allow no bound). Lets a caller skip labelling candidates that cannot
        reach the threshold: the result is the same, only cheaper."""
        if not set(self.features) <= self._CANDIDATE_FEATURES | self._BINARY_FEATURES:
            return None
        f = score_features(text, RefinedSpan(cand.start, cand.end, 0, 1.0, cand))
        z = self.intercept
        for c, name in zip(self.coef, self.features):
            # A 0/1 feature at whichever value raises the score.
            z += max(c, 0.0) if name in self._BINARY_FEATURES else c * f[name]
        return 1.0 / (1.0 + math.exp(-z))

    def __call__(self, text: str, span: RefinedSpan) -> float:
        f = score_features(text, span)
        z = sum(c * f[name] for c, name in zip(self.coef, self.features)) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))


def filter_by_score(spans: list, threshold: float) -> list:
    """The spans whose `score` reaches `threshold`. A pure filter over spans decoded
    without the threshold: lowering it only ever adds spans, never changes one."""
    return [s for s in spans if s.score >= threshold]


# -- explanations ----------------------------------------------------------------------------
_STOP_FOR_TRIGGERS = TRAILING_FUNCTION_WORDS | LEADING_FUNCTION_WORDS | frozenset(
    "it him them us you me not no so just very more most all any some there here then".split())


def span_triggers(text: str, start: int, end: int, offsets, weight: np.ndarray,
                  k: int = 3) -> list[tuple[int, int]]:
    """Up to `k` words inside [start, end) with the highest weight (a per-word-piece
    array, e.g. the token head's probability of the span's technique); adjacent chosen
    words are joined into one phrase. Function words are not triggers.

    `offsets`: the word pieces' (start, end) in the text, in order; pass an (n, 2) array
    when calling for many spans of one article, so it is converted once.
    """
    offsets = np.asarray(offsets).reshape(-1, 2)
    words = _words(text, start, end)
    scored = []
    for a, b in words:
        if text[a:b].lower() in _STOP_FOR_TRIGGERS:
            continue
        # The pieces overlapping the word: they are sorted and do not overlap each other.
        lo = int(np.searchsorted(offsets[:, 1], a, side="right"))
        hi = int(np.searchsorted(offsets[:, 0], b, side="left"))
        if hi > lo:
            scored.append((float(np.max(weight[lo:hi])), a, b))
    if not scored:
        return []
    best = sorted(scored, reverse=True)[:k]
    top = best[0][0]
    # Keep words close to the strongest one: a trigger is what stands out.
    chosen = sorted((a, b) for w, a, b in best if w >= 0.5 * top)
    joined: list[list[int]] = []
    for a, b in chosen:
        if joined and _adjacent(words, joined[-1][1], a):
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return [(a, b) for a, b in joined]


def _adjacent(words: list[tuple[int, int]], end: int, start: int) -> bool:
    """Whether the word starting at `start` comes right after the word ending at `end`."""
    ends = [b for a, b in words]
    starts = [a for a, b in words]
    return end in ends and start in starts and starts.index(start) == ends.index(end) + 1
