"""The lexical TC member: numpy inference must equal the scikit-learn model it was fitted as."""

import numpy as np
import pytest

from redline.models.technique_lexical import (
    LexicalTechniqueClassifier, _sklearn_design, char_wb_ngrams, fit_lexical, occurrences, surface_features,
    word_ngrams,
)

TEXTS = [
    "Stop the invasion!\nThe corrupt elite lies again. The corrupt elite will never stop. "
    "Is this really a coincidence? Make America great again, our glorious nation stands.",
    "The terrorist Assad regime bombs Aleppo. The terrorist Assad regime is a psychopathic platform. "
    "His fate is unknown! Who can believe such a regime? Our nation will prevail.",
    "Experts agree the so-called reform is a disaster. It is what it is. The disaster is total, "
    "a catastrophe for every family, and the elite lies about it.",
]
LABELS = ["Loaded_Language", "Name_Calling,Labeling", "Repetition", "Doubt", "Flag-Waving"]


def _spans():
    out = []
    for a, text in enumerate(TEXTS):
        for phrase, label in (("corrupt elite", 1), ("terrorist Assad regime", 1), ("psychopathic", 0),
                              ("disaster", 0), ("really a coincidence?", 3), ("Who can believe", 3),
                              ("our glorious nation", 4), ("Our nation will prevail", 4), ("catastrophe", 0)):
            pos = -1
            while (pos := text.find(phrase, pos + 1)) >= 0:
                later = text.find(phrase) < pos
                out.append((a, pos, pos + len(phrase), 2 if later else label))
    return out


def test_analyzers_match_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    doc = "Ab  c\ndefgh IJ's x — naïve"
    words = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()(doc)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()(doc)
    assert word_ngrams(doc, 2) == words
    assert char_wb_ngrams(doc) == chars


def test_numpy_inference_equals_sklearn_and_survives_a_round_trip(tmp_path):
    from sklearn.linear_model import LogisticRegression

    data = _spans()
    spans = [(s, e) for _, s, e, _ in data]
    owners = [a for a, _, _, _ in data]
    y = [lab for *_, lab in data]
    assert len(set(y)) == 5
    model = fit_lexical(TEXTS, spans, owners, y, LABELS, C_grid=(10.0,))
    X, _ = _sklearn_design(TEXTS, spans, owners)
    ref = LogisticRegression(C=10.0, max_iter=3000, random_state=13).fit(X, y).predict_proba(X)
    ours = np.concatenate([model.predict_proba(TEXTS[a], [sp for sp, o in zip(spans, owners) if o == a])
                           for a in range(len(TEXTS))])
    order = np.argsort(owners, kind="stable")
    assert np.abs(ours - ref[order]).max() < 1e-4
    model.save(tmp_path)
    again = LexicalTechniqueClassifier.load(tmp_path)
    p = again.predict_proba(TEXTS[1], [(4, 26)])
    assert p.shape == (1, 5) and abs(p.sum() - 1) < 1e-5
    assert np.abs(p - model.predict_proba(TEXTS[1], [(4, 26)])).max() < 1e-2  # fp16 coefficients


def test_repetition_cues_look_before_and_after():
    text = TEXTS[1]
    first = text.find("terrorist Assad regime")
    second = text.find("terrorist Assad regime", first + 1)
    f1 = surface_features(text, first, first + 22)
    f2 = surface_features(text, second, second + 22)
    assert (f1[8], f1[9]) == (0.0, 1.0) and (f2[8], f2[9]) == (1.0, 0.0)


def test_load_refuses_a_broken_folder(tmp_path):
    from redline.errors import ModelError

    with pytest.raises(ModelError):
        LexicalTechniqueClassifier.load(tmp_path)


def test_model_folder_with_a_broken_stacker_is_refused_clearly(tmp_path):
    """A hand-edited or truncated stacker in config.json is a ModelError naming the folder."""
    import json
    import shutil

    from redline.components.tagger import DEFAULT_MODEL_DIR
    from redline.errors import ModelError
    from redline.models.technique_net import TechniqueModel

    for name in ("config.json", "model.safetensors", "lexical.npz", "lexical.json"):
        shutil.copy(DEFAULT_MODEL_DIR / name, tmp_path / name)
    config = json.loads((tmp_path / "config.json").read_text())
    # (the shipped model has no stacker: `redline train --stacker` adds one)
    config["stacker"] = {"coef": [[0.0] * 28] * 14}  # no intercept
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="stacker"):
        TechniqueModel(tmp_path)


def test_occurrences_are_those_of_a_literal_regex_search():
    import re

    cases = [("aaaaaaa", "aaa"), ("a.b(a.b(xa.b(", "a.b("), ("the elite, the elite", "the elite"),
             ("nothing here", "zzz"), ("", "a"), ("abc", "")]
    for haystack, needle in cases:
        expected = [m.start() for m in re.finditer(re.escape(needle), haystack)] if needle else []
        assert occurrences(haystack, needle) == expected
