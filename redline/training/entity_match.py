"""Matching gold entity strings (narrative frames, GUM) to what redline finds.

Shared by the actor benchmark (`bench/actors.py`), the roles benchmark and the training of
the cast model (`redline/training/cast.py`), so that "found" means one thing everywhere.
"""

from __future__ import annotations

import re
from collections import defaultdict

PRONOUNS = {
    "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves", "you", "your", "yours",
    "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they", "them",
    "their", "theirs", "themselves", "who", "whom", "whose", "which", "that", "this", "these", "those",
}
# Words after which an English noun phrase's post-modifier starts: its head is before them.
POSTMODIFIER_STARTS = {
    "of", "to", "in", "on", "at", "for", "from", "with", "by", "about", "who", "whom", "whose", "which", "that",
    "linking", "waging", "touting", "behind", "across", "throughout", "during", "against", "over", "under",
}

_WORD = re.compile(r"[\w][\w.'’&-]*")


def head_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Character span of a noun phrase's head word: the last word before a post-modifier.

    "visas to enter the United States" -> "visas"; "Greta Thunberg, a 16-year-old activist"
    -> "Thunberg"; "President Donald Trump's" -> "Trump". A heuristic without a parse,
    the same for gold and predicted mentions.
    """
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]
    if not words:
        return start, end
    kept = [words[0]]
    for ws, we in words[1:]:
        if text[ws:we].lower() in POSTMODIFIER_STARTS or "," in text[kept[-1][1]:ws] or "(" in text[kept[-1][1]:ws]:
            break
        kept.append((ws, we))
    hs, he = kept[-1]
    word = text[hs:he]
    for suffix in ("'s", "’s", "'", "’", "."):
        if word.endswith(suffix) and len(word) > len(suffix):
            he -= len(suffix)
            break
    return hs, he


def entity_pattern(entity: str) -> re.Pattern:
    core = re.escape(entity.strip())
    return re.compile(r"(?<![\w])" + core + r"(?![\w])", re.I)


def name_form(text: str) -> str:
    text = text.replace("’", "'").strip()
    text = re.sub(r"'s?$", "", text)
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)
    return " ".join(text.lower().split())


def match_gold_entity(doc, entity: str) -> str | None:
    """The id of the actor in `doc` that a gold entity string names, or None.

    "Found" means either
      * an actor's name equals the entity string, ignoring case, a leading "the"/"a" and
        a possessive "'s" ("the EPA" ~ actor "EPA"), or
      * the entity string occurs in the text (whole words, any case) and an actor mention
        overlapping that occurrence contains the entity's head word (`head_span`: the last
        word before a post-modifier), so "President Donald Trump's" is found by the mention
        "Donald Trump", but "the Paris accord to reduce emissions" is not found by "Paris".
    Among several candidates the actor with the most such occurrences wins, then the one
    whose mention overlaps most. Pronoun entities ("they", "his") are never found: the
    annotation does not say which occurrence is meant.
    """
    wanted = name_form(entity)
    if not wanted or wanted in PRONOUNS:
        return None
    for actor in doc.actors:
        if name_form(actor.name) == wanted:
            return actor.id
    mentions = sorted((m.start, m.end, a.id) for a in doc.actors for m in a.mentions)
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for occurrence in entity_pattern(entity).finditer(doc.text):
        os_, oe = occurrence.span()
        hs, he = head_span(doc.text, os_, oe)
        best = None
        for ms, me, aid in mentions:
            if ms >= oe:
                break
            if me <= os_ or not (ms <= hs and he <= me):
                continue
            overlap = min(me, oe) - max(ms, os_)
            if best is None or overlap > best[0]:
                best = (overlap, aid)
        if best:
            votes[best[1]][0] += 1
            votes[best[1]][1] = max(votes[best[1]][1], best[0])
    if not votes:
        return None
    return max(votes, key=lambda aid: tuple(votes[aid]))
