"""Actors: the people, organisations, countries and groups an article is about.

Found with spaCy en_core_web_md (entities PERSON, ORG, GPE, NORP) plus rules over the
dependency parse, and merged so each actor carries all its mentions.

Merging policy (what becomes one actor):

* Countries: the name, its aliases and capital ("Tehran", "the Kremlin"), a demonym used
  as a noun ("Iranians", "the Iranian’s"), and a country adjective before a noun for the
  state ("the Iranian regime", "Iranian officials", "the Iranian Army", "the Iranian
  leaders") are one actor, named after the country, type GPE. The people of a country
  ("the Iranian people", "the Syrian people") are a separate GROUP: articles set a
  people against its rulers.
* Regimes: "<Person> regime" (also dynasty, junta, clan) joins that person: "Assad",
  "Bashar al-Assad", "the terrorist Assad regime", "the Assad dynasty" are one actor,
  named "Assad regime", type ORG. "<Country adjective> regime" ("the Syrian regime")
  joins the regime of that country's leader when the article mentions the leader
  (hand-written leader list, or "Syrian President X" in the text); otherwise it joins
  the country (so "the Iranian regime" is Iran). "The regime" / "this regime" refers
  back to the most recently mentioned actor that the article has called a regime.
* People: surname-only mentions join the full name ("Suleimani" -> "Qassem Suleimani",
  "Assad" -> "Bashar al-Assad", ignoring "al-"), titles are part of the mention
  ("Gen. Pourdastan"); a name that spaCy labels ORG or GPE elsewhere joins the person.
* Groups: noun phrases headed by group nouns ("militia groups", "the Levant
  revolutionaries", "the Syrian people"); militias from several countries named in one
  phrase ("Iranian, Lebanese and Iraqi militia groups") are one actor, "militia groups".
* Organisations: spaCy ORG plus a small gazetteer (IRGC, Quds Force, Hezbollah, ...)
  with aliases; generic words ("Army", "Government") are not actors on their own.
* Places only ever used as places ("in southern Aleppo") are dropped.

Pronouns (he/him/his, they/them/their) are resolved to the most recent fitting actor
for the relations and claims components (kept in the private token index, not added as
mentions). Everything is cached on the document (see `redline.components.nlp`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from redline.components import gazetteer as gz
from redline.components.nlp import cache_for, nlp_name, parse
from redline.doc import Actor, Document
from redline.pipeline import register

REGIME_NOUNS = {"regime", "dynasty", "junta", "clan", "regimes"}
STATE_NOUNS = {
    "government", "governments", "administration", "leaders", "leadership", "officials", "authorities",
    "army", "military", "forces", "troops", "navy", "diplomats", "ministry", "state", "establishment",
    "rulers", "security", "intelligence", "embassy", "parliament", "cabinet", "generals", "commanders",
    "soldiers", "propaganda",
}
# Group heads that make an actor on their own ("the rebels", "militias").
GROUP_STRONG = {
    "militia", "militias", "militiamen", "rebels", "revolutionaries", "insurgents", "jihadists", "terrorists",
    "protesters", "protestors", "demonstrators", "separatists", "extremists", "paramilitaries", "guerrillas",
    "refugees", "settlers", "mercenaries", "rioters", "dissidents", "islamists", "hardliners", "loyalists",
    "opposition", "revolutionary", "rebel",
}
# Group heads that need a modifier ("the Syrian people", "Kurdish fighters").
GROUP_WEAK = {
    "people", "population", "public", "citizens", "civilians", "nation", "workers", "farmers", "students",
    "voters", "fighters", "groups", "activists", "migrants", "immigrants", "residents", "community",
    "communities", "tribes", "youth", "women", "children", "families", "minorities", "minority", "masses",
    "forces", "units", "brigades", "factions", "movement", "movements", "allies", "proxies", "clerics",
}
PEOPLE_NOUNS = {"people", "population", "public", "citizens", "civilians", "nation", "masses", "youth"}
GENERIC_MODS = {
    "different", "many", "other", "some", "several", "various", "all", "both", "such", "these", "those",
    "this", "that", "the", "a", "an", "even", "elite", "new", "local", "foreign", "armed", "regional",
    "various", "numerous", "few", "most", "more", "certain", "own", "main", "major", "key", "so", "-",
    "called", "so-called", ",", "and", "or",
}
ANAPHOR_DETS = {"the", "this", "that"}
_DET_KEEP = {"the"}
_ORG_FORMS = {k.lower() for k in gz.ORGS}

PRONOUNS_PERSON = {"he", "him", "his", "himself", "she", "her", "hers", "herself"}
PRONOUNS_PLURAL = {"they", "them", "their", "theirs", "themselves"}


@dataclass
class Cand:
    start: int  # char offsets, end exclusive
    end: int
    ts: int  # token span [ts, te)
    te: int
    kind: str  # person | org | country | group | norp | regime_person | regime_country | anaphor | gpe
    key: str  # provisional key (person name, org name, country, group key, ...)
    prio: int
    label: str = ""
    name: str = ""  # display name suggestion
    extra: dict = field(default_factory=dict)


def _clean(text: str) -> str:
    text = text.replace("’", "'")
    text = re.sub(r"'s?$", "", text.strip())
    return " ".join(text.split())


def _strip_the(text: str) -> str:
    return re.sub(r"^(?:the|The)\s+", "", text)


def _name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s\-‑]+", name.replace("’", "'")) if t]


def _norm_name(name: str) -> list[str]:
    """Lowercased name tokens without particles and titles: "Bashar al-Assad" -> [bashar, assad]."""
    out = []
    for t in _name_tokens(name):
        low = re.sub(r"'s$", "", t.lower())
        if low in gz.NAME_PARTICLES or low in gz.TITLES or low.endswith("."):
            continue
        out.append(low)
    return out


def _country_of_token(tok) -> str | None:
    text = tok.text
    return gz.country_of_adj(text) or (gz.country_of_name(text) if tok.pos_ in ("PROPN", "ADJ") else None)


class _Builder:
    def __init__(self, sp):
        self.sp = sp
        self.text = sp.text
        self.ent_of: dict[int, object] = {}
        for ent in sp.ents:
            for i in range(ent.start, ent.end):
                self.ent_of[i] = ent
        self.org_tokens: set[int] = set()
        self.org_span: dict[int, tuple[int, int]] = {}  # token -> (ts, te) of its ORG span
        self.person_tokens: set[int] = set()

    # ------------------------------------------------------------------ candidates
    def candidates(self) -> list[Cand]:
        cands: list[Cand] = []
        cands += self._titled_persons()
        cands += self._gazetteer_orgs()
        for c in cands:
            if c.kind == "person":
                self.person_tokens.update(range(c.ts, c.te))
            else:
                for i in range(c.ts, c.te):
                    self.org_span[i] = (c.ts, c.te)
        for ent in self.sp.ents:
            if ent.label_ == "PERSON":
                self.person_tokens.update(range(ent.start, ent.end))
            elif ent.label_ == "ORG" and _clean(ent.text).lower() not in gz.GENERIC_ORGS:
                for i in range(ent.start, ent.end):
                    self.org_span.setdefault(i, (ent.start, ent.end))
        self.org_tokens = set(self.org_span)
        cands += self._noun_phrases()
        cands += self._entities()
        return cands

    def _cand_tokens(self, ts: int, te: int, kind: str, key: str, prio: int, label: str = "", name: str = "",
                     **extra) -> Cand:
        sp = self.sp
        while te > ts + 1 and (sp[te - 1].is_space or sp[te - 1].is_punct):
            te -= 1
        while ts < te - 1 and sp[ts].is_space:
            ts += 1
        start, end = sp[ts].idx, sp[te - 1].idx + len(sp[te - 1].text)
        return Cand(start, end, ts, te, kind, key, prio, label, name, dict(extra))

    def _titled_persons(self) -> list[Cand]:
        sp = self.sp
        out = []
        i = 0
        n = len(sp)
        while i < n:
            tok = sp[i]
            if tok.text.lower() in gz.TITLES and tok.text[:1].isupper() and (
                    i == 0 or sp[i - 1].text.lower() not in gz.TITLES):
                j = i
                while j < n and sp[j].text.lower() in gz.TITLES and sp[j].text[:1].isupper():
                    j += 1
                k = j
                while k < n:
                    t = sp[k]
                    if t.pos_ == "PROPN" and t.text[:1].isupper() and not gz.country_of_adj(t.text) \
                            and t.text.lower() not in gz.TITLES:
                        k += 1
                        continue
                    if k > j and t.text.lower() in gz.NAME_PARTICLES:
                        m = k
                        while m < n and sp[m].text.lower() in gz.NAME_PARTICLES:
                            m += 1
                        if m < n and sp[m].pos_ == "PROPN" and sp[m].text[:1].isupper():
                            k = m
                            continue
                    break
                if k > j and k - j <= 4 and sp[k - 1].text not in gz.ORGS:
                    ent = self.ent_of.get(j)
                    if ent is None or ent.label_ in ("PERSON", "GPE", "NORP", "ORG"):
                        name = sp[j:k].text
                        titles = {t.text.lower().rstrip(".") for t in sp[i:j]}
                        country = None
                        if i > 0 and titles & gz.LEADER_TITLES:
                            country = gz.country_of_adj(sp[i - 1].text) or gz.country_of_name(sp[i - 1].text)
                        out.append(self._cand_tokens(i, k, "person", name, 0, "PERSON", name,
                                                     titled=sp[i:k].text, leader_of=country))
                        i = k
                        continue
            i += 1
        return out

    def _gazetteer_orgs(self) -> list[Cand]:
        sp = self.sp
        out = []
        forms = sorted(gz.ORGS, key=lambda f: -len(f))
        text = self.text
        taken: list[tuple[int, int]] = []
        for form in forms:
            flags = 0 if form.isupper() or "." in form else re.I
            for m in re.finditer(r"(?<![\w-])" + re.escape(form) + r"(?![\w-])", text, flags):
                s, e = m.span()
                if any(s < b and a < e for a, b in taken):
                    continue
                span = sp.char_span(s, e, alignment_mode="expand")
                if span is None:
                    continue
                if not form.isupper() and not text[s:e][:1].isupper():
                    continue
                taken.append((s, e))
                out.append(Cand(s, e, span.start, span.end, "org", gz.ORGS[form], 1, "ORG", gz.ORGS[form]))
        return out

    def _np_left(self, head) -> tuple[int, list]:
        """Leftmost token index of a noun's premodifiers, and those modifier tokens."""
        mods = []
        stack = [c for c in head.lefts if c.dep_ in ("amod", "compound", "nmod", "nummod", "det", "poss",
                                                      "predet", "advmod", "punct", "cc", "conj", "npadvmod")]
        seen = set()
        while stack:
            t = stack.pop()
            if t.i in seen or t.i >= head.i:
                continue
            seen.add(t.i)
            mods.append(t)
            stack.extend(c for c in t.children if c.i < head.i)
        # Keep only a contiguous block ending at the head.
        left = head.i
        idx = {t.i for t in mods}
        while left - 1 in idx:
            left -= 1
        mods = [t for t in mods if t.i >= left]
        return left, sorted(mods, key=lambda t: t.i)

    def _noun_phrases(self) -> list[Cand]:
        sp = self.sp
        out: list[Cand] = []
        for tok in sp:
            if tok.pos_ not in ("NOUN", "PROPN") or tok.dep_ == "compound":
                continue
            low = tok.text.lower()
            lemma = tok.lemma_.lower()
            if not (low in REGIME_NOUNS or low in STATE_NOUNS or low in GROUP_STRONG or low in GROUP_WEAK
                    or lemma in REGIME_NOUNS or low == "machine"):
                continue
            left, mods = self._np_left(tok)
            if low == "machine" and not any(t.lemma_.lower() in ("propaganda", "war", "media") for t in mods):
                continue
            if tok.i in self.org_tokens and not (low in REGIME_NOUNS or low in STATE_NOUNS or low == "machine"):
                # A real organisation's name ("Free Syrian Army") stays an organisation.
                ots, ote = self.org_span[tok.i]
                if not any(_country_of_token(t) for t in self.sp[ots:ote]):
                    continue
            # Trim determiners other than "the", possessives and adverbs at the left edge.
            while left < tok.i and (sp[left].dep_ in ("det", "predet", "advmod", "punct", "cc", "poss")
                                    or sp[left].text.lower() in GENERIC_MODS) and not (
                    sp[left].text.lower() in _DET_KEEP and left == self._first_content(left, tok.i) - 1):
                left += 1
            # Never across a line break ("NM\n\nEleven children").
            for i in range(tok.i - 1, left - 1, -1):
                if "\n" in sp[i].text_with_ws:
                    left = i + 1
                    break
            content = [t for t in sp[left:tok.i] if t.text.lower() not in GENERIC_MODS and not t.like_num
                       and t.dep_ not in ("det", "punct", "cc", "predet", "nummod", "quantmod", "advmod")
                       and t.pos_ not in ("NUM", "PUNCT", "ADV", "DET")]
            if content:  # start the phrase at its first content word ("the" just before it stays)
                first = content[0].i
                left = first - 1 if first > left and sp[first - 1].lower_ == "the" else first
            countries = []
            persons = []
            others = []
            blocked = False
            for t in content:
                if self._blocks(t, tok, low):
                    blocked = True
                    break
                c = _country_of_token(t)
                if c:
                    countries.append(c)
                elif t.i in self.person_tokens or (t.pos_ == "PROPN" and gz.LEADER_COUNTRY.get(t.text.lower())):
                    persons.append(t)
                elif t.pos_ == "PROPN" and lemma in REGIME_NOUNS:
                    persons.append(t)
                else:
                    others.append(t)
            if blocked:
                continue
            det_the = left < tok.i and sp[left].text.lower() == "the"
            if low in REGIME_NOUNS or lemma in REGIME_NOUNS:
                if persons and not countries:
                    first = persons[0].i
                    ts = first - 1 if det_the and first - 1 == left else first
                    name = sp[persons[0].i:persons[-1].i + 1].text
                    out.append(self._cand_tokens(ts, tok.i + 1, "regime_person", name, 2, "ORG", name))
                elif len(set(countries)) == 1 and not persons:
                    ts = left if det_the else content[0].i
                    out.append(self._cand_tokens(ts, tok.i + 1, "regime_country", countries[0], 2, "GPE"))
                elif not content and tok.i > 0 and sp[tok.i - 1].text.lower() in ANAPHOR_DETS \
                        and tok.tag_ == "NN":
                    out.append(self._cand_tokens(tok.i - 1, tok.i + 1, "anaphor", "regime", 2))
                continue
            strong_mod = [t for t in others if t.text.lower() in GROUP_STRONG or t.lemma_.lower() in GROUP_STRONG]
            if (low in STATE_NOUNS or low == "machine") and len(set(countries)) == 1 and not persons \
                    and not strong_mod and tok.tag_ in ("NNS", "NN", "NNP", "NNPS"):
                if low in ("forces", "soldiers", "troops") or tok.tag_ in ("NNS", "NNPS") or low in (
                        "government", "administration", "leadership", "army", "military", "navy", "establishment",
                        "state", "ministry", "intelligence", "security", "propaganda", "parliament", "cabinet",
                        "machine"):
                    ts = left if det_the else content[0].i
                    out.append(self._cand_tokens(ts, tok.i + 1, "country", countries[0], 2, "GPE"))
                    continue
            # Weak heads ("people", "children") need a name-like modifier: a nationality, a proper
            # noun or a noun ("gun control groups"); "innocent people" is not an actor.
            norp_mod = [t for t in others if self.ent_of.get(t.i) is not None and self.ent_of[t.i].label_ in
                        ("NORP", "GPE", "ORG", "LOC")]
            is_group = low in GROUP_STRONG or lemma in GROUP_STRONG or strong_mod or (
                low in GROUP_WEAK and (countries or persons or norp_mod
                                       or [t for t in others if t.pos_ in ("PROPN", "NOUN")]))
            if not is_group or tok.tag_ not in ("NNS", "NNPS", "NN", "NNP"):
                continue
            if low in GROUP_WEAK and not strong_mod and tok.tag_ == "NN" and low not in (
                    "opposition", "public", "population", "nation", "community", "movement", "minority", "youth"):
                continue
            if strong_mod:
                key = strong_mod[-1].lemma_.lower()
                name = f"{strong_mod[-1].text} {tok.text}"
            else:
                keep_countries = len(set(countries)) == 1
                words = []
                for t in content:
                    if t.i in self.person_tokens and t.pos_ != "PROPN":
                        continue
                    if _country_of_token(t) and not keep_countries:
                        continue
                    if t.pos_ in ("ADJ", "VERB") and t not in norp_mod and not _country_of_token(t):
                        continue  # "violent extremists" ~ "extremists", "unaware American people"
                    words.append(t)
                if low in PEOPLE_NOUNS and not words:
                    continue
                key = " ".join([t.text.lower() for t in words] + [lemma])
                name = " ".join([t.text for t in words] + [tok.text])
            if not content and low in GROUP_WEAK:
                continue
            det_the = left < tok.i and sp[left].lower_ == "the"
            ts = left if det_the else (content[0].i if content else tok.i)
            out.append(self._cand_tokens(ts, tok.i + 1, "group", key, 2, "GROUP", name))
        return out

    def _blocks(self, mod, head, low: str) -> bool:
        """A modifier inside another organisation's name ("IRGC forces") leaves the phrase to
        that organisation; spaCy's ORG label on a name before "regime" ("Assad") does not."""
        if mod.i not in self.org_tokens or head.i in range(*self.org_span[mod.i]) or _country_of_token(mod):
            return False
        ots, ote = self.org_span[mod.i]
        gazetteer_org = self.sp[ots:ote].text.lower() in _ORG_FORMS
        return not (low in REGIME_NOUNS and mod.pos_ == "PROPN" and not gazetteer_org)

    def _first_content(self, left: int, head: int) -> int:
        sp = self.sp
        i = left
        while i < head and (sp[i].dep_ in ("det", "predet", "punct", "cc", "advmod", "poss")
                            or sp[i].text.lower() in GENERIC_MODS):
            i += 1
        return i

    def _entities(self) -> list[Cand]:
        sp = self.sp
        out = []
        for ent in sp.ents:
            label = ent.label_
            if label not in ("PERSON", "ORG", "GPE", "NORP"):
                continue
            ts, te = ent.start, ent.end
            while ts < te and sp[ts].text.lower() in ("the", "a", "an"):
                ts += 1
            while te > ts and sp[te - 1].text in ("'s", "’s", "'", "’", "-", ",", "."):
                te -= 1
            if te <= ts:
                continue
            text = _clean(sp[ts:te].text)
            if not text or not any(ch.isalpha() for ch in text):
                continue
            root = sp[ts:te].root
            if label == "NORP":
                country = gz.country_of_adj(text)
                nominal = root.dep_ not in ("amod", "compound", "nmod") and root.pos_ in ("PROPN", "NOUN", "PRON")
                if not nominal:
                    continue
                if country:
                    out.append(self._cand_tokens(ts, te, "country", country, 3, "GPE", demonym=True))
                else:
                    out.append(self._cand_tokens(ts, te, "norp", text.lower(), 3, "NORP", text))
                continue
            if label == "GPE":
                country = gz.country_of_name(text)
                if country:
                    out.append(self._cand_tokens(ts, te, "country", country, 3, "GPE",
                                                 capital=text.lower() in gz.CAPITALS))
                else:
                    out.append(self._cand_tokens(ts, te, "gpe", text.lower(), 3, "GPE", text))
                continue
            if label == "ORG":
                if text.lower() in gz.GENERIC_ORGS or _strip_the(text).lower() in gz.GENERIC_ORGS:
                    continue
                country = gz.country_of_name(text)
                words = _strip_the(text).split(" ", 1)
                if not country and len(words) == 2 and words[1].lower() in gz.GENERIC_ORGS:
                    country = gz.country_of_adj(words[0])
                if country:
                    out.append(self._cand_tokens(ts, te, "country", country, 3, "GPE"))
                    continue
                out.append(self._cand_tokens(ts, te, "org", _strip_the(text), 3, "ORG", _strip_the(text)))
                continue
            # PERSON: drop leading titles spaCy sometimes includes.
            while ts < te - 1 and sp[ts].text.lower() in gz.TITLES:
                ts += 1
            name = _clean(sp[ts:te].text)
            if gz.country_of_name(name) or gz.country_of_adj(name):
                continue
            out.append(self._cand_tokens(ts, te, "person", name, 3, "PERSON", name))
        return out


