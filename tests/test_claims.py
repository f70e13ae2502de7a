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
    DEFAULT_MODEL_DIR, ClaimFinder, find_hedges, load_claim_model, score_lines,
)
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
    r = subprocess.run([sys.executable, "-m", "redline.train_claims", "--data", str(DATA), "--out", str(out),
                        "--limit", "120", "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert "claimbuster_f1_checkworthy" in result and "clef_map" in result
    cfg = json.loads((out / "config.json").read_text())
    assert 0 < cfg["threshold"] < 1 and cfg["validation"]
    model = load_claim_model(out)
    assert model.coef.shape[0] == model.mean.shape[0]
