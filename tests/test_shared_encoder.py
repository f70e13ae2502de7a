"""One encoder pass per article: claims and roles read the tagger's pass, not one of their own."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("spacy")

from redline.components import nlp  # noqa: E402
from redline.doc import Document  # noqa: E402
from redline.pipeline import Pipeline  # noqa: E402


def test_claims_and_roles_reuse_the_taggers_pass(own_example, model_dir, monkeypatch):
    pipe = Pipeline.from_names(("tagger", "actors", "claims", "roles"))
    calls = []
    real_run = nlp.get_encoder().model.run

    def counting_run(text, *args, **kwargs):
        calls.append(kwargs.get("layers"))
        return real_run(text, *args, **kwargs)

    monkeypatch.setattr(nlp.get_encoder().model, "run", counting_run)
    doc = pipe(Document(id="x", text=own_example))
    # The tagger's pass, and no other; it keeps the layers the model names for these heads.
    assert len(calls) == 1 and calls[0] == nlp.get_encoder().model.feature_layers
    assert doc.claims and any(a.role for a in doc.actors)

    # A sentence's encoding is the slice of that pass over the sentence's word pieces.
    spans = nlp.sentences(doc)
    enc = nlp.sentence_encodings(doc)
    assert len(enc) == len(spans)
    s, e = spans[0]
    for (a, b) in enc[0].offsets:
        assert s <= a < b <= e + 1 and own_example[a:b].strip()
    width = nlp.feature_width()  # the technique encoder's: 768 for the shipped MPNet
    assert enc[0].states.shape[1] == width and enc[0].layer_means.shape == (3, width)


def test_standalone_texts_match_an_article_of_one_sentence(model_dir):
    sentence = "Gen. Pourdastan announced that 2,000 troops were sent to Aleppo last year."
    shared = nlp.get_encoder()
    alone = shared.encode([sentence])[0]
    in_article = shared.encode_spans(sentence, [(0, len(sentence))])[0]
    assert np.array_equal(alone.offsets, in_article.offsets)
    # Same network, same pieces; the article path stores fp16 states, so close, not equal.
    assert np.abs(alone.layer_means - in_article.layer_means).max() < 0.05


def test_heads_record_the_technique_weights_they_were_trained_on(model_dir, caplog):
    import json
    import logging

    from redline.components.claims import DEFAULT_MODEL_DIR as CLAIMS
    from redline.components.roles import DEFAULT_MODEL_DIR as ROLES

    current = nlp.get_encoder().fingerprint
    for folder in (CLAIMS, ROLES):
        assert json.loads((folder / "config.json").read_text())["encoder_fingerprint"] == current
    with caplog.at_level(logging.WARNING, logger="redline.nlp"):
        nlp.check_head({"encoder_fingerprint": "0" * 16}, "test-head", "redline train-test")
    assert "redline train-test" in caplog.text and current in caplog.text


def test_feature_layers_come_from_the_model_config(tmp_path):
    from redline.errors import ModelError
    from redline.models.technique_net import DEFAULT_FEATURE_LAYERS, feature_layers

    assert feature_layers({}, 8, tmp_path) == DEFAULT_FEATURE_LAYERS == (2, 4, 6)
    assert feature_layers({"feature_layers": [1, 2, 3]}, 4, tmp_path) == (1, 2, 3)
    for bad in ([2, 4, 6], [3, 2, 1], [1, 1, 2], [0, 1, 2], [1, 2]):  # 6 > 4 layers; order; repeats; range; count
        with pytest.raises(ModelError, match="feature_layers"):
            feature_layers({"feature_layers": bad}, 4, tmp_path)
