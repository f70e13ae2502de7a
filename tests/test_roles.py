"""Roles and the joined view: portrayal of each actor, `frame_mentions`, the link component,
the training script on a tiny slice, and the whole chain through `redline.analyze`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spacy")

import redline.components.claims  # noqa: E402,F401  (registers "claims")
import redline.components.link  # noqa: E402,F401
import redline.components.relations  # noqa: E402,F401
import redline.components.roles  # noqa: E402,F401
from redline.components.roles import (  # noqa: E402
    DEFAULT_MODEL_DIR, fix_offsets, frame_mentions, load_role_model,
)
from redline.models.portrayal import ALL_FINE, FINE_ROLES, MAIN_ROLES, quote_mask, spread  # noqa: E402
from redline.pipeline import analyze  # noqa: E402

SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

needs_model = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "weights.safetensors").exists(),
                                 reason="no roles model in redline/models/roles")
CHAIN = ("lexicon", "actors", "relations", "claims", "roles", "link")


@pytest.fixture(scope="module")
def op_ed():
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    if not (DEFAULT_MODEL_DIR / "weights.safetensors").exists():
        pytest.skip("no roles model in redline/models/roles")
    return analyze(EXAMPLE.read_text(encoding="utf-8"), id="op-ed", components=CHAIN)


@needs_model
def test_every_actor_has_a_consistent_calibrated_role(op_ed):
    assert op_ed.actors
    tau = load_role_model().abstain_below
    for actor in op_ed.actors:
        role = actor.role
        assert role is not None and role.guess in MAIN_ROLES
        assert abs(sum(role.probabilities.values()) - 1.0) < 1e-3
        assert role.score == pytest.approx(max(role.probabilities.values()), abs=1e-6)
        assert role.probabilities[role.guess] == pytest.approx(role.score, abs=1e-6)
        if role.main is None:  # "unclear": the model is not sure enough, and says so
            assert role.score < tau and role.fine == []
        else:
            assert role.main == role.guess and role.score >= tau
            assert role.fine and all(f in FINE_ROLES[role.main] for f in role.fine)
        assert isinstance(role.evidence, dict)
        json.dumps(role.to_json())


@needs_model
def test_the_op_eds_villains_and_heroes(op_ed):
    """The founding op-ed as a reader reads it: Iran, the IRGC, Suleimani, the Assad regime
    and Russia are its villains; the Syrian people and the Levant revolutionaries its
    heroes or victims. The model's reading (its guess) must agree, and it may say
    "unclear" but never cast one of them on the other side."""
    names = {a.name: a for a in op_ed.actors}
    for villain in ("Iran", "IRGC", "Qassem Suleimani", "Assad regime", "Russia"):
        role = names[villain].role
        assert role.guess == "Antagonist" and role.main in ("Antagonist", None), (villain, role)
    assert names["Assad regime"].role.main == "Antagonist"  # "the terrorist Assad regime"
    # Iran backs Assad and faces off with the Syrian people; Russia arms Iran (the camps)
    assert names["Iran"].role.main == "Antagonist" and names["Russia"].role.main == "Antagonist"
    for good in ("Syrian people", "Levant revolutionaries"):
        role = names[good].role
        assert role.guess in ("Protagonist", "Innocent") and role.main != "Antagonist", (good, role)
    assert names["Syrian people"].role.main in ("Protagonist", "Innocent")


@needs_model
def test_role_evidence_points_into_the_text(op_ed):
    names = {a.name: a for a in op_ed.actors}
    ev = names["Assad regime"].role.evidence
    assert ev.get("techniques_on_mentions")  # "the terrorist Assad regime"
    assert all(isinstance(v, (int, dict, list)) for v in ev.values())
    # the company it keeps, by name: Iran backs the regime, the Syrian people rose against it
    assert "Iran" in ev["allied_with"] and "Syrian people" in ev["harmed_by"]
    iran = names["Iran"].role
    assert set(iran.evidence["allied_with"]) >= {"Assad regime", "Russia"}
    own = iran.evidence["reading_from_its_own_words"]  # shown because the company revised it
    assert set(own) == set(MAIN_ROLES) and abs(sum(own.values()) - 1) < 1e-3
    assert iran.probabilities["Antagonist"] > own["Antagonist"]
    assert all(name in names for a in op_ed.actors for key in ("allied_with", "harms", "harmed_by")
               for name in a.role.evidence.get(key, []))


def test_camps_revise_a_role_by_the_company_it_keeps():
    import numpy as np

    from redline.models.portrayal import camp_update

    # lift tables shaped like the fitted ones: allies share a side; whoever harms an
    # Innocent is an Antagonist (rows: this actor, columns: the other; P, A, I order)
    camps = {"ally": [[1.6, 0.6, 1.0], [0.6, 1.5, 0.8], [1.0, 0.8, 1.3]],
             "harm": [[0.9, 1.4, 0.5], [1.0, 0.7, 1.6], [1.2, 1.0, 0.6]], "weight": 1.0, "rounds": 2}
    probs = np.array([[0.10, 0.80, 0.10],    # 0: a clear villain
                      [0.30, 0.40, 0.30],    # 1: unclear, allied with 0
                      [0.33, 0.34, 0.33],    # 2: unclear, allied with 1 only (a chain)
                      [0.10, 0.10, 0.80],    # 3: a clear victim, harmed by 4
                      [0.35, 0.30, 0.35],    # 4: unclear, harms 3
                      [0.20, 0.50, 0.30]])   # 5: no relation at all
    edges = [(0, 1, "ally"), (1, 2, "ally"), (4, 3, "harm")]
    out = camp_update(probs, edges, camps)
    assert np.allclose(out.sum(1), 1.0)
    assert out[1, 1] > probs[1, 1] + 0.1 and out[1].argmax() == 1
    assert out[2, 1] > probs[2, 1]  # reached through 1 in the second round
    assert out[4].argmax() == 1  # harming a victim
    assert np.array_equal(out[5], probs[5])  # no edges: its reading is kept exactly
    assert np.array_equal(camp_update(probs, edges, {**camps, "weight": 0.0}), probs)
    assert np.array_equal(camp_update(probs, [], camps), probs)


def test_quote_mask_and_spread():
    text = 'He said "we will win" and left. The ‘so-called’ experts’ view.'
    mask = quote_mask(text)
    assert mask[text.index("we will")] and not mask[text.index("left")]
    assert not mask[text.index("so-called")]  # a short scare quote / apostrophe pair is not speech
    assert spread(list(range(3)), 6) == [0, 1, 2]
    picked = spread(list(range(20)), 6)
    assert len(picked) == 6 and picked[0] == 0 and picked[-1] == 19


@needs_model
def test_joined_view(op_ed):
    n_spans, n_claims = len(op_ed.spans), len(op_ed.claims)
    for actor in op_ed.actors:
        assert all(0 <= i < n_spans for i in actor.techniques)
        assert all(0 <= i < n_claims for i in actor.claims)
    names = {a.name: a for a in op_ed.actors}
    assad_spans = [op_ed.spans[i] for i in names["Assad regime"].techniques]
    assert any(s.text.lower().startswith("terrorist") for s in assad_spans)  # "the terrorist Assad regime"
    pour = names["Gen. Pourdastan"]
    assert any(op_ed.claims[i].source == pour.id for i in pour.claims)
    out = op_ed.to_json()
    json.dumps(out)
    assert out["actors"] and out["claims"] and out["relations"]
    assert op_ed.model["components"] == list(CHAIN)


@needs_model
def test_frame_mentions(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    text = ("Russian troops shelled the city overnight, killing twelve civilians. Ukrainian rescuers "
            "worked through the night to save the wounded, while the Kremlin denied everything.")
    (docs / "EN_TEST_1.txt").write_text(text, encoding="utf-8")
    s = text.index("civilians")
    k = text.index("Kremlin")
    tsv = tmp_path / "mentions.txt"
    # end offsets are inclusive; the second line is one character off on purpose
    tsv.write_text(f"EN_TEST_1.txt\tcivilians\t{s}\t{s + 8}\n"
                   f"EN_TEST_1.txt\tKremlin\t{k + 1}\t{k + 7}\n", encoding="utf-8")
    lines = frame_mentions(tsv, docs)
    assert len(lines) == 2
    for line, mention in zip(lines, ["civilians", "Kremlin"]):
        parts = line.split("\t")
        assert parts[0] == "EN_TEST_1.txt" and parts[1] == mention
        assert parts[4] in MAIN_ROLES and len(parts) >= 6
        assert all(f in FINE_ROLES[parts[4]] for f in parts[5:])
    assert lines[1].split("\t")[2:4] == [str(k + 1), str(k + 7)]  # offsets echoed as given


def test_fix_offsets():
    text = "Putin met Macron. Putin left."
    assert fix_offsets(text, "Putin", 0, 4) == (0, 5)
    assert fix_offsets(text, "Putin", 19, 23) == (18, 23)  # one to the right: nearest occurrence


def test_train_roles_tiny_slice(tmp_path):
    if not (DATA / "semeval2025-task10-en" / "train-annotations.txt").exists():
        pytest.skip("SemEval-2025 task 10 data not found in ../shared/data")
    out = tmp_path / "roles"
    r = subprocess.run([sys.executable, "-m", "redline.training.roles", "--data", str(DATA), "--out", str(out),
                        "--cache", str(tmp_path / "cache"), "--limit", "3", "--folds", "2", "--epochs", "1",
                        "--seed", "1"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert {"accuracy", "macro_f1", "fine_exact_match", "majority_accuracy"} <= set(result["semeval"])
    assert 0.3 <= result["temperature"] <= 4.0
    model = load_role_model(out)
    assert model.net.fine.out_features == len(ALL_FINE) and model.net.main.out_features == 3
    assert {"weights.safetensors", "config.json"} <= {p.name for p in out.iterdir()}
    assert (tmp_path / "cache" / "folds" / "1" / "config.json").exists()  # fold models for bench/roles.py


def test_ensemble_averages_members_and_round_trips(tmp_path):
    """`--members N`: N networks whose logits are averaged, saved in one file and loaded back."""
    import torch

    from redline.models.portrayal import PortrayalEnsemble, PortrayalModel, PortrayalNet

    torch.manual_seed(0)
    nets = [PortrayalNet(8, pca_dim=4, d=16, n_cues=12).eval() for _ in range(2)]
    ens = PortrayalEnsemble(nets).eval()
    G, M, W = 2, 3, 5
    inputs = (torch.randn(G, M, W, 4), torch.rand(G, M, W, 15), torch.zeros(G, M, W, 3),
              torch.full((G, M), W), torch.rand(G, M, 12), torch.tensor([[True, True, False], [True, False, False]]))
    inputs[2][..., 0] = 1.0
    with torch.inference_mode():
        got = ens(*inputs, projected=True)
        want = [torch.stack(parts).mean(0) for parts in zip(*(n(*inputs, projected=True) for n in nets))]
    for g, w in zip(got, want):
        assert torch.allclose(g, w)
    config = {"width": 8, "pca_dim": 4, "d": 16, "n_cues": 12, "members": 2, "layers": [5, 3]}
    PortrayalModel.from_net(ens, config).save(tmp_path)
    loaded = PortrayalModel(tmp_path)
    assert isinstance(loaded.net, PortrayalEnsemble) and len(loaded.net.members) == 2
    with torch.inference_mode():
        again = loaded.net(*inputs, projected=True)
    for g, a in zip(got, again):
        assert torch.allclose(g, a, atol=0.05)  # fp16 on disk
