"""Relations: who does what to whom, read off the spaCy dependency parse.

For every verb (and event nouns: "Russia's intervention in Syria", "the Israeli attack
on Gaza", "the invasion of Iraq") the component finds the agent (the doer) and the
patients among the actors, and keeps a relation only where both are actors and differ:

* agent: the nominal subject; the `by` object of a passive ("killed by X", "civilians
  killed by X"); the noun an -ing participle or a relative clause modifies ("fighters
  attacking X", "the militia that attacked X"); for verbs without a subject of their own,
  the subject of the verb they depend on ("attacked and killed", "by dispatching"), or
  its object where that verb's object is the doer ("urged X to attack", "accused X of
  attacking"). For event nouns: the possessor, an adjective or compound naming an actor
  ("Russian", "Iran-backed"), or the `of` object of nouns that have no object of their
  own ("the intervention of Russia"); for nouns of transitive verbs the `of` object is
  the patient ("the invasion of Iraq").
* patients: direct objects, the subject of a passive, the noun a relative clause
  modifies when the clause's object is the relative ("the rebels whom Iran supports"),
  objects of the prepositions that mark a patient for that kind of event (against, on,
  at, with, to, into; plus in/from for deployments and aid, only "against" for
  accusations); an object shared by conjoined verbs ("attacked and destroyed X"); a
  deployment's country named through a conflict noun ("entered the Syrian conflict").
* a statement ("said", "announced") needs an actor it is about: the subject of the
  reported clause ("said that Iran is ready", a pronoun there mostly means the speaker and
  is not used) or an `about`/`of` object. "X said Y attacked Z" gives Y attack Z and
  X state Y, never X attack Z. A statement is dropped where the same speaker has a more
  specific relation to the same actor in the sentence, and the hearer ("told X") is no
  object.
* an argument that is not itself an actor resolves through an apposition, its possessor
  or `of` object ("the presence of Assad" -> Assad; but "Trump's supporters" are not
  Trump), or an actor named as a compound ("IRGC forces"; but "the Ohio native" is no
  act of Ohio).

Not drawn: negated predicates ("won't attack"), acts that a governing verb says did not
or have not yet happened ("denied attacking", "refused to support", "threatened to attack"
gives the threat only, "urged X to sanction Y" gives the demand only), pronoun agents
inside quotation marks (a quote's "he" or "we" is too often misresolved), verbs and names
in capitals (embedded headlines parse badly), participles used as adjectives ("wounded
families"), and a finite clause spaCy left without a subject does not borrow one. The same
(subject, type, object) is kept once a sentence.

The verb lemma maps to a coarse event type (`redline.taxonomy.RELATION_TYPES`); context
refines it: "provide/send/sell" are `supply_arms` with weapons, `deploy` with troops,
`give_aid` with money or aid and nothing otherwise ("grant/lend" need money too); "call"
is a demand only with "for" or "on X", "ask" with "for" or an infinitive, not when they
name, phone or question; "withdraw" needs troops; "warn" and "hurt" are advice and figure,
"target" needs arms in sight; a person's verbal "attack" on people is `accuse`. The verb
lists themselves (`VERB_TYPE`) stay as they are: the roles model reads them as features.
Each relation's start/end is its clause: the verb's subtree clipped to its sentence.
"""

from __future__ import annotations

import bisect
import re

from redline.components.actors import actor_index
from redline.components.gazetteer import country_of_adj, country_of_name
from redline.components.nlp import parse
from redline.doc import Document, Relation
from redline.registry import register

try:
    from redline.taxonomy import RELATION_TYPES
except ImportError:  # pragma: no cover - older taxonomy module
    RELATION_TYPES = ["support", "give_aid", "supply_arms", "deploy", "attack", "kill_injure", "threaten",
                      "accuse", "demand", "state"]

