"""`redline train --labels`: fine-tuning the technique model on one's own annotations.

The end-to-end test really trains (a few epochs of the top layer on eight hand-written
documents, tests/fixtures/own_labels/labels.jsonl, one with a technique of its own:
Cherry_Picking), then analyses and evaluates with the model it wrote.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from redline.doc import Document
from redline.errors import InputError

FIXTURE = Path(__file__).parent / "fixtures" / "own_labels" / "labels.jsonl"
SHIPPED = Path(__file__).resolve().parent.parent / "redline" / "models" / "technique"


def redline(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], capture_output=True,
                          cwd=cwd, timeout=300)


# ----------------------------------------------------------------------------- parts

def test_extend_heads_keeps_the_old_rows_and_starts_new_ones_at_their_mean():
    from redline.models.technique_net import N_TECH, TechniqueNet
    from redline.training.finetune import extend_heads

    torch.manual_seed(0)
    net = TechniqueNet(torch.nn.Identity(), hidden=16).eval()
    hidden = torch.randn(2, 5, 16)
    rows, starts, ends, feats = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([3, 4]), torch.rand(2, 6)
    with torch.no_grad():
        _, tech_before = net.token_logits(hidden)
        span_before = net.span_logits(hidden, rows, starts, ends, feats)
        extend_heads(net, 2, seed=1)
        _, tech_after = net.token_logits(hidden)
        span_after = net.span_logits(hidden, rows, starts, ends, feats)
    assert tech_after.shape[-1] == span_after.shape[-1] == N_TECH + 2
    assert torch.allclose(tech_after[..., :N_TECH], tech_before, atol=1e-6)  # (a wider matrix product rounds a little differently)
    assert torch.allclose(span_after[:, :N_TECH], span_before, atol=1e-6)
    # A new technique starts as an average one: its logits near the mean of the old ones,
    # and two new ones not identical (seeded noise lets them part).
    assert torch.allclose(span_after[:, N_TECH], span_before.mean(1), atol=0.05)
    assert not torch.equal(span_after[:, N_TECH], span_after[:, N_TECH + 1])


def _docs(n: int) -> list[Document]:
    return [Document(id=f"d{i}", text=f"Text number {i}.") for i in range(n)]


def test_heldout_split_needs_enough_documents():
    from redline.training.finetune import split_heldout

    train, held, why = split_heldout(_docs(5), 0.2, seed=13)
    assert len(train) == 5 and held == [] and "too few" in why
    train, held, why = split_heldout(_docs(10), 0.2, seed=13)
    assert len(held) == 2 and len(train) == 8 and why == ""
    assert not {d.id for d in held} & {d.id for d in train}
    assert [d.id for d in split_heldout(_docs(10), 0.2, seed=13)[1]] == [d.id for d in held]  # seeded
    assert split_heldout(_docs(10), 0.0, seed=13)[2].startswith("no part was held out")


def test_bad_label_files_are_refused_with_a_reason(tmp_path):
    from redline.training.finetune import read_label_documents

    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "text": "One."}\n{"id": "a", "text": "Two."}\n')
    with pytest.raises(InputError, match="two documents have the id 'a'"):
        read_label_documents(dup)
    tab = tmp_path / "tab.jsonl"
    tab.write_text(json.dumps({"id": "a", "text": "Some text.", "techniques": [
        {"start": 0, "end": 4, "technique": "My\ttechnique"}]}) + "\n")
    with pytest.raises(InputError, match="without tabs"):
        read_label_documents(tab)
    with pytest.raises(InputError, match="no such file"):
        read_label_documents(tmp_path / "missing.jsonl")


def test_train_labels_option_errors(tmp_path):
    r = redline("train", "--labels", FIXTURE)
    assert r.returncode == 2 and b"--labels needs --out" in r.stderr
    r = redline("train", "--labels", FIXTURE, "--out", tmp_path / "m", "--stacker")
    assert r.returncode == 2 and b"--stacker: PTC training options" in r.stderr
    r = redline("train", "--labels", FIXTURE, "--out", SHIPPED)
    assert r.returncode == 2 and b"is the model being fine-tuned" in r.stderr
    assert not (SHIPPED / "train.log").exists()
    r = redline("analyze", "--model", tmp_path, "-", "--components", "lexicon")
    assert r.returncode == 2 and b"not a technique model folder" in r.stderr


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def own_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("own") / "newsroom-model"
    r = redline("train", "--labels", FIXTURE, "--out", out)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert b"held out (2 documents): SI F1" in r.stdout
    return out


def test_finetuned_model_folder_and_card(own_model):
    from redline.taxonomy import PTC_TECHNIQUES

    config = json.loads((own_model / "config.json").read_text())
    assert config["name"] == "newsroom-model"
    assert config["techniques"] == [*PTC_TECHNIQUES, "Cherry_Picking"]
    assert "lexical" not in config and config["finetune"]["epochs"] == 8
    card = (own_model / "MODEL_CARD.md").read_text()
    assert "redline-technique-mpnet6" in card and "labels.jsonl" in card
    assert "| Cherry_Picking | 4 |" in card and "| new |" in card
    assert "8 epochs" in card and "| fine-tuned |" in card  # held-out scores measured (8 documents)
    assert str(SHIPPED) not in card  # no local install path

    # The layers the claims and roles heads read are the base model's, bit for bit, so the
    # heads' fingerprint check still matches (components/nlp.SharedEncoder.fingerprint).
    from safetensors.torch import load_file

    base, own = load_file(str(SHIPPED / "model.safetensors")), load_file(str(own_model / "model.safetensors"))
    top = max(json.loads((SHIPPED / "config.json").read_text())["feature_layers"])
    frozen = [k for k in base if not k.startswith(f"encoder.encoder.layer.{top}.")
              and k.startswith("encoder.")]
    assert frozen and all(torch.equal(base[k], own[k]) for k in frozen)
    assert any(not torch.equal(base[k], own[k]) for k in base if k.startswith(f"encoder.encoder.layer.{top}."))
    assert own["span_head.3.weight"].shape[0] == len(PTC_TECHNIQUES) + 1
    digest = hashlib.sha256((SHIPPED / "model.safetensors").read_bytes()).hexdigest()[:16]
    assert config["feature_fingerprint"] == digest


def test_analyze_and_evaluate_with_the_finetuned_model(own_model, tmp_path):
    pred = tmp_path / "pred.labels"
    # The label file doubles as input: a JSONL table with a text column (analyze reads tables).
    r = redline("analyze", "--model", own_model, "-f", "ptc", "-o", pred, "-q", "--components", "tagger", FIXTURE)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    ids = {line.split("\t")[0] for line in pred.read_text().splitlines()}
    assert ids and ids <= {json.loads(line)["id"] for line in FIXTURE.read_text().splitlines()}

    text = tmp_path / "article.txt"
    text.write_text("Opponents called the plan a reckless betrayal of taxpayers, the mayor said.\n")
    r = redline("analyze", "--model", own_model, "-f", "jsonl", "--components", "tagger", text)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    record = json.loads(r.stdout)
    assert record["model"]["technique_model"] == "newsroom-model"

    r = redline("evaluate", "--model", own_model, "--task", "flc", "--json", FIXTURE, pred)
    assert r.returncode == 0, r.stderr.decode()
    score = json.loads(r.stdout)
    assert score["n_gold"] == 12 and "Cherry_Picking" in score["per_technique"]
    # Without --model, a technique of one's own is refused, with the way out.
    r = redline("evaluate", "--task", "flc", FIXTURE, pred)
    assert r.returncode == 2 and b"Cherry_Picking" in r.stderr and b"--model FOLDER" in r.stderr


def test_the_23_technique_head_refuses_a_model_whose_layer_it_reads_was_tuned(own_model):
    from redline.components.tagger import TechniqueTagger
    from redline.errors import ModelError

    with pytest.raises(ModelError, match="23-technique head reads"):
        TechniqueTagger(model_dir=own_model, taxonomy="semeval2023")


def test_the_new_technique_was_learnt(own_model):
    """Its head row started as the mean of 14 (a probability near 1/15 on any span); after
    fine-tuning, the Cherry_Picking spans it trained on lean to it, the others do not."""
    from redline.components.tagger import load_technique_model
    from redline.io.exchange import read_documents

    model = load_technique_model(own_model)
    held = set(json.loads((own_model / "finetune_report.json").read_text())["heldout_ids"])
    new, other = [], []
    for doc in read_documents(FIXTURE):
        if doc.id in held:
            continue
        probs = model.classify(doc.text, [(s.start, s.end) for s in doc.spans])
        for span, p in zip(doc.spans, probs):
            (new if span.technique == "Cherry_Picking" else other).append(float(p[-1]))
    assert new and other
    assert min(new) > 0.1 > max(other), (new, other)


def test_brat_and_label_studio_label_sources_give_the_same_documents(tmp_path):
    """`train --labels` takes a brat folder or a Label Studio export as well as JSONL."""
    from redline.io.exchange import BratWriter, to_labelstudio
    from redline.training.finetune import read_label_documents

    docs, errors = read_label_documents(FIXTURE)
    assert len(docs) == 8 and not errors
    brat = BratWriter(tmp_path / "brat")
    brat.open()
    for doc in docs:
        brat.add(doc)
    studio = tmp_path / "export.json"
    studio.write_text(to_labelstudio(docs), encoding="utf-8")

    def spans(ds):
        return {d.id: sorted((s.start, s.end, s.technique) for s in d.spans) for d in ds}

    for source in (tmp_path / "brat", studio):
        again, errors = read_label_documents(source)
        assert not errors and spans(again) == spans(docs), source
