"""Relations: who does what to whom, read off the spaCy dependency parse.

For every verb (and a few event nouns: "the intervention of Russia", "Iran's arms deals
with Russia") the component finds the agent and the patients among the actors:

* agent: the nominal subject; the `by` object of a passive ("killed by X"); the noun a
  participle modifies ("militia forces affiliated to the Iranian regime"); for verbs
  without a subject of their own, the subject of the verb they depend on (xcomp, conj,
  advcl, "by dispatching"). For event nouns: the possessor or the `of` object.
* patients: direct and dative objects, the subject of a passive, objects of
  prepositions attached to the verb (against, on, with, to, at, into, ...), objects
  of a particle verb ("face off with"); for statements ("announced that Iran is
  ready ...") the actors in the reported clause's subject.
* an argument that is not itself an actor resolves through its possessor or `of`
  object ("the presence of Assad" -> Assad) and through resolved pronouns.

The verb lemma maps to a coarse event type (`redline.taxonomy.RELATION_TYPES`);
"provide/send/sell" become `supply_arms` when their object mentions weapons, and
`deploy` when it mentions troops. Each relation's start/end is its clause: the verb's
subtree clipped to its sentence. Negated predicates ("won't attack") are skipped.
"""

from __future__ import annotations

from redline.components.actors import actor_index
from redline.components.nlp import parse
from redline.doc import Document, Relation
from redline.pipeline import register

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
NOUN_TYPE = {
    "intervention": "deploy", "invasion": "attack", "occupation": "deploy", "attack": "attack",
    "attacks": "attack", "assault": "attack", "offensive": "attack", "strike": "attack", "strikes": "attack",
    "bombing": "attack", "uprising": "attack", "war": "attack", "aggression": "attack", "support": "support",
    "alliance": "support", "aid": "give_aid", "assistance": "give_aid", "funding": "give_aid",
    "deployment": "deploy", "participation": "deploy",
    "threat": "threaten", "threats": "threaten", "killing": "kill_injure", "massacre": "kill_injure",
    "accusation": "accuse", "accusations": "accuse", "demand": "demand", "demands": "demand",
    "sanctions": "attack", "crackdown": "attack", "involvement": "deploy",
}
WEAPONS = {"arm", "arms", "weapon", "weapons", "missile", "missiles", "rocket", "rockets", "drone", "drones",
           "ammunition", "munition", "munitions", "tank", "tanks", "artillery", "jet", "jets", "bomb", "bombs",
           "warplane", "warplanes", "fighter", "rifle", "rifles", "gun", "guns", "howitzer", "howitzers",
           "helicopter", "helicopters", "system", "systems", "shell", "shells", "military"}
TROOPS = {"troops", "forces", "force", "soldiers", "army", "militia", "militias", "fighters", "commanders",
          "mercenaries", "units", "battalions", "brigades", "advisers", "advisors", "personnel"}
PATIENT_PREPS = {"against", "on", "with", "to", "at", "into", "upon", "for", "toward", "towards", "over", "in",
                 "from", "of"}
SUBJ_DEPS = {"nsubj", "csubj"}
OBJ_DEPS = {"dobj", "dative", "iobj", "obj", "attr", "oprd"}


def relation_type(lemma: str, prt: str = "") -> str | None:
    lemma = lemma.lower()
    if prt and (lemma, prt.lower()) in PHRASAL:
        return PHRASAL[(lemma, prt.lower())]
    return VERB_TYPE.get(lemma)