_VERBS = {
    "support": """support back endorse defend protect ally affiliate side shield sustain uphold prop bolster
        champion embrace praise welcome legitimize legitimise recognize recognise rescue save host shelter
        cooperate collaborate partner befriend favor favour sponsor guard""",
    "give_aid": """aid fund finance donate assist help grant lend subsidize subsidise bankroll pay feed
        rebuild reconstruct""",
    "supply_arms": """arm rearm""",
    "deploy": """deploy dispatch station intervene enter invade occupy mobilize mobilise involve participate
        reinforce infiltrate withdraw evacuate""",
    "attack": """attack strike bomb shell raid target fight battle crush topple overthrow defeat besiege assault
        ambush annihilate destroy shoot storm hit oppress repress persecute suppress crack invade sanction
        confront combat clash oust depose blockade seize capture detain arrest abduct kidnap jail imprison
        torture expel deport punish""",
    "kill_injure": """kill injure wound murder massacre slaughter execute assassinate maim behead hurt
        exterminate starve gas poison""",
    "threaten": """threaten warn intimidate menace blackmail endanger coerce vow""",
    "accuse": """accuse blame condemn denounce criticize criticise charge allege slam fault label brand
        attack_verbally vilify demonize demonise smear""",
    "demand": """demand urge ask request press insist require order pressure call appeal implore beg""",
    "state": """say announce state declare claim report tell add note confirm deny stress argue assert
        reveal explain write acknowledge admit insist tweet comment respond reply suggest""",
}
VERB_TYPE: dict[str, str] = {}
for _t, _words in _VERBS.items():
    for _w in _words.split():
        VERB_TYPE.setdefault(_w, _t)
PHRASAL = {("face", "off"): "attack", ("crack", "down"): "attack", ("pull", "out"): "deploy",
           ("send", "in"): "deploy", ("back", "up"): "support", ("stand", "by"): "support",
           ("take", "over"): "attack", ("wipe", "out"): "kill_injure", ("shoot", "down"): "attack",
           ("call", "for"): "demand", ("call", "on"): "demand", ("speak", "out"): "state"}
TRANSFER_VERBS = {"provide", "supply", "send", "sell", "give", "deliver", "ship", "transfer", "offer", "equip"}
# Event nouns and their coarse type ("Russia's invasion of Ukraine").
NOUN_TYPE = {
    "intervention": "deploy", "invasion": "attack", "occupation": "deploy", "attack": "attack",
    "attacks": "attack", "assault": "attack", "offensive": "attack", "strike": "attack", "strikes": "attack",
    "bombing": "attack", "uprising": "attack", "war": "attack", "aggression": "attack", "support": "support",
    "alliance": "support", "aid": "give_aid", "assistance": "give_aid", "funding": "give_aid",
    "deployment": "deploy", "participation": "deploy",
    "threat": "threaten", "threats": "threaten", "killing": "kill_injure", "massacre": "kill_injure",
    "accusation": "accuse", "accusations": "accuse", "demand": "demand", "demands": "demand",
    "sanctions": "attack", "crackdown": "attack", "involvement": "deploy",
    "annexation": "attack", "shelling": "attack", "airstrike": "attack", "airstrikes": "attack",
    "raid": "attack", "raids": "attack", "siege": "attack", "blockade": "attack", "persecution": "attack",
    "repression": "attack", "oppression": "attack", "assassination": "kill_injure", "execution": "kill_injure",
    "backing": "support", "condemnation": "accuse", "criticism": "accuse",
}
# Nouns of transitive verbs: their `of` object is what is acted on ("the invasion of Iraq"),
# not the doer, which those nouns only take as a possessor or an adjective ("Russia's", "Russian").
THEME_OF_NOUNS = {"invasion", "occupation", "bombing", "killing", "massacre", "deployment", "funding", "annexation",
                  "shelling", "persecution", "repression", "oppression", "assassination", "execution", "siege",
                  "blockade", "backing", "condemnation", "criticism", "support", "destruction"}
WEAPONS = {"arm", "arms", "weapon", "weapons", "missile", "missiles", "rocket", "rockets", "drone", "drones",
           "ammunition", "munition", "munitions", "tank", "tanks", "artillery", "jet", "jets", "bomb", "bombs",
           "warplane", "warplanes", "fighter", "rifle", "rifles", "gun", "guns", "howitzer", "howitzers",
           "helicopter", "helicopters", "system", "systems", "shell", "shells", "military"}
TROOPS = {"troops", "forces", "force", "soldiers", "army", "militia", "militias", "fighters", "commanders",
          "mercenaries", "units", "battalions", "brigades", "advisers", "advisors", "personnel"}
AID = {"aid", "money", "funds", "fund", "funding", "loan", "loans", "cash", "dollars", "euros", "million", "billion",
       "food", "supplies", "medicine", "medicines", "assistance", "grant", "grants", "relief", "vaccines", "fuel",
       "humanitarian", "support"}