def _select(cands: list[Cand]) -> list[Cand]:
    chosen: list[Cand] = []
    for c in sorted(cands, key=lambda c: (c.prio, -(c.end - c.start), c.start)):
        if any(c.start < o.end and o.start < c.end for o in chosen):
            continue
        chosen.append(c)
    return sorted(chosen, key=lambda c: c.start)


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("’", "").replace("'", "")).strip("-")
    return s or "actor"


@dataclass
class ActorIndex:
    """What the other components need besides `doc.actors` (kept in the private cache)."""

    token_actor: dict[int, str]  # spaCy token index -> actor id (mentions and resolved pronouns)
    mention_actor: list[tuple[int, int, str]]  # (start, end, actor id), in text order
    pronoun_actor: dict[int, str]


def build_actors(doc: Document) -> tuple[list[Actor], ActorIndex]:
    sp = parse(doc)
    b = _Builder(sp)
    chosen = _select(b.candidates())

    # ---- people: full names are clusters; a surname (or a first name) alone joins the
    # full name it belongs to (the most recent one before it when several share it).
    persons = [c for c in chosen if c.kind == "person"]
    full_names: list[tuple[int, str, list[str]]] = []  # (start, key, tokens)
    for c in persons:
        toks = _norm_name(c.key)
        if len(toks) >= 2:
            full_names.append((c.start, "person:" + " ".join(toks), toks))

    def person_key(name: str, pos: int) -> str:
        toks = _norm_name(name)
        if len(toks) >= 2:
            return "person:" + " ".join(toks)
        if not toks:
            return "person:" + name.lower()
        tok = toks[0]
        for field_i in (-1, 0):  # surname first, then first name
            keys = {k for _, k, ts in full_names if ts[field_i] == tok}
            if len(keys) == 1:
                return keys.pop()
            if keys:
                before = [(st, k) for st, k, ts in full_names if ts[field_i] == tok and st <= pos]
                return max(before)[1] if before else min((st, k) for st, k, ts in full_names if ts[field_i] == tok)[1]
        return "person:" + tok

    for c in chosen:
        if c.kind in ("person", "regime_person"):
            c.key = person_key(c.key, c.start)
    person_keys = {c.key for c in chosen if c.kind in ("person", "regime_person")}
    by_token = {}
    for k in person_keys:
        toks = k.split(":", 1)[1].split()
        by_token.setdefault(toks[-1], set()).add(k)
    # Mentions of a person's name that spaCy labelled ORG / GPE / NORP join the person.
    for c in chosen:
        if c.kind in ("org", "gpe", "norp") and len(_name_tokens(c.key)) <= 3:
            toks = _norm_name(c.key)
            k = "person:" + " ".join(toks)
            if k in person_keys:
                c.kind, c.key, c.label = "person", k, "PERSON"
            elif len(toks) == 1 and by_token.get(toks[0]):
                c.kind, c.key, c.label = "person", person_key(c.key, c.start), "PERSON"

    # ---- leaders: which person rules which country
    leader_of: dict[str, str] = {}  # person key -> country
    for c in chosen:
        if c.kind == "person" and c.extra.get("leader_of"):
            leader_of[c.key] = c.extra["leader_of"]
    for k in person_keys:
        s = k.split(":", 1)[1].split()[-1]
        if gz.LEADER_COUNTRY.get(s):
            leader_of.setdefault(k, gz.LEADER_COUNTRY[s])
    regime_people = {c.key for c in chosen if c.kind == "regime_person"}
    mentioned_people = {c.key for c in chosen if c.kind in ("person", "regime_person")}
    country_leader = {}
    for p, country in leader_of.items():
        if p in mentioned_people:
            country_leader.setdefault(country, p)
    for c in chosen:
        if c.kind == "regime_country":
            p = country_leader.get(c.key)
            if p:
                c.kind, c.key = "regime_person", p
                regime_people.add(p)
            else:
                c.extra["regime"] = True
                c.kind = "country"

    # ---- keys for every candidate
    def key_of(c: Cand) -> str:
        if c.kind in ("person", "regime_person"):
            return c.key
        if c.kind == "country":
            return "country:" + c.key
        if c.kind == "org":
            return "org:" + c.key.lower()
        if c.kind == "group":
            return "group:" + c.key
        if c.kind == "norp":
            return "norp:" + c.key
        if c.kind == "gpe":
            return "gpe:" + c.key.lower()
        return ""

    # Acronyms join their long forms: "IRGC" ~ "Islamic Revolutionary Guard Corps".
    org_keys = {c.key for c in chosen if c.kind == "org"}
    acr = {}
    for k in org_keys:
        words = [w for w in re.split(r"[\s\-]+", k) if w and w.lower() not in ("of", "the", "and", "for")]
        if len(words) >= 2:
            acr["".join(w[0] for w in words).upper()] = k
    for c in chosen:
        if c.kind == "org" and c.key.isupper() and c.key in acr:
            c.key = acr[c.key]

    # Regime anaphors: the most recent actor the article has called a regime.
    regime_keys_seen: set[str] = set()
    last_pos: dict[str, int] = {}
    for c in chosen:
        if c.kind == "anaphor":
            options = [k for k in regime_keys_seen if k in last_pos]
            if options:
                k = max(options, key=lambda k: last_pos[k])
                c.extra["resolved"] = k
            continue
        k = key_of(c)
        if not k:
            continue
        last_pos[k] = c.start
        if c.kind == "regime_person" or c.extra.get("regime"):
            regime_keys_seen.add(k)

    groups: dict[str, list[Cand]] = defaultdict(list)
    gpe_keys = {key_of(c) for c in chosen if c.kind == "gpe"}
    for c in chosen:
        k = c.extra.get("resolved") if c.kind == "anaphor" else key_of(c)
        if k and k.startswith("org:") and "gpe:" + k[4:] in gpe_keys:
            k = "gpe:" + k[4:]  # "WESTERVILLE" (ORG, a dateline) ~ "Westerville" (GPE)
        if k:
            groups[k].append(c)

    # ---- drop places used only as places
    def locative(c: Cand) -> bool:
        tok = sp[c.te - 1]
        while tok.dep_ == "conj" and tok.head.i != tok.i:
            tok = tok.head
        return tok.dep_ == "pobj" and tok.head.lemma_.lower() in (
            "in", "at", "inside", "within", "across", "throughout", "near", "around", "through", "outside")

    for k in list(groups):
        cs = groups[k]
        if k.startswith("gpe:") or k.startswith("country:"):
            plain = all(c.kind in ("gpe", "country") and not c.extra.get("regime") and not c.extra.get("demonym")
                        and not c.extra.get("capital") and sp[c.ts].pos_ == "PROPN" and c.te - c.ts <= 3
                        for c in cs)
            if plain and all(locative(c) for c in cs):
                del groups[k]

    # ---- actors
    actors: list[Actor] = []
    used_ids: set[str] = set()
    token_actor: dict[int, str] = {}
    mention_actor: list[tuple[int, int, str]] = []
    for k, cs in sorted(groups.items(), key=lambda kv: min(c.start for c in kv[1])):
        cs = sorted(cs, key=lambda c: c.start)
        kind = k.split(":", 1)[0]
        if kind == "person":
            if k in regime_people:
                last = k.split(":", 1)[1].split()[-1]
                forms = [t for c in cs for t in _name_tokens(doc.text[c.start:c.end]) if t.lower() == last]
                surname_text = forms[0] if forms else last.title()
                name, typ = f"{surname_text} regime", "ORG"
            else:
                names = [c.name for c in cs if c.kind == "person" and c.name]
                full = max(names, key=lambda n: (len(_name_tokens(n)), len(n)), default=k.split(":", 1)[1].title())
                if len(_name_tokens(full)) == 1:
                    titled = [c.extra["titled"] for c in cs if c.extra.get("titled")]
                    if titled:
                        full = titled[0]
                name, typ = full, "PERSON"
        elif kind == "country":
            name, typ = k.split(":", 1)[1], "GPE"
        elif kind == "org":
            forms = Counter(_strip_the(c.name or c.key) for c in cs)
            name = gz.ORGS.get(cs[0].key, None) or max(forms, key=lambda f: (len(f), forms[f]))
            typ = "ORG"
        elif kind == "group":
            forms = Counter(c.name for c in cs if c.name)
            name = forms.most_common(1)[0][0] if forms else k.split(":", 1)[1]
            typ = "GROUP"
        elif kind == "norp":
            forms = Counter(c.name for c in cs if c.name)
            name = forms.most_common(1)[0][0] if forms else k.split(":", 1)[1]
            typ = "NORP"
        else:  # gpe
            forms = Counter(_strip_the(c.name or c.key) for c in cs)
            name = forms.most_common(1)[0][0]
            typ = "GPE"
        aid = _slug(name)
        base, n = aid, 2
        while aid in used_ids:
            aid, n = f"{base}-{n}", n + 1
        used_ids.add(aid)
        mentions = [doc.mention(c.start, c.end) for c in cs]
        actors.append(Actor(id=aid, name=name, type=typ, mentions=mentions))
        for c in cs:
            mention_actor.append((c.start, c.end, aid))
            for i in range(c.ts, c.te):
                token_actor[i] = aid
    mention_actor.sort()

    # ---- pronouns (index only)
    person_mentions = []  # (start, actor id) of mentions that name a person
    plural_mentions = []
    for c in chosen:
        aid = token_actor.get(c.ts)
        if aid is None:
            continue
        if c.kind == "person":
            person_mentions.append((c.start, aid))
        head = sp[c.te - 1]
        if c.kind in ("group", "norp") or (c.kind == "country" and head.tag_ in ("NNS", "NNPS")) or \
                c.extra.get("demonym") or head.text.lower() in ("officials", "leaders", "authorities", "forces"):
            plural_mentions.append((c.start, aid))
    pronoun_actor: dict[int, str] = {}
    sents = list(sp.sents)
    sent_of = {}
    for si, s in enumerate(sents):
        for t in s:
            sent_of[t.i] = si
    for tok in sp:
        low = tok.text.lower()
        pool = person_mentions if low in PRONOUNS_PERSON else plural_mentions if low in PRONOUNS_PLURAL else None
        if pool is None or tok.pos_ != "PRON":
            continue
        here = sent_of.get(tok.i, 0)
        window = []  # (start, actor id, sentence) of earlier mentions in this or the two previous sentences
        for start, aid in pool:
            if start >= tok.idx:
                break
            st = sp.char_span(start, start + 1, alignment_mode="expand")
            si = sent_of.get(st.start, -99) if st is not None else -99
            if here - si <= 2:
                window.append((start, aid, si))
        if not window:
            continue
        start, aid, si = window[-1]
        near = {a for _, a, s in window if here - s <= 1}
        # The most recent candidate, if it is in the same sentence, or the only one in this
        # and the previous sentence, or the only one in the last three.
        if si == here or len(near) == 1 and aid in near or len({a for _, a, _ in window}) == 1:
            pronoun_actor[tok.i] = aid
    for i, aid in pronoun_actor.items():
        token_actor.setdefault(i, aid)
    return actors, ActorIndex(token_actor, mention_actor, pronoun_actor)


def actor_index(doc: Document) -> ActorIndex:
    """The token -> actor index of the actors component (rebuilt if it is missing)."""
    cache = cache_for(doc)
    if "actor_index" not in cache:
        actors, index = build_actors(doc)
        if not doc.actors:
            doc.actors = actors
        cache["actor_index"] = index
    return cache["actor_index"]


@register("actors")
class ActorFinder:
    """Finds and merges the actors of an article (see the module docstring for the policy)."""

    name = "actors"
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __call__(self, doc: Document) -> Document:
        actors, index = build_actors(doc)
        doc.actors = actors
        cache_for(doc)["actor_index"] = index
        doc.model["actors"] = {"name": "redline-actors", "spacy": nlp_name()}
        return doc
