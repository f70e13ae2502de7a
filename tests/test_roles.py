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
    ALL_FINE, DEFAULT_MODEL_DIR, FINE_ROLES, MAIN_ROLES, fix_offsets, frame_mentions, load_role_model,
)
from redline.pipeline import analyze  # noqa: E402

SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

needs_model = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "weights.npz").exists(),
                                 reason="no roles model in redline/models/roles")
CHAIN = ("lexicon", "actors", "relations", "claims", "roles", "link")


@pytest.fixture(scope="module")
def op_ed():
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    if not (DEFAULT_MODEL_DIR / "weights.npz").exists():
        pytest.skip("no roles model in redline/models/roles")
    return analyze(EXAMPLE.read_text(encoding="utf-8"), id="op-ed", components=CHAIN)


@needs_model
def test_every_actor_has_a_consistent_role(op_ed):
    assert op_ed.actors
    for actor in op_ed.actors:
        role = actor.role
        assert role is not None and role.main in MAIN_ROLES
        assert role.fine and all(f in FINE_ROLES[role.main] for f in role.fine)
        assert 1 / 3 <= role.score <= 1.0
    names = {a.name: a for a in op_ed.actors}
    # The op-ed's villains: not everything can be asserted of a small model, but these are clear-cut.
    assert names["Iran"].role.main == "Antagonist"


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
    r = subprocess.run([sys.executable, "-m", "redline.train_roles", "--data", str(DATA), "--out", str(out),
                        "--limit", "6", "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert {"main_accuracy", "fine_exact_match", "always_antagonist_accuracy"} <= set(result)
    model = load_role_model(out)
    assert model.fine_coef.shape[0] == len(ALL_FINE) and model.main_coef.shape[0] == 3
    assert "weights.npz" in {p.name for p in out.iterdir()}
