"""Claims: check-worthiness, sources, hedges; `score_lines`; the training script on a tiny slice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from redline.components.actors import ActorFinder  # noqa: E402
from redline.components.claims import (  # noqa: E402
    DEFAULT_MODEL_DIR, ClaimFinder, claim_sentences, find_hedges, find_markers, load_claim_model,
    not_claim_reason, score_lines,
)
from redline.components.nlp import sentences  # noqa: E402
from redline.doc import Document  # noqa: E402

SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

needs_model = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "weights.npz").exists(),
                                 reason="no claims model in redline/models/claims")


@pytest.fixture(scope="module")
def op_ed():
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    doc = Document(id="op-ed", text=EXAMPLE.read_text(encoding="utf-8"))
    return ClaimFinder(min_score=0.0)(ActorFinder()(doc))


@needs_model
def test_op_ed_sources_and_hedges(op_ed):
    names = {a.id: a.name for a in op_ed.actors}
    pour = [c for c in op_ed.claims if "Pourdastan" in c.text]
    assert len(pour) == 1 and names[pour[0].source] == "Gen. Pourdastan"
    officials = [c for c in op_ed.claims if "Iranian officials constantly announce" in c.text]
    assert officials and names[officials[0].source] == "Iran"
    fate = [c for c in op_ed.claims if "his fate is unknown" in c.text][0]
    assert "his fate is unknown" in [h.text for h in fate.hedges]
    assert fate.source == "author"
    no_way = [c for c in op_ed.claims if "will in no way" in c.text][0]
    assert any("in no way" in h.text for h in no_way.hedges)
    for c in op_ed.claims:
        assert op_ed.text[c.start:c.end] == c.text and 0.0 <= c.checkworthiness <= 1.0
        for h in c.hedges:
            assert op_ed.text[h.start:h.end] == h.text and c.start <= h.start < h.end <= c.end
    json.dumps(op_ed.to_json())


@needs_model
def test_op_ed_pourdastan_announced(op_ed):
    names = {a.id: a.name for a in op_ed.actors}
    claim = [c for c in op_ed.claims if c.text.startswith("Recently, the Iranian ground forces commander")][0]
    att = claim.attribution
    assert att is not None and "Pourdastan" in att.source.text and att.cue.text == "announced"
    assert names[att.actor] == "Gen. Pourdastan" and claim.source == att.actor
    assert op_ed.text[att.source.start:att.source.end] == att.source.text
    assert op_ed.text[att.cue.start:att.cue.end] == att.cue.text
    assert claim.to_json()["attribution"]["source"]["actor"] == att.actor


@needs_model
def test_source_agrees_with_attribution(op_ed):
    for c in op_ed.claims:
        if c.attribution is None:
            assert c.source == "author"
        elif c.attribution.actor:
            assert c.source == c.attribution.actor
        else:  # a speaker who is no actor ("The facts on the ground"): no actor vouches
            assert c.source == "author"
    assert sum(c.attribution is None for c in op_ed.claims) > len(op_ed.claims) / 2


@needs_model
def test_default_threshold_keeps_the_factual_sentences(op_ed):
    doc = ClaimFinder()(Document(id="op-ed", text=op_ed.text))
    texts = [c.text for c in doc.claims]
    assert any(t.startswith("Qassem Suleimani was recently severely injured") for t in texts)
    assert not any(t.startswith("On the contrary it must") for t in texts)
    assert len(doc.claims) < len(op_ed.claims)


@needs_model
def test_factual_numeric_sentence_outscores_an_opinion():
    model = load_claim_model()
    fact, opinion = model.score_texts([
        "Unemployment rose to 7.8 percent in 2012, and 300,000 jobs were lost in Ohio alone.",
        "I think we all just need to love each other more and be kind.",
    ])
    assert fact > 0.7 > 0.3 > opinion


@needs_model
def test_source_according_to_and_said():
    text = ("According to the United Nations, 4,000 civilians were killed in Aleppo in 2016. "
            "Vladimir Putin said that Russian troops had left Syria. Prices rose by 3 percent last year.")
    doc = ClaimFinder(min_score=0.0)(ActorFinder()(Document(id="t", text=text)))
    names = {a.id: a.name for a in doc.actors}
    src = {c.text.split()[0]: names.get(c.source, c.source) for c in doc.claims}
    assert src == {"According": "United Nations", "Vladimir": "Vladimir Putin", "Prices": "author"}


def test_hedges_lexicon():
    text = "He reportedly fled. It may rain. His fate is unknown. She will certainly win. About 500 died."
    found = {text[s:e].lower(): kind for s, e, kind in find_hedges(text, 0, len(text))}
    for h, kind in (("reportedly", "hedge"), ("may", "hedge"), ("his fate is unknown", "hedge"),
                    ("certainly", "certainty"), ("about", "hedge")):
        assert found.get(h) == kind, (h, found)
    text = "Iran will in no way give up; undoubtedly it wins. The toll is reportedly 40."
    kinds = [(text[s:e], k) for s, e, k in find_hedges(text, 0, len(text))]
    assert kinds == [("will in no way", "certainty"), ("undoubtedly", "certainty"), ("reportedly", "hedge")]


@needs_model
def test_score_lines(tmp_path):
    path = tmp_path / "debate.tsv"
    path.write_text("1\tA\tGood evening and welcome.\t0\n"
                    "2\tB\tWe lost 2.3 million manufacturing jobs between 2000 and 2010.\t1\n"
                    "3\tA\tThank you.\n", encoding="utf-8")
    out = score_lines(path)
    assert [line for line, _ in out] == ["1", "2", "3"]
    assert out[1][1] > out[0][1] and out[1][1] > out[2][1]
    assert all(0.0 <= s <= 1.0 for _, s in out)


def test_train_claims_tiny_slice(tmp_path):
    if not (DATA / "checkworthiness" / "claimbuster" / "train.json").exists():
        pytest.skip("check-worthiness data not found in ../shared/data")
    out = tmp_path / "claims"
    r = subprocess.run([sys.executable, "-m", "redline.training.claims", "--data", str(DATA), "--out", str(out),
                        "--limit", "120", "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert "claimbuster_f1_checkworthy" in result and "clef_map" in result
    cfg = json.loads((out / "config.json").read_text())
    assert 0 < cfg["threshold"] < 1 and cfg["validation"]
    model = load_claim_model(out)
    assert model.coef.shape[0] == model.mean.shape[0]


def test_may_the_person_is_no_hedge():
    text = "Theresa May said Britain may leave in May. Russia might respond with all its might."
    doc = Document(id="t", text=text)
    got = [(doc.text[a:b], k) for a, b, k in find_markers(doc, 0, len(text))]
    assert ("may", "hedge") in got
    assert not any(t == "May" for t, _ in got), got
    assert [t for t, _ in got].count("might") == 1  # the modal, not "with all its might"
    dated = Document(id="t2", text="The siege lasted nearly two years. Alleged abuses were reported in May.")
    got = [dated.text[a:b] for a, b, _ in find_markers(dated, 0, len(dated.text))]
    assert "nearly" in got and "Alleged" in got and "May" not in got, got
    # the bare lexicon still matches every string: the parse is what tells them apart
    assert sum(text[a:b].lower() == "may" for a, b, _ in find_hedges(text, 0, len(text))) == 3


def test_page_furniture_is_not_a_claim():
    for line in ("Also on rt.com Syria strikes: Russia says 40 killed", "READ MORE: Kremlin denies the report",
                 "Click here to read the full report", "Follow us on Facebook", "By John Smith",
                 "Published time: 12 Mar, 2018 14:27", "Syrian troops in Aleppo. © Omar Sanadiki / Reuters",
                 "FILE PHOTO: Theresa May in London", "Syrian troops in Aleppo. REUTERS/Omar Sanadiki",
                 "Photo: Reuters"):
        assert not_claim_reason(line), line
    # a time stamp glued into a longer line of page text is a sentence of its own, still no claim
    glued = ("Quentin Lamar Smith was charged on Sunday By WCMH Staff and The Associated Press "
             "Published: February 11, 2018, 4:45 pm Updated: February 11, 2018, 6:02 pm")
    assert not_claim_reason("Published: February 11, 2018, 4:45 pm", line=glued) == "dateline"
    for sentence in ("Also on Tuesday, Putin said 300 troops had left.", "Russia sent 300 troops to Syria in 2015.",
                     "Related to this, the army lost 40 men.", "A video by the group showed 40 bodies in 2016.",
                     "A Reuters/Ipsos poll found 45 percent support.", "The law bans (a) guns, (b) knives and (c) clubs."):
        assert not_claim_reason(sentence) == "", sentence
    text = ("Russia sends 300 troops to Syria\n\nRussia sent 300 troops to Syria on Monday, the ministry said.\n"
            "Syrian soldiers in Aleppo. © Omar Sanadiki / Reuters\nAlso on rt.com Syria strikes: Russia says 40 killed\n"
            "Russia sends 300 troops to Syria")
    doc = Document(id="t", text=text)
    spans = sentences(doc)
    kept = [text[s:e] for (s, e), ok in zip(spans, claim_sentences(doc, spans)) if ok]
    assert kept == ["Russia sends 300 troops to Syria", "Russia sent 300 troops to Syria on Monday, the ministry said."]


@needs_model
def test_claim_finder_skips_furniture_and_credits_speakers():
    text = ("Russia sends 300 troops to Syria\n\n"
            "Vladimir Putin said on Monday that 300 Russian troops had arrived in Syria in 2016.\n"
            "Russian soldiers at the Hmeimim air base in Syria in 2016. © Sputnik / Mikhail Klimentyev\n"
            "Also on rt.com Russian jets struck 40 targets in Syria in 2016, the ministry says\n"
            "Russia sends 300 troops to Syria")
    doc = ClaimFinder(min_score=0.0)(ActorFinder()(Document(id="t", text=text)))
    texts = [c.text for c in doc.claims]
    assert texts == ["Russia sends 300 troops to Syria",
                     "Vladimir Putin said on Monday that 300 Russian troops had arrived in Syria in 2016."]
    putin = doc.claims[1]
    assert putin.attribution.source.text == "Vladimir Putin" and putin.source == putin.attribution.actor
    assert doc.claims[0].attribution is None and doc.claims[0].source == "author"
