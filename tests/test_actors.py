"""Actors: found with spaCy, merged across mentions (the founding op-ed and small texts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from redline.components.actors import ActorFinder, actor_index  # noqa: E402
from redline.doc import Document  # noqa: E402


SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

def actors_of(text: str) -> Document:
    doc = Document(id="t", text=text)
    return ActorFinder()(doc)


def by_name(doc: Document) -> dict:
    return {a.name: a for a in doc.actors}


def mention_texts(actor) -> set[str]:
    return {m.text.lower() for m in actor.mentions}


@pytest.fixture(scope="module")
def op_ed(request):
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return actors_of(EXAMPLE.read_text(encoding="utf-8"))


def test_op_ed_iran_is_one_actor(op_ed):
    iran = by_name(op_ed)["Iran"]
    assert iran.type == "GPE"
    texts = mention_texts(iran)
    assert {"iran", "the iranian regime", "iranians", "iranian officials"} <= texts
    # "The regime pulled him out ..." refers back to the Iranian regime.
    regime = [m for m in iran.mentions if m.text.lower() == "the regime"]
    assert regime, texts


def test_op_ed_assad_and_his_regime_are_one_actor(op_ed):
    names = by_name(op_ed)
    assad = names["Assad regime"]
    texts = mention_texts(assad)
    assert {"assad", "assad regime", "the syrian regime", "the assad dynasty"} <= texts
    assert not any(a.name == "Assad" for a in op_ed.actors)


def test_op_ed_people_groups_and_organisations(op_ed):
    names = by_name(op_ed)
    for name, typ in [("Qassem Suleimani", "PERSON"), ("Hossein Hamedani", "PERSON"), ("Gen. Pourdastan", "PERSON"),
                      ("IRGC", "ORG"), ("Quds Force", "ORG"), ("Russia", "GPE"), ("Syrian people", "GROUP"),
                      ("Levant revolutionaries", "GROUP"), ("militia groups", "GROUP")]:
        assert name in names and names[name].type == typ, (name, sorted(names))
    assert len(names["Qassem Suleimani"].mentions) == 2
    militia = mention_texts(names["militia groups"])
    assert any("lebanese" in t for t in militia) and any("pakistani" in t for t in militia)
    # Places used only as places are not actors.
    assert "Aleppo" not in names and "Yemen" not in names


def test_op_ed_mentions_slice_the_text_and_do_not_overlap(op_ed):
    seen = []
    for actor in op_ed.actors:
        assert actor.id and actor.mentions
        for m in actor.mentions:
            assert op_ed.text[m.start:m.end] == m.text
            assert m.text == m.text.strip()
            seen.append((m.start, m.end))
    seen.sort()
    for (s1, e1), (s2, e2) in zip(seen, seen[1:]):
        assert e1 <= s2, (s1, e1, s2, e2)
    assert len({a.id for a in op_ed.actors}) == len(op_ed.actors)
    json.dumps(op_ed.to_json())  # the private parse cache is not serialised


def test_op_ed_pronouns_resolve_for_the_other_components(op_ed):
    index = actor_index(op_ed)
    names = {a.id: a.name for a in op_ed.actors}
    resolved = {names[a] for a in index.pronoun_actor.values()}
    assert "Qassem Suleimani" in resolved  # "turn him into a legend", "his fate is unknown"


def test_capital_demonym_and_surname_merging():
    doc = actors_of("Tehran sent advisers to Syria. The Iranian government denied it, and Iranians protested. "
                    "Qassem Suleimani led the operation. Suleimani was later injured. "
                    "The Kremlin said Russian troops would stay.")
    names = by_name(doc)
    assert {"tehran", "the iranian government", "iranians"} <= mention_texts(names["Iran"])
    assert mention_texts(names["Qassem Suleimani"]) == {"qassem suleimani", "suleimani"}
    assert {"kremlin", "russian troops"} <= mention_texts(names["Russia"])


def test_leader_regime_policy():
    doc = actors_of("Syrian President Bashar al-Assad spoke on Monday. Critics say the Syrian regime "
                    "is brutal. Assad denied the reports. The Iranian regime backs him.")
    names = by_name(doc)
    assad = names["Assad regime"]
    assert {"president bashar al-assad", "the syrian regime", "assad"} <= mention_texts(assad)
    assert "the iranian regime" in mention_texts(names["Iran"])


def test_distinct_people_with_one_surname_stay_apart():
    doc = actors_of("Candace Smith called the police. Quentin Smith was arrested on Friday. "
                    "Smith was charged with murder.")
    names = by_name(doc)
    assert "Candace Smith" in names and "Quentin Smith" in names
    assert "smith" in mention_texts(names["Quentin Smith"])


def test_parse_is_the_same_without_the_vocabulary_string_table(own_example):
    """get_nlp skips loading strings.json (a second of cold start): nothing may change."""
    import spacy

    from redline.components import nlp

    loaded = nlp.get_nlp()
    assert len(loaded.vocab.strings) < 100_000  # the 700k-entry table was not read
    full = spacy.load(loaded.path)

    def described(parsed):
        return ([(t.text, t.tag_, t.pos_, t.dep_, t.head.i, t.lemma_, t.norm_, t.ent_type_, t.ent_iob_,
                  t.is_sent_start) for t in parsed]
                + [(e.start_char, e.end_char, e.label_) for e in parsed.ents]
                + [(c.start, c.end) for c in parsed.noun_chunks])

    text = own_example + "\nAleppo, Damascus and Tehran: the Revolutionary Guards said so on Monday."
    assert described(loaded(text)) == described(full(text))
