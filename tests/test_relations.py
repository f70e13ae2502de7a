"""Relations: who does what to whom, from the dependency parse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from redline.components.actors import ActorFinder  # noqa: E402
from redline.components.relations import RelationFinder, relation_type  # noqa: E402
from redline.doc import Document  # noqa: E402
from redline.taxonomy import RELATION_TYPES  # noqa: E402


SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

def relations_of(text: str) -> tuple[Document, set[tuple[str, str, str]]]:
    doc = RelationFinder()(ActorFinder()(Document(id="t", text=text)))
    names = {a.id: a.name for a in doc.actors}
    return doc, {(names[r.subject], r.type, names[r.object]) for r in doc.relations}


@pytest.fixture(scope="module")
def op_ed():
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return relations_of(EXAMPLE.read_text(encoding="utf-8"))


def test_op_ed_relations(op_ed):
    doc, rels = op_ed
    assert ("Iran", "deploy", "IRGC") in rels  # "the Iranians ... dispatching IRGC forces"
    assert ("Iran", "deploy", "Quds Force") in rels
    assert ("Russia", "supply_arms", "Iran") in rels  # "Russia provides Iran with missiles"
    assert ("militia groups", "support", "Iran") in rels  # "militia forces affiliated to the Iranian regime"
    assert ("Gen. Pourdastan", "state", "Iran") in rels  # "announced that Iran is ready ..."
    assert ("Syrian people", "attack", "Assad regime") in rels  # "uprising began against the ... Assad regime"
    assert ("Russia", "deploy", "Syria") in rels  # "the intervention of Russia in the Syrian conflict"
    assert ("militia groups", "deploy", "Syria") in rels  # "militia groups entered the Syrian conflict"
    ids = {a.id for a in doc.actors}
    for r in doc.relations:
        assert r.subject in ids and r.object in ids and r.subject != r.object
        assert r.type in RELATION_TYPES
        assert 0 <= r.start < r.end <= len(doc.text)
        assert r.to_json()["action"]


def test_small_texts():
    _, rels = relations_of("Russia sent troops to Syria. Hezbollah was attacked by Israel. "
                           "The rebels killed three Iranian soldiers.")
    assert ("Russia", "deploy", "Syria") in rels
    assert ("Israel", "attack", "Hezbollah") in rels  # passive with agent
    assert ("rebels", "kill_injure", "Iran") in rels


def test_negation_and_verb_map():
    _, rels = relations_of("Iran did not attack Israel.")
    assert not any(t == "attack" for _, t, _ in rels)
    assert relations_of("Russia did not attack Ukraine.")[1] == set()
    assert relation_type("face", "off") == "attack"
    assert relation_type("announce") == "state"
    assert relation_type("bake") is None


# Each case: a hand-written sentence, the relations a reader would draw, and those that
# would be wrong (wrong doer, wrong type, or an act the sentence says did not happen).
CASES = [
    # passives: the `by` object is the doer, also in a participle ("civilians killed by")
    ("Kurdish fighters killed by Turkish forces were buried on Monday.",
     {("Turkey", "kill_injure", "Kurdish fighters")}, {("Kurdish fighters", "kill_injure", "Turkey")}),
    ("The militia that attacked Baghdad is backed by Iran.",
     {("militia", "attack", "Iraq"), ("Iran", "support", "militia")}, set()),
    ("Hezbollah fighters, who were armed by Iran, attacked Israel.",
     {("Iran", "supply_arms", "Hezbollah"), ("Hezbollah", "attack", "Israel")}, set()),
    # relative clauses: the relative pronoun as object
    ("The rebels whom Iran supports attacked Aleppo.",
     {("Iran", "support", "rebels"), ("rebels", "attack", "Aleppo")}, {("rebels", "support", "Iran")}),
    # conjunctions: of subjects, and an object shared by two verbs
    ("Russia and China support Syria.", {("Russia", "support", "Syria"), ("China", "support", "Syria")}, set()),
    ("Hezbollah attacked and killed Israeli soldiers.",
     {("Hezbollah", "attack", "Israel"), ("Hezbollah", "kill_injure", "Israel")}, set()),
    # event nouns: possessor and `by` are doers, `of` of a transitive noun is the patient
    ("Russia's attack on Ukraine shocked Europe.", {("Russia", "attack", "Ukraine")}, set()),
    ("The invasion of Iraq by the United States began in 2003.",
     {("United States", "attack", "Iraq")}, {("Iraq", "attack", "United States")}),
    # object control: the object of "urge"/"accuse of" does the embedded act
    ("Israel accused Hamas of attacking Egypt.",
     {("Israel", "accuse", "Hamas"), ("Hamas", "attack", "Egypt")}, {("Israel", "attack", "Egypt")}),
    ("Barack Obama urged Germany to sanction Russia.",
     {("Barack Obama", "demand", "Germany")}, {("Barack Obama", "attack", "Russia"), ("Germany", "attack", "Russia")}),
    # reported clauses: Y attack Z plus X state Y, never X attack Z
    ("Israel says Hamas attacked Egypt.",
     {("Hamas", "attack", "Egypt"), ("Israel", "state", "Hamas")}, {("Israel", "attack", "Egypt")}),
    ("Iranian officials said that the Syrian army killed 20 rebels.",
     {("Syria", "kill_injure", "rebels"), ("Iran", "state", "Syria")}, {("Iran", "kill_injure", "rebels")}),
    # acts that did not happen: denied, refused, only threatened
    ("Iran denied attacking Saudi Arabia.", set(), {("Iran", "attack", "Saudi Arabia")}),
    ("Turkey refused to support Sweden.", set(), {("Turkey", "support", "Sweden")}),
    ("Iran threatened to attack Israel.", {("Iran", "threaten", "Israel")}, {("Iran", "attack", "Israel")}),
    # the doer of a passive act named by an idiom, and the one a gerund says is spared (or not)
    ("Hundreds of Yazidi civilians were killed at the hands of ISIS.", {("ISIS", "kill_injure", "Yazidi civilians")},
     set()),
    ("Nothing will save Iran from being crushed under the boots of the Syrian rebels.",
     {("Syrian rebels", "attack", "Iran")}, set()),
    ("Candace Smith said she threatened to leave Quentin Smith.", set(),
     {("Candace Smith", "threaten", "Quentin Smith")}),
    # context decides the type
    ("Russia sent tanks to Syria.", {("Russia", "supply_arms", "Syria")}, set()),
    ("Russia gave credit to China.", set(), {("Russia", "give_aid", "China")}),
    ("Saudi Arabia withdrew from the Paris agreement.", set(), {("Saudi Arabia", "deploy", "France")}),
    ("Donald Trump attacked Hillary Clinton in a tweet.",
     {("Donald Trump", "accuse", "Hillary Clinton")}, {("Donald Trump", "attack", "Hillary Clinton")}),
    ("Hillary Clinton called on Donald Trump to apologize.", {("Hillary Clinton", "demand", "Donald Trump")}, set()),
    # a deployment's place named through a conflict noun
    ("Syria is at war. Lebanese militia groups entered the Syrian conflict.",
     {("militia groups", "deploy", "Syria")}, set()),
    # a participle clause shares the subject
    ("Russia bombed Aleppo, killing 20 Syrian rebels.",
     {("Russia", "attack", "Aleppo"), ("Russia", "kill_injure", "Syrian rebels")}, set()),
    # advice and campaign targeting are no threat or force
    ("The FBI warned Ohio officials to boost election security.", set(), {("FBI", "threaten", "Ohio officials")}),
    ("The Clinton campaign targeted Hispanic voters in Florida.", set(),
     {("Clinton campaign", "attack", "Hispanic voters")}),
    # a deployment's object is whom it sends or where, not whose office is occupied;
    # a letter to a university is no aid, whatever the sentence says of medicine
    ("Iran dispatched IRGC forces to Syria.", {("Iran", "deploy", "IRGC"), ("Iran", "deploy", "Syria")}, set()),
    ("Activists occupied Nancy Pelosi's office.", set(), {("Activists", "deploy", "Nancy Pelosi")}),
    ("A group of doctors sent a letter to Columbia University, where Oz practices medicine.", set(),
     {("doctors", "give_aid", "Columbia University")}),
    # "the New York businessman" is no act of New York
    ("The New York businessman attacked Mexico.", set(), {("New York", "attack", "Mexico")}),
]


@pytest.mark.parametrize("text,expected,wrong", CASES, ids=[c[0][:40] for c in CASES])
def test_hand_written_sentences(text, expected, wrong):
    _, rels = relations_of(text)
    assert expected <= rels, rels
    assert not (wrong & rels), rels


def test_statements_need_an_actor_they_are_about():
    # the hearer is no object; "he" in the reported clause is mostly the speaker
    assert relations_of("Vladimir Putin told Angela Merkel that the weather was fine.")[1] == set()
    assert relations_of("Donald Trump said he would win.")[1] == set()
    assert relations_of("Judith Curry noted that it was hot and told the Daily Caller that it was dry.")[1] == set()
    # a statement gives way to a more specific relation between the same two actors
    _, rels = relations_of("Israel criticized Iran, saying that Iran supports Hamas.")
    assert ("Israel", "accuse", "Iran") in rels and ("Israel", "state", "Iran") not in rels
    assert ("Iran", "support", "Hamas") in rels


def test_one_relation_per_sentence_and_no_self_relations():
    doc, _ = relations_of("Russia attacked Ukraine and attacked Ukraine again, and Russia's attack on Ukraine "
                          "continued. Russia attacked Ukraine.")
    keys = [(r.subject, r.type, r.object) for r in doc.relations]
    assert keys.count(("russia", "attack", "ukraine")) == 2  # once per sentence
    assert all(r.subject != r.object for r in doc.relations)
