"""Technique spans a reader can act on (issue #16): one meaning for a score, a threshold
that only filters, boundaries a reader would draw, trigger words, and the phrases a
careful reader flags in the two sample op-eds (tests/fixtures/reader_phrases.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE, MODEL_DIR, REPO
from redline.models import span_decoding as sd

PHRASES = json.loads((REPO / "tests" / "fixtures" / "reader_phrases.json").read_text(encoding="utf-8"))

# The phrases of the list that the shipped model flags with a fitting technique at the
# default threshold (measured when this list was pinned; see the model card). A phrase
# dropping out of this set is a regression; one joining it is welcome: add it here.
PINNED = {
    "a psychopathic platform", "a catastrophe was in the making", "a backbreaking blow",
    "will blow to pieces every effort", "completely defenseless", "the crumbling economy",
    "an actual catastrophe", "lip service", "crushed under the boots of the Levant revolutionaries",
    "the corrupt clique at City Hall", "sold out the people of Marlow",
    "a shameless land grab dressed up as progress",
    "Now they want us to trust them again?", "Save our harbour! Save our town!",
}
# With `--precision int8` (calibrated: SmoothQuant, FFN-out Linears kept in fp32; dev SI
# 0.4732 against fp32's 0.4706, see the model card; the default where the CPU lacks bf16)
# the model flags all 14 of them and one more ("The Great Harbour Betrayal"). Before its
# calibration, int8 flagged 10.
PINNED_INT8 = set(PINNED)


def _texts() -> dict[str, str]:
    return {"assad-redline": EXAMPLE.read_text(encoding="utf-8"),
            "op-ed": (REPO / "examples" / "op-ed.txt").read_text(encoding="utf-8")}


@lru_cache(maxsize=None)
def _model_and_outputs():
    """The shipped model and its encoder pass over both op-eds, once per test run."""
    from redline.components.tagger import load_technique_model
    model = load_technique_model()
    return model, {name: (text, model.run(text)) for name, text in _texts().items()}


@pytest.fixture
def real():
    if not (MODEL_DIR / "model.safetensors").exists():
        pytest.skip("the trained technique model is not in redline/models/technique")
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return _model_and_outputs()


def flagged(spans, text: str, phrase: str, techniques: list[str]) -> bool:
    """Whether a span with a fitting technique covers the phrase: at least half of it,
    or 12 characters of a long one."""
    a = text.index(phrase)
    b = a + len(phrase)
    need = min((b - a) / 2, 12)
    return any(s.technique in techniques and min(s.end, b) - max(s.start, a) >= need for s in spans)


def test_the_pinned_reader_phrases_are_flagged_at_the_default_threshold(real):
    model, outputs = real
    spans = {name: model.predict_spans(text, out=out) for name, (text, out) in outputs.items()}
    caught = {p["phrase"] for p in PHRASES["phrases"]
              if flagged(spans[p["article"]], outputs[p["article"]][0], p["phrase"], p["techniques"])}
    pinned = PINNED_INT8 if model.precision == "int8" else PINNED
    assert pinned <= caught, f"no longer flagged ({model.precision}): {sorted(pinned - caught)}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0))
def test_characters_covered_at_a_higher_threshold_stay_covered_at_a_lower_one(real, low, high):
    low, high = min(low, high), max(low, high)
    model, outputs = real
    for text, out in outputs.values():
        at_low = {(s.start, s.end, s.technique, s.score) for s in model.predict_spans(text, low, out)}
        at_high = {(s.start, s.end, s.technique, s.score) for s in model.predict_spans(text, high, out)}
        # The same spans, unchanged, and more: so every covered character stays covered.
        assert at_high <= at_low
        # And exactly the lower threshold's spans that reach the higher one (candidates
        # skipped before labelling change nothing).
        assert at_high == {s for s in at_low if s[3] >= high}


def test_a_span_carries_its_score_and_trigger_words_that_slice_the_text(real):
    model, outputs = real
    for text, out in outputs.values():
        spans = model.predict_spans(text, out=out)
        assert spans
        for s in spans:
            assert 0.0 < s.score < 1.0 and s.score >= model.threshold
            assert s.triggers, f"no trigger words for {text[s.start:s.end]!r}"
            for a, b in s.triggers:
                assert s.start <= a < b <= s.end
                assert text[a:b].strip() == text[a:b]


def test_spans_keep_to_reader_boundaries_on_real_output(real):
    model, outputs = real
    for text, out in outputs.values():
        head = sd.title_end(text)
        for s in model.predict_spans(text, 0.0, out):
            frag = text[s.start:s.end]
            words = frag.replace("’", "'").split()
            assert words[-1].strip("!?\"'”.,").lower() not in sd.TRAILING_FUNCTION_WORDS, frag
            assert not (s.start < head < s.end), f"headline into body: {frag!r}"
            if "\n" in frag:
                assert s.technique in model.rules.cross_paragraphs, frag
            if len(sd.split_at_sentences(text, s.start, s.end)) > 1:
                assert s.technique in model.rules.cross_sentences, frag


def test_the_json_shows_the_score_and_threshold_the_tagger_used(real):
    import redline
    text = _texts()["op-ed"]
    doc = redline.analyze(text, components=("tagger",))
    out = doc.to_json()
    assert out["model"]["tagger"]["threshold"] == pytest.approx(_model_and_outputs()[0].threshold)
    for span in out["techniques"]:
        assert span["score"] >= out["model"]["tagger"]["threshold"]
        for t in span["triggers"]:
            assert text[t["start"]:t["end"]] == t["text"]


def test_snap_to_phrase_trims_dangling_words_and_comma_fragments():
    text = "He called him a euro maniac, Donald said, and tomorrow they will take the school"
    s, e = sd.snap_to_phrase(text, text.index("a euro"), text.index(" said"))
    assert text[s:e] == "a euro maniac"
    i = text.index("and tomorrow")
    s, e = sd.snap_to_phrase(text, i, i + len("and tomorrow they will"))
    assert text[s:e] == "tomorrow"
    # Never trimmed to nothing.
    assert sd.snap_to_phrase("the of", 0, 6) == (0, 6)


def test_paragraph_and_headline_rules():
    text = "A Title Here\nFirst body line is here.\n\nSecond paragraph."
    assert sd.title_end(text) == text.index("\n")
    parts = sd.split_at_paragraphs(text, 0, len(text))
    assert [text[a:b] for a, b in parts] == ["A Title Here", "First body line is here.", "Second paragraph."]
    text = "It is a land grab. They never did! Now they want us"
    assert [text[a:b] for a, b in sd.split_at_sentences(text, 0, len(text))] == [
        "It is a land grab.", "They never did!", "Now they want us"]
    assert sd.is_bare_proper_noun("Britain is", 0, 7)
    assert not sd.is_bare_proper_noun("the terrorist Assad regime", 0, 26)


def test_the_scorer_refuses_a_config_it_cannot_read():
    with pytest.raises(ValueError):
        sd.SpanScorer.from_config({"features": ["no_such_feature"], "coef": [1.0], "intercept": 0.0})


def test_the_model_config_states_what_the_score_means():
    config = json.loads((Path(MODEL_DIR) / "config.json").read_text())
    assert config["span_score"]["event"] == sd.SCORE_EVENT
    assert 0.0 < config["threshold"] < 1.0
