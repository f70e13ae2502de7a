"""The shipped technique model: loading, inference and offset mapping on real text."""

import numpy as np

from redline.doc import Document
from redline.models import technique_net
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


def test_short_last_window_is_not_padded_and_changes_nothing(model_dir, example_text, monkeypatch):
    from redline.components.tagger import load_technique_model
    model = load_technique_model()
    tok = technique_net.tokenize_article(model.tokenizer, example_text, model.window, model.stride)
    lengths = {e - s for s, e in tok.windows}
    assert len(tok.windows) >= 3 and len(lengths) == 2  # full windows, and a shorter last one
    batches = list(technique_net.window_batches(tok, model.tokenizer, 16))
    assert sorted(w for which, _, _ in batches for w in which) == list(range(len(tok.windows)))
    for which, ids, mask in batches:  # one width per batch, and no row of pads only
        assert len({tok.windows[w][1] - tok.windows[w][0] for w in which}) == 1
        assert ids.shape[1] == int(mask.sum(1).max())

    grouped = model.run(example_text)

    def one_padded_batch(tok, tokenizer, batch_size):
        which = list(range(len(tok.windows)))
        yield (which, *technique_net.batch_windows(tok, which, tokenizer.cls_token_id, tokenizer.sep_token_id,
                                                   tokenizer.pad_token_id))

    monkeypatch.setattr(technique_net, "window_batches", one_padded_batch)
    padded = model.run(example_text)
    # Pads are masked out, so only the matrix blocking (bf16 rounding) may differ.
    assert np.abs(grouped.p_span - padded.p_span).max() < 0.02


def test_long_and_odd_text(model_dir):
    from redline.components.tagger import load_technique_model
    model = load_technique_model()
    text = ("Ünïcode “quotes” — and emoji 🙂 in a long text.\r\n" * 400) + "They are vile, corrupt traitors!"
    spans = model.predict(text)
    for s, e, _, _ in spans:
        assert 0 <= s < e <= len(text) and text[s:e].strip() == text[s:e]
    assert model.predict("   ") == []


