"""Trained models: code for the networks, and one folder per shipped model (weights,
config.json, MODEL_CARD.md)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")

# How the technique encoder computes on a CPU (technique_net.resolve_precision). "auto" is
# bf16 where the CPU has native bf16 instructions (numerically what training used), else
# int8, calibrated (SmoothQuant; the FFN-out Linears kept in fp32) to fp32's dev SI and faster
# than it (MODEL_CARD.md, "Precision"); "fp32" is still there to force. Here, not in
# technique_net, so that the CLI and the benches can offer the choices without importing torch.
PRECISIONS = ("auto", "fp32", "bf16", "int8")
_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def load_once(factory: Callable[..., T], folder: Path | str | None, env_var: str, default: Path,
              *args) -> T:
    """Load a model folder once per process: `folder`, else $env_var, else the shipped default.
    `args` go to `factory(path, *args)` and are part of what makes a load distinct."""
    path = Path(folder or os.environ.get(env_var) or default)
    key = (factory, str(path.resolve()), *args)
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory(path, *args)
        return _loaded[key]  # type: ignore[return-value]


def read_npz_model(folder: Path | str, what: str, train_command: str) -> tuple[dict, dict[str, np.ndarray]]:
    """A head stored as config.json + weights.npz (no pickle): (config, float32 arrays)."""
    from redline.errors import ModelError

    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        with np.load(folder / "weights.npz", allow_pickle=False) as w:
            arrays = {k: w[k].astype(np.float32) for k in w.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable {what} model in {folder}: {exc}; run `{train_command}`") from exc
    return config, arrays


def check_feature_width(X: np.ndarray, expected: int, what: str, train_command: str) -> None:
    """A head fitted on features of another width (another technique encoder) is refused
    with the command that refits it, not with a numpy broadcasting error."""
    if X.ndim == 2 and X.shape[1] != expected:
        from redline.errors import ModelError

        raise ModelError(f"the {what} head expects {expected} features but the technique encoder gives "
                         f"{X.shape[1]}: it was trained for another technique model; run `{train_command}`")
