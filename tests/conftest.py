"""Shared test fixtures: where the shared data is, and skipping cleanly without it."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
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


@contextlib.contextmanager
def live_server(app):
    """Run an ASGI app with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # the model loads at startup
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


CHROMIUM = os.environ.get("REDLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (skips, saying why, where it is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # a broken install: say why, don't fail the suite
            pytest.skip(f"Chromium does not start: {exc}")
        yield b
        b.close()
