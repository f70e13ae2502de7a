"""The non-human cast: phrases a story casts (policies, phenomena, nature) become actors.

The real actor finder with the shipped cast model (`redline/models/cast/`) on hand-written
text; no corpus needed."""

from __future__ import annotations

import pytest

from redline.components.actors import ActorFinder
from redline.components.cast import MODEL_DIR, CastModel, candidate_chunks
from redline.components.nlp import parse
from redline.doc import Document

CLIMATE = (
    "Climate change is killing the Great Barrier Reef, scientists warned on Monday.\n\n"
    "Warming seas have bleached half of the reef since 2016, and climate change will finish the job "
    "unless emissions fall sharply, the researchers said. Coral reefs shelter a quarter of all marine "
    "species. Fishing families along the coast say the damage to the reef is destroying their livelihoods.\n\n"
    "Senator Mark Wells called the Green New Deal a job killer. \"The Green New Deal would wreck our economy "
    "and do nothing for the reef,\" Wells said. Photo: John Smith/Getty Images"
)


def actors_of(text: str, cast: bool = True) -> Document:
    doc = Document(id="t", text=text)
    ActorFinder(cast=cast)(doc)
    return doc


def test_shipped_model_has_card_and_threshold():
    model = CastModel.load(MODEL_DIR)
    assert 0 < model.threshold < 1
    assert (MODEL_DIR / "MODEL_CARD.md").exists()
    assert model.coef.shape == model.mean.shape == model.scale.shape


def test_climate_story_casts_its_things():
    doc = actors_of(CLIMATE)
    things = {a.name.lower(): a for a in doc.actors if a.type in ("THING", "LAW")}
    assert "green new deal" in things, things
    # one thing, one actor: both "Green New Deal" mentions (spaCy tags one of them PERSON)
    assert [m.text for m in things["green new deal"].mentions] == ["Green New Deal", "Green New Deal"]
    # people and groups are still found by the rules, not the cast model
    assert any(a.type == "PERSON" and a.name == "Mark Wells" for a in doc.actors)
    assert any(a.type == "GROUP" and a.name == "Fishing families" for a in doc.actors)
    for a in doc.actors:
        for m in a.mentions:
            assert doc.text[m.start:m.end] == m.text  # offsets slice the text


def test_cast_adds_actors_only_with_the_model():
    with_cast = {a.id for a in actors_of(CLIMATE).actors}
    without = {a.id for a in actors_of(CLIMATE, cast=False).actors}
    assert without < with_cast
    assert not [a for a in actors_of(CLIMATE, cast=False).actors if a.type in ("THING", "LAW")]


def test_cast_leaves_credits_topics_and_events_of_actors_alone():
    text = ("Brexit will split the party, the minister said. The fall of the Assad regime is near. "
            "Photo: Mary Jones/Getty Images")
    doc = actors_of(text)
    names = {a.name.lower() for a in doc.actors}
    assert "brexit" not in names
    assert "fall" not in names
    assert not any("getty" in n or "jones" in n for n in names)


def test_cast_people_are_groups_that_a_word_picks_out():
    # bare or counted people are nobody a reader would list; "displaced people" and "the
    # poorest communities" are cast, as groups (not things), apart from the bare word they share
    texts = ("People are dying because the government ignored the warnings. People deserve better than "
             "this. The plan will hurt people and leave displaced people without homes. Children are suffering "
             "from the heat, and malnourished children in the city cannot sleep.",
             "The first folks that get flooded out are the poorest communities. They are often communities of "
             "color. We need to invest in these communities. Many communities will never recover, and other "
             "communities are next.")
    types = {a.name.lower(): a.type for text in texts for a in actors_of(text).actors}
    for bare in ("people", "children", "communities", "many communities", "other communities"):
        assert bare not in types, types
    for group in ("displaced people", "malnourished children", "poorest communities"):
        assert types.get(group) == "GROUP", types


def test_a_setting_is_not_cast():
    doc = actors_of("Officer Eric Joering died at the scene and his colleague, Anthony Morelli, died at a "
                    "local hospital. The suspect was wounded and was treated at a hospital. Smith is alive "
                    "in hospital tonight.")
    assert not [a for a in doc.actors if "hospital" in a.name.lower()], [a.name for a in doc.actors]
    assert {"Eric Joering", "Anthony Morelli"} <= {a.name for a in doc.actors}


def test_candidates_skip_taken_ranges_and_numbers():
    doc = Document(id="t", text="Climate change cost 3 billion dollars in 2019, the report said.")
    sp = parse(doc)
    chunks = candidate_chunks(sp, [(0, 14)])
    assert all(c.start >= 14 for c in chunks)
    assert not any(c.name.startswith("3") or "2019" in c.name for c in chunks)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.name


@pytest.mark.parametrize("threshold", [0.0, 1.01])
def test_threshold_bounds(threshold):
    model = CastModel.load(MODEL_DIR)
    model.threshold = threshold
    doc = Document(id="t", text=CLIMATE)
    sp = parse(doc)
    kept = model.cast(sp, [])
    if threshold == 0.0:
        assert len(kept) >= len({c.key for c, _ in kept}) > 0
    else:
        assert kept == []