# Which prepositions mark a patient, per type ("fight with X", "send troops to X"; but
# "blame X for Y" and "accuse X of Y" name the deed, not a second patient).
BASE_PREPS = {"against", "on", "upon", "at", "into", "toward", "towards", "with", "to"}
PATIENT_PREPS = {
    "support": BASE_PREPS | {"for"},
    "give_aid": BASE_PREPS | {"for", "in", "from"},
    "supply_arms": BASE_PREPS | {"for", "in", "from"},
    "deploy": BASE_PREPS | {"in", "from"},
    "accuse": {"against"},  # "lash out at" comes through its particle; "denounced it at House hearings" does not
    "demand": {"on", "upon", "from"},
    "state": set(),
}
SUBJ_DEPS = {"nsubj", "csubj"}
OBJ_DEPS = {"dobj", "dative", "iobj", "obj", "attr", "oprd"}
RELATIVE_TAGS = {"WDT", "WP"}
# Governing verbs whose xcomp/pcomp act has not (or not yet) happened: "denied attacking",
# "refused to support", "threatened to attack" (the threat is the relation), "urged X to
# sanction Y" (the demand is).
UNREALIZED_HEADS = {"deny", "refuse", "fail", "avoid", "stop", "cease", "decline", "quit", "halt", "threaten",
                    "vow", "warn", "promise", "pledge", "plan", "intend", "want", "wish", "hope", "seek", "consider",
                    "urge", "ask", "demand", "call", "order", "press", "pressure", "beg", "implore", "request",
                    "encourage", "need", "expect", "prepare", "aim", "propose"}
# Verbs whose subject, not object, does the infinitive ("Iran promised Assad to protect ...").
SUBJECT_CONTROL = {"promise", "vow", "threaten", "pledge"}
# Stative participles whose modified noun is the subject: "militias affiliated to Iran".
STATIVE_PARTICIPLES = {"affiliate", "ally", "align", "link", "loyal", "tie", "connect", "associate"}
# Heads that are other people than their possessor: "Trump's supporters" are not Trump.
OTHER_PEOPLE = {"supporter", "supporters", "voter", "voters", "fan", "fans", "follower", "followers", "critic",
                "critics", "opponent", "opponents", "rival", "rivals", "enemy", "enemies", "victim", "victims",
                "family", "wife", "husband", "son", "daughter", "children", "mother", "father", "friend", "friends",
                "lawyer", "lawyers", "base", "detractors", "challenger", "successor", "predecessor"}
# Heads through which a named place acts: "Syrian army", "Iranian officials", "the Kremlin".
STATE_HEADS = TROOPS | {"government", "regime", "administration", "officials", "authorities", "military", "navy",
                        "ministry", "police", "leadership", "state", "embassy", "diplomats", "delegation",
                        "intelligence", "agents", "warplanes", "jets", "drones"}
PRONOUN_TAGS = {"PRP", "PRP$"}
# Attack verbs that a person aims at people in words ("Trump attacked Machado"); not "destroy".
VERBAL_ATTACKS = {"attack", "hit", "hit back", "hit out", "target", "face off", "blast", "bash", "slam"}
MILITARY_WORDS = {"strike", "strikes", "airstrike", "airstrikes", "bombing", "raid", "attack", "attacks", "war",
                  "military", "army", "killed", "soldiers", "troops", "militants", "forces"}
# Nouns through which a deployment names its place: "entered the Syrian conflict", "intervention
# in the Syria war" (an adjective or compound naming a country; elsewhere "Syrian" is no patient).
PLACE_HEADS = {"conflict", "war", "crisis", "battle", "battlefield", "front", "territory", "soil", "theatre",
               "theater", "civil"}


def relation_type(lemma: str, prt: str = "") -> str | None:
    lemma = lemma.lower()
    if prt and (lemma, prt.lower()) in PHRASAL:
        return PHRASAL[(lemma, prt.lower())]
    return VERB_TYPE.get(lemma)


def _quoted_regions(text: str) -> list[tuple[int, int]]:
    """Character ranges inside quotation marks (curly pairs, or straight pairs on one line)."""
    return [(m.start(), m.end()) for m in re.finditer(r"“[^”]*”|\"[^\"\n]*\"", text)]


def _demanded_infinitive(verb) -> bool:
    """"calls on Dean to apologize": spaCy may attach the infinitive as an adverbial clause."""
    return (verb.dep_ == "advcl" and VERB_TYPE.get(verb.head.lemma_.lower()) == "demand"
            and any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children))


