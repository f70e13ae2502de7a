"""Is this text English? A guard for the CLI, not language identification.

redline's models read English only; a French article would come back with confident
nonsense. The check counts the share of a text's words that are common English function
words (articles, pronouns, prepositions, auxiliaries): 0.41 on average and 0.24 at the
lowest over the 874 PTC and narrative-frames articles, 0.00-0.03 in French, German and
Spanish news sentences. It costs microseconds, where a
language-identification model (py3langid, say) would add 0.4 s to every cold start for
a question this simple.
"""

from __future__ import annotations

import re

_ENGLISH_FUNCTION_WORDS = frozenset("""
the a an and or but of to in on at by for with from as that this these those it its is are was were be been
being have has had do does did not no will would can could should may might must shall he she they we you i
him her them us me his their our your my which who whom whose what when where why how there here than then
so if about into over after before under between through during against out up down off also just only very
""".split())
MIN_WORDS = 20  # fewer words say too little to judge
MIN_SHARE = 0.15  # English news prose sits near 0.4; other languages under 0.1

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def english_share(text: str, sample_chars: int = 20_000) -> tuple[float, int]:
    """(share of words that are English function words, number of words read)."""
    words = _WORD.findall(text[:sample_chars].lower())
    if not words:
        return 0.0, 0
    return sum(w in _ENGLISH_FUNCTION_WORDS for w in words) / len(words), len(words)


def not_english_warning(text: str) -> str | None:
    """A warning when the text does not look English, else None."""
    share, n = english_share(text)
    if n < MIN_WORDS or share >= MIN_SHARE:
        return None
    return (f"this text does not look English (only {share:.0%} of its {n} words are common English words); "
            "redline's models read English only, so its findings will be unreliable "
            "(--lang en to skip this check)")