def test_shipped_model_is_mpnet6_stored_as_4bit_differences_within_budget(model_dir):
    import json

    from safetensors import safe_open

    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["encoder"] == {"type": "mpnet", "layers": 6} and cfg["feature_layers"] == [2, 3, 5]
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    layer_deltas = [k for k in keys if k.endswith(".delta4") and ".layer." in k]
    assert len(layer_deltas) == 6 * 6  # q, k, v, o, intermediate, output per layer
    assert not any("word_embeddings" in k for k in keys)  # frozen: read from the base package
    # Every trained model in the repository together stays under the 60 MB budget.
    models = model_dir.parent
    total = sum(p.stat().st_size for p in models.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 60_000_000, total


def test_pipeline_parses_while_the_encoder_runs_and_gets_the_same_result(model_dir, example_text):
    """The spaCy parse started early in a worker thread (nlp.start_parse) must give what a
    parse in turn gives."""
    from redline.components import nlp
    from redline.pipeline import default_pipeline

    pipe = default_pipeline()
    started = Document("a", example_text)
    nlp.start_parse(started)
    assert "spacy_pending" in nlp.cache_for(started)  # a future, running in the worker
    parsed = nlp.parse(started)
    assert nlp.cache_for(started)["spacy"] is parsed and "spacy_pending" not in nlp.cache_for(started)
    assert parsed.text == example_text and len(list(parsed.sents)) > 5

    early = pipe(Document("a", example_text))  # the pipeline starts the parse itself
    plain = Document("a", example_text)
    nlp.parse(plain)  # parsed in this thread before the pipeline runs
    late = pipe(plain)
    assert [(a.name, a.mentions) for a in early.actors] == [(a.name, a.mentions) for a in late.actors]
    assert [(c.start, c.end) for c in early.claims] == [(c.start, c.end) for c in late.claims]


def test_int8_precision_quantizes_the_encoder_and_stays_close_to_full_precision(model_dir, example_text):
    import pytest
    import torch

    from redline.errors import ModelError
    from redline.models.technique_net import INT8_CALIBRATION, TechniqueModel, quantize_calibrated

    full = TechniqueModel(model_dir, precision="fp32")
    int8 = TechniqueModel(model_dir, precision="int8")
    assert int8.precision == "int8" and not int8.bf16
    assert (model_dir / INT8_CALIBRATION).exists()  # shipped: int8 is calibrated (SmoothQuant)
    linears = [m for m in int8.net.encoder.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [m for m in int8.net.encoder.modules()
                 if "quantized" in type(m).__module__ and type(m).__name__ == "Linear"]
    # The attention and FFN-in Linears of the 6 layers in int8; the FFN-out ones kept in fp32
    # (technique_net.INT8_KEEP_FP32).
    assert len(quantized) == 30 and len(linears) == 6
    assert all(name.endswith("output.dense") for name, m in int8.net.encoder.named_modules()
               if isinstance(m, torch.nn.Linear))
    a, b = full.run(example_text, keep_hidden=False), int8.run(example_text, keep_hidden=False)
    assert a.tok.offsets == b.tok.offsets
    # The same article, read nearly the same way: token probabilities agree closely.
    assert np.corrcoef(a.p_span, b.p_span)[0, 1] > 0.95
    assert np.abs(a.p_span - b.p_span).mean() < 0.03
    # The calibration is what brings it there: plain int8 of the same weights strays further.
    plain = TechniqueModel(model_dir, precision="fp32")
    plain.net.encoder = quantize_calibrated(plain.net.encoder, None)
    c = plain.run(example_text, keep_hidden=False)
    assert np.abs(a.p_span - b.p_span).mean() < np.abs(a.p_span - c.p_span).mean()
    spans = int8.predict(example_text)
    assert spans
    for s, e, tech, score in spans:
        assert 0 <= s < e <= len(example_text) and 0.0 <= score <= 1.0
    with pytest.raises(ModelError, match="precision"):
        TechniqueModel(model_dir, precision="fp8")


def test_auto_precision_is_bf16_where_the_cpu_has_it_else_int8(monkeypatch):
    monkeypatch.setattr(technique_net, "cpu_runs_bf16_fast", lambda: True)
    assert technique_net.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(technique_net, "cpu_runs_bf16_fast", lambda: False)
    assert technique_net.resolve_precision("auto", "cpu") == "int8"  # calibrated int8: fp32's dev SI, faster
    for forced in ("fp32", "bf16", "int8"):
        assert technique_net.resolve_precision(forced, "cpu") == forced
    assert technique_net.resolve_precision("int8", "cuda") == "fp32"  # the int8 and bf16 paths are CPU paths


def test_int8_calibration_that_does_not_fit_the_encoder_is_refused(model_dir):
    import pytest
    import torch

    from redline.errors import ModelError
    from redline.models.technique_net import build_encoder, quantize_calibrated

    encoder, _ = build_encoder({"type": "mpnet", "layers": 1})
    bad = {"alpha": 0.9, "ranges": {}, "errors": {"0/encoder.layer.5.output.dense": torch.zeros(768)}}
    with pytest.raises(ModelError, match="does not fit"):
        quantize_calibrated(encoder, bad)


def test_decoded_spans_do_not_start_with_the_previous_sentences_punctuation():
    text = "It is fine. It is a shameless land grab!"
    # pieces: It | is | fine | . | It | is | a | shame | less | land | grab | !
    offsets = [(0, 2), (3, 5), (6, 10), (10, 11), (12, 14), (15, 17), (18, 19), (20, 25), (25, 29),
               (30, 34), (35, 39), (39, 40)]
    p = np.array([0.1, 0.1, 0.1, 0.7, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8], dtype=np.float32)
    out = ArticleOutput(Tokenized(list(range(12)), offsets, [(0, 12)]), p, np.zeros(12, np.float32),
                        np.zeros((12, 14), np.float32))
    spans = decode_spans(text, out, DecodeParams(threshold=0.5, merge_gap=0))
    assert [text[s:e] for s, e, _ in spans] == ["It is a shameless land grab!"]


def test_spacy_loads_without_its_command_line_which_stays_importable():
    """nlp._import_spacy skips spacy.cli (weasel, typer, rich, requests) during the import;
    afterwards `import spacy.cli` and `spacy.info` work as usual."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from redline.components.nlp import _import_spacy\n"
            "spacy = _import_spacy()\n"
            "assert 'spacy.cli' not in sys.modules and 'weasel' not in sys.modules, sorted(sys.modules)\n"
            "assert not hasattr(spacy, 'cli')\n"
            "assert spacy.info(silent=True)['spacy_version'] == spacy.__version__\n"
            "import spacy.cli\n"
            "assert callable(spacy.cli.download)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
