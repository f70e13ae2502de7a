"""Shared test fixtures: where the shared data is, and skipping cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REDLINE_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
PTC = DATA / "ptc"
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
MODEL_DIR = REPO / "redline" / "models" / "technique"


@pytest.fixture
def ptc_dir() -> Path:
    if not (PTC / "dev-articles").is_dir():
        pytest.skip("PTC data not found in ../shared/data/ptc")
    return PTC


@pytest.fixture
def example_text() -> str:
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture
def own_example() -> str:
    return (REPO / "examples" / "op-ed.txt").read_text(encoding="utf-8")


@pytest.fixture
def model_dir() -> Path:
    if not (MODEL_DIR / "model.safetensors").exists():
        pytest.skip("the trained technique model is not in redline/models/technique")
    return MODEL_DIR
