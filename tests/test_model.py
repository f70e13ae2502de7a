"""The shipped technique model: loading, inference and offset mapping on real text."""

import numpy as np

from redline.doc import Document
from redline.models.technique_net import ArticleOutput, DecodeParams, Tokenized, decode_spans


def test_decode_spans_maps_pieces_to_words_and_merges_gaps():
    text = "They are shameless liars, and cowards."
    # pieces: They | are | shame | less | liars | , | and | cowards | .
    offsets = [(0, 4), (5, 8), (9, 14), (14, 18), (19, 24), (24, 25), (26, 29), (30, 37), (37, 38)]
    p = np.array([0.1, 0.1, 0.9, 0.8, 0.9, 0.2, 0.2, 0.7, 0.1], dtype=np.float32)
    out = ArticleOutput(Tokenized(list(range(9)), offsets, [(0, 9)]), p, np.zeros(9, np.float32),
                        np.zeros((9, 14), np.float32))
    spans = decode_spans(text, out, DecodeParams(threshold=0.5, merge_gap=0))
    assert [text[s:e] for s, e, _ in spans] == ["shameless liars", "cowards"]
    merged = decode_spans(text, out, DecodeParams(threshold=0.5, merge_gap=10))
    assert [text[s:e] for s, e, _ in merged] == ["shameless liars, and cowards"]


def test_model_on_founding_article(model_dir, example_text):
    from redline.components.tagger import TechniqueTagger
    tagger = TechniqueTagger()
    doc = tagger(Document("assad", example_text))
    assert len(doc.spans) >= 5
    for s in doc.spans:
        assert example_text[s.start:s.end] == s.text and 0.0 <= s.score <= 1.0
    found = " ".join(s.text for s in doc.spans)
    # The op-ed's most obvious loaded phrases must be caught.
    assert "terrorist" in found or "psychopathic" in found


def test_threshold_trades_recall_for_precision(model_dir, example_text):
    from redline.components.tagger import load_technique_model
    model = load_technique_model()

    def covered(th):
        return sum(e - s for s, e, _, _ in model.predict(example_text, threshold=th))

    assert covered(0.2) >= covered(0.5) >= covered(0.8)


def test_classify_gives_a_distribution_per_span(model_dir, example_text):
    from redline.components.tagger import load_technique_model
    model = load_technique_model()
    i = example_text.index("the terrorist Assad regime")
    probs = model.classify(example_text, [(i, i + len("the terrorist Assad regime")), (0, 10)])
    assert probs.shape == (2, 14)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)


def test_long_and_odd_text(model_dir):
    from redline.components.tagger import load_technique_model
    model = load_technique_model()
    text = ("Ünïcode “quotes” — and emoji 🙂 in a long text.\r\n" * 400) + "They are vile, corrupt traitors!"
    spans = model.predict(text)
    for s, e, _, _ in spans:
        assert 0 <= s < e <= len(text) and text[s:e].strip() == text[s:e]
    assert model.predict("   ") == []
