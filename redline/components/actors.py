"""Actors: the people, organisations, countries and groups an article is about.

Found with spaCy en_core_web_md (entities PERSON, ORG, GPE, NORP) plus rules over the
dependency parse, and merged so each actor carries all its mentions. The rules were
checked against GUM news (gold entity clusters) and the narrative-frames climate
corpus (the entities annotators cast as heroes, villains and victims); `bench/actors.py`
prints both figures.

Merging policy (what becomes one actor), and why:

* Countries: the name, its aliases, its capital and seats of power ("Tehran", "the
  Kremlin", "Washington", "Downing Street", "Number 10"), a demonym used as a noun
  ("Iranians"), and a country adjective before a noun for the state ("the Iranian
  regime", "Iranian officials") are one actor, named after the country, type GPE.
  Capitals join their country because news uses them interchangeably for its government
  ("Moscow warned", "the Kremlin said", "Russia denied") and seldom set the two against
  each other; keeping them apart would split one actor in three. A capital used as
  a place ("talks in Tehran") is not a mention of anyone. Brussels is the exception: in
  political news it stands for the European Union, so it joins that (gazetteer
  `METONYM_ORGS`). The people of a country ("the Iranian people") are a separate GROUP:
  articles set a people against its rulers.
* Regimes: "<Person> regime" (also dynasty, junta, clan) joins that person: "Assad",
  "Bashar al-Assad", "the terrorist Assad regime" are one actor, named "Assad regime",
  type ORG. "<Country adjective> regime" joins the regime of that country's leader when
  the article mentions the leader, otherwise the country. "The regime" refers back to
  the most recently mentioned actor the article has called a regime.
* Administrations: "the Trump administration" (also government, cabinet, campaign after
  a person's name) is an ORG actor of its own, named "Trump administration". Unlike a
  regime, which op-eds use as another name for the ruler, an administration is an
  institution that news sets beside the person (staff, agencies, policies); GUM and the
  frames corpus annotate the two apart.
* People: one actor per full name. A full name is first name + surname + generational
  suffix; middle names and initials do not count ("Donald J. Trump" ~ "Donald Trump"),
  a suffix does ("Donald Trump Jr." is another person), and two different full names are
  never merged. A bare surname, with or without a title ("Trump", "Mrs May", "President
  Trump"), joins a full name with that surname: one without a suffix when there is one
  ("Trump" is the father, "Trump Jr." the son); among several, the one the article names
  most often (news keeps bare surnames for its main figures: "Mohamed" is the boy Ahmed
  Mohamed, not his once-named father), then the most recent before it (else the first
  after it). A titled bare surname never joins a suffixed name it may not be ("President
  Trump" is not "Donald Trump Jr."). A first name alone joins the same way by first name.
  Surnames of known people that spaCy missed later in the text ("Trump spoke.") are
  mentions too, and so is a capital that is a person's surname here ("Valeska Paris").
  Titles are part of the mention ("Gen. Pourdastan"); a name spaCy labels ORG or GPE
  elsewhere joins the person; "Theresa May" stays whole where spaCy reads "May" as a date.
* Organisations: spaCy ORG plus a small gazetteer (IRGC, Quds Force, Hezbollah, ...).
  Names are compared without "the", a possessive or a leading country ("the U.S. Justice
  Department"), and "X Department/Ministry" is the same name as "Department/Ministry of
  X", so "the Justice Department" ~ "the Department of Justice". An acronym joins the one
  name whose initials it spells, with or without its small words ("DOJ" ~ "Department of
  Justice", "EPA" ~ "Environmental Protection Agency", "USDA" ~ "U.S. Department of
  Agriculture"), or the name it follows in brackets ("... Agency (EPA)"). Generic words
  ("Army", "Government") are not names, but capitalised institutions are ("Congress",
  "the Senate").
* Definite descriptions: "the agency", "the department", "the president", "the (federal)
  government", "the administration", "the company" refer back to the most recent actor
  (within 2,500 characters) that has that word in its name, in one of its mentions or in
  its title; "the government", "the administration", "the military" and "the police"
  with nothing to refer back to are an actor of their own (a reader lists "the
  government"). Falling back on the most recent organisation or country without the word
  was tried and merged wrong actors on GUM ("the company" -> NASA), so it is not done.
* Groups: noun phrases headed by a group noun. Nouns for kinds of people stand alone
  ("farmers", "scientists", "activists", "rebels", "lawmakers", any plural ending in
  "-ists"); weaker ones need a meaningful modifier or an "of" phrase ("fishing
  families", "the Syrian people", "people of color", "oil companies", "environmental
  groups": an adjective that says which kind, in -al/-ic/-ian..., counts; "innocent people"
  is not an actor). Evaluative adjectives are dropped from the key ("violent extremists"
  ~ "extremists"), and a bare group noun joins the one modified group with the same noun
  ("alarmists" ~ "climate alarmists"). Militias from several countries named in one
  phrase are one actor, "militia groups".
* Not actors: places only ever used as places ("in southern Aleppo"); topics, laws and
  campaigns ("Brexit", "pro-Brexit", "Obamacare", "the Clean Power Plan", any name ending
  in Act, Bill, Deal, Referendum...); bylines (a name in capitals alone on one of the
  first three lines, or "By ..."), photo credits and wire tags ("Photo: AFP/Getty Images", "(Reuters) -", a line
  "REUTERS"); hashtags and -isms ("Islamophobia"); acronyms of things that spaCy calls
  organisations ("the FAQ page", "GDP", "GMT"); party short forms it calls people ("Dem
  parody bill": a party word, judged like "Democratic"); and names found only in a title-case
  headline (spaCy guesses there: "Bill", "Referendum", "Tories Cheer" were people), unless
  each of their words is capitalised in the body too or a gazetteer knows them;
  organisations of two words or more are kept there.

Pronouns (he/him/his, she/her, they/them/their) are resolved to the most recent fitting
actor for the relations and claims components (kept in the private token index, not
added as mentions); "she" skips people the article titles Mr or Sir, "he" those it
titles Mrs, Ms or Dame. Coreference packages were tried: coreferee 1.5 installs from PyPI
(spaCy 3.8 is supported) but its English model, coreferee_model_en, is only on GitHub,
so nothing better than these rules runs offline.
Everything is cached on the document (see `redline.components.nlp`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from redline.components import gazetteer as gz
from redline.components.nlp import cache_for, nlp_name, parse
from redline.doc import Actor, Document
from redline.registry import register

REGIME_NOUNS = {"regime", "dynasty", "junta", "clan", "regimes"}
# A person's name before these makes an administration actor ("the Trump administration").
ADMIN_NOUNS = {"administration", "government", "cabinet", "campaign", "presidency"}
STATE_NOUNS = {
    "government", "governments", "administration", "leaders", "leadership", "officials", "authorities",
    "army", "military", "forces", "troops", "navy", "diplomats", "ministry", "state", "establishment",
    "rulers", "security", "intelligence", "embassy", "parliament", "cabinet", "generals", "commanders",
    "soldiers", "propaganda",
}
# Group heads that make an actor on their own ("the rebels", "farmers", "scientists").
GROUP_STRONG = {
    "militia", "militias", "militiamen", "rebels", "revolutionaries", "insurgents", "jihadists", "terrorists",
    "protesters", "protestors", "demonstrators", "separatists", "extremists", "paramilitaries", "guerrillas",
    "refugees", "settlers", "mercenaries", "rioters", "dissidents", "islamists", "hardliners", "loyalists",
    "opposition", "revolutionary", "rebel",
    # kinds of people a story casts ("farmers", "climate alarmists", "lawmakers")
    "farmers", "ranchers", "fishermen", "scientists", "researchers", "experts", "economists", "activists",
    "environmentalists", "alarmists", "campaigners", "advocates", "journalists", "reporters", "politicians",
    "lawmakers", "legislators", "senators", "congressmen", "mps", "voters", "taxpayers", "consumers",
    "homeowners", "landowners", "employers", "employees", "investors", "shareholders", "lobbyists", "donors",
    "billionaires", "elites", "bureaucrats", "critics", "opponents", "supporters", "skeptics", "sceptics",
    "deniers", "conservatives", "liberals", "progressives", "leftists", "socialists", "communists",
    "nationalists", "populists", "feminists", "immigrants", "migrants", "asylum-seekers", "doctors", "nurses",
    "teachers", "students", "parents", "police", "prosecutors", "judges", "lawyers", "unions", "corporations",
    "polluters", "producers", "manufacturers", "developers", "landlords", "tenants", "victims", "survivors",
    "veterans", "patriots", "traitors", "globalists", "plaintiffs", "defendants", "delegates", "negotiators",
    "regulators", "officers", "firefighters", "pilgrims", "worshippers", "believers", "clergy", "bishops",
    "democrats", "republicans", "tories", "mullahs", "ayatollahs", "kurds", "shiites", "sunnis",
    "candidates", "contenders", "governors", "mayors", "media", "governments", "academics",
    "humans", "humanity", "mankind", "humankind", "businesses", "workers", "residents", "miners", "shoppers",
    "seekers", "villagers", "townspeople", "islanders", "motorists", "commuters", "passengers", "fans",
}
# Group heads that need a modifier ("the Syrian people", "Kurdish fighters", "oil companies").
GROUP_WEAK = {
    "people", "population", "public", "citizens", "civilians", "nation", "fighters", "groups", "community",
    "communities", "tribes", "youth", "women", "men", "children", "families", "minorities", "minority",
    "masses", "forces", "units", "brigades", "factions", "movement", "movements", "allies", "proxies",
    "clerics", "companies", "firms", "industry", "industries", "interests", "organizations", "organisations",
    "agencies", "states", "nations", "countries", "cities", "leaders", "members", "owners", "officials",
    "parties", "banks", "institutions", "utilities", "generations", "outlets",
}
PEOPLE_NOUNS = {"people", "population", "public", "citizens", "civilians", "nation", "masses", "youth"}
GENERIC_MODS = {
    "different", "many", "other", "some", "several", "various", "all", "both", "such", "these", "those",
    "this", "that", "the", "a", "an", "even", "elite", "new", "local", "foreign", "armed", "regional",
    "various", "numerous", "few", "most", "more", "certain", "own", "main", "major", "key", "so", "-",
    "called", "so-called", ",", "and", "or",
}
ANAPHOR_DETS = {"the", "this", "that"}
# "the <noun>" that refers back to an actor having that word in its name, a mention or a title.
DESCRIPTION_NOUNS = {
    "agency", "department", "ministry", "company", "firm", "corporation", "organisation", "organization",
    "group", "party", "court", "committee", "commission", "council", "bureau", "union", "university",
    "administration", "government", "president", "minister", "senator", "governor", "chancellor", "mayor",
    "secretary", "premier", "king", "queen", "prince", "network", "newspaper", "team", "institute", "charity",
    "coalition", "alliance", "board", "service", "foundation", "association", "church", "club", "authority",
    "military", "police",
}
# Descriptions that are an actor of their own when nothing earlier has the word.
STANDALONE_DESCRIPTIONS = {"government", "administration", "military", "police"}
# Modifiers that leave a description bare: "the federal government" is still "the government".
DESCRIPTION_MODIFIERS = {"federal", "central", "national", "current", "state", "incoming", "outgoing"}
DESCRIPTION_REACH = 2500  # characters: how far back "the agency" may look
_DET_KEEP = {"the"}
_MONTH_SURNAMES = {"May", "June", "April", "August", "January"}
# Named people and places are the rules' to keep or drop; the non-human cast never re-adds
# one ("in Washington" is a place, not a thing). Organisations may come back: spaCy calls
# "the Green New Deal" an ORG, which the rules drop as a topic and a story may still cast.
RULE_ENTITIES = {"PERSON", "GPE", "LOC", "FAC"}
_NAME_ENTITIES = {"GPE", "LOC", "FAC", "NORP", "PERSON", "EVENT", "LAW", "WORK_OF_ART", "PRODUCT"}
_ORG_FORMS = {k.lower() for k in gz.ORGS}
# Words that end an organisation's or a place's name, never a person's ("Justice Department").
ORG_NAME_WORDS = {
    "department", "ministry", "agency", "office", "court", "committee", "council", "house", "party", "street",
    "university", "institute", "association", "union", "commission", "bureau", "service", "corps", "force",
    "forces", "army", "company", "corporation", "group", "news", "times", "post", "journal", "bank", "fund",
}
# Countries' names that may open an organisation's name and are left out of its key.
_COUNTRY_PREFIX = re.compile(r"^(?:the\s+)?(?:u\.?s\.?a?\.?|united states|american|british|u\.?k\.?|federal)\s+", re.I)
# Only these heads are reordered: "Justice Department" ~ "Department of Justice".
_REORDER_HEADS = {"department", "ministry"}
_SMALL_WORDS = {"of", "the", "and", "for", "on", "in", "to", "&"}
_ACRONYM = re.compile(r"^[A-Z](?:[A-Z&]|\.[A-Z]){1,6}\.?$")

PRONOUNS_PERSON = {"he", "him", "his", "himself", "she", "her", "hers", "herself"}
PRONOUNS_PLURAL = {"they", "them", "their", "theirs", "themselves"}
PRONOUNS_FEMALE = {"she", "her", "hers", "herself"}
_FEMALE_TITLES = {"mrs", "ms", "miss", "dame", "lady", "queen", "princess", "baroness", "congresswoman",
                  "spokeswoman", "chairwoman", "councilwoman", "mme", "frau"}
_MALE_TITLES = {"mr", "sir", "lord", "king", "prince", "baron", "congressman", "spokesman", "chairman",
                "councilman", "herr"}

# Headlines: a run of capitalised words with a capitalised verb or small word inside it.
_HEADLINE_SMALL = {"to", "for", "of", "in", "on", "with", "and", "the", "a", "an", "as", "at", "by", "from",
                   "over", "after", "is", "are", "be", "will", "says", "say", "amid", "into", "against"}
_CREDIT_LABEL = re.compile(r"\b(?:Photo(?:graph)?s?|Image|Picture|Credit|Illustration|Video)\s*:\s*[^\n.;|]{0,60}")
# "Peter Nicholls/Reuters", "AFP/Getty Images": a word glued by a slash to an agency.
_CREDIT_SLASH = re.compile(r"(?:[A-Z][\w.'’-]*\s){0,3}[\w.'’-]*/\s?(?:AFP|Getty(?: Images)?|Reuters|AP|EPA|PA|"
                           r"Shutterstock|Alamy|Bloomberg|Xinhua|Anadolu|Sipa|Rex)\b(?: Images)?")
_CREDIT_WIRE = re.compile(r"\((?:Reuters|AP|AFP|CNN|Bloomberg|UPI|AAP|dpa|EFE|Xinhua)\)")
_BYLINE = re.compile(r"^\s*(?:By\s+)?([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})\s*(?:,\s*[\w ]{1,40})?\s*$")


@dataclass
class Cand:
    start: int  # char offsets, end exclusive
    end: int
    ts: int  # token span [ts, te)
    te: int
    # person | org | country | group | norp | regime_person | regime_country | anaphor | gpe |
    # administration | description | thing (the non-human cast, redline.components.cast)
    kind: str
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
    """Words of a name; a particle glued with a hyphen is split off ("al-Assad" -> al, Assad),
    a hyphenated surname is not ("Ocasio-Cortez")."""
    out = []
    for word in name.replace("’", "'").split():
        parts = re.split(r"[\-‑]", word, maxsplit=1)
        if len(parts) == 2 and parts[0].lower() in gz.NAME_PARTICLES and parts[1]:
            out += [parts[0], parts[1]]
        elif word not in ("-", "‑"):
            out.append(word)
    return out


@dataclass(frozen=True)
class PersonName:
    """A person's name as merging compares it: "Gen. Donald J. Trump Jr.'s" ->
    words (donald, trump), suffix "jr", titles {gen}."""

    words: tuple[str, ...]
    suffix: str = ""
    titles: frozenset = frozenset()

    @property
    def full(self) -> bool:
        return len(self.words) >= 2

    @property
    def key(self) -> str:
        core = [self.words[0], self.words[-1]] if self.full else list(self.words)
        return "person:" + " ".join(core + ([self.suffix] if self.suffix else []))


def _person_name(name: str) -> PersonName:
    words, titles, suffix = [], set(), ""
    for t in _name_tokens(name):
        low = re.sub(r"'s?$", "", t.lower())
        if low in gz.NAME_SUFFIXES and words:
            suffix = low.rstrip(".").replace("junior", "jr").replace("senior", "sr")
            continue
        if not words and (low in gz.TITLES or low.rstrip(".") in gz.TITLES):
            titles.add(low.rstrip("."))  # titles before the name; "John King" keeps his surname
            continue
        if low in gz.NAME_PARTICLES or not low.strip(".,"):
            continue
        if re.fullmatch(r"[a-z]\.?", low) and words:
            continue  # a middle initial
        words.append(low.strip(".,"))
    return PersonName(tuple(words), suffix, frozenset(titles))


def _norm_name(name: str) -> list[str]:
    """Lowercased name words without particles, titles and initials: "Bashar al-Assad" -> [bashar, assad]."""
    return list(_person_name(name).words)


def _org_key(name: str) -> str:
    """How organisation names are compared: "the U.S. Justice Department's" and "Department
    of Justice" -> "department of justice"."""
    text = re.sub(r"(?<=\w)['’]s?\b", "", _clean(name))  # "New People's Party" ~ "New People Party"
    text = _strip_the(text)
    stripped = _COUNTRY_PREFIX.sub("", text)
    if stripped == text:
        words = text.split()
        for n in (3, 2, 1):  # "United Kingdom Home Office" ~ "Home Office"
            country = " ".join(words[:n])
            if len(words) > n + 1 and (gz.country_of_name(country) or gz.country_of_adj(country)):
                stripped = " ".join(words[n:])
                break
    if stripped and len(stripped.split()) >= 2:
        text = stripped
    words = text.split()
    if len(words) >= 2 and words[-1].lower() in _REORDER_HEADS and words[0].lower() not in _SMALL_WORDS:
        words = [words[-1], "of"] + words[:-1]
    return " ".join(words).lower()


