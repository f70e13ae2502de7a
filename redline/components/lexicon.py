"""A transparent rule-based detector: phrase lexicons plus hand-written patterns.

It needs no model, runs in milliseconds, and every span it reports can be traced to a
phrase list or a pattern (`redline analyze --components lexicon`). The phrase lists
are the Apache-2.0 propaganda lexicons shipped by the `persuasion-index` package;
the patterns are ours. Its PTC dev scores are the baseline the trained model must
beat (README, "Accuracy").
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from redline.doc import Document
from redline.registry import register

# persuasion-index lexicon -> PTC technique, with a prior precision used as the score.
LEXICON_MAP = {
    "PROP_LOADED": ("Loaded_Language", 0.45),
    "SENT_INTENSITY.extreme": ("Loaded_Language", 0.4),
    "FIGHTING": ("Loaded_Language", 0.3),
    "PROP_NAMECALL": ("Name_Calling,Labeling", 0.5),
    "PROP_FEAR": ("Appeal_to_fear-prejudice", 0.25),
    "IMPACT_THREAT": ("Appeal_to_fear-prejudice", 0.25),
    "PROP_FLAG": ("Flag-Waving", 0.2),
    "PROP_DOUBT": ("Doubt", 0.25),
    "PROP_BANDWAGON": ("Bandwagon,Reductio_ad_hitlerum", 0.15),
    "AUTHORITY_PHRASE": ("Appeal_to_Authority", 0.2),
}

# Words too common to stand alone as evidence, even if a lexicon lists them.
_STOP = {"all", "country", "countries", "citizens", "attack", "alarm", "alleged", "according to", "afraid"}

# Our own patterns: (technique, score, regex). Case-insensitive; whole words.
PATTERNS: list[tuple[str, float, str]] = [
    ("Name_Calling,Labeling", 0.5,
     r"(?i:\b(?:so-called|terrorist|thugs?|puppets?|traitors?|regime|dictator(?:ship)?|tyrant|fascists?|"
     r"nazis?|communists?|globalists?|radicals?|extremists?|criminals?|crooks?|liars?|idiots?|morons?|"
     r"clowns?|snowflakes?|elites?|deep state|fake news|propagandists?|warmongers?|butcher|"
     r"psychopath(?:ic)?|lunatics?|zealots?|jihadists?|militias?)\b)(?:\s+[A-Z][\w’'-]+)*"),
    ("Loaded_Language", 0.4,
     r"\b(?:brutal(?:ly)?|savage(?:ly)?|horrific|horrendous|atrocious|atrocit(?:y|ies)|evil|sinister|"
     r"heinous|vile|disgusting|despicable|shameful|outrageous|catastrophic|disastrous|devastating|"
     r"massacres?|slaughter(?:ed|ing)?|bloodbath|carnage|menace|plague|scourge|heroic|glorious|"
     r"treacherous|treason|sedition(?:s)?|turmoil|destroy(?:ed|ing)?|annihilat\w+|ruthless(?:ly)?|"
     r"barbaric|monstrous|hysteri\w+|insane|crazy|absurd|ridiculous|pathetic|lies|lying|hoax|"
     r"witch hunt|ravag\w+|crush(?:ed|ing)?|bloody|bloodthirsty|genocid\w+|slaughter)\b"),
    ("Exaggeration,Minimisation", 0.3,
     r"\b(?:never|ever|always|everyone|everybody|nobody|nothing|completely|totally|absolutely|"
     r"entirely|utterly|the (?:worst|best|greatest|biggest) \w+|of all time|in history|"
     r"unprecedented|no one|in no way|at all|millions of|thousands of)\b"),
    ("Doubt", 0.3,
     r"\b(?:allegedly|so-called|supposedly|questionable|dubious|is it (?:any )?wonder|"
     r"(?:can|could) (?:we|anyone) (?:really )?trust|who knows|his fate is unknown|fate is unknown|"
     r"remains unclear|claims? (?:that|to be))\b"),
    ("Appeal_to_fear-prejudice", 0.3,
     r"\b(?:threat(?:en(?:s|ed|ing)?)?|danger(?:ous)?|catastrophe|collapse|invasion|invade\w*|"
     r"terror(?:ism)?|war|wipe(?:d)? out|extinction|doom(?:ed)?|chaos|fear|afraid|will be (?:killed|destroyed))\b"),
    ("Flag-Waving", 0.3,
     r"\b(?:our (?:nation|country|people|values|freedom|troops|flag|heritage|homeland)|patriot(?:s|ic|ism)?|"
     r"the American people|true Americans?|our great nation|national (?:pride|interest|security))\b"),
    ("Appeal_to_Authority", 0.3,
     r"\b(?:according to|experts? (?:say|said|agree|warn)|scientists? (?:say|agree)|studies show|"
     r"research (?:shows|proves)|(?:announced|declared|stated|confirmed) that)\b"),
    ("Black-and-White_Fallacy", 0.3,
     r"\b(?:either\b[^.!?\n]{1,80}\bor\b|there (?:is|are) only two|you are either|with us or against us|"
     r"no (?:other )?(?:choice|option|alternative)|the only (?:way|option|solution))"),
    ("Causal_Oversimplification", 0.2,
     r"\b(?:because of (?:this|that|them|him|her)|is (?:the|to) blame|the (?:real|only|root) (?:reason|cause)|"
     r"led to|leads to|caused by|thanks to)\b"),
    ("Thought-terminating_Cliches", 0.3,
     r"\b(?:it is what it is|that's (?:just )?the way it is|enough is enough|end of (?:story|discussion)|"
     r"nothing (?:else )?to see here|period\.|let'?s face it|the fact is|plain and simple)"),
    ("Whataboutism,Straw_Men,Red_Herring", 0.3,
     r"\b(?:what about|but what of|yet (?:they|he|she) (?:never|didn'?t)|so you(?:'re| are) saying|"
     r"how about)\b"),
    ("Bandwagon,Reductio_ad_hitlerum", 0.3,
     r"\b(?:everyone knows|everybody knows|most people (?:agree|know|think)|join (?:the|us)|like hitler|"
     r"hitler|nazi germany|the whole world (?:knows|agrees))\b"),
]

# Slogans: short exclamations or all-caps lines.
SLOGAN_RE = re.compile(r"(?:(?<=^)|(?<=[.!?\"“]\s))([A-Z][^.!?\n]{3,60}!)", re.M)
ALLCAPS_RE = re.compile(r"\b[A-Z][A-Z' ]{10,60}[A-Z]\b")


@lru_cache(maxsize=1)
def _lexicon_patterns() -> list[tuple[str, float, re.Pattern]]:
    try:
        import helper_features
        path = Path(helper_features.__file__).parent / "lexicons_expanded_LLM_audited.json"
        lex = json.loads(path.read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):  # the package is optional for the rules
        lex = {}
    out = []
    for key, (tech, score) in LEXICON_MAP.items():
        phrases = sorted({p.strip().lower() for p in lex.get(key, []) if len(p.strip()) > 2} - _STOP,
                         key=len, reverse=True)
        if phrases:
            alt = "|".join(re.escape(p) for p in phrases)
            out.append((tech, score, re.compile(rf"\b(?:{alt})\b", re.I)))
    for tech, score, pat in PATTERNS:
        # Name calling keeps its capitalised-name tail case-sensitive; its words are (?i:...).
        out.append((tech, score, re.compile(pat, 0 if tech == "Name_Calling,Labeling" else re.I)))
    return out


def find_repetitions(text: str, min_words: int = 2, max_words: int = 6) -> list[tuple[int, int]]:
    """Word n-grams (content words) that recur in the article: every occurrence after the first."""
    words = [(m.start(), m.end(), m.group().lower()) for m in re.finditer(r"[A-Za-z][\w’'-]*", text)]
    spans: list[tuple[int, int]] = []
    stop = {"the", "a", "an", "of", "to", "in", "and", "or", "is", "are", "was", "that", "for", "on",
            "with", "as", "by", "it", "this", "be", "at", "from", "has", "have", "its", "their", "his", "her"}
    for n in range(max_words, min_words - 1, -1):
        seen: dict[tuple, int] = {}
        for i in range(len(words) - n + 1):
            gram = tuple(w for _, _, w in words[i:i + n])
            if gram[0] in stop or gram[-1] in stop or sum(w not in stop for w in gram) < 2:
                continue
            s, e = words[i][0], words[i + n - 1][1]
            if "\n" in text[s:e]:
                continue
            if gram in seen and not any(a < e and s < b for a, b in spans):
                spans.append((s, e))
            seen.setdefault(gram, i)
    return spans


@register("lexicon")
class LexiconDetector:
    """Rule-based technique spans; fast fallback when no trained model is wanted."""

    name = "lexicon"

    def __init__(self, min_score: float = 0.0):
        self.min_score = min_score

    def find(self, text: str) -> list[tuple[int, int, str, float]]:
        found: dict[tuple[int, int, str], float] = {}
        for tech, score, pat in _lexicon_patterns():
            for m in pat.finditer(text):
                s, e = m.span()
                while e > s and not (text[e - 1].isalnum() or text[e - 1] in "!?"):
                    e -= 1
                if e - s >= 3:
                    key = (s, e, tech)
                    found[key] = max(found.get(key, 0.0), score)
        for s, e in find_repetitions(text):
            found[(s, e, "Repetition")] = 0.35
        for m in SLOGAN_RE.finditer(text):
            if len(m.group(1).split()) <= 8:
                found[(m.start(1), m.end(1), "Slogans")] = 0.25
        for m in ALLCAPS_RE.finditer(text):
            found[(m.start(), m.end(), "Slogans")] = 0.3
        # Within one technique, keep the longest of overlapping matches.
        by_tech: dict[str, list] = {}
        for (s, e, tech), score in found.items():
            by_tech.setdefault(tech, []).append((s, e, score))
        out = []
        for tech, items in by_tech.items():
            items.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
            kept: list[tuple[int, int, float]] = []
            for s, e, score in items:
                if not any(s < ke and ks < e for ks, ke, _ in kept):
                    kept.append((s, e, score))
            out += [(s, e, tech, score) for s, e, score in kept if score >= self.min_score]
        return sorted(out)

    def __call__(self, doc: Document) -> Document:
        for s, e, tech, score in self.find(doc.text):
            doc.add_span(s, e, tech, score, source=self.name)
        doc.model.setdefault("lexicon", {"name": "redline-lexicon", "phrases": "persuasion-index 0.3.0 + redline patterns"})
        return doc


def counts(doc: Document) -> Counter:
    return Counter(s.technique for s in doc.spans)
