"""Trained models: code for the networks, and one folder per shipped model (weights,
config.json, MODEL_CARD.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def load_once(factory: Callable[[Path], T], folder: Path | str | None, env_var: str, default: Path) -> T:
    """Load a model folder once per process: `folder`, else $env_var, else the shipped default."""
    path = Path(folder or os.environ.get(env_var) or default)
    key = (factory, str(path.resolve()))
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory(path)
        return _loaded[key]  # type: ignore[return-value]