def _initials(words: list[str], small_words: bool) -> str:
    out = ""
    for w in words:
        if w.lower() in _SMALL_WORDS and (not small_words or w.lower() in ("the", "&", "and")):
            continue
        letters = w.replace(".", "")
        if re.fullmatch(r"[A-Z]{1,3}", letters) and len(letters) <= 3 and "." in w:
            out += letters  # "U.S." spells US
        elif letters:
            out += letters[0].upper()
    return out


def _acronyms_of(name: str) -> set[str]:
    """The acronyms a name may go by: with and without its small words, with and without a
    leading country ("U.S. Department of Agriculture" -> USDA, USDOA, DA, DOA)."""
    forms = {_strip_the(_clean(name)), _org_key(name)}
    out = set()
    for form in forms:
        words = [w for w in re.split(r"[\s\-]+", form) if w]
        if len(words) >= 2:
            for small in (True, False):
                initials = _initials([w if w[:1].isupper() or w.lower() in _SMALL_WORDS else w.title()
                                      for w in words], small)
                if len(initials) >= 2:
                    out.add(initials)
    return out


def _country_of_token(tok) -> str | None:
    text = tok.text
    return gz.country_of_adj(text) or (gz.country_of_name(text) if tok.pos_ in ("PROPN", "ADJ") else None)