class _Extractor:
    def __init__(self, doc: Document):
        self.doc = doc
        self.sp = parse(doc)
        self.index = actor_index(doc)
        self.token_actor = self.index.token_actor
        self.actor_type = {a.id: a.type for a in doc.actors}
        self.country_actor = {a.name.lower(): a.id for a in doc.actors if a.type == "GPE"}
        self._quotes = _quoted_regions(doc.text)
        self._quote_starts = [s for s, _ in self._quotes]

    # ------------------------------------------------------------ argument -> actors
    def actors_of(self, tok, depth: int = 0) -> list[str]:
        """Actors an argument token stands for, with its conjuncts ("X and Y")."""
        out: list[str] = []
        for t in [tok] + [c for c in tok.conjuncts if c.i > tok.i]:
            aid = self.token_actor.get(t.i)
            if aid:
                out.append(aid)
                continue
            found: list[str] = []
            for c in t.children:
                # "the commander, Gen. Pourdastan,": the apposition names the actor
                if c.dep_ == "appos" and self.token_actor.get(c.i):
                    found.append(self.token_actor[c.i])
            if not found and depth < 2 and t.lower_ not in OTHER_PEOPLE:
                # "the presence of Assad", "Iran's deals", "the Syrian people's uprising"
                for c in t.children:
                    if c.dep_ == "poss" or (c.dep_ == "prep" and c.lower_ == "of"):
                        targets = [c] if c.dep_ == "poss" else [g for g in c.children if g.dep_ == "pobj"]
                        for g in targets:
                            found += self.actors_of(g, depth + 1)
            if not found:
                # "IRGC forces", "Quds Force commanders": an actor named inside the phrase; a
                # place only through its state ("Syrian army"), not "the New York businessman"
                for c in t.children:
                    aid = self.token_actor.get(c.i) if c.dep_ == "compound" else None
                    if aid and (self.actor_type.get(aid) != "GPE" or t.lower_ in STATE_HEADS):
                        found.append(aid)
            out += found
        return list(dict.fromkeys(out))

    def _relative_head(self, tok):
        """A relative pronoun stands for the noun its clause modifies ("the militia that ...")."""
        clause = tok.head
        if tok.tag_ in RELATIVE_TAGS and clause.dep_ == "relcl" and clause.head.i != clause.i:
            return clause.head
        return tok

    def subject_tokens(self, verb, depth: int = 0) -> list:
        """The tokens that name the doer of `verb` (see the module docstring)."""
        for c in verb.children:
            if c.dep_ in SUBJ_DEPS:
                return [self._relative_head(c)]
            if c.dep_ == "agent":  # passive "by X"
                return [g for g in c.children if g.dep_ == "pobj"]
        if verb.dep_ == "acl" and verb.head.i != verb.i and (
                verb.tag_ == "VBG" or verb.lemma_.lower() in STATIVE_PARTICIPLES):
            return [verb.head]  # "fighters attacking X", "militias affiliated to X"
        if depth < 3 and verb.head.i != verb.i:
            head = verb.head
            if (verb.dep_ == "xcomp" or _demanded_infinitive(verb)) and head.pos_ in ("VERB", "AUX"):
                controller = self._object_controller(head)
                return [controller] if controller is not None else self.subject_tokens(head, depth + 1)
            if verb.dep_ == "conj" and head.pos_ in ("VERB", "AUX"):
                return self.subject_tokens(head, depth + 1)
            if verb.dep_ == "advcl" and head.pos_ in ("VERB", "AUX") and verb.tag_ in ("VBG", "VBN", "VB"):
                # "..., killing 20" shares the subject; a finite "as China and Russia support X"
                # without a subject of its own is a misparse, not the main clause's doer
                return self.subject_tokens(head, depth + 1)
            if verb.dep_ == "pcomp" and head.dep_ == "prep" and head.head.pos_ in ("VERB", "AUX"):
                # "accused X of attacking", "blamed X for killing": X does it; "by dispatching": the subject
                if head.lower_ in ("of", "for"):
                    obj = next((c for c in head.head.children if c.dep_ == "dobj"), None)
                    if obj is not None:
                        return [obj]
                return self.subject_tokens(head.head, depth + 1)
            if verb.dep_ == "xcomp" and head.pos_ == "ADJ" and head.head.pos_ in ("VERB", "AUX"):
                return self.subject_tokens(head.head, depth + 1)
        return []

    def _object_controller(self, head):
        """In "urged X to attack" / "called on X to stop", X does the infinitive."""
        if head.lemma_.lower() in SUBJECT_CONTROL:
            return None
        for c in head.children:
            if c.dep_ == "dobj":
                return c
            if c.dep_ == "prep" and c.lower_ in ("on", "upon"):
                pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
                if pobj is not None:
                    return pobj
        return None

    def subject_of(self, verb, depth: int = 0) -> list[str]:
        """The actors doing `verb` (used by the claims component for speakers too)."""
        return [a for t in self.subject_tokens(verb, depth) for a in self.actors_of(t)]

    def passive_subject(self, verb) -> list[str]:
        for c in verb.children:
            if c.dep_ == "nsubjpass":
                return self.actors_of(self._relative_head(c))
        return []

    def _pobj_actors(self, prep) -> list[str]:
        return [a for g in prep.children if g.dep_ == "pobj" for a in self.actors_of(g)]

    def objects_of(self, verb, typ: str) -> list[str]:
        preps = PATIENT_PREPS.get(typ, BASE_PREPS)
        out: list[str] = []
        for c in verb.children:
            if c.dep_ in OBJ_DEPS and c.pos_ == "ADP":  # "sent troops to Syria": "to" parsed as dative
                out += self._pobj_actors(c)
            elif c.dep_ in ("dobj", "dative", "iobj", "obj") and c.tag_ not in RELATIVE_TAGS:
                # a demand is made of someone, not of "the deployment of units"; occupying
                # "Pelosi's office" deploys nobody against Pelosi
                out += self.actors_of(c, depth=2 if typ in ("demand", "deploy") else 0)
            elif c.dep_ == "prep" and c.lower_ in preps:
                out += self._place_filtered(c, self._pobj_actors(c))
            elif c.dep_ == "prt":
                for g in c.children:
                    if g.dep_ == "prep":
                        out += self._pobj_actors(g)
        return out

    def _place_filtered(self, prep, actors: list[str]) -> list[str]:
        # "in"/"from" name where forces or aid go, so only places: not "involvement in NATO"
        if prep.lower_ in ("in", "from"):
            return [a for a in actors if self.actor_type.get(a) == "GPE"]
        return actors

    def places_in(self, tok) -> list[str]:
        """The country a conflict noun is set in: "the Syrian conflict" -> Syria."""
        if tok.lower_ not in PLACE_HEADS:
            return []
        out = []
        for c in tok.children:
            if c.dep_ not in ("amod", "compound"):
                continue
            aid = self.token_actor.get(c.i)
            if aid is None:  # an adjective the actors component left alone: "Syrian" -> the Syria actor
                aid = self.country_actor.get((country_of_adj(c.text) or country_of_name(c.text) or "").lower())
            if aid and self.actor_type.get(aid) == "GPE":
                out.append(aid)
        return out

    def deploy_places(self, head) -> list[str]:
        """Places of a deployment named through a conflict noun: its object or an in/into/to object."""
        out: list[str] = []
        for c in head.children:
            if c.dep_ == "dobj":
                out += self.places_in(c)
            elif c.dep_ == "prep" and c.lower_ in ("in", "into", "to"):
                out += [a for g in c.children if g.dep_ == "pobj" for a in self.places_in(g)]
        return out

    def reported_about(self, clause) -> list[str]:
        """Whom a reported clause is about: its subject, unless that is a pronoun (mostly the speaker)."""
        out: list[str] = []
        if VERB_TYPE.get(clause.lemma_.lower()) == "state" and not any(
                c.dep_ in ("ccomp", "parataxis") for c in clause.children):
            return out  # '"...," X said, Y reported': a second speaker, misparsed as what is said
        for c in clause.children:
            if c.dep_ in ("nsubj", "nsubjpass") and c.tag_ not in PRONOUN_TAGS and not (
                    len(c.text) > 1 and c.text.isupper() and c.pos_ == "PROPN" and c.head.text.isupper()):
                out += self.actors_of(self._relative_head(c))
        return out

    def statement_objects(self, verb) -> list[str]:
        out: list[str] = []
        for c in verb.children:
            if c.dep_ in ("ccomp", "parataxis") and c.pos_ in ("VERB", "AUX"):
                out += self.reported_about(c)
            elif c.dep_ == "prep" and c.lower_ in ("about", "of"):  # "says of Clinton"
                out += self._pobj_actors(c)
        return out

    def negated(self, verb) -> bool:
        return any(c.dep_ == "neg" for c in verb.children)

    def unrealized(self, tok) -> bool:
        """Negated, or embedded under a verb saying the act did not or has not yet happened."""
        if self.negated(tok):
            return True
        cur = tok
        for _ in range(3):
            head = cur.head
            if head.i == cur.i:
                return False
            if cur.dep_ == "pcomp" and head.dep_ == "prep":
                cur, head = head, head.head
            if cur.dep_ not in ("xcomp", "ccomp", "prep") and not _demanded_infinitive(cur):
                return False
            if head.pos_ not in ("VERB", "AUX"):
                return False
            lemma = head.lemma_.lower()
            if self.negated(head) or lemma in ("deny",) or (cur.dep_ != "ccomp" and lemma in UNREALIZED_HEADS):
                return True
            cur = head
        return False

    def in_quote(self, tok) -> bool:
        i = bisect.bisect_right(self._quote_starts, tok.idx) - 1
        return i >= 0 and tok.idx < self._quotes[i][1]

    # ------------------------------------------------------------------ relations
    def clause_span(self, tok) -> tuple[int, int]:
        sent = tok.sent
        toks = [t for t in tok.subtree if sent.start <= t.i < sent.end and not t.is_space]
        s = min(t.idx for t in toks) if toks else sent.start_char
        e = max(t.idx + len(t.text) for t in toks) if toks else sent.end_char
        return s, e

    def verb_type(self, tok, lemma: str, prt: str) -> str | None:
        typ = relation_type(lemma, prt)
        preps = {c.lower_ for c in tok.children if c.dep_ == "prep"}
        has_infinitive = any(c.dep_ == "xcomp" for c in tok.children)
        if lemma in TRANSFER_VERBS or lemma in ("grant", "lend"):
            # what is handed over: the object, or "in aid", "of weapons" (not "to the surgery
            # department where Oz practises medicine")
            obj_words = {t.lower_ for c in tok.children if c.dep_ in ("dobj", "obj") or (
                c.dep_ == "prep" and c.lower_ in ("in", "of", "with")) for t in c.subtree}
            if obj_words & WEAPONS and lemma not in ("grant", "lend"):
                return "supply_arms"
            if obj_words & TROOPS and lemma not in ("grant", "lend"):
                return "deploy"
            return "give_aid" if obj_words & AID else None  # "gave credit to", "granted an extension"
        if lemma in ("hurt", "warn"):
            return None  # "policies hurting farmers", "warned officials to": figurative, advice
        if lemma == "target" and not (self._sentence_words(tok) & (WEAPONS | TROOPS | MILITARY_WORDS)):
            return None  # "the campaign targets ethnic voters": no force without arms in sight
        if lemma == "call" and not prt:  # "called X on Friday to thank her" is a phone call
            on_actor = any(c.dep_ == "prep" and c.lower_ in ("on", "upon") and self._pobj_actors(c)
                           for c in tok.children)
            return "demand" if ("for" in preps or on_actor) else None
        if lemma == "ask" and not prt:  # "asked her about" is a question
            return "demand" if ("for" in preps or has_infinitive) else None
        if lemma in ("involve", "participate"):
            return None  # "was involved in", "took part in": no one is acted on
        if lemma in ("withdraw", "evacuate") or (lemma, prt) == ("pull", "out"):
            objs = [c for c in tok.children if c.dep_ in OBJ_DEPS]
            obj_words = {t.lower_ for c in objs for t in c.subtree}
            # troops or people ("pulled him out of the battle field": evacuating one's own
            # commander), not "withdraw from the Paris agreement"
            people = any(c.lower_ in ("him", "her", "them") or c.ent_type_ == "PERSON" for c in objs)
            return typ if obj_words & TROOPS or people else None
        if lemma == "seize" and not any(c.dep_ == "dobj" for c in tok.children):
            return None  # "seized on X's remarks": exploiting words, not taking a place
        if typ == "state" and "against" in preps:
            return "accuse"  # "spoke out against X"
        return typ

    def _sentence_words(self, tok) -> set[str]:
        return {t.lower_ for t in tok.sent}

    def verb_relations(self):
        for tok in self.sp:
            if tok.pos_ != "VERB" and not (tok.pos_ == "AUX" and tok.dep_ == "ROOT"):
                continue
            if tok.dep_ in ("amod", "compound"):
                continue  # "wounded families", "shooting victims": a participle used as an adjective
            # "pulled him out of the field": the parser makes "out" a preposition there
            prt = next((c.lower_ for c in tok.children if c.dep_ == "prt" or (
                c.dep_ == "prep" and c.lower_ == "out" and any(g.lower_ == "of" for g in c.children))), "")
            lemma = tok.lemma_.lower()
            typ = self.verb_type(tok, lemma, prt)
            if typ is None:
                # "the uprising began against X": a generic verb with an event-noun subject
                subj = next((c for c in tok.children if c.dep_ in SUBJ_DEPS), None)
                if subj is not None and subj.lower_ in NOUN_TYPE and lemma in ("begin", "start", "continue", "erupt",
                                                                               "break", "come", "launch"):
                    noun_typ = NOUN_TYPE[subj.lower_]
                    yield from self.emit(self.noun_agent_tokens(subj), self.objects_of(tok, noun_typ),
                                         subj.lemma_.lower(), noun_typ, tok)
                continue
            if self.unrealized(tok):
                continue
            passive = tok.tag_ == "VBN" and (any(c.dep_ in ("nsubjpass", "auxpass") for c in tok.children) or (
                tok.dep_ == "acl" and lemma not in STATIVE_PARTICIPLES))
            if passive:
                agents = [g for c in tok.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"]
                agents += self.idiom_agents(tok)
                patients = self.passive_subject(tok) + self.objects_of(tok, typ)
                if tok.dep_ == "pcomp" and tok.head.lower_ == "from" and tok.head.head.pos_ == "VERB":
                    # "save them from being crushed": the one spared (or not) is the one crushed
                    patients += [a for c in tok.head.head.children if c.dep_ == "dobj" for a in self.actors_of(c)]
                if tok.dep_ == "acl":  # "civilians killed by the regime": the noun is the patient
                    patients += self.actors_of(tok.head)
            else:
                agents = self.subject_tokens(tok)
                if typ == "state":
                    patients = self.statement_objects(tok)
                else:
                    patients = self.objects_of(tok, typ)
                    if typ == "demand":  # "demanding Obama make a pledge"
                        patients += [a for c in tok.children if c.dep_ == "ccomp" for a in self.reported_about(c)]
                    if typ == "threaten":  # "threatened to attack Israel": Israel is threatened,
                        # but not Quentin in "threatens to leave Quentin"
                        patients += [a for c in tok.children if c.dep_ == "xcomp"
                                     and relation_type(c.lemma_) in ("attack", "kill_injure", "accuse", "threaten")
                                     for a in self.objects_of(c, relation_type(c.lemma_))]
                if tok.dep_ == "relcl" and self._object_relative(tok):
                    patients += self.actors_of(tok.head)  # "the rebels (whom) Iran supports"
                if typ == "deploy":
                    patients += self.deploy_places(tok)
                if not patients and typ != "state":  # "noted ... and told X": X is a hearer
                    patients = self.shared_object(tok, typ)
            yield from self.emit(agents, patients, lemma if not prt else f"{lemma} {prt}", typ, tok)

    def idiom_agents(self, verb) -> list:
        """The doer of a passive act named by an idiom: "killed at the hands of militias",
        "crushed under the boots of the revolutionaries"."""
        out = []
        for c in verb.children:
            if c.dep_ == "prep" and c.lower_ in ("at", "under", "beneath"):
                for g in c.children:
                    if g.dep_ == "pobj" and g.lemma_.lower() in ("hand", "boot", "heel", "foot", "jackboot"):
                        out += [p for o in g.children if o.dep_ == "prep" and o.lower_ == "of"
                                for p in o.children if p.dep_ == "pobj"]
        return out

    def _object_relative(self, verb) -> bool:
        """Does the relative clause leave its object to the noun it modifies?"""
        if any(c.dep_ == "dobj" and c.tag_ in RELATIVE_TAGS for c in verb.children):
            return True
        has_subject = any(c.dep_ in SUBJ_DEPS and c.tag_ not in RELATIVE_TAGS for c in verb.children)
        has_object = any(c.dep_ in ("dobj", "ccomp", "xcomp") for c in verb.children)
        return has_subject and not has_object

    def shared_object(self, verb, typ: str) -> list[str]:
        """"attacked and destroyed X": the first verb shares the object of its conjunct."""
        if any(c.dep_ == "dobj" for c in verb.children):
            return []
        for conj in verb.children:
            if conj.dep_ == "conj" and conj.pos_ == "VERB" and not any(c.dep_ in SUBJ_DEPS for c in conj.children):
                objs = [c for c in conj.children if c.dep_ == "dobj"]
                if objs:
                    return [a for o in objs for a in self.actors_of(o)]
        return []

    def noun_agent_tokens(self, noun) -> list:
        out: list = []
        for c in noun.children:
            if c.dep_ == "poss":
                out.append(c)
            elif c.dep_ == "prep" and c.lower_ == "of" and noun.lower_ not in THEME_OF_NOUNS:
                out += [g for g in c.children if g.dep_ == "pobj"]
            elif c.dep_ == "prep" and c.lower_ == "by":  # "the invasion of Iraq by the United States"
                out += [g for g in c.children if g.dep_ == "pobj"]
            elif c.dep_ in ("compound", "amod", "npadvmod") and self.token_actor.get(c.i):
                out.append(c)  # "the Russian intervention", "Iran-backed"
        return out

    def noun_relations(self):
        for tok in self.sp:
            if tok.pos_ != "NOUN" or tok.lower_ not in NOUN_TYPE or tok.dep_ == "compound":
                continue
            if tok.head.pos_ == "VERB" and (self.negated(tok.head) or tok.head.lemma_.lower() == "deny"):
                continue  # "denied any involvement"
            typ = NOUN_TYPE[tok.lower_]
            agents = self.noun_agent_tokens(tok)
            patients: list[str] = []
            for c in tok.children:
                if c.dep_ == "prep" and (c.lower_ in ("against", "on", "upon", "with", "to", "into", "for", "in")
                                         or (c.lower_ == "of" and tok.lower_ in THEME_OF_NOUNS)):
                    patients += self._place_filtered(c, self._pobj_actors(c))
            if typ == "deploy":
                patients += self.deploy_places(tok)
            if tok.lower_ == "alliance":
                # "the Iran-Russia alliance": compounds on both sides
                members = [c for c in tok.children if c.dep_ in ("compound", "amod") and self.token_actor.get(c.i)]
                if len(members) >= 2:
                    agents, patients = members[:1], [self.token_actor[c.i] for c in members[1:]]
            yield from self.emit(agents, patients, tok.lemma_.lower(), typ, tok)

    def emit(self, agent_tokens, patients, action, typ, tok):
        if len(tok.text) > 1 and tok.text.isupper():
            return  # an embedded headline in capitals ("GRETA THUNBERG ... SAYS"): spaCy parses it badly
        agents: list[str] = []
        for t in agent_tokens:
            if t.tag_ in PRONOUN_TAGS and (self.in_quote(t) or (typ == "state" and t.lower_ == "they")):
                continue  # a quote's "he"/"we", a speaking "they": the actors component resolves those poorly
            if len(t.text) > 3 and t.text.isupper() and not self.token_actor.get(t.i):
                continue  # "A GROUP OF DOCTORS ...": a headline in capitals
            agents += self.actors_of(t)
        for a in dict.fromkeys(agents):
            for p in dict.fromkeys(patients):
                if not a or not p or a == p:
                    continue
                rtype = typ
                if typ == "attack" and action in VERBAL_ATTACKS and self.actor_type.get(a) == "PERSON" \
                        and self.actor_type.get(p) in ("PERSON", "GROUP"):
                    if action == "face off":
                        continue  # two people facing off: a debate, neither force nor accusation
                    rtype = "accuse"  # "Trump attacked Machado / the other candidates": words, not force
                s, e = self.clause_span(tok)
                yield Relation(subject=a, action=action, object=p, type=rtype, start=s, end=e)


def extract_relations(doc: Document) -> list[Relation]:
    ex = _Extractor(doc)
    sent_starts = [s.start_char for s in ex.sp.sents]
    candidates = [r for r in list(ex.verb_relations()) + list(ex.noun_relations()) if r.type in RELATION_TYPES]
    # a relation's clause lies inside its sentence, so its start names the sentence
    sentence_of = {r.start: bisect.bisect_right(sent_starts, r.start) - 1 for r in candidates}
    # A statement says less than any other relation between the same two actors in the sentence.
    specific = {(sentence_of[r.start], r.subject, r.object) for r in candidates if r.type != "state"}
    out: list[Relation] = []
    seen = set()
    for rel in sorted(candidates, key=lambda r: (r.start, r.end)):
        sent = sentence_of[rel.start]
        if rel.type == "state" and (sent, rel.subject, rel.object) in specific:
            continue
        key = (sent, rel.subject, rel.type, rel.object)
        if key in seen:
            continue
        seen.add(key)
        out.append(rel)
    out.sort(key=lambda r: (r.start, r.end, r.subject, r.object))
    return out


@register("relations")
class RelationFinder:
    """Who does what to whom, between the actors of the actors component."""

    name = "relations"
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __call__(self, doc: Document) -> Document:
        actor_index(doc)  # builds actors if the actors component did not run
        doc.relations = extract_relations(doc)
        doc.model["relations"] = {"name": "redline-relations", "types": list(RELATION_TYPES)}
        return doc
