"""`--engine ray`: a local Ray cluster of 2 workers gives the local engine's rows, byte for byte.

Skips, saying why, where Ray is not installed (it is the `redline[ray]` extra) or a
local cluster cannot start on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

ENV = os.environ | {"OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}

ARTICLES = [
    "They are traitors and liars, all of them. Never forget it!",
    "A shameful, disgraceful betrayal by the corrupt elite, again and again.",
    "The bridge opens on Monday, the council said in a statement.",
    "Everyone knows the mayor is a crook. Only a fool would trust him.",
    "Wake up! Stop them before it is too late for our children.",
]


def test_ray_engine_matches_the_local_engine(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'redline[ray]')")
    folder = tmp_path / "articles"
    folder.mkdir()
    for i, text in enumerate(ARTICLES):
        (folder / f"a{i}.txt").write_text(text, encoding="utf-8")
    local, on_ray = tmp_path / "local.duckdb", tmp_path / "ray.duckdb"
    common = ["--components", "lexicon", "-q"]
    run = [sys.executable, "-m", "redline.cli", "corpus", "ingest"]
    subprocess.run([*run, str(local), str(folder), *common, "--threads", "1"], check=True, env=ENV, cwd=REPO,
                   capture_output=True, timeout=300)
    proc = subprocess.run([*run, str(on_ray), str(folder), *common, "--engine", "ray", "--workers", "2",
                           "--batch-size", "2"], env=ENV, cwd=REPO, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "Ray could not start" in proc.stderr:
        pytest.skip(f"a local Ray cluster could not start here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    from redline.corpus.export import export_store

    export_store(local, tmp_path / "e_local")
    export_store(on_ray, tmp_path / "e_ray")
    files = sorted(p.name for p in (tmp_path / "e_local").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "e_ray").iterdir())
    for name in files:
        assert (tmp_path / "e_ray" / name).read_bytes() == (tmp_path / "e_local" / name).read_bytes(), name

    import duckdb

    con = duckdb.connect(str(on_ray), read_only=True)
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == len(ARTICLES)
    assert con.execute("SELECT json_extract_string(command, '$.engine') FROM runs").fetchone()[0] == "ray"