def _is_topic(text: str) -> bool:
    """A topic, campaign or law rather than an actor: "Brexit", "pro-Brexit", "the Clean Air Act"."""
    low = _strip_the(_clean(text)).lower()
    if not low:
        return True
    words = low.split()
    return _names_a_topic(low) or low in gz.TOPICS or low.endswith("-era") or \
        len(words) >= 2 and (words[-1] in gz.POLICY_HEADS or " ".join(words[-2:]) in gz.TOPICS) or \
        any(w in gz.TOPICS for w in words if w in ("obamacare", "covid-19", "coronavirus"))


def _names_a_topic(low: str) -> bool:
    """A subject of debate rather than a party to it ("Brexit", "the Brexit deal", "Islam",
    "#MeToo"): never an actor, not even of the non-human cast, which may keep the laws,
    programmes and phenomena a story casts (`gazetteer.CASTABLE_TOPICS`)."""
    words = low.split()
    return low in gz.DEBATE_TOPICS or " ".join(words[-2:]) in gz.DEBATE_TOPICS or "brexit" in words or \
        bool(re.match(r"^(?:pro|anti|post|pre|non)[\-‑]", low)) or low.startswith("#") or \
        " " not in low and bool(re.search(r"(?:ism|phobia|gate)$", low))  # "#MeToo", "Islamophobia", "Pizzagate"


# Gazetteer surface forms: acronyms and dotted forms match as written, the rest in any case.
_GAZETTEER_FORMS: dict[str, str] = {}
for _form in list(gz.ORGS) + list(gz.SEAT_FORMS):
    _GAZETTEER_FORMS[_form if _form.isupper() or "." in _form else _form.lower()] = _form
_gazetteer_rx = None


def _gazetteer_pattern() -> re.Pattern:
    """One alternation of every gazetteer form, longest first (one pass over the text)."""
    global _gazetteer_rx
    if _gazetteer_rx is None:
        forms = sorted(set(gz.ORGS) | set(gz.SEAT_FORMS), key=lambda f: -len(f))
        alternatives = [re.escape(f) if f.isupper() or "." in f else "(?i:" + re.escape(f) + ")" for f in forms]
        _gazetteer_rx = re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])")
    return _gazetteer_rx


