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
    assert relation_type("face", "off") == "attack"
    assert relation_type("announce") == "state"
    assert relation_type("bake") is None