class _Extractor:
    def __init__(self, doc: Document):
        self.doc = doc
        self.sp = parse(doc)
        self.index = actor_index(doc)
        self.token_actor = self.index.token_actor

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
            if not found and depth < 2:
                # "the presence of Assad", "Iran's deals", "the Syrian people's uprising"
                for c in t.children:
                    if c.dep_ == "poss" or (c.dep_ == "prep" and c.lower_ == "of"):
                        targets = [c] if c.dep_ == "poss" else [g for g in c.children if g.dep_ == "pobj"]
                        for g in targets:
                            found += self.actors_of(g, depth + 1)
            if not found:
                # "IRGC forces", "Quds Force commanders": an actor named inside the phrase
                for c in t.children:
                    if c.dep_ in ("compound",) and self.token_actor.get(c.i):
                        found.append(self.token_actor[c.i])
            out += found
        seen = []
        for a in out:
            if a not in seen:
                seen.append(a)
        return seen

    def subject_of(self, verb, depth: int = 0) -> list[str]:
        for c in verb.children:
            if c.dep_ in SUBJ_DEPS:
                return self.actors_of(c)
            if c.dep_ == "agent":  # passive "by X"
                for g in c.children:
                    if g.dep_ == "pobj":
                        return self.actors_of(g)
        if verb.dep_ in ("acl",) and verb.tag_ in ("VBN", "VBG") and verb.head.i != verb.i:
            return self.actors_of(verb.head)
        if verb.dep_ == "relcl" and verb.head.i != verb.i:
            for c in verb.children:
                if c.dep_ in ("nsubj", "nsubjpass") and c.tag_ in ("WDT", "WP"):
                    return self.actors_of(verb.head)
        if depth < 3 and verb.head.i != verb.i:
            head = verb.head
            if verb.dep_ in ("xcomp", "conj", "advcl") and head.pos_ in ("VERB", "AUX"):
                return self.subject_of(head, depth + 1)
            if verb.dep_ == "pcomp" and head.dep_ == "prep" and head.head.pos_ in ("VERB", "AUX"):
                return self.subject_of(head.head, depth + 1)
            if verb.dep_ == "xcomp" and head.pos_ == "ADJ" and head.head.pos_ in ("VERB", "AUX"):
                return self.subject_of(head.head, depth + 1)
        return []

    def passive_subject(self, verb) -> list[str]:
        for c in verb.children:
            if c.dep_ == "nsubjpass":
                return self.actors_of(c)
        return []

    def objects_of(self, verb, typ: str) -> list[str]:
        out: list[str] = []
        for c in verb.children:
            if c.dep_ in OBJ_DEPS and c.pos_ == "ADP":  # "sent troops to Syria": "to" parsed as dative
                out += [a for g in c.children if g.dep_ == "pobj" for a in self.actors_of(g)]
            elif c.dep_ in OBJ_DEPS:
                out += self.actors_of(c)
            elif c.dep_ == "prep" and c.lower_ in PATIENT_PREPS:
                if c.lower_ in ("in", "from", "of") and typ not in ("deploy", "give_aid", "supply_arms"):
                    continue
                for g in c.children:
                    if g.dep_ == "pobj":
                        out += self.actors_of(g)
            elif c.dep_ == "prt":
                for g in c.children:
                    if g.dep_ == "prep":
                        for h in g.children:
                            if h.dep_ == "pobj":
                                out += self.actors_of(h)
        return out

    def statement_objects(self, verb) -> list[str]:
        out: list[str] = []
        for c in verb.children:
            if c.dep_ in ("ccomp", "xcomp"):
                out += self.subject_of(c) + self.passive_subject(c)
                if not out:
                    out += self.objects_of(c, "state")
            elif c.dep_ in ("dative", "iobj"):
                out += [a for g in c.children if g.dep_ == "pobj" for a in self.actors_of(g)] if c.pos_ == "ADP" \
                    else self.actors_of(c)
            elif c.dep_ == "prep" and c.lower_ in ("to", "about", "against"):
                for g in c.children:
                    if g.dep_ == "pobj":
                        out += self.actors_of(g)
        return out

    def negated(self, verb) -> bool:
        return any(c.dep_ == "neg" for c in verb.children)

    # ------------------------------------------------------------------ relations
    def clause_span(self, tok) -> tuple[int, int]:
        sent = tok.sent
        toks = [t for t in tok.subtree if sent.start <= t.i < sent.end and not t.is_space]
        s = min(t.idx for t in toks) if toks else sent.start_char
        e = max(t.idx + len(t.text) for t in toks) if toks else sent.end_char
        return s, e

    def verb_relations(self):
        sp = self.sp
        for tok in sp:
            if tok.pos_ not in ("VERB",) and not (tok.pos_ == "AUX" and tok.dep_ == "ROOT"):
                continue
            prt = next((c.lower_ for c in tok.children if c.dep_ == "prt"), "")
            lemma = tok.lemma_.lower()
            typ = relation_type(lemma, prt)
            obj_words = {t.lower_ for c in tok.children if c.dep_ in OBJ_DEPS or c.dep_ == "prep"
                         for t in c.subtree}
            if lemma in TRANSFER_VERBS:
                typ = "supply_arms" if obj_words & WEAPONS else "deploy" if obj_words & TROOPS else "give_aid"
            if typ is None:
                # "the uprising began against X": a generic verb with an event-noun subject
                subj = next((c for c in tok.children if c.dep_ in SUBJ_DEPS), None)
                if subj is not None and subj.lower_ in NOUN_TYPE and lemma in ("begin", "start", "continue", "erupt",
                                                                               "break", "come", "launch"):
                    agents = self.noun_agents(subj)
                    patients = self.objects_of(tok, NOUN_TYPE[subj.lower_])
                    yield from self.emit(agents, patients, subj.lemma_.lower(), NOUN_TYPE[subj.lower_], tok)
                continue
            if self.negated(tok):
                continue
            if tok.tag_ == "VBN" and any(c.dep_ in ("nsubjpass", "auxpass") for c in tok.children):
                agents = []
                for c in tok.children:
                    if c.dep_ == "agent":
                        agents = [a for g in c.children if g.dep_ == "pobj" for a in self.actors_of(g)]
                patients = self.passive_subject(tok) + self.objects_of(tok, typ)
            else:
                agents = self.subject_of(tok)
                patients = self.statement_objects(tok) if typ == "state" else self.objects_of(tok, typ)
                if lemma == "involve" and tok.tag_ == "VBN":
                    continue
            if tok.dep_ == "acl" and tok.tag_ == "VBN" and not agents:
                # "forces affiliated to the Iranian regime": the modified noun is the agent
                agents = self.actors_of(tok.head)
            yield from self.emit(agents, patients, lemma if not prt else f"{lemma} {prt}", typ, tok)

    def noun_agents(self, noun) -> list[str]:
        out: list[str] = []
        for c in noun.children:
            if c.dep_ == "poss":
                out += self.actors_of(c)
            elif c.dep_ == "prep" and c.lower_ == "of":
                out += [a for g in c.children if g.dep_ == "pobj" for a in self.actors_of(g)]
            elif c.dep_ in ("compound", "amod") and self.token_actor.get(c.i):
                out.append(self.token_actor[c.i])
        return out

    def noun_relations(self):
        for tok in self.sp:
            if tok.pos_ != "NOUN" or tok.lower_ not in NOUN_TYPE:
                continue
            typ = NOUN_TYPE[tok.lower_]
            agents = self.noun_agents(tok)
            patients: list[str] = []
            for c in tok.children:
                if c.dep_ == "prep" and c.lower_ in ("against", "on", "with", "to", "in", "into", "for"):
                    patients += [a for g in c.children if g.dep_ == "pobj" for a in self.actors_of(g)]
            if tok.lower_ in ("alliance",):
                # "the Iran-Russia alliance": compounds on both sides
                members = [self.token_actor[c.i] for c in tok.children if c.dep_ in ("compound", "amod")
                           and self.token_actor.get(c.i)]
                if len(members) >= 2:
                    agents, patients = members[:1], members[1:]
            yield from self.emit(agents, patients, tok.lemma_.lower(), typ, tok)

    def emit(self, agents, patients, action, typ, tok):
        for a in dict.fromkeys(agents):
            for p in dict.fromkeys(patients):
                if a and p and a != p:
                    s, e = self.clause_span(tok)
                    yield Relation(subject=a, action=action, object=p, type=typ, start=s, end=e)


def extract_relations(doc: Document) -> list[Relation]:
    ex = _Extractor(doc)
    out: list[Relation] = []
    seen = set()
    for rel in list(ex.verb_relations()) + list(ex.noun_relations()):
        key = (rel.subject, rel.object, rel.type, rel.start)
        if key in seen or rel.type not in RELATION_TYPES:
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