class _Builder:
    """Finds the candidate mentions of one parsed article (before merging)."""

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
        self.toks = list(sp)  # spaCy makes a new Token object on every access: make them once
        self.headline_tokens = self._headline_tokens()
        self.credits: list[tuple[int, int]] = []  # set by candidates(): photo credits, wire tags
        self.bylines: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ candidates
    def candidates(self) -> list[Cand]:
        cands: list[Cand] = []
        cands += self._titled_persons()
        cands += self._gazetteer_orgs()
        for c in cands:
            if c.kind == "person":
                self.person_tokens.update(range(c.ts, c.te))
            elif c.kind == "org":
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
        credits, bylines = self.credits, self.bylines = self._non_actor_ranges()
        out = []
        for c in cands:
            if any(c.start < e and s < c.end for s, e in credits):
                continue
            surface = self.text[c.start:c.end]
            if len(surface) > 3 and surface.isupper() and surface.lower() in gz.CREDIT_AGENCIES:
                continue  # "REUTERS", "GETTY": a credit line, whatever it is glued to
            if c.kind == "person" and any(s <= c.start and c.end <= e for s, e in bylines):
                continue
            if all(i in self.headline_tokens for i in range(c.ts, c.te)):
                c.extra["headline"] = True
            out.append(c)
        return out

    def _cand_tokens(self, ts: int, te: int, kind: str, key: str, prio: int, label: str = "", name: str = "",
                     **extra) -> Cand:
        sp = self.sp
        while te > ts + 1 and (sp[te - 1].is_space or sp[te - 1].is_punct):
            te -= 1
        while ts < te - 1 and sp[ts].is_space:
            ts += 1
        start, end = sp[ts].idx, sp[te - 1].idx + len(sp[te - 1].text)
        return Cand(start, end, ts, te, kind, key, prio, label, name, dict(extra))

    # ------------------------------------------------------------------ what is not an actor
    def _headline_tokens(self) -> set[int]:
        """Tokens of title-case headlines ("Brexit Bill Passes Referendum Test"): runs of
        capitalised words with a capitalised verb or small word inside them."""
        out: set[int] = set()
        run: list = []

        def close():
            caps = [t for t in run if t.is_alpha and t.text[:1].isupper()]
            inner = [t for t in caps[1:] if t.lower_ in _HEADLINE_SMALL or t.pos_ in ("VERB", "AUX")]
            if len(caps) >= 3 and inner:
                out.update(t.i for t in run)
            run.clear()

        for tok in self.toks:
            if tok.is_alpha and not tok.text[:1].isupper():
                close()
            elif tok.text in (".", "!", "?") or "\n" in tok.text:
                close()
            else:
                run.append(tok)
        close()
        return out

    def _non_actor_ranges(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Character ranges of photo credits and wire tags (no actor there), and of bylines
        (no person there)."""
        text = self.text
        credits = [m.span() for rx in (_CREDIT_LABEL, _CREDIT_SLASH, _CREDIT_WIRE) for m in rx.finditer(text)]
        credits += [m.span() for m in re.finditer(r"\bGetty Images\b", text)]
        bylines = []
        pos = 0
        lines = text.split("\n")
        nonempty_seen = 0
        for line in lines:
            stripped = line.strip()
            if stripped:
                nonempty_seen += 1
                low = stripped.lower().strip(" .,:;-–—()")
                if low in gz.CREDIT_AGENCIES or re.fullmatch(r"[\w .]{0,40}/\s*[\w .]{0,40}", low) and any(
                        a in low for a in ("getty", "afp", "reuters", "shutterstock", "alamy", "epa", "ap")):
                    credits.append((pos, pos + len(line)))
                elif nonempty_seen <= 3:
                    m = _BYLINE.match(line)
                    if m and (stripped.startswith("By ") or m.group(1).isupper()):
                        bylines.append((pos, pos + len(line)))
            pos += len(line) + 1
        return credits, bylines

    # ------------------------------------------------------------------ people
    def _titled_persons(self) -> list[Cand]:
        sp, toks = self.sp, self.toks
        out = []
        i = 0
        n = len(toks)
        while i < n:
            tok = toks[i]
            if tok.text.lower() in gz.TITLES and tok.text[:1].isupper() and (
                    i == 0 or toks[i - 1].text.lower() not in gz.TITLES):
                j = i
                while j < n and toks[j].text.lower() in gz.TITLES and toks[j].text[:1].isupper():
                    j += 1
                k = j
                while k < n:
                    t = toks[k]
                    if t.pos_ == "PROPN" and t.text[:1].isupper() and not gz.country_of_adj(t.text) \
                            and t.text.lower() not in gz.TITLES:
                        k += 1
                        continue
                    if k > j and t.text.lower() in gz.NAME_PARTICLES:
                        m = k
                        while m < n and toks[m].text.lower() in gz.NAME_PARTICLES:
                            m += 1
                        if m < n and toks[m].pos_ == "PROPN" and toks[m].text[:1].isupper():
                            k = m
                            continue
                    break
                honorific = any(t.text.lower() in gz.HONORIFICS for t in sp[i:j])
                org_word = any(t.text.lower() in ORG_NAME_WORDS for t in sp[j:k])
                if k > j and k - j <= 4 and toks[k - 1].text not in gz.ORGS and not org_word:
                    ent = self.ent_of.get(j)
                    if ent is None or ent.label_ in ("PERSON", "GPE", "NORP", "ORG") or honorific:
                        name = sp[j:k].text
                        titles = {t.text.lower().rstrip(".") for t in sp[i:j]}
                        country = None
                        if i > 0 and titles & gz.LEADER_TITLES:
                            country = gz.country_of_adj(toks[i - 1].text) or gz.country_of_name(toks[i - 1].text)
                        out.append(self._cand_tokens(i, k, "person", name, 0, "PERSON", name,
                                                     titled=sp[i:k].text, leader_of=country,
                                                     title_words=sorted(titles)))
                        i = k
                        continue
            i += 1
        return out

    # ------------------------------------------------------------------ organisations, seats
    def _gazetteer_orgs(self) -> list[Cand]:
        """Organisations of the gazetteer and seats of power ("Number 10", "the Kremlin"), by
        surface form: acronyms as written, other names in any case but capitalised."""
        out = []
        for m in _gazetteer_pattern().finditer(self.text):
            s, e = m.span()
            surface = m.group()
            if not surface[:1].isupper():
                continue
            form = _GAZETTEER_FORMS.get(surface) or _GAZETTEER_FORMS.get(surface.lower())
            if form is None:  # an acronym in the wrong case ("Isis" the goddess, "un-")
                continue
            span = self.sp.char_span(s, e, alignment_mode="expand")
            if span is None:
                continue
            if form in gz.ORGS:
                out.append(Cand(s, e, span.start, span.end, "org", gz.ORGS[form], 1, "ORG", gz.ORGS[form]))
            else:
                out.append(Cand(s, e, span.start, span.end, "country", gz.country_of_name(form), 1, "GPE",
                                extra={"capital": True}))
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
        for tok in self.toks:
            if tok.pos_ not in ("NOUN", "PROPN") or tok.dep_ == "compound":
                continue
            low = tok.text.lower()
            lemma = tok.lemma_.lower()
            people_kind = _people_noun(tok)
            if not (low in REGIME_NOUNS or low in STATE_NOUNS or people_kind or low in GROUP_WEAK
                    or lemma in REGIME_NOUNS or low == "machine" or low in ADMIN_NOUNS or low in DESCRIPTION_NOUNS):
                continue
            if tok.ent_type_ in _NAME_ENTITIES and not (low in REGIME_NOUNS or low in STATE_NOUNS
                                                        or low in ADMIN_NOUNS or people_kind):
                continue  # "the United States" is a name, not a group of states
            left, mods = self._np_left(tok)
            if low == "machine" and not any(t.lemma_.lower() in ("propaganda", "war", "media") for t in mods):
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
                       and t.dep_ not in ("det", "punct", "cc", "predet", "nummod", "quantmod", "advmod", "case")
                       and t.pos_ not in ("NUM", "PUNCT", "ADV", "DET") and t.tag_ != "POS"]  # not "’s"
            if content:  # start the phrase at its first content word ("the" just before it stays)
                first = content[0].i
                left = first - 1 if first > left and sp[first - 1].lower_ == "the" else first
            description = self._description(tok, content)
            if description:
                out.append(description)
                continue
            if tok.i in self.org_tokens and not (low in REGIME_NOUNS or low in STATE_NOUNS or low == "machine"
                                                 or low in ADMIN_NOUNS):
                # A real organisation's name ("Free Syrian Army") stays an organisation.
                ots, ote = self.org_span[tok.i]
                if not any(_country_of_token(t) for t in self.sp[ots:ote]):
                    continue
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
                elif t.pos_ == "PROPN" and (lemma in REGIME_NOUNS or low in ADMIN_NOUNS) and (
                        self.ent_of.get(t.i) is None or self.ent_of[t.i].label_ == "PERSON"):
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
            if low in ADMIN_NOUNS and persons and not countries and tok.tag_ in ("NN", "NNP"):
                first = persons[0].i
                ts = first - 1 if det_the and first - 1 == left else first
                name = sp[persons[0].i:persons[-1].i + 1].text
                out.append(self._cand_tokens(ts, tok.i + 1, "administration", name, 2, "ORG", name,
                                             noun=tok.text.lower()))
                continue
            strong_mod = [t for t in others if t.text.lower() in GROUP_STRONG or t.lemma_.lower() in GROUP_STRONG]
            other_names = [t for t in others if t.pos_ == "PROPN"]  # "US pullout World leaders": a headline
            if (low in STATE_NOUNS or low == "machine") and len(set(countries)) == 1 and not persons \
                    and not strong_mod and not other_names and tok.tag_ in ("NNS", "NN", "NNP", "NNPS"):
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
            of_phrase = self._of_phrase(tok) if low in GROUP_WEAK and not people_kind else None
            is_group = people_kind or strong_mod or (
                low in GROUP_WEAK and (countries or persons or norp_mod or of_phrase
                                       or [t for t in others if t.pos_ in ("PROPN", "NOUN") or _classifying(t)]))
            if not is_group or tok.tag_ not in ("NNS", "NNPS", "NN", "NNP"):
                continue
            if low in GROUP_WEAK and not strong_mod and tok.tag_ == "NN" and low not in (
                    "opposition", "public", "population", "nation", "community", "movement", "minority", "youth",
                    "industry"):
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
                    if t.pos_ in ("ADJ", "VERB") and t not in norp_mod and not _country_of_token(t) \
                            and not _classifying(t):
                        continue  # "violent extremists" ~ "extremists", "unaware American people"
                    words.append(t)
                if low in GROUP_WEAK and not people_kind and not words and of_phrase:
                    # "people of color", "the people of Marlow": the "of" phrase is the modifier
                    det_the = left < tok.i and sp[left].lower_ == "the"
                    ts = left if det_the else tok.i
                    of_text = sp[of_phrase[0]:of_phrase[1]].text
                    out.append(self._cand_tokens(ts, of_phrase[1], "group", f"{lemma} {of_text.lower()}", 2,
                                                 "GROUP", f"{tok.text} {of_text}"))
                    continue
                if (low in PEOPLE_NOUNS or low in GROUP_WEAK and not people_kind) and not words:
                    continue
                key = " ".join([t.text.lower() for t in words] + [lemma])
                name = " ".join([t.text for t in words] + [tok.text])
            if not content and low in GROUP_WEAK and not people_kind:
                continue
            det_the = left < tok.i and sp[left].lower_ == "the"
            ts = left if det_the else (content[0].i if content else tok.i)
            out.append(self._cand_tokens(ts, tok.i + 1, "group", key, 2, "GROUP", name))
        return out

    def _description(self, tok, content) -> Cand | None:
        """ "the agency", "the president", "the government": a definite description with no
        modifier, to be resolved to an earlier actor (or standing alone, see the docstring)."""
        low = tok.text.lower()
        if low not in DESCRIPTION_NOUNS or tok.tag_ not in ("NN", "NNP") or tok.i == 0:
            return None
        if any(t.lower_ not in DESCRIPTION_MODIFIERS or not t.text.islower() for t in content):
            return None  # "the federal government" is a description, "the State Department" a name
        first = content[0].i if content else tok.i
        if first == 0 or self.toks[first - 1].lower_ not in ANAPHOR_DETS:
            return None
        if any(c.dep_ in ("prep", "acl", "relcl", "appos") for c in tok.rights):
            return None  # "the president of Brazil", "the agency that ...": not a bare back-reference
        name = " ".join([t.lower_ for t in content] + [low])
        return self._cand_tokens(first - 1, tok.i + 1, "description", low, 2, "ORG", name)

    def _of_phrase(self, tok) -> tuple[int, int] | None:
        """Token span of "of <name or noun>" after a weak group noun: "people [of color]"."""
        for child in tok.rights:
            if child.dep_ == "prep" and child.lower_ == "of":
                objs = [g for g in child.children if g.dep_ == "pobj"]
                if objs and objs[0].pos_ in ("PROPN", "NOUN") and objs[0].lower_ not in GENERIC_MODS \
                        and not objs[0].like_num and objs[0].lower_ not in ("them", "those", "us"):
                    obj = objs[0]
                    return child.i, obj.i + 1
        return None

    def _blocks(self, mod, head, low: str) -> bool:
        """A modifier inside another organisation's name ("IRGC forces") leaves the phrase to
        that organisation; spaCy's ORG label on a name before "regime" ("Assad") does not."""
        if mod.i not in self.org_tokens or head.i in range(*self.org_span[mod.i]) or _country_of_token(mod):
            return False
        ots, ote = self.org_span[mod.i]
        gazetteer_org = self.sp[ots:ote].text.lower() in _ORG_FORMS
        return not ((low in REGIME_NOUNS or low in ADMIN_NOUNS) and mod.pos_ == "PROPN" and not gazetteer_org)

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
            if not text or not any(ch.isalpha() for ch in text) or _is_topic(text):
                continue
            if _strip_the(text).lower() in gz.THING_ACRONYMS:
                continue  # "the FAQ page", "GDP": a thing, whatever spaCy calls it
            if label == "PERSON" and text.lower() in gz.PARTY_SHORT_FORMS:
                label = "NORP"  # "Dem parody bill": a party word, never a person's name
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
                text = re.sub(r"^(?:the )?(?:State|Commonwealth|Province|City) of ", "", text, flags=re.I)
                metonym = gz.METONYM_ORGS.get(text.lower())
                if metonym:
                    out.append(self._cand_tokens(ts, te, "org", metonym, 3, "ORG", metonym, capital=True))
                    continue
                country = gz.country_of_name(text)
                if country:
                    out.append(self._cand_tokens(ts, te, "country", country, 3, "GPE",
                                                 capital=text.lower() in gz.CAPITALS))
                else:
                    out.append(self._cand_tokens(ts, te, "gpe", text.lower(), 3, "GPE", text))
                continue
            if label == "ORG":
                bare = _strip_the(text)
                if bare.islower():
                    continue  # "the un-thing": names are capitalised
                institution = bare.lower() in gz.INSTITUTIONS and bare[:1].isupper()
                if not institution and (text.lower() in gz.GENERIC_ORGS or bare.lower() in gz.GENERIC_ORGS):
                    continue
                country = gz.country_of_name(text)
                words = bare.split(" ", 1)
                if not country and len(words) == 2 and words[1].lower() in gz.GENERIC_ORGS:
                    country = gz.country_of_adj(words[0])
                if country:
                    out.append(self._cand_tokens(ts, te, "country", country, 3, "GPE"))
                    continue
                out.append(self._cand_tokens(ts, te, "org", bare, 3, "ORG", bare))
                continue
            if te - ts == 1 and _ACRONYM.match(text) and len(text) <= 6:
                out.append(self._cand_tokens(ts, te, "org", text, 3, "ORG", text))
                continue  # "KCNA" is no person
            # PERSON: drop leading titles spaCy sometimes includes.
            while ts < te - 1 and sp[ts].text.lower() in gz.TITLES:
                ts += 1
            if te < len(sp) and self.toks[te].text in _MONTH_SURNAMES and self.toks[te].ent_type_ in ("DATE", "") \
                    and not (te + 1 < len(sp) and self.toks[te + 1].like_num):
                te += 1  # "Theresa May": spaCy reads the surname as the month
            words = [t.lower_ for t in self.toks[ts:te]]
            if len(words) > 3 and words[0] in words[2:]:
                te = ts + words.index(words[0], 2)  # "Emmanuel Macron Emmanuel Jean-Michel Macron": a headline
            name = _clean(sp[ts:te].text)
            if gz.country_of_name(name) or gz.country_of_adj(name) or name.lower() in gz.CREDIT_AGENCIES:
                continue
            if name.lower() in gz.PLATFORMS:
                out.append(self._cand_tokens(ts, te, "org", name, 3, "ORG", name))
                continue
            if sp[te - 1].lower_ in ORG_NAME_WORDS or not _person_name(name).words:
                continue  # "Justice Department", a title alone
            out.append(self._cand_tokens(ts, te, "person", name, 3, "PERSON", name))
        return out


def _classifying(tok) -> bool:
    """An adjective that says which kind, not how good: "environmental groups", "Democratic
    candidates", "political leaders" (relational suffixes), unlike "innocent people"."""
    return tok.pos_ == "ADJ" and re.search(r"(?:al|ic|ical|ary|ian|ist|ese)$", tok.lower_) is not None \
        and tok.lower_ not in GENERIC_MODS and tok.lower_ not in {"radical", "typical", "critical", "brutal",
                                                                  "total", "usual", "actual", "real", "special"}


def _people_noun(tok) -> bool:
    """A noun for a kind of people that is an actor on its own: "farmers", "the rebels",
    "environmentalists" (any plural in -ists)."""
    low, lemma = tok.lower_, tok.lemma_.lower()
    if low in GROUP_STRONG or lemma in GROUP_STRONG:
        return True
    return tok.tag_ in ("NNS", "NNPS") and low.endswith("ists") and len(low) > 6


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


# --------------------------------------------------------------------------- people

@dataclass
class _FullName:
    start: int
    name: PersonName


def _choose_person(options: list[_FullName], pos: int) -> str | None:
    """The key of the most prominent full name (the one the article names most often), and
    among equals the most recent before `pos`, else the first after it."""
    keys = Counter(o.name.key for o in options)
    if not keys:
        return None
    top = max(keys.values())
    options = [o for o in options if keys[o.name.key] == top]
    before = [o for o in options if o.start <= pos]
    if before:
        return max(before, key=lambda o: o.start).name.key
    return min(options, key=lambda o: o.start).name.key


def person_key(name: str, pos: int, full_names: list[_FullName], titles: frozenset = frozenset()) -> str:
    """The actor key of a person mention (see "People" in the module docstring)."""
    parsed = _person_name(name)
    if not parsed.words:
        return "person:" + name.lower()
    if parsed.full:
        return parsed.key
    word = parsed.words[0]
    titled = bool(parsed.titles or titles)
    by_surname = [f for f in full_names if f.name.words[-1] == word
                  or "-" in f.name.words[-1] and word in f.name.words[-1].split("-")]
    if parsed.suffix:
        by_surname = [f for f in by_surname if f.name.suffix == parsed.suffix]
    else:
        plain = [f for f in by_surname if not f.name.suffix]
        by_surname = plain or ([] if titled else by_surname)
    key = _choose_person(by_surname, pos)
    if key:
        return key
    if not parsed.suffix and not titled:
        key = _choose_person([f for f in full_names if f.name.words[0] == word and not f.name.suffix], pos)
        if key:
            return key
    return parsed.key


def _resolve_people(text: str, chosen: list[Cand]) -> None:
    """Give every person (and "<person> regime" / administration) candidate its person key."""
    full_names = [_FullName(c.start, _person_name(c.key)) for c in chosen if c.kind == "person"]
    full_names = [f for f in full_names if f.name.full]
    for c in chosen:
        if c.kind in ("person", "regime_person", "administration"):
            titles = frozenset(c.extra.get("title_words") or ())
            c.key = person_key(c.key, c.start, full_names, titles)
    person_keys = {c.key for c in chosen if c.kind in ("person", "regime_person")}
    by_word = defaultdict(set)
    for k in person_keys:
        by_word[k.split(":", 1)[1].split()[0 if k.endswith(tuple(" " + x for x in gz.NAME_SUFFIXES)) else -1]].add(k)
    surnames = {f.name.words[-1] for f in full_names}
    # Mentions of a person's name that spaCy labelled ORG / GPE / NORP join the person, and so
    # does a capital that is a person's surname here ("Valeska Paris ... Paris said").
    for c in chosen:
        surface = text[c.start:c.end]
        if c.kind in ("country", "org") and c.extra.get("capital") and surface.lower() in surnames:
            c.kind, c.key, c.label, c.name = "person", surface, "PERSON", surface
            c.extra["capital"] = False
            c.key = person_key(surface, c.start, full_names)
            continue
        if c.kind in ("org", "gpe", "norp") and c.te - c.ts == 1 and gz.LEADER_COUNTRY.get(surface.lower()) \
                and surface[:1].isupper():
            c.kind, c.label, c.name = "person", "PERSON", surface  # "Trump", "Biden" tagged ORG
            c.key = person_key(surface, c.start, full_names)
            continue
        if c.kind in ("org", "gpe", "norp") and len(_name_tokens(c.key)) <= 3 and not c.extra.get("capital"):
            parsed = _person_name(c.key)
            if parsed.words and parsed.key in person_keys:
                c.kind, c.key, c.label = "person", parsed.key, "PERSON"
            elif len(parsed.words) == 1 and by_word.get(parsed.words[0]):
                c.kind, c.key, c.label = "person", person_key(c.key, c.start, full_names), "PERSON"


def _name_echoes(b: _Builder, chosen: list[Cand]) -> list[Cand]:
    """Later mentions of a known person's surname that spaCy did not tag ("Trump spoke."), and
    heads of state the gazetteer knows ("Putin", "Trump")."""
    surnames = {_person_name(c.key).words[-1] for c in chosen if c.kind == "person" and _person_name(c.key).full}
    surnames |= set(gz.LEADER_COUNTRY)
    taken = set()
    for c in chosen:
        taken.update(range(c.ts, c.te))
    out = []
    sp = b.sp
    for tok in b.toks:
        if tok.i in taken or not tok.text[:1].isupper() or tok.lower_ not in surnames:
            continue
        if tok.ent_type_ not in ("", "PERSON", "ORG", "GPE", "NORP"):
            continue  # "in May 2019" is a date, whoever Theresa May is
        if tok.pos_ not in ("PROPN", "NOUN") or tok.dep_ == "compound" and tok.head.lower_ not in gz.NAME_SUFFIXES:
            continue  # "the Trump administration" is not a mention of Trump
        te = tok.i + 1
        if te < len(b.toks) and b.toks[te].lower_ in gz.NAME_SUFFIXES:
            te += 1
        if any(i in taken for i in range(tok.i, te)):
            continue
        out.append(b._cand_tokens(tok.i, te, "person", sp[tok.i:te].text, 4, "PERSON", sp[tok.i:te].text,
                                  echo=True))
    return out


def _resolve_leaders(chosen: list[Cand]) -> set[str]:
    """Which person rules which country; "the Syrian regime" joins its leader's regime.
    Returns the keys of the people whose rule the article calls a regime."""
    leader_of: dict[str, str] = {}  # person key -> country
    for c in chosen:
        if c.kind == "person" and c.extra.get("leader_of"):
            leader_of[c.key] = c.extra["leader_of"]
    person_keys = sorted({c.key for c in chosen if c.kind in ("person", "regime_person")})
    for k in person_keys:
        s = k.split(":", 1)[1].split()[-1]
        if gz.LEADER_COUNTRY.get(s):
            leader_of.setdefault(k, gz.LEADER_COUNTRY[s])
    regime_people = {c.key for c in chosen if c.kind == "regime_person"}
    country_leader = {}
    for p, country in sorted(leader_of.items()):
        if p in person_keys:
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
    return regime_people


# --------------------------------------------------------------------------- keys

def _key_of(c: Cand) -> str:
    if c.kind in ("person", "regime_person"):
        return c.key
    if c.kind == "administration":
        return "administration:" + c.key
    if c.kind == "country":
        return "country:" + c.key
    if c.kind == "org":
        return "org:" + _org_key(c.key)
    if c.kind == "group":
        return "group:" + c.key
    if c.kind == "norp":
        return "norp:" + c.key
    if c.kind == "gpe":
        return "gpe:" + c.key.lower()
    return ""


def _join_org_aliases(text: str, chosen: list[Cand], keys: dict[int, str]) -> None:
    """One organisation under several names (see "Organisations" in the module docstring):
    "DOJ" ~ "Department of Justice", "EPA" after "Environmental Protection Agency (EPA)",
    "CBC" ~ "CBC News", "Scientology" ~ "Church of Scientology"."""
    orgs = [c for c in chosen if keys.get(id(c), "").startswith("org:")]
    org_keys = {keys[id(c)] for c in orgs}
    long_names: dict[str, set[str]] = defaultdict(set)  # acronym -> long keys
    bracketed: dict[str, str] = {}
    for c in orgs:
        if not _ACRONYM.match(c.key.replace(" ", "")):
            for acronym in _acronyms_of(c.key):
                long_names[acronym].add(keys[id(c)])
            first = c.key.split()[0].replace(".", "")
            if " " in c.key and first.isupper() and len(first) >= 2:
                long_names[first].add(keys[id(c)])  # "CBC News" goes by "CBC"
            after = re.match(r"\s*\(([A-Z][A-Za-z.&]{1,7})\)", text[c.end:c.end + 12])
            if after:
                bracketed[after.group(1).replace(".", "")] = keys[id(c)]
    # A person goes by the initials of the full name ("AOC", "JFK"), hyphenated parts
    # counted ("Alexandra Ocasio-Cortez"); three letters at least, so that "DC" or "EU"
    # never becomes someone.
    person_initials: dict[str, set[str]] = defaultdict(set)
    for c in chosen:
        if c.kind == "person" and keys.get(id(c)):
            name = keys[id(c)].split(":", 1)[-1]  # "person:alexandra ocasio-cortez"
            words = [w for w in re.split(r"[\s\-]+", name) if len(w) > 1 and "." not in w]
            if len(words) >= 2:
                person_initials["".join(w[0] for w in words).upper()].add(keys[id(c)])
    of_names: dict[str, set[str]] = defaultdict(set)  # "scientology" -> {"church of scientology"}
    for k in org_keys:
        if " of " in k:
            of_names["org:" + k.split(" of ", 1)[1]].add(k)
    renamed = {}
    for c in orgs:
        key = keys[id(c)]
        bare = c.key.replace(".", "").replace(" ", "")
        target = None
        if _ACRONYM.match(c.key.replace(" ", "")) or bare.isupper():
            target = bracketed.get(bare)
            if target is None and len(long_names.get(bare, ())) == 1:
                target = next(iter(long_names[bare]))
            if target is None and not long_names.get(bare) and len(bare) >= 3 and \
                    len(person_initials.get(bare, ())) == 1:
                target = next(iter(person_initials[bare]))
        if target is None and len(of_names.get(key, ())) == 1:
            target = next(iter(of_names[key]))
        if target and target != key:
            renamed[key] = target
    for c in orgs:
        key = keys[id(c)]
        for _ in range(3):  # "SDF" -> "Syrian Democratic Forces" -> ... (short chains only)
            key = renamed.get(key, key)
        keys[id(c)] = key


def _resolve_back_references(chosen: list[Cand], keys: dict[int, str], names_of: dict[int, str]) -> None:
    """ "the regime" -> the last actor called a regime; "the agency" -> the last actor with
    "agency" in a mention or title, within DESCRIPTION_REACH characters."""
    regime_keys_seen: set[str] = set()
    last_pos: dict[str, int] = {}
    words_of: dict[str, set[str]] = defaultdict(set)  # actor key -> words of its mentions and titles
    for c in chosen:
        k = keys.get(id(c), "")
        if c.kind == "anaphor":
            options = [k for k in regime_keys_seen if k in last_pos]
            if options:
                keys[id(c)] = max(options, key=lambda k: last_pos[k])
            continue
        if c.kind == "description":
            recent = [k for k in words_of if c.start - last_pos.get(k, -10 ** 9) <= DESCRIPTION_REACH]
            options = [k for k in recent if c.key in words_of[k]]
            if options:
                keys[id(c)] = max(options, key=lambda k: last_pos[k])
            elif c.key in STANDALONE_DESCRIPTIONS:
                keys[id(c)] = "description:" + c.name
            continue
        if not k:
            continue
        last_pos[k] = c.start
        words = {w.lower().strip(".,'’") for w in re.split(r"[\s\-]+", names_of.get(id(c), ""))}
        words |= set(c.extra.get("title_words") or ())
        if c.kind == "administration":
            words.add(c.extra.get("noun", "administration"))
        words_of[k] |= words
        if c.kind == "regime_person" or c.extra.get("regime"):
            regime_keys_seen.add(k)


def _join_bare_groups(groups: dict[str, list[Cand]]) -> None:
    """ "alarmists" joins "climate alarmists" when that is the only group with that noun."""
    by_head: dict[str, list[str]] = defaultdict(list)
    for k in groups:
        if k.startswith("group:") and " " in k:
            by_head[k.rsplit(" ", 1)[1]].append(k)
    for k in list(groups):
        if k.startswith("group:") and " " not in k:
            head = k.split(":", 1)[1]
            longer = by_head.get(head, [])
            if len(longer) == 1:
                groups[longer[0]].extend(groups.pop(k))


# --------------------------------------------------------------------------- places

_LOCATIVE_PREPS = ("in", "at", "inside", "within", "across", "throughout", "near", "around", "through", "outside")


def _governing_prep(sp, c: Cand):
    """The preposition whose object the phrase is (through "and": "in Aleppo and Homs"), or None."""
    tok = sp[c.te - 1]
    while tok.dep_ == "conj" and tok.head.i != tok.i:
        tok = tok.head
    return tok.head if tok.dep_ == "pobj" else None


def _locative(sp, c: Cand, preps=_LOCATIVE_PREPS) -> bool:
    prep = _governing_prep(sp, c)
    return prep is not None and prep.lemma_.lower() in preps


_PLACE_NOUNS = {"state", "city", "province", "county", "town", "village", "region", "island", "district"}


def _place_descriptor(sp, c: Cand) -> bool:
    """A place that only describes someone or something else: "New York Democrat Alexandra
    Ocasio-Cortez", "Texas Gov. Greg Abbott" (the place modifies a person's name), "the
    entire state of California" (the place names a territory)."""
    tok = sp[c.te - 1]
    if tok.dep_ == "pobj" and tok.head.lower_ == "of" and tok.head.head.lemma_.lower() in _PLACE_NOUNS:
        return True
    head = tok
    while head.dep_ == "compound" and head.head.i != head.i:
        head = head.head
    return head is not tok and head.ent_type_ == "PERSON"


_MEDIUM_VERBS = {"say", "write", "post", "tweet", "tell", "speak", "announce", "appear", "claim", "share", "comment"}


def _medium(sp, c: Cand) -> bool:
    """An outlet or platform named only as where someone spoke ("wrote on Twitter", "said
    on CNN"): the medium, not a participant."""
    tok = sp[c.te - 1]
    return (tok.dep_ == "pobj" and tok.head.lower_ in ("on", "in") and tok.head.head.pos_ == "VERB"
            and tok.head.head.lemma_.lower() in _MEDIUM_VERBS)


def _drop_places(sp, groups: dict[str, list[Cand]]) -> None:
    """Places used only as places (or as descriptors, `_place_descriptor`) are not actors; a
    capital used as a place ("talks in Washington", "flew to Brussels") is not a mention of
    its government."""
    for k in list(groups):
        cs = groups[k]
        # a place that describes someone ("New York Democrat X") is not a mention of it
        kept = [c for c in cs if not (c.extra.get("capital") and _locative(sp, c)) and not (
            c.kind in ("gpe", "country") and not c.extra.get("regime") and _place_descriptor(sp, c))]
        if not kept:
            del groups[k]
            continue
        groups[k] = cs = kept
        if k.startswith("org:") and all(c.kind == "org" and _medium(sp, c) for c in cs):
            del groups[k]
            continue
        if k.startswith("gpe:") or k.startswith("country:"):
            plain = all(c.kind in ("gpe", "country") and not c.extra.get("regime") and not c.extra.get("demonym")
                        and not c.extra.get("capital") and sp[c.ts].pos_ == "PROPN" and c.te - c.ts <= 3
                        for c in cs)
            if plain and all(_locative(sp, c) for c in cs):
                del groups[k]


def _letters(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _resolve_handles(text: str, groups: dict[str, list[Cand]]) -> None:
    """Social-media handles ("@realDonaldTrump", "@JohnKasich") are not actors of their own:
    a handle in brackets right after a name (an embedded tweet's signature, "— Donald J.
    Trump (@realDonaldTrump)") or spelling an actor's name letter for letter joins that
    actor; any other handle is dropped (the name, where the text gives it, carries it)."""
    def is_handle(c: Cand) -> bool:
        return text[c.start:c.end].startswith("@")

    by_end = {c.end: k for k, cs in groups.items() for c in cs if not is_handle(c)}
    by_letters: dict[str, set[str]] = defaultdict(set)
    for k, cs in groups.items():
        for c in cs:
            if not is_handle(c):
                by_letters[_letters(c.name or text[c.start:c.end])].add(k)
    for k in list(groups):
        handles = [c for c in groups[k] if is_handle(c)]
        if not handles:
            continue
        groups[k] = [c for c in groups[k] if not is_handle(c)]
        for c in handles:
            before = re.search(r"\s*\($", text[max(0, c.start - 3):c.start])
            target = by_end.get(c.start - len(before.group(0))) if before else None
            if target is None and len(by_letters.get(_letters(text[c.start + 1:c.end]), ())) == 1:
                target = next(iter(by_letters[_letters(text[c.start + 1:c.end])]))
            if target is not None and target in groups:
                groups[target].append(c)
        if not groups[k]:
            del groups[k]


def _drop_headline_guesses(b: _Builder, groups: dict[str, list[Cand]]) -> None:
    """Names spaCy found only inside a title-case headline, where it guesses ("Bill",
    "Referendum", "Tories Cheer"), unless each of their words is also capitalised in the body
    ("Macron" in the headline and the text) or a gazetteer knows them. Organisations of two
    words or more are kept: spaCy seldom makes those up ("The New York Times")."""
    body_words = {t.text for t in b.toks if t.i not in b.headline_tokens and t.text[:1].isupper()}
    for k in list(groups):
        cs = groups[k]
        if all(c.extra.get("headline") and c.prio >= 3 and c.kind in ("person", "org", "gpe", "norp")
               and not (c.kind == "org" and c.te - c.ts >= 2)
               and not gz.LEADER_COUNTRY.get(c.key.split(":")[-1].lower())
               and not all(t.text in body_words for t in b.toks[c.ts:c.te] if t.is_alpha) for c in cs):
            del groups[k]


# --------------------------------------------------------------------------- actors

def _actor_name(doc: Document, k: str, cs: list[Cand], regime_people: set[str]) -> tuple[str, str]:
    """Display name and type of the actor with key `k` and candidates `cs`."""
    kind = k.split(":", 1)[0]
    if kind == "person":
        if k in regime_people:
            last = k.split(":", 1)[1].split()
            last = last[-2] if last[-1] in ("jr", "sr", "ii", "iii", "iv") and len(last) > 1 else last[-1]
            forms = [t for c in cs for t in _name_tokens(doc.text[c.start:c.end]) if t.lower() == last]
            return f"{forms[0] if forms else last.title()} regime", "ORG"
        names = [c.name for c in cs if c.kind == "person" and c.name]
        full = max(names, key=lambda n: (len(_person_name(n).words), len(n)), default=k.split(":", 1)[1].title())
        if len(_person_name(full).words) == 1:
            titled = [c.extra["titled"] for c in cs if c.extra.get("titled")]
            if titled:
                full = titled[0]
        return _clean(full) if full.endswith(("'s", "’s")) else full, "PERSON"
    if kind == "administration":
        words = k.split(":", 2)[2].split()
        surname = words[-2] if words[-1] in ("jr", "sr") and len(words) > 1 else words[-1]
        forms = [t for c in cs for t in _name_tokens(doc.text[c.start:c.end]) if t.lower() == surname]
        nouns = Counter(c.extra.get("noun", "administration") for c in cs if c.kind == "administration")
        noun = nouns.most_common(1)[0][0] if nouns else "administration"
        return f"{forms[0] if forms else surname.title()} {noun}", "ORG"
    if kind == "description":
        return k.split(":", 1)[1], "ORG"
    if kind == "country":
        return k.split(":", 1)[1], "GPE"
    if kind == "org":
        forms = Counter(_strip_the(_clean(c.name or c.key)) for c in cs if c.kind == "org")
        canonical = gz.ORGS.get(cs[0].key)
        if canonical:
            return canonical, "ORG"
        long_forms = [f for f in forms if not _ACRONYM.match(f.replace(" ", ""))] or list(forms)
        return max(long_forms, key=lambda f: (forms[f], len(f))), "ORG"
    if kind == "thing":  # the non-human cast: the most frequent written form names it
        forms = Counter(c.name for c in cs)
        name = max(forms, key=lambda f: (forms[f], f.lower() == cs[0].key, len(f)))
        return name, "LAW" if any(c.label == "LAW" for c in cs) else "THING"
    if kind in ("group", "norp"):
        forms = Counter(c.name for c in cs if c.name)
        name = forms.most_common(1)[0][0] if forms else k.split(":", 1)[1]
        return name, "GROUP" if kind == "group" else "NORP"
    forms = Counter(_strip_the(c.name or c.key) for c in cs)
    return forms.most_common(1)[0][0], "GPE"


def _resolve_pronouns(sp, toks: list, chosen: list[Cand], token_actor: dict[int, str]) -> dict[int, str]:
    """he/she/they -> the most recent fitting actor, when that is unambiguous enough."""
    person_mentions = []  # (start, actor id) of mentions that name a person
    plural_mentions = []
    gender: dict[str, set[str]] = defaultdict(set)  # actor id -> {"f", "m"} from titles ("Mrs May")
    for c in chosen:
        aid = token_actor.get(c.ts)
        if aid is None:
            continue
        if c.kind == "person":
            person_mentions.append((c.start, aid))
            for title in c.extra.get("title_words") or ():
                if title in _FEMALE_TITLES:
                    gender[aid].add("f")
                elif title in _MALE_TITLES:
                    gender[aid].add("m")
        head = toks[c.te - 1]
        if c.kind in ("group", "norp") or (c.kind == "country" and head.tag_ in ("NNS", "NNPS")) or \
                c.extra.get("demonym") or head.text.lower() in ("officials", "leaders", "authorities", "forces"):
            plural_mentions.append((c.start, aid))
    pronoun_actor: dict[int, str] = {}
    sent_of = {}
    for si, s in enumerate(sp.sents):
        for i in range(s.start, s.end):
            sent_of[i] = si
    token_at = {c.start: c.ts for c in chosen}
    char_sent = {start: sent_of.get(token_at.get(start, -1), -99) for start, _ in person_mentions + plural_mentions}
    for tok in toks:
        low = tok.text.lower()
        pool = person_mentions if low in PRONOUNS_PERSON else plural_mentions if low in PRONOUNS_PLURAL else None
        if pool is None or tok.pos_ != "PRON":
            continue
        if low in PRONOUNS_PERSON:  # "she" is not the man the article calls "Mr Fox"
            wanted = "f" if low in PRONOUNS_FEMALE else "m"
            pool = [(start, aid) for start, aid in pool if wanted in gender.get(aid, {wanted})]
        here = sent_of.get(tok.i, 0)
        window = []  # (start, actor id, sentence) of earlier mentions in this or the two previous sentences
        for start, aid in pool:
            if start >= tok.idx:
                break
            si = char_sent[start]
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
    return pronoun_actor


def build_actors(doc: Document, cast_model=None) -> tuple[list[Actor], ActorIndex]:
    """The actors of `doc` and the index the other components read.

    `cast_model` (a `redline.components.cast.CastModel`) adds the story's non-human cast
    (policies, phenomena, nature: "climate change", "the Green New Deal") after the people,
    organisations, places and groups; None leaves it out (its training needs that).
    """
    sp = parse(doc)
    b = _Builder(sp)
    chosen = _select(b.candidates())
    chosen = sorted(chosen + _name_echoes(b, chosen), key=lambda c: c.start)
    _resolve_people(doc.text, chosen)
    regime_people = _resolve_leaders(chosen)

    keys = {id(c): _key_of(c) for c in chosen}
    keys = {i: k for i, k in keys.items() if k}
    _join_org_aliases(doc.text, chosen, keys)
    names_of = {id(c): c.name or doc.text[c.start:c.end] for c in chosen}
    _resolve_back_references(chosen, keys, names_of)

    groups: dict[str, list[Cand]] = defaultdict(list)
    gpe_keys = {k for k in keys.values() if k.startswith("gpe:")}
    group_keys = {k for k in keys.values() if k.startswith("group:")}
    for c in chosen:
        k = keys.get(id(c))
        if k and k.startswith("org:") and "gpe:" + k[4:] in gpe_keys:
            k = "gpe:" + k[4:]  # "WESTERVILLE" (ORG, a dateline) ~ "Westerville" (GPE)
        elif k and k.startswith("description:") and "group:" + k[12:].lower() in group_keys:
            k = "group:" + k[12:].lower()  # "the police" ~ "Police", "police officers": one actor
        if k:
            groups[k].append(c)
    _join_bare_groups(groups)
    _resolve_handles(doc.text, groups)
    _drop_places(sp, groups)
    _drop_headline_guesses(b, groups)
    if cast_model is not None:
        _add_cast(b, cast_model, groups, chosen)

    actors: list[Actor] = []
    used_ids: set[str] = set()
    token_actor: dict[int, str] = {}
    mention_actor: list[tuple[int, int, str]] = []
    for k, cs in sorted(groups.items(), key=lambda kv: (min(c.start for c in kv[1]), kv[0])):
        cs = sorted(cs, key=lambda c: c.start)
        name, typ = _actor_name(doc, k, cs, regime_people)
        aid = _slug(name)
        base, n = aid, 2
        while aid in used_ids:
            aid, n = f"{base}-{n}", n + 1
        used_ids.add(aid)
        actors.append(Actor(id=aid, name=name, type=typ, mentions=[doc.mention(c.start, c.end) for c in cs]))
        for c in cs:
            mention_actor.append((c.start, c.end, aid))
            for i in range(c.ts, c.te):
                token_actor[i] = aid
    mention_actor.sort()

    in_actor = [c for c in chosen if c.ts in token_actor]
    pronoun_actor = _resolve_pronouns(sp, b.toks, in_actor, token_actor)
    for i, aid in pronoun_actor.items():
        token_actor.setdefault(i, aid)
    return actors, ActorIndex(token_actor, mention_actor, pronoun_actor)


def _add_cast(b: _Builder, cast_model, groups: dict[str, list[Cand]], chosen: list[Cand]) -> None:
    """Adds the phrases the cast model keeps, one group per phrase key ("thing:climate change").

    Not in credits or bylines, not a topic ("Brexit"), not a named person or place, and not
    a description of a person or organisation ("the Vermont senator", "the agency"): those
    are the rules' to keep or drop. A group of people the rules let go is cast only when a
    word says which people ("surrounding communities", "young children"), and then as a
    GROUP; bare or counted people ("people", "many people", "children") are nobody a reader
    would list. Nor is a thing named mostly as where something happened ("died at a local
    hospital", "treated at a hospital"): the setting, not a member of the cast."""
    sp = b.sp
    # Every candidate the rules saw, kept or dropped ("in Washington" is a place, not a thing),
    # except the laws, programmes and phenomena they dropped as topics, which a story may cast.
    castable = lambda c: _is_topic(b.text[c.start:c.end]) and not _names_a_topic(  # noqa: E731
        _strip_the(_clean(b.text[c.start:c.end])).lower())
    taken = [(c.start, c.end) for c in chosen if not castable(c)] + \
        [(c.start, c.end) for cs in groups.values() for c in cs]
    cast = cast_model.cast(sp, taken + b.credits + b.bylines)
    # spaCy may call one of several "Green New Deal"s a PERSON: a key is a named person or
    # place only when every one of its phrases is.
    not_named = {chunk.key for chunk, _ in cast if sp[chunk.head].ent_type_ not in RULE_ENTITIES}
    # "child" and "children" share a key: a key is of people when any of its heads is.
    of_people = {chunk.key for chunk, _ in cast if _group_noun(sp[chunk.head])}
    cast_groups: dict[str, list[Cand]] = defaultdict(list)
    for chunk, score in cast:
        head = sp[chunk.head]
        if head.lemma_.lower() in DESCRIPTION_NOUNS or _names_a_topic(chunk.key) or chunk.key not in not_named:
            continue
        key = chunk.key
        if key in of_people:
            # "the poorest communities" is cast, the "communities" it joined (and "other
            # communities") are not: the phrase's own words decide, and make its key
            key = chunk.phrase_key
            if not _says_which(sp, key):
                continue
            kind, label = "group", "GROUP"
        else:
            kind, label = "thing", "LAW" if head.ent_type_ == "LAW" else "THING"
        cast_groups[f"{kind}:{key}"].append(Cand(
            chunk.start, chunk.end, chunk.ts, chunk.te, kind, key, prio=9, label=label, name=chunk.name,
            extra={"cast_score": score}))
    for key, cs in cast_groups.items():
        if 2 * sum(_setting(sp, c) for c in cs) <= len(cs):  # named mostly as a setting: not cast
            groups[key].extend(cs)


def _says_which(sp, key: str) -> bool:
    """Whether a phrase key for people has a word before its head that says which people
    ("young people", "surrounding communities"), not only how many or which of those
    already named ("many people", "more than 1,000 people", "other children")."""
    return any(w.isalpha() and w not in GENERIC_MODS and not sp.vocab[w].is_stop and not sp.vocab[w].like_num
               for w in key.split()[:-1])


def _group_noun(tok) -> bool:
    """A noun the group rules judge (`_noun_phrases`): a kind of people ("farmers") or a
    weak group noun that needs a name-like modifier ("people", "children", "companies")."""
    return _people_noun(tok) or tok.lower_ in GROUP_WEAK or tok.lemma_.lower() in GROUP_WEAK


# Prepositions of place that verbs seldom take as arguments: unlike "in" ("invest in wind
# power", "believe in the First Amendment"), they say where something happened.
_SETTING_PREPS = ("at", "inside", "outside", "near", "within", "around", "throughout")


def _setting(sp, c: Cand) -> bool:
    """Where something happened ("died at a local hospital", "was treated at a hospital"): a
    place phrase hanging on a verb or adjective, not on a noun ("the cafes at the station")."""
    prep = _governing_prep(sp, c)
    return prep is not None and prep.lemma_.lower() in _SETTING_PREPS and prep.head.pos_ in ("VERB", "AUX", "ADJ")


def actor_index(doc: Document) -> ActorIndex:
    """The token -> actor index of the actors component (rebuilt if it is missing)."""
    cache = cache_for(doc)
    if "actor_index" not in cache:
        from redline.components.cast import load_cast_model
        actors, index = build_actors(doc, load_cast_model())
        if not doc.actors:
            doc.actors = actors
        cache["actor_index"] = index
    return cache["actor_index"]


@register("actors")
class ActorFinder:
    """Finds and merges the actors of an article (see the module docstring for the policy)."""

    name = "actors"
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __init__(self, cast: bool = True):
        from redline.components.cast import load_cast_model
        self.cast_model = load_cast_model() if cast else None

    def __call__(self, doc: Document) -> Document:
        actors, index = build_actors(doc, self.cast_model)
        doc.actors = actors
        cache_for(doc)["actor_index"] = index
        doc.model["actors"] = {"name": "redline-actors", "spacy": nlp_name()}
        return doc
